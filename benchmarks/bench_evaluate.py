"""CPU cost of `Evaluator.evaluate` per record with the bundled packs.

    python benchmarks/bench_evaluate.py [--records 20000] [--batch FILE] [--repeat 3] [--per-rule]

Records come from `--batch` (JSONL) or a generated batch (fixtures/generate_sample.py, seed
20261122) in the system temp folder; they are parsed and validated once, the window index is
built once, then `evaluate` runs over all of them `--repeat` times; the best CPU time per record
is printed. `--per-rule` also times each rule's condition alone where it is evaluated
(µs per record of the batch, top 15).
Benchmarks are run by hand; tests never assert timings.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _batch(n: int) -> Path:
    path = Path(tempfile.gettempdir()) / f"qinqing-bench-20261122-{n}.jsonl"
    if not path.exists():
        subprocess.run([sys.executable, str(ROOT / "fixtures" / "generate_sample.py"), "--seed",
                        "20261122", "-n", str(n), "-o", str(path)], check=True)
    return path


def _per_rule(ev, records: list[dict]) -> None:
    """Each rule's condition alone, rule by rule (one clock each), on the records where the
    evaluator evaluates it (not skipped or decided by dispatch)."""
    from policy_dsl.dispatch import EVALUATE

    todo: dict = {}
    for r in records:
        p, rules, _ = ev._plan(r["jurisdiction"], r["date"])
        for c, known, cond, *_ in ev.dispatch.plan(rules, r):
            if known is EVALUATE and not c.windowed:
                todo.setdefault(c, []).append((r, p, cond))
    cost: Counter = Counter()
    for c, triples in todo.items():
        t = time.process_time()
        for r, p, cond in triples:
            if c.coll is None:
                cond(r, p, {})
            else:
                for item in c.coll(r, p, {}) or ():
                    cond(r, p, {c.var: item})
        cost[c.ir.id] += time.process_time() - t
    print(f"conditions evaluated: {sum(cost.values()) / len(records) * 1e6:.1f} µs/record; top rules:")
    for rid, t in cost.most_common(15):
        print(f"  {rid:14} {t / len(records) * 1e6:6.2f} µs")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--batch", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--per-rule", action="store_true")
    args = ap.parse_args()

    import orjson

    from checker.engine.engine import Engine, Options
    from checker.engine.policy import load_policy
    from checker.input.validate import default_validator

    engine = Engine(load_policy(None, cache=True), Options())
    validator = default_validator()
    records = []
    with open(args.batch or _batch(args.records), "rb") as fh:
        for _, line in zip(range(args.records), fh):
            try:
                data, _errors = validator.validate(orjson.loads(line))
            except orjson.JSONDecodeError:
                continue
            if data is not None:
                records.append(data)
    index = engine.new_index()
    if index is not None:
        for seq, r in enumerate(records):
            index.add(r, seq)
        index.freeze()
    ev = engine.ev
    best = float("inf")
    outcomes: Counter = Counter()
    for _ in range(args.repeat):
        outcomes.clear()
        t = time.process_time()
        for seq, r in enumerate(records):
            window = (lambda c, rec, p, s=seq: index.lookup(c, rec, p, s)) if index is not None else None
            outcomes[ev.evaluate(r, window).outcome] += 1
        best = min(best, time.process_time() - t)
    n = len(records)
    print(f"{n:,} records: evaluate {best / n * 1e6:.1f} µs/record (best of {args.repeat}, CPU time)")
    print("outcomes:", dict(sorted(outcomes.items())))
    if args.per_rule:
        _per_rule(ev, records)


if __name__ == "__main__":
    main()
