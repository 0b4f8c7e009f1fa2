"""A fast validator for interaction records that also normalises them.

The validator is compiled once from the record JSON Schema (draft 2020-12
subset) into nested closures and type-dispatch tables; nothing here names a
record field. `Validator.validate(raw)` returns a normalised copy (money as
`Decimal`, dates as `datetime.date`, datetimes as aware `datetime.datetime`)
or `None` plus every error found, each with a JSON path and a zh/en message.

Semantics follow JSON Schema with ECMA-262 regular expressions: `\\d` means
ASCII digits and `$` means end of string (the reference `jsonschema` package
uses Python's `re`, which is laxer on both). Supported keywords: `type`,
`enum`, `pattern`, `format` (date, date-time), `minLength`, `maxLength`,
`minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`, `properties`,
`required`, `additionalProperties`, `patternProperties`, `items`,
`minItems`, `maxItems`, `anyOf`, `$ref` (local). Any other validation
keyword makes compilation fail rather than be silently ignored.

Schema annotations used here: `x-normalise: decimal` (money), `x-error-code`
(error code for a failed pattern), `x-format-hint` ({zh, en} hint appended to
pattern messages), `x-enum-labels` (labels recognised as did-you-mean input).
"""

from __future__ import annotations

import contextlib
import difflib
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from importlib import resources
from typing import Any

__all__ = [
    "RecordError",
    "SchemaCompileError",
    "Validator",
    "compile_validator",
    "default_validator",
    "load_schema",
    "render_path",
]

SCHEMA_RESOURCE = "record.schema.json"

# Paths are chains of (parent, key) tuples, rendered only when an error occurs.
Handler = Callable[[Any, Any, Any, list], Any]


@dataclass(frozen=True, slots=True)
class RecordError:
    """One problem found in one record."""

    path: str
    code: str
    message_zh: str
    message_en: str

    def message(self, lang: str = "zh") -> str:
        return self.message_en if lang == "en" else self.message_zh

    def describe(self, lang: str = "zh") -> str:
        """`path: message`, the form shown to users."""
        return f"{self.path}: {self.message(lang)}"

    def to_dict(self) -> dict[str, str]:
        return {
            "path": self.path,
            "code": self.code,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
        }


class SchemaCompileError(ValueError):
    """The schema uses something this validator does not implement."""


# ---------------------------------------------------------------- paths

_SIMPLE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def render_path(parent: Any, key: Any = None) -> str:
    """Render a (parent, key) chain as a JSON path such as `$.meals[0].payer`."""
    keys = [] if key is None else [key]
    node = parent
    while node is not None:
        node, k = node
        if k is not None:
            keys.append(k)
    out = ["$"]
    for k in reversed(keys):
        if isinstance(k, int):
            out.append(f"[{k}]")
        elif isinstance(k, str) and _SIMPLE_KEY.match(k):
            out.append("." + k)
        else:
            out.append("[" + json.dumps(str(k), ensure_ascii=False) + "]")
    return "".join(out)


# ---------------------------------------------------------------- messages

_TYPE_NAMES = {
    "string": ("字符串", "a string"),
    "integer": ("整数", "an integer"),
    "number": ("数字", "a number"),
    "boolean": ("布尔值（true/false）", "a boolean (true/false)"),
    "object": ("对象", "an object"),
    "array": ("数组", "an array"),
    "null": ("空值（null）", "null"),
}


_GOT_NAMES = {"boolean": ("布尔值", "a boolean")}


def _json_type(v: Any) -> str:
    if v is None:
        return "null"
    if v is True or v is False:
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, (float, Decimal)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, dict):
        return "object"
    if isinstance(v, (list, tuple)):
        return "array"
    return type(v).__name__


def _show(v: Any, limit: int = 60) -> str:
    """A short display of a value for messages."""
    if isinstance(v, str):
        s = v if len(v) <= limit else v[: limit - 1] + "…"
        return "'" + s + "'"
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float, Decimal)):
        s = repr(v) if isinstance(v, float) else str(v)
        return s if len(s) <= limit else s[: limit - 1] + "…"
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    if isinstance(v, dict):
        return "{…}"
    if isinstance(v, (list, tuple)):
        return "[…]"
    return type(v).__name__


def _closest(value: str, candidates: list[str]) -> str | None:
    if not candidates:
        return None
    hits = difflib.get_close_matches(value, candidates, n=1, cutoff=0.6)
    if hits:
        return hits[0]
    low = value.lower()
    hits = difflib.get_close_matches(low, candidates, n=1, cutoff=0.6)
    return hits[0] if hits else None


def _listing(values: list[str], sep: str, limit: int = 12) -> str:
    shown = values[:limit]
    more = "…" if len(values) > limit else ""
    return sep.join(shown) + more


