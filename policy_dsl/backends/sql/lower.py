"""IR expressions → sqlglot expressions: values (`Lowering.value`) and missing facts (`Lowering.missing`).

One function per IR node type in each table (`_VALUE`, and the few special cases of
`missing.MISSING`), as in the Python backend. Unknown is SQL NULL: `and`/`or`/`not`, comparisons,
`IN` and `CASE` already follow Kleene logic in SQL; comprehensions encode each element's truth
value as 0 (false), 1 (unknown) or 2 (true) and take the largest (`some`) or smallest (`all`).

`missing(e)` is a list of concrete paths (`meals[1].diners`, `param.x`, `window[R-7].…`) that
is only meaningful where the value of `e` is NULL: the same rules as `policy_dsl/explain.py`
(a strict node names the missing facts of its unknown operands; `if`, `in`, the comprehensions
and the leaves are handled apart).

How values are held: a record is a STRUCT column (`rec`), its money as the text the record
wrote (read as DECIMAL(38, 12) where used), date-times as RFC 3339 text (an instant for
comparisons, the written date for `date_of`); the parameters in force are a STRUCT column (`p`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from sqlglot import exp

from ... import ir
from ...types import T
from . import dialect as d

BIGINT = exp.DataType.build("BIGINT")
VARCHAR = exp.DataType.build("VARCHAR")
DATE = exp.DataType.build("DATE")
BOOLEAN = exp.DataType.build("BOOLEAN")
DURATION = exp.DataType.build("STRUCT(m BIGINT, d BIGINT)", dialect="duckdb")  # months, days
# a working-day calendar (see builtins.py): covered spans [a, b), holidays, make-up working days,
# and g, the longest run of consecutive non-working days it covers
CALENDAR = exp.DataType.build("STRUCT(spans STRUCT(a DATE, b DATE)[], hol DATE[], mk DATE[], g BIGINT)",
                              dialect="duckdb")


class NotLowerable(Exception):
    """An IR construct the SQL backend does not lower (the caller uses the Python engine)."""


def value_type(t: T) -> exp.DataType:
    """The SQL type of a computed value of type `t`."""
    k = t.kind
    if k in ("money", "number"):
        return d.NUM
    if k == "int":
        return BIGINT
    if k == "bool":
        return BOOLEAN
    if k in ("string", "enum", "datetime", "any"):
        return VARCHAR
    if k == "date":
        return DATE
    if k == "duration":
        return DURATION.copy()
    if k == "list":
        return exp.DataType(this=exp.DataType.Type.ARRAY, expressions=[value_type(t.elem or T("any"))], nested=True)
    if k == "object":
        return storage_type(t)
    if k == "calendar":
        return CALENDAR.copy()
    raise NotLowerable(f"values of type {t}")


def storage_type(t: T) -> exp.DataType:
    """The SQL type a record holds a value of type `t` in (money as its written text)."""
    k = t.kind
    if k in ("money", "number"):
        return VARCHAR
    if k == "list":
        return exp.DataType(this=exp.DataType.Type.ARRAY, expressions=[storage_type(t.elem or T("any"))], nested=True)
    if k == "object":
        cols = [exp.ColumnDef(this=exp.to_identifier(name, quoted=True), kind=storage_type(ft))
                for name, ft in sorted(t.fields.items())]
        if not cols:
            return VARCHAR
        return exp.DataType(this=exp.DataType.Type.STRUCT, expressions=cols, nested=True)
    return value_type(t)


# ---- scopes --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Bound:
    """A bound variable: its SQL value, whether it holds stored (record) form, and its
    concrete path as a SQL text expression (None: named by the variable)."""

    value: exp.Expression
    stored: bool
    path: exp.Expression | None


@dataclass(frozen=True)
class Scope:
    rec: exp.Expression
    params: exp.Expression
    window: exp.Expression | None = None
    window_keys: tuple = ()
    vars: Mapping[str, Bound] = field(default_factory=dict)
    depth: int = 0
    pre: Mapping[int, tuple] = field(default_factory=dict)  # id(node) → (value, missing) columns (lookups.py)

    def bind(self, name: str, b: Bound) -> Scope:
        return replace(self, vars={**self.vars, name: b}, depth=self.depth + 1)


def lit(s: str) -> exp.Expression:
    return exp.Literal.string(s)


def dot(base: exp.Expression, name: str) -> exp.Expression:
    return exp.Dot(this=base, expression=exp.to_identifier(name, quoted=True))


def case(*whens: tuple[exp.Expression, exp.Expression], default: exp.Expression | None = None) -> exp.Case:
    c = exp.Case()
    for cond, then in whens:
        c = c.when(cond, then)
    if default is not None:
        c = c.else_(default)
    return c


def is_null(x: exp.Expression) -> exp.Expression:
    return exp.Is(this=exp.paren(x, copy=False), expression=exp.Null())


def not_null(x: exp.Expression) -> exp.Expression:
    return exp.Not(this=is_null(x))


def null_of(t: exp.DataType) -> exp.Expression:
    return exp.Cast(this=exp.Null(), to=t.copy())


def empty_paths() -> exp.Expression:
    return exp.Cast(this=exp.Array(expressions=[]), to=exp.DataType.build("ARRAY<VARCHAR>"))


def concat(*parts: exp.Expression) -> exp.Expression:
    return exp.Concat(expressions=list(parts), safe=False, coalesce=False)


def as_text(x: exp.Expression) -> exp.Expression:
    return exp.Cast(this=x, to=VARCHAR.copy())


def lam(body: exp.Expression, name: str) -> exp.Lambda:
    return exp.Lambda(this=body, expressions=[exp.to_identifier(name, quoted=True)])


def ident(name: str) -> exp.Expression:
    return exp.to_identifier(name, quoted=True)


def const(value: Any, t: T) -> exp.Expression:
    if value is None:
        return null_of(value_type(t))
    if isinstance(value, bool):
        return exp.true() if value else exp.false()
    if isinstance(value, int):
        if t.kind in ("money", "number"):
            return exp.Cast(this=lit(str(value)), to=d.NUM.copy())
        return exp.Cast(this=exp.Literal.number(value), to=BIGINT.copy())
    if isinstance(value, Decimal):
        return exp.Cast(this=lit(format(value, "f")), to=d.NUM.copy())
    if isinstance(value, str):
        return lit(value)
    if isinstance(value, dt.datetime):
        raise NotLowerable("date-time constants")
    if isinstance(value, dt.date):
        return exp.Cast(this=lit(value.isoformat()), to=DATE.copy())
    raise NotLowerable(f"constant {value!r}")


# ---- values --------------------------------------------------------------------------------
Value = Callable[[Any, Scope], exp.Expression]


class Lowering:
    """Lowers the expressions of one program (lambda variable names kept unique)."""

    def value(self, e: ir.Expr, s: Scope) -> exp.Expression:
        fn = _VALUE.get(type(e))
        if fn is None:
            raise NotLowerable(type(e).__name__)
        return fn(self, e, s)

    def cond(self, e: ir.Expr, s: Scope) -> exp.Expression:
        return exp.paren(self.value(e, s), copy=False)

    # -- the missing facts of an unknown value
    def missing(self, e: ir.Expr, s: Scope) -> exp.Expression:
        """The sorted, distinct missing paths of `e` (meaningful where `e` is NULL)."""
        return exp.ArraySort(this=exp.ArrayDistinct(this=self._missing(e, s)))

    def missing_if_unknown(self, e: ir.Expr, s: Scope) -> exp.Expression:
        if isinstance(e, (ir.Const, ir.IsKnown)) and not (isinstance(e, ir.Const) and e.value is None):
            return empty_paths()
        return case((is_null(self.value(e, s)), self._missing(e, s)), default=empty_paths())

    def _missing(self, e: ir.Expr, s: Scope) -> exp.Expression:
        fn = MISSING.get(type(e))
        if fn is not None:
            return fn(self, e, s)
        parts = [self.missing_if_unknown(c, s) for c in ir.children(e)]
        return _concat_lists(parts)

    def path_of(self, e: ir.Expr, s: Scope) -> exp.Expression | None:
        if isinstance(e, ir.Field):
            if e.base is None:
                return lit(e.name)
            base = self.path_of(e.base, s)
            return concat(base, lit("." + e.name)) if base is not None else None
        if isinstance(e, ir.Var):
            b = s.vars.get(e.name)
            return b.path if b is not None and b.path is not None else lit(e.name)
        if isinstance(e, ir.Lookup):
            return concat(lit(e.kind + "["), as_text(self.value(e.id, s)), lit("]"))
        if isinstance(e, ir.IndexExpr):
            base = self.path_of(e.base, s)
            if base is None:
                return None
            i = exp.Coalesce(this=as_text(self.value(e.index, s)), expressions=[lit("None")])
            return concat(base, lit("["), i, lit("]"))
        return None

    def var_name(self, name: str, s: Scope) -> str:
        return f"v{s.depth}_{name}"


def _concat_lists(parts: list[exp.Expression]) -> exp.Expression:
    if not parts:
        return empty_paths()
    out = parts[0]
    for p in parts[1:]:
        out = exp.ArrayConcat(this=out, expressions=[p])
    return out


def months_days(dur: ir.Duration) -> tuple[int, int]:
    """A duration as (months, days): weeks are 7 days, years 12 months."""
    n = dur.amount
    return {"days": (0, n), "weeks": (0, 7 * n), "months": (n, 0), "years": (12 * n, 0)}[dur.unit]


def _const(lo: Lowering, e: ir.Const, s: Scope) -> exp.Expression:
    if isinstance(e.value, ir.Duration):
        m, dd = months_days(e.value)
        return exp.Struct(expressions=[
            exp.PropertyEQ(this=exp.to_identifier("m"), expression=exp.Cast(this=exp.Literal.number(m), to=BIGINT.copy())),
            exp.PropertyEQ(this=exp.to_identifier("d"), expression=exp.Cast(this=exp.Literal.number(dd), to=BIGINT.copy()))])
    return const(e.value, e.type)


def _read(x: exp.Expression, t: T, stored: bool) -> exp.Expression:
    """A stored value as a computed one (money text → DECIMAL)."""
    if stored and t.kind in ("money", "number"):
        return d.ToNum(this=x)
    return x


def _field_stored(lo: Lowering, e: ir.Field, s: Scope) -> tuple[exp.Expression, bool]:
    """The field's SQL value, and whether it is in stored form."""
    if e.base is None:
        return dot(s.rec, e.name), True
    if isinstance(e.base, ir.Field):
        base, stored = _field_stored(lo, e.base, s)
        return dot(base, e.name), stored
    if isinstance(e.base, ir.Var):
        b = s.vars.get(e.base.name)
        if b is None:
            raise NotLowerable(f"unbound variable {e.base.name}")
        return dot(b.value, e.name), b.stored
    if isinstance(e.base, ir.IndexExpr):
        return dot(lo.value(e.base, s), e.name), True
    return dot(lo.value(e.base, s), e.name), True


