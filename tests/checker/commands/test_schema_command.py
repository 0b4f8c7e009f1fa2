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
