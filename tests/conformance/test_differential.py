"""Differential tests: hypothesis-generated records (schema-shaped, any field may be absent)
through the bundled packs and the good test packs; the evaluator (compiled closures) and the
oracle agree on every outcome, finding, suppressed finding, node value and missing fact, and
every finding renders without an exception.

The bundled run checks at least 2,000 records per run (`test_enough_records_were_checked`)."""

from __future__ import annotations

import copy
import datetime as dt
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checker.engine.policy import load_policy
from checker.input.records import iter_records
from checker.schema import record_schema
from policy_dsl import types as ty
from policy_dsl.evaluate import Evaluator
from policy_dsl.load import load
from policy_dsl.store import MemoryStore

from .test_conformance import Window, agree

ROOT = Path(__file__).parents[2]
GOOD = ROOT / "tests" / "policy_dsl" / "good"
RECORD_TYPE = ty.record_type(record_schema())

MONEY = st.sampled_from([Decimal(x) for x in ("0", "15", "59.99", "60", "60.00", "60.005", "100", "150",
                                              "199.99", "200", "480", "1000", "6000")])
DATES = st.dates(dt.date(2012, 6, 1), dt.date(2026, 12, 31))
STRINGS = st.sampled_from(["91150300MA0N000000", "91350100M000100Y43", "91440101MA5CXXXX0K", "O-1",
                           "某公司", "WH-2024001"])
JURISDICTIONS = st.sampled_from(["150302", "150300", "370102", "371002", "440106", "450107", "110101"])


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


def records(official_ids: tuple[str, ...]) -> st.SearchStrategy:
    """Records with the fields every record has (id, stage, jurisdiction, date, official.id)
    and anything else at random; few officials and firms, so windows fill up."""
    return st.builds(
        lambda r, stage, code, day, official, firm: {
            **r, "stage": stage, "jurisdiction": code, "date": day,
            "official": {**(r.get("official") or {}), "id": official},
            **({"enterprise": {**(r.get("enterprise") or {}), "uscc": firm}} if firm else {})},
        value(RECORD_TYPE), st.sampled_from(["planned", "completed"]), JURISDICTIONS,
        DATES, st.sampled_from(official_ids), st.one_of(st.none(), STRINGS))


def check_batch(ev: Evaluator, batch: list[dict], seen: Counter | None = None,
                register: list[dict] | None = None) -> None:
    """`register`: records lookups may find besides the batch (the prior filings)."""
    for i, r in enumerate(batch):
        r["id"] = f"r{i}"
    window = Window(batch, ev)
    store = MemoryStore([*register, *batch]) if register is not None else None
    for r in batch:
        res = ev.evaluate(r, window, trace=True, store=store)
        agree(ev, r, res, window, store)
        for f in res.findings:
            ex = ev.explainer(r, f, res.params)
            for lang in ("zh", "en"):
                if f.rule.say is not None and f.kind != "conflict":
                    ex.render(getattr(f.rule.say, lang), lang)
                if f.rule.remedy is not None:
                    ex.render(getattr(f.rule.remedy, lang), lang)
        if seen is not None:
            seen["records"] += 1
            seen.update(f.outcome for f in res.findings)


BUNDLED_POLICY = load_policy(None)
BUNDLED = BUNDLED_POLICY.evaluator
CHECKED: Counter = Counter()
SAMPLE = [i.data for i in iter_records([ROOT / "fixtures" / "sample" / "batch.jsonl"]) if i.data is not None]
FILED = [r for r in SAMPLE if (r.get("tolerance") or {}).get("prefiling_id")]  # tolerances are rare
# The register the sample's tolerance claims name (with the other generated filings).
FILINGS = [i.data for i in iter_records([ROOT / "fixtures" / "kinds" / "tolerance_filing.jsonl"],
                                       validator=BUNDLED_POLICY.validator()) if i.data is not None]


def _leaves(x: object, path: tuple = ()) -> list[tuple]:
    """Every path to a value inside a record (dict keys and list positions)."""
    out = [path] if path else []
    if isinstance(x, dict):
        for k, v in x.items():
            out += _leaves(v, (*path, k))
    elif isinstance(x, list):
        for i, v in enumerate(x):
            out += _leaves(v, (*path, i))
    return out


def _type_at(path: tuple) -> ty.T:
    t = RECORD_TYPE
    for step in path:
        t = (t.elem if isinstance(step, int) else t.fields.get(step)) or ty.ANY
    return t


@st.composite
def mutated(draw: st.DrawFn) -> dict:
    """A realistic record of the sample batch with a few facts removed or changed at random."""
    r = copy.deepcopy(draw(st.sampled_from(SAMPLE) | st.sampled_from(FILED)))
    for _ in range(draw(st.integers(0, 4))):
        leaves = [p for p in _leaves(r) if p[0] not in ("id", "date", "jurisdiction", "stage")]
        if not leaves:
            break
        path = draw(st.sampled_from(leaves))
        parent = r
        for step in path[:-1]:
            parent = parent[step]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            t = _type_at(path)
            if t.kind not in ("object", "list"):
                parent[path[-1]] = draw(value(t))
    r["date"] = draw(st.one_of(st.just(r["date"]), DATES))
    return r


@settings(max_examples=800, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(st.one_of(mutated(), mutated(), records(("O-1", "O-2"))), min_size=2, max_size=4))
def test_bundled_packs_agree_with_the_oracle(batch: list[dict]) -> None:
    check_batch(BUNDLED, batch, CHECKED, FILINGS)


def test_enough_records_were_checked() -> None:
    if not CHECKED:
        pytest.skip("run with the test above (in the same process)")
    assert CHECKED["records"] >= 2000
    assert all(CHECKED[o] > 100 for o in ("violation", "review", "compliant")), CHECKED
    assert CHECKED["tolerated"] > 10, CHECKED


GOOD_RESULT = load([GOOD], record_schema())
assert GOOD_RESULT.ok
GOOD_EV = Evaluator(GOOD_RESULT.program, GOOD_RESULT.params)


@settings(max_examples=200, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(records(("O-1",)), min_size=1, max_size=3))
def test_good_packs_agree_with_the_oracle(batch: list[dict]) -> None:
    check_batch(GOOD_EV, batch)
