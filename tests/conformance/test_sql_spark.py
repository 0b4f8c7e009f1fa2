"""The SQL backend on Spark (local mode; pyspark and a Java runtime needed, else skipped): the
conformance cases, part of the sample batch and hypothesis-generated records agree with the
Python evaluator, as on DuckDB (`test_sql_conformance.py`, `test_sql_differential.py`).

Spark plans each query for seconds, so a default run takes the first case of each conformance
file (every file's topic) and fewer records; `QINQING_SPARK_ALL=1` runs every case."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

pytest.importorskip("pyspark")
if shutil.which("java") is None:
    pytest.skip("no Java runtime", allow_module_level=True)

from hypothesis import strategies as st  # noqa: E402

from checker.engine.sql import rules_subset  # noqa: E402

from .runner import Case, load_cases  # noqa: E402
from .test_differential import SAMPLE, mutated, records  # noqa: E402
from .test_sql_conformance import run_case  # noqa: E402
from .test_sql_differential import BUNDLED_SQL, check, check_batches, generated  # noqa: E402

ALL = load_cases()
CASES = ALL if os.environ.get("QINQING_SPARK_ALL") else [c for c in ALL if c.index == 0]
BATCHES = 40 if os.environ.get("QINQING_SPARK_ALL") else 4  # generated batches (Spark plans each for seconds)


@pytest.fixture(scope="module", autouse=True)
def spark_session():
    from policy_dsl.backends.sql import spark
    spark.session("local[1]")
    yield
    spark.stop_all()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_case_on_spark(case: Case, tmp_path: Path) -> None:
    run_case(case, tmp_path, engine="spark")


def _meals_and_gifts(ev):
    """The bundled interaction rules on meals and gifts (with B11's window and their plan
    variants): Spark plans the whole program step by step for about ten minutes per batch, so a
    default run checks these; `QINQING_SPARK_ALL=1` checks every rule (DuckDB always does)."""
    if os.environ.get("QINQING_SPARK_ALL"):
        return ev
    return rules_subset(ev, lambda r: r.id.split(".")[0] in MEALS_AND_GIFTS, "meals-and-gifts")


MEALS_AND_GIFTS = {"B1", "B2", "B3", "B4", "B5", "B7", "B11", "N1", "N2", "N3", "G1"}


def test_sample_batch_and_generated_records_on_spark() -> None:
    ev = _meals_and_gifts(BUNDLED_SQL)
    assert {r.id for pk in ev.program.packs for r in pk.rules} >= {"B1", "B4.plan", "B11", "N1"}
    check(ev, [dict(r) for r in SAMPLE[:150]], engine="spark")
    batches = generated(st.lists(st.one_of(mutated(), records(("O-1", "O-2"))), min_size=2, max_size=4), BATCHES)
    check_batches(ev, batches, engine="spark")
