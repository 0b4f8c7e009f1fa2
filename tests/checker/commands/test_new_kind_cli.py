"""A city models its own kind of record from scratch, in a temporary folder, through the CLI:
its schema, a pack judging it, a table parameter from a CSV file with a calendar, and rule
tests; then `lint`, `test --coverage`, `check` (a batch mixing kinds, a lookup across kinds)
and `docs`. Also the same schema given with `--schema` instead of beside the pack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "x-record-kind": "permit_application",
    "title": "Permit application", "x-title-zh": "许可申请",
    "description": "One application for a permit.", "x-description-zh": "一件许可申请。",
    "type": "object", "required": ["record_kind", "id", "jurisdiction", "date"],
    "additionalProperties": False,
    "properties": {
        "record_kind": {"const": "permit_application", "title": "Record kind", "x-title-zh": "记录类型"},
        "id": {"type": "string", "minLength": 1, "title": "Id", "x-title-zh": "编号"},
        "jurisdiction": {"type": "string", "pattern": "^\\d{6}$", "title": "Jurisdiction", "x-title-zh": "行政区划"},
        "date": {"type": "string", "format": "date", "title": "Received on", "x-title-zh": "受理日期"},
        "matter_code": {"type": ["string", "null"], "title": "Matter code", "x-title-zh": "事项编码"},
        "decided_on": {"type": ["string", "null"], "format": "date", "title": "Decided on", "x-title-zh": "办结日期"},
        "fee_cny": {"type": ["number", "null"], "title": "Fee (CNY)", "x-title-zh": "收费（元）"},
        "filing_id": {"type": ["string", "null"], "title": "Prior filing", "x-title-zh": "事前备案编号"},
    },
}
PARAMS = """jurisdiction: "000000"
parameters:
  promised_days:
    type: table
    key: code
    columns: {code: string, days: integer}
    title: {zh: 承诺办结时限, en: Promised working days}
    values:
      - {from: 2025-01-01, csv: promised_days.csv, source: {document: 示例目录（2025）}}
  working_calendar:
    type: calendar
    values:
      - from: 2025-01-01
        until: 2026-01-01
        value: {holidays: [2025-10-01..2025-10-08], makeup_workdays: [2025-09-28, 2025-10-11]}
        source: {document: 国务院办公厅关于2025年部分节假日安排的通知（国办发明电〔2024〕12号）}
"""
PACK = """policy city.permits "许可办理时限" / "Permit deadlines"
  judges permit_application
  in force from 2025-01-01

forbid PA1 "逾期办结" / "Decided late"
  severity medium
  cite "示例办法 第3条"
  let due = add_working_days(date, row(param.promised_days, matter_code).days)
  when decided_on > due
  say "应于{due}前办结" / "Due by {due}"

forbid PA2 "收费超过100元" / "Fee over 100 CNY"
  severity low
  cite "示例办法 第4条"
  when fee_cny > 100.00
  say "收费{fee_cny}元" / "Fee {fee_cny} CNY"

forbid PA3 "备案未获批准" / "Prior filing not approved"
  severity low
  cite "示例办法 第5条"
  when filing_id is known and lookup(tolerance_filing, filing_id).status != approved
