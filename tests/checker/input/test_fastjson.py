"""checker.fastjson: a subset oracle of orjson + the validator.

For any text, the fast decoder either declines (None) or returns exactly what
`Validator.validate(orjson.loads(text))` returns: same keys, same type and same
`str()` of every leaf. Checked differentially on the sample batch, every fixture
record, hand-picked edge cases and hypothesis-generated mutations of real records.
"""

from __future__ import annotations

import copy
import json
import random
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checker.input.ecma_regex import Untranslatable, ecma_regex
from checker.input.fastjson import FastDecoder, FastJsonUnsupported, decoder_for
from checker.input.validate import compile_validator, default_validator

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "fixtures" / "sample" / "batch.jsonl"
VALIDATOR = default_validator()
FAST = FastDecoder(VALIDATOR.schema).function


# ---------------------------------------------------------------- the oracle property


def same(a: Any, b: Any) -> bool:
    """Equal, with the same type and the same str() at every leaf (Decimal('60.0') is not
    Decimal('60.00'), 1 is not 1.0 or True)."""
    stack = [(a, b)]  # no recursion: extension values may nest deeply
    while stack:
        x, y = stack.pop()
        if type(x) is not type(y):
            return False
        if isinstance(x, dict):
            if x.keys() != y.keys():
                return False
            stack.extend((x[k], y[k]) for k in x)
        elif isinstance(x, list):
            if len(x) != len(y):
                return False
            stack.extend(zip(x, y, strict=True))
        elif not (x == y and str(x) == str(y)):
            return False
    return True


def slow(text: bytes | str, validator: Any = VALIDATOR) -> dict | None:
    try:
        raw = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return validator.validate(raw)[0]


def agree(text: bytes | str, fast: Any = FAST, validator: Any = VALIDATOR) -> dict | None:
    """The fast result after checking the oracle property."""
    got = fast(text)
    if got is not None:
        want = slow(text, validator)
        assert want is not None, f"fast path accepted what the validator rejects: {text!r}"
        assert same(got, want), f"fast path differs from the validator on {text!r}"
    return got


def sample_lines() -> list[bytes]:
    return SAMPLE.read_bytes().splitlines()


# ---------------------------------------------------------------- real records


def test_sample_batch_agrees_and_takes_the_fast_path() -> None:
    valid = accepted = 0
    for line in sample_lines():
        got = agree(line)
        if slow(line) is not None:
            valid += 1
            accepted += got is not None
    assert valid > 2000
    assert accepted >= 0.99 * valid, (accepted, valid)


def test_extension_fields_are_kept_as_read() -> None:
    line = next(x for x in sample_lines() if b'"x_' in x)
    got = agree(line)
    assert got is not None
    assert {k for k in got if k.startswith("x_")} == {k for k in orjson.loads(line) if k.startswith("x_")}


def _fixture_texts() -> list[tuple[str, str]]:
    out = []
    for folder in ("fixtures/records", "fixtures/scenarios", "tests/checker/data"):
        for path in sorted((ROOT / folder).iterdir()):
            if path.suffix in (".yaml", ".yml"):
                docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
                for i, doc in enumerate(docs):
                    items = doc if isinstance(doc, list) else [doc]
                    for j, item in enumerate(items):
                        text = json.dumps(item, ensure_ascii=False, default=str)
                        out.append((f"{path.name}#{i}.{j}", text))
            elif path.suffix == ".jsonl":
                for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                    out.append((f"{path.name}:{i}", line))
            elif path.suffix == ".json":
                doc = json.loads(path.read_text(encoding="utf-8"))
                for j, item in enumerate(doc if isinstance(doc, list) else [doc]):
                    out.append((f"{path.name}#{j}", json.dumps(item, ensure_ascii=False)))
    return out


FIXTURES = _fixture_texts()


