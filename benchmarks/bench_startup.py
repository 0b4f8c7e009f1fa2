#!/usr/bin/env python3
"""What a short run costs: loading the bundled packs from source (cold: no compiled-policy
cache), and a warm `qinqing check` of one record (`fixtures/records/planned_meal.yaml`, the
cache filled by a first run). Targets: the load under 1 s of CPU, the warm check under 0.5 s.

    python benchmarks/bench_startup.py [--runs 7]

Each figure is the median of `--runs` fresh processes (CPU = user + system of the child, as
the operating system accounts it); the machine is shared, so wall time is noisier than CPU.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOAD = ("import time; t = time.process_time(); from checker.engine.policy import load_policy; "
        "p = load_policy(); print(time.process_time() - t, len(p.program.rules))")


def child(argv: list[str], env: dict) -> tuple[float, float, str]:
    """(CPU s, wall s, stdout) of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode not in (0, 1):
        sys.exit(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr}")
    return cpu, wall, proc.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7)
    opts = ap.parse_args()
    cache = tempfile.mkdtemp(prefix="qinqing-bench-cache-")
    env = {**os.environ, "QINQING_CACHE_DIR": cache}
    cold = {**env, "QINQING_NO_CACHE": "1"}
    loads = []
    for _ in range(opts.runs):
        _cpu, _wall, out = child([sys.executable, "-c", LOAD], cold)
        seconds, rules = out.split()
        loads.append(float(seconds))
    print(f"load the bundled packs ({rules} rules), cold: {statistics.median(loads):.3f} s CPU "
          f"(median of {opts.runs}; min {min(loads):.3f})")
    one = [sys.executable, "-m", "checker.cli", "check", "fixtures/records/planned_meal.yaml",
           "--fail-on", "never"]
    child(one, env)  # fills the compiled-policy cache
    runs = [child(one, env) for _ in range(opts.runs)]
    cpu = statistics.median(r[0] for r in runs)
    wall = statistics.median(r[1] for r in runs)
    print(f"qinqing check of one record, cache warm: {cpu:.3f} s CPU, {wall:.3f} s wall "
          f"(medians of {opts.runs})")


if __name__ == "__main__":
    main()
