"""IR expression → readable policy text (definitions appear inlined), for analysis messages."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from .. import ir

_PREC = {"or": 1, "and": 2, "not": 3, "cmp": 4, "+": 5, "-": 5, "*": 6, "/": 6, "%": 6, "neg": 7}


def show(e: ir.Expr) -> str:
    return _show(e)[0]


def _wrap(pair: tuple[str, int], need: int) -> str:
    text, prec = pair
    return f"({text})" if prec < need else text


def _const(v) -> str:
    if v is None:
        return "unknown"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (Decimal, int)):
        return str(v)
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    if isinstance(v, ir.Duration):
        return str(v)
    return str(v)


def _show(e: ir.Expr) -> tuple[str, int]:
    atom = 9
    if isinstance(e, ir.Const):
        if e.type.kind == "string" and isinstance(e.value, str):
            return '"' + e.value.replace('"', '\\"') + '"', atom
        return _const(e.value), atom
    if isinstance(e, ir.Field):
        if e.base is None:
            return e.name, atom
        return f"{_wrap(_show(e.base), atom)}.{e.name}", atom
    if isinstance(e, ir.Var):
        return e.name, atom
    if isinstance(e, ir.ParamRef):
        return f"param.{e.name}", atom
    if isinstance(e, ir.WindowRef):
        return "window", atom
    if isinstance(e, ir.Not):
        return "not " + _wrap(_show(e.operand), 4), 3
    if isinstance(e, (ir.And, ir.Or)):
        op = "and" if isinstance(e, ir.And) else "or"
        p = _PREC[op]
        return f" {op} ".join(_wrap(_show(i), p + 1) for i in e.items), p
    if isinstance(e, ir.Cmp):
        return f"{_wrap(_show(e.left), 5)} {e.op} {_wrap(_show(e.right), 5)}", 4
    if isinstance(e, ir.Arith):
        p = _PREC[e.op]
        return f"{_wrap(_show(e.left), p)} {e.op} {_wrap(_show(e.right), p + 1)}", p
    if isinstance(e, ir.Neg):
        return "-" + _wrap(_show(e.operand), 8), 7
    if isinstance(e, ir.InSet):
        opts = ", ".join(show(o) for o in e.options)
        return f"{_wrap(_show(e.item), 5)} {'not in' if e.negated else 'in'} {{{opts}}}", 4
    if isinstance(e, ir.IsKnown):
        return f"{_wrap(_show(e.operand), 5)} is {'missing' if e.negated else 'known'}", 4
    if isinstance(e, ir.If):
        return f"if {show(e.cond)} then {show(e.then)} else {show(e.otherwise)}", 0
    if isinstance(e, ir.Quant):
        return f"{e.kind} {e.var} in {show(e.coll)}: {show(e.body)}", 0
    if isinstance(e, ir.Agg):
        where = f" where {show(e.where)}" if e.where is not None else ""
        value = f": {show(e.value)}" if e.value is not None else ""
        return f"{e.kind}({e.var} in {show(e.coll)}{where}{value})", atom
    if isinstance(e, ir.ListExpr):
        return "[" + ", ".join(show(i) for i in e.items) + "]", atom
    if isinstance(e, ir.IndexExpr):
        return f"{_wrap(_show(e.base), atom)}[{show(e.index)}]", atom
    if isinstance(e, ir.Builtin):
        return f"{e.fn}(" + ", ".join(show(a) for a in e.args) + ")", atom
    return type(e).__name__, atom


def conjuncts(e: ir.Expr) -> list[ir.Expr]:
    """The top-level `and` items of a condition (flattened)."""
    if isinstance(e, ir.And):
        out: list[ir.Expr] = []
        for i in e.items:
            out.extend(conjuncts(i))
        return out
    return [e]