class _Msg:
    """Error constructors; each returns a RecordError."""

    @staticmethod
    def type(
        parent: Any,
        key: Any,
        v: Any,
        expected: list[str],
        quote_hint: bool = False,
        hint: dict | None = None,
    ) -> RecordError:
        exp = [t for t in expected if t != "null"] or expected
        zh_exp = "应为" + "或".join(_TYPE_NAMES.get(t, (t, t))[0] for t in exp)
        en_exp = "expected " + " or ".join(_TYPE_NAMES.get(t, (t, t))[1] for t in exp)
        if hint:  # e.g. money: say what an amount looks like, not "number or string"
            zh_exp, en_exp = hint.get("zh", zh_exp), hint.get("en", en_exp)
        got = _json_type(v)
        zh_got, en_got = _GOT_NAMES.get(got, _TYPE_NAMES.get(got, (got, got)))
        shown = "" if v is None else " " + _show(v)
        zh = f"{zh_exp}，实际为{zh_got}{shown}"
        en = f"{en_exp}, got {en_got}{shown}"
        if quote_hint and isinstance(v, int) and not isinstance(v, bool):
            zh += f'；如为代码或编号，请加引号："{v}"'
            en += f'; if this is a code, quote it: "{v}"'
        elif "boolean" in exp and isinstance(v, str) and v.strip().lower() in ("true", "false"):
            zh += "；布尔值请写 true 或 false，不加引号"
            en += "; write true or false without quotes"
        return RecordError(render_path(parent, key), "type", zh, en)

    @staticmethod
    def enum(parent: Any, key: Any, v: Any, allowed: list[Any], labels: dict) -> RecordError:
        strs = [a for a in allowed if isinstance(a, str)]
        guess = None
        if isinstance(v, str):
            for code, lab in labels.items():  # the value is a label, e.g. '企业'
                if isinstance(lab, dict) and v.strip() in (lab.get("zh"), lab.get("en")):
                    guess = code
                    break
            if guess is None:
                guess = _closest(v, strs)
        if guess is not None:
            zh = f"取值 {_show(v)} 不在允许范围内，是否为 '{guess}'？"
            en = f"value {_show(v)} is not allowed; did you mean '{guess}'?"
        else:
            zh = f"取值 {_show(v)} 不在允许范围内；允许的取值：{_listing(strs, '、')}"
            en = f"value {_show(v)} is not allowed; allowed values: {_listing(strs, ', ')}"
        return RecordError(render_path(parent, key), "enum", zh, en)

    @staticmethod
    def required(parent: Any, key: str) -> RecordError:
        return RecordError(
            render_path(parent, key),
            "required",
            f"缺少必填字段 '{key}'",
            f"required field '{key}' is missing",
        )

    @staticmethod
    def unknown(parent: Any, key: Any, known: list[str]) -> RecordError:
        k = str(key)
        guess = _closest(k, known)
        if guess is not None:
            zh = f"未知字段 '{k}'，是否为 '{guess}'？"
            en = f"unknown field '{k}'; did you mean '{guess}'?"
        else:
            zh = f"未知字段 '{k}'，模式中没有定义"
            en = f"unknown field '{k}' is not defined in the schema"
        return RecordError(render_path(parent, key), "unknown_field", zh, en)

    @staticmethod
    def bound(parent: Any, key: Any, v: Any, code: str, limit: Any) -> RecordError:
        zh_rel, en_rel = {
            "minimum": ("小于最小值", "is below the minimum"),
            "maximum": ("大于最大值", "is above the maximum"),
            "exclusive_minimum": ("应大于", "must be greater than"),
            "exclusive_maximum": ("应小于", "must be less than"),
        }[code]
        zh = f"取值 {_show(v)} {zh_rel} {limit}"
        en = f"value {_show(v)} {en_rel} {limit}"
        return RecordError(render_path(parent, key), code, zh, en)

    @staticmethod
    def length(parent: Any, key: Any, n: int, code: str, limit: int, what: str) -> RecordError:
        unit_zh, unit_en = ("个字符", "characters") if what == "string" else ("项", "items")
        if code == "min_length" and n == 0:
            zh, en = "不能为空", "must not be empty"
        elif code in ("max_length", "max_items"):
            zh = f"长度 {n} 超过上限 {limit} {unit_zh}"
            en = f"length {n} exceeds the limit of {limit} {unit_en}"
        else:
            zh = f"长度 {n} 少于下限 {limit} {unit_zh}"
            en = f"length {n} is below the minimum of {limit} {unit_en}"
        return RecordError(render_path(parent, key), code, zh, en)


