"""IR expressions → z3 terms with three-valued logic (a `known` flag beside every value).

The encoding follows the reference backend (policy_dsl/backends/python.py) node by node:
unknown is SQL NULL, `and`/`or`/`not` are Kleene, `some`/`all`/`count`/`sum` over an
absent list are unknown. Parameters are constants (resolved for one jurisdiction and date)
and the record's `jurisdiction` and `date` are fixed, so calendar builtins over them fold.

What the encoding cannot express exactly (string builtins, regular expressions, `%`,
calendar arithmetic on symbolic dates, …) becomes a fresh unconstrained value of the right
type: an over-approximation. "No record can …" answers stay sound; a record found through
an abstracted node may not really behave as claimed, which is why every counterexample is
re-checked with the real evaluator before it is reported.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import z3

from .. import ir
from ..values import STRICT_BUILTINS, add_duration
from .model import SECONDS_PER_DAY, ListSym, SymRecord


class Unsupported(Exception):
    pass


@dataclass
class V:
    """A three-valued scalar: `known` and `value` (a z3 term, or a Duration constant)."""

    known: z3.BoolRef
    value: Any
    kind: str  # bool int number money string date datetime enum duration


@dataclass
class ObjRef:
    cpath: str  # "" = the record itself


@dataclass
class Coll:
    """A list: whether it is known, and its possible items (presence, element)."""

    known: z3.BoolRef
    items: list[tuple[z3.BoolRef, Any]]  # element: ObjRef or V
    length: z3.ArithRef | None = None


@dataclass
class Encoder:
    rec: SymRecord
    params: dict[str, Any]
    param_types: dict[str, str] = field(default_factory=dict)
    approx: set[str] = field(default_factory=set)  # what was abstracted (for the report)
    window_keys: tuple[ir.Expr, ...] = ()
    _fresh: int = 0

    # ---- entry points ------------------------------------------------------------
    def boolean(self, e: ir.Expr, env: dict) -> V:
        return self.scalar(e, env)

    def truth(self, e: ir.Expr, env: dict) -> z3.BoolRef:
        v = self.scalar(e, env)
        return z3.And(v.known, v.value)

    def falsity(self, e: ir.Expr, env: dict) -> z3.BoolRef:
        v = self.scalar(e, env)
        return z3.And(v.known, z3.Not(v.value))

    # ---- dispatch --------------------------------------------------------------
    def scalar(self, e: ir.Expr, env: dict) -> V:
        try:
            out = self._scalar(e, env)
        except Unsupported as exc:
            return self.fresh(e, str(exc))
        if not isinstance(out, V):
            raise Unsupported(f"{type(e).__name__} is not a scalar")
        return out

    def fresh(self, e: ir.Expr, why: str) -> V:
        kind = _kind(e.type)
        if kind in ("list", "object", "any", "duration"):
            raise Unsupported(why)
        self.approx.add(why)
        self._fresh += 1
        n = self._fresh
        k = z3.Bool(f"abs{n}.k")
        if kind == "bool":
            v = z3.Bool(f"abs{n}.v")
        elif kind in ("money", "number"):
            v = z3.Real(f"abs{n}.v")
        elif kind == "string":
            v = z3.String(f"abs{n}.v")
        else:
            v = z3.Int(f"abs{n}.v")
        return V(k, v, kind)

    def _scalar(self, e: ir.Expr, env: dict) -> Any:
        m = getattr(self, "_" + type(e).__name__)
        return m(e, env)

    # ---- leaves ----------------------------------------------------------------
    def _Const(self, e: ir.Const, env: dict) -> V:
        if e.value is None:
            return V(z3.BoolVal(False), _dummy(_kind(e.type)), _kind(e.type))
        return self.const(e.value, _kind(e.type))

    def const(self, value: Any, kind: str) -> V:
        if isinstance(value, ir.Duration):
            return V(z3.BoolVal(True), value, "duration")
        if kind == "enum":
            return V(z3.BoolVal(True), z3.IntVal(self.rec.enums.id(value)), "enum")
        if isinstance(value, bool):
            return V(z3.BoolVal(True), z3.BoolVal(value), "bool")
        if isinstance(value, int):
            return V(z3.BoolVal(True), z3.IntVal(value), "int" if kind not in ("money", "number") else kind)
        if isinstance(value, Decimal):
            return V(z3.BoolVal(True), z3.RealVal(str(value)), kind if kind in ("money", "number") else "number")
        if isinstance(value, dt.datetime):
            return V(z3.BoolVal(True), self.rec.const(value, "datetime"), "datetime")
        if isinstance(value, dt.date):
            return V(z3.BoolVal(True), z3.IntVal(value.toordinal()), "date")
        if isinstance(value, str):
            return V(z3.BoolVal(True), z3.StringVal(value), "string")
        raise Unsupported(f"constant {value!r}")

    def _ParamRef(self, e: ir.ParamRef, env: dict) -> V:
        value = self.params.get(e.name)
        if value is None:
            return V(z3.BoolVal(False), _dummy(_kind(e.type)), _kind(e.type))
        if isinstance(value, (ir.Calendar, list)):  # a calendar, a set or a table: not modelled
            raise Unsupported(f"the {e.type.kind if e.type.kind == 'calendar' else 'set or table'} "
                              f"param.{e.name}")
        return self.const(value, _kind(e.type))

    def _Var(self, e: ir.Var, env: dict) -> Any:
        if e.name not in env:
            raise Unsupported(f"variable {e.name}")
        return env[e.name]

    def _Field(self, e: ir.Field, env: dict) -> Any:
        base = ObjRef("") if e.base is None else self._scalar(e.base, env)
        if isinstance(base, V):
            raise Unsupported(f"field of a scalar: {e.path}")
        if not isinstance(base, ObjRef):
            raise Unsupported(f"field of a list: {e.path}")
        cpath = f"{base.cpath}.{e.name}" if base.cpath else e.name
        kind = _kind(e.type)
        if kind == "list":
            return self.coll(self.rec.list(cpath))
        if kind == "object":
            return ObjRef(cpath)
        try:
            leaf = self.rec.leaf(cpath)
        except KeyError:
            raise Unsupported(f"field {e.path}") from None
        return V(leaf.known, leaf.value, leaf.info.kind)

    def coll(self, lst: ListSym) -> Coll:
        elem = self.rec.index.get(lst.spath + "[]")
        items = []
        for i in range(lst.bound):
            present = z3.And(lst.known, lst.length > i)
            cpath = f"{lst.cpath}.{i}"
            if elem is not None and elem.kind == "object":
                items.append((present, ObjRef(cpath)))
            else:
                leaf = self.rec.leaf(cpath)
                items.append((present, V(z3.BoolVal(True), leaf.value, leaf.info.kind)))
        return Coll(lst.known, items, lst.length)

    def _WindowRef(self, e: ir.WindowRef, env: dict) -> Coll:
        # Checked on its own (one record per file), a record's window is itself, provided
        # every window key is known; otherwise the window is unknown.
        known = z3.And([self.scalar(k, {}).known for k in self.window_keys]) if self.window_keys else z3.BoolVal(True)
        return Coll(known, [(z3.BoolVal(True), ObjRef(""))], z3.IntVal(1))

    def _ListExpr(self, e: ir.ListExpr, env: dict) -> Coll:
        items = [(z3.BoolVal(True), self.scalar(x, env)) for x in e.items]
        return Coll(z3.BoolVal(True), items, z3.IntVal(len(items)))

    # ---- logic -----------------------------------------------------------------
    def _Not(self, e: ir.Not, env: dict) -> V:
        x = self.scalar(e.operand, env)
        return V(x.known, z3.Not(x.value), "bool")

    def _And(self, e: ir.And, env: dict) -> V:
        xs = [self.scalar(i, env) for i in e.items]
        any_false = z3.Or([z3.And(x.known, z3.Not(x.value)) for x in xs])
        all_true = z3.And([z3.And(x.known, x.value) for x in xs])
        return V(z3.Or(any_false, all_true), all_true, "bool")

    def _Or(self, e: ir.Or, env: dict) -> V:
        xs = [self.scalar(i, env) for i in e.items]
        any_true = z3.Or([z3.And(x.known, x.value) for x in xs])
        all_false = z3.And([z3.And(x.known, z3.Not(x.value)) for x in xs])
        return V(z3.Or(any_true, all_false), any_true, "bool")

    def _IsKnown(self, e: ir.IsKnown, env: dict) -> V:
        x = self._scalar(e.operand, env)
        known = x.known if isinstance(x, (V, Coll)) else self.rec.object_known(x.cpath)
        return V(z3.BoolVal(True), z3.Not(known) if e.negated else known, "bool")

    def _If(self, e: ir.If, env: dict) -> V:
        c = self.scalar(e.cond, env)
        a, b = self.scalar(e.then, env), self.scalar(e.otherwise, env)
        av, bv = _unify(a, b)
        return V(z3.And(c.known, z3.If(c.value, a.known, b.known)), z3.If(c.value, av, bv),
                 _join(a.kind, b.kind))

    # ---- comparisons and arithmetic ------------------------------------------------
    def _Cmp(self, e: ir.Cmp, env: dict) -> V:
        a, b = self.scalar(e.left, env), self.scalar(e.right, env)
        return V(z3.And(a.known, b.known), self.compare(e.op, a, b), "bool")

    def compare(self, op: str, a: V, b: V) -> z3.BoolRef:
        if "duration" in (a.kind, b.kind):
            raise Unsupported("comparison of durations")
        if {a.kind, b.kind} == {"enum", "string"}:
            a, b = self._enum_side(a), self._enum_side(b)
        if {a.kind, b.kind} & {"datetime"} and a.kind != b.kind:
            raise Unsupported("datetime compared with another type")
        x, y = _unify(a, b)
        if op == "==":
            return x == y
        if op == "!=":
            return x != y
        if a.kind == "string":
            return {"<": z3.StrLT(x, y), "<=": z3.StrLE(x, y), ">": z3.StrLT(y, x),
                    ">=": z3.StrLE(y, x)}[op]
        return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]

    def _enum_side(self, x: V) -> V:
        """A string constant compared with an enum is read as that enum's value."""
        if x.kind != "string":
            return x
        v = z3.simplify(x.value)
        if not z3.is_string_value(v):
            raise Unsupported("enum compared with a computed string")
        name = v.as_string()
        return V(x.known, z3.IntVal(self.rec.enums.ids.get(name, -1)), "enum")

    def _InSet(self, e: ir.InSet, env: dict) -> V:
        x = self.scalar(e.item, env)
        opts = [self.scalar(o, env) for o in e.options]
        match = z3.Or([z3.And(o.known, self.compare("==", x, o)) for o in opts])
        any_unknown = z3.Or([z3.Not(o.known) for o in opts])
        known = z3.And(x.known, z3.Or(match, z3.Not(any_unknown)))
        return V(known, z3.Xor(match, z3.BoolVal(e.negated)), "bool")

    def _Neg(self, e: ir.Neg, env: dict) -> V:
        x = self.scalar(e.operand, env)
        if x.kind not in ("int", "number", "money"):
            raise Unsupported("negation of a non-number")
        return V(x.known, -x.value, x.kind)

    def _Arith(self, e: ir.Arith, env: dict) -> V:
        a, b = self.scalar(e.left, env), self.scalar(e.right, env)
        known = z3.And(a.known, b.known)
        kind = _kind(e.type)
        if b.kind == "duration":
            if a.kind not in ("date", "datetime") or e.op not in "+-":
                raise Unsupported("duration arithmetic")
            d: ir.Duration = b.value
            sign = 1 if e.op == "+" else -1
            if d.unit in ("days", "weeks"):
                days = d.amount * (7 if d.unit == "weeks" else 1) * sign
                step = days * (SECONDS_PER_DAY if a.kind == "datetime" else 1)
                return V(known, a.value + step, a.kind)
            folded = z3.simplify(a.value)
            if a.kind == "date" and z3.is_int_value(folded):
                day = add_duration(dt.date.fromordinal(folded.as_long()), d, sign)
                return V(known, z3.IntVal(day.toordinal()), "date")
            raise Unsupported("calendar months/years added to a date that varies")
        if a.kind in ("date", "datetime") or b.kind in ("date", "datetime"):
            raise Unsupported("date arithmetic")
        if a.kind not in ("int", "number", "money") or b.kind not in ("int", "number", "money"):
            raise Unsupported(f"arithmetic on {a.kind}/{b.kind}")
        x, y = _unify(a, b)
        if e.op == "+":
            return V(known, x + y, kind)
        if e.op == "-":
            return V(known, x - y, kind)
        if e.op == "*":
            return V(known, x * y, kind)
        if e.op == "/":
            xr = x if z3.is_real(x) else z3.ToReal(x)
            yr = y if z3.is_real(y) else z3.ToReal(y)
            return V(z3.And(known, yr != 0), xr / yr, kind if kind != "int" else "number")
        raise Unsupported("remainder (%)")

    # ---- quantifiers and aggregates ---------------------------------------------------
    def collection(self, e: ir.Expr, env: dict) -> Coll:
        c = self._scalar(e, env)
        if not isinstance(c, Coll):
            raise Unsupported("a quantifier over something that is not a list")
        return c

    def _Quant(self, e: ir.Quant, env: dict) -> V:
        c = self.collection(e.coll, env)
        bodies = [(p, self.scalar(e.body, {**env, e.var: item})) for p, item in c.items]
        any_unknown = z3.Or([z3.And(p, z3.Not(b.known)) for p, b in bodies])
        if e.kind == "some":
            hit = z3.Or([z3.And(p, b.known, b.value) for p, b in bodies])
            return V(z3.And(c.known, z3.Or(hit, z3.Not(any_unknown))), hit, "bool")
        miss = z3.Or([z3.And(p, b.known, z3.Not(b.value)) for p, b in bodies])
        return V(z3.And(c.known, z3.Or(miss, z3.Not(any_unknown))), z3.Not(miss), "bool")

    def _Agg(self, e: ir.Agg, env: dict) -> V:
        c = self.collection(e.coll, env)
        kind = _kind(e.type)
        real = kind in ("money", "number")
        zero = z3.RealVal(0) if real else z3.IntVal(0)
        known = [c.known]
        total = zero
        for p, item in c.items:
            inner = {**env, e.var: item}
            w = self.scalar(e.where, inner) if e.where is not None else None
            selected = p if w is None else z3.And(p, w.value)
            if w is not None:
                known.append(z3.Implies(p, w.known))
            if e.value is None:
                term = z3.IntVal(1)
            else:
                val = self.scalar(e.value, inner)
                known.append(z3.Implies(selected, val.known))
                term = val.value
                if real and not z3.is_real(term):
                    term = z3.ToReal(term)
            total = total + z3.If(selected, term, zero)
        return V(z3.And(known), total, kind)

    def _IndexExpr(self, e: ir.IndexExpr, env: dict) -> V:
        c = self.collection(e.base, env)
        i = self.scalar(e.index, env)
        if any(not isinstance(item, V) for _, item in c.items):
            raise Unsupported("indexing a list of objects")
        known = z3.BoolVal(False)
        value = _dummy(_kind(e.type))
        for n, (p, item) in reversed(list(enumerate(c.items))):
            hit = z3.And(p, i.value == n)
            known = z3.If(hit, item.known, known)
            value = z3.If(hit, item.value, value)
        return V(z3.And(c.known, i.known, known), value, _kind(e.type))

    # ---- other records: not analysable (the records a run knows are not modelled) -----------
    def _Lookup(self, e: ir.Lookup, env: dict) -> V:
        raise Unsupported(f"a {e.kind} record looked up by id")

    def _Related(self, e: ir.Related, env: dict) -> V:
        raise Unsupported(f"records of kind {e.kind}")

    # ---- builtins ------------------------------------------------------------------
    def _Builtin(self, e: ir.Builtin, env: dict) -> V:
        fn = e.fn
        if fn == "length" and _kind(e.args[0].type) == "list":
            c = self.collection(e.args[0], env)
            return V(c.known, c.length if c.length is not None else z3.IntVal(len(c.items)), "int")
        args = [self.scalar(a, env) for a in e.args]
        if fn == "coalesce":
            a, b = args
            x, y = _unify(a, b)
            return V(z3.Or(a.known, b.known), z3.If(a.known, x, y), _join(a.kind, b.kind))
        known = z3.And([a.known for a in args])
        folded = self._fold(fn, args, e)
        if folded is not None:
            return folded
        kind = _kind(e.type)
        if fn == "length" and args[0].kind == "string":
            return V(known, z3.Length(args[0].value), "int")
        if fn == "date_of" and args[0].kind == "datetime":
            return V(known, args[0].value / SECONDS_PER_DAY + 1, "date")
        if fn == "date_of" and args[0].kind == "date":
            return V(known, args[0].value, "date")
        if fn == "days_between":
            a, b = (self._as_day(x) for x in args)
            return V(known, b - a, "int")
        if fn == "abs":
            x = args[0].value
            return V(known, z3.If(x >= 0, x, -x), args[0].kind)
        if fn in ("min", "max") and len(args) == 2:
            x, y = _unify(*args)
            pick = x <= y if fn == "min" else x >= y
            return V(known, z3.If(pick, x, y), kind)
        if fn == "floor" and args[0].kind in ("number", "money"):
            return V(known, z3.ToInt(args[0].value), "int")
        if fn == "floor" and args[0].kind == "int":
            return V(known, args[0].value, "int")
        raise Unsupported(f"builtin {fn}")

    def _as_day(self, x: V) -> z3.ArithRef:
        if x.kind == "datetime":
            return x.value / SECONDS_PER_DAY + 1
        if x.kind == "date":
            return x.value
        raise Unsupported("days_between of a non-date")

    def _fold(self, fn: str, args: list[V], e: ir.Builtin) -> V | None:
        """A builtin whose arguments are all constants is computed by the real implementation."""
        values = []
        for a in args:
            if not z3.is_true(z3.simplify(a.known)):
                return None
            values.append(self._py(a))
            if values[-1] is _NO:
                return None
        try:
            out = STRICT_BUILTINS[fn](*values)
        except Exception:  # noqa: BLE001 - a builtin error at run time is unknown too
            return None
        if out is None:
            return V(z3.BoolVal(False), _dummy(_kind(e.type)), _kind(e.type))
        if isinstance(out, (list, tuple)):
            return None
        return self.const(out, _kind(e.type))

    def _py(self, a: V) -> Any:
        if a.kind == "duration":
            return a.value
        v = z3.simplify(a.value)
        if a.kind == "date" and z3.is_int_value(v):
            return dt.date.fromordinal(v.as_long())
        if a.kind == "int" and z3.is_int_value(v):
            return v.as_long()
        if a.kind in ("money", "number") and (z3.is_rational_value(v) or z3.is_int_value(v)):
            from .model import decimal_text
            return Decimal(decimal_text(v))
        if a.kind == "string" and z3.is_string_value(v):
            return v.as_string()
        if a.kind == "bool" and (z3.is_true(v) or z3.is_false(v)):
            return z3.is_true(v)
        return _NO


_NO = object()


def _kind(t) -> str:
    k = t.kind
    return "money" if k == "money" else k


def _dummy(kind: str) -> z3.ExprRef:
    if kind == "bool":
        return z3.BoolVal(False)
    if kind in ("money", "number"):
        return z3.RealVal(0)
    if kind == "string":
        return z3.StringVal("")
    return z3.IntVal(0)


def _join(a: str, b: str) -> str:
    if a == b:
        return a
    if {a, b} <= {"int", "number", "money"}:
        return "money" if "money" in (a, b) else "number"
    return a


def _unify(a: V, b: V) -> tuple[Any, Any]:
    """Operands of one z3 sort (an Int beside a Real becomes a Real)."""
    x, y = a.value, b.value
    if isinstance(x, ir.Duration) or isinstance(y, ir.Duration):
        raise Unsupported("durations")
    if z3.is_real(x) and z3.is_int(y):
        y = z3.ToReal(y)
    elif z3.is_int(x) and z3.is_real(y):
        x = z3.ToReal(x)
    if x.sort() != y.sort():
        raise Unsupported(f"values of different kinds ({a.kind}, {b.kind})")
    return x, y
