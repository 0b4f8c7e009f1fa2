"""Which rules can fire, from a few facts of a record: a sound over-approximation of a
condition's possible values (True, False, unknown) when some record fields have known values
and everything else may be anything.

`possible(cond, facts)` follows the closures of `backends/python.py` value for value (Kleene
`and`/`or` with `is False`/`is True` tests, strict comparisons, `in` on constant sets), so a
condition whose possible values are only `{False}` is False on every record with those facts:
the evaluator skips it (no finding, nothing to suppress, nothing to trace).

Facts: `{("interaction", "kind"): "training_lecture", ("tolerance", "prefiling_id"): KNOWN,
("gifts",): EMPTY}`: a field's value, `KNOWN` for "some value, not None" (fields keyed on
being known only), or `EMPTY` for a list known to be empty (lists keyed on being empty:
quantifiers, counts, sums and `length` over it are then decided). A field not in the facts
may have any value.
"""

from __future__ import annotations

import dataclasses
import operator
from collections import Counter
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from . import ir

Path = tuple[str, ...]


class _Known:
    """A value that is known (not None) but not itself a fact."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "KNOWN"


class _Empty(_Known):
    """A list that is known to be empty."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "EMPTY"


KNOWN: Any = _Known()
EMPTY: Any = _Empty()
TOP = None  # any value at all
BOOL3 = frozenset({True, False, None})
NOT_NONE = frozenset({True, False})
_EQ = {"==": operator.eq, "!=": operator.ne}
ENUM_KINDS = frozenset({"enum", "bool"})  # fields keyed on their value; others on being known


def record_path(e: ir.Expr) -> Path | None:
    """`("interaction", "kind")` for the record field `interaction.kind`; None otherwise."""
    names: list[str] = []
    while isinstance(e, ir.Field):
        names.append(e.name)
        if e.base is None:
            return tuple(reversed(names))
        e = e.base
    return None


def possible(e: ir.Expr, facts: Mapping[Path, Any]) -> frozenset | None:
    """The values `e` can take on a record with these facts; None (TOP) when not tracked."""
    t = type(e)
    if t is ir.Const:
        return frozenset({e.value}) if isinstance(e.value, _HASHABLE) else TOP
    if t is ir.Field:
        path = record_path(e)
        if path is not None and path in facts:
            return frozenset({facts[path]})
        return TOP
    if t is ir.Not:
        s = _bools(possible(e.operand, facts))
        return frozenset(None if x is None else not x for x in s) if not _opaque(s) else BOOL3
    if t is ir.And or t is ir.Or:
        return _logic(e, facts)
    if t is ir.IsKnown:
        s = possible(e.operand, facts)
        if s is TOP:
            return NOT_NONE
        return frozenset((x is None) if e.negated else (x is not None) for x in s)
    if t is ir.Cmp:
        return _cmp(e, facts)
    if t is ir.InSet:
        return _inset(e, facts)
    if t is ir.If:
        c = possible(e.cond, facts)
        if c is TOP or _opaque(c):
            return TOP
        out: set = set()
        for x in c:
            if x is None:
                out.add(None)
                continue
            branch = possible(e.then if x else e.otherwise, facts)
            if branch is TOP:
                return TOP
            out |= branch
        return frozenset(out)
    if t is ir.Quant or t is ir.Agg or t is ir.Builtin and e.fn == "length":
        return _over_list(e, facts)
    return TOP


def _over_list(e: ir.Expr, facts: Mapping[Path, Any]) -> frozenset | None:
    """A quantifier, count, sum or `length` over a list that is unknown or empty (its value
    as the closures compute it: `some` false, `all` true, count and length 0, sum 0 of the
    sum's type); TOP otherwise."""
    coll = e.args[0] if isinstance(e, ir.Builtin) else e.coll  # type: ignore[attr-defined]
    s = possible(coll, facts)
    if s is TOP or len(s) != 1:
        return TOP
    (x,) = s
    if x is None:
        return frozenset({None})
    if x is not EMPTY:
        return TOP
    if isinstance(e, ir.Quant):
        return frozenset({e.kind == "all"})
    if isinstance(e, ir.Agg) and e.value is not None and e.type.kind in ("money", "number"):
        return frozenset({Decimal(0)})
    return frozenset({0})


