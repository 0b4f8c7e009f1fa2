"""Differential tests of the SQL backend (DuckDB) against the Python evaluator, which the oracle
checks (`test_differential.py`): the sample batch, and hypothesis-generated records through the
bundled packs and the good test packs, in batches (one SQL run per batch, windows shared). At
least 1,000 generated records per run."""

from __future__ import annotations

import copy
from collections import Counter

import pytest

pytest.importorskip("duckdb")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from checker.engine.sql import _subset  # noqa: E402

from .sql_backend import disagreement, python_answer, sql_answers  # noqa: E402
from .test_conformance import Window  # noqa: E402
from .test_differential import BUNDLED, GOOD_EV, SAMPLE, mutated, records  # noqa: E402


def check(ev, batch: list[dict], engine: str = "duckdb", seen: Counter | None = None) -> None:
    for i, r in enumerate(batch):
        r["id"] = f"r{i}"
    window = Window(batch, ev)
    got = sql_answers(ev, batch, engine=engine)
    problems = []
    for r in batch:
        py = python_answer(ev, r, ev.evaluate(r, window))
        why = disagreement(r["id"], py, got[r["id"]])
        if why:
            problems.append(why)
        if seen is not None:
            seen["records"] += 1
            seen.update(o for _, o, _ in py[1])
    assert not problems, f"{len(problems)} of {len(batch)} records disagree:\n" + "\n".join(problems[:10])


# The bundled program's interaction rules (the records here are interactions; the SQL engines
# run only the rules of the kinds a batch holds, and each kind's rules are judged on their own).
BUNDLED_SQL = _subset(BUNDLED, {"interaction"})


def test_the_filings_rules_are_left_to_python() -> None:
    """TF8 looks up the interactions a determination names (a lookup by a list element), which
    the SQL backend does not lower: tolerance filings are judged by the Python engine."""
    from policy_dsl.backends.sql.lower import NotLowerable
    from policy_dsl.backends.sql.run import steps_for

    with pytest.raises(NotLowerable, match=r"lookup\(interaction, …\) reading an element"):
        steps_for(_subset(BUNDLED, {"tolerance_filing"}), "duckdb")


def test_sample_batch_on_duckdb() -> None:
    check(BUNDLED_SQL, [dict(r) for r in SAMPLE])


def generated(strategy: st.SearchStrategy, examples: int) -> list[list[dict]]:
    """Batches drawn by hypothesis (small, like the oracle's differential test)."""
    out: list[list[dict]] = []

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(batch: list[dict]) -> None:
        out.append(copy.deepcopy(batch))

    collect()
    return out


def check_batches(ev, batches: list[list[dict]], engine: str = "duckdb", seen: Counter | None = None) -> None:
    """All batches in one SQL run: each batch's officials are its own (windows stay apart)."""
    flat = []
    for b, batch in enumerate(batches):
        for r in batch:
            r["official"] = {**(r.get("official") or {}), "id": f"b{b}-{(r.get('official') or {}).get('id')}"}
        flat.extend(batch)
    for i, r in enumerate(flat):
        r["id"] = f"r{i}"
    got = sql_answers(ev, flat, engine=engine)
    problems = []
    for batch in batches:
        window = Window(batch, ev)
        for r in batch:
            py = python_answer(ev, r, ev.evaluate(r, window))
            why = disagreement(r["id"], py, got[r["id"]])
            if why:
                problems.append(why)
            if seen is not None:
                seen["records"] += 1
                seen.update(o for _, o, _ in py[1])
    assert not problems, f"{len(problems)} of {len(flat)} records disagree:\n" + "\n".join(problems[:10])


BUNDLED_BATCHES = st.lists(st.one_of(mutated(), mutated(), records(("O-1", "O-2"))), min_size=2, max_size=4)


def test_bundled_packs_on_duckdb() -> None:
    seen: Counter = Counter()
    check_batches(BUNDLED_SQL, generated(BUNDLED_BATCHES, 400), seen=seen)
    assert seen["records"] >= 1000, seen
    assert all(seen[o] > 50 for o in ("violation", "review", "compliant")), seen


def test_good_packs_on_duckdb() -> None:
    check_batches(GOOD_EV, generated(st.lists(records(("O-1",)), min_size=1, max_size=3), 150))
