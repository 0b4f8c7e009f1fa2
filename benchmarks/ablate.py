#!/usr/bin/env python3
"""Ablation of the record path's speed machinery: `qinqing check` on one JSONL batch with one
piece switched off at a time, each configuration in its own process, in turns.

    python benchmarks/ablate.py BATCH.jsonl [--reps 5] [--only base,no_dispatch]

Prints, per configuration, the median CPU seconds of the whole check and its ratio to `base`
(everything on). Pieces are switched off by replacing them in the running process (plain Python:
run with QINQING_PURE=1 so that no compiled module holds its own references)."""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _off(name: str) -> None:
    """Switch off one piece in this process."""
    import checker.findings.entry as findings
    import checker.run.check as run
    from policy_dsl import evaluate
    from policy_dsl.backends import python as backend

    if name == "no_dispatch":  # no key fields, no empty lists: every rule evaluated as it is
        from policy_dsl import dispatch
        dispatch.choose_fields = lambda conds: []
        dispatch.choose_lists = lambda rules: []
    elif name == "no_elem":  # no element closures (bindings in a dict)
        from policy_dsl import dispatch
        backend.compile_elem = lambda e, var: None
        evaluate.compile_elem = dispatch.compile_elem = backend.compile_elem
    elif name == "no_memo":  # no folding or memoisation
        plain = backend.compile_expr
        backend.compile_expr = lambda e, optimise=False: plain(e, False)
        evaluate.compile_expr = backend.compile_expr
    elif name == "no_fast_compliant":
        findings.FAST_COMPLIANT = False
    elif name == "no_fast_tracer":
        findings.FAST_TRACER = False
    elif name == "no_fast_json":  # orjson + the validator for every line
        import checker.input.fastjson as fastjson
        import checker.input.records as records
        fastjson.decoder_for = lambda v: None
        records.decoder_for = lambda v: None
        run.FillingValidator.fast_json = lambda self: None
    elif name == "no_partial_scan":  # the first pass decodes whole records
        run.ScanValidator.partial = lambda self: None
    elif name == "no_epoch":  # parameters and rules in force worked out per record
        import checker.engine.policy as engine
        engine.EpochEvaluator = evaluate.Evaluator
        original = evaluate.Evaluator._plan

        def per_record(self, code, day):
            self._plans.clear()
            self._in_force.clear()
            return original(self, code, day)
        evaluate.Evaluator._plan = per_record
    elif name != "base":
        raise SystemExit(f"unknown piece {name}")


def child(name: str, batch: str) -> None:
    _off(name)
    from checker.run.check import run_check
    run_check(files=[batch], rules=None, jurisdiction=None, fmt="jsonl", output=Path("/dev/null"),
              lang="zh", explain=False, history=[], input_format=None, encoding="utf-8", jobs=1,
              failing=["never"], log=None, mask=None)
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print(ru.ru_utime + ru.ru_stime)


CONFIGS = ("base", "no_dispatch", "no_elem", "no_memo", "no_fast_compliant", "no_fast_tracer",
           "no_fast_json", "no_partial_scan", "no_epoch")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("batch")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--only", default=",".join(CONFIGS))
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.child, a.batch)
        return
    names = a.only.split(",")
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


if __name__ == "__main__":
    main()