def _opaque(s: frozenset) -> bool:
    """Whether a set of possible values holds a stand-in (KNOWN, EMPTY) for unknown values."""
    return any(isinstance(x, _Known) for x in s)


_HASHABLE = (bool, int, str, type(None))


def _bools(s: frozenset | None) -> frozenset:
    return BOOL3 if s is TOP else s


def _logic(e: ir.And | ir.Or, facts: Mapping[Path, Any]) -> frozenset:
    """Kleene `and` (`or`) as the closures decide it: an item that `is False` (`is True`)
    decides; else one that is None makes it unknown; else it holds (fails)."""
    decisive = isinstance(e, ir.Or)  # or: True decides; and: False decides
    states = {"none"}  # over the items so far: nothing | some unknown | decided
    for item in e.items:
        s = possible(item, facts)
        if s is TOP:
            kinds = {"decided", "unknown", "other"}
        else:
            kinds = set()
            for x in s:
                if isinstance(x, _Known):  # some value: True or False among others
                    kinds |= {"decided", "other"}
                else:
                    kinds.add("decided" if x is decisive else "unknown" if x is None else "other")
        nxt = set()
        for a in states:
            for k in kinds:
                if a == "decided" or k == "decided":
                    nxt.add("decided")
                elif a == "unknown" or k == "unknown":
                    nxt.add("unknown")
                else:
                    nxt.add("none")
        states = nxt
    return frozenset(decisive if a == "decided" else None if a == "unknown" else not decisive
                     for a in states)


def _cmp(e: ir.Cmp, facts: Mapping[Path, Any]) -> frozenset:
    left, right = possible(e.left, facts), possible(e.right, facts)
    if (left is not TOP and left == {None}) or (right is not TOP and right == {None}):
        return frozenset({None})  # strict: an unknown side makes it unknown
    if left is TOP or right is TOP:
        return BOOL3
    op, out = _OPS[e.op], set()
    for a in left:
        for b in right:
            if a is None or b is None:
                out.add(None)
            elif isinstance(a, _Known) or isinstance(b, _Known):
                out |= NOT_NONE
            else:
                try:
                    out.add(op(a, b))
                except TypeError:  # values the closures could not compare either
                    return BOOL3
    return frozenset(out)


