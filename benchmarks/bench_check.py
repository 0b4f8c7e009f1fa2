#!/usr/bin/env python3
"""End-to-end throughput and peak memory of `qinqing check` on large JSONL batches.

    python benchmarks/bench_check.py                         # 100k and 1M records, --jobs 1 and 2
    python benchmarks/bench_check.py --sizes 20000 --jobs 1  # a quick look
    python benchmarks/bench_check.py --json results.json

Batches come from `fixtures/generate_sample.py` (seeded, realistic, ~0.5 % malformed lines)
and are kept in `--data` (default: the system temp folder) for the next run. Each run is
the real CLI in a subprocess (`--format jsonl -o /dev/null --fail-on never` with the
bundled packs), so parsing, validation, both passes of the cross-record windows,
evaluation and report writing are all counted. Peak memory is the largest sum of the
proportional set sizes (PSS) of the process and its workers, sampled every 0.5 s
from /proc (PSS splits pages shared after a fork, so workers are not counted twice).
Also measured: startup plus one record (`fixtures/records/planned_meal.yaml`), with the
compiled-policy cache warm. Linux only (reads /proc).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GENERATOR = ROOT / "fixtures" / "generate_sample.py"
PAGE = os.sysconf("SC_PAGE_SIZE")


def batch(size: int, folder: Path, seed: int) -> Path:
    path = folder / f"qinqing-bench-{seed}-{size}.jsonl"
    if not path.exists():
        print(f"generating {size:,} records → {path}", file=sys.stderr)
        tmp = path.with_suffix(".tmp")
        subprocess.run([sys.executable, str(GENERATOR), "--seed", str(seed), "-n", str(size),
                        "-o", str(tmp)], check=True)
        tmp.replace(path)
    return path


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except OSError:
            continue
    return out


def _rss(pids: list[int]) -> int:
    """Proportional set size (shared pages split between the processes sharing them, so
    forked workers are not counted twice), else resident set size."""
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as fh:
                total += next(int(x.split()[1]) * 1024 for x in fh if x.startswith("Pss:"))
            continue
        except (OSError, StopIteration, ValueError):
            pass
        try:
            with open(f"/proc/{p}/statm") as fh:
                total += int(fh.read().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
    return total


def run(args: list[str], env: dict) -> dict:
    """Run the CLI; wall time, CPU time of the process tree, peak summed RSS, exit code."""
    start = time.perf_counter()
    before = os.times()
    proc = subprocess.Popen([sys.executable, "-m", "checker.cli", *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _rss(_tree(proc.pid)))
            done.wait(0.5)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    _, err = proc.communicate()
    done.set()
    t.join()
    wall = time.perf_counter() - start
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "peak_rss_mb": round(peak / 2**20, 1),
            "exit": proc.returncode, "stderr": err.decode("utf-8", "replace")[-500:]}


def stages(path: Path, rules: str | None, limit: int) -> dict:
    """Per-record CPU cost of each stage, in-process, on the first `limit` records of `path`."""
    import gc

    import orjson

    sys.path.insert(0, str(ROOT))
    from checker.engine.engine import Engine, Options, invalid_entry
    from checker.engine.policy import load_policy
    from checker.input.fastjson import decoder_for
    from checker.findings.entry import record_entry
    from checker.input.validate import default_validator

    clock = time.process_time
    policy = load_policy([rules] if rules else None, cache=True)
    engine = Engine(policy, Options())
    validator = default_validator()
    fast = decoder_for(validator)
    assert fast is not None
    with open(path, "rb") as fh:
        lines = [line.rstrip(b"\r\n") for _, line in zip(range(limit), fh)]

    def slow(line: bytes) -> tuple[Any, Any, list] | None:
        try:
            raw = orjson.loads(line)
        except orjson.JSONDecodeError:
            return None
        return (raw, *validator.validate(raw))

    t = clock()
    reference = [slow(line) for line in lines]  # for comparison: orjson + validator on every line
    t_slow = clock() - t
    del reference
    # decode: the loader's hot path, the fast path (checker/fastjson.py) and, for the lines it
    # is not sure of, orjson + the validator (which also write the messages)
    t = clock()
    decoded, fallbacks = [], 0
    for line in lines:
        data = fast(line)
        if data is not None:
            decoded.append((None, data, []))
            continue
        fallbacks += 1
        got = slow(line)
        if got is not None:  # a malformed line: no record for the later stages
            decoded.append(got)
    t_decode = clock() - t

    class Item:
        __slots__ = ("data", "errors", "line", "location", "raw", "record_id", "source")

    items = []
    for i, (raw, data, errors) in enumerate(decoded):
        it = Item()
        it.data, it.errors, it.raw, it.line = data, errors, raw, i + 1
        it.source, it.location = str(path), f"{path}:{i + 1}"
        it.record_id = (data if data is not None else raw).get("id")
        items.append(it)
    t = clock()
    index = engine.new_index()
    if index is not None:
        for seq, it in enumerate(items):
            if it.data is not None:
                index.add(it.data, seq)
        index.freeze()
    t_index = clock() - t
    ev = policy.evaluator
    renderer = policy.renderer("zh")
    t = clock()
    results = []
    for seq, it in enumerate(items):
        window = (lambda c, r, p, s=seq: index.lookup(c, r, p, s)) if index is not None else None
        results.append(ev.evaluate(it.data, window) if it.data is not None else None)
    t_eval = clock() - t
    t_lookup = 0.0
    if index is not None:  # the window lookups alone (part of evaluate_us): recorded, then replayed
        calls: list = []
        for seq, it in enumerate(items):
            if it.data is not None:
                ev.evaluate(it.data, lambda c, r, p, s=seq: calls.append((c, r, p, s)) or index.lookup(c, r, p, s))
        t = clock()
        for c, r, p, s in calls:
            index.lookup(c, r, p, s)
        t_lookup = clock() - t
    # entries and writing in blocks, as the CLI streams them (a batch of entries kept alive
    # would make the cyclic collector walk it over and over)
    gc.collect()
    gc.freeze()  # the records and results held here are not there in the CLI's stream
    t_entries = t_write = 0.0
    for b in range(0, len(items), 500):
        t = clock()
        entries = [record_entry(it, res, renderer, False) if res is not None else invalid_entry(it, "zh")
                   for it, res in zip(items[b:b + 500], results[b:b + 500], strict=True)]
        t_entries += clock() - t
        t = clock()
        for e in entries:
            orjson.dumps(e)
        t_write += clock() - t
        del entries
    n = len(items)
    return {"records": n, "fallback_pct": round(100 * fallbacks / max(1, len(lines)), 2),
            **{k: round(v / n * 1e6, 1) for k, v in (
        ("decode_us", t_decode), ("slow_decode_us", t_slow), ("window_index_us", t_index),
        ("evaluate_us", t_eval), ("window_lookups_us", t_lookup), ("entries_us", t_entries),
        ("write_us", t_write))}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rules", default=None, help="policy folder (default: the bundled rules)")
    ap.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()))
    ap.add_argument("--seed", type=int, default=20261122)
    ap.add_argument("--format", default="jsonl")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--stages", type=int, metavar="N",
                    help="only time each stage in-process on the first N records of the first size")
    opts = ap.parse_args()
    if opts.stages:
        st = stages(batch(opts.sizes[0], opts.data, opts.seed), opts.rules, opts.stages)
        print(" ".join(f"{k}={v}" for k, v in st.items()))
        if opts.json:
            opts.json.write_text(json.dumps(st, indent=2) + "\n", encoding="utf-8")
        return

    env = {**os.environ}
    env.pop("NO_COLOR", None)
    rules = ["--rules", opts.rules] if opts.rules else []
    results: dict = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                                 "load_avg_at_start": os.getloadavg()}, "runs": []}

    one = ["check", "fixtures/records/planned_meal.yaml", "--fail-on", "never", *rules]
    run(one, env)  # warms the compiled-policy cache
    starts = [run(one, env) for _ in range(5)]
    best = min(starts, key=lambda r: r["wall_s"])
    results["startup_one_record"] = best
    print(f"startup + one record: {best['wall_s']:.2f} s wall, {best['cpu_s']:.2f} s CPU "
          f"(best of 5, cache warm)")

    print(f"{'records':>10} {'jobs':>4} {'wall s':>8} {'CPU s':>8} {'records/s':>10} "
          f"{'per CPU-s':>10} {'peak MB':>8}")
    for size in opts.sizes:
        path = batch(size, opts.data, opts.seed)
        for jobs in opts.jobs:
            r = run(["check", str(path), "--format", opts.format, "-o", os.devnull,
                     "--fail-on", "never", "--jobs", str(jobs), *rules], env)
            if r["exit"] not in (0, 1):
                print(f"run failed ({r['exit']}): {r['stderr']}", file=sys.stderr)
                sys.exit(1)
            rate = size / r["wall_s"]
            per_cpu = size / r["cpu_s"] if r["cpu_s"] else 0
            results["runs"].append({"records": size, "jobs": jobs, **r, "records_per_s": round(rate),
                                    "records_per_cpu_s": round(per_cpu)})
            print(f"{size:>10,} {jobs:>4} {r['wall_s']:>8.1f} {r['cpu_s']:>8.1f} {rate:>10,.0f} "
                  f"{per_cpu:>10,.0f} {r['peak_rss_mb']:>8.0f}", flush=True)
    results["machine"]["load_avg_at_end"] = os.getloadavg()
    if opts.json:
        opts.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
