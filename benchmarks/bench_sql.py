#!/usr/bin/env python3
"""Throughput, peak memory and the split of the time for `qinqing check` on each engine.

    python benchmarks/bench_sql.py                          # 1M records, every configuration
    python benchmarks/bench_sql.py --size 20000             # a quick look
    python benchmarks/bench_sql.py --size 100000 --only duckdb --json out.json
    python benchmarks/bench_sql.py --size 20000 --only spark --spark-master spark://127.0.0.1:7077

Configurations (each the real CLI in a subprocess, bundled packs, `--fail-on never`):
python `--jobs 1` and `--jobs 2`; duckdb with 1 and 2 threads, JSONL in → full JSONL report out,
JSONL in → findings tables (`--format parquet`), and Parquet in (the batch written as Parquet,
`parquet_batch`) → JSONL report or findings tables; spark `local[1]`, `local[2]` and, with
`--spark-master`, a cluster. Batches come from `fixtures/generate_sample.py` (kept in `--data`).
Wall time, CPU time and peak memory (PSS of the process tree) as in `bench_check.py`.

`--split` measures, in-process on `--split-size` records, where a DuckDB run spends its time:
reading and validating (Python), writing the stored form, loading it into DuckDB, the SQL
(conditions, windows, findings), and rendering the report entries.
Run by hand; tests never assert timings.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_check import ROOT, batch, run  # noqa: E402


def configurations(only: str | None, master: str | None) -> list[tuple[str, list[str]]]:
    out = [
        ("python --jobs 1, jsonl out", ["--engine", "python", "--jobs", "1", "--format", "jsonl"]),
        ("python --jobs 2, jsonl out", ["--engine", "python", "--jobs", "2", "--format", "jsonl"]),
        ("duckdb 1 thread, jsonl out", ["--engine", "duckdb", "--jobs", "1", "--format", "jsonl"]),
        ("duckdb 2 threads, jsonl out", ["--engine", "duckdb", "--jobs", "2", "--format", "jsonl"]),
        ("duckdb 2 threads, parquet out", ["--engine", "duckdb", "--jobs", "2", "--format", "parquet"]),
        ("duckdb 2 threads, parquet in, jsonl out", ["--engine", "duckdb", "--jobs", "2", "--format", "jsonl"]),
        ("duckdb 2 threads, parquet in, parquet out", ["--engine", "duckdb", "--jobs", "2", "--format", "parquet"]),
        ("spark local[1], jsonl out", ["--engine", "spark", "--spark-master", "local[1]", "--format", "jsonl"]),
        ("spark local[2], jsonl out", ["--engine", "spark", "--spark-master", "local[2]", "--format", "jsonl"]),
    ]
    if master:
        out.append((f"spark {master}, jsonl out", ["--engine", "spark", "--spark-master", master, "--format", "jsonl"]))
    return [c for c in out if only is None or only in c[0]]


def parquet_batch(path: Path) -> Path:
    """The batch as Parquet, made once beside it: its lines as DuckDB reads them (types inferred
    from every line; a line that is not JSON becomes a row of NULLs, an invalid record still)."""
    out = path.with_suffix(".parquet")
    if not out.exists():
        import duckdb

        print(f"writing {out}", file=sys.stderr)
        tmp = out.with_suffix(".tmp")
        con = duckdb.connect()
        con.execute("SET threads = 1")
        con.execute("COPY (SELECT * FROM read_json($src, format = 'newline_delimited', ignore_errors = true, "
                    "sample_size = -1, maximum_object_size = 16777216)) TO '" + str(tmp).replace("'", "''")
                    + "' (FORMAT parquet)", {"src": str(path)})
        con.close()
        tmp.replace(out)
    return out


def split(path: Path, size: int) -> dict:
    """Seconds per stage of one DuckDB run on the first `size` records."""
    sys.path.insert(0, str(ROOT))
    from checker.engine.engine import Engine, Options
    from checker.engine.policy import load_policy
    from checker.engine.sql import Rows, SqlRun
    from checker.input.records import iter_records
    from checker.input.validate import default_validator
    from policy_dsl.backends.sql import duck
    from policy_dsl.store import record_kind

    out: dict[str, float] = {}
    policy = load_policy(None, cache=True)
    engine = Engine(policy, Options())
    t = time.perf_counter()
    items = []
    for i, item in enumerate(iter_records([str(path)], None, "utf-8", default_validator())):
        if i >= size:
            break
        items.append(item)
    out["read and validate"] = time.perf_counter() - t
    sql = SqlRun(engine, "duckdb", 1)
    t = time.perf_counter()
    records = [(i, it.data) for i, it in enumerate(items) if it.data is not None]
    feeder = sql.feeder_for({record_kind(r) for _, r in records})
    inputs = feeder.write(records)
    out["write stored form"] = time.perf_counter() - t
    t = time.perf_counter()
    con = duck.connect(1)
    duck.load(con, feeder, inputs)
    out["load into DuckDB"] = time.perf_counter() - t
    t = time.perf_counter()
    rows = list(duck.findings(con, feeder))
    out["SQL (conditions, windows, findings)"] = time.perf_counter() - t
    inputs.close()
    by_seq: dict[int, list] = {}
    for row in rows:
        by_seq.setdefault(row[Rows.AT["seq"]], []).append(row)
    t = time.perf_counter()
    for i, it in enumerate(items):
        if it.data is not None:
            sql.entry(it, by_seq.get(i, []))
    out["render entries"] = time.perf_counter() - t
    return {k: round(v, 3) for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()))
    ap.add_argument("--only", help="run the configurations whose name contains this")
    ap.add_argument("--spark-master")
    ap.add_argument("--split", action="store_true")
    ap.add_argument("--split-size", type=int, default=20_000)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    path = batch(args.size, args.data, args.seed)
    env = {**os.environ}
    results = []
    for name, extra in configurations(args.only, args.spark_master):
        out = Path(tempfile.mkdtemp()) / "out.parquet"
        target = ["-o", str(out)] if "parquet" in extra else ["-o", os.devnull]
        source = parquet_batch(path) if "parquet in" in name else path
        r = run(["check", str(source), *extra, *target, "--fail-on", "never"], env)
        r.update(name=name, records=args.size, records_per_s=round(args.size / r["wall_s"]))
        results.append(r)
        print(f"{name:34} {r['wall_s']:9.1f} s {r['records_per_s']:>9,}/s {r['peak_rss_mb']:>8} MB exit {r['exit']}",
              flush=True)
    if args.split:
        s = split(path, args.split_size)
        print(json.dumps(s, indent=2))
        results.append({"split": s, "records": args.split_size})
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