"""
TESTS = """base: base.yaml
tests:
  - name: PA1 fires on the make-up Saturday after the due day
    patch: {decided_on: 2025-10-11}
    expect: {outcome: violation, findings: [PA1], details: [{rule: PA1, message: 应于2025-10-10前办结}]}
  - name: PA1 holds on the due day
    patch: {decided_on: 2025-10-10}
    expect: {outcome: unlisted, findings: []}
  - name: PA1 is under review for a matter the catalogue lacks
    patch: {matter_code: Z-9, decided_on: 2025-10-10}
    expect: {outcome: review, findings: [PA1]}
  - name: PA2 fires one cent over
    patch: {fee_cny: 100.01}
    expect: {outcome: violation, findings: [PA2]}
  - name: PA2 not at the limit
    patch: {fee_cny: 100}
    expect: {outcome: unlisted, findings: []}
  - name: PA2 under review without a fee
    patch: {fee_cny: null}
    expect: {outcome: review, findings: [PA2]}
  - name: PA3 fires for a filing that is not approved
    patch: {filing_id: F-1}
    history:
      - {id: F-1, record: {record_kind: tolerance_filing, id: F-1, jurisdiction: "150302", date: 2025-09-01, unit: {id: U-1}, status: filed}}
    expect: {outcome: violation, findings: [PA3]}
  - name: PA3 holds for an approved filing
    patch: {filing_id: F-1}
    history:
      - {id: F-1, record: {record_kind: tolerance_filing, id: F-1, jurisdiction: "150302", date: 2025-09-01, unit: {id: U-1}, status: approved}}
    expect: {outcome: unlisted, findings: []}
  - name: PA3 under review for a filing nobody knows
    patch: {filing_id: F-404}
    expect: {outcome: review, findings: [PA3], missing: ["tolerance_filing[F-404]"]}
