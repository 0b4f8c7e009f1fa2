"""Run the conformance cases on the Python closure backend and check it against the oracle.

For every record of every case: the evaluator's outcome, findings and suppressed findings equal
the oracle's (`oracle.py`, a naive interpreter written from docs/language.md); every value the
oracle computes, at every node, equals the compiled closure's for that node; the missing facts
of every review equal the oracle's. The cases' own expectations (`want`) are checked too.

The cases are data (see `runner.py`); another backend (SQL) runs the same files.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from checker.schema import bundled_schemas
from policy_dsl import ir
from policy_dsl.errors import render_all
from policy_dsl.evaluate import CompiledRule, Evaluator, Finding, RecordResult
from policy_dsl.load import load
from policy_dsl.store import MemoryStore
from policy_dsl.types import record_type
from policy_dsl.values import add_duration

from . import oracle
from .runner import Case, load_cases, normalise, prepare

CASES = load_cases()


def finding_key(f: Finding) -> str:
    element = f"@{f.element}" if f.element else ""
    return f"{f.rule_id}{element}"


class Window:
    """The reference window: the given records with the same keys, date in [d - N, d]. Keys are
    computed by the oracle (`oracle=True`) or by the compiled closures."""

    def __init__(self, records: list[dict], ev: Evaluator):
        self.records = records
        self.ev = ev

    def _keys(self, rule: ir.RuleIR, r: dict, p: dict, by_oracle: bool) -> tuple | None:
        assert rule.window is not None
        if by_oracle:
            values = tuple(oracle.Oracle(r, p).value(k) for k in rule.window.keys)
        else:
            values = tuple(self.ev.closures(k)(r, p, {}) for k in rule.window.keys)
        return None if any(v is None for v in values) else values

    def records_for(self, rule: ir.RuleIR, r: dict, by_oracle: bool) -> list[dict] | None:
        params = lambda x: self.ev.params_for(x["jurisdiction"], x["date"])  # noqa: E731
        key = self._keys(rule, r, params(r), by_oracle)
        if key is None:
            return None
        assert rule.window is not None
        if rule.window.width is None:
            start = r["date"] - dt.timedelta(days=rule.window.days)
        else:
            width = oracle.Oracle(r, params(r)).value(rule.window.width)
            if width is None:
                return None
            start = add_duration(r["date"], width, -1)
        kind = r.get("record_kind") or "interaction"
        return [x for x in self.records
                if (x.get("record_kind") or "interaction") == kind
                and start <= x["date"] <= r["date"] and self._keys(rule, x, params(x), by_oracle) == key]

    def __call__(self, c: CompiledRule, r: dict, p: dict) -> list[dict] | None:
        return self.records_for(c.ir, r, by_oracle=False)

    def for_oracle(self, rule: ir.RuleIR, r: dict) -> list[dict] | None:
        return self.records_for(rule, r, by_oracle=True)


def agree(ev: Evaluator, r: dict, result: RecordResult, window: Window, store: Any = None) -> None:
    """The evaluator and the oracle agree on the record: outcome, findings, suppressed findings,
    every value at every node the oracle met, and the missing facts of each review."""
    p = result.params
    outcome, found, suppressed = oracle.judge(ev.program, p, r, window.for_oracle, store)
    assert sorted(f"{finding_key(f)} {f.outcome}" for f in result.findings) == sorted(f.key() for f in found), r["id"]
    assert result.outcome == outcome, r["id"]
    assert sorted(finding_key(f) for f in result.suppressed) == sorted(
        f"{f.rule}{'@' + f.element if f.element else ''}" for f in suppressed), r["id"]
    for f in result.findings:
        _same_values(ev, r, p, f, window, store)
        if f.cond is not None and (f.outcome == "review" or f.tolerated_by):
            ex = ev.explainer(r, f, p)
            rule = f.via or f.rule
            o = oracle.Oracle(r, p, ex.v, ex.paths, oracle.facts(rule))
            assert sorted(ex.missing(f.cond)) == sorted(o.eval(f.cond)[1]), (r["id"], finding_key(f))


def _same_values(ev: Evaluator, r: dict, p: dict, f: Finding, window: Window, store: Any = None) -> None:
    """At every node of the finding's condition (and its messages) that the oracle evaluates,
    the closure compiled for that node computes the same value, of the same type."""
    rule = f.via or f.rule
    exprs: list[ir.Expr] = [x for x in (rule.when, rule.unless) if x is not None]
    exprs += [q.cond for q in rule.requires]
    env: dict[str, Any] = dict(f.bindings)
    if rule.window is not None:
        env["$window"] = window.for_oracle(rule, r)
    if store is not None:
        env["$store"] = store
    o = oracle.Oracle(r, p, env, f.paths, oracle.facts(rule))
    for e in exprs:
        o.eval(e)
    for node, bindings, value in o.visited:
        fast = ev.closures(node)(r, p, bindings)
        assert type(fast) is type(value) and fast == value, (
            f"closure and oracle disagree on {type(node).__name__}: {fast!r} != {value!r}")


def render_message(ev: Evaluator, r: dict, f: Finding, result: RecordResult, lang: str) -> str:
    return ev.explainer(r, f, result.params).render(getattr(f.rule.say, lang), lang)


@pytest.fixture(scope="module")
def validator() -> None:
    return None


def run(case: Case, folder: Path, validator=None) -> None:
    result = load([prepare(case, folder)], bundled_schemas())
    assert result.ok, render_all(result.errors, result.sources)
    schemas = result.program.schemas
    for rec in case.records:
        kind = rec.get("record_kind") or "interaction"
        check = jsonschema.Draft202012Validator(schemas[kind])
        errors = sorted(e.message for e in check.iter_errors(rec))
        assert not errors, f"{rec['id']} does not match the {kind} schema: {errors}"
    records = [normalise(rec, record_type(schemas[rec.get("record_kind") or "interaction"]))
               for rec in case.records]
    history = [normalise(rec, record_type(schemas[rec.get("record_kind") or "interaction"]))
               for rec in case.history]
    ev = Evaluator(result.program, result.params)
    window = Window(records, ev)
    store = MemoryStore(history + records)
    assert set(case.want) <= {r["id"] for r in records}, "`want` names an unknown record"
    for r in records:
        res = ev.evaluate(r, window, trace=True, store=store)
        agree(ev, r, res, window, store)
        want = case.want.get(r["id"])
        if want is None:
            continue
        got = sorted(f"{finding_key(f)} {f.outcome}" for f in res.findings)
        assert (r["id"], res.outcome, got) == (r["id"], want["outcome"], sorted(want.get("findings", [])))
        by_key = {finding_key(f): f for f in res.findings}
        for key, paths in (want.get("missing") or {}).items():
            f = by_key[key]
            assert f.cond is not None, f"{key} names no condition"
            assert sorted(ev.explainer(r, f, res.params).missing(f.cond)) == sorted(paths), key
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
