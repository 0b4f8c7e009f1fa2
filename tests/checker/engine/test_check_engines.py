"""`qinqing check --engine duckdb`: the same report as `--engine python`, byte for byte, on the
sample batch (every input format, JSON/JSONL/text, both languages), the scenarios, malformed
input, history for windows, and records the SQL types cannot hold exactly (judged in Python);
`--explain` stays with the Python engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("duckdb")

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "fixtures" / "sample"
RECORDS = ROOT / "fixtures" / "records"
CACHE = Path(tempfile.gettempdir()) / f"qinqing-test-cache-{os.getuid()}"


def qinqing(*args: str | Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "QINQING_CACHE_DIR": str(CACHE)}
    proc = subprocess.run([sys.executable, "-m", "checker.cli", "check", *map(str, args)], check=False,
                          capture_output=True, cwd=ROOT, env=env, timeout=300, input=b"")
    assert b"Traceback" not in proc.stderr, proc.stderr.decode()
    return proc


def both(*args: str | Path) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
    py = qinqing(*args, "--engine", "python")
    sql = qinqing(*args, "--engine", "duckdb")
    return py, sql


@pytest.mark.parametrize("fmt,lang", [("json", "zh"), ("json", "en"), ("jsonl", "zh"), ("text", "en")])
def test_sample_batch_identical(fmt: str, lang: str) -> None:
    py, sql = both(SAMPLE / "batch.jsonl", "--format", fmt, "--lang", lang)
    assert py.returncode == sql.returncode == 1
    assert sql.stdout == py.stdout
    if fmt == "json":
        report = json.loads(sql.stdout)
        assert report["summary"]["records"] == 2400
        assert report["summary"]["invalid"] > 0


@pytest.mark.parametrize("name", ["batch.csv", "batch.xlsx"])
def test_other_inputs_identical(name: str) -> None:
    py, sql = both(SAMPLE / name, "--format", "json", "--fail-on", "never")
    assert py.returncode == sql.returncode == 0
    assert sql.stdout == py.stdout


def test_parquet_input_identical(tmp_path: Path) -> None:
    batch = tmp_path / "batch.parquet"
    subprocess.run([sys.executable, str(ROOT / "fixtures" / "generate_sample.py"), "-n", "300", "-o", str(batch)],
                   check=True, cwd=ROOT)
    py, sql = both(batch, "--format", "json", "--fail-on", "never")
    assert py.returncode == sql.returncode == 0
    assert sql.stdout == py.stdout
    assert json.loads(py.stdout)["summary"]["records"] == 299  # (the one line that is not JSON is no row)


def test_scenarios_and_malformed_identical() -> None:
    files = sorted((ROOT / "fixtures" / "scenarios").glob("*.yaml"))
    py, sql = both(*files, "--format", "json", "--fail-on", "never")
    assert sql.stdout == py.stdout and py.returncode == 0
    py, sql = both(RECORDS / "malformed.jsonl", "--format", "json")
    assert sql.stdout == py.stdout and py.returncode == sql.returncode == 1
    assert json.loads(sql.stdout)["summary"]["invalid"] > 0


def test_history_feeds_windows_identically() -> None:
    py, sql = both(RECORDS / "self_check_ok.yaml", "--history", RECORDS / "history_O-0042.jsonl",
                   "--format", "json")
    assert sql.stdout == py.stdout and py.returncode == sql.returncode


def test_records_past_the_sql_types_are_judged_in_python(tmp_path: Path) -> None:
    lines = (SAMPLE / "batch.jsonl").read_text(encoding="utf-8").splitlines()[:200]
    rec = json.loads(next(x for x in lines if '"meals":[{' in x))
    rec["id"] = "EXACT-1"
    rec["meals"][0]["total_cny"] = "123.4567890123456789"  # 16 places: more than DECIMAL(38, 12)
    path = tmp_path / "b.jsonl"
    path.write_text("\n".join([*lines, json.dumps(rec, ensure_ascii=False)]) + "\n", encoding="utf-8")
    py, sql = both(path, "--format", "json", "--fail-on", "never")
    assert sql.stdout == py.stdout


def test_explain_needs_the_python_engine() -> None:
    proc = qinqing(RECORDS / "planned_meal.yaml", "--engine", "duckdb", "--explain", "--lang", "en")
    assert proc.returncode == 2
    assert proc.stderr.decode().strip() == "Error: --explain needs --engine python"


def test_python_engine_imports_no_sql_backend() -> None:
    """A self-check's cold start does not pay for the SQL engines: nothing of sqlglot, duckdb
    or pyspark is imported by `check --engine python`."""
    env = {**os.environ, "QINQING_CACHE_DIR": str(CACHE)}
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "checker.cli", "check",
                           str(RECORDS / "planned_meal.yaml"), "--format", "json"], capture_output=True,
                          cwd=ROOT, env=env, timeout=120, check=False)
    assert proc.returncode in (0, 1), proc.stderr.decode()[-2000:]
    imported = proc.stderr.decode()
    for name in ("sqlglot", "duckdb", "pyspark", "policy_dsl.backends.sql"):
        assert f" {name}" not in imported, name


def test_rules_the_sql_engines_cannot_run_are_run_in_python(tmp_path: Path) -> None:
    """The rules of a record kind with a construct the SQL backend lacks (here duration
    arithmetic on date-times) leave that kind's records to the Python engine, with a note; the
    report is the Python engine's."""
    (tmp_path / "t.policy").write_text(
        'policy t.nl "测试" / "Test"\n\nforbid X1 "晚到" / "Late"\n  severity low\n  cite "t"\n'
        "  when start_at + 1 day < end_at\n", encoding="utf-8")
    args = (RECORDS / "planned_meal.yaml", "--rules", tmp_path, "--lang", "en", "--format", "json")
    duck, py = qinqing(*args, "--engine", "duckdb"), qinqing(*args)
    assert duck.stdout == py.stdout and duck.returncode == py.returncode
    assert duck.stderr.decode().splitlines()[0] == (
        "Note: the rules of interaction records cannot run on the SQL engines (interaction: duration "
        "arithmetic other than date ± duration); those 1 records are judged by the Python engine")


def test_a_lookup_by_an_element_is_judged_in_python(tmp_path: Path) -> None:
    """A lookup whose id reads a comprehension's element (here a window record) is not lowered:
    the records of its kind are judged by the Python engine."""
    (tmp_path / "t.policy").write_text(
        'policy t.nl "测试" / "Test"\n\nforbid X1 "查" / "Look"\n  severity low\n  cite "t"\n'
        "  window same official.id within 30 days\n"
        "  when some x in window: lookup(tolerance_filing, x.id).status == approved\n", encoding="utf-8")
    args = (RECORDS / "planned_meal.yaml", "--rules", tmp_path, "--lang", "en", "--format", "json")
    duck, py = qinqing(*args, "--engine", "duckdb"), qinqing(*args)
    assert duck.stdout == py.stdout and duck.returncode == py.returncode
    assert "(interaction: lookup(tolerance_filing, …) reading an element, a window or another lookup)" \
        in duck.stderr.decode()
