"""A C-speed shortcut for JSON record text: decode and validate in one pass (msgspec).

`FastDecoder(schema).decode(text)` returns exactly what
`Validator.validate(orjson.loads(text))` returns for a valid record (same keys,
types and values: money as `Decimal`, dates as `date`, datetimes as aware
`datetime`), or `None` when it is not sure. `None` is not a verdict: the
caller then parses and validates the slow way, which also writes the messages.
The shortcut never accepts a record the validator rejects; it declines some
that the validator accepts (integers written as `3.0`, integers beyond 64
bits, ...), and those take the slow path.

The msgspec types are built generically from the record JSON Schema (nothing
here names a record field): objects become structs that forbid unknown fields,
optional properties default to `UNSET` (so absent fields stay absent),
`anyOf [X, null]` and `null` in `type` become `Optional`, string enums
`Literal`, patterns the validator's ECMA-262 translation (msgspec runs
`re.search` without flags, hence the `(?a)`), lengths and integer bounds
`Meta`, `format: date` msgspec's RFC 3339 date (the validator's YYYY-MM-DD
and calendar check). msgspec's own datetime and Decimal parsing are laxer than
the validator's, so money is decoded as `int | float | str` and datetimes as
strings, and a generated `__post_init__` converts them by the validator's own
rules (an exception there makes msgspec fail: the record falls back).
Extension properties of the record (`patternProperties` whose values may be
anything) are kept as orjson reads them: a record that has some is decoded a
second time, leniently, and read by orjson for those values.

A schema feature that cannot be checked exactly makes the builder raise
`FastJsonUnsupported`; `decoder_for` then answers `None` (no shortcut).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Optional, Union

import msgspec
import orjson

from checker.input.ecma_regex import Untranslatable, ecma_regex
from checker.input.json_values import json_problem
from checker.input.normalise import parse_datetime
from checker.input.validate import Validator

_RE_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")

__all__ = ["FastDecoder", "FastJsonUnsupported", "Partial", "decoder_for", "projection_decoder"]

Converter = Callable[[Any], Any]
Decode = Callable[[bytes | str], "dict | None"]

_INT64 = (-(1 << 63), (1 << 63) - 1)  # msgspec's bounds are int64; orjson reads these exactly
_INF = float("inf")
_BUILTINS = (Decimal, date, datetime)
_MEMO_LIMIT = 4096
# Date patterns that say no more than the YYYY-MM-DD check the validator makes anyway,
# so msgspec's native RFC 3339 date (those digits, a real calendar day) is exact.
_PLAIN_DATE_PATTERNS = frozenset({None, r"^\d{4}-\d{2}-\d{2}$", r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"})
_ANNOTATION_KEYS = frozenset(
    {"$schema", "$id", "$defs", "$comment", "title", "description", "default", "examples",
     "deprecated", "readOnly", "writeOnly"}
)
_KEYWORDS = frozenset(
    {"type", "enum", "pattern", "format", "minLength", "maxLength", "minimum", "maximum",
     "properties", "required", "additionalProperties", "patternProperties", "items",
     "minItems", "maxItems", "anyOf", "$ref"}
)
_TYPES = frozenset({"string", "integer", "number", "boolean", "object", "array", "null"})


class FastJsonUnsupported(ValueError):
    """The schema uses something the shortcut cannot check exactly."""


class FastDecoder:
    """Decode + validate + normalise JSON record text in one call; `None` means "not sure"."""

    __slots__ = ("function",)

    function: Decode  # `decode` as a plain function: one attribute lookup less per record

    def __init__(self, schema: dict) -> None:
        b = _Builder(schema)
        strict, lenient, extra = b.root()
        try:
            strict_decode = msgspec.json.Decoder(strict).decode
            lenient_decode = msgspec.json.Decoder(lenient).decode if lenient is not None else None
        except (TypeError, ValueError) as exc:  # a union msgspec cannot decode, for instance
            raise FastJsonUnsupported(str(exc)) from None
        known = frozenset(b.root_keys)
        to_builtins, builtins = msgspec.to_builtins, _BUILTINS

        def extended(text: bytes | str) -> dict | None:
            """Known fields checked as usual, the others kept as orjson reads them (the whole
            text goes through orjson too, so its limits, depth for one, still apply)."""
            try:
                out = to_builtins(lenient_decode(text), builtin_types=builtins)  # type: ignore[misc]
                full = orjson.loads(text)
                if len(out) != len(full.keys() & known):  # every known member was decoded
                    return None
                if json_problem(full) is not None:  # too deep, say: the validator explains
                    return None
                for k, v in full.items():
                    if k not in known:
                        if not extra(k):  # type: ignore[misc]
                            return None
                        out[k] = v
            except Exception:  # noqa: BLE001 - not sure: the slow path decides and explains
                return None
            return out

        def decode(text: bytes | str) -> dict | None:
            try:
                obj = strict_decode(text)
            except Exception:  # noqa: BLE001 - malformed, invalid or merely unusual
                return None if lenient_decode is None else extended(text)
            return to_builtins(obj, builtin_types=builtins)

        self.function = decode

    def decode(self, text: bytes | str) -> dict | None:
        """The normalised record, or None: then use `orjson.loads` + `Validator.validate`."""
        return self.function(text)


# ---------------------------------------------------------------- which validator, which decoder

def decoder_for(validator: Any) -> Decode | None:
    """The shortcut that agrees with `validator.validate`, or None (there is none).

    A plain `Validator` gets a decoder built from its schema (kept on the validator); any
    other object offers one through a `fast_json()` method, or has none."""
    hook = getattr(validator, "fast_json", None)
    if hook is not None:
        return hook()
    if type(validator) is not Validator:
        return None
    return validator.extension("fast_json", _build)


def _build(validator: Validator) -> Decode | None:
    try:
        return FastDecoder(validator.schema).function
    except (FastJsonUnsupported, Untranslatable):
        return None


class Partial(dict):
    """What `projection_decoder` decodes: some fields of a record, not yet known to be valid."""

    __slots__ = ()


def projection_decoder(validator: Any, tree: dict | None) -> Decode | None:
    """A decoder of only the fields named by `tree` (`{"meals": {"payer": {}}, "id": {}}`; a
    leaf keeps the whole value) of a JSON record, with the types and normalisation the full
    decoder gives them: a `Partial` dict, or None (not sure). Every other field is skipped
    unread, so a record it decodes may still be invalid as a whole (the window index files it
    tentatively, `engine.WindowIndex`). None when the schema has no shortcut, or there is no
    `tree` (whole records are needed)."""
    schema = getattr(validator, "schema", None)
    if tree is None or not isinstance(schema, dict):
        return None
    try:
        pruned = _pruned(schema, tree)
        b = _Builder({**pruned, "$defs": schema.get("$defs", {})}, ignore_unknown=True)
        strict, _lenient, _extra = b.root()
        decode = msgspec.json.Decoder(strict).decode
    except (TypeError, ValueError, KeyError):
        return None
    to_builtins, builtins = msgspec.to_builtins, _BUILTINS

    def partial(text: bytes | str) -> dict | None:
        try:
            return Partial(to_builtins(decode(text), builtin_types=builtins))
        except Exception:  # noqa: BLE001 - not sure: the full path decides
            return None

    return partial


def _pruned(node: dict, tree: dict) -> dict:
    """The schema of only the fields named by `tree` (their own checks kept, `required`
    among them kept; `$ref`s left to the full schema's `$defs`)."""
    if not tree or "$ref" in node:
        return node
    if "anyOf" in node:
        return {**node, "anyOf": [b if b == {"type": "null"} else _pruned(b, tree) for b in node["anyOf"]]}
    out = dict(node)
    if isinstance(node.get("properties"), dict):
        props = {k: _pruned(node["properties"][k], sub) for k, sub in tree.items()
                 if k in node["properties"]}
        out["properties"] = props
        out["required"] = [k for k in node.get("required") or [] if k in props]
        out.pop("additionalProperties", None)
        out.pop("patternProperties", None)
    if isinstance(node.get("items"), dict):
        out["items"] = _pruned(node["items"], tree)
    return out


# ---------------------------------------------------------------- conversions (the validator's rules)
# A converter gets a decoded value that is not null and returns the normalised one, or raises.


def _to_decimal(v: Any) -> Any:
    """Money (`x-normalise: decimal`), as the validator normalises it."""
    cls = v.__class__
    if cls is float:
        if v < _INF:  # the lower bound is msgspec's; NaN and inf never decode from JSON
            return Decimal(repr(v))
        raise ValueError("not finite")
    if cls is int:
        return Decimal(v)
    if cls is str:  # strings have passed the pattern and length checks
        d = Decimal(v.strip())
        if not d.is_finite():
            raise ValueError("not finite")
        return d
    return v  # another type of the union (a boolean, say): kept as it is


def _parser(rx: re.Pattern[str] | None, parse: Converter) -> Converter:
    """Pattern check and parse of a date or date-time string, memoised (batches repeat
    their dates: a hit is a dict lookup instead of a regular expression and a parse)."""
    search = rx.search if rx is not None else None
    cache: dict[str, Any] = {}
    get = cache.get

    def convert(v: str) -> Any:
        out = get(v)
        if out is None:
            if search is not None and search(v) is None:
                raise ValueError("pattern")
            out = parse(v)
            if len(cache) >= _MEMO_LIMIT:
                cache.clear()
            cache[v] = out
        return out

    return convert


def _aware_datetime(v: str) -> datetime:
    dt = parse_datetime(v)
    if dt is None or v[17:19] == "60":  # leap seconds: the validator decides
        raise ValueError("not an RFC 3339 date-time")
    return dt


def _checked_date(v: str) -> date:
    if not _RE_DATE.match(v):
        raise ValueError("not YYYY-MM-DD")
    return date.fromisoformat(v)


def _only(cls: type, conv: Converter) -> Converter:
    def convert(v: Any) -> Any:
        return conv(v) if v.__class__ is cls else v

    return convert


def _each(conv: Converter) -> Converter:
    def convert(v: list) -> list:
        return [x if x is None else conv(x) for x in v]

    return convert


def _post_init(pairs: tuple[tuple[str, Converter], ...]) -> Callable[[Any], None]:
    """The struct's `__post_init__`: convert the fields that need it (closures, no exec)."""
    unset = msgspec.UNSET
    if len(pairs) == 1:
        ((attr, conv),) = pairs

        def one(self: Any) -> None:
            v = getattr(self, attr)
            if v is not None and v is not unset:
                setattr(self, attr, conv(v))

        return one

    def many(self: Any) -> None:
        for attr, conv in pairs:
            v = getattr(self, attr)
            if v is not None and v is not unset:
                setattr(self, attr, conv(v))

    return many


# ---------------------------------------------------------------- building the types


class _Builder:
    def __init__(self, schema: dict, ignore_unknown: bool = False) -> None:
        self.schema = schema
        self.ignore_unknown = ignore_unknown  # every object ignores keys it does not name
        self.refs: dict[str, tuple[Any, Converter | None]] = {}
        self.in_progress: set[str] = set()
        self.count = 0
        self.root_keys: list[str] = []

    def root(self) -> tuple[Any, Any, Callable[[str], bool] | None]:
        """(strict struct, lenient struct or None, which extra keys to keep as they are)."""
        node = self.schema
        if not isinstance(node, dict) or node.get("type") not in ("object", ["object"]):
            raise FastJsonUnsupported("the root must be an object")
        self.check_keywords(node)
        if "$ref" in node or "anyOf" in node:
            raise FastJsonUnsupported("a root with $ref or anyOf")
        strict, lenient = self.object(node, lenient=True)
        self.root_keys = list(node.get("properties") or {})
        extra = _extra_keys(node)
        return strict, (lenient if extra is not None else None), extra

    def check_keywords(self, node: dict) -> None:
        for kw in node:
            if kw not in _KEYWORDS and kw not in _ANNOTATION_KEYS and not kw.startswith("x-"):
                raise FastJsonUnsupported(f"keyword {kw!r}")
        if node.get("x-normalise") not in (None, "decimal"):
            raise FastJsonUnsupported(f"x-normalise {node['x-normalise']!r}")

    def build(self, node: Any) -> tuple[Any, Converter | None]:
        """(msgspec type, converter for its non-null values or None)."""
        if not isinstance(node, dict) or not node:
            raise FastJsonUnsupported(f"schema node {node!r} accepts anything")
        self.check_keywords(node)
        validation = [k for k in node if k in _KEYWORDS]
        if "$ref" in node:
            if len(validation) > 1:
                raise FastJsonUnsupported("$ref with siblings")
            return self.ref(node["$ref"])
        if "anyOf" in node:
            if len(validation) > 1:
                raise FastJsonUnsupported("anyOf with siblings")
            return self.any_of(node["anyOf"])
        return self.typed(node)

    def ref(self, ref: str) -> tuple[Any, Converter | None]:
        if ref in self.refs:
            return self.refs[ref]
        if ref in self.in_progress or not ref.startswith("#/"):
            raise FastJsonUnsupported(f"$ref {ref!r}")
        target: Any = self.schema
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, dict) or part not in target:
                raise FastJsonUnsupported(f"unresolvable $ref {ref!r}")
            target = target[part]
        self.in_progress.add(ref)
        out = self.build(target)
        self.in_progress.discard(ref)
        self.refs[ref] = out
        return out

    def any_of(self, branches: Any) -> tuple[Any, Converter | None]:
        # Only the nullable idiom, recognised exactly as the validator recognises it.
        if not isinstance(branches, list) or len(branches) != 2:
            raise FastJsonUnsupported("anyOf other than [X, null]")
        nulls = [i for i, b in enumerate(branches) if b == {"type": "null"}]
        if len(nulls) != 1:
            raise FastJsonUnsupported("anyOf other than [X, null]")
        tp, conv = self.build(branches[1 - nulls[0]])
        return Optional[tp], conv  # noqa: UP045 - a type built at run time; converters never see null

    def typed(self, node: dict) -> tuple[Any, Converter | None]:
        types = node.get("type")
        if isinstance(types, str):
            types = [types]
        if not isinstance(types, list) or not types or not set(types) <= _TYPES:
            raise FastJsonUnsupported(f"type {types!r}")
        enum = node.get("enum")
        if enum is not None:
            if not isinstance(enum, list) or any(e is not None and not isinstance(e, str) for e in enum):
                raise FastJsonUnsupported("enum of other than strings and null")
            if any(t in types for t in ("integer", "number", "boolean", "object", "array")):
                raise FastJsonUnsupported("enum on a non-string type")
        decimal = node.get("x-normalise") == "decimal"
        members: list[Any] = []
        convs: dict[type, Converter] = {}
        if "string" in types:
            tp, cls, conv = self.string(node, enum)
            if tp is not None:
                members.append(tp)
            if conv is not None:
                convs[cls] = conv
        if "number" in types or "integer" in types:
            members.extend(self.numbers(node, integer="number" not in types))
        if "boolean" in types:
            members.append(bool)
        if "object" in types:
            members.append(self.object(node)[0])
        if "array" in types:
            tp, conv = self.array(node)
            members.append(tp)
            if conv is not None:
                convs[list] = conv
        if "null" in types and (enum is None or None in enum):
            members.append(None)
        if not members:
            raise FastJsonUnsupported("no value is allowed")
        out = members[0] if len(members) == 1 else Union[tuple(members)]  # noqa: UP007
        if decimal:
            if convs:
                raise FastJsonUnsupported("decimal with other conversions")
            return out, _to_decimal
        if not convs:
            return out, None
        if len([m for m in members if m is not None]) == 1:  # one class: no dispatch needed
            return out, next(iter(convs.values()))
        if len(convs) == 1:
            ((cls, conv),) = convs.items()
            return out, _only(cls, conv)
        raise FastJsonUnsupported("several conversions in one union")

    def string(self, node: dict, enum: list | None) -> tuple[Any, type, Converter | None]:
        """(type, or None when no string is allowed; class it decodes to; converter)."""
        pattern = node.get("pattern")
        min_len, max_len = node.get("minLength"), node.get("maxLength")
        for bound in (min_len, max_len):
            if bound is not None and (not isinstance(bound, int) or isinstance(bound, bool)):
                raise FastJsonUnsupported("a non-integer length bound")
        fmt = {"date": "date", "date-time": "datetime"}.get(str(node.get("format")))
        decimal = node.get("x-normalise") == "decimal"
        rx = ecma_regex(pattern) if pattern is not None else None
        if enum is not None:
            if fmt is not None or decimal:
                raise FastJsonUnsupported("enum with a format or decimal")
            # The validator checks the other string keywords too: keep the values that pass.
            vals = tuple(
                e for e in enum if isinstance(e, str)
                and (min_len is None or len(e) >= min_len)
                and (max_len is None or len(e) <= max_len)
                and (rx is None or rx.search(e))
            )
            return (Literal[vals] if vals else None), str, None
        lengths: dict[str, Any] = {}
        if min_len is not None:
            lengths["min_length"] = min_len
        if max_len is not None:
            lengths["max_length"] = max_len
        if fmt is not None:
            if decimal:
                raise FastJsonUnsupported("a decimal date or date-time")
            if fmt == "date" and pattern in _PLAIN_DATE_PATTERNS and not lengths:
                return date, date, None
            parse = _aware_datetime if fmt == "datetime" else _checked_date
            text = Annotated[str, msgspec.Meta(**lengths)] if lengths else str
            return text, str, _parser(rx, parse)
        meta = dict(lengths)
        if rx is not None:
            meta["pattern"] = "(?a)" + rx.pattern  # msgspec runs re.search without flags
        return (Annotated[str, msgspec.Meta(**meta)] if meta else str), str, None

    def numbers(self, node: dict, integer: bool) -> list[Any]:
        lo, hi = node.get("minimum"), node.get("maximum")
        for bound in (lo, hi):
            if bound is not None and (not isinstance(bound, int) or isinstance(bound, bool)):
                raise FastJsonUnsupported("a non-integer numeric bound")
        # Beyond int64 orjson may read an integer as a float: not ours to decide.
        ge = _INT64[0] if lo is None else max(lo, _INT64[0])
        le = _INT64[1] if hi is None else min(hi, _INT64[1])
        if ge > le:
            raise FastJsonUnsupported("an empty integer range")
        out: list[Any] = [Annotated[int, msgspec.Meta(ge=ge, le=le)]]
        if not integer:
            meta = {k: b for k, b in (("ge", lo), ("le", hi)) if b is not None}
            out.append(Annotated[float, msgspec.Meta(**meta)] if meta else float)
        return out

    def object(self, node: dict, lenient: bool = False) -> tuple[Any, Any]:
        """(struct refusing unknown keys, and with `lenient` one ignoring them, else None)."""
        props = node.get("properties") or {}
        required = node.get("required") or []
        if not isinstance(props, dict) or not isinstance(required, list):
            raise FastJsonUnsupported("malformed properties or required")
        if not set(required) <= set(props):
            raise FastJsonUnsupported("a required key that is not a property")
        # additionalProperties / patternProperties: unknown keys are refused here (the
        # validator may keep them): such records fall back, or, at the root, go the lenient way.
        fields: list[tuple] = []
        rename: dict[str, str] = {}
        post: list[tuple[str, Converter]] = []
        for i, (key, sub) in enumerate(props.items()):
            attr = f"f{i}"  # own names: no clash with keywords or Struct attributes
            rename[attr] = key
            tp, conv = self.build(sub)
            if key in required:
                fields.append((attr, tp))
            else:
                fields.append((attr, Union[tp, msgspec.UnsetType], msgspec.UNSET))  # noqa: UP007
            if conv is not None:
                post.append((attr, conv))
        self.count += 1
        options: dict[str, Any] = {
            "rename": rename,
            "namespace": {"__post_init__": _post_init(tuple(post))} if post else None,
            "kw_only": True,
            "gc": False,  # no cycles; they are turned into dicts at once
            "module": __name__,
        }
        strict = msgspec.defstruct(f"Strict{self.count}", fields,
                                   forbid_unknown_fields=not self.ignore_unknown, **options)
        loose = msgspec.defstruct(f"Lenient{self.count}", fields, **options) if lenient else None
        return strict, loose

    def array(self, node: dict) -> tuple[Any, Converter | None]:
        if "items" not in node:
            raise FastJsonUnsupported("an array without items")
        item, conv = self.build(node["items"])
        meta: dict[str, Any] = {}
        for kw, name in (("minItems", "min_length"), ("maxItems", "max_length")):
            if kw in node:
                bound = node[kw]
                if not isinstance(bound, int) or isinstance(bound, bool):
                    raise FastJsonUnsupported(f"{kw} {bound!r}")
                meta[name] = bound
        tp = list[item]  # type: ignore[valid-type]
        return (Annotated[tp, msgspec.Meta(**meta)] if meta else tp), (
            None if conv is None else _each(conv))


def _accepts_anything(sub: Any) -> bool:
    """True or a schema of annotations only: the validator keeps any value as it is."""
    return sub is True or (isinstance(sub, dict) and set(sub) <= _ANNOTATION_KEYS)


def _extra_keys(node: dict) -> Callable[[str], bool] | None:
    """For the root: which keys outside `properties` the validator keeps exactly as read
    (a matching pattern, or else `additionalProperties`, that accepts anything);
    None when no such key exists."""
    patterns = node.get("patternProperties") or {}
    if not isinstance(patterns, dict):
        raise FastJsonUnsupported("malformed patternProperties")
    extra = node.get("additionalProperties", True)
    compiled = [(ecma_regex(p).search, _accepts_anything(s)) for p, s in patterns.items()]
    otherwise = _accepts_anything(extra)
    if not otherwise and not any(ok for _, ok in compiled):
        return None

    def keep(key: str) -> bool:
        hits = [ok for search, ok in compiled if search(key)]
        return all(hits) if hits else otherwise

    return keep
