"""The reference backend: every IR expression is compiled once into a Python closure.

A closure has the signature `f(r, p, v)`: the record (dict), the parameter values in
force for it (dict), and the bound variables (dict; `$window` holds the window's
records). Unknown is `None`, with SQL NULL semantics (Kleene logic for and/or/not).
"""

from __future__ import annotations

import operator
from decimal import Decimal
from typing import Any, Callable

from .. import ir
from ..values import STRICT_BUILTINS, arith

Fn = Callable[[dict, dict, dict], Any]

_CMP = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
        ">": operator.gt, ">=": operator.ge}


def compile_expr(e: ir.Expr) -> Fn:
    return _COMPILERS[type(e)](e)


def _const(e: ir.Const) -> Fn:
    value = e.value
    return lambda r, p, v: value


def _field(e: ir.Field) -> Fn:
    name = e.name
    # Fast paths for chains of plain dict lookups from the record or a variable.
    chain = [name]
    base = e.base
    while isinstance(base, ir.Field):
        chain.append(base.name)
        base = base.base
    chain.reverse()
    if base is None:
        if len(chain) == 1:
            return lambda r, p, v: r.get(name)
        if len(chain) == 2:
            a, b = chain

            def f2(r, p, v):
                x = r.get(a)
                return None if x is None else x.get(b)
            return f2

        def fn(r, p, v):
            x = r
            for k in chain:
                x = x.get(k)
                if x is None:
                    return None
            return x
        return fn
    if isinstance(base, ir.Var):
        var = base.name
        if len(chain) == 1:
            def fv(r, p, v):
                x = v.get(var)
                return None if x is None else x.get(name)
            return fv

        def fvn(r, p, v):
            x = v.get(var)
            for k in chain:
                if x is None:
                    return None
                x = x.get(k)
            return x
        return fvn
    get_base = compile_expr(base)

    def fb(r, p, v):
        x = get_base(r, p, v)
        for k in chain:
            if x is None:
                return None
            x = x.get(k)
        return x
    return fb


def _var(e: ir.Var) -> Fn:
    name = e.name
    return lambda r, p, v: v.get(name)


def _param(e: ir.ParamRef) -> Fn:
    name = e.name
    return lambda r, p, v: p.get(name)


def _window(e: ir.WindowRef) -> Fn:
    return lambda r, p, v: v.get("$window")


def _not(e: ir.Not) -> Fn:
    f = compile_expr(e.operand)

    def fn(r, p, v):
        x = f(r, p, v)
        return None if x is None else not x
    return fn


def _and(e: ir.And) -> Fn:
    fs = [compile_expr(i) for i in e.items]
    if len(fs) == 2:
        fa, fb = fs

        def f2(r, p, v):
            a = fa(r, p, v)
            if a is False:
                return False
            b = fb(r, p, v)
            if b is False:
                return False
            if a is None or b is None:
                return None
            return True
        return f2

    def fn(r, p, v):
        unknown = False
        for f in fs:
            x = f(r, p, v)
            if x is False:
                return False
            if x is None:
                unknown = True
        return None if unknown else True
    return fn


def _or(e: ir.Or) -> Fn:
    fs = [compile_expr(i) for i in e.items]

    def fn(r, p, v):
        unknown = False
        for f in fs:
            x = f(r, p, v)
            if x is True:
                return True
            if x is None:
                unknown = True
        return None if unknown else False
    return fn


def _cmp(e: ir.Cmp) -> Fn:
    op = _CMP[e.op]
    fl = compile_expr(e.left)
    if isinstance(e.right, ir.Const) and e.right.value is not None:
        c = e.right.value

        def fc(r, p, v):
            a = fl(r, p, v)
            return None if a is None else op(a, c)
        return fc
    fr = compile_expr(e.right)

    def fn(r, p, v):
        a = fl(r, p, v)
        if a is None:
            return None
        b = fr(r, p, v)
        if b is None:
            return None
        return op(a, b)
    return fn


def _arith(e: ir.Arith) -> Fn:
    fl, fr, op = compile_expr(e.left), compile_expr(e.right), e.op

    def fn(r, p, v):
        a = fl(r, p, v)
        if a is None:
            return None
        b = fr(r, p, v)
        if b is None:
            return None
        return arith(op, a, b)
    return fn


