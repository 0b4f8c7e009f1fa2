"""The SQL backend on Spark (local mode; pyspark and a Java runtime needed, else skipped): every
conformance case, the sample batch and hypothesis-generated records agree with the Python
evaluator, as on DuckDB (`test_sql_conformance.py`, `test_sql_differential.py`)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("pyspark")
if shutil.which("java") is None:
    pytest.skip("no Java runtime", allow_module_level=True)

from hypothesis import strategies as st  # noqa: E402

from .runner import Case, load_cases  # noqa: E402
from .test_differential import BUNDLED, SAMPLE, mutated, records  # noqa: E402
from .test_sql_conformance import run_case  # noqa: E402
from .test_sql_differential import check, check_batches, generated  # noqa: E402

CASES = load_cases()


@pytest.fixture(scope="module", autouse=True)
def spark_session():
    from policy_dsl.backends.sql import spark
    spark.session("local[2]")
    yield
    spark.stop_all()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_case_on_spark(case: Case, tmp_path: Path) -> None:
    run_case(case, tmp_path, engine="spark")


def test_sample_batch_and_generated_records_on_spark() -> None:
    check(BUNDLED, [dict(r) for r in SAMPLE[:300]], engine="spark")
    batches = generated(st.lists(st.one_of(mutated(), records(("O-1", "O-2"))), min_size=2, max_size=4), 60)
    check_batches(BUNDLED, batches, engine="spark")