def _field(lo: Lowering, e: ir.Field, s: Scope) -> exp.Expression:
    x, stored = _field_stored(lo, e, s)
    return _read(x, e.type, stored)


def _var(lo: Lowering, e: ir.Var, s: Scope) -> exp.Expression:
    b = s.vars.get(e.name)
    if b is None:
        raise NotLowerable(f"unbound variable {e.name}")
    return _read(b.value, e.type, b.stored)


def _param(lo: Lowering, e: ir.ParamRef, s: Scope) -> exp.Expression:
    return _read(dot(s.params, e.name), e.type, True)


def _window(lo: Lowering, e: ir.WindowRef, s: Scope) -> exp.Expression:
    if s.window is None:
        raise NotLowerable("window outside a window rule")
    return s.window


def _not(lo: Lowering, e: ir.Not, s: Scope) -> exp.Expression:
    return exp.Not(this=lo.cond(e.operand, s))


def _and(lo: Lowering, e: ir.And, s: Scope) -> exp.Expression:
    return exp.paren(exp.and_(*(lo.cond(i, s) for i in e.items), copy=False), copy=False)


def _or(lo: Lowering, e: ir.Or, s: Scope) -> exp.Expression:
    return exp.paren(exp.or_(*(lo.cond(i, s) for i in e.items), copy=False), copy=False)


