"""Differential tests of the SQL backend (DuckDB) on the constructs of record kinds: for every
conformance case whose policy judges another kind, looks records up, reads a table, a set or a
calendar, or computes a duration, one batch of the case's own records and hypothesis-generated
records made from the case's own (a few facts removed or changed; dates, jurisdictions and units
drawn from small pools so that lookups, related records and windows find each other), judged in one SQL run and
by the Python evaluator with the whole batch as its store and windows. Every record's outcome,
findings and missing facts agree; a disagreement names the case, the record and both answers."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

import pytest

pytest.importorskip("duckdb")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from checker.schema import bundled_schemas  # noqa: E402
from policy_dsl import ir  # noqa: E402
from policy_dsl import types as ty  # noqa: E402
from policy_dsl.evaluate import Evaluator  # noqa: E402
from policy_dsl.load import load  # noqa: E402
from policy_dsl.store import MemoryStore  # noqa: E402
from policy_dsl.types import record_type  # noqa: E402

from .runner import Case, load_cases, normalise, prepare  # noqa: E402
from .sql_backend import disagreement, python_answer, sql_answers  # noqa: E402
from .test_conformance import Window  # noqa: E402
from .test_differential import JURISDICTIONS, value  # noqa: E402

FILES = ("kinds", "lookups", "tables", "working_days", "durations", "let")
CASES = [c for c in load_cases() if Path(c.file).stem in FILES]
IDS = ["91150300MA0N000000", "O-1", "WH-2024001", "F-1", "U-1", "U-7"]
DATES = st.dates(dt.date(2024, 1, 1), dt.date(2026, 2, 28))
PER_CASE = 60


def _leaves(x: object, path: tuple = ()) -> list[tuple]:
    out = [path] if path else []
    if isinstance(x, dict):
        for k, v in x.items():
            out += _leaves(v, (*path, k))
    elif isinstance(x, list):
        for i, v in enumerate(x):
            out += _leaves(v, (*path, i))
    return out


def _type_at(t, path: tuple):
    for step in path:
        t = (t.elem if isinstance(step, int) else t.fields.get(step)) or ty.ANY
    return t


def generated(seeds: list[dict], schemas: dict, n: int) -> list[dict]:
    """`n` records made from the case's own (typed) records by hypothesis: a few facts removed
    or given another value of their type, the date, jurisdiction and unit drawn from small pools."""
    out: list[dict] = []

    @st.composite
    def one(draw: st.DrawFn) -> dict:
        r = copy.deepcopy(draw(st.sampled_from(seeds)))
        rtype = record_type(schemas[r.get("record_kind") or ir.DEFAULT_KIND])
        for _ in range(draw(st.integers(0, 3))):
            leaves = [p for p in _leaves(r) if p[0] not in ("id", "record_kind", "jurisdiction", "date")]
            if not leaves:
                break
            path = draw(st.sampled_from(leaves))
            parent = r
            for step in path[:-1]:
                parent = parent[step]
            t = _type_at(rtype, path)
            if draw(st.booleans()) and isinstance(parent, dict):
                del parent[path[-1]]
            elif t.kind not in ("object", "list"):
                parent[path[-1]] = draw(value(t).filter(lambda x: x is not None))
        if draw(st.booleans()):
            r["date"] = draw(DATES)
        if draw(st.integers(0, 3)) == 0:
            r["jurisdiction"] = draw(JURISDICTIONS)
        if isinstance(r.get("unit"), dict) and draw(st.booleans()):
            r["unit"] = {**r["unit"], "id": draw(st.sampled_from(["U-1", "U-7", "U-8"]))}
        return r

    @settings(max_examples=1, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.lists(one(), min_size=n, max_size=n))
    def collect(batch: list[dict]) -> None:
        out.extend(copy.deepcopy(batch))

    collect()
    return out


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_case_with_generated_records_on_duckdb(case: Case, tmp_path: Path) -> None:
    result = load([prepare(case, tmp_path)], bundled_schemas())
    assert result.ok
    program = result.program
    schemas = program.schemas

    def typed(rec: dict) -> dict:
        return normalise(rec, record_type(schemas[rec.get("record_kind") or ir.DEFAULT_KIND]))

    own = [typed(r) for r in case.records]
    history = [typed(r) for r in case.history]
    extra = generated(own + history, schemas, PER_CASE)
    used = {r["id"] for r in own} | {r["id"] for r in history}
    pool = [i for i in IDS if i not in used]
    for i, r in enumerate(extra):
        r["id"] = pool[i] if i < len(pool) else f"g{i}"
    batch = own + extra
    ev = Evaluator(program, result.params)
    window = Window(batch, ev)
    store = MemoryStore(history + batch)
    got = sql_answers(ev, batch, history)
    problems = []
    for r in batch:
        why = disagreement(r["id"], python_answer(ev, r, ev.evaluate(r, window, store=store)), got[r["id"]])
        if why:
            problems.append(why)
    assert not problems, f"{case.name}: {len(problems)} of {len(batch)} records disagree:\n" + "\n".join(problems[:10])


def test_enough_cases() -> None:
    assert len(CASES) >= 20
    assert len(CASES) * PER_CASE >= 1000