@pytest.mark.parametrize(("name", "text"), FIXTURES, ids=[n for n, _ in FIXTURES])
def test_fixture_records(name: str, text: str) -> None:
    got = agree(text)
    agree(text.encode("utf-8"))
    if slow(text) is not None and "x_" not in text:
        assert got is not None, f"{name}: a plain valid record should take the fast path"


def test_fixtures_were_found() -> None:
    assert sum(n.startswith("S") for n, _ in FIXTURES) >= 25
    assert any(n.startswith("malformed.jsonl") for n, _ in FIXTURES)


# ---------------------------------------------------------------- edge cases on one record

BASE: dict = orjson.loads(next(x for x in sample_lines() if b'"meals":[{' in x and b'"x_' not in x))


def with_value(path: tuple, text: str) -> str:
    """BASE as JSON with the value at `path` replaced by the JSON text `text`."""
    rec = copy.deepcopy(BASE)
    node = rec
    for k in path[:-1]:
        node = node[k]
    marker = "\u0000MARK\u0000"
    node[path[-1]] = marker
    return json.dumps(rec, ensure_ascii=False).replace(json.dumps(marker), text)


MONEY = ("meals", 0, "total_cny")
DATETIME = ("start_at",)
COUNT = ("meals", 0, "diners")


@pytest.mark.parametrize(
    ("path", "text", "fast_ok"),
    [
        (MONEY, "12.30", True),
        (MONEY, "1e2", True),
        (MONEY, "1E2", True),
        (MONEY, "0", True),
        (MONEY, "-0", True),
        (MONEY, "-0.0", True),
        (MONEY, "60.005", True),
        (MONEY, '"12.30"', True),
        (MONEY, '"0012.30"', True),
        (MONEY, "18446744073709551615", False),  # beyond int64: declined, the validator decides
        (MONEY, "123456789012345678901234567890", False),
        (MONEY, "1.5e-400", True),
        (MONEY, "1e400", False),
        (MONEY, "-1", False),
        (MONEY, "-0.5", False),
        (MONEY, '"NaN"', False),
        (MONEY, '"Infinity"', False),
        (MONEY, '"1_000"', False),
        (MONEY, '" 12"', False),
        (MONEY, '"12 "', False),
        (MONEY, '"-1"', False),
        (MONEY, '"1e2"', False),
        (MONEY, '"\u0661\u0662"', False),  # Arabic-Indic digits
        (MONEY, '"' + "1" * 41 + '"', False),
        (MONEY, "true", False),
        (MONEY, "[1]", False),
        (MONEY, "null", True),
        (COUNT, "3", True),
        (COUNT, "3.0", False),  # the validator takes it as 3; the fast path declines
        (COUNT, "true", False),
        (COUNT, "-1", False),
        (COUNT, '"3"', False),
        (COUNT, "9223372036854775807", True),
        *((path, bad, False) for path in (MONEY, COUNT)
          for bad in ("1.", ".5", "01", "1e", "-", "+1", "1.5e", "0x10", "Infinity", "NaN", "1_0",
                      "1.5.2", "--1", "1e+", '"1"2', "1 2")),
        (COUNT, "9223372036854775808", False),
        (DATETIME, '"2024-03-05T12:30:00+08:00"', True),
        (DATETIME, '"2024-03-05T12:30:00Z"', True),
        (DATETIME, '"2024-03-05T12:30:00.123+08:00"', True),
        (DATETIME, '"2024-03-05T12:30:00-00:00"', True),
        (DATETIME, '"2024-03-05t12:30:00+08:00"', False),
        (DATETIME, '"2024-03-05 12:30:00+08:00"', False),
        (DATETIME, '"2024-03-05T12:30:00z"', False),
        (DATETIME, '"2024-03-05T12:30:00"', False),
        (DATETIME, '"2024-03-05T12:30:00+0800"', False),
        (DATETIME, '"2024-03-05T12:30:00.1234567+08:00"', None),
        (DATETIME, '"2024-03-05T24:00:00+08:00"', False),
        (DATETIME, '"2024-03-05T12:30:60+08:00"', False),
        (DATETIME, '"2024-02-30T12:30:00+08:00"', False),
        (DATETIME, '"2024-03-05T12:30:00+24:00"', False),
        (DATETIME, '"\uff12024-03-05T12:30:00+08:00"', False),
        (DATETIME, "null", True),
        (("date",), '"2023-02-30"', False),
        (("date",), '"2024-02-29"', True),
        (("date",), '"2024/02/29"', False),
        (("stage",), '"Completed"', False),
        (("stage",), '"completed "', False),
        (("jurisdiction",), '"15030"', False),
        (("jurisdiction",), '"\uff11\uff15\uff10\uff13\uff10\uff10"', False),
        (("jurisdiction",), '"150300\\n"', False),
        (("jurisdiction",), "150300", False),
        (("jurisdiction",), "null", False),
        (("id",), '""', False),
        (("id",), '"' + "\U0001f600" * 128 + '"', True),  # lengths count code points
        (("id",), '"' + "\U0001f600" * 129 + '"', False),
        (("id",), "7", False),
        (("official", "is_leader"), '"true"', False),
        (("official", "is_leader"), "1", False),
        (("official", "rank"), '"处级"', False),
        (("official", "name"), '"\\ud800"', False),  # a lone surrogate: invalid JSON for orjson
        (("official", "name"), '"a\\u0000b"', True),
        (("official", "name"), '"\\u738b\\u5efa\\u56fd"', True),
    ],
)
def test_edge_cases(path: tuple, text: str, fast_ok: bool | None) -> None:
    line = with_value(path, text)
    got = agree(line)
    if fast_ok is not None:
        assert (got is not None) == fast_ok, line


