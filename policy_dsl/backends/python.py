"""The Python backend: every IR expression compiled once into a closure.

A closure has the signature `f(r, p, v)`: the record (dict), the parameter values in force
for it (dict), and the bound variables (dict; `$window` holds the window's records). Unknown
is `None`, with SQL NULL semantics (Kleene logic for and/or/not; every other operation on an
unknown operand is unknown). These closures are the one evaluator of the language in Python:
conditions, messages, evidence, explanations and the missing facts of a review
(`policy_dsl/explain.py`) all take their values from them.

A division by zero is unknown; when the bindings hold a list under `NOTES`, the division's
source span is appended to it (what a finding's notes report).

Each IR node type has one compiling function below (`_COMPILERS`). A few of them return a
fused closure for a common shape (`a.b == const`, a field chain): fewer Python calls on the
hot path, same values. Closed comprehensions are memoised (`memo.py`).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import partial
from typing import Any

from .. import ir
from ..values import STRICT_BUILTINS, arith
from . import memo

Fn = Callable[[dict, dict, dict], Any]
NOTES = "$notes"  # bindings key: a list collecting the spans of divisions by zero met

_CMP = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
        ">": operator.gt, ">=": operator.ge}


Compile = Callable[[ir.Expr], Fn]
Watch = Callable[[dict, dict, dict], None]


def compile_expr(e: ir.Expr, watch: Mapping[int, Watch] | None = None) -> Fn:
    """The closure of `e`. `watch` (for coverage): node id → a function called with the
    bindings each time that node is evaluated, before it is."""
    def compile_node(x: ir.Expr) -> Fn:
        fn = _COMPILERS[type(x)](x, compile_node)
        closed = memo.inputs(x)
        if closed is not None:
            fn = memo.memoised(fn, [compile_node(i) for i in closed])
        seen = watch.get(id(x)) if watch else None
        if seen is None:
            return fn

        def watched(r, p, v):
            seen(r, p, v)
            return fn(r, p, v)
        return watched
    return compile_node(e)


def _const(e: ir.Const, c: Compile) -> Fn:
    value = e.value
    return lambda r, p, v: value


def _record_path(e: ir.Expr) -> tuple[str, ...] | None:
    """`("official", "rank")` for the record field `official.rank`; None otherwise."""
    names: list[str] = []
    while isinstance(e, ir.Field):
        names.append(e.name)
        if e.base is None:
            return tuple(reversed(names))
        e = e.base  # type: ignore[assignment]
    return None


def _getter(path: tuple[str, ...]) -> Fn:
    """The closure reading a record field by its path."""
    if len(path) == 1:
        name = path[0]
        return lambda r, p, v: r.get(name)
    if len(path) == 2:
        a, b = path

        def get2(r, p, v):
            x = r.get(a)
            return None if x is None else x.get(b)
        return get2

    def get(r, p, v):
        x = r
        for k in path:
            x = x.get(k)
            if x is None:
                return None
        return x
    return get


def _field(e: ir.Field, c: Compile) -> Fn:
    path = _record_path(e)
    if path is not None:
        return _getter(path)
    name = e.name
    if isinstance(e.base, ir.Var):
        var = e.base.name

        def of_var(r, p, v):
            x = v.get(var)
            return None if x is None else x.get(name)
        return of_var
    base = c(e.base)  # type: ignore[arg-type]

    def of_value(r, p, v):
        x = base(r, p, v)
        return None if x is None else x.get(name)
    return of_value


def _var(e: ir.Var, c: Compile) -> Fn:
    name = e.name
    return lambda r, p, v: v.get(name)


def _param(e: ir.ParamRef, c: Compile) -> Fn:
    name = e.name
    return lambda r, p, v: p.get(name)


def _window(e: ir.WindowRef, c: Compile) -> Fn:
    return lambda r, p, v: v.get("$window")


def _not(e: ir.Not, c: Compile) -> Fn:
    f = c(e.operand)

    def fn(r, p, v):
        x = f(r, p, v)
        return None if x is None else not x
    return fn


def _kleene(items: tuple[ir.Expr, ...], decisive: bool, c: Compile) -> Fn:
    """`and` (decisive False) or `or` (decisive True) over the items, left to right."""
    fs = [c(i) for i in items]
    if len(fs) == 2:
        fa, fb = fs

        def pair(r, p, v):
            a = fa(r, p, v)
            if a is decisive:
                return decisive
            b = fb(r, p, v)
            if b is decisive:
                return decisive
            if a is None or b is None:
                return None
            return not decisive
        return pair

    def chain(r, p, v):
        unknown = False
        for f in fs:
            x = f(r, p, v)
            if x is decisive:
                return decisive
            if x is None:
                unknown = True
        return None if unknown else not decisive
    return chain


def _and(e: ir.And, c: Compile) -> Fn:
    return _kleene(e.items, False, c)


def _or(e: ir.Or, c: Compile) -> Fn:
    return _kleene(e.items, True, c)


def _fetch(e: ir.Expr) -> tuple[str, str, str | None] | None:
    """How to read a field inline: `("r", a, None)` for the record's `a`, `("r", a, b)` for its
    `a.b`, `("v", x, b)` for `x.b` of a bound variable; None for anything else."""
    if isinstance(e, ir.Field):
        if e.base is None:
            return "r", e.name, None
        if isinstance(e.base, ir.Var):
            return "v", e.base.name, e.name
        if isinstance(e.base, ir.Field) and e.base.base is None:
            return "r", e.base.name, e.name
    return None


def _on_field(e: ir.Expr, test: Callable[[Any], Any], c: Compile) -> Fn:
    """`test(value of e)`, unknown when the value is; a field read is fused into the closure
    (one call less on the hot path)."""
    how = _fetch(e)
    if how is None:
        f = c(e)
        return lambda r, p, v: None if (x := f(r, p, v)) is None else test(x)
    where, a, b = how
    if b is None:
        return lambda r, p, v: None if (x := r.get(a)) is None else test(x)

    def fused(r, p, v):
        x = (r if where == "r" else v).get(a)
        if x is None:
            return None
        x = x.get(b)
        return None if x is None else test(x)
    return fused


def _cmp(e: ir.Cmp, c: Compile) -> Fn:
    op = _CMP[e.op]
    if isinstance(e.right, ir.Const) and e.right.value is not None:
        return _on_field(e.left, partial(_flip(op), e.right.value), c)
    fl, fr = c(e.left), c(e.right)

    def fn(r, p, v):
        a = fl(r, p, v)
        if a is None:
            return None
        b = fr(r, p, v)
        if b is None:
            return None
        return op(a, b)
    return fn


def _flip(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """`op` with its operands swapped (`partial` binds the constant first)."""
    return {operator.eq: operator.eq, operator.ne: operator.ne, operator.lt: operator.gt,
            operator.le: operator.ge, operator.gt: operator.lt, operator.ge: operator.le}[op]


def _arith(e: ir.Arith, c: Compile) -> Fn:
    fl, fr, op, span = c(e.left), c(e.right), e.op, e.span
    divides = op in ("/", "%")

    def fn(r, p, v):
        a = fl(r, p, v)
        if a is None:
            return None
        b = fr(r, p, v)
        if b is None:
            return None
        if divides and b == 0:
            notes = v.get(NOTES)
            if notes is not None:
                notes.append(span)
            return None
        return arith(op, a, b)
    return fn


def _neg(e: ir.Neg, c: Compile) -> Fn:
    f = c(e.operand)

    def fn(r, p, v):
        x = f(r, p, v)
        return None if x is None else -x
    return fn


def _inset(e: ir.InSet, c: Compile) -> Fn:
    neg = e.negated
    if all(isinstance(o, ir.Const) and o.value is not None for o in e.options):
        options = frozenset(o.value for o in e.options if isinstance(o, ir.Const))
        return _on_field(e.item, options.__contains__ if not neg else
                         lambda x: x not in options, c)
    fi, fos = c(e.item), [c(o) for o in e.options]

    def fn(r, p, v):
        x = fi(r, p, v)
        if x is None:
            return None
        unknown = False
        for fo in fos:
            o = fo(r, p, v)
            if o is None:
                unknown = True
            elif o == x:
                return not neg
        return None if unknown else neg
    return fn


def _isknown(e: ir.IsKnown, c: Compile) -> Fn:
    f = c(e.operand)
    if e.negated:
        return lambda r, p, v: f(r, p, v) is None
    return lambda r, p, v: f(r, p, v) is not None


def _if(e: ir.If, c: Compile) -> Fn:
    fc, ft, fo = c(e.cond), c(e.then), c(e.otherwise)

    def fn(r, p, v):
        k = fc(r, p, v)
        if k is None:
            return None
        return ft(r, p, v) if k else fo(r, p, v)
    return fn


def _quant(e: ir.Quant, c: Compile) -> Fn:
    fcoll, fbody, var = c(e.coll), c(e.body), e.var
    decisive = e.kind == "some"  # some: True decides; all: False decides

    def fn(r, p, v):
        items = fcoll(r, p, v)
        if items is None:
            return None
        unknown = False
        inner = dict(v)
        for item in items:
            inner[var] = item
            x = fbody(r, p, inner)
            if x is decisive:
                return decisive
            if x is None:
                unknown = True
        return None if unknown else not decisive
    return fn


def _agg(e: ir.Agg, c: Compile) -> Fn:
    fcoll, var = c(e.coll), e.var
    fwhere = c(e.where) if e.where is not None else None
    fval = c(e.value) if e.value is not None else None
    zero = Decimal(0) if fval is not None and e.type.kind in ("money", "number") else 0

    def fn(r, p, v):
        items = fcoll(r, p, v)
        if items is None:
            return None
        inner = dict(v)
        total = zero
        for item in items:
            inner[var] = item
            if fwhere is not None:
                w = fwhere(r, p, inner)
                if w is None:
                    return None
                if not w:
                    continue
            if fval is None:
                total += 1
            else:
                x = fval(r, p, inner)
                if x is None:
                    return None
                total += x
        return total
    return fn


def _list(e: ir.ListExpr, c: Compile) -> Fn:
    if all(isinstance(i, ir.Const) for i in e.items):
        values = [i.value for i in e.items if isinstance(i, ir.Const)]
        return lambda r, p, v: values
    fs = [c(i) for i in e.items]
    return lambda r, p, v: [f(r, p, v) for f in fs]


def _index(e: ir.IndexExpr, c: Compile) -> Fn:
    fb, fi = c(e.base), c(e.index)

    def fn(r, p, v):
        xs = fb(r, p, v)
        if xs is None:
            return None
        i = fi(r, p, v)
        if i is None or not (0 <= i < len(xs)):
            return None
        return xs[i]
    return fn


def _builtin(e: ir.Builtin, c: Compile) -> Fn:
    fs = [c(a) for a in e.args]
    if e.fn == "coalesce":
        fa, fb = fs

        def co(r, p, v):
            x = fa(r, p, v)
            return fb(r, p, v) if x is None else x
        return co
    impl = STRICT_BUILTINS[e.fn]
    if len(fs) == 1:
        f0 = fs[0]

        def one(r, p, v):
            x = f0(r, p, v)
            return None if x is None else impl(x)
        return one
    if len(fs) == 2:
        fa, fb = fs

        def two(r, p, v):
            a = fa(r, p, v)
            if a is None:
                return None
            b = fb(r, p, v)
            if b is None:
                return None
            return impl(a, b)
        return two

    def fn(r, p, v):
        args = []
        for f in fs:
            x = f(r, p, v)
            if x is None:
                return None
            args.append(x)
        return impl(*args)
    return fn


STORE = "$store"  # bindings key: the records the run knows (`policy_dsl.store`), for lookups


def _lookup(e: ir.Lookup, c: Compile) -> Fn:
    fid, kind = c(e.id), e.kind

    def fn(r, p, v):
        i = fid(r, p, v)
        if i is None:
            return None
        store = v.get(STORE)
        return store.get(i, kind) if store is not None else None
    return fn


def _related(e: ir.Related, c: Compile) -> Fn:
    fvals = [c(x) for x in e.values]
    fwhere = c(e.where) if e.where is not None else None
    kind, paths, var = e.kind, e.paths, e.var

    def fn(r, p, v):
        values = []
        for f in fvals:
            x = f(r, p, v)
            if x is None:
                return None
            values.append(x)
        store = v.get(STORE)
        if store is None:
            return None
        found = store.related(kind, paths, tuple(values))
        if fwhere is None:
            return found
        inner = dict(v)
        out = []
        for x in found:
            inner[var] = x
            w = fwhere(r, p, inner)
            if w is None:
                return None
            if w:
                out.append(x)
        return out
    return fn


_COMPILERS: dict[type, Callable[[Any, Compile], Fn]] = {
    ir.Const: _const, ir.Field: _field, ir.Var: _var, ir.ParamRef: _param, ir.WindowRef: _window,
    ir.Not: _not, ir.And: _and, ir.Or: _or, ir.Cmp: _cmp, ir.Arith: _arith, ir.Neg: _neg,
    ir.InSet: _inset, ir.IsKnown: _isknown, ir.If: _if, ir.Quant: _quant, ir.Agg: _agg,
    ir.ListExpr: _list, ir.IndexExpr: _index, ir.Builtin: _builtin, ir.Lookup: _lookup,
    ir.Related: _related,
}
