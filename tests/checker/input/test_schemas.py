"""Schemas from anywhere: checked at load, validated as draft 2020-12 with ECMA-262 regexes,
`date`/`date-time` asserted per RFC 3339, normalised by what the schema says."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from checker.input.schemas import SchemaError, load_schema_file
from checker.input.validate import default_validator, validator_for


def obj(props: dict, **extra: object) -> dict:
    return {"type": "object", "properties": props, **extra}


def refusal(schema: dict) -> SchemaError:
    with pytest.raises(SchemaError) as exc:
        validator_for(schema, "city.schema.json")
    return exc.value


def test_metaschema_errors_name_the_file_and_the_pointer() -> None:
    e = refusal(obj({"name": {"type": "string"}}, required="name"))
    assert (e.source, e.pointer) == ("city.schema.json", "/required")
    assert e.message("en").startswith("city.schema.json#/required: does not conform to the JSON "
                                      "Schema draft 2020-12 metaschema (type)")
    assert e.message("zh").startswith("city.schema.json#/required: 不符合 JSON Schema draft 2020-12")
    assert refusal(obj({"a": {"minLength": "3"}})).pointer == "/properties/a/minLength"


def test_remote_references_are_refused_by_name() -> None:
    e = refusal(obj({"a": {"$ref": "https://example.org/money.json#/x"}}))
    assert e.pointer == "/properties/a/$ref"
    assert "remote reference 'https://example.org/money.json#/x'" in e.message_en
    assert "不支持远程引用" in e.message_zh
    # A reference to an embedded resource is local.
    v = validator_for({"$id": "https://city.example/r.json", "$ref": "inner.json",
                       "$defs": {"i": {"$id": "inner.json", "type": "object"}}})
    assert v.validate({})[1] == [] and v.validate([]) != ([], [])


def test_other_drafts_are_refused() -> None:
    e = refusal({"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"})
    assert e.pointer == "/$schema" and "only JSON Schema draft 2020-12" in e.message_en


@pytest.mark.parametrize(("pattern", "what"), [
    ("(?i)abc", "(?i"), ("(?P<x>a)", "(?P"), ("(?<y>a)\\k<y>", "named group")])
def test_regexes_ecma_262_lacks_are_refused(pattern: str, what: str) -> None:
    e = refusal(obj({"a": {"type": "string", "pattern": pattern}}))
    assert e.pointer == "/properties/a/pattern" and what in e.message_en


def test_invalid_regexes_are_refused_by_the_metaschema() -> None:
    e = refusal(obj({"a": {"type": "string", "pattern": "a{,2}\\Z"}}))
    assert e.pointer == "/properties/a/pattern" and "regex" in e.message_en


@pytest.mark.parametrize(("pattern", "value", "valid"), [
    ("^\\d$", "\u0661", False),  # \d is ASCII
    ("^a$", "a\n", False),  # $ is the end of the string
    ("^\\S$", "\u00a0", False),  # U+00A0 is white space
    ("^.$", "\r", False), ("^.$", "\u2028", False),  # . stops at line terminators
    ("^\\w$", "é", False), ("^\\p{L}$", "é", True), ("^\\cC$", "\x03", True),
])
def test_regexes_run_with_ecma_262_semantics(pattern: str, value: str, valid: bool) -> None:
    v = validator_for(obj({"a": {"type": "string", "pattern": pattern}}))
    assert (v.validate({"a": value})[1] == []) is valid


@pytest.mark.parametrize(("text", "valid"), [
    ("1990-12-31T23:59:60Z", True), ("1990-12-31T15:59:60-08:00", True),
    ("2024-03-05t12:30:00z", True), ("2024-03-05T12:30:00.123456789+08:00", True),
    ("1990-12-31T10:00:00+10:60", False), ("1985-04-12T23:20:50+01", False),
    ("2024-03-05T12+08", False), ("20240305T123000+0800", False),
    ("2024-02-30T12:00:00Z", False), ("1998-12-31T23:58:60Z", False),
])
def test_date_time_is_rfc_3339(text: str, valid: bool) -> None:
    v = validator_for(obj({"t": {"type": "string", "format": "date-time"}}))
    out, errs = v.validate({"t": text})
    assert (errs == []) is valid, errs
    if valid:
        assert out["t"].tzinfo is not None
        if text.startswith("1990-12-31T23:59:60"):  # a leap second: just before it
            assert out["t"] == datetime(1990, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


def test_other_formats_are_annotations_unless_asserted() -> None:
    schema = obj({"m": {"type": "string", "format": "email"}, "d": {"format": "date"}})
    v = validator_for(schema)
    assert v.validate({"m": "not an address"})[1] == []
    assert [e.code for e in v.validate({"d": "2024-13-01"})[1]] == ["date"]
    strict = validator_for({**schema, "x-assert-formats": ["email"]})
    (err,) = strict.validate({"m": "not an address"})[1]
    assert (err.path, err.code) == ("$.m", "format")
    assert err.message_en == "value 'not an address' is malformed: expected the email format"


def test_normalisation_follows_the_schema_for_any_kind() -> None:
    money = {"type": ["number", "string"], "pattern": "^\\d+(\\.\\d+)?$", "x-normalise": "decimal"}
    schema = {
        "$defs": {"money": money},
        "type": "object",
        "properties": {
            "fee": {"anyOf": [{"$ref": "#/$defs/money"}, {"type": "null"}]},
            "due": {"allOf": [{"type": "string"}, {"format": "date"}]},
            "rows": {"type": "array", "prefixItems": [{"type": "integer"}],
                     "items": {"$ref": "#/$defs/money"}},
            "level": {"type": "integer", "default": 1},
            "pick": {"oneOf": [{"type": "string", "format": "date-time"},
                               {"type": "integer"}]},
        },
    }
    v = validator_for(schema)
    out, errs = v.validate({"fee": "60.005", "due": "2025-10-08", "rows": [2.0, 7, "1.10"],
                            "pick": "2025-10-01T08:00:00+08:00"})
    assert errs == []
    assert out == {"fee": Decimal("60.005"), "due": date(2025, 10, 8),
                   "rows": [2, Decimal(7), Decimal("1.10")], "level": 1,
                   "pick": datetime(2025, 10, 1, 8, tzinfo=timezone(timedelta(hours=8)))}
    assert type(out["rows"][0]) is int
    assert v.validate({"fee": None, "pick": 3})[0] == {"fee": None, "pick": 3, "level": 1}


def test_each_kind_has_its_own_validator() -> None:
    complaint = obj({"id": {"type": "string"}, "received_on": {"type": "string", "format": "date"}},
                    required=["id"], additionalProperties=False)
    v = validator_for(complaint, "complaint.schema.json")
    assert v.validate({"id": "C-1", "received_on": "2025-01-02"}) == (
        {"id": "C-1", "received_on": date(2025, 1, 2)}, [])
    (err,) = v.validate({"id": "C-1", "recieved_on": "2025-01-02"})[1]
    assert err.message_en == "unknown field 'recieved_on'; did you mean 'received_on'?"
    assert default_validator().validate({"id": "C-1"})[0] is None  # the interaction kind differs


def test_schema_files_are_checked_when_loaded(tmp_path) -> None:
    good = tmp_path / "kind.schema.json"
    good.write_text(json.dumps(obj({"a": {"type": "string"}})), encoding="utf-8")
    assert load_schema_file(good)["properties"] == {"a": {"type": "string"}}
    bad = tmp_path / "bad.schema.json"
    bad.write_text('{"type": "object", "maxLength": -1}', encoding="utf-8")
    with pytest.raises(SchemaError) as exc:
        load_schema_file(bad)
    assert exc.value.source == str(bad) and exc.value.pointer == "/maxLength"
    broken = tmp_path / "broken.schema.json"
    broken.write_text('{"type": ', encoding="utf-8")
    with pytest.raises(SchemaError, match="not valid JSON"):
        load_schema_file(broken)