_CMP = {"==": exp.EQ, "!=": exp.NEQ, "<": exp.LT, "<=": exp.LTE, ">": exp.GT, ">=": exp.GTE}


def _empty(e: ir.Expr) -> bool:
    return isinstance(e, ir.ListExpr) and not e.items


def _cmp(lo: Lowering, e: ir.Cmp, s: Scope) -> exp.Expression:
    if e.op in ("==", "!=") and (_empty(e.left) or _empty(e.right)):  # `xs == []`: by its length
        other = e.right if _empty(e.left) else e.left
        n = d.ListLen(this=lo.value(other, s))
        return exp.paren(_CMP[e.op](this=n, expression=exp.Literal.number(0)), copy=False)
    a, b = lo.value(e.left, s), lo.value(e.right, s)
    if e.left.type.kind == "datetime" or e.right.type.kind == "datetime":
        a, b = d.Instant(this=a), d.Instant(this=b)
    return exp.paren(_CMP[e.op](this=exp.paren(a, copy=False), expression=exp.paren(b, copy=False)), copy=False)


def _arith(lo: Lowering, e: ir.Arith, s: Scope) -> exp.Expression:
    if e.right.type.kind == "duration":
        if e.op not in ("+", "-") or e.left.type.kind != "date":
            raise NotLowerable("duration arithmetic other than date ± duration")
        dur = lo.value(e.right, s)
        sign = -1 if e.op == "-" else 1

        def part(name: str) -> exp.Expression:
            x = dot(dur.copy(), name)
            return exp.Neg(this=x) if sign < 0 else x
        months = d.AddMonths(this=lo.value(e.left, s), expression=part("m"))
        return case((is_null(dur.copy()), null_of(DATE)), default=d.AddDays(this=months, expression=part("d")))
    a, b = exp.paren(lo.value(e.left, s), copy=False), exp.paren(lo.value(e.right, s), copy=False)
    if e.op == "/":
        return d.ExactDiv(this=a, expression=b)
    if e.op == "%":
        return exp.paren(exp.Mod(this=a, expression=exp.Nullif(this=b, expression=exp.Literal.number(0))), copy=False)
    node = {"+": exp.Add, "-": exp.Sub, "*": exp.Mul}[e.op](this=a, expression=b)
    if e.type.kind in ("money", "number"):
        return exp.Cast(this=node, to=d.NUM.copy())
    return exp.paren(node, copy=False)


