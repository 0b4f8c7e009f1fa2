"""The reference backend: every IR expression is compiled once into a Python closure.

A closure has the signature `f(r, p, v)`: the record (dict), the parameter values in
force for it (dict), and the bound variables (dict; `$window` holds the window's
records). Unknown is `None`, with SQL NULL semantics (Kleene logic for and/or/not).
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Any

from .. import ir
from ..values import STRICT_BUILTINS, arith

Fn = Callable[[dict, dict, dict], Any]

_CMP = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
        ">": operator.gt, ">=": operator.ge}


def compile_expr(e: ir.Expr, optimise: bool = True) -> Fn:
    """The closure of `e`. Sub-expressions that read nothing are folded to their value, and
    heavy ones that read only scalar record fields and parameters are memoised (see
    `_memo_plan`); `optimise=False` compiles every node as it is (for tests and comparisons)."""
    global _plan
    if _plan is None:  # an outermost call: decide once which nodes to fold or memoise
        _plan = _memo_plan(e) if optimise else {}
        try:
            return _compile_planned(e)
        finally:
            _plan = None
    return _compile_planned(e)


def _compile_planned(e: ir.Expr) -> Fn:
    assert _plan is not None
    inputs = _plan.get(id(e))
    if inputs is None:
        return _COMPILERS[type(e)](e)
    raw = _COMPILERS[type(e)](e)
    if not inputs:
        return _folded(raw)
    return _memoised(raw, [_COMPILERS[type(f)](f) for f in inputs])


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
    if len(fs) == 3:
        fa, fb, fc = fs

        def f3(r, p, v):
            a = fa(r, p, v)
            if a is False:
                return False
            b = fb(r, p, v)
            if b is False:
                return False
            c = fc(r, p, v)
            if c is False:
                return False
            if a is None or b is None or c is None:
                return None
            return True
        return f3

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
    if len(fs) == 3:
        fa, fb, fc = fs

        def f3(r, p, v):
            a = fa(r, p, v)
            if a is True:
                return True
            b = fb(r, p, v)
            if b is True:
                return True
            c = fc(r, p, v)
            if c is True:
                return True
            if a is None or b is None or c is None:
                return None
            return False
        return f3

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
        if path is not None and path[0] == "rec1":
            name = path[1]

            def frec1(r, p, v):  # `name OP const`, fused
                x = r.get(name)
                return None if x is None else op(x, c)
            return frec1
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


def _mul(a, b):
    """`arith("*", a, b)`, without dispatching on the operator."""
    try:
        return a * b
    except (ArithmeticError, ValueError, OverflowError):
        return None


def _binop(op: str) -> Callable[[Any, Any], Any]:
    return _mul if op == "*" else partial(arith, op)


def _arith(e: ir.Arith) -> Fn:
    fl, fr, calc = compile_expr(e.left), compile_expr(e.right), _binop(e.op)

    def fn(r, p, v):
        a = fl(r, p, v)
        if a is None:
            return None
        b = fr(r, p, v)
        if b is None:
            return None
        return calc(a, b)
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
    path = _simple_path(e.operand)
    if path is not None and path[0] == "rec2":
        _, a, b = path

        def known_rec(r, p, v):  # `a.b is known` / `is missing`, fused
            x = r.get(a)
            return (x is None or x.get(b) is None) == neg
        neg = e.negated
        return known_rec
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
    zero = Decimal(0) if e.type.kind in ("money", "number") else 0
    qwhere = compile_elem(e.where, var) if e.where is not None else None
    qval = compile_elem(e.value, var) if e.value is not None else None
    if (qwhere is not None or e.where is None) and (qval is not None or e.value is None):
        # `where` and the value read only the element: no bindings to copy per element.
        def elem_agg(r, p, v):
            items = fcoll(r, p, v)
            if items is None:
                return None
            total = zero if qval is not None else 0
            for item in items:
                if qwhere is not None:
                    w = qwhere(r, p, item)
                    if w is None:
                        return None
                    if not w:
                        continue
                if qval is None:
                    total += 1
                else:
                    x = qval(r, p, item)
                    if x is None:
                        return None
                    total += x
            return total
        return elem_agg
    fwhere = compile_expr(e.where) if e.where is not None else None
    fval = compile_expr(e.value) if e.value is not None else None

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
    path = _simple_path(e.args[0]) if len(fs) == 1 else None
    if path is not None and path[0] == "rec1":
        name = path[1]

        def f1rec(r, p, v):  # `fn(name)`, fused
            x = r.get(name)
            return None if x is None else impl(x)
        return f1rec
    if path is not None and path[0] == "rec2":
        _, a, b = path

        def f2rec(r, p, v):  # `fn(a.b)`, fused
            x = r.get(a)
            if x is None:
                return None
            x = x.get(b)
            return None if x is None else impl(x)
        return f2rec
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
    """`("var", x, name)` for `x.name`; `("rec2", a, b)` for the record's `a.b`; `("rec1",
    name)` for the record's `name`; else None."""
    if isinstance(e, ir.Field):
        if e.base is None:
            return ("rec1", e.name)
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
        calc = _CMP[e.op] if isinstance(e, ir.Cmp) else _binop(e.op)

        def binary(r, p, x):
            a = left(r, p, x)
            if a is None:
                return None
            b = right(r, p, x)
            if b is None:
                return None
            return calc(a, b)
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
    if isinstance(e, ir.Builtin):
        return _elem_builtin(e, var)
    if isinstance(e, ir.IndexExpr):
        return _elem_index(e, var)
    return None


def _elem_builtin(e: ir.Builtin, var: str) -> ElemFn | None:
    parts = [compile_elem(a, var) for a in e.args]
    if any(q is None for q in parts):
        return None
    if e.fn == "coalesce":
        qa, qb = parts

        def co(r, p, x):
            y = qa(r, p, x)
            return qb(r, p, x) if y is None else y
        return co
    impl = STRICT_BUILTINS[e.fn]
    if len(parts) == 1:
        q0 = parts[0]

        def b1(r, p, x):
            y = q0(r, p, x)
            return None if y is None else impl(y)
        return b1
    if len(parts) == 2:
        qa, qb = parts
        a0, b0 = e.args
        if isinstance(a0, ir.Const) and a0.value is not None:
            ca = a0.value

            def b2c(r, p, x):  # `fn(const, …)`
                b = qb(r, p, x)
                return None if b is None else impl(ca, b)
            return b2c
        if isinstance(b0, ir.Var) and b0.name == var:
            def b2v(r, p, x):  # `fn(…, x)` for the element itself
                if x is None:
                    return None
                a = qa(r, p, x)
                return None if a is None else impl(a, x)
            return b2v

        def b2(r, p, x):
            a = qa(r, p, x)
            if a is None:
                return None
            b = qb(r, p, x)
            if b is None:
                return None
            return impl(a, b)
        return b2

    def bn(r, p, x):
        args = []
        for q in parts:
            y = q(r, p, x)
            if y is None:
                return None
            args.append(y)
        return impl(*args)
    return bn


def _elem_index(e: ir.IndexExpr, var: str) -> ElemFn | None:
    base, index = compile_elem(e.base, var), compile_elem(e.index, var)
    if base is None or index is None:
        return None
    if isinstance(e.base, ir.ListExpr) and all(isinstance(i, ir.Const) for i in e.base.items):
        values = [i.value for i in e.base.items if isinstance(i, ir.Const)]
        n = len(values)

        if isinstance(e.index, ir.Var) and e.index.name == var:
            def const_list_elem(r, p, i):  # `[1, 3, 9][i]` for the element itself
                if i is None or not (0 <= i < n):
                    return None
                return values[i]
            return const_list_elem

        def const_list(r, p, x):  # `[1, 3, 9][i]`
            i = index(r, p, x)
            if i is None or not (0 <= i < n):
                return None
            return values[i]
        return const_list

    def at(r, p, x):
        xs = base(r, p, x)
        i = index(r, p, x)
        if xs is None or i is None or not (0 <= i < len(xs)):
            return None
        return xs[i]
    return at


def _is_elem_field(e: ir.Expr, var: str) -> bool:
    return isinstance(e, ir.Field) and isinstance(e.base, ir.Var) and e.base.name == var


def _mentions_vars_any(exprs) -> bool:
    return any(_mentions_vars(x) for x in exprs)


# ---- folding and memoisation ------------------------------------------------------------
# An expression that reads nothing (no field, parameter, variable or window) is computed once
# at compile time. A heavy one (with a comprehension: `sum(i in range(0, 17): …)`) that reads
# only scalar record fields and parameters is memoised, keyed by the exact values it reads: the
# same USCC recurs across the records of a batch. Closures are pure, so a memoised result is
# the one the closure would compute.

MEMO_LIMIT = 65_536  # entries per memoised expression (more than the distinct firms of a large batch); emptied when full
_SCALAR = frozenset({"bool", "int", "number", "money", "string", "enum", "date", "duration"})
# id(node) → inputs, while compiling. A plan only decides what is folded or memoised: a
# compilation in another thread that meets this one's plan compiles its nodes plainly.
_plan: dict[int, tuple[ir.Expr, ...]] | None = None
_MISS = object()
_UNKEYABLE = object()
_PLAIN_KEYS = frozenset({int, bool, dt.date, ir.Duration})


def _key(x: Any) -> Any:
    """`x` as a memo key that tells apart every value a closure could tell apart: types are
    kept (1, True), and decimals by their digits and exponent (1.0, 1.00). Other types
    (datetimes, lists, …) are not keyed."""
    t = type(x)
    if t is str or x is None:
        return x
    if t is Decimal:
        return (t, str(x))
    if t in _PLAIN_KEYS:
        return (t, x)
    return _UNKEYABLE


def _analyse(e: ir.Expr, info: dict[int, tuple[dict | None, frozenset[str], bool]]):
    """(inputs, free variables, heavy) of `e`, for every node (into `info`): inputs are the
    scalar record fields and parameters it reads (None when it reads the window, a non-scalar
    field or parameter)."""
    inputs: dict | None
    free: frozenset[str] = frozenset()
    heavy = isinstance(e, (ir.Quant, ir.Agg))
    if isinstance(e, ir.Field):
        names, base = [e.name], e.base
        while isinstance(base, ir.Field):
            names.append(base.name)
            base = base.base
        if base is None:
            inputs = {("f", *reversed(names)): e} if e.type.kind in _SCALAR else None
        elif isinstance(base, ir.Var):
            inputs, free = {}, frozenset({base.name})
        else:
            inputs, free, heavy = _analyse(base, info)
    elif isinstance(e, ir.Var):
        inputs, free = {}, frozenset({e.name})
    elif isinstance(e, ir.ParamRef):
        inputs = {("p", e.name): e} if e.type.kind in _SCALAR else None
    elif isinstance(e, ir.WindowRef):
        inputs = None
    else:
        inputs = {}
        inner = (e.var,) if isinstance(e, (ir.Quant, ir.Agg)) else ()
        for c in ir.children(e):
            ci, cf, ch = _analyse(c, info)
            heavy = heavy or ch
            if inner and c is not e.coll:  # type: ignore[union-attr]
                cf = cf - set(inner)
            free = free | cf
            if inputs is not None:
                inputs = None if ci is None else {**inputs, **ci}
    out = (inputs, free, heavy)
    info[id(e)] = out
    return out


def _memo_plan(root: ir.Expr) -> dict[int, tuple[ir.Expr, ...]]:
    """The nodes of `root` to fold (no inputs) or memoise (their inputs): the outermost
    closed ones; folding also applies inside a memoised node."""
    info: dict[int, tuple[dict | None, frozenset[str], bool]] = {}
    _analyse(root, info)
    plan: dict[int, tuple[ir.Expr, ...]] = {}

    def choose(e: ir.Expr, memo: bool) -> None:
        inputs, free, heavy = info.get(id(e), (None, frozenset(), False))
        if inputs is not None and not free:
            if not inputs:
                if not _literal(e):
                    plan[id(e)] = ()
                return
            if memo and heavy and e.type.kind in _SCALAR:
                plan[id(e)] = tuple(inputs.values())
                memo = False
        for c in ir.children(e):
            choose(c, memo)

    choose(root, True)
    return plan


def _literal(e: ir.Expr) -> bool:
    return isinstance(e, ir.Const) or (
        isinstance(e, ir.ListExpr) and all(isinstance(i, ir.Const) for i in e.items))


def _folded(raw: Fn) -> Fn:
    try:
        value = raw({}, {}, {})
    except Exception:  # noqa: BLE001 - not foldable: computed at run time as before
        return raw
    return lambda r, p, v: value


def _memoised(raw: Fn, getters: list[Fn]) -> Fn:
    cache: dict = {}
    get = cache.get
    if len(getters) == 1:
        g = getters[0]

        def memo1(r, p, v):
            k = _key(g(r, p, v))
            if k is _UNKEYABLE:
                return raw(r, p, v)
            hit = get(k, _MISS)
            if hit is _MISS:
                hit = raw(r, p, v)
                if len(cache) >= MEMO_LIMIT:
                    cache.clear()
                cache[k] = hit
            return hit
        return memo1

    def memo(r, p, v):
        k = tuple([_key(g(r, p, v)) for g in getters])
        if _UNKEYABLE in k:
            return raw(r, p, v)
        hit = get(k, _MISS)
        if hit is _MISS:
            hit = raw(r, p, v)
            if len(cache) >= MEMO_LIMIT:
                cache.clear()
            cache[k] = hit
        return hit
    return memo


_COMPILERS: dict[type, Callable[[Any], Fn]] = {
    ir.Const: _const, ir.Field: _field, ir.Var: _var, ir.ParamRef: _param, ir.WindowRef: _window,
    ir.Not: _not, ir.And: _and, ir.Or: _or, ir.Cmp: _cmp, ir.Arith: _arith, ir.Neg: _neg,
    ir.InSet: _inset, ir.IsKnown: _isknown, ir.If: _if, ir.Quant: _quant, ir.Agg: _agg,
    ir.ListExpr: _list, ir.IndexExpr: _index, ir.Builtin: _builtin,
}
