"""Record errors and their wording: jsonschema-rs's error objects rendered for people.

`render(raw, errors, index)` turns the validator's errors into `RecordError`s:
a JSON path such as `$.meals[0].payer`, a stable code, a Chinese and an
English message, and a did-you-mean where one helps (enum values and their
`x-enum-labels`, unknown field names). One error is kept per place in the
record (the first by `_PRIORITY`: a wrong type hides a bad pattern), an object's
missing and unknown fields are each an error of their own, and errors come in
the record's own order (a missing field after the fields that are there).

Schema annotations used: `x-error-code` (the code of a failed pattern or
format), `x-format-hint` ({zh, en}, appended to pattern and format messages),
`x-enum-labels` (labels recognised as did-you-mean input), `x-normalise`
(money: type errors say what an amount looks like).
"""

from __future__ import annotations

import difflib
import json
import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

__all__ = ["RecordError", "json_type", "render", "render_path", "show"]


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


_SIMPLE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def render_path(parent: Any, key: Any = None) -> str:
    """Render a (parent, key) chain, or a list of keys, as a JSON path like `$.meals[0].payer`."""
    if isinstance(parent, list):
        keys = list(parent) if key is None else [*parent, key]
    else:
        keys = [] if key is None else [key]
        node = parent
        while node is not None:
            node, k = node
            if k is not None:
                keys.append(k)
        keys.reverse()
    out = ["$"]
    for k in keys:
        if isinstance(k, int):
            out.append(f"[{k}]")
        elif isinstance(k, str) and _SIMPLE_KEY.match(k):
            out.append("." + k)
        else:
            out.append("[" + json.dumps(str(k), ensure_ascii=False) + "]")
    return "".join(out)


# ---------------------------------------------------------------- values

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


def json_type(v: Any) -> str:
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


def show(v: Any, limit: int = 60) -> str:
    """A short display of a value for messages."""
    if isinstance(v, str):
        s = v if len(v) <= limit else v[: limit - 1] + "…"
        return "'" + s.encode("utf-8", "backslashreplace").decode("utf-8") + "'"
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


def finite(v: Any) -> bool:
    if v.__class__ is float:
        return not (math.isinf(v) or math.isnan(v))
    if isinstance(v, Decimal):
        return v.is_finite()
    return True


def _closest(value: str, candidates: list[str]) -> str | None:
    if not candidates:
        return None
    hits = difflib.get_close_matches(value, candidates, n=1, cutoff=0.6)
    if hits:
        return hits[0]
    hits = difflib.get_close_matches(value.lower(), candidates, n=1, cutoff=0.6)
    return hits[0] if hits else None


def _listing(values: list[str], sep: str, limit: int = 12) -> str:
    return sep.join(values[:limit]) + ("…" if len(values) > limit else "")


# ---------------------------------------------------------------- one message each


def type_error(path: str, v: Any, node: dict) -> RecordError:
    hint = node.get("x-format-hint") if node.get("x-normalise") else None
    if not finite(v):
        return nonfinite_error(path, v, node.get("x-error-code") or "type", hint or {})
    expected = node.get("type", [])
    expected = [expected] if isinstance(expected, str) else list(expected)
    exp = [t for t in expected if t != "null"] or expected
    zh_exp = "应为" + "或".join(_TYPE_NAMES.get(t, (t, t))[0] for t in exp)
    en_exp = "expected " + " or ".join(_TYPE_NAMES.get(t, (t, t))[1] for t in exp)
    if hint:  # e.g. money: say what an amount looks like, not "number or string"
        zh_exp, en_exp = hint.get("zh", zh_exp), hint.get("en", en_exp)
    got = json_type(v)
    zh_got, en_got = _GOT_NAMES.get(got, _TYPE_NAMES.get(got, (got, got)))
    shown = "" if v is None else " " + show(v)
    zh = f"{zh_exp}，实际为{zh_got}{shown}"
    en = f"{en_exp}, got {en_got}{shown}"
    quote_hint = "pattern" in node and node.get("x-normalise") is None
    if quote_hint and isinstance(v, int) and not isinstance(v, bool):
        zh += f'；如为代码或编号，请加引号："{v}"'
        en += f'; if this is a code, quote it: "{v}"'
    elif "boolean" in exp and isinstance(v, str) and v.strip().lower() in ("true", "false"):
        zh += "；布尔值请写 true 或 false，不加引号"
        en += "; write true or false without quotes"
    return RecordError(path, "type", zh, en)