def _neg(e: ir.Neg) -> Fn:
    f = compile_expr(e.operand)

    def fn(r, p, v):
        x = f(r, p, v)
        return None if x is None else -x
    return fn


def _inset(e: ir.InSet) -> Fn:
    fi = compile_expr(e.item)
    neg = e.negated
    if all(isinstance(o, ir.Const) and o.value is not None for o in e.options):
        options = frozenset(o.value for o in e.options)

        def fc(r, p, v):
            x = fi(r, p, v)
            if x is None:
                return None
            return (x in options) != neg
        return fc
    fos = [compile_expr(o) for o in e.options]

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


def _isknown(e: ir.IsKnown) -> Fn:
    f, neg = compile_expr(e.operand), e.negated
    return lambda r, p, v: (f(r, p, v) is None) if neg else (f(r, p, v) is not None)


def _if(e: ir.If) -> Fn:
    fc, ft, fo = compile_expr(e.cond), compile_expr(e.then), compile_expr(e.otherwise)

    def fn(r, p, v):
        c = fc(r, p, v)
        if c is None:
            return None
        return ft(r, p, v) if c else fo(r, p, v)
    return fn


def _quant(e: ir.Quant) -> Fn:
    fcoll, fbody, var = compile_expr(e.coll), compile_expr(e.body), e.var
    if e.kind == "some":
        def some(r, p, v):
            items = fcoll(r, p, v)
            if items is None:
                return None
            unknown = False
            inner = dict(v)
            for item in items:
                inner[var] = item
                x = fbody(r, p, inner)
                if x is True:
                    return True
                if x is None:
                    unknown = True
            return None if unknown else False
        return some

    def every(r, p, v):
        items = fcoll(r, p, v)
        if items is None:
            return None
        unknown = False
        inner = dict(v)
        for item in items:
            inner[var] = item
            x = fbody(r, p, inner)
            if x is False:
                return False
            if x is None:
                unknown = True
        return None if unknown else True
    return every


def _agg(e: ir.Agg) -> Fn:
    fcoll, var = compile_expr(e.coll), e.var
    fwhere = compile_expr(e.where) if e.where is not None else None
    fval = compile_expr(e.value) if e.value is not None else None
    zero = Decimal(0) if e.type.kind in ("money", "number") else 0

    def fn(r, p, v):
        items = fcoll(r, p, v)
        if items is None:
            return None
        inner = dict(v)
        total = zero if fval is not None else 0
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


def _list(e: ir.ListExpr) -> Fn:
    fs = [compile_expr(i) for i in e.items]
    if all(isinstance(i, ir.Const) for i in e.items):
        values = [i.value for i in e.items]
        return lambda r, p, v: values
    return lambda r, p, v: [f(r, p, v) for f in fs]


def _index(e: ir.IndexExpr) -> Fn:
    fb, fi = compile_expr(e.base), compile_expr(e.index)

    def fn(r, p, v):
        xs = fb(r, p, v)
        i = fi(r, p, v)
        if xs is None or i is None or not (0 <= i < len(xs)):
            return None
        return xs[i]
    return fn


def _builtin(e: ir.Builtin) -> Fn:
    fs = [compile_expr(a) for a in e.args]
    if e.fn == "coalesce":
        fa, fb = fs

        def co(r, p, v):
            x = fa(r, p, v)
            return fb(r, p, v) if x is None else x
        return co
    impl = STRICT_BUILTINS[e.fn]
    if len(fs) == 1:
        f0 = fs[0]

        def f1(r, p, v):
            x = f0(r, p, v)
            return None if x is None else impl(x)
        return f1

    def fn(r, p, v):
        args = []
        for f in fs:
            x = f(r, p, v)
            if x is None:
                return None
            args.append(x)
        return impl(*args)
    return fn


_COMPILERS: dict[type, Callable[[Any], Fn]] = {
    ir.Const: _const, ir.Field: _field, ir.Var: _var, ir.ParamRef: _param, ir.WindowRef: _window,
    ir.Not: _not, ir.And: _and, ir.Or: _or, ir.Cmp: _cmp, ir.Arith: _arith, ir.Neg: _neg,
    ir.InSet: _inset, ir.IsKnown: _isknown, ir.If: _if, ir.Quant: _quant, ir.Agg: _agg,
    ir.ListExpr: _list, ir.IndexExpr: _index, ir.Builtin: _builtin,
}
