"""Throughput of record validation and loading.

    python benchmarks/bench_validate.py [--records 100000] [--shape full|typical]

Prints records/second for
  validate         Validator.validate on parsed records,
  parse+validate   orjson.loads + validate on JSONL lines,
  iter_records     the whole loader on a JSONL file (read, parse, validate, duplicate ids),
and the peak traced memory (tracemalloc) of a separate iter_records pass.
Rates use this process's CPU time, so other work on the machine skews them less.

Records are varied like a real batch: unique ids, dates over three years,
times to the minute, amounts to the fen, 500 officials, 200 enterprises.
`full` fills every field of the contract (like record-model.md's example);
`typical` is a work-meal declaration with the fields a form usually has.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import sys
import tempfile
import time
import tracemalloc
from datetime import date, timedelta
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from checker.input.records import iter_records
from checker.input.validate import compile_validator

EXAMPLE = json.loads((ROOT / "tests/checker/data/example_record.json").read_text(encoding="utf-8"))
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def uscc(rng: random.Random) -> str:
    body = "91150300" + "".join(rng.choice(USCC_CHARS) for _ in range(9))
    return body + rng.choice(USCC_CHARS)


def typical(full: dict) -> dict:
    keep = (
        "id",
        "stage",
        "jurisdiction",
        "date",
        "start_at",
        "end_at",
        "declared_at",
        "official",
        "enterprise",
        "interaction",
        "venue",
        "participants",
        "meals",
        "approval",
        "transport",
    )
    rec = {k: copy.deepcopy(full[k]) for k in keep}
    rec["enterprise"] = {
        k: rec["enterprise"][k] for k in ("name", "uscc", "kind", "is_management_service_object")
    }
    return rec


def make_records(n: int, shape: str, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    officials = [f"O-{i:04d}" for i in range(500)]
    firms = [uscc(rng) for _ in range(200)]
    base = EXAMPLE if shape == "full" else typical(EXAMPLE)
    start = date(2024, 1, 1)
    out = []
    for i in range(n):
        r = copy.deepcopy(base)
        d = start + timedelta(days=rng.randrange(3 * 365))
        hh, mm = rng.randrange(8, 20), rng.randrange(60)
        r["id"] = f"R-{i:08d}"
        r["date"] = d.isoformat()
        r["start_at"] = f"{d.isoformat()}T{hh:02d}:{mm:02d}:00+08:00"
        r["end_at"] = f"{d.isoformat()}T{hh + 1:02d}:{mm:02d}:00+08:00"
        r["declared_at"] = f"{(d + timedelta(days=1)).isoformat()}T09:00:00+08:00"
        r["official"]["id"] = rng.choice(officials)
        r["enterprise"]["uscc"] = rng.choice(firms)
        meal = r["meals"][0]
        meal["diners"] = rng.randrange(1, 12)
        meal["total_cny"] = round(rng.uniform(10, 900), 2)
        meal["official_paid_cny"] = round(rng.uniform(0, 100), 2)
        if "approval" in r:
            r["approval"]["at"] = f"{(d - timedelta(days=1)).isoformat()}T17:{mm:02d}:00+08:00"
        out.append(r)
    return out


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:>10,.0f} records/s  ({seconds / n * 1e6:.1f} µs/record)"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--shape", choices=("full", "typical"), default="full")
    args = ap.parse_args()
    n = args.records
    records = make_records(n, args.shape)
    lines = [orjson.dumps(r) for r in records]
    validator = compile_validator()
    print(f"{n} records, shape={args.shape}, {sum(map(len, lines)) / n:.0f} bytes/record as JSON")

    t = time.process_time()
    for r in records:
        validator.validate(r)
    print("validate        ", rate(n, time.process_time() - t))

    loads, validate = orjson.loads, validator.validate
    t = time.process_time()
    for line in lines:
        validate(loads(line))
    print("parse+validate  ", rate(n, time.process_time() - t))

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "batch.jsonl"
        path.write_bytes(b"\n".join(lines) + b"\n")
        del records, lines
        t = time.process_time()
        count = sum(1 for r in iter_records([str(path)], validator=validator) if r.valid)
        print("iter_records    ", rate(n, time.process_time() - t), f"valid={count}")

        tracemalloc.start()
        for _ in iter_records([str(path)], validator=validator):
            pass
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"peak traced memory during iter_records: {peak / (1 << 20):.1f} MiB")


if __name__ == "__main__":
    main()
