"""The missing facts of an unknown value in SQL (`Lowering.missing`): the special cases of
`policy_dsl/explain.py` (a field whose base is unknown, a parameter, a window, `and`, `if`, `in`, the
comprehensions, the builtins and lookups), one function per IR node type; any other node names
the missing facts of its unknown operands (`Lowering._missing`)."""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from ... import ir
from . import dialect as d
from . import builtins
from .lower import (BIGINT, MISSING, Bound, Lowering, Scope, _concat_lists, _elem_stored, as_text, case, concat,
                    dot, empty_paths, ident, is_null, lam, lit, not_null, null_of)


# ---- missing facts -------------------------------------------------------------------------
def _m_field(lo: Lowering, e: ir.Field, s: Scope) -> exp.Expression:
    path = lo.path_of(e, s)
    own = exp.Array(expressions=[path if path is not None else lit(e.path)])
    if e.base is None:
        return own
    return case((is_null(lo.value(e.base, s)), lo._missing(e.base, s)), default=own)


def _m_param(lo: Lowering, e: ir.ParamRef, s: Scope) -> exp.Expression:
    return exp.Array(expressions=[lit(f"param.{e.name}")])


def _m_window(lo: Lowering, e: ir.WindowRef, s: Scope) -> exp.Expression:
    return _concat_lists([lo.missing_if_unknown(k, s) for k in s.window_keys])


def _m_if(lo: Lowering, e: ir.If, s: Scope) -> exp.Expression:
    c = exp.Case(this=lo.cond(e.cond, s))
    c = c.when(exp.true(), lo.missing_if_unknown(e.then, s)).when(exp.false(), lo.missing_if_unknown(e.otherwise, s))
    return c.else_(lo._missing(e.cond, s))


def _m_and(lo: Lowering, e: ir.And, s: Scope) -> exp.Expression:
    """Only the first unknown conjunct's facts: a conjunct guards those after it."""
    return case(*((is_null(lo.value(c, s)), lo._missing(c, s)) for c in e.items))


def _m_inset(lo: Lowering, e: ir.InSet, s: Scope) -> exp.Expression:
    rest = _concat_lists([lo.missing_if_unknown(o, s) for o in e.options])
    return case((is_null(lo.value(e.item, s)), lo._missing(e.item, s)), default=rest)


def _indexed(lo: Lowering, e: ir.Quant | ir.Agg, s: Scope, body: Callable[[Scope], exp.Expression]) -> exp.Expression:
    """TRANSFORM(range(len(list)), i -> body) with `e.var` bound to element i and its path."""
    coll = lo.value(e.coll, s)
    iname = lo.var_name(e.var, s) + "_i"
    i = ident(iname)
    if isinstance(e.coll, (ir.WindowRef, ir.Related)):
        name = "window" if isinstance(e.coll, ir.WindowRef) else e.coll.kind
        path = concat(lit(name + "["), as_text(dot(d.ListGet(this=coll.copy(), expression=i.copy()), "id")), lit("]"))
    else:
        base = lo.path_of(e.coll, s)
        path = concat(base if base is not None else lit(""), lit("["), as_text(i.copy()), lit("]"))
    inner = s.bind(e.var, Bound(d.ListGet(this=coll.copy(), expression=i.copy()), _elem_stored(lo, e.coll, s), path))
    indexes = d.Range0(this=exp.Cast(this=exp.Literal.number(0), to=BIGINT.copy()),
                       expression=exp.Cast(this=d.ListLen(this=coll.copy()), to=BIGINT.copy()))
    return exp.Transform(this=indexes, expression=lam(body(inner), iname))


def _m_comprehension(lo: Lowering, e: ir.Quant | ir.Agg, s: Scope) -> exp.Expression:
    coll = lo.value(e.coll, s)
    if isinstance(e, ir.Quant):
        per = _indexed(lo, e, s, lambda inner: lo.missing_if_unknown(e.body, inner))
        rest: exp.Expression = exp.Flatten(this=per)
    else:
        def first_unknown(inner: Scope) -> exp.Expression:
            whens = []
            if e.where is not None:
                w = lo.value(e.where, inner)
                whens.append((is_null(w), lo._missing(e.where, inner)))
                if e.value is not None:
                    whens.append((exp.and_(exp.paren(w.copy(), copy=False), is_null(lo.value(e.value, inner)), copy=False),
                                  lo._missing(e.value, inner)))
            elif e.value is not None:
                whens.append((is_null(lo.value(e.value, inner)), lo._missing(e.value, inner)))
            if not whens:
                return null_of(exp.DataType.build("ARRAY<VARCHAR>"))
            return case(*whens)
        per = _indexed(lo, e, s, first_unknown)
        name = lo.var_name(e.var, s) + "_m"
        found = exp.ArrayFilter(this=per, expression=lam(not_null(ident(name)), name))
        rest = exp.Coalesce(this=d.ListGet(this=found, expression=exp.Literal.number(0)), expressions=[empty_paths()])
    return case((is_null(coll), lo._missing(e.coll, s)), default=rest)


def _m_builtin(lo: Lowering, e: ir.Builtin, s: Scope) -> exp.Expression:
    if e.fn in builtins.CALENDAR_FNS:
        return builtins.missing_calendar(lo, e, s)
    return _concat_lists([lo.missing_if_unknown(c, s) for c in ir.children(e)])


MISSING.update({
    ir.And: _m_and, ir.Builtin: _m_builtin, ir.Field: _m_field, ir.ParamRef: _m_param, ir.WindowRef: _m_window, ir.If: _m_if,
    ir.InSet: _m_inset, ir.Quant: _m_comprehension, ir.Agg: _m_comprehension,
})
