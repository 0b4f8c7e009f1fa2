"""JSON values: a record's values checked and copied as a JSON document can hold them.

Refused with their path: non-finite numbers (YAML `.nan`, `.inf`), nesting deeper than
`MAX_NESTING`, non-text keys, text that is not valid Unicode. `sanitised()` gives a
display-safe copy of a record holding such values (for reports and logs of an invalid record).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from checker.input.messages import RecordError, finite, nonfinite_error, render_path, show

MAX_NESTING = 100  # containers inside containers; deeper records are refused


class Invalid(Exception):
    """A value normalisation cannot take; carries the error to report."""

    def __init__(self, error: RecordError) -> None:
        super().__init__(error.message_en)
        self.error = error


# ---------------------------------------------------------------- JSON values


def too_deep(parent: Any, key: Any) -> Invalid:
    return Invalid(RecordError(
        render_path(parent, key), "too_deep",
        f"嵌套层数超过 {MAX_NESTING} 层上限，未处理",
        f"nested more than {MAX_NESTING} levels deep; not processed"))


def not_json(parent: Any, key: Any, v: Any) -> Invalid:
    return Invalid(RecordError(
        render_path(parent, key), "type",
        f"取值 {show(v)} 不是 JSON 取值（{type(v).__name__}）",
        f"value {show(v)} is not a JSON value ({type(v).__name__})"))


def copy_json(v: Any, depth: int, parent: Any, key: Any) -> Any:
    """A copy of a JSON value; raises `Invalid` for what JSON cannot hold."""
    cls = v.__class__
    if cls is str:
        if v.isascii():
            return v
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate where the schema looks at nothing
            raise Invalid(json_problem(v, parent, key)) from None  # type: ignore[arg-type]
        return v
    if cls is int or cls is bool or v is None:
        return v
    if cls is float or cls is Decimal:
        if finite(v):
            return v
        raise Invalid(nonfinite_error(render_path(parent, key), v, "type", {}))
    if cls is dict:
        if depth >= MAX_NESTING:
            raise too_deep(parent, key)
        here = (parent, key)
        out = {}
        for k, x in v.items():
            if k.__class__ is not str:
                raise not_json(here, str(k), k)
            out[k] = copy_json(x, depth + 1, here, k)
        return out
    if cls is list or cls is tuple:
        if depth >= MAX_NESTING:
            raise too_deep(parent, key)
        here = (parent, key)
        return [copy_json(x, depth + 1, here, i) for i, x in enumerate(v)]
    if isinstance(v, (str, int, float, dict, list)):  # subclasses (bool is exact above)
        return copy_json(_base(v), depth, parent, key)
    raise not_json(parent, key, v)


def _base(v: Any) -> Any:
    for cls in (str, int, float, dict, list):
        if isinstance(v, cls):
            return cls(v)
    return v


def json_problem(v: Any, parent: Any = None, key: Any = None) -> RecordError | None:
    """The first thing in `v` a JSON document cannot hold (lone surrogates included)."""
    stack: list[tuple[Any, int, Any, Any]] = [(v, 0, parent, key)]
    while stack:
        x, depth, parent, key = stack.pop()
        if isinstance(x, str):
            try:
                x.encode("utf-8")
            except UnicodeEncodeError as exc:
                bad = x[exc.start : exc.end].encode("utf-8", "backslashreplace").decode()
                return RecordError(
                    render_path(parent, key), "text",
                    f"文本中含有无效的 Unicode 字符（单独的代理项 {bad}），请检查来源数据",
                    f"the text holds an invalid Unicode character (a lone surrogate {bad}); "
                    "check the source data")
        elif isinstance(x, (float, Decimal)) and not finite(x):
            return nonfinite_error(render_path(parent, key), x, "type", {})
        elif isinstance(x, (dict, list, tuple)):
            if depth >= MAX_NESTING:
                return too_deep(parent, key).error
            here = (parent, key)
            items = x.items() if isinstance(x, dict) else enumerate(x)
            for k, y in items:
                if isinstance(x, dict) and not isinstance(k, str):
                    return not_json(here, str(k), k).error
                stack.append((y, depth + 1, here, k))
    return None


def sanitised(v: Any, depth: int = 0) -> Any:
    """A copy of `v` that any JSON writer takes: bad text escaped, non-finite numbers and
    unknown objects as text, nesting cut at `MAX_NESTING`."""
    if isinstance(v, str):
        try:
            v.encode("utf-8")
            return v
        except UnicodeEncodeError:
            return v.encode("utf-8", "backslashreplace").decode("utf-8")
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, int):
        return v if -(1 << 63) <= v < 1 << 64 else str(v)  # what JSON writers take
    if isinstance(v, (float, Decimal)):
        return v if finite(v) else str(v)
    if isinstance(v, (dict, list, tuple)):
        if depth >= MAX_NESTING:
            return "…"
        if isinstance(v, dict):
            return {sanitised(str(k)): sanitised(x, depth + 1) for k, x in v.items()}
        return [sanitised(x, depth + 1) for x in v]
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    return sanitised(repr(v))
