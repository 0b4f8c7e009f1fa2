"""docs/records.md: its field reference is the one generated from the bundled schemas now."""

from __future__ import annotations

from pathlib import Path

from checker.schema import KINDS, kind_schema
from checker.schema.reference import BEGIN, END, reference, splice

DOC = Path(__file__).resolve().parents[2] / "docs" / "records.md"


def test_the_field_reference_is_current() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert splice(text) == text, "docs/records.md is stale: run `python -m checker.schema.reference`"


def test_every_field_of_every_kind_is_listed() -> None:
    block = reference()
    assert block.startswith(BEGIN) and block.endswith(END)
    for kind in KINDS:
        schema = kind_schema(kind)
        assert f"### `{kind}`" in block
        for name in schema["properties"]:
            assert f"| `{name}` |" in block, (kind, name)
    assert "| `handling.deadline_working_days` | integer |" in block
    assert "| `measures[].kind` | enum |" in block
    assert "`reminder_talk` 提醒谈话" in block
    assert "| `unit` | object | ✓ |" in block  # required for a problem item


def test_the_validation_section_is_kept() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert "## Validation" in text and text.index("## Validation") > text.index(END)