def _hint_detail(code: str, v: str) -> tuple[str, str]:
    """Extra, value-specific advice for some pattern failures."""
    if code == "uscc_format":
        s = v.strip()
        if re.fullmatch(r"[1-9][0-9]{14}", s):
            return (
                "；这是2015年以前的15位注册号，请填入 enterprise.legacy_registration_no",
                (
                    "; this looks like a pre-2015 15-digit registration number: "
                    "put it in enterprise.legacy_registration_no"
                ),
            )
        if len(s) != 18:
            return (f"（实际为 {len(s)} 位）", f" (got {len(s)} characters)")
        if s != s.upper():
            return ("；字母应为大写", "; letters must be upper case")
        bad = sorted({c for c in s if c in "IOSVZ"})
        if bad:
            return (
                f"；含有不使用的字母 {'、'.join(bad)}",
                f"; contains the unused letter(s) {', '.join(bad)}",
            )
    if code == "money" and v.strip().startswith("-"):
        return ("；金额不得为负", "; amounts cannot be negative")
    return ("", "")


# ---------------------------------------------------------------- compilation

_IDENT = object()  # handler sentinel: value is valid and kept as is


class _Fail(Exception):
    """Raised by the fast path; the detailed path then says what is wrong."""


_ANNOTATIONS = frozenset(
    {
        "$schema",
        "$id",
        "$defs",
        "$comment",
        "title",
        "description",
        "default",
        "examples",
        "deprecated",
        "readOnly",
        "writeOnly",
    }
)
_VALIDATION = frozenset(
    {
        "type",
        "enum",
        "pattern",
        "format",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "properties",
        "required",
        "additionalProperties",
        "patternProperties",
        "items",
        "minItems",
        "maxItems",
        "anyOf",
        "$ref",
    }
)
_ALL_TYPES = ("string", "integer", "number", "boolean", "object", "array", "null")
_RE_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_NONE_TYPE = type(None)
_INF = float("inf")


def _ecma_regex(pattern: str) -> re.Pattern[str]:
    """Compile an ECMA-262 pattern: ASCII classes, `$` only at end of input."""
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "$":
            c = r"\Z"
        out.append(c)
        i += 1
    return re.compile("".join(out), re.ASCII)


@dataclass(slots=True)
class _Node:
    """A compiled schema node.

    Two paths share one compilation: the *fast* path (`fast(v)`) returns the
    normalised value or raises, and does no bookkeeping; the *detailed* path
    (`call`) collects every error with its JSON path. The validator runs the
    fast path first and falls back to the detailed one only when it fails, so
    the detailed path is the reference and the fast one a shortcut.
    `typeset` / `allowed` are set when the whole check is "the value's class is
    in this set" / "the value is in this set"; containers then check such
    members without a function call.
    """

    table: dict[type, Any]
    fallback: Handler
    ftable: dict[type, Any] | None  # None when `fast` is not table-driven
    fast: Callable[[Any], Any]
    typeset: frozenset | None = None
    allowed: frozenset | None = None

    def call(self, v: Any, parent: Any, key: Any, errs: list) -> Any:
        h = self.table.get(v.__class__)
        if h is None:
            return self.fallback(v, parent, key, errs)
        if h is _IDENT:
            return v
        return h(v, parent, key, errs)


def _make_fast(ftable: dict[type, Any]) -> Callable[[Any], Any]:
    get = ftable.get

    def fast(v: Any) -> Any:
        h = get(v.__class__)
        if h is None:
            raise _Fail
        if h is _IDENT:
            return v
        return h(v)

    return fast


_MEMO_LIMIT = 4096
_MISS = object()


def _memo(f: Callable[[str], Any]) -> Callable[[str], Any]:
    """Remember successful results of a fast string check (bounded).

    Batches repeat dates, codes and amounts; a hit costs one dict lookup
    instead of a regular expression and a parse. Only immutable results
    (str, date, datetime, Decimal) go through here; failures are not kept.
    """
    cache: dict[str, Any] = {}
    get = cache.get

    def fast(v: str) -> Any:
        r = get(v, _MISS)
        if r is _MISS:
            r = f(v)
            if len(cache) >= _MEMO_LIMIT:
                cache.clear()
            cache[v] = r
        return r

    return fast


def _finite(x: float) -> bool:
    return not (math.isinf(x) or math.isnan(x))


def _fail(v: Any) -> Any:
    raise _Fail