def _neg(lo: Lowering, e: ir.Neg, s: Scope) -> exp.Expression:
    return exp.paren(exp.Neg(this=exp.paren(lo.value(e.operand, s), copy=False)), copy=False)


def _inset(lo: Lowering, e: ir.InSet, s: Scope) -> exp.Expression:
    node = exp.In(this=exp.paren(lo.value(e.item, s), copy=False), expressions=[lo.value(o, s) for o in e.options])
    return exp.paren(exp.Not(this=node) if e.negated else node, copy=False)


def _isknown(lo: Lowering, e: ir.IsKnown, s: Scope) -> exp.Expression:
    x = lo.value(e.operand, s)
    return exp.paren(is_null(x) if e.negated else not_null(x), copy=False)


def _if(lo: Lowering, e: ir.If, s: Scope) -> exp.Expression:
    c = exp.Case(this=lo.cond(e.cond, s))
    c = c.when(exp.true(), lo.value(e.then, s)).when(exp.false(), lo.value(e.otherwise, s))
    return c


def _elem_stored(lo: Lowering, coll: ir.Expr, s: Scope) -> bool:
    """Whether the elements of a list expression are in stored form (read from a record)."""
    if isinstance(coll, ir.Field):
        return _field_stored(lo, coll, s)[1]
    if isinstance(coll, (ir.WindowRef, ir.Related, ir.ParamRef)):  # (parameters too are in stored form)
        return True
    if isinstance(coll, ir.Var):
        b = s.vars.get(coll.name)
        return b.stored if b is not None else False
    return False


