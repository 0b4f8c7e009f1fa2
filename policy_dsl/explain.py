"""A tracing evaluator for the slow path: which facts were missing, message text, evidence.

It walks the IR and returns `(value, missing)` where `missing` names the absent field
paths that made the value unknown (only those that mattered, by Kleene logic). The fast
closures of `backends/python.py` decide; this explains. The conformance suite runs both.
"""

from __future__ import annotations

import operator
from decimal import Decimal
from typing import Any

from . import ir
from .values import STRICT_BUILTINS, arith, format_value

NONE: frozenset[str] = frozenset()
_CMP = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
        ">": operator.gt, ">=": operator.ge}


class Tracer:
    def __init__(self, record: dict, params: dict, bindings: dict, paths: dict,
                 window_keys: tuple[ir.Expr, ...] = ()):
        self.r = record
        self.p = params
        self.notes: list[str] = []
        self.v = bindings
        self.paths = paths  # var -> concrete path prefix ("meals[0]")
        self.window_keys = window_keys  # the rule's window keys: what an unknown window lacks

    def eval(self, e: ir.Expr) -> tuple[Any, frozenset[str]]:
        return getattr(self, "_" + type(e).__name__)(e)

    def value(self, e: ir.Expr) -> Any:
        return self.eval(e)[0]

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
            idx = self.value(e.index)
            return f"{base}[{idx}]" if base else None
        return None

    # ---- leaves
    def _Const(self, e):
        return e.value, NONE

    def _Field(self, e: ir.Field):
        if e.base is None:
            base, missing = self.r, NONE
        else:
            base, missing = self.eval(e.base)
        if base is None:
            return None, missing
        x = base.get(e.name)
        if x is None:
            return None, frozenset({self.path_of(e) or e.path})
        return x, NONE

    def _Var(self, e):
        return self.v.get(e.name), NONE

    def _ParamRef(self, e):
        x = self.p.get(e.name)
        return x, (frozenset({f"param.{e.name}"}) if x is None else NONE)

    def _WindowRef(self, e):
        records = self.v.get("$window")
        if records is not None:
            return records, NONE
        # The window is unknown when a key of this record is: name the missing keys.
        missing: set[str] = set()
        for k in self.window_keys:
            missing |= self.eval(k)[1]
        return None, frozenset(missing)

    # ---- logic
    def _Not(self, e):
        x, m = self.eval(e.operand)
        return (None, m) if x is None else (not x, NONE)

    def _And(self, e):
        missing: set[str] = set()
        unknown = False
        for item in e.items:
            x, m = self.eval(item)
            if x is False:
                return False, NONE
            if x is None:
                unknown = True
                missing |= m
        return (None, frozenset(missing)) if unknown else (True, NONE)

    def _Or(self, e):
        missing: set[str] = set()
        unknown = False
        for item in e.items:
            x, m = self.eval(item)
            if x is True:
                return True, NONE
            if x is None:
                unknown = True
                missing |= m
        return (None, frozenset(missing)) if unknown else (False, NONE)

    def _strict(self, *exprs):
        values, missing = [], set()
        for x in exprs:
            val, m = self.eval(x)
            values.append(val)
            missing |= m
        return values, frozenset(missing)

    def _Cmp(self, e):
        (a, b), m = self._strict(e.left, e.right)
        if a is None or b is None:
            return None, m
        return _CMP[e.op](a, b), NONE

    def _Arith(self, e):
        (a, b), m = self._strict(e.left, e.right)
        if a is None or b is None:
            return None, m
        out = arith(e.op, a, b)
        if out is None and e.op in ("/", "%") and b == 0:
            sp = e.span
            self.notes.append(f"division by zero at {sp.file}:{sp.line}:{sp.column}")
        return out, NONE

    def _Neg(self, e):
        x, m = self.eval(e.operand)
        return (None, m) if x is None else (-x, NONE)

    def _InSet(self, e):
        x, m = self.eval(e.item)
        if x is None:
            return None, m
        unknown, missing = False, set()
        for o in e.options:
            val, mo = self.eval(o)
            if val is None:
                unknown, missing = True, missing | mo
            elif val == x:
                return (not e.negated), NONE
        return (None, frozenset(missing)) if unknown else (e.negated, NONE)

    def _IsKnown(self, e):
        x, _ = self.eval(e.operand)
        return ((x is None) if e.negated else (x is not None)), NONE

    def _If(self, e):
        c, m = self.eval(e.cond)
        if c is None:
            return None, m
        return self.eval(e.then if c else e.otherwise)

    def _bind(self, var: str, coll: ir.Expr, i: int, item: Any):
        saved = (self.v.get(var, _UNSET), self.paths.get(var, _UNSET))
        self.v[var] = item
        base = self.path_of(coll) if not isinstance(coll, ir.WindowRef) else "window"
        if isinstance(coll, ir.WindowRef) and isinstance(item, dict):
            self.paths[var] = f"window[{item.get('id')}]"
        else:
            self.paths[var] = f"{base}[{i}]" if base else f"[{i}]"
        return saved

    def _unbind(self, var: str, saved) -> None:
        for store, old in ((self.v, saved[0]), (self.paths, saved[1])):
            if old is _UNSET:
                store.pop(var, None)
            else:
                store[var] = old

    def _Quant(self, e):
        items, m = self.eval(e.coll)
        if items is None:
            return None, m
        unknown, missing = False, set()
        decisive = e.kind == "some"  # some: True decides; all: False decides
        for i, item in enumerate(items):
            saved = self._bind(e.var, e.coll, i, item)
            try:
                x, mx = self.eval(e.body)
            finally:
                self._unbind(e.var, saved)
            if x is decisive:
                return decisive, NONE
            if x is None:
                unknown, missing = True, missing | mx
        return (None, frozenset(missing)) if unknown else (not decisive, NONE)

    def witness(self, w: ir.Witness) -> bool:
        """Bind `w.var` to the first element satisfying the body; True if one was found."""
        items = self.value(w.coll)
        for i, item in enumerate(items or ()):
            saved = self._bind(w.var, w.coll, i, item)
            if self.value(w.body) is True:
                return True
            self._unbind(w.var, saved)
        return False

    def _Agg(self, e):
        items, m = self.eval(e.coll)
        if items is None:
            return None, m
        total = (Decimal(0) if e.type.kind in ("money", "number") else 0) if e.value is not None else 0
        for i, item in enumerate(items):
            saved = self._bind(e.var, e.coll, i, item)
            try:
                if e.where is not None:
                    w, mw = self.eval(e.where)
                    if w is None:
                        return None, mw
                    if not w:
                        continue
                if e.value is None:
                    total += 1
                else:
                    x, mx = self.eval(e.value)
                    if x is None:
                        return None, mx
                    total += x
            finally:
                self._unbind(e.var, saved)
        return total, NONE

    def _ListExpr(self, e):
        return [self.value(i) for i in e.items], NONE

    def _IndexExpr(self, e):
        (xs, i), m = self._strict(e.base, e.index)
        if xs is None or i is None:
            return None, m
        return (xs[i] if 0 <= i < len(xs) else None), NONE

    def _Builtin(self, e):
        if e.fn == "coalesce":
            x, m = self.eval(e.args[0])
            if x is not None:
                return x, NONE
            y, m2 = self.eval(e.args[1])
            return y, (m | m2 if y is None else NONE)
        args, m = self._strict(*e.args)
        if any(a is None for a in args):
            return None, m
        return STRICT_BUILTINS[e.fn](*args), NONE

    # ---- text
    def render(self, msg: ir.Message, lang: str) -> str:
        out = []
        for part in msg.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                out.append(format_value(self.value(part), enum_labels(part.type), lang))
        return "".join(out)


def enum_labels(t) -> dict | None:
    """Display labels for an enum value, or for the elements of a list of enum values."""
    if t.kind == "enum":
        return t.labels
    if t.kind == "list" and t.elem is not None and t.elem.kind == "enum":
        return t.elem.labels
    return None


_UNSET = object()