HEAD = b'"stage": "planned", "jurisdiction": "150300", "date": "2024-03-05", "official": {"id": "O-1"}'
MINIMAL = b'{"id": "A", ' + HEAD


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"   ",
        b"[]",
        b"null",
        b'"x"',
        b"{}",
        b'{"id": "A"}',
        MINIMAL + b"} trailing",
        MINIMAL + b",}",
        b"\xef\xbb\xbf" + MINIMAL + b"}",
        b'{"id": "\xff", ' + HEAD + b"}",
        b'{"id": "\xed\xa0\x80", ' + HEAD + b"}",
        MINIMAL + b', "x_extra": "\xff"}',
        MINIMAL + b', "x_extra": 1e400}',
        MINIMAL + b', "x_extra": [1, {"a": 123456789012345678901234567890}]}',
        MINIMAL + b', "y_extra": 1}',
        MINIMAL[:-1] + b', "x_extra": 1}}',
        b'{"id": "A", "id": "B", ' + HEAD + b"}",
        b'{"id": 5, "id": "B", ' + HEAD + b"}",
        b'{"id": "B", "id": 5, ' + HEAD + b"}",
        b'{"\\u0069d": "A", ' + HEAD + b"}",
        MINIMAL + b', "st\\u0061rt_at": "garbage", "x_a": 1}',
        MINIMAL + b', "x_a": 1, "x_a": 2}',
        MINIMAL + b', "x_": {"nested": [true, null, "\\u00e9"]}}',
        b'\t{"id": "A",\r ' + HEAD + b"}  ",
    ],
)
def test_whole_line_edge_cases(line: bytes) -> None:
    agree(line)


@pytest.mark.parametrize("depth", [900, 1020, 1023, 1024, 1100])
def test_deeply_nested_extension_values(depth: int) -> None:
    """orjson's depth limit holds for the whole line, not only for the extension value."""
    agree(MINIMAL + b', "x_a": ' + b"[" * depth + b"]" * depth + b"}")


