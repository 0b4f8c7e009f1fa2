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
proportional set sizes (PSS) of the process and its workers, sampled every 100 ms
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
            done.wait(0.1)

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rules", default=None, help="policy folder (default: the bundled rules)")
    ap.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()))
    ap.add_argument("--seed", type=int, default=20261122)
    ap.add_argument("--format", default="jsonl")
    ap.add_argument("--json", type=Path, help="also write the results here")
    opts = ap.parse_args()

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
