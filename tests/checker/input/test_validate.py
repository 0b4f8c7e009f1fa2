"""The record schema and the fast validator/normaliser."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checker.input.validate import (
    RecordError,
    SchemaCompileError,
    compile_validator,
    default_validator,
    load_schema,
    render_path,
)

DATA = Path(__file__).parents[1] / "data"
EXAMPLE = json.loads((DATA / "example_record.json").read_text(encoding="utf-8"))
MINIMAL = {
    "id": "R-1",
    "stage": "planned",
    "jurisdiction": "150300",
    "date": "2024-03-05",
    "official": {"id": "O-1"},
}
SCHEMA = load_schema()
V = default_validator()
REFERENCE = jsonschema.Draft202012Validator(
    SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)


def errors_of(**changes: Any) -> list[tuple[str, str, str, str]]:
    rec = copy.deepcopy(MINIMAL)
    rec.update(changes)
    out, errs = V.validate(rec)
    assert out is None
    return [(e.path, e.code, e.message_zh, e.message_en) for e in errs]


# ---------------------------------------------------------------- the schema


def test_schema_is_valid_draft_2020_12_with_the_agreed_id() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$id"] == "https://qinqing.example/schema/record.schema.json"
    assert set(SCHEMA["$defs"]) >= {"money", "date", "datetime", "uscc", "jurisdiction"}
    assert SCHEMA["required"] == ["id", "stage", "jurisdiction", "date", "official"]
    assert SCHEMA["properties"]["official"]["required"] == ["id"]


def _properties(node: dict, path: str = "$"):
    for name, prop in (node.get("properties") or {}).items():
        yield f"{path}.{name}", prop
        yield from _properties(prop, f"{path}.{name}")
        items = prop.get("items")
        if isinstance(items, dict):
            yield from _properties(items, f"{path}.{name}[]")


def test_every_property_is_labelled_in_both_languages() -> None:
    count = 0
    for path, prop in _properties(SCHEMA):
        count += 1
        for key in ("title", "description", "x-title-zh", "x-description-zh"):
            assert prop.get(key), f"{path} lacks {key}"
        enum = prop.get("enum") or (prop.get("items") or {}).get("enum")
        if enum is not None:
            labels = prop.get("x-enum-labels")
            assert labels, f"{path} lacks x-enum-labels"
            assert set(labels) == {e for e in enum if e is not None}, path
            for value, label in labels.items():
                assert label["zh"] and label["en"], f"{path} {value}"
    assert count > 100


def test_objects_are_closed_and_only_the_top_level_takes_extensions() -> None:
    assert SCHEMA["patternProperties"] == {"^x_": {}}
    for path, prop in _properties(SCHEMA):
        if "properties" in prop:
            assert prop["additionalProperties"] is False, path
            assert "patternProperties" not in prop, path


def test_money_date_and_datetime_fields_use_the_shared_definitions() -> None:
    refs = {}
    for path, prop in _properties(SCHEMA):
        for branch in prop.get("anyOf", []):
            if "$ref" in branch:
                refs[path] = branch["$ref"]
    assert refs["$.meals[].total_cny"] == "#/$defs/money"
    assert refs["$.meals[].itemised_per_person_cny"] == "#/$defs/money"
    assert refs["$.gifts[].received_on"] == "#/$defs/date"
    assert refs["$.start_at"] == "#/$defs/datetime"
    assert refs["$.enterprise.uscc"] == "#/$defs/uscc"
    assert refs["$.venue.city"] == "#/$defs/jurisdiction"


def test_the_contract_example_is_valid_for_both_validators() -> None:
    assert REFERENCE.is_valid(EXAMPLE)
    out, errs = V.validate(EXAMPLE)
    assert errs == []
    assert out is not None


# ---------------------------------------------------------------- normalisation


def test_normalised_types() -> None:
    out, _ = V.validate(EXAMPLE)
    assert out is not None
    assert out["date"] == date(2024, 3, 5)
    assert out["start_at"] == datetime(2024, 3, 5, 11, 30, tzinfo=timezone(timedelta(hours=8)))
    assert out["start_at"].tzinfo is not None
    meal = out["meals"][0]
    assert meal["total_cny"] == Decimal("75.0") and isinstance(meal["total_cny"], Decimal)
    assert meal["diners"] == 5
    assert meal["guests"] is None
    assert out["gifts"][0]["value_cny"] == Decimal(150)
    assert out["enterprise"]["pending_matters"][0]["end_date"] is None
    assert out["official"]["name"] == "张三"


def test_money_keeps_exact_decimal_values() -> None:
    rec = copy.deepcopy(MINIMAL)
    rec["meals"] = [
        {"total_cny": 60.005, "official_paid_cny": "60.005", "itemised_per_person_cny": 7},
        {"total_cny": 0.1, "official_paid_cny": "0.10"},
    ]
    out, errs = V.validate(rec)
    assert errs == []
    assert out is not None
    first, second = out["meals"]
    assert str(first["total_cny"]) == "60.005"
    assert str(first["official_paid_cny"]) == "60.005"
    assert str(first["itemised_per_person_cny"]) == "7"
    assert str(second["total_cny"]) == "0.1"
    assert str(second["official_paid_cny"]) == "0.10"


def test_utc_z_and_integral_floats() -> None:
    rec = copy.deepcopy(MINIMAL)
    rec["start_at"] = "2024-03-05T04:30:00Z"
    rec["participants"] = {"officials": 2.0}
    out, errs = V.validate(rec)
    assert errs == [] and out is not None
    assert out["start_at"].utcoffset() == timedelta(0)
    assert out["participants"]["officials"] == 2
    assert type(out["participants"]["officials"]) is int


def test_extension_keys_are_kept_as_is() -> None:
    rec = copy.deepcopy(MINIMAL)
    rec["x_source"] = {"system": "OA", "row": [1, 2]}
    out, errs = V.validate(rec)
    assert errs == [] and out is not None
    assert out["x_source"] == {"system": "OA", "row": [1, 2]}


def test_the_output_is_a_copy() -> None:
    rec = copy.deepcopy(EXAMPLE)
    out, _ = V.validate(rec)
    assert out is not None
    out["official"]["name"] = "changed"
    out["meals"].append({})
    assert rec["official"]["name"] == "张三"
    assert len(rec["meals"]) == 1


def test_python_date_objects_are_accepted() -> None:
    rec = copy.deepcopy(MINIMAL)
    rec["date"] = date(2024, 3, 5)
    rec["start_at"] = datetime(2024, 3, 5, 11, 30, tzinfo=UTC)
    out, errs = V.validate(rec)
    assert errs == [] and out is not None
    assert out["date"] == date(2024, 3, 5)
    rec["start_at"] = datetime(2024, 3, 5, 11, 30)
    _, errs = V.validate(rec)
    assert [e.code for e in errs] == ["datetime"]


# ---------------------------------------------------------------- messages


def test_enum_did_you_mean() -> None:
    rec = copy.deepcopy(MINIMAL)
    rec["meals"] = [{"payer": "entreprise"}]
    _, errs = V.validate(rec)
    assert errs == [
        RecordError(
            "$.meals[0].payer",
            "enum",
            "取值 'entreprise' 不在允许范围内，是否为 企业（enterprise）？",
            "value 'entreprise' is not allowed; did you mean 'enterprise'?",
        )
    ]
    assert (
        errs[0].describe()
        == "$.meals[0].payer: 取值 'entreprise' 不在允许范围内，是否为 企业（enterprise）？"
    )
    assert errs[0].message("en") == "value 'entreprise' is not allowed; did you mean 'enterprise'?"
    assert errs[0].to_dict()["code"] == "enum"


def test_enum_label_given_instead_of_the_code() -> None:
    assert errors_of(venue={"type": "企业职工食堂"}) == [
        (
            "$.venue.type",
            "enum",
            "取值 '企业职工食堂' 不在允许范围内，是否为 企业职工食堂（enterprise_canteen）？",
            "value '企业职工食堂' is not allowed; did you mean 'enterprise_canteen'?",
        )
    ]


def test_enum_without_a_close_match_lists_the_values() -> None:
    assert errors_of(stage="xyzzy") == [
        (
            "$.stage",
            "enum",
            "取值 'xyzzy' 不在允许范围内；允许的取值：计划中（planned）、已完成（completed）",
            "value 'xyzzy' is not allowed; allowed values: planned, completed",
        )
    ]


def test_enum_in_a_list() -> None:
    assert errors_of(interventions=["leak_inf"]) == [
        (
            "$.interventions[0]",
            "enum",
            "取值 'leak_inf' 不在允许范围内，是否为 泄露保密信息（leak_info）？",
            "value 'leak_inf' is not allowed; did you mean 'leak_info'?",
        )
    ]


def test_type_errors() -> None:
    assert errors_of(stage=3) == [
        ("$.stage", "type", "应为字符串，实际为整数 3", "expected a string, got an integer 3")
    ]
    assert errors_of(jurisdiction=150300) == [
        (
            "$.jurisdiction",
            "type",
            '应为字符串，实际为整数 150300；如为代码或编号，请加引号："150300"',
            'expected a string, got an integer 150300; if this is a code, quote it: "150300"',
        )
    ]
    assert errors_of(recusal_recorded="true") == [
        (
            "$.recusal_recorded",
            "type",
            "应为布尔值（true/false），实际为字符串 'true'；布尔值请写 true 或 false，不加引号",
            "expected a boolean (true/false), got a string 'true'; write true or false without quotes",
        )
    ]
    assert errors_of(official=None) == [
        ("$.official", "type", "应为对象，实际为空值（null）", "expected an object, got null")
    ]
    assert errors_of(meals={"a": 1}) == [
        ("$.meals", "type", "应为数组，实际为对象 {…}", "expected an array, got an object {…}")
    ]
    assert errors_of(meals=[{"diners": 2.5}]) == [
        (
            "$.meals[0].diners",
            "type",
            "应为整数，实际为数字 2.5",
            "expected an integer, got a number 2.5",
        )
    ]


def test_a_record_must_be_an_object() -> None:
    assert V.validate([1]) == (
        None,
        [
            RecordError(
                "$",
                "type",
                "记录应为 JSON 对象，实际为数组",
                "a record must be a JSON object, got an array",
            )
        ],
    )


def test_required_fields() -> None:
    rec = copy.deepcopy(MINIMAL)
    del rec["stage"]
    rec["official"] = {"name": "张三"}
    _, errs = V.validate(rec)
    assert [(e.path, e.code, e.message_zh, e.message_en) for e in errs] == [
        ("$.official.id", "required", "缺少必填字段 'id'", "required field 'id' is missing"),
        ("$.stage", "required", "缺少必填字段 'stage'", "required field 'stage' is missing"),
    ]


def test_unknown_fields() -> None:
    rec = copy.deepcopy(MINIMAL)
    rec["meals"] = [{"totl_cny": 5}]
    rec["foo"] = 1
    _, errs = V.validate(rec)
    assert [(e.path, e.code, e.message_zh, e.message_en) for e in errs] == [
        (
            "$.meals[0].totl_cny",
            "unknown_field",
            "未知字段 'totl_cny'，是否为 'total_cny'？",
            "unknown field 'totl_cny'; did you mean 'total_cny'?",
        ),
        (
            "$.foo",
            "unknown_field",
            "未知字段 'foo'，模式中没有定义",
            "unknown field 'foo' is not defined in the schema",
        ),
    ]


def test_date_errors() -> None:
    assert errors_of(date="2024-02-30") == [
        (
            "$.date",
            "date",
            "'2024-02-30' 不是有效的日历日期",
            "'2024-02-30' is not a valid calendar date",
        )
    ]
    assert errors_of(date="2024/03/05") == [
        (
            "$.date",
            "date",
            "取值 '2024/03/05' 格式不正确：应为 YYYY-MM-DD 格式的日期，如 2024-03-05",
            "value '2024/03/05' is malformed: expected a YYYY-MM-DD date such as 2024-03-05",
        )
    ]


def test_datetime_errors() -> None:
    assert errors_of(start_at="2024-03-05T11:30:00") == [
        (
            "$.start_at",
            "datetime",
            "时间 '2024-03-05T11:30:00' 缺少时区偏移，应如 2024-03-05T12:30:00+08:00",
            "date-time '2024-03-05T11:30:00' has no UTC offset; write it like 2024-03-05T12:30:00+08:00",
        )
    ]
    assert errors_of(start_at="2024-02-30T11:30:00+08:00") == [
        (
            "$.start_at",
            "datetime",
            "'2024-02-30T11:30:00+08:00' 不是有效的日期时间",
            "'2024-02-30T11:30:00+08:00' is not a valid date-time",
        )
    ]
    assert errors_of(start_at="11:30")[0][:2] == ("$.start_at", "datetime")


def test_money_errors() -> None:
    assert errors_of(meals=[{"total_cny": "150元"}]) == [
        (
            "$.meals[0].total_cny",
            "money",
            "取值 '150元' 格式不正确：应为非负数字或十进制字符串，如 60 或 \"60.00\"",
            "value '150元' is malformed: expected a non-negative number or decimal string such as 60 or \"60.00\"",
        )
    ]
    assert errors_of(meals=[{"total_cny": "-5"}]) == [
        (
            "$.meals[0].total_cny",
            "money",
            "取值 '-5' 格式不正确：应为非负数字或十进制字符串，如 60 或 \"60.00\"；金额不得为负",
            "value '-5' is malformed: expected a non-negative number or decimal string such as 60 or \"60.00\"; amounts cannot be negative",
        )
    ]
    assert errors_of(meals=[{"total_cny": -5}]) == [
        (
            "$.meals[0].total_cny",
            "minimum",
            "取值 -5 小于最小值 0",
            "value -5 is below the minimum 0",
        )
    ]
    assert errors_of(meals=[{"total_cny": True}]) == [
        (
            "$.meals[0].total_cny",
            "type",
            '应为非负数字或十进制字符串，如 60 或 "60.00"，实际为布尔值 true',
            'expected a non-negative number or decimal string such as 60 or "60.00", got a boolean true',
        )
    ]


def test_non_finite_money_is_rejected() -> None:
    assert errors_of(meals=[{"total_cny": float("inf")}]) == [
        (
            "$.meals[0].total_cny",
            "money",
            '取值 inf 不是有限的数字：应为非负数字或十进制字符串，如 60 或 "60.00"',
            'value inf is not a finite number: expected a non-negative number or decimal string such as 60 or "60.00"',
        )
    ]


def test_minimum_and_lengths() -> None:
    assert errors_of(meals=[{"diners": 0}]) == [
        ("$.meals[0].diners", "minimum", "取值 0 小于最小值 1", "value 0 is below the minimum 1")
    ]
    assert errors_of(id="") == [("$.id", "min_length", "不能为空", "must not be empty")]
    assert errors_of(id="x" * 129) == [
        (
            "$.id",
            "max_length",
            "长度 129 超过上限 128 个字符",
            "length 129 exceeds the limit of 128 characters",
        )
    ]


def test_pattern_errors() -> None:
    assert errors_of(jurisdiction="15030") == [
        (
            "$.jurisdiction",
            "pattern",
            "取值 '15030' 格式不正确：应为6位数字的行政区划代码，如 \"150300\"",
            "value '15030' is malformed: expected a 6-digit administrative-division code such as \"150300\"",
        )
    ]
    assert errors_of(enterprise={"legacy_registration_no": "012345678901234"})[0][:2] == (
        "$.enterprise.legacy_registration_no",
        "pattern",
    )
    # ECMA semantics: `$` is the end of the string, `\d` is ASCII only.
    assert errors_of(jurisdiction="150300\n")[0][1] == "pattern"
    assert errors_of(jurisdiction="１５０３００")[0][1] == "pattern"


USCC_HINT_ZH = "取值 '{}' 格式不正确：应为18位，由数字和除 I、O、S、V、Z 以外的大写字母组成"
USCC_HINT_EN = "value '{}' is malformed: expected 18 characters: digits and capital letters except I, O, S, V and Z"


@pytest.mark.parametrize(
    ("uscc", "zh_tail", "en_tail"),
    [
        ("9135010", "（实际为 7 位）", " (got 7 characters)"),
        ("91350100m000100y43", "；字母应为大写", "; letters must be upper case"),
        ("91350100M000100S43", "；含有不使用的字母 S", "; contains the unused letter(s) S"),
        (
            "150300123456789",
            "；这是2015年以前的15位注册号，请填入 enterprise.legacy_registration_no",
            (
                "; this looks like a pre-2015 15-digit registration number: put it in "
                "enterprise.legacy_registration_no"
            ),
        ),
    ],
)
def test_uscc_format_errors(uscc: str, zh_tail: str, en_tail: str) -> None:
    assert errors_of(enterprise={"uscc": uscc}) == [
        (
            "$.enterprise.uscc",
            "uscc_format",
            USCC_HINT_ZH.format(uscc) + zh_tail,
            USCC_HINT_EN.format(uscc) + en_tail,
        )
    ]


def test_uscc_check_digit_is_not_a_schema_matter() -> None:
    rec = copy.deepcopy(MINIMAL)
    rec["enterprise"] = {"uscc": "91350100M000100Y44", "legacy_registration_no": "150300123456789"}
    assert V.validate(rec)[1] == []


def test_all_errors_are_reported_in_record_order() -> None:
    rec = copy.deepcopy(EXAMPLE)
    rec["date"] = "2024-02-30"
    rec["meals"][0]["payer"] = "entreprise"
    rec["gifts"][0]["value_cny"] = "abc"
    del rec["official"]["id"]
    out, errs = V.validate(rec)
    assert out is None
    assert [e.path for e in errs] == [
        "$.date",
        "$.official.id",
        "$.meals[0].payer",
        "$.gifts[0].value_cny",
    ]


def test_render_path() -> None:
    assert render_path(((None, None), "meals"), 0) == "$.meals[0]"
    assert render_path((None, None), "a-b") == '$["a-b"]'
    assert render_path(None) == "$"


def test_unusable_schemas_are_refused_at_load_with_a_pointer() -> None:
    with pytest.raises(SchemaCompileError) as exc:
        compile_validator({"type": "object", "properties": {"a": {"minLength": "3"}}})
    assert exc.value.pointer == "/properties/a/minLength"
    assert "metaschema" in exc.value.message_en
    with pytest.raises(SchemaCompileError, match="#/\\$defs/nope|unresolvable|cannot be used"):
        compile_validator({"$ref": "#/$defs/nope"})


def test_a_small_custom_schema() -> None:
    v = compile_validator(
        {
            "type": "object",
            "properties": {
                "n": {"type": "number", "maximum": 3, "exclusiveMinimum": 0},
                "flag": {"type": "boolean", "enum": [True]},
                "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
                "any": {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": "^a"}]},
            },
            "additionalProperties": {"type": "integer"},
        }
    )
    assert v.validate({"n": 2, "flag": True, "tags": ["a"], "any": "ab", "extra": 1})[1] == []
    _, errs = v.validate({"n": 4, "flag": False, "tags": ["a", "b", "c"], "any": "b", "extra": "x"})
    assert [e.code for e in errs] == ["maximum", "enum", "max_items", "any_of", "type"]
    _, errs = v.validate({"n": 0})
    assert [e.code for e in errs] == ["exclusive_minimum"]


# ---------------------------------------------------------------- agreement with jsonschema

ENUM_VALUES = sorted(
    {
        e
        for _, p in _properties(SCHEMA)
        for e in (p.get("enum") or (p.get("items") or {}).get("enum") or [])
        if isinstance(e, str)
    }
)
INTERESTING = [
    "",
    "2024-03-05",
    "2024-02-30",
    "2024-2-5",
    "0000-01-01",
    "2024-03-05T11:30:00+08:00",
    "2024-03-05T11:30:00Z",
    "2024-03-05T11:30:00",
    "2024-03-05T24:00:00+08:00",
    "2024-02-30T11:30:00+08:00",
    "2024-03-05T11:30:00.123456789+08:00",
    "2024-03-05t11:30:00z",
    "60.005",
    "60",
    "-1",
    "1e3",
    " 60",
    "150300",
    "15030",
    "91350100M000100Y43",
    "91350100M000100Y4",
    "150300123456789",
    "x" * 129,
]
SAFE_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Nd", "Cs", "Cc", "Zl", "Zp"))
    | st.sampled_from("0123456789-:.TZ+"),
    max_size=20,
)
LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    SAFE_TEXT,
    st.sampled_from(ENUM_VALUES),
    st.sampled_from(INTERESTING),
)
KEYS = sorted({path.rsplit(".", 1)[-1] for path, _ in _properties(SCHEMA)}) + ["x_ext", "foo"]
VALUE = st.recursive(
    LEAF,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS) | SAFE_TEXT, inner, max_size=3)
    ),
    max_leaves=6,
)


def _candidates(prop: dict) -> list[Any]:
    """Values near the edge of validity for one property."""
    refs = [b.get("$ref", "") for b in prop.get("anyOf", [])] + [prop.get("$ref", "")]
    if "#/$defs/money" in refs:
        return [0, 7, 60.005, 1e20, "60.00", "60.005", "-1", -1, -0.5, "abc", "1e3", True]
    if "#/$defs/date" in refs:
        return ["2024-03-05", "2024-02-29", "2023-02-29", "2024-2-5", "20240305", 20240305]
    if "#/$defs/datetime" in refs:
        return [
            "2024-03-05T11:30:00+08:00",
            "2024-03-05T11:30:00.5Z",
            "2024-03-05T11:30:00",
            "2024-03-05T11:30+08:00",
            "2024-03-05 11:30:00+08:00",
            "2024-03-05T11:30:00+08:60",
        ]
    if "#/$defs/uscc" in refs:
        return ["91350100M000100Y43", "91350100M000100Y44", "9135010", "91350100m000100y43"]
    if "#/$defs/jurisdiction" in refs:
        return ["150300", "15030", 150300, "000000"]
    types = prop.get("type")
    types = [types] if isinstance(types, str) else (types or [])
    if "enum" in prop:
        values = [e for e in prop["enum"] if e is not None]
        return [*values, None, values[0][:-1], values[-1].upper()]
    if "boolean" in types:
        return [True, False, None, "true", 0, 1]
    if "integer" in types:
        low = prop.get("minimum", 0)
        return [low - 1, low, low + 1, 2.0, 2.5, None, "3", True]
    if "array" in types:
        items = prop.get("items") or {}
        if "enum" in items:
            return [[], [items["enum"][0]], [items["enum"][0], "nope"], None, "x"]
        return [[], [{}], None, {}]
    if "object" in types:
        return [{}, None, []]
    return ["abc", "", None, 5, "x" * 200]


CANDIDATES: dict[str, list[Any]] = {}
for _path, _prop in _properties(SCHEMA):
    CANDIDATES.setdefault(_path.rsplit(".", 1)[-1], []).extend(_candidates(_prop))


def _slots(node: Any, path: tuple = ()) -> list[tuple]:
    """Every (container path, key) in a record, for mutation."""
    out: list[tuple] = []
    if isinstance(node, dict):
        for k, v in node.items():
            out.append((path, k))
            out.extend(_slots(v, (*path, k)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.append((path, i))
            out.extend(_slots(v, (*path, i)))
    return out


def _get(node: Any, path: tuple) -> Any:
    for k in path:
        node = node[k]
    return node


@st.composite
def mutated_records(draw: st.DrawFn) -> dict:
    rec = copy.deepcopy(draw(st.sampled_from([EXAMPLE, MINIMAL])))
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        slots = _slots(rec)
        path, key = draw(st.sampled_from(slots))
        container = _get(rec, path)
        action = draw(st.sampled_from(["near"] * 5 + ["random", "delete", "insert"]))
        if action == "near" and isinstance(key, str) and key in CANDIDATES:
            container[key] = copy.deepcopy(draw(st.sampled_from(CANDIDATES[key])))
        elif action in ("near", "random"):
            container[key] = draw(VALUE)
        elif action == "delete":
            del container[key]
        elif isinstance(container, dict):
            new_key = draw(st.sampled_from(KEYS))
            pool = CANDIDATES.get(new_key)
            container[new_key] = copy.deepcopy(draw(st.sampled_from(pool))) if pool else draw(VALUE)
        else:
            container.insert(key, draw(VALUE))
    return rec


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_records())
def test_same_verdict_as_jsonschema(rec: dict) -> None:
    out, errs = V.validate(rec)
    assert (not errs) == REFERENCE.is_valid(rec), (errs, list(REFERENCE.iter_errors(rec)))
    assert (out is None) == bool(errs)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_records())
def test_validating_twice_gives_the_same_answer(rec: dict) -> None:
    # The validator keeps per-key and per-string caches: a second run must not differ.
    assert repr(V.validate(copy.deepcopy(rec))) == repr(V.validate(rec))


@pytest.mark.parametrize("kind", ["tolerance_filing", "complaint", "unit_rating", "licensing_matter",
                                  "problem_item"])
def test_every_kind_is_labelled_closed_and_valid(kind: str) -> None:
    """The bundled schemas of the other record kinds: bilingual like the interaction schema,
    closed objects, extensions at the top level only, and usable by the validator."""
    from checker.input.kinds import KindValidator
    from checker.schema import bundled_schemas, kind_schema

    schema = kind_schema(kind)
    assert schema["x-record-kind"] == kind and schema["properties"]["record_kind"]["const"] == kind
    assert schema["required"][:4] == ["record_kind", "id", "jurisdiction", "date"]
    assert schema["patternProperties"] == {"^x_": {}}
    for path, prop in _properties(schema):
        for key in ("title", "description", "x-title-zh", "x-description-zh"):
            assert prop.get(key), f"{kind} {path} lacks {key}"
        enum = prop.get("enum") or (prop.get("items") or {}).get("enum")
        if enum is not None:
            labels = prop.get("x-enum-labels") or (prop.get("items") or {}).get("x-enum-labels")
            assert labels and set(labels) == {e for e in enum if e is not None}, f"{kind} {path}"
        if "properties" in prop:
            assert prop["additionalProperties"] is False, f"{kind} {path}"
    v = KindValidator(bundled_schemas())
    data, errors = v.validate({"record_kind": kind, "id": "X", "jurisdiction": "150302",
                               "date": "2025-09-26", "x_note": 1})
    if kind == "complaint":  # nothing more is required of a complaint
        assert errors == [] and data is not None and str(data["date"]) == "2025-09-26"
    else:  # the kind's own required fields are named
        assert data is None and errors and {e.path for e in errors} <= {"$.unit", "$.scheme", "$.period",
                                                                         "$.catalogue"}
