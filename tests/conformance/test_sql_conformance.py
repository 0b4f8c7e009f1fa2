"""Every conformance case on the SQL backend (DuckDB): each record's outcome, findings (in report
order) and missing facts equal the Python evaluator's, which the oracle checks
(`test_conformance.py`); the cases' own expectations (`want`) hold too."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("duckdb")
pytest.importorskip("sqlglot")

from checker.schema import bundled_schemas  # noqa: E402
from policy_dsl.errors import render_all  # noqa: E402
from policy_dsl.evaluate import Evaluator  # noqa: E402
from policy_dsl.load import load  # noqa: E402
from policy_dsl.store import MemoryStore  # noqa: E402
from policy_dsl.types import record_type  # noqa: E402

from .runner import Case, load_cases, normalise, prepare  # noqa: E402
from .sql_backend import disagreement, python_answer, sql_answers  # noqa: E402
from .test_conformance import Window  # noqa: E402

CASES = load_cases()


def run_case(case: Case, folder: Path, engine: str = "duckdb") -> None:
    result = load([prepare(case, folder)], bundled_schemas())
    assert result.ok, render_all(result.errors, result.sources)
    schemas = result.program.schemas
    records = [normalise(rec, record_type(schemas[rec.get("record_kind") or "interaction"]))
               for rec in case.records]
    history = [normalise(rec, record_type(schemas[rec.get("record_kind") or "interaction"]))
               for rec in case.history]
    ev = Evaluator(result.program, result.params)
    window = Window(records, ev)
    store = MemoryStore(history + records)
    got = sql_answers(ev, records, history, engine=engine)
    problems = []
    for r in records:
        py = python_answer(ev, r, ev.evaluate(r, window, store=store))
        why = disagreement(r["id"], py, got[r["id"]])
        if why:
            problems.append(why)
        want = case.want.get(r["id"])
        if want is not None:
            outcome, found = got[r["id"]]
            assert (outcome, sorted(f"{k} {o}" for k, o, _ in found)) == (
                want["outcome"], sorted(want.get("findings", []))), r["id"]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_case_on_duckdb(case: Case, tmp_path: Path) -> None:
    run_case(case, tmp_path)
