"""Explaining a value: the concrete record paths it read, and the missing facts that made it unknown.

`Explainer` looks at one record (and element) under one rule. Every value comes from the
compiled closures (`backends/python.py`, the one evaluator); this module adds what the
closures do not compute:

- `path_of(e)`: the concrete path of a field (`meals[0].payer` for `m.payer`);
- `missing(e)`: for an unknown value, the absent facts that made it unknown, only those that
  mattered by Kleene logic (an `and` with a false item is false, so nothing is missing), and
  of an unknown `and` only its first unknown conjunct's (a conjunct guards those after it:
  `transport.mode == enterprise_paid_ticket and costs.reimbursed_by_own_unit != true` asks
  about the transport, and about the costs only once the ticket is known to be firm-paid);
- `notes()`: the divisions by zero met while computing values, once per place in the source;
- `witness(w)`: binds a top-level `some x in L: …` to its first satisfying element;
- `render(msg, lang)`: a message with its placeholders filled in.

How unknown propagates (`missing`) follows the closures: a node is *strict* (unknown when an
operand is unknown: the missing facts of its unknown operands) unless it is a leaf (a field,
a parameter, the window), `and`, `if`, `in`, or a comprehension, each handled below. A new strict
node needs nothing here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import ir
from .backends.python import NOTES, STORE, Fn, compile_expr
from .values import format_value

NONE: frozenset[str] = frozenset()
CALENDAR_FNS = frozenset({"add_working_days", "working_days_between", "is_working_day"})


class Closures:
    """The compiled closure of any expression of a program, compiled once on first use and
    kept with its node (so the id a closure is found by stays the node's)."""

    def __init__(self) -> None:
        self._fns: dict[int, tuple[ir.Expr, Fn]] = {}

    def __call__(self, e: ir.Expr) -> Fn:
        hit = self._fns.get(id(e))
        if hit is None or hit[0] is not e:
            hit = self._fns[id(e)] = (e, compile_expr(e))
        return hit[1]


class Explainer:
    def __init__(self, closures: Callable[[ir.Expr], Fn], record: dict, params: dict,
                 bindings: dict, paths: dict, window_keys: tuple[ir.Expr, ...] = ()):
        self.fn = closures
        self.r = record
        self.p = params
        self._notes: list = []
        self.v = {**bindings, NOTES: self._notes}  # the closures note divisions by zero here
        self.paths = dict(paths)  # var -> concrete path prefix ("meals[0]")
        self.window_keys = window_keys  # the rule's window keys: what an unknown window lacks

    def value(self, e: ir.Expr) -> Any:
        return self.fn(e)(self.r, self.p, self.v)

    def notes(self) -> list[str]:
        """Each division by zero met so far, once, in the order first met."""
        return note_texts(self._notes)

    def render(self, msg: ir.Message, lang: str) -> str:
        out = []
        for part in msg.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                out.append(format_value(self.value(part), enum_labels(part.type), lang))
        return "".join(out)

    # ---- paths and bindings
    def path_of(self, e: ir.Expr) -> str | None:
        if isinstance(e, ir.Field):
            if e.base is None:
                return e.name
            base = self.path_of(e.base)
            return f"{base}.{e.name}" if base else None
        if isinstance(e, ir.Var):
            return self.paths.get(e.name, e.name)
        if isinstance(e, ir.IndexExpr):
            base = self.path_of(e.base)
            return f"{base}[{self.value(e.index)}]" if base else None
        if isinstance(e, ir.Lookup):
            return f"{e.kind}[{self.value(e.id)}]"
        return None

    def bind(self, var: str, coll: ir.Expr, i: int, item: Any) -> tuple:
        """Bind `var` to element `i` of `coll`; returns what `unbind` restores."""
        saved = (self.v.get(var, _UNSET), self.paths.get(var, _UNSET))
        self.v[var] = item
        if isinstance(coll, ir.WindowRef):
            self.paths[var] = f"window[{item.get('id')}]" if isinstance(item, dict) else f"window[{i}]"
        elif isinstance(coll, ir.Related):  # records of another kind, by their ids
            self.paths[var] = f"{coll.kind}[{item.get('id')}]" if isinstance(item, dict) else f"{coll.kind}[{i}]"
        else:
            base = self.path_of(coll)
            self.paths[var] = f"{base}[{i}]" if base else f"[{i}]"
        return saved

    def unbind(self, var: str, saved: tuple) -> None:
        for store, old in ((self.v, saved[0]), (self.paths, saved[1])):
            if old is _UNSET:
                store.pop(var, None)
            else:
                store[var] = old

    def witness(self, w: ir.Witness) -> bool:
        """Bind `w.var` to the first element satisfying the body; True if one was found."""
        for i, item in enumerate(self.value(w.coll) or ()):
            saved = self.bind(w.var, w.coll, i, item)
            if self.value(w.body) is True:
                return True
            self.unbind(w.var, saved)
        return False

    # ---- missing facts
    def missing(self, e: ir.Expr) -> frozenset[str]:
        """The absent facts that make `e` unknown (none when it is known)."""
        if self.value(e) is not None:
            return NONE
        return self._missing(e)

    def _missing(self, e: ir.Expr) -> frozenset[str]:
        """`missing(e)` for an `e` known to be unknown."""
        if isinstance(e, ir.Field):
            if e.base is not None and self.value(e.base) is None:
                return self._missing(e.base)
            return frozenset({self.path_of(e) or e.path})
        if isinstance(e, ir.ParamRef):
            return frozenset({f"param.{e.name}"})
        if isinstance(e, ir.WindowRef):  # unknown when a key of this record is, or the width
            return frozenset().union(*(self.missing(k) for k in self.window_keys))
        if isinstance(e, ir.If):
            c = self.value(e.cond)
            if c is None:
                return self._missing(e.cond)
            return self.missing(e.then if c else e.otherwise)
        if isinstance(e, ir.And):  # a conjunct guards those after it: only the first unknown one is asked
            return next(self._missing(c) for c in e.items if self.value(c) is None)
        if isinstance(e, ir.InSet) and self.value(e.item) is None:
            return self._missing(e.item)
        if isinstance(e, (ir.Quant, ir.Agg)):
            return self._comprehension(e)
        if isinstance(e, ir.Lookup):  # the id is known: the record is not among those known
            return self._missing(e.id) if self.value(e.id) is None else frozenset({self.path_of(e) or e.kind})
        if isinstance(e, ir.Related):
            return self._related(e)
        if isinstance(e, ir.Builtin) and e.fn in CALENDAR_FNS and all(
                self.value(a) is not None for a in e.args):  # a day the calendar does not cover
            return frozenset({f"param.{e.args[0].name}"})  # type: ignore[union-attr]
        out: set[str] = set()  # strict: the missing facts of its unknown operands
        for c in ir.children(e):
            if self.value(c) is None:
                out |= self._missing(c)
        return frozenset(out)

    def _related(self, e: ir.Related) -> frozenset[str]:
        """Unknown: a key value of this record is, or the records are not available, or the
        filter is unknown for a candidate (the first one, in order)."""
        keys: set[str] = set()
        for x in e.values:
            if self.value(x) is None:
                keys |= self._missing(x)
        if keys or any(self.value(x) is None for x in e.values):
            return frozenset(keys)
        store = self.v.get(STORE)
        if store is None or e.where is None:
            return frozenset({f"records({e.kind})"})
        for x in store.related(e.kind, e.paths, tuple(self.value(k) for k in e.values)):
            saved = (self.v.get(e.var, _UNSET), self.paths.get(e.var, _UNSET))
            self.v[e.var] = x
            self.paths[e.var] = f"{e.kind}[{x.get('id')}]"
            try:
                if self.value(e.where) is None:
                    return self._missing(e.where)
            finally:
                self.unbind(e.var, saved)
        return NONE

    def _comprehension(self, e: ir.Quant | ir.Agg) -> frozenset[str]:
        if self.value(e.coll) is None:
            return self._missing(e.coll)
        out: set[str] = set()
        for i, item in enumerate(self.value(e.coll)):
            saved = self.bind(e.var, e.coll, i, item)
            try:
                if isinstance(e, ir.Quant):  # unknown: no element decided it
                    out |= self.missing(e.body)
                    continue
                # count/sum: unknown from the first element whose filter or value is unknown
                if e.where is not None:
                    w = self.value(e.where)
                    if w is None:
                        return self._missing(e.where)
                    if not w:
                        continue
                if e.value is not None and self.value(e.value) is None:
                    return self._missing(e.value)
            finally:
                self.unbind(e.var, saved)
        return frozenset(out)


def note_texts(spans: list) -> list[str]:
    """The notes of the divisions by zero at these spans (closures collect them under `NOTES`),
    each once, in the order first met."""
    return list(dict.fromkeys(f"division by zero at {sp.file}:{sp.line}:{sp.column}" for sp in spans))


def enum_labels(t) -> dict | None:
    """Display labels for an enum value, or for the elements of a list of enum values."""
    if t.kind == "enum":
        return t.labels
    if t.kind == "list" and t.elem is not None and t.elem.kind == "enum":
        return t.elem.labels
    return None


_UNSET = object()