def test_minimal_record_and_extension_fields_take_the_fast_path() -> None:
    base = ('{"id": "A", "stage": "planned", "jurisdiction": "150300", "date": "2024-03-05", '
            '"official": {"id": "O-1"}')
    assert agree(base + "}") is not None
    got = agree(base + ', "x_a": [1, 2.50, {"b": null}], "x_b": "\u738b"}')
    assert got is not None and got["x_a"] == [1, 2.5, {"b": None}] and got["x_b"] == "\u738b"
    assert agree(base + ', "x_a": 1, "x_a": 2}') == {**orjson.loads(base + "}"), "x_a": 2} | {
        "date": date(2024, 3, 5)}


DATES = [
    f"{y}-{m:02d}-{d:02d}"
    for y in ("0000", "0001", "1900", "2000", "2023", "2024", "9999")
    for m in range(14)
    for d in range(33)
]


def test_every_date_agrees_exactly() -> None:
    for text in DATES:
        line = with_value(("date",), json.dumps(text))
        got = agree(line)
        assert (got is not None) == (slow(line) is not None), text


# ---------------------------------------------------------------- mutations of real records


class RawJSON:
    """A value written into the JSON text as it is (number spellings, escapes)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"RawJSON({self.text!r})"


NUMBER_TEXTS = [
    "12.30", "1e2", "1E2", "-1", "0", "-0", "-0.0", "3.0", "1.5e-400", "1e400", "0.1",
    "60.005", "18446744073709551615", "18446744073709551616", "9223372036854775807",
    "9223372036854775808", "-9223372036854775809", "123456789012345678901234567890",
    "1.00000000000000011102230246251565404236316680908203125", "2.5e-5", "5e-324", "1e308",
    '"\\ud800"', '"\\udc00\\ud800"', '"\\u0000"', '"a\\/b"',
]
STRING_VALUES = [
    "12.30", "NaN", "1_000", " 12", "-1", "\u0661\u0662", "Infinity", "", "1e2",
    "2023-02-30", "2024-02-29", "0000-01-01", "2024-1-01", "2024-03-05",
    "2024-03-05T12:30:00+08:00", "2024-03-05t12:30:00+08:00", "2024-03-05 12:30:00+08:00",
    "2024-03-05T12:30:00z", "2024-03-05T12:30:00Z", "2024-03-05T12:30:00",
    "2024-03-05T12:30:00+0800", "2024-03-05T12:30:00.1234567+08:00", "2024-03-05T24:00:00+08:00",
    "completed", "Completed", "企业", "enterprise", "lunch", "planned ", "150300", "15030",
    "\uff11\uff15\uff10\uff13\uff10\uff10", "150300\n", "91150300MA0N1XXX1X", "911503006B0N1XXX1X",
    "true", "null", "x_", "\U0001f600",
]
KEYS = ["x_source", "x_", "X_a", "y_1", "id", "extra", "Id", "start_at", "meals", "官员", "x_\u00e9"]


def _leaves(node: Any, out: list) -> list:
    if isinstance(node, dict):
        for v in node.values():
            _leaves(v, out)
    elif isinstance(node, list):
        for v in node:
            _leaves(v, out)
    else:
        out.append(node)
    return out


BASES = [orjson.loads(x) for x in sample_lines()[:400] if slow(x) is not None][::8]
LEAVES = sorted({json.dumps(v) for b in BASES for v in _leaves(b, [])})


def _by_key(node: Any, out: dict) -> dict:
    if isinstance(node, dict):
        for k, v in node.items():
            out.setdefault(k, set()).add(json.dumps(v, ensure_ascii=False))
            _by_key(v, out)
    elif isinstance(node, list):
        for v in node:
            _by_key(v, out)
    return out


# Values each key takes somewhere in the sample: swapping them keeps many records valid,
# so the "same output" half of the property is exercised, not only "both reject".
BY_KEY = {k: sorted(v) for k, v in _by_key(BASES, {}).items()}


def spellings(x: float) -> list[str]:
    """Other JSON spellings of a number (the validator reads money as repr of the float)."""
    out = [repr(x), f"{x:.2f}", f"{x}e0", f"{x:.3e}", f"{x * 100:.0f}e-2", f"{x:.17g}"]
    if float(x).is_integer():
        out += [str(int(x)), f"{int(x)}.0", f"{int(x)}.00"]
    return [t for t in out if "inf" not in t and "nan" not in t]

values = st.one_of(
    st.sampled_from(LEAVES).map(RawJSON),
    st.sampled_from(NUMBER_TEXTS).map(RawJSON),
    st.sampled_from(STRING_VALUES),
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from([[], {}, [1], {"a": 1}, ["ktv"], [None], [{"type": "lunch"}]]).map(copy.deepcopy),
    st.from_regex(r"-?(0|[1-9][0-9]{0,24})(\.[0-9]{1,30})?([eE][+-]?[0-9]{1,3})?", fullmatch=True)
    .map(RawJSON),
)


def _slots(node: Any, out: list) -> list:
    """Every (container, key) in a record, for picking what to mutate."""
    if isinstance(node, dict):
        out.extend((node, k) for k in node)
        for v in node.values():
            _slots(v, out)
    elif isinstance(node, list):
        out.extend((node, i) for i in range(len(node)))
        for v in node:
            _slots(v, out)
    return out


def _containers(node: Any, out: list) -> list:
    if isinstance(node, dict):
        out.append(node)
        for v in node.values():
            _containers(v, out)
    elif isinstance(node, list):
        for v in node:
            _containers(v, out)
    return out


def render(v: Any, rnd: random.Random, dups: float = 0.0) -> str:
    """JSON text, with random spellings: escapes, spacing and (at rate `dups`) duplicate keys."""
    if isinstance(v, RawJSON):
        return v.text
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=rnd.random() < 0.2)
    if isinstance(v, float):
        return repr(v)
    if v is None or isinstance(v, (bool, int)):
        return json.dumps(v)
    sep = rnd.choice([",", ", ", " ,\t"])
    if isinstance(v, list):
        return "[" + sep.join(render(x, rnd, dups) for x in v) + "]"
    items = [f"{json.dumps(k, ensure_ascii=rnd.random() < 0.2)}:{render(x, rnd, dups)}"
             for k, x in v.items()]
    if items and rnd.random() < dups:  # a duplicate key: orjson and msgspec keep the last
        k = rnd.choice(list(v))
        pool = BY_KEY.get(k) if rnd.random() < 0.5 else None
        other = RawJSON(rnd.choice(pool)) if pool else rnd.choice([*STRING_VALUES, None, 1, 1.5])
        items.insert(rnd.randrange(len(items) + 1), f"{json.dumps(k)}:{render(other, rnd)}")
    return "{" + sep.join(items) + "}"


@st.composite
def mutated(draw: st.DrawFn) -> str:
    rec = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(1, 3))):
        action = draw(st.sampled_from(
            ["delete", "null", "replace", "add", "add_x", "same_key", "same_key", "respell", "respell"]))
        if action == "respell":
            numbers = [(n, k) for n, k in _slots(rec, [])
                       if isinstance(n[k], (int, float)) and not isinstance(n[k], bool)]
            if numbers:
                node, k = draw(st.sampled_from(numbers))
                node[k] = RawJSON(draw(st.sampled_from(spellings(node[k]))))
            continue
        if action in ("add", "add_x"):
            target = draw(st.sampled_from(_containers(rec, [])))
            key = "x_" + draw(st.text(max_size=5)) if action == "add_x" else draw(
                st.sampled_from(KEYS) | st.text(max_size=8))
            target[key] = draw(values)
            continue
        slots = _slots(rec, [])
        if not slots:
            break
        node, k = draw(st.sampled_from(slots))
        if action == "delete":
            del node[k]
        elif action == "null":
            node[k] = None
        elif action == "same_key" and isinstance(k, str) and k in BY_KEY:
            node[k] = RawJSON(draw(st.sampled_from(BY_KEY[k])))
        else:
            node[k] = draw(values)
    dups = draw(st.sampled_from([0.0, 0.0, 0.0, 0.2]))
    return render(rec, draw(st.randoms(use_true_random=False)), dups)


@settings(max_examples=800, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated())
def test_mutated_records(text: str) -> None:
    agree(text)
    agree(text.encode("utf-8", "surrogatepass"))


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.from_regex(r"-?(0|[1-9][0-9]{0,24})(\.[0-9]{1,30})?([eE][+-]?[0-9]{1,3})?", fullmatch=True))
def test_number_spellings(number: str) -> None:
    """msgspec and orjson read every number spelling alike (money keeps repr of the float)."""
    for path in (MONEY, COUNT):
        line = with_value(path, number)
        got = agree(line)
        if path == MONEY and slow(line) is not None and "e" not in number.lower() and "." in number:
            assert got is not None, number


# ---------------------------------------------------------------- other schemas


def schema(props: dict, **extra: Any) -> dict:
    return {"type": "object", "properties": props, "additionalProperties": False, **extra}


@pytest.mark.parametrize(
    "bad",
    [
        schema({"a": {"type": "integer", "exclusiveMinimum": 0}}),
        schema({"a": {"type": "number", "exclusiveMaximum": 10}}),
        schema({"a": {"anyOf": [{"type": "string"}, {"type": "integer"}]}}),
        schema({"a": {"anyOf": [{"type": "null"}, {"type": "null"}]}}),
        schema({"a": {"type": "integer", "enum": [1, 2]}}),
        schema({"a": {"type": "string"}}, required=["a", "b"]),
        schema({"a": {"type": "array"}}),
        schema({"a": {}}),
        schema({"a": True}),
        schema({"a": {"description": "anything"}}),
        schema({"a": {"type": "string", "not": {"const": "x"}}}),
        schema({"a": {"type": "string", "const": "x"}}),
        schema({"a": {"type": ["string", "number"], "x-normalise": "upper"}}),
        schema({"a": {"type": "integer", "minimum": 0.5}}),
        schema({"a": {"$ref": "#/$defs/a"}}, **{"$defs": {"a": {"type": "array", "items": {"$ref": "#/$defs/a"}}}}),
        schema({"a": {"$ref": "#/$defs/missing"}}),
        schema({"a": {"$ref": "other.json#/a"}}),
        schema({"a": {"type": "string", "format": "date-time", "x-normalise": "decimal"}}),
        schema({"a": {"type": "string", "enum": ["x"], "format": "date"}}),
        {"type": "array", "items": {"type": "string"}},
        {"type": ["object", "null"], "properties": {}},
    ],
)
def test_builder_refuses_what_it_cannot_check(bad: dict) -> None:
    with pytest.raises(FastJsonUnsupported):
        FastDecoder(bad)


def test_decoder_for_a_refused_schema_is_none() -> None:
    v = compile_validator(schema({"a": {"type": "integer", "exclusiveMinimum": 0}}))
    assert v.validate({"a": 1})[0] == {"a": 1}
    assert decoder_for(v) is None


def test_decoder_for_is_cached_per_validator() -> None:
    assert decoder_for(VALIDATOR) is decoder_for(VALIDATOR)
    assert decoder_for(VALIDATOR) is not None


def test_decoder_for_other_validators() -> None:
    from checker.run.parallel import DeferredValidator

    assert decoder_for(DeferredValidator(VALIDATOR.schema)) is None
    assert decoder_for(object()) is None


SMALL = schema(
    {
        "d": {"type": "string", "format": "date", "pattern": "^20"},
        "t": {"type": ["string", "null"], "format": "date-time"},
        "e": {"type": "string", "enum": ["ab", "abc", None], "maxLength": 2},
        "n": {"type": ["number", "null"], "minimum": -5, "maximum": 5},
        "m": {"type": ["string", "integer"], "x-normalise": "decimal", "pattern": "^[0-9]+$"},
        "l": {"type": "array", "items": {"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}]},
              "minItems": 1, "maxItems": 2},
        "o": {"type": "object", "properties": {"k": {"type": "boolean"}}, "required": ["k"]},
        "s": {"type": ["string", "integer"], "format": "date"},
    },
    required=["d"],
    patternProperties={"^ext": {}, "^num": {"type": "integer"}},
)
SMALL_TEXTS = [
    '{"d": "2024-01-31"}',
    '{"d": "1999-01-31"}',
    '{"d": "2024-02-30"}',
    '{"d": "20240131"}',
    '{"d": "2024-01-31", "t": "2024-01-31T10:00:00+08:00"}',
    '{"d": "2024-01-31", "t": "2024-01-31 10:00:00+08:00"}',
    '{"d": "2024-01-31", "t": "2024-01-31T10:00:00"}',
    '{"d": "2024-01-31", "t": null}',
    '{"d": "2024-01-31", "e": "ab"}',
    '{"d": "2024-01-31", "e": "abc"}',
    '{"d": "2024-01-31", "e": null}',
    '{"d": "2024-01-31", "n": 5}',
    '{"d": "2024-01-31", "n": 5.5}',
    '{"d": "2024-01-31", "n": -5.0}',
    '{"d": "2024-01-31", "n": -6}',
    '{"d": "2024-01-31", "m": "0012"}',
    '{"d": "2024-01-31", "m": 12}',
    '{"d": "2024-01-31", "m": "1.5"}',
    '{"d": "2024-01-31", "m": 1.5}',
    '{"d": "2024-01-31", "l": ["2024-01-01", null]}',
    '{"d": "2024-01-31", "l": []}',
    '{"d": "2024-01-31", "l": ["2024-01-01", null, null]}',
    '{"d": "2024-01-31", "l": ["2024-13-01"]}',
    '{"d": "2024-01-31", "o": {"k": true}}',
    '{"d": "2024-01-31", "o": {}}',
    '{"d": "2024-01-31", "o": {"k": 1}}',
    '{"d": "2024-01-31", "s": "2024-01-01"}',
    '{"d": "2024-01-31", "s": 7}',
    '{"d": "2024-01-31", "ext1": {"any": [1, 2.5]}}',
    '{"d": "2024-01-31", "num1": 3}',
    '{"d": "2024-01-31", "other": 3}',
]


@pytest.mark.parametrize("text", SMALL_TEXTS)
def test_a_small_schema_of_every_kind(text: str) -> None:
    v = compile_validator(SMALL)
    agree(text, FastDecoder(SMALL).function, v)


def test_a_small_schema_takes_the_fast_path() -> None:
    fast = FastDecoder(SMALL).function
    got = fast('{"d": "2024-01-31", "t": "2024-01-31T10:00:00Z", "m": "0012", "l": ["2024-01-01", null],'
               ' "e": "ab", "s": "2024-01-02", "ext": 1}')
    assert got == {"d": date(2024, 1, 31), "t": datetime.fromisoformat("2024-01-31T10:00:00+00:00"),
                   "m": Decimal(12), "l": [date(2024, 1, 1), None], "e": "ab",
                   "s": date(2024, 1, 2), "ext": 1}
    assert str(got["m"]) == "0012" or str(got["m"]) == "12"
    assert fast('{"d": "2024-01-31", "num1": 3}') is None  # a pattern with a schema: declined


def test_open_objects_keep_unknown_keys_at_the_root_only() -> None:
    open_schema = {"type": "object", "properties": {"a": {"type": "integer"},
                                                    "o": {"type": "object", "properties": {}}}}
    v = compile_validator(open_schema)
    fast = FastDecoder(open_schema).function
    assert agree('{"a": 1, "b": [1, "x"]}', fast, v) == {"a": 1, "b": [1, "x"]}
    assert agree('{"a": 1, "o": {"b": 2}}', fast, v) is None  # declined: nested unknown keys


# ---------------------------------------------------------------- end to end: no output changes


def _check(tmp_path: Path, name: str, batch: Path, jobs: int, **kw: Any) -> tuple[bytes, list]:
    from checker.run.check import run_check

    out, log = tmp_path / f"{name}.jsonl", tmp_path / f"{name}.log"
    code = run_check(files=[str(batch)], rules=[ROOT / "tests" / "checker" / "data" / "minipolicy"],
                     jurisdiction=kw.get("jurisdiction"), fmt="jsonl", output=out, lang="zh",
                     explain=False, history=kw.get("history", []), input_format=None,
                     encoding="utf-8", jobs=jobs, failing=(), log=log, mask=None)
    assert code == 0
    entries = [{k: v for k, v in json.loads(x).items() if k not in ("time", "prev", "hash", "salt")}
               for x in log.read_text(encoding="utf-8").splitlines()[1:]]
    return out.read_bytes(), entries


@pytest.mark.parametrize("jobs", [1, 2])
def test_reports_and_decision_log_are_the_same_without_the_fast_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int
) -> None:
    import checker.input.records as records
    import checker.run.parallel as parallel

    monkeypatch.setenv("QINQING_CACHE_DIR", str(tmp_path / "cache"))
    lines = sample_lines()[:300]
    lacking = orjson.loads(lines[0])
    lacking["id"] = "NO-JURISDICTION"
    del lacking["jurisdiction"]
    batch = tmp_path / "batch.jsonl"
    batch.write_bytes(b"\xef\xbb\xbf" + b"\r\n".join([*lines, lines[5], orjson.dumps(lacking)]) + b"\n")
    options = {"jurisdiction": "150300", "history": [ROOT / "fixtures" / "records" / "history_O-0042.jsonl"]}
    fast = _check(tmp_path, "fast", batch, jobs, **options)
    for module in (records, parallel):
        monkeypatch.setattr(module, "decoder_for", lambda validator: None)
    slow = _check(tmp_path, "slow", batch, jobs, **options)
    assert fast[0] == slow[0]
    assert fast[1] == slow[1]
    assert len(fast[1]) == 302
    *entries, summary = [json.loads(x) for x in fast[0].splitlines()]
    assert summary["summary"]["records"] == 302
    assert entries[-2]["outcome"] == "invalid" and entries[-2]["errors"][0]["code"] == "duplicate_id"
    assert entries[-1]["id"] == "NO-JURISDICTION" and entries[-1]["jurisdiction"] == "150300"
    assert entries[-1]["outcome"] != "invalid"


# ---------------------------------------------------------------- regexes: exact or declined

_PATTERNS = [
    r"^\d+(\.\d+)?$", r"^\d{6}$", r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$",
    r"^\d{4}-(0[1-9]|1[0-2])-\d{2}T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$",
    "^x_", r"^\S$", r"^.$", r"^\s*$", r"\bword\b", r"^[^a-c\d]+?$", r"^(?:ab|c)*$", r"a(?=b)",
    r"^\w+$", r"^[\s\w]$", r"\u00e9", r"^\x41\/$",
]
_DECLINED = [r"(?i)a", r"\p{L}", r"(a)\1", r"[[a]]", r"(?<=a)b", r"\cC", r"a{,2}"]


@pytest.mark.parametrize("pattern", _DECLINED)
def test_patterns_without_an_exact_translation_are_declined(pattern: str) -> None:
    with pytest.raises(Untranslatable):
        ecma_regex(pattern)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_PATTERNS),
       st.text(alphabet=st.sampled_from(list("abcxw_ 0123456789.-:TZ+\n\r\t\u00a0\u2028\ufeff"
                                             "\u0661\u00e9A/")), max_size=12))
def test_the_fast_path_regexes_match_what_the_validator_matches(pattern: str, text: str) -> None:
    import jsonschema_rs

    expected = jsonschema_rs.Draft202012Validator({"pattern": pattern}).is_valid(text)
    assert (ecma_regex(pattern).search(text) is not None) == expected
