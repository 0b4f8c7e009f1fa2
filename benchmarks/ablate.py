#!/usr/bin/env python3
"""Ablation of the record path's speed machinery: `qinqing check` on one JSONL batch with one
piece switched off at a time, each configuration in its own process, in turns.

    python benchmarks/ablate.py BATCH.jsonl [--reps 5] [--only base,no_memo]
    python benchmarks/ablate.py BATCH.jsonl --callgrind     # instructions, not seconds

Prints, per configuration, the median CPU seconds of the whole check and its ratio to `base`
(everything on); with `--callgrind`, machine instructions per record instead (valgrind; the
same count on every run, whatever else the machine is doing; the run on the batch's first line
is subtracted, so start-up is not counted). Pieces are switched off by replacing them in the
running process (plain Python: run with QINQING_PURE=1 so that no compiled module holds its own
references)."""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _off(name: str) -> None:
    """Switch off one piece in this process."""
    import checker.run.check as run
    from policy_dsl import evaluate
    from policy_dsl.backends import memo

    if name == "no_memo":  # closed comprehensions computed every time
        memo.inputs = lambda e: None
    elif name == "no_fast_json":  # orjson + the validator for every line
        import checker.input.fastjson as fastjson
        import checker.input.records as records
        fastjson.decoder_for = lambda v: None
        records.decoder_for = lambda v: None
        run.FillingValidator.fast_json = lambda self: None
    elif name == "no_partial_scan":  # the first pass decodes whole records
        run.ScanValidator.partial = lambda self: None
    elif name == "no_epoch":  # parameters and rules in force worked out per record
        original = evaluate.Evaluator.in_force

        def per_record(self, code, day):
            self._in_force.clear()
            return original(self, code, day)
        evaluate.Evaluator.in_force = per_record
    elif name != "base":
        raise SystemExit(f"unknown piece {name}")


def child(name: str, batch: str) -> None:
    _off(name)
    from checker.run.check import run_check
    run_check(files=[batch], rules=None, jurisdiction=None, fmt="jsonl", output=Path("/dev/null"),
              lang="zh", explain=False, history=[], input_format=None, encoding="utf-8", jobs=1,
              failing=["never"], log=None, mask=None, quiet=True)
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print(ru.ru_utime + ru.ru_stime)


CONFIGS = ("base", "no_memo", "no_fast_json", "no_partial_scan", "no_epoch")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("batch")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--only", default=",".join(CONFIGS))
    ap.add_argument("--callgrind", action="store_true")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.child, a.batch)
        return
    names = a.only.split(",")
    if a.callgrind:
        instructions(a.batch, names)
        return
    times: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(a.reps):
        for n in names:
            out = subprocess.run([sys.executable, __file__, a.batch, "--child", n], cwd=ROOT,
                                 capture_output=True, text=True, check=True, env=os.environ)
            times[n].append(float(out.stdout.split()[-1]))
    base = statistics.median(times["base"]) if "base" in times else None
    print(f"{'configuration':<20} {'CPU s (median)':>14} {'vs base':>8}")
    for n in names:
        m = statistics.median(times[n])
        ratio = f"{m / base:8.3f}" if base else ""
        print(f"{n:<20} {m:14.2f} {ratio}")


def _collected(batch: str, name: str) -> int:
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, __file__,
           batch, "--child", name]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONHASHSEED": "0"})
    return int(re.search(r"Collected : (\d+)", out.stderr).group(1))  # type: ignore[union-attr]


def instructions(batch: str, names: list[str]) -> None:
    lines = Path(batch).read_bytes().splitlines(keepends=True)
    with tempfile.NamedTemporaryFile(suffix=".jsonl") as one:
        one.write(lines[0])
        one.flush()
        subprocess.run([sys.executable, __file__, one.name, "--child", "base"], cwd=ROOT, check=True,
                       capture_output=True)  # fills the compiled-policy cache: not counted
        per = {n: (_collected(batch, n) - _collected(one.name, n)) / (len(lines) - 1) for n in names}
    base = per.get("base")
    print(f"{'configuration':<20} {'instructions/record':>20} {'vs base':>8}")
    for n in names:
        ratio = f"{per[n] / base:8.3f}" if base else ""
        print(f"{n:<20} {per[n]:20,.0f} {ratio}")


if __name__ == "__main__":
    main()
