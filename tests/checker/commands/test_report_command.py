"""Findings as data: `check --format parquet` writes the findings and records tables (the same
bytes from either engine), `qinqing report` renders every format from them exactly as `check`
would, `--detail failing` leaves compliant findings unrendered, and bad inputs get one-line
errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

duckdb = pytest.importorskip("duckdb")

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "fixtures" / "sample" / "batch.jsonl"
MINI = Path(__file__).parents[1] / "data" / "minipolicy"
CACHE = Path(tempfile.gettempdir()) / f"qinqing-test-cache-{os.getuid()}"


def qinqing(*args: str | Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "QINQING_CACHE_DIR": str(CACHE)}
    proc = subprocess.run([sys.executable, "-m", "checker.cli", *map(str, args)], check=False, capture_output=True,
                          cwd=ROOT, env=env, timeout=300, input=b"")
    assert b"Traceback" not in proc.stderr, proc.stderr.decode()
    return proc


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tables")
    out = folder / "findings.parquet"
    proc = qinqing("check", SAMPLE, "--engine", "duckdb", "--format", "parquet", "-o", out)
    assert proc.returncode == 1  # the batch has violations and invalid records
    return out


def test_the_two_tables(tables: Path) -> None:
    records = tables.with_name("findings.records.parquet")
    assert records.is_file()
    con = duckdb.connect()
    n, invalid = con.execute("SELECT count(*), count(*) FILTER (WHERE outcome = 'invalid') FROM read_parquet($p)",
                             {"p": str(records)}).fetchone()
    assert n == 2400 and invalid > 0
    cols = [c[0] for c in con.execute("SELECT * FROM read_parquet($p) LIMIT 0", {"p": str(tables)}).description]
    for c in ("seq", "record_id", "rule", "element", "kind", "outcome", "severity", "evidence", "missing"):
        assert c in cols
    kinds = dict(con.execute("SELECT outcome, count(*) FROM read_parquet($p) GROUP BY 1", {"p": str(tables)}).fetchall())
    assert kinds["compliant"] > 0 and kinds["violation"] > 0 and kinds["review"] > 0
    params = json.loads(con.execute("SELECT params FROM read_parquet($p) WHERE outcome <> 'invalid' LIMIT 1",
                                    {"p": str(records)}).fetchone()[0])
    assert params["meal_cap_per_person_cny"].startswith("000000@") or "@" in params["meal_cap_per_person_cny"]


def test_python_engine_writes_the_same_tables(tables: Path, tmp_path: Path) -> None:
    out = tmp_path / "py.parquet"
    qinqing("check", SAMPLE, "--format", "parquet", "-o", out)
    assert out.read_bytes() == tables.read_bytes()
    assert (tmp_path / "py.records.parquet").read_bytes() == tables.with_name("findings.records.parquet").read_bytes()


@pytest.mark.parametrize("fmt", ["json", "html", "xlsx", "text", "csv"])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_report_equals_check(tables: Path, fmt: str, lang: str) -> None:
    rep = qinqing("report", tables, "--format", fmt, "--lang", lang)
    chk = qinqing("check", SAMPLE, "--format", fmt, "--lang", lang)
    assert rep.returncode == 0
    assert rep.stdout == chk.stdout


def test_report_of_other_kinds_equals_check(tmp_path: Path) -> None:
    """Records of other kinds (their `record_kind`, their unit as the department) and the
    history they look up read the same from the tables as from `check`."""
    kinds = ROOT / "fixtures" / "kinds"
    inputs = [kinds / "complaint.jsonl", kinds / "unit_rating.jsonl", kinds / "tolerance_filing.jsonl"]
    out = tmp_path / "kinds.parquet"
    qinqing("check", *inputs, "--format", "parquet", "-o", out)
    rep = qinqing("report", out, "--format", "json", "--lang", "en")
    chk = qinqing("check", *inputs, "--format", "json", "--lang", "en")
    assert rep.returncode == 0 and rep.stdout == chk.stdout
    assert b'"record_kind": "complaint"' in rep.stdout


def test_detail_failing(tables: Path) -> None:
    full = json.loads(qinqing("report", tables, "--format", "json").stdout)
    lean = json.loads(qinqing("report", tables, "--format", "json", "--detail", "failing").stdout)
    assert full["summary"] == lean["summary"]
    for a, b in zip(full["records"], lean["records"]):
        for fa, fb in zip(a["findings"], b["findings"]):
            if fa["outcome"] == "compliant":
                assert (fb["rule"], fb["outcome"], fb["message"], fb["title"]) == (fa["rule"], "compliant", "", "")
            else:
                assert fb == fa


def test_report_errors(tables: Path, tmp_path: Path) -> None:
    proc = qinqing("report", tmp_path / "none.parquet", "--lang", "en")
    assert proc.returncode == 2
    assert proc.stderr.decode().startswith("Error: cannot find the findings table")
    proc = qinqing("report", tables, "--rules", MINI, "--lang", "en")
    assert proc.returncode == 2
    assert "content hash" in proc.stderr.decode()


def test_parquet_needs_a_file() -> None:
    proc = qinqing("check", SAMPLE, "--format", "parquet", "--lang", "en")
    assert proc.returncode == 2
    assert proc.stderr.decode().strip() == "Error: --format parquet needs an output file (-o)"
