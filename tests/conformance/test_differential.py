"""Differential test: random schema-shaped records (any field may be absent) through the
good packs of tests/policy_dsl/good; the closures and the tracer agree on every condition,
and messages and missing facts render without an exception."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policy_dsl import types as ty
from policy_dsl.evaluate import Evaluator
from policy_dsl.load import load

from .test_conformance import Window, check_agreement, render_message

GOOD = Path(__file__).parents[1] / "policy_dsl" / "good"
RESULT = load([GOOD])
assert RESULT.ok
EV = Evaluator(RESULT.program, RESULT.params)

MONEY = st.sampled_from([Decimal(x) for x in ("0", "15", "59.99", "60", "60.00", "60.005", "150",
                                              "200", "480", "1000")])
DATES = st.dates(dt.date(2020, 12, 1), dt.date(2026, 2, 1))
STRINGS = st.sampled_from(["91150300MA0N000000", "91350100M000100Y43", "O-1", "某公司", "WH-2024001"])


def value(t: ty.T, depth: int = 0) -> st.SearchStrategy:
    if t.kind == "object":
        fields = {k: value(v, depth + 1) for k, v in sorted(t.fields.items())}
        return st.fixed_dictionaries({}, optional=fields)
    if t.kind == "list":
        return st.lists(value(t.elem or ty.ANY, depth + 1), max_size=3 if depth < 2 else 1)
    return st.one_of(st.none(), {
        "enum": st.sampled_from(t.values or ("x",)),
        "money": MONEY, "number": MONEY,
        "int": st.integers(0, 12),
        "bool": st.booleans(),
        "date": DATES,
        "datetime": st.builds(lambda d, h: dt.datetime(d.year, d.month, d.day, h,
                                                       tzinfo=dt.timezone(dt.timedelta(hours=8))),
                              DATES, st.integers(0, 23)),
        "string": STRINGS,
    }.get(t.kind, st.none()))


RECORD = value(ty.record_type()).map(lambda r: {
    **r, "id": "r", "stage": "completed",
    "jurisdiction": "150302" if r.get("jurisdiction") is None else "150400",
    "date": r.get("date") or dt.date(2024, 6, 1),
    "official": {**(r.get("official") or {}), "id": "O-1"}})


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(RECORD, min_size=1, max_size=3))
def test_closures_and_tracer_agree_on_random_records(records: list[dict]) -> None:
    for i, r in enumerate(records):
        r["id"] = f"r{i}"
    window = Window(records, EV)
    for r in records:
        res = EV.evaluate(r, window, trace=True)
        check_agreement(EV, r, res, window)
        for f in res.findings:
            tracer = EV.tracer(r, f, res.params)
            if f.cond is not None:
                tracer.eval(f.cond)
            if f.rule.say is not None and f.kind != "conflict":
                render_message(EV, r, f, res, "zh")
                render_message(EV, r, f, res, "en")
