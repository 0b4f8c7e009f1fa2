"""The reference backend: every IR expression is compiled once into a Python closure.

A closure has the signature `f(r, p, v)`: the record (dict), the parameter values in
force for it (dict), and the bound variables (dict; `$window` holds the window's
records). Unknown is `None`, with SQL NULL semantics (Kleene logic for and/or/not).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from decimal import Decimal
from typing import Any

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
    folded = _fold_not(e)
    if folded is not None:
        return compile_expr(folded)
    f = compile_expr(e.operand)

    def fn(r, p, v):
        x = f(r, p, v)
        return None if x is None else not x
    return fn


def _and(e: ir.And) -> Fn:
    fs = [compile_expr(i) for i in _flat(e)]
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
    fs = [compile_expr(i) for i in _flat(e)]
    if len(fs) == 2:
        fa, fb = fs

        def f2(r, p, v):
            a = fa(r, p, v)
            if a is True:
                return True
            b = fb(r, p, v)
            if b is True:
                return True
            if a is None or b is None:
                return None
            return False
        return f2

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
        path = _simple_path(e.left)
        if path is not None and path[0] == "var":
            _, var, name = path

            def fvar(r, p, v):  # `x.name OP const`, fused
                x = v.get(var)
                if x is None:
                    return None
                x = x.get(name)
                return None if x is None else op(x, c)
            return fvar
        if path is not None and path[0] == "rec2":
            _, a, b = path

            def frec(r, p, v):  # `a.b OP const`, fused
                x = r.get(a)
                if x is None:
                    return None
                x = x.get(b)
                return None if x is None else op(x, c)
            return frec

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
        options = frozenset(o.value for o in e.options if isinstance(o, ir.Const))
        path = _simple_path(e.item)
        if path is not None and path[0] == "var":
            _, var, name = path

            def fvar(r, p, v):  # `x.name in {…}`, fused
                x = v.get(var)
                if x is None:
                    return None
                x = x.get(name)
                return None if x is None else (x in options) != neg
            return fvar
        if path is not None and path[0] == "rec2":
            _, a, b = path

            def frec(r, p, v):  # `a.b in {…}`, fused
                x = r.get(a)
                if x is None:
                    return None
                x = x.get(b)
                return None if x is None else (x in options) != neg
            return frec

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
    f = compile_expr(e.operand)
    if e.negated:
        return lambda r, p, v: f(r, p, v) is None
    return lambda r, p, v: f(r, p, v) is not None


def _if(e: ir.If) -> Fn:
    fc, ft, fo = compile_expr(e.cond), compile_expr(e.then), compile_expr(e.otherwise)

    def fn(r, p, v):
        c = fc(r, p, v)
        if c is None:
            return None
        return ft(r, p, v) if c else fo(r, p, v)
    return fn


def _quant(e: ir.Quant) -> Fn:
    fcoll, var = compile_expr(e.coll), e.var
    pred = compile_elem(e.body, var)
    if pred is not None:
        # The body reads only the element: no bindings to copy per element.
        decisive = e.kind == "some"  # some: True decides; all: False decides

        def elem_quant(r, p, v):
            items = fcoll(r, p, v)
            if items is None:
                return None
            unknown = False
            for item in items:
                x = pred(r, p, item)
                if x is decisive:
                    return decisive
                if x is None:
                    unknown = True
            return None if unknown else not decisive
        return elem_quant
    fbody = compile_expr(e.body)
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
        values = [i.value for i in e.items if isinstance(i, ir.Const)]
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


# ---- fused forms ----------------------------------------------------------------------
def _simple_path(e: ir.Expr) -> tuple | None:
    """`("var", x, name)` for `x.name`; `("rec2", a, b)` for the record's `a.b`; else None."""
    if isinstance(e, ir.Field):
        if isinstance(e.base, ir.Var):
            return ("var", e.base.name, e.name)
        if isinstance(e.base, ir.Field) and e.base.base is None:
            return ("rec2", e.base.name, e.name)
    return None


def _flat(e: ir.And | ir.Or) -> tuple[ir.Expr, ...]:
    """The operands of nested and-chains (or or-chains) as one list: Kleene `and`/`or` are
    associative, so `(a and b) and c` is `a and b and c`."""
    out: list[ir.Expr] = []
    for i in e.items:
        if type(i) is type(e):
            out.extend(_flat(i))
        else:
            out.append(i)
    return tuple(out)


def _fold_not(e: ir.Not) -> ir.Expr | None:
    """`not (x in S)` is `x not in S` (unknown stays unknown)."""
    if isinstance(e.operand, ir.InSet):
        o = e.operand
        return ir.InSet(o.item, o.options, not o.negated, o.type)
    return None


ElemFn = Callable[[dict, dict, Any], Any]
_NO_VARS: dict = {}


def _mentions_vars(e: ir.Expr) -> bool:
    return any(isinstance(n, (ir.Var, ir.WindowRef)) for n in ir.walk(e))