_OPS = {**_EQ, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _inset(e: ir.InSet, facts: Mapping[Path, Any]) -> frozenset:
    s = possible(e.item, facts)
    if s is not TOP and s == {None}:
        return frozenset({None})
    if s is TOP or not all(isinstance(o, ir.Const) and o.value is not None for o in e.options):
        return BOOL3
    options = frozenset(o.value for o in e.options if isinstance(o, ir.Const))
    out: set = set()
    for x in s:
        if x is None:
            out.add(None)
        elif isinstance(x, _Known):
            out |= NOT_NONE
        else:
            out.add((x in options) != e.negated)
    return frozenset(out)


def never_true(e: ir.Expr, facts: Mapping[Path, Any]) -> bool:
    """Whether `e` is False on every record with these facts (so never True nor unknown)."""
    s = possible(e, facts)
    return s is not TOP and s == {False}


# ---- which fields to key on ----------------------------------------------------------------
def list_fields(e: ir.Expr) -> set[Path]:
    """Record lists whose being empty decides parts of `e`: the lists of its quantifiers,
    counts and sums, and of `length(…)`."""
    out: set[Path] = set()
    for node in ir.walk(e):
        if isinstance(node, (ir.Quant, ir.Agg)):
            coll: ir.Expr = node.coll
        elif isinstance(node, ir.Builtin) and node.fn == "length":
            coll = node.args[0]
        else:
            continue
        path = record_path(coll)
        if path is not None and coll.type.kind == "list":
            out.add(path)
    return out


def guard_fields(e: ir.Expr) -> set[tuple[Path, bool]]:
    """The record fields that decide atoms of `e` (`F == c`, `F in {…}`, `F is known`), each
    with whether its value matters (enum/bool) or only whether it is known."""
    out: set[tuple[Path, bool]] = set()
    for node in ir.walk(e):
        if isinstance(node, ir.Cmp) and node.op in _EQ:
            sides = (node.left, node.right)
        elif isinstance(node, ir.InSet):
            sides = (node.item,)
        elif isinstance(node, ir.IsKnown):
            sides = (node.operand,)
        else:
            continue
        for side in sides:
            path = record_path(side)
            if path is not None:
                by_value = side.type.kind in ENUM_KINDS and not isinstance(node, ir.IsKnown)
                out.add((path, by_value))
    return out


def choose_fields(conds: Iterable[ir.Expr], limit: int = 6) -> list[tuple[Path, bool]]:
    """The fields to key dispatch on: those deciding atoms of the most conditions (a field
    read by value wins over reading it for being known), at most `limit`, in a stable order."""
    counts: Counter = Counter()
    by_value: set[Path] = set()
    for cond in conds:
        fields = guard_fields(cond)
        for path, value in fields:
            if value:
                by_value.add(path)
        counts.update({path for path, _ in fields})
    ranked = sorted(counts, key=lambda p: (-counts[p], p))[:limit]
    return [(p, p in by_value) for p in ranked]


# ---- residual conditions -------------------------------------------------------------------
_BOOL_NODES = (ir.Cmp, ir.InSet, ir.IsKnown, ir.And, ir.Or, ir.Not, ir.Quant)


def residual(e: ir.Expr, facts: Mapping[Path, Any]) -> ir.Expr:
    """`e` with what the facts decide folded away: on every record with these facts it has the
    value `e` has (every part replaced by a constant is one `possible` says has that one value;
    `and`/`or` items that cannot change the result are dropped). `e` itself when nothing
    changes."""
    s = possible(e, facts)
    if s is not TOP and len(s) == 1 and not _opaque(s):
        if isinstance(e, ir.Const):
            return e
        return ir.Const(next(iter(s)), e.type)
    if isinstance(e, (ir.And, ir.Or)):
        decisive = isinstance(e, ir.Or)
        items, changed = [], False
        for i in e.items:
            x = residual(i, facts)
            changed = changed or x is not i
            if isinstance(x, ir.Const) and x.value is not None and x.value is not decisive:
                changed = True  # neither decides nor makes it unknown: `true and x` is `x`
                continue
            items.append(x)
        if not changed:
            return e
        if len(items) == 1 and isinstance(items[0], _BOOL_NODES):
            return items[0]  # those give True, False or None only: `and` of one item is the item
        if not items:
            return ir.Const(not decisive, e.type)
        return type(e)(tuple(items), e.type)
    if isinstance(e, ir.If):
        c = possible(e.cond, facts)
        if c is not TOP and len(c) == 1 and not _opaque(c) and None not in c:
            return residual(e.then if next(iter(c)) else e.otherwise, facts)
    return _rebuild(e, facts)


def _rebuild(e: ir.Expr, facts: Mapping[Path, Any]) -> ir.Expr:
    changes: dict[str, Any] = {}
    for name in _CHILD_FIELDS.get(type(e), ()):
        old = getattr(e, name)
        if old is None:
            continue
        if isinstance(old, tuple):
            new = tuple(residual(x, facts) for x in old)
            if any(a is not b for a, b in zip(new, old, strict=True)):
                changes[name] = new
        else:
            new = residual(old, facts)
            if new is not old:
                changes[name] = new
    return dataclasses.replace(e, **changes) if changes else e


_CHILD_FIELDS: dict[type, tuple[str, ...]] = {
    ir.Not: ("operand",), ir.Neg: ("operand",), ir.IsKnown: ("operand",),
    ir.And: ("items",), ir.Or: ("items",), ir.ListExpr: ("items",), ir.Builtin: ("args",),
    ir.Cmp: ("left", "right"), ir.Arith: ("left", "right"), ir.InSet: ("item", "options"),
    ir.If: ("cond", "then", "otherwise"), ir.Quant: ("coll", "body"),
    ir.Agg: ("coll", "where", "value"), ir.IndexExpr: ("base", "index"),
}
