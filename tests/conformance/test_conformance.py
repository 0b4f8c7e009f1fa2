"""Run the conformance cases on the Python closure backend, and check that the tracing
evaluator (`explain.Tracer`) agrees with the closures on every condition value it visits.

The cases are data (see `runner.py`); another backend (SQL) runs the same files.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

import jsonschema
import pytest

from policy_dsl import ir
from policy_dsl import types as ty
from policy_dsl.backends.python import compile_expr
from policy_dsl.errors import render_all
from policy_dsl.evaluate import CompiledRule, Evaluator, Finding, RecordResult
from policy_dsl.explain import Tracer
from policy_dsl.load import load

from .runner import Case, load_cases, normalise, prepare

CASES = load_cases()


def finding_key(f: Finding) -> str:
    element = f"@{f.element}" if f.element else ""
    return f"{f.rule_id}{element}"


class Window:
    """The reference window: the case's records with the same keys, date in [d - N, d]."""

    def __init__(self, records: list[dict], ev: Evaluator):
        self.records = records
        self.ev = ev

    def keys(self, c: CompiledRule, r: dict) -> tuple | None:
        p = self.ev.params.values_for(r["jurisdiction"], r["date"])
        values = tuple(k(r, p, {}) for k in c.keys)
        return None if any(v is None for v in values) else values

    def __call__(self, c: CompiledRule, r: dict, p: dict) -> list[dict] | None:
        key = self.keys(c, r)
        if key is None:
            return None
        start = r["date"] - dt.timedelta(days=c.ir.window.days)
        return [x for x in self.records
                if start <= x["date"] <= r["date"] and self.keys(c, x) == key]


class CheckingTracer(Tracer):
    """A Tracer that, at every node it evaluates, also runs the node's compiled closure with
    the same bindings and fails on any disagreement (value or type)."""

    closures: ClassVar[dict[int, Any]] = {}  # id(node) → (closure, node); the node keeps the id unique

    def eval(self, e: ir.Expr):
        value, missing = super().eval(e)
        fn = self.closures.get(id(e))
        if fn is None:
            fn = self.closures[id(e)] = (compile_expr(e), e)
        fast = fn[0](self.r, self.p, self.v)
        assert type(fast) is type(value) and fast == value, (
            f"closure and tracer disagree on {type(e).__name__}: {fast!r} != {value!r}")
        if value is not None:
            assert not missing, f"a known value with missing facts: {e}"
        return value, missing


def kleene_condition(rule: ir.RuleIR) -> ir.Expr:
    if rule.unless is None:
        return rule.when
    return ir.And((rule.when, ir.Not(rule.unless, ty.BOOL)), ty.BOOL)


def check_agreement(ev: Evaluator, r: dict, result: RecordResult, window: Window) -> None:
    """Every rule in force, every element: the tracer's condition, requires and collection
    equal the closures' and the evaluator's recorded decisions."""
    p = result.params
    decided = Counter()
    for e in result.trace or ():
        if e.rule.kind != "tolerance":
            decided[(e.rule.id, e.element, e.status, tuple(s for _, s in e.requires))] += 1
    seen = Counter()
    rules, tolerances = ev.rules_in_force(r["jurisdiction"], r["date"])
    for c in rules:
        base: dict = {}
        if c.ir.window is not None:
            base["$window"] = window(c, r, p)
        instances: list[tuple[str | None, dict]] = [(None, base)]
        if c.ir.foreach is not None:
            items = CheckingTracer(r, p, dict(base), {}).value(c.ir.foreach[1])
            if items is None:  # one review finding for the rule
                seen[(c.ir.id, None, None, ())] += 1
                continue
            instances = [(f"{c.coll_path}[{i}]", {**base, c.var: item}) for i, item in enumerate(items)]
        for element, v in instances:
            paths = {c.var: element} if element else {}
            status = CheckingTracer(r, p, dict(v), dict(paths)).value(kleene_condition(c.ir))
            assert status == c.condition(r, p, v)
            reqs: tuple = ()
            if status is True and c.ir.kind == "permit":
                reqs = tuple(CheckingTracer(r, p, dict(v), dict(paths)).value(q.cond)
                             for q in c.ir.requires)
            seen[(c.ir.id, element, status, reqs)] += 1
    for t in tolerances:
        CheckingTracer(r, p, {}, {}).value(kleene_condition(t.ir))
    assert seen == decided


def render_message(ev: Evaluator, r: dict, f: Finding, result: RecordResult, lang: str) -> str:
    tracer = ev.tracer(r, f, result.params)
    checking = CheckingTracer(tracer.r, tracer.p, tracer.v, tracer.paths)
    return checking.render(getattr(f.rule.say, lang), lang)


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(ty.record_schema())


def run(case: Case, folder: Path, validator) -> None:
    result = load([prepare(case, folder)])
    assert result.ok, render_all(result.errors, result.sources)
    for rec in case.records:
        errors = sorted(e.message for e in validator.iter_errors(rec))
        assert not errors, f"{rec['id']} does not match the record schema: {errors}"
    records = [normalise(rec) for rec in case.records]
    ev = Evaluator(result.program, result.params)
    window = Window(records, ev)
    assert set(case.want) <= {r["id"] for r in records}, "`want` names an unknown record"
    for r in records:
        res = ev.evaluate(r, window, trace=True)
        check_agreement(ev, r, res, window)
        want = case.want.get(r["id"])
        if want is None:
            continue
        got = sorted(f"{finding_key(f)} {f.outcome}" for f in res.findings)
        assert (r["id"], res.outcome, got) == (r["id"], want["outcome"], sorted(want.get("findings", [])))
        by_key = {finding_key(f): f for f in res.findings}
        for key, paths in (want.get("missing") or {}).items():
            f = by_key[key]
            assert f.cond is not None, f"{key} names no condition"
            tracer = ev.tracer(r, f, res.params)
            assert sorted(tracer.eval(f.cond)[1]) == sorted(paths), key
        for key, text in (want.get("messages") or {}).items():
            f = by_key[key]
            for lang in ("zh", "en"):
                if lang in text:
                    assert render_message(ev, r, f, res, lang) == text[lang], (key, lang)
        for key, severity in (want.get("severities") or {}).items():
            assert by_key[key].severity == severity, key
        if "suppressed" in want:
            assert sorted(finding_key(f) for f in res.suppressed) == sorted(want["suppressed"])


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_case(case: Case, tmp_path: Path, validator) -> None:
    run(case, tmp_path, validator)


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 60
    assert len({c.note for c in CASES}) == len(CASES), "every case has its own note"