def compile_elem(e: ir.Expr, var: str) -> ElemFn | None:
    """Compile `e` as a closure `f(r, p, x)` of the record, the parameters and the element
    bound to `var` (passed directly, not in a bindings dict), with the same three-valued
    meaning as `compile_expr`. None when `e` needs other variables (or the window)."""
    if not _mentions_vars(e):
        g = compile_expr(e)
        if not any(isinstance(n, (ir.Quant, ir.Agg)) for n in ir.walk(e)):
            return g  # reads neither bindings nor the element: `x` lands unused in `v`
        return lambda r, p, x: g(r, p, _NO_VARS)
    if isinstance(e, ir.Var):
        return (lambda r, p, x: x) if e.name == var else None
    if isinstance(e, ir.Field) and e.base is not None:
        name = e.name
        if isinstance(e.base, ir.Var):
            if e.base.name != var:
                return None
            return lambda r, p, x: None if x is None else x.get(name)
        base = compile_elem(e.base, var)
        if base is None:
            return None

        def fld(r, p, x):
            y = base(r, p, x)
            return None if y is None else y.get(name)
        return fld
    if isinstance(e, ir.InSet):
        item = compile_elem(e.item, var)
        if item is None or _mentions_vars_any(e.options):
            return None
        neg = e.negated
        if all(isinstance(o, ir.Const) and o.value is not None for o in e.options):
            options = frozenset(o.value for o in e.options if isinstance(o, ir.Const))
            if isinstance(e.item, ir.Field) and _is_elem_field(e.item, var):
                name = e.item.name

                def member_field(r, p, x):  # `x.name in {…}`, fused
                    if x is None:
                        return None
                    y = x.get(name)
                    return None if y is None else (y in options) != neg
                return member_field

            def member(r, p, x):
                y = item(r, p, x)
                return None if y is None else (y in options) != neg
            return member
        full = compile_expr(ir.InSet(ir.Var("$item", e.item.type), e.options, neg, e.type))

        def member_any(r, p, x):
            y = item(r, p, x)
            return None if y is None else full(r, p, {"$item": y})
        return member_any
    if isinstance(e, ir.Cmp) and isinstance(e.right, ir.Const) and e.right.value is not None:
        c, op = e.right.value, _CMP[e.op]
        if isinstance(e.left, ir.Field) and _is_elem_field(e.left, var):
            name = e.left.name

            def cmp_field(r, p, x):  # `x.name OP const`, fused
                if x is None:
                    return None
                y = x.get(name)
                return None if y is None else op(y, c)
            return cmp_field
        left = compile_elem(e.left, var)
        if left is None:
            return None

        def cmp_const(r, p, x):
            y = left(r, p, x)
            return None if y is None else op(y, c)
        return cmp_const
    if isinstance(e, (ir.Cmp, ir.Arith)):
        left, right = compile_elem(e.left, var), compile_elem(e.right, var)
        if left is None or right is None:
            return None
        cmp_op = _CMP[e.op] if isinstance(e, ir.Cmp) else None
        arith_op = e.op

        def binary(r, p, x):
            a = left(r, p, x)
            if a is None:
                return None
            b = right(r, p, x)
            if b is None:
                return None
            return cmp_op(a, b) if cmp_op is not None else arith(arith_op, a, b)
        return binary
    if isinstance(e, ir.Not):
        folded = _fold_not(e)
        if folded is not None:
            return compile_elem(folded, var)
    if isinstance(e, (ir.Not, ir.Neg)):
        inner = compile_elem(e.operand, var)
        if inner is None:
            return None
        negate = isinstance(e, ir.Neg)

        def unary(r, p, x):
            y = inner(r, p, x)
            if y is None:
                return None
            return -y if negate else not y
        return unary
    if isinstance(e, (ir.And, ir.Or)):
        parts = [compile_elem(i, var) for i in _flat(e)]
        if any(q is None for q in parts):
            return None
        decisive = isinstance(e, ir.Or)  # or: True decides; and: False decides
        if len(parts) == 2:
            qa, qb = parts

            def pair(r, p, x):
                a = qa(r, p, x)
                if a is decisive:
                    return decisive
                b = qb(r, p, x)
                if b is decisive:
                    return decisive
                if a is None or b is None:
                    return None
                return not decisive
            return pair

        def chain(r, p, x):
            unknown = False
            for q in parts:
                y = q(r, p, x)
                if y is decisive:
                    return decisive
                if y is None:
                    unknown = True
            return None if unknown else not decisive
        return chain
    if isinstance(e, ir.IsKnown):
        inner = compile_elem(e.operand, var)
        if inner is None:
            return None
        if e.negated:
            return lambda r, p, x: inner(r, p, x) is None
        return lambda r, p, x: inner(r, p, x) is not None
    if isinstance(e, ir.If):
        c, t, o = (compile_elem(y, var) for y in (e.cond, e.then, e.otherwise))
        if c is None or t is None or o is None:
            return None

        def cond(r, p, x):
            k = c(r, p, x)
            if k is None:
                return None
            return t(r, p, x) if k else o(r, p, x)
        return cond
    return None


def _is_elem_field(e: ir.Expr, var: str) -> bool:
    return isinstance(e, ir.Field) and isinstance(e.base, ir.Var) and e.base.name == var


def _mentions_vars_any(exprs) -> bool:
    return any(_mentions_vars(x) for x in exprs)


_COMPILERS: dict[type, Callable[[Any], Fn]] = {
    ir.Const: _const, ir.Field: _field, ir.Var: _var, ir.ParamRef: _param, ir.WindowRef: _window,
    ir.Not: _not, ir.And: _and, ir.Or: _or, ir.Cmp: _cmp, ir.Arith: _arith, ir.Neg: _neg,
    ir.InSet: _inset, ir.IsKnown: _isknown, ir.If: _if, ir.Quant: _quant, ir.Agg: _agg,
    ir.ListExpr: _list, ir.IndexExpr: _index, ir.Builtin: _builtin,
}