def nonfinite_error(path: str, v: Any, code: str, hint: dict) -> RecordError:
    zh = f"取值 {show(v)} 不是有限的数字"
    en = f"value {show(v)} is not a finite number"
    if hint:
        zh += f"：{hint.get('zh', '')}"
        en += f": {hint.get('en', '')}"
    return RecordError(path, code, zh, en)


def enum_error(path: str, v: Any, allowed: list, labels: dict) -> RecordError:
    strs = [a for a in allowed if isinstance(a, str)]
    guess = None
    if isinstance(v, str):
        for code, lab in labels.items():  # the value is a label, e.g. '企业'
            if isinstance(lab, dict) and v.strip() in (lab.get("zh"), lab.get("en")):
                guess = code
                break
        if guess is None:
            guess = _closest(v, strs)
    def zh_name(code: str) -> str:  # 私人会所（private_club）: the label, and the spelling a record uses
        lab = labels.get(code)
        return f"{lab['zh']}（{code}）" if isinstance(lab, dict) and lab.get("zh") else f"'{code}'"

    def en_name(code: str) -> str:  # private club (private_club)
        lab = labels.get(code)
        if isinstance(lab, dict) and lab.get("en") and lab["en"] != code:
            return f"{lab['en']} ({code})"
        return code

    if guess is not None:
        zh = f"取值 {show(v)} 不在允许范围内，是否为 {zh_name(guess)}？"
        en = f"value {show(v)} is not allowed; did you mean '{guess}'?"
    elif strs:
        zh = f"取值 {show(v)} 不在允许范围内；允许的取值：{_listing([zh_name(a) for a in strs], '、')}"
        en = f"value {show(v)} is not allowed; allowed values: {_listing([en_name(a) for a in strs], ', ')}"
    else:
        shown = [show(a) for a in allowed]
        zh = f"取值 {show(v)} 不在允许范围内；允许的取值：{_listing(shown, '、')}"
        en = f"value {show(v)} is not allowed; allowed values: {_listing(shown, ', ')}"
    return RecordError(path, "enum", zh, en)


def naive_error(path: str, v: Any) -> RecordError:
    return RecordError(
        path, "datetime",
        f"时间 {show(v)} 缺少时区偏移，应如 2024-03-05T12:30:00+08:00",
        f"date-time {show(v)} has no UTC offset; write it like 2024-03-05T12:30:00+08:00")


def calendar_error(path: str, v: str, code: str) -> RecordError:
    if code == "date":
        zh, en = f"{show(v)} 不是有效的日历日期", f"{show(v)} is not a valid calendar date"
    else:
        zh, en = f"{show(v)} 不是有效的日期时间", f"{show(v)} is not a valid date-time"
    return RecordError(path, code, zh, en)


_BOUNDS = {
    "minimum": ("minimum", "小于最小值", "is below the minimum"),
    "maximum": ("maximum", "大于最大值", "is above the maximum"),
    "exclusiveMinimum": ("exclusive_minimum", "应大于", "must be greater than"),
    "exclusiveMaximum": ("exclusive_maximum", "应小于", "must be less than"),
}


def bound_error(path: str, v: Any, keyword: str, limit: Any) -> RecordError:
    code, zh_rel, en_rel = _BOUNDS[keyword]
    return RecordError(path, code, f"取值 {show(v)} {zh_rel} {limit}",
                       f"value {show(v)} {en_rel} {limit}")


