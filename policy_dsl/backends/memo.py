"""Memoisation of closed comprehensions: a speed measure of the Python backend.

A comprehension (`some`, `all`, `count`, `sum`) that reads only scalar record fields and
parameters (no variable bound outside it, no window, no list or object field) and does not
divide (a division by zero is noted each time it is met) computes the same value from the same
inputs, and the same inputs recur across a batch: the check digit of a
firm's USCC (`sum(i in range(0, 17): …)`) is worked out for every record about that firm.
Such a node's closure keeps its value per tuple of input values, type-exact (`1` and `True`,
`1.0` and `1.00` stay apart: they print differently), at most `LIMIT` values (emptied when
full). Closures are pure, so a kept value is the one the closure would compute.

Measured by `benchmarks/ablate.py` (docs/architecture.md): it pays by itself; remove it when
an ablation says it no longer does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from .. import ir

Fn = Callable[[dict, dict, dict], Any]
LIMIT = 65_536  # values kept per node: more than the distinct firms of a large batch
SCALAR = frozenset({"bool", "int", "number", "money", "string", "enum", "date", "datetime", "duration"})
_UNKEYABLE = object()


def inputs(e: ir.Expr) -> tuple[ir.Expr, ...] | None:
    """The scalar record fields and parameters a closed comprehension reads (each once, in the
    order met); None when `e` is not a comprehension or is not closed."""
    if ir.binding(e) is None:
        return None
    found: dict[str, ir.Expr] = {}
    if not _collect(e, frozenset(), found):
        return None
    return tuple(found.values()) or None


def _collect(e: ir.Expr, bound: frozenset[str], found: dict[str, ir.Expr]) -> bool:
    if isinstance(e, ir.WindowRef) or isinstance(e, ir.Arith) and e.op in ("/", "%"):
        return False
    if isinstance(e, (ir.Lookup, ir.Related)):  # reads the records a run knows, not only inputs
        return False
    if isinstance(e, ir.Var):
        return e.name in bound
    if isinstance(e, ir.ParamRef):
        found.setdefault(f"param.{e.name}", e)
        return e.type.kind in SCALAR
    if isinstance(e, ir.Field):
        root: ir.Expr = e
        while isinstance(root, ir.Field) and root.base is not None:
            root = root.base
        if isinstance(root, ir.Field):  # read from the record itself
            found.setdefault(e.path, e)
            return e.type.kind in SCALAR
    b = ir.binding(e)
    inner = bound | {b[0]} if b is not None else bound
    for c in ir.children(e):
        if not _collect(c, bound if b is not None and c is b[1] else inner, found):
            return False
    return True


_PLAIN = frozenset({int, bool, dt.date, dt.datetime, ir.Duration})


def _key(x: Any) -> Any:
    t = type(x)
    if t is str or x is None:
        return x
    if t is Decimal:
        return (t, str(x))
    if t in _PLAIN:
        return (t, x)
    return _UNKEYABLE


def memoised(fn: Fn, getters: list[Fn]) -> Fn:
    """`fn`, with its values kept per tuple of the values `getters` read."""
    kept: dict = {}

    def memo(r, p, v):
        k = tuple([_key(g(r, p, v)) for g in getters])
        if _UNKEYABLE in k:
            return fn(r, p, v)
        hit = kept.get(k, _UNKEYABLE)
        if hit is _UNKEYABLE:
            hit = fn(r, p, v)
            if len(kept) >= LIMIT:
                kept.clear()
            kept[k] = hit
        return hit
    return memo