class _Compiler:
    def __init__(self, root: dict) -> None:
        self.root = root
        self.refs: dict[str, _Node] = {}
        self.in_progress: set[str] = set()

    # -- entry points

    def compile(self, node: Any) -> _Node:
        if node is True or node == {}:
            table = _any_table()
            return _Node(table, _accept, table, _make_fast(table), typeset=frozenset(table))
        if node is False:
            return _Node({}, _reject_all, None, _fail)
        if not isinstance(node, dict):
            raise SchemaCompileError(f"schema node must be an object, got {node!r}")
        for kw in node:
            if kw not in _VALIDATION and kw not in _ANNOTATIONS and not kw.startswith("x-"):
                raise SchemaCompileError(f"unsupported schema keyword {kw!r}")
        validation = [k for k in node if k in _VALIDATION]
        if "$ref" in node:
            if len(validation) > 1:
                raise SchemaCompileError("$ref with sibling validation keywords is not supported")
            return self._ref(node["$ref"])
        if "anyOf" in node:
            if len(validation) > 1:
                raise SchemaCompileError("anyOf with sibling validation keywords is not supported")
            return self._any_of(node["anyOf"])
        return self._typed(node)

    def _ref(self, ref: str) -> _Node:
        if ref in self.refs:
            return self.refs[ref]
        if ref in self.in_progress:
            raise SchemaCompileError(f"recursive $ref {ref!r} is not supported")
        if not ref.startswith("#/"):
            raise SchemaCompileError(f"only local $ref is supported: {ref!r}")
        target: Any = self.root
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, dict) or part not in target:
                raise SchemaCompileError(f"unresolvable $ref {ref!r}")
            target = target[part]
        self.in_progress.add(ref)
        compiled = self.compile(target)
        self.in_progress.discard(ref)
        self.refs[ref] = compiled
        return compiled

    def _any_of(self, branches: list) -> _Node:
        compiled = [self.compile(b) for b in branches]
        nulls = [i for i, b in enumerate(branches) if b == {"type": "null"}]
        if len(branches) == 2 and len(nulls) == 1:  # the nullable idiom
            inner = compiled[1 - nulls[0]]
            table = dict(inner.table)
            table[_NONE_TYPE] = _IDENT
            if inner.ftable is not None:
                ftable: dict[type, Any] | None = dict(inner.ftable)
                ftable[_NONE_TYPE] = _IDENT
                fast = _make_fast(ftable)
            else:
                ftable, inner_fast = None, inner.fast

                def fast(v: Any) -> Any:
                    return None if v is None else inner_fast(v)

            return _Node(
                table,
                inner.fallback,
                ftable,
                fast,
                typeset=None if inner.typeset is None else inner.typeset | {_NONE_TYPE},
                allowed=None if inner.allowed is None else inner.allowed | {None},
            )
        main = [c for i, c in enumerate(compiled) if i not in nulls]

        def any_of(v: Any, parent: Any, key: Any, errs: list) -> Any:
            first: list | None = None
            for c in compiled:
                trial: list = []
                out = c.call(v, parent, key, trial)
                if not trial:
                    return out
                if first is None or (len(main) == 1 and c is main[0]):
                    first = trial
            if len(main) == 1 and first is not None:
                errs.extend(first)
            else:
                errs.append(
                    RecordError(
                        render_path(parent, key),
                        "any_of",
                        f"取值 {_show(v)} 不符合任何允许的形式",
                        f"value {_show(v)} matches none of the allowed forms",
                    )
                )
            return None

        fasts = [c.fast for c in compiled]

        def fast_any_of(v: Any) -> Any:
            for f in fasts:
                with contextlib.suppress(Exception):  # any failure: try the next branch
                    return f(v)
            raise _Fail

        return _Node({}, any_of, None, fast_any_of)

    # -- typed nodes

    def _typed(self, node: dict) -> _Node:
        types = node.get("type", list(_ALL_TYPES))
        if isinstance(types, str):
            types = [types]
        for t in types:
            if t not in _ALL_TYPES:
                raise SchemaCompileError(f"unknown type {t!r}")
        enum = node.get("enum")
        labels = node.get("x-enum-labels") or {}
        table: dict[type, Any] = {}
        ftable: dict[type, Any] = {}
        pure_enum = False
        if "string" in types:
            table[str], ftable[str], pure_enum = self._string(node, enum, labels)
            fmt = node.get("format")
            if fmt == "date":
                table[date] = ftable[date] = _IDENT
                table[datetime] = _datetime_for_date
            elif fmt == "date-time":
                table[datetime] = _aware_datetime_object
                ftable[datetime] = _fast_aware_datetime
        if "integer" in types or "number" in types:
            detailed, fast = self._number(node, enum, labels, integer="number" not in types)
            for cls in (int, float, Decimal):
                table[cls], ftable[cls] = detailed, fast
        for name, cls in (("boolean", bool), ("null", _NONE_TYPE)):
            if name in types:
                if (
                    enum is None
                    or (cls is _NONE_TYPE and _json_in(None, enum))
                    or (cls is bool and _json_in(True, enum) and _json_in(False, enum))
                ):
                    table[cls] = ftable[cls] = _IDENT
                else:
                    table[cls], ftable[cls] = _enum_check(enum, labels), _fast_enum(enum)
        if "object" in types:
            table[dict], ftable[dict] = self._object(node)
        if "array" in types:
            table[list], ftable[list] = self._array(node)
        expected = list(types)
        quote_hint = "pattern" in node and node.get("x-normalise") is None
        type_hint = node.get("x-format-hint") if node.get("x-normalise") else None

        def fallback(v: Any, parent: Any, key: Any, errs: list) -> Any:
            for base in type(v).__mro__[1:]:  # subclasses of the JSON types
                h = table.get(base)
                if h is not None and base is not object:
                    if base is int and isinstance(v, bool):
                        break
                    return v if h is _IDENT else h(v, parent, key, errs)
            errs.append(_Msg.type(parent, key, v, expected, quote_hint, type_hint))
            return None

        typeset = frozenset(ftable) if all(h is _IDENT for h in ftable.values()) else None
        allowed = None
        others = set(ftable) - {str, _NONE_TYPE}
        if pure_enum and not others and ftable.get(_NONE_TYPE, _IDENT) is _IDENT:
            vals = {e for e in enum if isinstance(e, str)}
            if "null" in types:
                vals.add(None)
            allowed = frozenset(vals)
        return _Node(table, fallback, ftable, _make_fast(ftable), typeset=typeset, allowed=allowed)

    def _string(self, node: dict, enum: list | None, labels: dict) -> tuple[Any, Any, bool]:
        """(detailed handler, fast handler, whether membership is the whole check)."""
        min_len = node.get("minLength")
        max_len = node.get("maxLength")
        rx = _ecma_regex(node["pattern"]) if "pattern" in node else None
        fmt = node.get("format")
        fmt_code = {"date": "date", "date-time": "datetime"}.get(fmt) if fmt else None
        code = node.get("x-error-code") or fmt_code or "pattern"
        hint = node.get("x-format-hint") or {}
        to_decimal = node.get("x-normalise") == "decimal"
        allowed = None if enum is None else frozenset(e for e in enum if isinstance(e, str))
        enum_list = enum
        pattern_src = node.get("pattern")
        constrained = any(x is not None for x in (min_len, max_len, rx, fmt_code)) or to_decimal
        if not constrained and allowed is None:
            return _IDENT, _IDENT, False
        if not constrained:

            def fast_enum(v: str) -> Any:
                if v in allowed:
                    return v
                raise _Fail

            def check_enum(v: str, parent: Any, key: Any, errs: list) -> Any:
                if v in allowed:
                    return v
                errs.append(_Msg.enum(parent, key, v, enum_list, labels))
                return None

            return check_enum, fast_enum, True

        def pattern_error(v: str, parent: Any, key: Any) -> RecordError:
            if fmt_code == "datetime" and _naive_iso(v):
                return _naive_error(parent, key, v)
            dz, de = _hint_detail(code, v)
            if hint:
                zh = f"取值 {_show(v)} 格式不正确：{hint.get('zh', '')}{dz}"
                en = f"value {_show(v)} is malformed: {hint.get('en', '')}{de}"
            else:
                zh = f"取值 {_show(v)} 不符合格式 {pattern_src}{dz}"
                en = f"value {_show(v)} does not match {pattern_src}{de}"
            return RecordError(render_path(parent, key), code, zh, en)

        def check(v: str, parent: Any, key: Any, errs: list) -> Any:
            if allowed is not None and v not in allowed:
                errs.append(_Msg.enum(parent, key, v, enum_list, labels))
                return None
            n = len(v)
            if max_len is not None and n > max_len:
                errs.append(_Msg.length(parent, key, n, "max_length", max_len, "string"))
                return None
            if min_len is not None and n < min_len:
                errs.append(_Msg.length(parent, key, n, "min_length", min_len, "string"))
                return None
            if rx is not None and rx.search(v) is None:
                errs.append(pattern_error(v, parent, key))
                return None
            if fmt_code == "date":
                if not _RE_DATE.match(v):
                    errs.append(_format_error(parent, key, v, "date", hint))
                    return None
                try:
                    return date.fromisoformat(v)
                except ValueError:
                    errs.append(_calendar_error(parent, key, v, "date"))
                    return None
            if fmt_code == "datetime":
                return _parse_datetime(v, parent, key, errs)
            if to_decimal:
                try:
                    return Decimal(v)
                except InvalidOperation:
                    errs.append(pattern_error(v, parent, key))
                    return None
            return v

        search = rx.search if rx is not None else None
        if fmt_code == "date" and allowed is None and min_len is None and max_len is None:

            def fast_date(v: str) -> Any:
                if (search is None or search(v)) and _RE_DATE.match(v):
                    return date.fromisoformat(v)
                raise _Fail

            return check, _memo(fast_date), False
        if fmt_code == "datetime" and allowed is None and min_len is None and max_len is None:

            def fast_datetime(v: str) -> Any:
                if search is None or search(v):
                    dt = datetime.fromisoformat(v)
                    if dt.tzinfo is not None:
                        return dt
                raise _Fail

            return check, _memo(fast_datetime), False
        if to_decimal and fmt_code is None and allowed is None and min_len is None:
            limit = max_len if max_len is not None else 1 << 30

            def fast_decimal(v: str) -> Any:
                if len(v) <= limit and (search is None or search(v)):
                    return Decimal(v)
                raise _Fail

            return check, _memo(fast_decimal), False
        if fmt_code is None and not to_decimal and allowed is None:
            lo = min_len if min_len is not None else 0
            hi = max_len if max_len is not None else 1 << 30

            def fast_text(v: str) -> Any:
                if lo <= len(v) <= hi and (search is None or search(v)):
                    return v
                raise _Fail

            return check, (fast_text if search is None else _memo(fast_text)), False

        def fast_general(v: str) -> Any:
            errs: list = []
            out = check(v, None, None, errs)
            if errs:
                raise _Fail
            return out

        return check, fast_general, False

    def _number(
        self, node: dict, enum: list | None, labels: dict, integer: bool
    ) -> tuple[Handler, Callable[[Any], Any]]:
        lo = node.get("minimum")
        hi = node.get("maximum")
        xlo = node.get("exclusiveMinimum")
        xhi = node.get("exclusiveMaximum")
        to_decimal = node.get("x-normalise") == "decimal"
        code = node.get("x-error-code") or "type"
        hint = node.get("x-format-hint") or {}
        expected = ["integer"] if integer else ["number"]

        def check(v: Any, parent: Any, key: Any, errs: list) -> Any:
            cls = v.__class__
            if cls is float:
                if not _finite(v):
                    errs.append(_nonfinite_error(parent, key, v, code, hint))
                    return None
                if integer:
                    if not v.is_integer():
                        errs.append(_Msg.type(parent, key, v, expected))
                        return None
                    v = int(v)
            elif cls is Decimal:
                if not v.is_finite():
                    errs.append(_nonfinite_error(parent, key, v, code, hint))
                    return None
                if integer:
                    if v != v.to_integral_value():
                        errs.append(_Msg.type(parent, key, v, expected))
                        return None
                    v = int(v)
            if enum is not None and not _json_in(v, enum):
                errs.append(_Msg.enum(parent, key, v, enum, labels))
                return None
            if lo is not None and v < lo:
                errs.append(_Msg.bound(parent, key, v, "minimum", lo))
                return None
            if hi is not None and v > hi:
                errs.append(_Msg.bound(parent, key, v, "maximum", hi))
                return None
            if xlo is not None and v <= xlo:
                errs.append(_Msg.bound(parent, key, v, "exclusive_minimum", xlo))
                return None
            if xhi is not None and v >= xhi:
                errs.append(_Msg.bound(parent, key, v, "exclusive_maximum", xhi))
                return None
            if to_decimal:
                cls = v.__class__
                if cls is float:
                    return Decimal(repr(v))
                if cls is not Decimal:
                    return Decimal(v)
            return v

        simple = enum is None and hi is None and xlo is None and xhi is None
        floor = lo if lo is not None else -_INF
        if simple and to_decimal:

            def fast_money(v: Any) -> Any:
                cls = v.__class__
                if cls is float:
                    if floor <= v < _INF:
                        return Decimal(repr(v))
                elif cls is int:
                    if v >= floor:
                        return Decimal(v)
                elif cls is Decimal and v.is_finite() and v >= floor:
                    return v
                raise _Fail

            return check, fast_money
        if simple and integer:

            def fast_int(v: Any) -> Any:
                if v.__class__ is int and v >= floor:
                    return v
                raise _Fail

            return check, fast_int

        def fast_general(v: Any) -> Any:
            errs: list = []
            out = check(v, None, None, errs)
            if errs:
                raise _Fail
            return out

        return check, fast_general

    def _object(self, node: dict) -> tuple[Handler, Callable[[Any], Any]]:
        props = {k: self.compile(s) for k, s in (node.get("properties") or {}).items()}
        tables = {k: n.table for k, n in props.items()}
        fallbacks = {k: n.fallback for k, n in props.items()}
        required = tuple(node.get("required") or ())
        required_set = frozenset(required)
        patterns = [
            (_ecma_regex(p), self.compile(s))
            for p, s in (node.get("patternProperties") or {}).items()
        ]
        extra = node.get("additionalProperties", True)
        extra_node = None if extra is False else self.compile(extra)
        known = sorted(props)
        tables_get = tables.get

        def check(v: dict, parent: Any, key: Any, errs: list) -> Any:
            path = (parent, key)
            out = {}
            for k, x in v.items():
                tab = tables_get(k)
                if tab is None:
                    out[k] = other(k, x, path, errs)
                    continue
                h = tab.get(x.__class__)
                if h is _IDENT:
                    out[k] = x
                elif h is None:
                    out[k] = fallbacks[k](x, path, k, errs)
                else:
                    out[k] = h(x, path, k, errs)
            if required and not v.keys() >= required_set:
                for r in required:
                    if r not in v:
                        errs.append(_Msg.required(path, r))
            return out

        def other(k: Any, x: Any, path: Any, errs: list) -> Any:
            matched = False
            result = x
            if isinstance(k, str):
                for rx, n in patterns:
                    if rx.search(k):
                        matched = True
                        result = n.call(x, path, k, errs)
            if matched:
                return result
            if extra_node is None:
                errs.append(_Msg.unknown(path, k, known))
                return None
            return extra_node.call(x, path, k, errs)

        # Fast path: one pass, no paths and no error objects; any failure raises.
        # A table entry is _IDENT (keep), a frozenset (keep if a member) or a
        # function (returns the normalised value or raises).
        ftables: dict[str, dict[type, Any]] = {}
        for k, n in props.items():
            if n.allowed is not None:
                members = n.allowed
                ft = {str: members}
                if None in members:
                    ft[_NONE_TYPE] = _IDENT
            elif n.ftable is not None:
                ft = n.ftable
            else:
                ft = {cls: n.fast for cls in (str, int, float, bool, _NONE_TYPE, dict, list)}
            ftables[k] = ft
        ftables_get = ftables.get

        def fast_extra(k: Any, x: Any) -> Any:
            if not isinstance(k, str):
                raise _Fail
            matched = False
            result = x
            for rx, n in patterns:
                if rx.search(k):
                    matched = True
                    result = n.fast(x)
            if matched:
                return result
            if extra_node is None:
                raise _Fail
            return extra_node.fast(x)

        def fast(v: dict) -> Any:
            out = dict(v)
            for k, x in v.items():
                ft = ftables_get(k)
                if ft is None:
                    out[k] = fast_extra(k, x)
                    continue
                h = ft[x.__class__]  # KeyError: wrong type
                if h is _IDENT:
                    continue
                if h.__class__ is frozenset:
                    if x not in h:
                        raise _Fail
                else:
                    out[k] = h(x)
            if required and not v.keys() >= required_set:
                raise _Fail
            return out

        return check, fast

    def _array(self, node: dict) -> tuple[Handler, Callable[[Any], Any]]:
        items = self.compile(node.get("items", True))
        table, fallback = items.table, items.fallback
        min_items = node.get("minItems")
        max_items = node.get("maxItems")

        def check(v: list, parent: Any, key: Any, errs: list) -> Any:
            path = (parent, key)
            n = len(v)
            if max_items is not None and n > max_items:
                errs.append(_Msg.length(parent, key, n, "max_items", max_items, "array"))
                return None
            if min_items is not None and n < min_items:
                errs.append(_Msg.length(parent, key, n, "min_items", min_items, "array"))
                return None
            out = []
            append = out.append
            for i, x in enumerate(v):
                h = table.get(x.__class__)
                if h is _IDENT:
                    append(x)
                elif h is None:
                    append(fallback(x, path, i, errs))
                else:
                    append(h(x, path, i, errs))
            return out

        lo = min_items if min_items is not None else 0
        hi = max_items if max_items is not None else 1 << 62
        item_fast = items.fast
        allowed, typeset = items.allowed, items.typeset
        contains = frozenset.__contains__

        if allowed is not None:

            def fast(v: list) -> Any:
                if lo <= len(v) <= hi and all(map(allowed.__contains__, v)):
                    return list(v)
                raise _Fail

        elif typeset is not None:

            def fast(v: list) -> Any:
                if lo <= len(v) <= hi and all(map(contains, [typeset] * len(v), map(type, v))):
                    return list(v)
                raise _Fail

        else:

            def fast(v: list) -> Any:
                if lo <= len(v) <= hi:
                    return [item_fast(x) for x in v]
                raise _Fail

        return check, fast