def length_error(path: str, n: int, code: str, limit: int, what: str) -> RecordError:
    unit_zh, unit_en = ("个字符", "characters") if what == "string" else ("项", "items")
    if code == "min_length" and n == 0:
        zh, en = "不能为空", "must not be empty"
    elif code in ("max_length", "max_items"):
        zh = f"长度 {n} 超过上限 {limit} {unit_zh}"
        en = f"length {n} exceeds the limit of {limit} {unit_en}"
    else:
        zh = f"长度 {n} 少于下限 {limit} {unit_zh}"
        en = f"length {n} is below the minimum of {limit} {unit_en}"
    return RecordError(path, code, zh, en)


def _hint_detail(code: str, v: str) -> tuple[str, str]:
    """Extra, value-specific advice for some pattern failures."""
    if code == "uscc_format":
        s = v.strip()
        if re.fullmatch(r"[1-9][0-9]{14}", s):
            return ("；这是2015年以前的15位注册号，请填入 enterprise.legacy_registration_no",
                    ("; this looks like a pre-2015 15-digit registration number: "
                    "put it in enterprise.legacy_registration_no"))
        if len(s) != 18:
            return (f"（实际为 {len(s)} 位）", f" (got {len(s)} characters)")
        if s != s.upper():
            return ("；字母应为大写", "; letters must be upper case")
        bad = sorted({c for c in s if c in "IOSVZ"})
        if bad:
            return (f"；含有不使用的字母 {'、'.join(bad)}",
                    f"; contains the unused letter(s) {', '.join(bad)}")
    if code == "money" and v.strip().startswith("-"):
        return ("；金额不得为负", "; amounts cannot be negative")
    return ("", "")


_FORMAT_CODES = {"date": "date", "date-time": "datetime"}
_NAIVE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?\Z")
_DATE_SHAPE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_DATETIME_SHAPE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})\Z")


def pattern_error(path: str, v: str, node: dict) -> RecordError:
    fmt = _FORMAT_CODES.get(node.get("format"))
    if fmt == "datetime" and _NAIVE.match(v):
        return naive_error(path, v)
    code = node.get("x-error-code") or fmt or "pattern"
    hint = node.get("x-format-hint") or {}
    dz, de = _hint_detail(code, v)
    if hint:
        zh = f"取值 {show(v)} 格式不正确：{hint.get('zh', '')}{dz}"
        en = f"value {show(v)} is malformed: {hint.get('en', '')}{de}"
    else:
        src = node.get("pattern", "")
        zh = f"取值 {show(v)} 不符合格式 {src}{dz}"
        en = f"value {show(v)} does not match {src}{de}"
    return RecordError(path, code, zh, en)


def format_error(path: str, v: Any, node: dict) -> RecordError:
    fmt = node.get("format")
    code = node.get("x-error-code") or _FORMAT_CODES.get(fmt) or "format"
    hint = node.get("x-format-hint") or {}
    if fmt == "date":
        if _DATE_SHAPE.match(str(v)):
            return calendar_error(path, v, code)
        zh_hint = hint.get("zh") or "应为 YYYY-MM-DD 格式的日期"
        en_hint = hint.get("en") or "expected a YYYY-MM-DD date"
    elif fmt == "date-time":
        if isinstance(v, str) and _NAIVE.match(v):
            return naive_error(path, v)
        if isinstance(v, str) and _DATETIME_SHAPE.match(v):
            return calendar_error(path, v, code)
        zh_hint = hint.get("zh") or "应为带时区偏移的 RFC 3339 日期时间，如 2024-03-05T12:30:00+08:00"
        en_hint = hint.get("en") or (
            "expected an RFC 3339 date-time with an offset such as 2024-03-05T12:30:00+08:00")
    else:
        zh_hint = hint.get("zh") or f"应为 {fmt} 格式"
        en_hint = hint.get("en") or f"expected the {fmt} format"
    return RecordError(path, code, f"取值 {show(v)} 格式不正确：{zh_hint}",
                       f"value {show(v)} is malformed: {en_hint}")