"""
BASE = """record_kind: permit_application
id: T
jurisdiction: "150302"
date: 2025-09-26
matter_code: A-1
decided_on: 2025-10-09
fee_cny: 50
"""


def qinqing(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "QINQING_NO_CACHE": "1"}
    return subprocess.run([sys.executable, "-m", "checker.cli", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, check=False, timeout=300)


@pytest.fixture
def city(tmp_path: Path) -> Path:
    rules = tmp_path / "rules"
    (rules / "permits" / "tests").mkdir(parents=True)
    (rules / "params").mkdir()
    (rules / "permits" / "permit_application.schema.json").write_text(
        json.dumps(SCHEMA, ensure_ascii=False, indent=1), encoding="utf-8")
    (rules / "params" / "000000.yaml").write_text(PARAMS, encoding="utf-8")
    (rules / "params" / "promised_days.csv").write_text("code,days\nA-1,5\nA-2,10\n", encoding="utf-8")
    (rules / "permits" / "permits.policy").write_text(PACK, encoding="utf-8")
    (rules / "permits" / "tests" / "permits.tests.yaml").write_text(TESTS, encoding="utf-8")
    (rules / "permits" / "tests" / "base.yaml").write_text(BASE, encoding="utf-8")
    return tmp_path


def test_lint(city: Path) -> None:
    proc = qinqing("lint", "rules", "--lang", "en", cwd=city)
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    assert proc.stdout.decode().strip().endswith("3 rules: 0 errors, 0 warnings, 0 notes")


def test_lint_reports_a_field_of_another_kind(city: Path) -> None:
    pack = city / "rules" / "permits" / "permits.policy"
    pack.write_text(PACK.replace("when fee_cny > 100.00", "when official.id is known and fee_cny > 100.00"),
                    encoding="utf-8")
    proc = qinqing("lint", "rules", "--lang", "en", cwd=city)
    assert proc.returncode == 2
    text = proc.stdout.decode()
    assert "rules/permits/permits.policy:15:8: error[E106]: unknown name `official`" in text
    assert "`official` is a field of interaction records, but this rule judges permit_application records" in text


def test_rule_tests_with_coverage(city: Path) -> None:
    proc = qinqing("test", "rules", "--coverage", "--lang", "en", cwd=city)
    out = proc.stdout.decode()
    assert proc.returncode == 0, out + proc.stderr.decode()
    assert "9 tests: 9 passed, 0 failed" in out
    for rid in ("PA1", "PA2", "PA3"):
        line = next(x for x in out.splitlines() if x.startswith(f"✓ {rid} "))
        assert line.split("  ")[1].startswith("fired 1 · not fired ") and line.endswith("· review 1"), line
    assert "rules 3/3 (100.0%)" in out
    assert "enum values 1/1 (100.0%) · threshold points 3/3 (100.0%)" in out  # through the lookup too


def test_check_a_batch_mixing_kinds(city: Path) -> None:
    batch = city / "batch.jsonl"
    rows = [
        {"record_kind": "permit_application", "id": "P1", "jurisdiction": "150302", "date": "2025-09-26",
         "matter_code": "A-1", "decided_on": "2025-10-11", "fee_cny": 120.5},
        {"record_kind": "permit_application", "id": "P2", "jurisdiction": "150302", "date": "2025-09-26",
         "matter_code": "A-1", "decided_on": "2025-10-10", "fee_cny": 20, "filing_id": "F-1"},
        {"record_kind": "permit_aplication", "id": "P3", "jurisdiction": "150302", "date": "2025-09-26"},
        {"id": "I1", "stage": "completed", "jurisdiction": "150302", "date": "2025-09-26", "official": {"id": "O-1"}},
        {"record_kind": "tolerance_filing", "id": "F-1", "jurisdiction": "150302", "date": "2025-09-01",
         "unit": {"id": "U-1", "name": "示例局"}, "status": "filed"},
    ]
    batch.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    proc = qinqing("check", "--rules", "rules", "--format", "json", "--lang", "en", "--fail-on", "never",
                   batch, cwd=city)
    assert proc.returncode == 0, proc.stderr.decode()
    report = json.loads(proc.stdout)
    by_id = {e["id"]: e for e in report["records"]}
    assert [e["id"] for e in report["records"]] == ["P1", "P2", "P3", "I1", "F-1"]
    p1 = by_id["P1"]
    assert (p1["record_kind"], p1["outcome"]) == ("permit_application", "violation")
    assert sorted((f["rule"], f["message"]) for f in p1["findings"]) == [
        ("PA1", "Due by 2025-10-10"), ("PA2", "Fee 120.5 CNY")]
    assert [(f["rule"], f["outcome"]) for f in by_id["P2"]["findings"]] == [("PA3", "violation")]
    p3 = by_id["P3"]
    assert p3["outcome"] == "invalid" and p3["errors"][0]["path"] == "$.record_kind"
    assert "did you mean 'permit_application'?" in p3["errors"][0]["message"]
    assert "record_kind" not in by_id["I1"] and by_id["I1"]["outcome"] == "unlisted"
    assert by_id["F-1"]["department"] == "示例局"
    assert report["summary"]["records"] == 5 and report["summary"]["invalid"] == 1


def test_check_finds_a_filing_in_the_history(city: Path) -> None:
    (city / "batch.jsonl").write_text(json.dumps(
        {"record_kind": "permit_application", "id": "P2", "jurisdiction": "150302", "date": "2025-09-26",
         "matter_code": "A-1", "decided_on": "2025-10-10", "filing_id": "F-9"}) + "\n", encoding="utf-8")
    (city / "history.jsonl").write_text(json.dumps(
        {"record_kind": "tolerance_filing", "id": "F-9", "jurisdiction": "150302", "date": "2025-09-01",
         "unit": {"id": "U-1"}, "status": "approved"}) + "\n", encoding="utf-8")
    alone = qinqing("check", "--rules", "rules", "--format", "json", "--lang", "en", "--fail-on", "never",
                    "batch.jsonl", cwd=city)
    entry = json.loads(alone.stdout)["records"][0]
    assert entry["outcome"] == "review"
    assert {f["rule"]: f["missing"] for f in entry["findings"]}["PA3"] == ["tolerance_filing[F-9]"]
    with_history = qinqing("check", "--rules", "rules", "--format", "json", "--lang", "en", "--fail-on",
                           "never", "--history", "history.jsonl", "batch.jsonl", cwd=city)
    entry = json.loads(with_history.stdout)["records"][0]
    assert [f["rule"] for f in entry["findings"]] == ["PA2"] and entry["outcome"] == "review"


def test_docs(city: Path) -> None:
    proc = qinqing("docs", "rules", "-o", "catalogue", "--lang", "en", cwd=city)
    assert proc.returncode == 0, proc.stderr.decode()
    md = (city / "catalogue" / "rules.md").read_text(encoding="utf-8")
    assert "- 判断的记录 / Judges: permit_application" in md
    assert "let due = add_working_days(date, row(param.promised_days, matter_code).days)" in md
    assert "| 000000 000000 | 2025-01-01 |  | code=A-1, days=5; code=A-2, days=10 | 示例目录（2025） |  |" in md
    assert (city / "catalogue" / "rules.html").exists()


def test_the_schema_given_with_schema(city: Path) -> None:
    moved = city / "S.json"
    (city / "rules" / "permits" / "permit_application.schema.json").rename(moved)
    lint = qinqing("lint", "rules", "--lang", "en", cwd=city)
    assert lint.returncode == 2 and "unknown record kind `permit_application`" in lint.stdout.decode()
    lint = qinqing("lint", "--schema", moved, "rules", "--lang", "en", cwd=city)
    assert lint.returncode == 0, lint.stdout.decode()
    (city / "batch.jsonl").write_text(json.dumps(
        {"record_kind": "permit_application", "id": "P1", "jurisdiction": "150302", "date": "2025-09-26",
         "matter_code": "A-2", "decided_on": "2025-10-17"}) + "\n", encoding="utf-8")
    proc = qinqing("check", "--rules", "rules", "--schema", moved, "--format", "json", "--lang", "en",
                   "batch.jsonl", cwd=city)
    assert proc.returncode == 1
    entry = json.loads(proc.stdout)["records"][0]
    assert entry["outcome"] == "violation"
    assert entry["findings"][0]["message"] == "Due by 2025-10-17" or entry["findings"][0]["rule"] == "PA1"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_duckdb_engine_gives_the_same_report(city: Path, lang: str) -> None:
    """The city's kind, its table, calendar and lookups on `--engine duckdb`: the same JSON
    report as `--engine python`, byte for byte (a batch mixing kinds, with a history)."""
    pytest.importorskip("duckdb")
    rows = [
        {"record_kind": "permit_application", "id": "P1", "jurisdiction": "150302", "date": "2025-09-26",
         "matter_code": "A-1", "decided_on": "2025-10-11", "fee_cny": 120.5},
        {"record_kind": "permit_application", "id": "P2", "jurisdiction": "150302", "date": "2025-09-26",
         "matter_code": "A-1", "decided_on": "2025-10-10", "fee_cny": 20, "filing_id": "F-1"},
        {"record_kind": "permit_application", "id": "P3", "jurisdiction": "150302", "date": "2025-09-26",
         "matter_code": "Z-9", "decided_on": "2025-10-10", "filing_id": "F-9"},
        {"record_kind": "permit_application", "id": "P4", "jurisdiction": "150302", "date": "2025-09-26",
         "matter_code": "A-2", "filing_id": "F-404"},
        {"id": "I1", "stage": "completed", "jurisdiction": "150302", "date": "2025-09-26", "official": {"id": "O-1"}},
        {"record_kind": "tolerance_filing", "id": "F-1", "jurisdiction": "150302", "date": "2025-09-01",
         "unit": {"id": "U-1", "name": "示例局"}, "status": "filed"},
    ]
    (city / "batch.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                      encoding="utf-8")
    (city / "history.jsonl").write_text(json.dumps(
        {"record_kind": "tolerance_filing", "id": "F-9", "jurisdiction": "150302", "date": "2025-09-01",
         "unit": {"id": "U-1"}, "status": "approved"}) + "\n", encoding="utf-8")
    args = ("check", "--rules", "rules", "--format", "json", "--lang", lang, "--fail-on", "never",
            "--history", "history.jsonl", "batch.jsonl")
    py = qinqing(*args, "--engine", "python", cwd=city)
    sql = qinqing(*args, "--engine", "duckdb", cwd=city)
    assert py.returncode == sql.returncode == 0, sql.stderr.decode()
    assert sql.stdout == py.stdout
    outcomes = {e["id"]: e["outcome"] for e in json.loads(sql.stdout)["records"]}
    assert outcomes == {"P1": "violation", "P2": "violation", "P3": "review", "P4": "review", "I1": "unlisted",
                        "F-1": "unlisted"}