def _any_table() -> dict[type, Any]:
    return {t: _IDENT for t in (str, int, float, bool, _NONE_TYPE, dict, list, Decimal)}


def _accept(v: Any, parent: Any, key: Any, errs: list) -> Any:
    return v


def _reject_all(v: Any, parent: Any, key: Any, errs: list) -> Any:
    errs.append(
        RecordError(
            render_path(parent, key),
            "not_allowed",
            "此处不允许任何取值",
            "no value is allowed here",
        )
    )
    return None


def _json_in(v: Any, enum: list) -> bool:
    for e in enum:
        if (e is True or e is False or v is True or v is False) and e is not v:
            continue
        if e == v and (e is None) == (v is None):
            return True
    return False


def _enum_check(enum: list, labels: dict) -> Handler:
    def check(v: Any, parent: Any, key: Any, errs: list) -> Any:
        if _json_in(v, enum):
            return v
        errs.append(_Msg.enum(parent, key, v, enum, labels))
        return None

    return check


def _fast_enum(enum: list) -> Callable[[Any], Any]:
    def check(v: Any) -> Any:
        if _json_in(v, enum):
            return v
        raise _Fail

    return check


def _naive_iso(v: str) -> bool:
    try:
        return datetime.fromisoformat(v).tzinfo is None
    except ValueError:
        return False


