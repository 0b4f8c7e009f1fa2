"""Records of several kinds in one input: each validated against its kind's schema
(`checker.input.kinds.KindValidator`), through every loader and the JSONL fast path."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

from checker.input.kinds import KindValidator, exact_numbers, kind_validator
from checker.input.records import iter_records
from checker.input.validate import default_validator
from checker.schema import bundled_schemas, record_schema

INTERACTION = {"id": "I1", "stage": "completed", "jurisdiction": "150302", "date": "2025-09-26",
               "official": {"id": "O-1"}}
COMPLAINT = {"record_kind": "complaint", "id": "C1", "jurisdiction": "150302", "date": "2025-09-26",
             "handling": {"deadline_working_days": 5, "closed_on": "2025-10-11"}}


def test_only_interactions_keep_the_shared_validator() -> None:
    assert kind_validator({"interaction": record_schema()}) is default_validator()
    assert isinstance(kind_validator(bundled_schemas()), KindValidator)


def test_each_record_against_its_kind() -> None:
    v = KindValidator(bundled_schemas())
    data, errors = v.validate(COMPLAINT)
    assert errors == [] and data["handling"]["closed_on"] == dt.date(2025, 10, 11)
    data, errors = v.validate(INTERACTION)
    assert errors == [] and data["official"]["id"] == "O-1"
    _, errors = v.validate({**COMPLAINT, "official": {"id": "O-1"}})  # a field of another kind
    assert [e.path for e in errors] == ["$.official"]
    _, errors = v.validate({**INTERACTION, "record_kind": "complaint"})
    assert "$.stage" in {e.path for e in errors}  # judged as a complaint: it has no stage
    _, errors = v.validate({**COMPLAINT, "record_kind": "complain"})
    assert [(e.path, e.code) for e in errors] == [("$.record_kind", "enum")]
    assert errors[0].message("en").startswith("unknown record kind 'complain'; did you mean 'complaint'?")
    assert "是否为 'complaint'？" in errors[0].message("zh")
    _, errors = v.validate({**COMPLAINT, "record_kind": 7})
    assert errors[0].message("en").startswith("unknown record kind '…'")


def test_a_jsonl_batch_mixing_kinds_takes_the_fast_path_for_interactions(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text(json.dumps(INTERACTION) + "\n" + json.dumps(COMPLAINT) + "\n", encoding="utf-8")
    items = list(iter_records([path], validator=kind_validator(bundled_schemas())))
    assert [(i.record_id, i.valid) for i in items] == [("I1", True), ("C1", True)]
    assert items[0]._text is not None  # decoded by the fast path (it keeps the line)
    assert items[1]._text is None  # declined by it, validated as a complaint
    assert items[1].data["record_kind"] == "complaint"


def test_a_csv_mixing_kinds_types_each_column(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_text("record_kind,id,jurisdiction,date,stage,official.id,handling.deadline_working_days\n"
                    ",I1,150302,2025-09-26,completed,O-1,\n"
                    "complaint,C1,150302,2025-09-26,,,5\n", encoding="utf-8")
    items = list(iter_records([path], validator=kind_validator(bundled_schemas())))
    assert [(i.record_id, i.valid, [e.path for e in i.errors]) for i in items] == [
        ("I1", True, []), ("C1", True, [])]
    assert items[1].data["handling"]["deadline_working_days"] == 5


def test_plain_numbers_of_a_packs_own_schema_are_exact() -> None:
    own = {"type": "object", "x-record-kind": "permit_application",
           "properties": {"record_kind": {"const": "permit_application"}, "fee_cny": {"type": ["number", "null"]},
                          "n": {"type": "integer"}, "tags": {"type": "array", "items": {"type": "number"}}}}
    marked = exact_numbers(own)
    assert marked["properties"]["fee_cny"]["x-normalise"] == "decimal"
    assert "x-normalise" not in marked["properties"]["n"] and "x-normalise" not in own["properties"]["fee_cny"]
    assert exact_numbers(record_schema()) is record_schema()  # nothing to mark
    v = KindValidator({**bundled_schemas(), "permit_application": own})
    data, errors = v.validate({"record_kind": "permit_application", "fee_cny": 0.1, "tags": [0.2]})
    assert errors == [] and data["fee_cny"] == Decimal("0.1") and data["tags"] == [Decimal("0.2")]
