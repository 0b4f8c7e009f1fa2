"""Normalisation: a validated record's values turned into what policies compute with.

Runs after validation, driven by the schema alone (nothing here names a record
field), the same for every record kind:

- `x-normalise: decimal` -> `Decimal` (a JSON number keeps its written digits up to
  15 significant ones: `Decimal(repr(x))`; a string is read exactly);
- `format: date` -> `datetime.date`; `format: date-time` -> an aware
  `datetime.datetime` (RFC 3339; a leap second `:60` becomes `:59.999999`, digits
  past microseconds are dropped, `-00:00` is UTC);
- `type: integer` (without `number`) -> `int` for a value written `2.0`;
- an absent property whose schema has a `default` gets a copy of it (normalised too).

Keywords that apply subschemas are followed: `$ref`, `allOf` always; `anyOf` / `oneOf`
through the branch the value matches (decided by the value's JSON type when only
one branch can take it, else by the branch's own validator); `if` / `then` /
`else` by the `if` validator. Everything else is copied as is.

The output is a copy. Values a JSON document cannot hold are refused here with
their path: non-finite numbers (YAML `.nan`, `.inf`), nesting deeper than
`MAX_NESTING`, non-text keys. `sanitised()` gives a display-safe copy of a record
that holds such values (for reports and logs of an invalid record).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urldefrag, urljoin

from checker.input.messages import (
    RecordError,
    finite,
    nonfinite_error,
    render_path,
    show,
)
from checker.input.schemas import SchemaIndex, pointer, walk

__all__ = ["MAX_NESTING", "Invalid", "Normaliser", "json_problem", "parse_datetime", "sanitised"]

MAX_NESTING = 100  # containers inside containers; deeper records are refused
_MEMO_LIMIT = 4096
_ALL = frozenset({"string", "integer", "number", "boolean", "object", "array", "null"})


class Invalid(Exception):
    """A value normalisation cannot take; carries the error to report."""

    def __init__(self, error: RecordError) -> None:
        super().__init__(error.message_en)
        self.error = error


# ---------------------------------------------------------------- JSON values


def _too_deep(parent: Any, key: Any) -> Invalid:
    return Invalid(RecordError(
        render_path(parent, key), "too_deep",
        f"嵌套层数超过 {MAX_NESTING} 层上限，未处理",
        f"nested more than {MAX_NESTING} levels deep; not processed"))


def _not_json(parent: Any, key: Any, v: Any) -> Invalid:
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
            raise _too_deep(parent, key)
        here = (parent, key)
        out = {}
        for k, x in v.items():
            if k.__class__ is not str:
                raise _not_json(here, str(k), k)
            out[k] = copy_json(x, depth + 1, here, k)
        return out
    if cls is list or cls is tuple:
        if depth >= MAX_NESTING:
            raise _too_deep(parent, key)
        here = (parent, key)
        return [copy_json(x, depth + 1, here, i) for i, x in enumerate(v)]
    if isinstance(v, (str, int, float, dict, list)):  # subclasses (bool is exact above)
        return copy_json(_base(v), depth, parent, key)
    raise _not_json(parent, key, v)


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
                return _too_deep(parent, key).error
            here = (parent, key)
            items = x.items() if isinstance(x, dict) else enumerate(x)
            for k, y in items:
                if isinstance(x, dict) and not isinstance(k, str):
                    return _not_json(here, str(k), k).error
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


# ---------------------------------------------------------------- scalar conversions

_DATETIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))\Z")
_ZONES: dict[tuple[str, str, str], timezone] = {}


# The common spelling (upper-case T and Z, no leap second, at most microseconds, an offset in
# range), which `datetime.fromisoformat` parses alike about ten times faster.
_COMMON = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-5][0-9](?:\.[0-9]{1,6})?"
                     r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])\Z")


def parse_datetime(v: str) -> datetime | None:
    """An RFC 3339 date-time as an aware datetime, or None if it is not one."""
    if _COMMON.match(v) is not None:
        try:
            return datetime.fromisoformat(v)
        except ValueError:  # a day or hour out of range
            return None
    m = _DATETIME.match(v)
    if m is None:
        return None
    y, mo, d, h, mi, s, frac, z, sign, oh, om = m.groups()
    if z is not None or (oh == "00" and om == "00"):
        tz = UTC
    else:
        tz = _ZONES.get((sign, oh, om))
        if tz is None:
            if int(oh) > 23 or int(om) > 59:
                return None
            delta = timedelta(hours=int(oh), minutes=int(om))
            tz = _ZONES[(sign, oh, om)] = timezone(-delta if sign == "-" else delta)
    micro = int((frac or "")[:6].ljust(6, "0"))
    sec = int(s)
    if sec == 60:  # a leap second: the last representable instant before it
        sec, micro = 59, 999999
    try:
        return datetime(int(y), int(mo), int(d), int(h), int(mi), sec, micro, tzinfo=tz)
    except ValueError:
        return None


def _memo(f: Any) -> Any:
    """Remember results of a string conversion (bounded): batches repeat dates and amounts."""
    cache: dict[str, Any] = {}

    def convert(v: str, parent: Any, key: Any) -> Any:
        r = cache.get(v)
        if r is None:
            r = f(v, parent, key)
            if len(cache) >= _MEMO_LIMIT:
                cache.clear()
            cache[v] = r
        return r

    return convert


def _str_converter(node: dict) -> Any:
    code = node.get("x-error-code")
    hint = node.get("x-format-hint") or {}
    if node.get("x-normalise") == "decimal":

        def to_decimal(v: str, parent: Any, key: Any) -> Decimal:
            try:
                d = Decimal(v.strip())
            except InvalidOperation:
                path = render_path(parent, key)
                zh, en = hint.get("zh", "应为十进制数"), hint.get("en", "expected a decimal number")
                raise Invalid(RecordError(path, code or "decimal", f"取值 {show(v)} 格式不正确：{zh}",
                                          f"value {show(v)} is malformed: {en}")) from None
            if not d.is_finite():
                raise Invalid(nonfinite_error(render_path(parent, key), v, code or "type", hint))
            return d

        return _memo(to_decimal)
    fmt = node.get("format")
    if fmt == "date":

        def to_date(v: str, parent: Any, key: Any) -> date:
            try:
                return date.fromisoformat(v)
            except ValueError:
                from checker.input.messages import calendar_error

                raise Invalid(calendar_error(render_path(parent, key), v, code or "date")) from None

        return _memo(to_date)
    if fmt == "date-time":

        def to_datetime(v: str, parent: Any, key: Any) -> datetime:
            dt = parse_datetime(v)
            if dt is None:
                from checker.input.messages import calendar_error

                raise Invalid(calendar_error(render_path(parent, key), v, code or "datetime"))
            return dt

        return _memo(to_datetime)
    return None


def _num_converter(node: dict) -> Any:
    if node.get("x-normalise") == "decimal":
        return lambda v: v if v.__class__ is Decimal else Decimal(repr(v) if v.__class__ is float
                                                                   else v)
    types = node.get("type")
    types = {types} if isinstance(types, str) else set(types or ())
    if "integer" in types and "number" not in types:
        return lambda v: v if v.__class__ is int else int(v)
    return None


# ---------------------------------------------------------------- plans


class _Plan:
    """What one schema object asks of a value (before its subschemas are followed)."""

    __slots__ = ("additional", "branches", "defaults", "items", "links", "num", "patterns",
                 "prefix", "props", "string", "trivial", "types")

    def __init__(self) -> None:
        self.string = self.num = self.additional = self.items = None
        self.props: dict[str, _Plan] = {}
        self.patterns: list[tuple[str, _Plan]] = []
        self.prefix: list[_Plan] = []
        self.links: list[_Plan] = []
        self.branches: list[tuple[str, list[tuple[Any, _Plan, frozenset]]]] = []
        self.defaults: dict[str, Any] = {}
        self.types: frozenset = _ALL
        self.trivial: bool | None = None


class Normaliser:
    """`Normaliser(schema, validator_map)(record)` -> normalised copy, or raises `Invalid`."""

    def __init__(self, schema: Any, validator_map: Any, pattern_matcher: Any) -> None:
        self._map = validator_map
        self._match = pattern_matcher
        self._index = SchemaIndex(schema)
        self._paths: dict[int, tuple] = {}
        self._bases: dict[int, str] = {}
        self._anchors: dict[str, Any] = {}
        for where, node, base in walk(schema):
            self._paths.setdefault(id(node), where)
            self._bases.setdefault(id(node), base)
            if isinstance(node.get("$anchor"), str):
                self._anchors[urldefrag(base)[0] + "#" + node["$anchor"]] = node
        self._plans: dict[int, _Plan] = {}
        self._slots: dict[tuple, _Slot] = {}
        self._nodes: dict[int, Any] = {}
        self._root = self._slot((self._plan(schema, ""),))

    def __call__(self, record: Any) -> Any:
        return self._root.apply(record, 0, None, None)

    # -- compiling

    def _plan(self, node: Any, base: str) -> _Plan:
        key = id(node)
        plan = self._plans.get(key)
        if plan is not None:
            return plan
        plan = self._plans[key] = _Plan()
        self._nodes[key] = node  # keep alive: ids stay unique
        if not isinstance(node, dict):
            plan.trivial = True
            return plan
        base = self._bases.get(key, base)
        plan.string = _str_converter(node)
        plan.num = _num_converter(node)
        types = node.get("type")
        if types is not None:
            plan.types = frozenset([types] if isinstance(types, str) else types)
        if "integer" in plan.types:
            plan.types |= {"number"}  # 2.0 is an integer
        for k, sub in (node.get("properties") or {}).items():
            plan.props[k] = self._plan(sub, base)
            if isinstance(sub, dict) and "default" in sub:
                plan.defaults[k] = sub["default"]
        plan.patterns = [(p, self._plan(s, base))
                         for p, s in (node.get("patternProperties") or {}).items()]
        if "additionalProperties" in node:
            plan.additional = self._plan(node["additionalProperties"], base)
        if "items" in node:
            plan.items = self._plan(node["items"], base)
        plan.prefix = [self._plan(s, base) for s in node.get("prefixItems") or []]
        for kw in ("$ref", "$dynamicRef"):
            target = self._target(node.get(kw), base)
            if target is not None:
                plan.links.append(self._plan(target, self._bases.get(id(target), base)))
        plan.links.extend(self._plan(s, base) for s in node.get("allOf") or [])
        for kw in ("anyOf", "oneOf"):
            if isinstance(node.get(kw), list):
                group = [(self._validator(s), self._plan(s, base), self._accepts(s, base))
                         for s in node[kw]]
                plan.branches.append((kw, group))
        if "if" in node and ("then" in node or "else" in node):
            check = self._validator(node["if"])
            then = self._plan(node.get("then", True), base)
            other = self._plan(node.get("else", True), base)
            plan.branches.append(("if", [(check, then, _ALL), (None, other, _ALL)]))
        return plan

    def _target(self, ref: Any, base: str) -> Any:
        if not isinstance(ref, str):
            return None
        uri, frag = urldefrag(urljoin(base, ref) if base else ref)
        if frag and not frag.startswith("/"):
            return self._anchors.get(uri + "#" + frag)
        start = self._index.resources.get(uri) if uri else self._index.root
        if start is None and not uri.startswith(("http", "urn")):
            start = self._index.root
        if start is None:
            return None
        from urllib.parse import unquote

        parts = [unquote(p).replace("~1", "/").replace("~0", "~") for p in frag.split("/")[1:]]
        node = start
        for p in parts:
            if isinstance(node, list) and p.isdigit():
                node = node[int(p)] if int(p) < len(node) else None
            elif isinstance(node, dict):
                node = node.get(p)
            else:
                return None
        return node

    def _accepts(self, node: Any, base: str, seen: frozenset = frozenset()) -> frozenset:
        """The JSON types a subschema can accept at all (a superset)."""
        if node is False:
            return frozenset()
        if not isinstance(node, dict) or id(node) in seen:
            return _ALL
        seen = seen | {id(node)}
        out = _ALL
        if "type" in node:
            t = node["type"]
            out = frozenset([t] if isinstance(t, str) else t)
            if "integer" in out:
                out |= {"number"}
        if "const" in node or "enum" in node:
            values = [node["const"]] if "const" in node else list(node["enum"] or [])
            out &= frozenset(_json_type(x) for x in values)
        target = self._target(node.get("$ref"), self._bases.get(id(node), base))
        if target is not None:
            out &= self._accepts(target, base, seen)
        for s in node.get("allOf") or []:
            out &= self._accepts(s, base, seen)
        return out

    def _validator(self, node: Any) -> Any:
        where = self._paths.get(id(node))
        if where is None:
            return None
        return self._map.get("#" + pointer(where)) if self._map is not None else None

    def _slot(self, plans: tuple) -> _Slot:
        key = tuple(id(p) for p in plans)
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = _Slot(self, plans)
        return slot

    def _is_trivial(self, plan: _Plan, seen: set) -> bool:
        if plan.trivial is not None:
            return plan.trivial
        if id(plan) in seen:
            return False  # recursive: assume it matters
        seen.add(id(plan))
        kids = [*plan.props.values(), *(p for _, p in plan.patterns), *plan.prefix, *plan.links,
                *(p for p in (plan.additional, plan.items) if p is not None)]
        result = (plan.string is None and plan.num is None and not plan.defaults
                  and not plan.branches and all(self._is_trivial(k, seen) for k in kids))
        plan.trivial = result
        return result


def _json_type(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float, Decimal)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, dict):
        return "object"
    return "array"


def _expand(plans: tuple) -> list[_Plan]:
    out: list[_Plan] = []
    seen: set[int] = set()
    stack = list(reversed(plans))
    while stack:
        p = stack.pop()
        if id(p) in seen:
            continue
        seen.add(id(p))
        out.append(p)
        stack.extend(reversed(p.links))
    return out


class _Slot:
    """Every plan that applies at one place of a record, merged; applied to its value."""

    __slots__ = ("_children", "_norm", "_static", "plans")

    def __init__(self, norm: Normaliser, plans: tuple) -> None:
        self._norm = norm
        self.plans = plans
        self._static: dict[str, _Merged | None] = {}  # JSON type -> merged, None: per value
        self._children: dict = {}

    def apply(self, v: Any, depth: int, parent: Any, key: Any) -> Any:
        jt = _json_type(v) if v.__class__ is not str else "string"
        merged = self._static.get(jt, False)
        if merged is False:
            merged, static = self._merge(v, jt)
            self._static[jt] = merged if static else None
        elif merged is None:
            merged, _ = self._merge(v, jt)
        return merged.apply(v, depth, parent, key)

    def _merge(self, v: Any, jt: str) -> tuple[_Merged, bool]:
        norm = self._norm
        plans = _expand(self.plans)
        static = True
        done: set[int] = set()
        i = 0
        while i < len(plans):
            p = plans[i]
            i += 1
            for kw, group in p.branches:
                if (id(p), kw) in done:
                    continue
                done.add((id(p), kw))
                chosen, decided = _choose(kw, group, v, jt)
                static = static and decided
                for c in chosen:
                    for q in _expand((c,)):
                        if q not in plans:
                            plans.append(q)
        key = (tuple(id(p) for p in plans), jt)
        merged = self._children.get(key)
        if merged is None:
            merged = self._children[key] = _Merged(norm, plans)
        return merged, static


def _choose(kw: str, group: list, v: Any, jt: str) -> tuple[list[_Plan], bool]:
    """The plans of the branches `v` takes; whether the choice follows from `jt` alone."""
    if kw == "if":
        check, then, other = group[0][0], group[0][1], group[1][1]
        if check is None:
            return [], True
        return [then if check.is_valid(v) else other], False
    possible = [(val, plan) for val, plan, types in group if jt in types]
    if len(possible) == 1:
        return [possible[0][1]], True
    out = []
    for val, plan in possible:
        if val is not None and val.is_valid(v):
            out.append(plan)
            if kw == "oneOf":
                break
    return out, False


class _Merged:
    """A merged set of plans: the conversion to make and where each child goes."""

    __slots__ = ("_keys", "_rest", "additional", "defaults", "items", "norm", "num",
                 "patterns", "prefix", "props", "string", "trivial")

    def __init__(self, norm: Normaliser, plans: list[_Plan]) -> None:
        self.norm = norm
        seen: set = set()
        self.trivial = all(norm._is_trivial(p, seen) for p in plans)
        self.string = next((p.string for p in plans if p.string is not None), None)
        self.num = next((p.num for p in plans if p.num is not None), None)
        self.props: dict[str, list[_Plan]] = {}
        self.defaults: dict[str, Any] = {}
        self.patterns = [(rx, q) for p in plans for rx, q in p.patterns]
        self.additional = [(p, p.additional) for p in plans if p.additional is not None]
        self.items = [p.items for p in plans if p.items is not None]
        self.prefix: list[list[_Plan]] = []
        for p in plans:
            for k, q in p.props.items():
                self.props.setdefault(k, []).append(q)
            for k, d in p.defaults.items():
                self.defaults.setdefault(k, d)
            for i, q in enumerate(p.prefix):
                if i >= len(self.prefix):
                    self.prefix.append([])
                self.prefix[i].append(q)
        self._keys: dict[str, _Slot | None] = {}
        self._rest: Any = False

    def child(self, k: str) -> _Slot | None:
        slot = self._keys.get(k, False)
        if slot is not False:
            return slot
        plans = list(self.props.get(k, ()))
        for rx, q in self.patterns:
            if self.norm._match(rx, k):
                plans.append(q)
        for owner, q in self.additional:
            named = k in owner.props or any(self.norm._match(rx, k) for rx, _ in owner.patterns)
            if not named:
                plans.append(q)
        seen: set = set()
        slot = None
        if plans and not all(self.norm._is_trivial(p, seen) for p in plans):
            slot = self.norm._slot(tuple(plans))
        if len(self._keys) < _MEMO_LIMIT:
            self._keys[k] = slot
        return slot

    def apply(self, v: Any, depth: int, parent: Any, key: Any) -> Any:
        if self.trivial:
            return copy_json(v, depth, parent, key)
        cls = v.__class__
        if cls is str:
            return v if self.string is None else self.string(v, parent, key)
        if cls is float or cls is Decimal:
            if not finite(v):
                raise Invalid(nonfinite_error(render_path(parent, key), v, "type", {}))
            return v if self.num is None else self.num(v)
        if cls is int:
            return v if self.num is None else self.num(v)
        if cls is dict:
            if depth >= MAX_NESTING:
                raise _too_deep(parent, key)
            here = (parent, key)
            out = {}
            child = self.child
            for k, x in v.items():
                if k.__class__ is not str:
                    raise _not_json(here, str(k), k)
                slot = child(k)
                out[k] = (copy_json(x, depth + 1, here, k) if slot is None
                          else slot.apply(x, depth + 1, here, k))
            for k, d in self.defaults.items():
                if k not in v:
                    slot = child(k)
                    out[k] = (copy_json(d, depth + 1, here, k) if slot is None
                              else slot.apply(_deep_copy(d), depth + 1, here, k))
            return out
        if cls is list or cls is tuple:
            if depth >= MAX_NESTING:
                raise _too_deep(parent, key)
            here = (parent, key)
            out_list = []
            item = self.item
            for i, x in enumerate(v):
                slot = item(i)
                out_list.append(copy_json(x, depth + 1, here, i) if slot is None
                                else slot.apply(x, depth + 1, here, i))
            return out_list
        return copy_json(v, depth, parent, key)

    def item(self, i: int) -> _Slot | None:
        """The slot of item `i` of an array (None: copied as is)."""
        n = len(self.prefix)
        if i >= n and self._rest is not False:
            return self._rest
        plans = self.prefix[i] if i < n else self.items
        seen: set = set()
        slot = None
        if plans and not all(self.norm._is_trivial(p, seen) for p in plans):
            slot = self.norm._slot(tuple(plans))
        if i >= n:
            self._rest = slot
        return slot


def _deep_copy(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _deep_copy(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_deep_copy(x) for x in v]
    return v