def _naive_error(parent: Any, key: Any, v: Any) -> RecordError:
    return RecordError(
        render_path(parent, key),
        "datetime",
        f"时间 {_show(v)} 缺少时区偏移，应如 2024-03-05T12:30:00+08:00",
        f"date-time {_show(v)} has no UTC offset; write it like 2024-03-05T12:30:00+08:00",
    )


def _format_error(parent: Any, key: Any, v: str, code: str, hint: dict) -> RecordError:
    zh_hint = hint.get("zh") or "应为 YYYY-MM-DD 格式的日期"
    en_hint = hint.get("en") or "expected a YYYY-MM-DD date"
    return RecordError(
        render_path(parent, key),
        code,
        f"取值 {_show(v)} 格式不正确：{zh_hint}",
        f"value {_show(v)} is malformed: {en_hint}",
    )


def _calendar_error(parent: Any, key: Any, v: str, code: str) -> RecordError:
    if code == "date":
        zh, en = f"{_show(v)} 不是有效的日历日期", f"{_show(v)} is not a valid calendar date"
    else:
        zh, en = f"{_show(v)} 不是有效的日期时间", f"{_show(v)} is not a valid date-time"
    return RecordError(render_path(parent, key), code, zh, en)


def _nonfinite_error(parent: Any, key: Any, v: Any, code: str, hint: dict) -> RecordError:
    zh = f"取值 {_show(v)} 不是有限的数字"
    en = f"value {_show(v)} is not a finite number"
    if hint:
        zh += f"：{hint.get('zh', '')}"
        en += f": {hint.get('en', '')}"
    return RecordError(render_path(parent, key), code, zh, en)


