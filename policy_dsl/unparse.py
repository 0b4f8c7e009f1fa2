"""AST expression → canonical source text (used for evidence labels and by the formatter)."""

from __future__ import annotations

from decimal import Decimal

from . import ast as A

# Binding strength: higher binds tighter.
_PREC = {"quant": 0, "or": 1, "and": 2, "not": 3, "cmp": 4, "+": 5, "-": 5, "*": 6, "/": 6, "%": 6,
         "neg": 7, "atom": 8}


def _prec(e: A.Expr) -> int:
    if isinstance(e, (A.Quant, A.If)):
        return 0
    if isinstance(e, A.BoolOp):
        return _PREC[e.op]
    if isinstance(e, A.Not):
        return 3
    if isinstance(e, (A.Compare, A.Member, A.MemberList, A.IsKnown)):
        return 4
    if isinstance(e, A.ScaledDuration):
        return 7
    if isinstance(e, A.Arith):
        return _PREC[e.op]
    if isinstance(e, A.Neg):
        return 7
    return 8


def needs_group(op: str, item: A.Expr) -> bool:
    """`and` inside `or` keeps its parentheses, so readers need no precedence rules."""
    return op == "or" and isinstance(item, A.BoolOp) and item.op == "and"


def quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def unparse(e: A.Expr) -> str:
    def wrap(sub: A.Expr, min_prec: int) -> str:
        text = unparse(sub)
        return f"({text})" if _prec(sub) < min_prec else text

    if isinstance(e, A.Num):
        return str(e.value) if not isinstance(e.value, Decimal) else format(e.value, "f")
    if isinstance(e, A.Str):
        return quote(e.value)
    if isinstance(e, A.Bool):
        return "true" if e.value else "false"
    if isinstance(e, A.DateLit):
        return e.value.isoformat()
    if isinstance(e, A.DurationLit):
        unit = e.unit[:-1] if e.amount == 1 else e.unit
        return f"{e.amount} {unit}"
    if isinstance(e, A.Name):
        return e.id
    if isinstance(e, A.Param):
        return f"param.{e.name}"
    if isinstance(e, A.Attr):
        return f"{wrap(e.base, 8)}.{e.name}"
    if isinstance(e, A.Index):
        return f"{wrap(e.base, 8)}[{unparse(e.index)}]"
    if isinstance(e, A.Call):
        return f"{e.fn}({', '.join(unparse(a) for a in e.args)})"
    if isinstance(e, A.Quant):
        return f"{e.kind} {e.var} in {wrap(e.coll, 8)}: {unparse(e.body)}"
    if isinstance(e, A.Aggregate):
        where = f" where {unparse(e.where)}" if e.where is not None else ""
        if e.kind == "count":
            return f"count({e.var} in {wrap(e.coll, 8)}{where})"
        value = unparse(e.value) if e.value is not None else ""
        return f"sum({e.var} in {wrap(e.coll, 8)}{where}: {value})"
    if isinstance(e, A.ListLit):
        return "[" + ", ".join(unparse(i) for i in e.items) + "]"
    if isinstance(e, A.Member):
        op = "not in" if e.negated else "in"
        return f"{wrap(e.item, 5)} {op} {{{', '.join(unparse(o) for o in e.options)}}}"
    if isinstance(e, A.MemberList):
        op = "not in" if e.negated else "in"
        return f"{wrap(e.item, 5)} {op} {wrap(e.coll, 8)}"
    if isinstance(e, A.ScaledDuration):
        unit = e.unit[:-1] if isinstance(e.amount, A.Num) and e.amount.value == 1 else e.unit
        return f"{wrap(e.amount, 8)} {unit}"
    if isinstance(e, A.Related):
        return f"records({e.var} in {e.kind} where {unparse(e.where)})"
    if isinstance(e, A.Compare):
        return f"{wrap(e.left, 5)} {e.op} {wrap(e.right, 5)}"
    if isinstance(e, A.Arith):
        p = _PREC[e.op]
        return f"{wrap(e.left, p)} {e.op} {wrap(e.right, p + 1)}"
    if isinstance(e, A.Neg):
        return f"-{wrap(e.operand, 7)}"
    if isinstance(e, A.Not):
        return f"not {wrap(e.operand, 3)}"
    if isinstance(e, A.BoolOp):
        p = _PREC[e.op]
        return f" {e.op} ".join(f"({unparse(i)})" if needs_group(e.op, i) else wrap(i, p + 1)
                                for i in e.items)
    if isinstance(e, A.IsKnown):
        return f"{wrap(e.operand, 5)} is {'missing' if e.negated else 'known'}"
    if isinstance(e, A.If):
        # A conditional inside `then` keeps its parentheses (which `else` is whose is then plain).
        then = f"({unparse(e.then)})" if isinstance(e.then, A.If) else unparse(e.then)
        return f"if {unparse(e.cond)} then {then} else {unparse(e.otherwise)}"
    raise TypeError(f"cannot unparse {type(e).__name__}")