def _over(lo: Lowering, e: ir.Quant | ir.Agg, s: Scope, body: Callable[[Scope], exp.Expression]) -> exp.Expression:
    """TRANSFORM(list, x -> body) with `e.var` bound to x."""
    name = lo.var_name(e.var, s)
    inner = s.bind(e.var, Bound(ident(name), _elem_stored(lo, e.coll, s), None))
    return exp.Transform(this=lo.value(e.coll, s), expression=lam(body(inner), name))


def _truth_code(x: exp.Expression) -> exp.Expression:
    """TRUE → 2, FALSE → 0, NULL → 1."""
    two = exp.Mul(this=exp.Cast(this=exp.paren(x, copy=False), to=exp.DataType.build("INT")), expression=exp.Literal.number(2))
    return exp.Coalesce(this=two, expressions=[exp.Literal.number(1)])


def _quant(lo: Lowering, e: ir.Quant, s: Scope) -> exp.Expression:
    codes = _over(lo, e, s, lambda inner: _truth_code(lo.value(e.body, inner)))
    coll = lo.value(e.coll, s)
    if e.kind == "some":
        decide = exp.Case(this=exp.ArrayMax(this=codes)).when(exp.Literal.number(2), exp.true()).when(
            exp.Literal.number(1), null_of(BOOLEAN)).else_(exp.false())
    else:
        decide = exp.Case(this=exp.ArrayMin(this=codes)).when(exp.Literal.number(0), exp.false()).when(
            exp.Literal.number(1), null_of(BOOLEAN)).else_(exp.true())
    return case((is_null(coll), null_of(BOOLEAN)), default=decide)


def _agg(lo: Lowering, e: ir.Agg, s: Scope) -> exp.Expression:
    is_sum = e.value is not None
    t = value_type(e.type) if is_sum else BIGINT

    def per_element(inner: Scope) -> exp.Expression:
        v = lo.value(e.value, inner) if e.value is not None else exp.Literal.number(1)
        v = exp.Cast(this=v, to=t.copy())
        if e.where is None:
            return v
        return exp.Case(this=lo.cond(e.where, inner)).when(exp.true(), v).when(
            exp.false(), exp.Cast(this=exp.Literal.number(0), to=t.copy()))

    if not is_sum and e.where is None:
        return exp.Cast(this=d.ListLen(this=lo.value(e.coll, s)), to=BIGINT.copy())
    values = _over(lo, e, s, per_element)
    return exp.Cast(this=d.ListSum(this=values, zero=exp.Cast(this=exp.Literal.number(0), to=t.copy())), to=t.copy())


def _list(lo: Lowering, e: ir.ListExpr, s: Scope) -> exp.Expression:
    if not e.items:
        return exp.Cast(this=exp.Array(expressions=[]), to=value_type(e.type))
    return exp.Array(expressions=[lo.value(i, s) for i in e.items])


def _index(lo: Lowering, e: ir.IndexExpr, s: Scope) -> exp.Expression:
    i = lo.value(e.index, s)
    if e.base.type.kind == "string":
        return _char_at(lo.value(e.base, s), i)
    base = lo.value(e.base, s)
    got = d.ListGet(this=base, expression=i)
    return _read(got, e.type, _elem_stored(lo, e.base, s))


def _char_at(text: exp.Expression, i: exp.Expression) -> exp.Expression:
    ok = exp.and_(exp.GTE(this=i, expression=exp.Literal.number(0)),
                  exp.LT(this=i.copy(), expression=exp.Length(this=text)), copy=False)
    return case((ok, exp.Substring(this=text.copy(), start=exp.Add(this=i.copy(), expression=exp.Literal.number(1)),
                                   length=exp.Literal.number(1))))


def _as_date(x: exp.Expression, t: T) -> exp.Expression:
    if t.kind == "datetime":
        return exp.Cast(this=exp.Substring(this=x, start=exp.Literal.number(1), length=exp.Literal.number(10)),
                        to=DATE.copy())
    return x


def _strict(args: list[exp.Expression], body: exp.Expression) -> exp.Expression:
    """`body`, or NULL when any argument is NULL (for functions that skip NULLs)."""
    return case((exp.or_(*(is_null(a.copy()) for a in args), copy=False), exp.Null()), default=body)