def _parse_datetime(v: str, parent: Any, key: Any, errs: list) -> Any:
    try:
        dt = datetime.fromisoformat(v)
    except ValueError:
        errs.append(_calendar_error(parent, key, v, "datetime"))
        return None
    if dt.tzinfo is None:  # reachable only when the schema has no offset pattern
        errs.append(_naive_error(parent, key, v))
        return None
    return dt


def _datetime_for_date(v: datetime, parent: Any, key: Any, errs: list) -> Any:
    errs.append(
        RecordError(
            render_path(parent, key),
            "date",
            f"应为日期，实际为日期时间 {_show(v)}",
            f"expected a date, got the date-time {_show(v)}",
        )
    )
    return None


def _aware_datetime_object(v: datetime, parent: Any, key: Any, errs: list) -> Any:
    if v.tzinfo is None or v.utcoffset() is None:
        errs.append(_naive_error(parent, key, v))
        return None
    return v


def _fast_aware_datetime(v: datetime) -> Any:
    if v.tzinfo is None or v.utcoffset() is None:
        raise _Fail
    return v


# ---------------------------------------------------------------- public API


class Validator:
    """A record validator compiled once from a schema; thread-safe, reusable."""

    __slots__ = ("_fast", "_root", "schema")

    def __init__(self, schema: dict) -> None:
        self.schema = schema
        self._root = _Compiler(schema).compile(schema)
        self._fast = self._root.fast

    def validate(self, raw: Any) -> tuple[dict | None, list[RecordError]]:
        """Return (normalised record, []) or (None, every error found)."""
        try:
            out = self._fast(raw)
        except Exception:  # noqa: BLE001 - any failure: the detailed path explains it
            return self.validate_detailed(raw)
        return out, []

    def validate_detailed(self, raw: Any) -> tuple[dict | None, list[RecordError]]:
        """The reference path: same result as `validate`, always walks every value."""
        errs: list[RecordError] = []
        if not isinstance(raw, dict):
            zh_got, en_got = _TYPE_NAMES.get(_json_type(raw), (type(raw).__name__,) * 2)
            errs.append(
                RecordError(
                    "$",
                    "type",
                    f"记录应为 JSON 对象，实际为{zh_got}",
                    f"a record must be a JSON object, got {en_got}",
                )
            )
            return None, errs
        out = self._root.call(raw, None, None, errs)
        if errs:
            return None, errs
        return out, errs

    def is_valid(self, raw: Any) -> bool:
        return not self.validate(raw)[1]


@lru_cache(maxsize=1)
def _schema_text() -> str:
    return (resources.files("checker") / "schema" / SCHEMA_RESOURCE).read_text(encoding="utf-8")


def load_schema() -> dict:
    """The bundled record schema (a fresh copy each call)."""
    return json.loads(_schema_text())


def compile_validator(schema: dict | None = None) -> Validator:
    """Compile a validator from `schema` (default: the bundled record schema)."""
    return Validator(load_schema() if schema is None else schema)


@lru_cache(maxsize=1)
def default_validator() -> Validator:
    """A shared validator for the bundled schema, compiled on first use."""
    return compile_validator()
