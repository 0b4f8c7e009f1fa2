"""Parquet in: each row read as the JSON record it stands for (types, NULLs, bad rows, limits)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from checker.input.records import InputError, detect_format, iter_records

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "fixtures" / "sample" / "batch.jsonl"


def parquet(tmp_path: Path, select: str, name: str = "t.parquet") -> Path:
    path = tmp_path / name
    con = duckdb.connect()
    con.execute(f"COPY ({select}) TO '{path}' (FORMAT parquet)")
    con.close()
    return path


BASE = ("SELECT 'R-1' AS id, 'completed' AS stage, '150300' AS jurisdiction, DATE '2024-03-05' AS date, "
        "{'id': 'O-1', 'name': NULL} AS official")


def test_a_parquet_row_reads_as_its_json_record(tmp_path: Path) -> None:
    path = parquet(tmp_path, BASE + ", [{'type': 'lunch', 'total_cny': 2.50::DECIMAL(10, 2), 'diners': 2, "
                   "'official_paid_cny': 0.0::DOUBLE}] AS meals, "
                   "TIMESTAMPTZ '2024-03-05 01:30:00+00' AS start_at, TIMESTAMP '2024-03-05 12:00:00' AS end_at")
    (r,) = list(iter_records([path]))
    assert r.errors == [] and r.location == f"{path}:1" and r.line == 1
    d = r.data
    assert d["official"]["id"] == "O-1" and d["official"].get("name") is None  # NULL: absent
    meal = d["meals"][0]
    assert meal["total_cny"] == Decimal("2.50")  # (as the JSON number 2.50 reads)
    assert meal["official_paid_cny"] == Decimal("0")
    # an instant keeps its instant, shown at +08:00; a time without a zone is read at +08:00
    assert d["start_at"].isoformat() == "2024-03-05T09:30:00+08:00"
    assert d["end_at"].isoformat() == "2024-03-05T12:00:00+08:00"


def test_a_null_field_is_absent_and_a_required_one_is_named(tmp_path: Path) -> None:
    path = parquet(tmp_path, "SELECT * FROM (" + BASE + ") UNION ALL "
                   "SELECT 'R-2', 'completed', NULL, DATE '2024-03-05', {'id': 'O-1', 'name': NULL}")
    first, second = iter_records([path])
    assert first.data is not None
    assert second.data is None and second.location == f"{path}:2"
    assert any(e.path == "$" and "jurisdiction" in e.message("en") for e in second.errors) or \
        any("jurisdiction" in e.path for e in second.errors)


def test_a_column_json_cannot_hold_is_refused_naming_it(tmp_path: Path) -> None:
    path = parquet(tmp_path, BASE + ", '\\xAA'::BLOB AS note")
    with pytest.raises(InputError) as exc:
        list(iter_records([path]))
    assert "column note" in exc.value.message("en") and "BLOB" in exc.value.message("en")


def test_nan_and_list_nulls_are_left_for_the_validator_to_name(tmp_path: Path) -> None:
    path = parquet(tmp_path, "SELECT * FROM (" + BASE + ", [{'type': 'lunch', 'total_cny': 'nan'::DOUBLE}] AS meals) "
                   "UNION ALL SELECT 'R-2', 'completed', '150300', DATE '2024-03-05', {'id': 'O-1', 'name': NULL}, "
                   "[NULL, {'type': 'lunch', 'total_cny': 10.0::DOUBLE}]")
    first, second = iter_records([path])
    assert first.data is None and any("meals[0].total_cny" in e.path for e in first.errors)
    assert second.data is None and any("meals[0]" in e.path for e in second.errors)


def test_not_parquet_and_stdin_are_refused_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "x.parquet"
    bad.write_text('{"id": "R-1"}\n')
    with pytest.raises(InputError) as exc:
        list(iter_records([bad]))
    assert str(bad) in exc.value.message("en") and "Parquet" in exc.value.message("en")
    with pytest.raises(InputError) as exc:
        list(iter_records(["-"], input_format="parquet"))
    assert "standard input" in exc.value.message("en")
    # a Parquet file under a JSONL name is told apart
    real = parquet(tmp_path, BASE, "y.jsonl")
    with pytest.raises(InputError) as exc:
        list(iter_records([real]))
    assert "--input-format parquet" in exc.value.message("en")
    assert detect_format("a.parquet") == "parquet"


def _as_parquet_holds(x: object) -> object:
    """A JSON record as the generator's Parquet holds it: explicit nulls left out, and money
    written as text (`"182.00"`, one record in ten) a number, as the generator writes it there."""
    if isinstance(x, dict):
        return {k: _as_parquet_holds(v) for k, v in x.items() if v is not None}
    if isinstance(x, list):
        return [_as_parquet_holds(v) for v in x]
    if isinstance(x, str) and re.fullmatch(r"-?[0-9]+\.[0-9]+", x):
        return float(x)
    if isinstance(x, Decimal):
        return float(x)
    return x


def test_the_sample_batch_as_parquet_checks_as_the_jsonl(tmp_path: Path) -> None:
    """The generator's Parquet of the sample batch (its JSON lines as rows) gives the same
    report entries as the JSONL as the Parquet holds it (explicit nulls left out: Parquet has no
    other way to say "absent"), but for where each record was read."""
    gen = [sys.executable, str(ROOT / "fixtures" / "generate_sample.py"), "-n", "300", "-o"]
    out, lines = tmp_path / "b.parquet", tmp_path / "b.jsonl"
    subprocess.run([*gen, str(out)], check=True, cwd=ROOT)
    subprocess.run([*gen, str(lines)], check=True, cwd=ROOT)
    stripped = tmp_path / "stripped.jsonl"
    with lines.open(encoding="utf-8") as src, stripped.open("w", encoding="utf-8") as dst:
        for line in src:
            try:
                rec = json.loads(line, parse_float=Decimal)
            except json.JSONDecodeError:
                continue  # (not JSON: not a Parquet row either)
            dst.write(json.dumps(_as_parquet_holds(rec), ensure_ascii=False, default=str) + "\n")

    def entries(path: Path) -> dict[str, dict]:
        res = subprocess.run([sys.executable, "-m", "checker.cli", "check", str(path), "--format", "json",
                              "--fail-on", "never", "--lang", "en"], capture_output=True, check=True, cwd=ROOT)
        return {e["id"]: {k: v for k, v in e.items() if k not in ("source", "errors")}
                for e in json.loads(res.stdout)["records"]}

    a, b = entries(stripped), entries(out)
    assert len(b) == len(a) >= 290
    assert a == b