def _builtin(lo: Lowering, e: ir.Builtin, s: Scope) -> exp.Expression:
    more = BUILTINS.get(e.fn)
    if more is not None:
        return more(lo, e, s)
    a = [lo.value(x, s) for x in e.args]
    ts = [x.type for x in e.args]
    fn = e.fn
    if fn == "coalesce":
        return exp.Coalesce(this=a[0], expressions=[a[1]])
    if fn == "length":
        if ts[0].kind == "list":
            return exp.Cast(this=d.ListLen(this=a[0]), to=BIGINT.copy())
        return exp.Cast(this=exp.Length(this=a[0]), to=BIGINT.copy())
    if fn == "upper":
        return exp.Upper(this=a[0])
    if fn == "char_at":
        return _char_at(a[0], a[1])
    if fn == "substr":
        ok = exp.and_(exp.GTE(this=a[1], expression=exp.Literal.number(0)),
                      exp.GTE(this=a[2], expression=exp.Literal.number(0)), copy=False)
        return case((ok, exp.Substring(this=a[0], start=exp.Add(this=a[1].copy(), expression=exp.Literal.number(1)),
                                       length=a[2].copy())))
    if fn == "index_of":
        return exp.Cast(this=d.IndexOf(this=a[0], expression=a[1]), to=BIGINT.copy())
    if fn == "matches":
        return d.FullMatch(this=a[0], expression=a[1])
    if fn == "days_between":
        return exp.Cast(this=d.DaysBetween(this=_as_date(a[0], ts[0]), expression=_as_date(a[1], ts[1])), to=BIGINT.copy())
    if fn == "date_of":
        return _as_date(a[0], ts[0])
    if fn in ("year", "month", "quarter"):
        node = {"year": exp.Year, "month": exp.Month, "quarter": exp.Quarter}[fn]
        return exp.Cast(this=node(this=_as_date(a[0], ts[0])), to=BIGINT.copy())
    if fn == "floor":
        return exp.Cast(this=exp.Floor(this=a[0]), to=BIGINT.copy())
    if fn == "abs":
        return exp.Abs(this=a[0])
    if fn == "round":
        if not isinstance(e.args[1], ir.Const):
            raise NotLowerable("round() to a computed number of digits")
        return exp.Cast(this=exp.Round(this=exp.Cast(this=a[0], to=d.NUM.copy()), decimals=exp.Literal.number(int(e.args[1].value))), to=d.NUM.copy())
    if fn in ("min", "max"):
        if any(t.kind == "datetime" for t in ts):
            raise NotLowerable("min/max of date-times")
        node = exp.Least if fn == "min" else exp.Greatest
        return _strict(a, node(this=a[0].copy(), expressions=[a[1].copy()]))
    if fn == "range":
        return d.Range0(this=exp.Cast(this=a[0], to=BIGINT.copy()), expression=exp.Cast(this=a[1], to=BIGINT.copy()))
    raise NotLowerable(f"builtin {fn}")


_VALUE: dict[type, Callable[[Lowering, Any, Scope], exp.Expression]] = {
    ir.Const: _const, ir.Field: _field, ir.Var: _var, ir.ParamRef: _param, ir.WindowRef: _window,
    ir.Not: _not, ir.And: _and, ir.Or: _or, ir.Cmp: _cmp, ir.Arith: _arith, ir.Neg: _neg,
    ir.InSet: _inset, ir.IsKnown: _isknown, ir.If: _if, ir.Quant: _quant, ir.Agg: _agg,
    ir.ListExpr: _list, ir.IndexExpr: _index, ir.Builtin: _builtin,
}  # lookups.py adds ir.Lookup and ir.Related
# More builtins (builtins.py: record kinds, tables, calendars) and the missing facts of the
# nodes explain.py treats apart (missing.py, lookups.py) register themselves in these tables;
# `program.py` imports those modules, so the tables are complete before anything is lowered.
BUILTINS: dict[str, Callable[[Lowering, Any, Scope], exp.Expression]] = {}
MISSING: dict[type, Callable[[Lowering, Any, Scope], exp.Expression]] = {}
