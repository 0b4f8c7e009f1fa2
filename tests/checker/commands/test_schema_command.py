"""`qinqing schema` prints the record schema as UTF-8 JSON."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from checker.cli import _register_all, app
from checker.input.validate import load_schema


def test_schema_command_prints_the_schema() -> None:
    _register_all()
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == load_schema()
    assert '"x-title-zh": "政商交往记录"' in result.stdout  # not \u-escaped
    assert result.stdout.startswith(
        '{\n  "$schema": "https://json-schema.org/draft/2020-12/schema",\n'
    )
    assert result.stdout.endswith("}\n")


def test_schema_command_is_listed_in_help() -> None:
    _register_all()
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "schema" in result.stdout


def test_schema_of_a_kind_and_the_list(tmp_path) -> None:
    _register_all()
    runner = CliRunner()
    result = runner.invoke(app, ["schema", "complaint"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["x-record-kind"] == "complaint"
    listed = runner.invoke(app, ["schema", "--list", "--lang", "en"])
    assert listed.exit_code == 0
    lines = listed.stdout.splitlines()
    assert lines[0] == "kind\ttitle\tfields\tsource"
    assert [line.split("\t")[0] for line in lines[1:]] == [
        "interaction", "tolerance_filing", "complaint", "unit_rating", "licensing_matter", "problem_item"]
    assert lines[3].startswith("complaint\tComplaint or lead\t") and lines[3].endswith("\tbundled")
    wrong = runner.invoke(app, ["schema", "complaints", "--lang", "en"])
    assert wrong.exit_code == 2
    assert "unknown record kind `complaints`; did you mean `complaint`?" in wrong.output


def test_schema_given_with_schema_and_beside_packs(tmp_path) -> None:
    _register_all()
    own = {"type": "object", "x-record-kind": "permit_application", "title": "Permit application",
           "x-title-zh": "许可申请", "properties": {"id": {"type": "string"}}}
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "permit_application.schema.json").write_text(json.dumps(own), encoding="utf-8")
    other = tmp_path / "S.json"
    other.write_text(json.dumps({**own, "x-record-kind": "hall_visit", "title": "Hall visit"}), encoding="utf-8")
    result = CliRunner().invoke(app, ["schema", "--list", "--lang", "en", "--rules", str(tmp_path / "rules"),
                                      "--schema", str(other)])
    assert result.exit_code == 0, result.output
    assert "permit_application\tPermit application\t1\tpack" in result.stdout
    assert "hall_visit\tHall visit\t1\t--schema" in result.stdout
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": "object", "properties": {"a": {"type": "strin"}}}', encoding="utf-8")
    refused = CliRunner().invoke(app, ["schema", "--list", "--schema", str(bad), "--lang", "en"])
    assert refused.exit_code == 2
    assert "unusable record schema" in refused.output