def unknown_error(path: str, key: str, known: list[str]) -> RecordError:
    guess = _closest(key, known)
    if guess is not None:
        zh = f"未知字段 '{key}'，是否为 '{guess}'？"
        en = f"unknown field '{key}'; did you mean '{guess}'?"
    else:
        zh = f"未知字段 '{key}'，模式中没有定义"
        en = f"unknown field '{key}' is not defined in the schema"
    return RecordError(path, "unknown_field", zh, en)


def required_error(path: str, key: str) -> RecordError:
    return RecordError(path, "required", f"缺少必填字段 '{key}'", f"required field '{key}' is missing")


def _simple(path: str, code: str, zh: str, en: str) -> RecordError:
    return RecordError(path, code, zh, en)


# ---------------------------------------------------------------- rendering

# Which error wins when one place has several (a value has one problem shown at a time).
_PRIORITY = {
    "falseSchema": 0, "type": 0, "enum": 1, "const": 1, "maxLength": 2, "maxItems": 2,
    "minLength": 3, "minItems": 3, "pattern": 4, "format": 5, "minimum": 6, "maximum": 7,
    "exclusiveMinimum": 8, "exclusiveMaximum": 9, "multipleOf": 10,
}


def render(raw: Any, errors: list, index: Any) -> list[RecordError]:
    """The errors jsonschema-rs found in `raw`, as RecordErrors in record order."""
    found: list[tuple[tuple, int, int, RecordError]] = []
    for n, e in enumerate(errors):
        _collect(raw, e, index, found, n)
    best: dict[str, tuple[tuple, int, int, RecordError]] = {}
    for item in found:
        path = item[3].path
        if path not in best or item[1:3] < best[path][1:3]:
            best[path] = item
    return [item[3] for item in sorted(best.values(), key=lambda t: (t[0], t[1], t[2]))]


def _at(raw: Any, parts: list) -> Any:
    node = raw
    for p in parts:
        node = node[p]
    return node


def _order(raw: Any, parts: list, extra: int | None = None) -> tuple:
    """Where a place comes in the record: positions of each key in its container."""
    out: list[int] = []
    node = raw
    for p in parts:
        if isinstance(node, dict):
            keys = list(node)
            out.append(keys.index(p) if p in node else len(keys))
        else:
            out.append(p if isinstance(p, int) else 0)
        node = node[p] if isinstance(node, (dict, list)) and (
            p in node if isinstance(node, dict) else isinstance(p, int) and p < len(node)) else None
    if extra is not None:
        out.append(extra)
    return tuple(out)


