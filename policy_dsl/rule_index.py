"""The rule index: the rules in force that a record's enum and flag values rule out, skipped.

Most conditions start from what a record is about: `when interaction.kind in {…} and …`. For
each record-level rule (not `for each`: its list decides whether it is unknown), the index
takes one top-level conjunct of the condition that compares a record field of enum or
boolean type with constants, its *guard*. A record whose field holds a value the guard
excludes cannot satisfy the rule (`false and x` is false, whatever `x` is), so the rule is not
evaluated at all; an unknown value (absent) rules nothing out. The rules left for each
combination of guard values are kept per list of rules in force (at most `PLANS`), so a
record costs one read per guarded field and one dict lookup. `--explain` evaluates every rule.

A speed measure like `backends/memo.py`: `benchmarks/ablate.py` measures what it pays
(docs/architecture.md); remove it when it no longer does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from . import ir

PLANS = 4096  # combinations of guard values kept per list of rules in force (emptied when full)
_KEYS = frozenset({str, bool, type(None)})


def conjuncts(e: ir.Expr | None) -> list[ir.Expr]:
    """The top-level items of an `and` (flattened), or the expression itself."""
    if e is None:
        return []
    if isinstance(e, ir.And):
        return [x for item in e.items for x in conjuncts(item)]
    return [e]


def _record_path(e: ir.Expr) -> tuple[str, ...] | None:
    names: list[str] = []
    while isinstance(e, ir.Field):
        names.append(e.name)
        if e.base is None:
            return tuple(reversed(names))
        e = e.base  # type: ignore[assignment]
    return None


def guard(cond: ir.Expr | None) -> tuple[tuple[str, ...], frozenset, bool] | None:
    """(field path, constants, whether the field must be one of them (else: none of them)) of
    the first conjunct of `cond` that compares an enum or boolean record field with constants."""
    for item in conjuncts(cond):
        negated = False
        if isinstance(item, ir.Not):
            item, negated = item.operand, True
        if isinstance(item, ir.InSet):
            field, options, inside = item.item, item.options, not item.negated
        elif isinstance(item, ir.Cmp) and item.op in ("==", "!="):
            field, options, inside = item.left, (item.right,), item.op == "=="
        else:
            continue
        path = _record_path(field)
        if (path is None or field.type.kind not in ("enum", "bool")
                or not all(isinstance(o, ir.Const) and o.value is not None for o in options)):
            continue
        return path, frozenset(o.value for o in options if isinstance(o, ir.Const)), inside != negated
    return None


class RuleIndex:
    """Guards of a program's rules (`evaluate.CompiledRule`), keyed by rule id."""

    def __init__(self, rules: Sequence[Any]):
        found = {c.ir.id: guard(c.cond_ir) for c in rules if c.coll is None and c.ir.kind != "tolerance"}
        self.paths = sorted({g[0] for g in found.values() if g is not None})
        position = {path: i for i, path in enumerate(self.paths)}
        self.guards = {rid: (position[g[0]], g[1], g[2]) for rid, g in found.items() if g is not None}
        self._getters: list[Callable[[dict], Any]] = [_getter(p) for p in self.paths]

    def key(self, r: dict) -> tuple | None:
        """The record's values of the guarded fields; None when one is of an unexpected type."""
        key = tuple([get(r) for get in self._getters])
        return key if _KEYS.issuperset(map(type, key)) else None

    def rules_for(self, rules: list, plans: dict, r: dict) -> list:
        """`rules` without those the record's guard values rule out (`plans`: the cache kept
        with this list of rules)."""
        if not self.paths:
            return rules
        key = self.key(r)
        if key is None:
            return rules
        hit = plans.get(key)
        if hit is None:
            if len(plans) >= PLANS:
                plans.clear()
            hit = plans[key] = [c for c in rules if not self._excludes(c.ir.id, key)]
        return hit

    def _excludes(self, rule_id: str, key: tuple) -> bool:
        g = self.guards.get(rule_id)
        if g is None:
            return False
        x = key[g[0]]
        return x is not None and (x in g[1]) != g[2]


def _getter(path: tuple[str, ...]) -> Callable[[dict], Any]:
    if len(path) == 1:
        name = path[0]
        return lambda r: r.get(name)
    head, rest = path[0], path[1:]

    def get(r: dict) -> Any:
        x = r.get(head)
        for k in rest:
            if not isinstance(x, dict):
                return None
            x = x.get(k)
        return x if not isinstance(x, (dict, list)) else None
    return get