def _collect(raw: Any, e: Any, index: Any, found: list, n: int) -> None:
    kind = e.kind
    name = kind.name
    parts = list(e.instance_path)
    node = index.keyword_owner(e)
    path = render_path(parts)
    v = _at(raw, parts)
    prio = _PRIORITY.get(name, 20)

    def add(err: RecordError, order: tuple | None = None, p: int = prio) -> None:
        found.append((order if order is not None else _order(raw, parts), p, n, err))

    if name in ("required", "dependentRequired"):
        missing = kind.property if name == "required" else kind.as_dict().get("property")
        req = node.get("required") or []
        extra = len(v) + (req.index(missing) if missing in req else len(req))
        add(required_error(render_path(parts, missing), missing), _order(raw, parts, extra), 0)
    elif name in ("additionalProperties", "unevaluatedProperties"):
        known = sorted(node.get("properties") or {})
        for key in kind.unexpected:
            add(unknown_error(render_path(parts, key), str(key), known), _order(raw, [*parts, key]),
                0)
    elif name == "anyOf" or (name == "oneOf" and type(kind).__name__ == "OneOfNotValid"):
        branches = node.get(name) or []
        nulls = [i for i, b in enumerate(branches) if b == {"type": "null"}]
        main = [i for i in range(len(branches)) if i not in nulls]
        context = list(getattr(kind, "context", []) or [])
        if len(main) == 1 and main[0] < len(context) and context[main[0]]:
            for sub in context[main[0]]:
                _collect(raw, sub, index, found, n)
        else:
            add(_simple(path, "any_of" if name == "anyOf" else "one_of",
                        f"取值 {show(v)} 不符合任何允许的形式",
                        f"value {show(v)} matches none of the allowed forms"))
    elif name == "oneOf":
        add(_simple(path, "one_of", f"取值 {show(v)} 同时符合多种形式，应只符合一种",
                    f"value {show(v)} matches more than one of the allowed forms"))
    elif name == "type":
        add(type_error(path, v, node))
    elif name == "enum":
        add(enum_error(path, v, node.get("enum") or [], node.get("x-enum-labels") or {}))
    elif name == "const":
        c = node.get("const")
        add(_simple(path, "const", f"取值 {show(v)} 应为 {show(c)}",
                    f"value {show(v)} must be {show(c)}"))
    elif name in ("minLength", "maxLength"):
        code = "min_length" if name == "minLength" else "max_length"
        add(length_error(path, len(v), code, node.get(name), "string"))
    elif name in ("minItems", "maxItems"):
        code = "min_items" if name == "minItems" else "max_items"
        add(length_error(path, len(v), code, node.get(name), "array"))
    elif name == "pattern":
        add(pattern_error(path, v, node))
    elif name == "format":
        add(format_error(path, v, node))
    elif name in _BOUNDS:
        if not finite(v):
            add(nonfinite_error(path, v, node.get("x-error-code") or "type",
                                node.get("x-format-hint") or {}), p=0)
        else:
            add(bound_error(path, v, name, node.get(name)))
    elif name == "falseSchema":
        add(_simple(path, "not_allowed", "此处不允许任何取值", "no value is allowed here"))
    else:
        add(_other(path, name, v, node))


_OTHER = {
    "multipleOf": ("multiple_of", "取值 {v} 不是 {x} 的整数倍", "value {v} is not a multiple of {x}"),
    "minProperties": ("min_properties", "字段数少于下限 {x}", "has fewer than {x} fields"),
    "maxProperties": ("max_properties", "字段数超过上限 {x}", "has more than {x} fields"),
    "uniqueItems": ("unique_items", "数组中有重复的项", "the array has repeated items"),
    "contains": ("contains", "数组中没有符合要求的项", "no item of the array matches what is required"),
    "minContains": ("contains", "数组中符合要求的项少于 {x} 个",
                    "fewer than {x} items of the array match what is required"),
    "maxContains": ("contains", "数组中符合要求的项多于 {x} 个",
                    "more than {x} items of the array match what is required"),
    "not": ("not", "取值 {v} 属于不允许的形式", "value {v} has a form that is not allowed"),
    "propertyNames": ("property_names", "字段名不符合要求", "a field name is not allowed"),
    "unevaluatedItems": ("unevaluated_items", "数组中有未定义的项", "the array has items the schema does not define"),
    "additionalItems": ("unevaluated_items", "数组中有未定义的项", "the array has items the schema does not define"),
    "contentEncoding": ("content", "取值 {v} 的编码不正确", "value {v} is not correctly encoded"),
    "contentMediaType": ("content", "取值 {v} 的内容类型不正确", "value {v} has the wrong media type"),
}


def _other(path: str, name: str, v: Any, node: dict) -> RecordError:
    code, zh, en = _OTHER.get(name, ("invalid", "取值 {v} 不符合模式（{k}）", "value {v} does not conform to the schema ({k})"))
    x = node.get(name)
    return RecordError(path, code, zh.format(v=show(v), x=x, k=name), en.format(v=show(v), x=x, k=name))
