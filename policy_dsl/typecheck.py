"""Name resolution and type checking of expressions: AST → typed IR expressions.

Definitions are inlined here (so the IR has no user functions); a bare name in a
comparison with an enum is read first as one of that enum's values.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from . import ast as A
from . import ir
from . import types as ty
from .errors import Diagnostic, Span, did_you_mean
from .params import ParamSet
from .typecheck_kinds import CALENDAR_BUILTINS, CALENDAR_PARAM, SPECIAL  # noqa: F401 (re-exported)
from .unparse import unparse

T = ty.T
MAX_EXPANSION = 32  # definitions using definitions, in one chain


@dataclass
class Scope:
    """What names mean at one point of a policy."""

    defines: dict[str, A.Define]
    params: ParamSet
    diags: list[Diagnostic]
    vars: dict[str, ir.Expr] = field(default_factory=dict)
    window: bool = False
    placeholder: bool = False
    expanding: tuple[str, ...] = ()
    evidence: list[tuple[str, ir.Expr]] | None = None  # collected (label, expr), when enabled
    witness_vars: frozenset[str] = frozenset()
    lets: dict[str, dict] = field(default_factory=dict)  # let name → the variables where defined

    def child(self, **changes) -> Scope:
        s = replace(self, **changes)
        return s


# ---- builtins ---------------------------------------------------------------------
def _want(*kinds: str) -> Callable[[T], bool]:
    return lambda t: t.kind in kinds or t.kind == "any"


_STR, _INT, _NUM = _want("string", "enum"), _want("int"), _want(*ty.NUMERIC)
_DATEISH = _want("date", "datetime")


def _same(args: list[T]) -> T:
    return unify(args[0], args[1]) or ty.ANY


BUILTINS: dict[str, tuple[tuple[Callable[[T], bool], ...], Callable[[list[T]], T], str]] = {
    # name: (argument checks, result type, signature for messages)
    "length": ((_want("string", "enum", "list"),), lambda a: ty.INT, "length(text or list)"),
    "upper": ((_STR,), lambda a: ty.STRING, "upper(text)"),
    "char_at": ((_STR, _INT), lambda a: ty.STRING, "char_at(text, position)"),
    "index_of": ((_STR, _STR), lambda a: ty.INT, "index_of(text, part)"),
    "substr": ((_STR, _INT, _INT), lambda a: ty.STRING, "substr(text, start, length)"),
    "matches": ((_STR, _STR), lambda a: ty.BOOL, "matches(text, \"regex\")"),
    "days_between": ((_DATEISH, _DATEISH), lambda a: ty.INT, "days_between(from_date, to_date)"),
    "date_of": ((_DATEISH,), lambda a: ty.DATE, "date_of(datetime)"),
    "year": ((_DATEISH,), lambda a: ty.INT, "year(date)"),
    "month": ((_DATEISH,), lambda a: ty.INT, "month(date)"),
    "quarter": ((_DATEISH,), lambda a: ty.INT, "quarter(date)"),
    "floor": ((_NUM,), lambda a: ty.INT, "floor(number)"),
    "abs": ((_NUM,), lambda a: a[0], "abs(number)"),
    "round": ((_NUM, _INT), lambda a: ty.MONEY if a[0].kind == "money" else ty.NUMBER,
              "round(number, digits)"),
    "round_up": ((_NUM, _INT), lambda a: ty.MONEY if a[0].kind == "money" else ty.NUMBER,
                 "round_up(number, digits)"),
    "min": ((_want(*ty.NUMERIC, "date", "datetime", "duration"),) * 2, _same, "min(a, b)"),
    "max": ((_want(*ty.NUMERIC, "date", "datetime", "duration"),) * 2, _same, "max(a, b)"),
    "range": ((_INT, _INT), lambda a: ty.list_of(ty.INT), "range(start, stop)"),
    "coalesce": ((lambda t: True, lambda t: True), _same, "coalesce(value, fallback)"),
    "contains": ((_want("list"), lambda t: True), lambda a: ty.BOOL, "contains(list, value)"),
    "rank": ((_want(*ty.NUMERIC, "date", "duration"), _want("list")), lambda a: ty.INT,
             "rank(value, list of values)"),
    "days": ((_INT,), lambda a: ty.DURATION, "days(n)"),
    "weeks": ((_INT,), lambda a: ty.DURATION, "weeks(n)"),
    "months": ((_INT,), lambda a: ty.DURATION, "months(n)"),
    "years": ((_INT,), lambda a: ty.DURATION, "years(n)"),
}


def unify(a: T, b: T) -> T | None:
    if a.kind == "any":
        return b
    if b.kind == "any":
        return a
    if a.numeric and b.numeric:
        if "money" in (a.kind, b.kind):
            return ty.MONEY
        if "number" in (a.kind, b.kind):
            return ty.NUMBER
        return ty.INT
    if a.kind == "enum" and b.kind in ("enum", "string"):
        return a
    if b.kind == "enum" and a.kind == "string":
        return b
    if a.kind == b.kind:
        return a
    return None


class Checker:
    def __init__(self, record: T, kinds: dict[str, T] | None = None, kind: str = ir.DEFAULT_KIND):
        self.record = record
        self.kind = kind
        self.kinds = kinds if kinds is not None else {kind: record}

    def for_kind(self, kind: str) -> Checker:
        return Checker(self.kinds[kind], self.kinds, kind)

    def _other_kinds_with(self, name: str) -> list[str]:
        """The other record kinds whose records have a top-level field `name`."""
        return sorted(k for k, t in self.kinds.items() if k != self.kind and name in t.fields)

    def _wrong_kind_hint(self, name: str) -> str | None:
        others = self._other_kinds_with(name)
        if not others:
            return None
        return (f"`{name}` is a field of {', '.join(others)} records, but this rule judges "
                f"{self.kind} records (see its pack's `judges`)")

    # ---- entry points
    def check(self, e: A.Expr, scope: Scope, expect: T | None = None) -> ir.Expr:
        method = getattr(self, "_" + type(e).__name__)
        return method(e, scope, expect)

    def check_bool(self, e: A.Expr, scope: Scope, what: str = "a condition") -> ir.Expr:
        out = self.check(e, scope)
        if out.type.kind not in ("bool", "any"):
            self.error(scope, "E206", f"{what} must be true/false, but this is {out.type}", e.span,
                       "compare it with something, e.g. `x == value` or `x is known`")
        return out

    def error(self, scope: Scope, code: str, msg: str, span: Span, hint: str | None = None,
              severity: str = "error") -> None:
        if len(scope.expanding) > 3:
            chain = " → ".join(f"`{n}`" for n in scope.expanding)
            notes: tuple[str, ...] = (f"while expanding definitions {chain}",)
        else:
            notes = tuple(f"while expanding definition `{n}`" for n in scope.expanding)
        d = Diagnostic(code, msg, span, hint, severity, notes)
        if d not in scope.diags:
            scope.diags.append(d)

    def _note_evidence(self, scope: Scope, e: A.Expr, out: ir.Expr) -> None:
        if scope.evidence is not None and not scope.expanding:
            label = unparse(e)
            if all(label != lab for lab, _ in scope.evidence):
                scope.evidence.append((label, out))

    # ---- literals
    def _Num(self, e: A.Num, scope, expect):
        return ir.Const(e.value, ty.INT if isinstance(e.value, int) else ty.NUMBER)

    def _Str(self, e: A.Str, scope, expect):
        if expect is not None and expect.kind == "enum" and e.value not in expect.values:
            self._bad_enum(scope, e.value, expect, e.span)
        return ir.Const(e.value, ty.STRING)

    def _Bool(self, e, scope, expect):
        return ir.Const(e.value, ty.BOOL)

    def _DateLit(self, e, scope, expect):
        return ir.Const(e.value, ty.DATE)

    def _DurationLit(self, e, scope, expect):
        return ir.Const(ir.Duration(e.amount, e.unit), ty.DURATION)

    # ---- names
    def _Name(self, e: A.Name, scope: Scope, expect):
        if e.id in scope.vars:
            out = scope.vars[e.id]
            if e.id in scope.lets:
                self._check_capture(e, out, scope)
                self._note_evidence(scope, e, out)
            return out
        if expect is not None and expect.kind == "enum" and e.id in expect.values:
            return ir.Const(e.id, expect)
        # `window` is the window of a rule with a `window` clause; in any other rule, a record
        # field named `window` (licensing_matter.window) is that field.
        if e.id == "window" and (scope.window or e.id not in self.record.fields):
            if not scope.window:
                self.error(scope, "E210", "`window` is only available in a rule with a `window` clause",
                           e.span, "add `window same official.id within 30 days` to the rule")
                return ir.Const(None, ty.ANY)
            return ir.WindowRef(ty.list_of(self.record))
        if e.id in self.record.fields:
            out = ir.Field(None, e.id, self.record.fields[e.id], e.id)
            self._note_evidence(scope, e, out)
            return out
        if e.id in scope.defines:
            d = scope.defines[e.id]
            if d.params is not None and expect is not None and expect.kind == "any":
                # Compared with a value of unknown type: an enum value named like a function.
                return ir.Const(e.id, ty.ANY)
            if d.params is not None:
                self.error(scope, "E108", f"`{e.id}` needs arguments: {e.id}({', '.join(d.params)})",
                           e.span)
                return ir.Const(None, ty.ANY)
            expanded = self._expand(d, [], scope, e.span)
            self._note_evidence(scope, e, expanded)
            return expanded
        if expect is not None and expect.kind == "enum":
            self._bad_enum(scope, e.id, expect, e.span)
            return ir.Const(e.id, expect)
        if expect is not None and expect.kind == "any":
            # Compared with a value of unknown type (a definition's parameter): possibly an
            # enum value, checked where the definition is used.
            return ir.Const(e.id, ty.ANY)
        candidates = list(scope.vars) + list(self.record.fields) + list(scope.defines)
        best = did_you_mean(e.id, candidates)
        code = "E209" if scope.placeholder else "E106"
        self.error(scope, code, f"unknown name `{e.id}`", e.span,
                   f"did you mean `{best}`?" if best else self._wrong_kind_hint(e.id) or
                   "names are record fields, variables bound by `for each`/`some`/`let`, or `define`d names")
        return ir.Const(None, ty.ANY)

    def _bad_enum(self, scope: Scope, value: str, t: T, span: Span) -> None:
        best = did_you_mean(value, t.values)
        hint = f"did you mean `{best}`?" if best else f"allowed values: {', '.join(t.values)}"
        self.error(scope, "E202", f"`{value}` is not a value of {t.path or 'this enum'}", span, hint)

    def _Param(self, e: A.Param, scope: Scope, expect):
        decl = scope.params.decls.get(e.name)
        if decl is None:
            best = did_you_mean(e.name, scope.params.decls)
            self.error(scope, "E207", f"unknown parameter `param.{e.name}`", e.span,
                       f"did you mean `param.{best}`?" if best else
                       "declare it (with its `type`) in the baseline parameter file params/000000.yaml")
            return ir.Const(None, ty.ANY)
        out = ir.ParamRef(e.name, decl.type)
        self._note_evidence(scope, e, out)
        return out

    def _Attr(self, e: A.Attr, scope: Scope, expect):
        base = self.check(e.base, scope.child(evidence=None))
        bt = base.type
        if bt.kind == "any":
            return ir.Const(None, ty.ANY)
        if bt.kind == "list":
            self.error(scope, "E204", f"`{unparse(e.base)}` is a list; it has no field `{e.name}`",
                       e.span, f"use a quantifier: `some x in {unparse(e.base)}: x.{e.name} …`")
            return ir.Const(None, ty.ANY)
        if bt.kind != "object":
            self.error(scope, "E203", f"`{unparse(e.base)}` is {bt}; it has no fields", e.span)
            return ir.Const(None, ty.ANY)
        if e.name not in bt.fields:
            best = did_you_mean(e.name, bt.fields)
            code = "E209" if scope.placeholder else "E201"
            where = bt.path or next((f"a {k} record" for k, t in self.kinds.items()
                                     if t is bt and bt is not self.record), "the record")
            wrong = self._wrong_kind_hint(e.name) if bt is self.record and not best else None
            self.error(scope, code, f"unknown field `{e.name}` in {where}", e.name_span,
                       f"did you mean `{best}`?" if best else wrong or
                       f"fields of {where}: {', '.join(sorted(bt.fields))}")
            return ir.Const(None, ty.ANY)
        ft = bt.fields[e.name]
        path = f"{bt.path}.{e.name}" if bt.path else e.name
        out = ir.Field(base, e.name, ft, path)
        self._note_evidence(scope, e, out)
        return out

    def _Index(self, e: A.Index, scope, expect):
        base = self.check(e.base, scope.child(evidence=None))
        idx = self.check(e.index, scope.child(evidence=None))
        if idx.type.kind not in ("int", "any"):
            self.error(scope, "E203", f"a list index must be an integer, not {idx.type}", e.index.span)
        if base.type.kind not in ("list", "any"):
            self.error(scope, "E203", f"`{unparse(e.base)}` is {base.type}, not a list", e.base.span)
            return ir.Const(None, ty.ANY)
        return ir.IndexExpr(base, idx, base.type.elem or ty.ANY)

    # ---- calls and definitions
    def _Call(self, e: A.Call, scope: Scope, expect):
        if e.fn in SPECIAL and e.fn not in scope.defines:
            return self._special(e, scope)
        if e.fn in scope.defines:
            d = scope.defines[e.fn]
            params = d.params or ()
            if d.params is None or len(params) != len(e.args):
                self.error(scope, "E108",
                           f"`{e.fn}` takes {len(params)} argument(s), {len(e.args)} given", e.span,
                           f"write `{e.fn}({', '.join(params)})`" if d.params else f"write `{e.fn}` without parentheses")
                return ir.Const(None, ty.ANY)
            args = [self.check(a, scope.child(evidence=None)) for a in e.args]
            out = self._expand(d, args, scope, e.span)
            self._note_evidence(scope, e, out)
            return out
        if e.fn not in BUILTINS:
            best = did_you_mean(e.fn, list(BUILTINS) + list(SPECIAL) + list(scope.defines))
            self.error(scope, "E205", f"unknown function `{e.fn}`", e.fn_span,
                       f"did you mean `{best}`?" if best else
                       f"functions: {', '.join(sorted([*BUILTINS, *SPECIAL]))}")
            return ir.Const(None, ty.ANY)
        checks, result, sig = BUILTINS[e.fn]
        if len(e.args) != len(checks):
            self.error(scope, "E108", f"`{e.fn}` takes {len(checks)} argument(s), {len(e.args)} given",
                       e.span, f"write `{sig}`")
            return ir.Const(None, ty.ANY)
        args = [self.check(a, scope.child(evidence=None)) for a in e.args]
        for a, ok, node in zip(args, checks, e.args):
            if not ok(a.type):
                self.error(scope, "E203", f"wrong argument type {a.type} for `{e.fn}`", node.span,
                           f"write `{sig}`")
        if e.fn == "matches":
            if not isinstance(args[1], ir.Const) or not isinstance(args[1].value, str):
                self.error(scope, "E211", "the pattern of `matches` must be a literal string", e.args[1].span)
            else:
                try:
                    re.compile(args[1].value)
                except re.error as exc:
                    self.error(scope, "E211", f"invalid regular expression: {exc}", e.args[1].span)
        if e.fn in ("min", "max", "coalesce") and unify(args[0].type, args[1].type) is None:
            self.error(scope, "E203", f"`{e.fn}` needs two values of one type, got {args[0].type} and "
                       f"{args[1].type}", e.span)
        out = ir.Builtin(e.fn, tuple(args), result([a.type for a in args]))
        return out

    def _expand(self, d: A.Define, args: list[ir.Expr], scope: Scope, span: Span) -> ir.Expr:
        if len(scope.expanding) >= MAX_EXPANSION:
            self.error(scope, "E012", f"definitions nested too deeply at `{d.name}`", span,
                       f"at most {MAX_EXPANSION} definitions may use each other in a chain")
            return ir.Const(None, ty.ANY)
        if d.name in scope.expanding:
            self.error(scope, "E107", f"definition `{d.name}` refers to itself", d.span,
                       "definitions cannot be recursive; use a quantifier or aggregate")
            return ir.Const(None, ty.ANY)
        inner = Scope(defines=scope.defines, params=scope.params, diags=scope.diags,
                      vars=dict(zip(d.params or (), args)), window=scope.window,
                      placeholder=False, expanding=scope.expanding + (d.name,), evidence=None)
        return self.check(d.body, inner)

    from .typecheck_kinds import (  # noqa: E402  (methods of the checker, in their own module)
        _check_capture,
        _Compare_table,
        _MemberList,
        _Related,
        _ScaledDuration,
        _special,
    )

    # ---- operators
    def _Not(self, e: A.Not, scope, expect):
        return ir.Not(self.check_bool(e.operand, scope, "the operand of `not`"), ty.BOOL)

    def _BoolOp(self, e: A.BoolOp, scope, expect):
        items = tuple(self.check_bool(i, scope, f"each side of `{e.op}`") for i in e.items)
        return (ir.And if e.op == "and" else ir.Or)(items, ty.BOOL)

    def _IsKnown(self, e: A.IsKnown, scope, expect):
        return ir.IsKnown(self.check(e.operand, scope), e.negated, ty.BOOL)

    def _operands(self, left: A.Expr, right: A.Expr, scope: Scope) -> tuple[ir.Expr, ir.Expr]:
        # An unresolvable bare name on the left may be an enum literal: type the right first.
        if isinstance(left, A.Name) and self._soft_unbound(left.id, scope):
            r = self.check(right, scope)
            return self.check(left, scope, r.type), r
        lo = self.check(left, scope)
        return lo, self.check(right, scope, lo.type)

    def _soft_unbound(self, name: str, scope: Scope) -> bool:
        return (name not in scope.vars and name not in self.record.fields
                and name not in scope.defines and name != "window")

    def _Compare(self, e: A.Compare, scope, expect):
        left, right = self._operands(e.left, e.right, scope)
        if self._Compare_table(e, left, right, scope):
            return ir.Cmp(e.op, left, right, ty.BOOL)
        if not ty.comparable(left.type, right.type):
            self.error(scope, "E203", f"cannot compare {left.type} with {right.type}", e.span,
                       _mismatch_hint(left.type, right.type))
        elif e.op not in ("==", "!=") and not (ty.ordered(left.type) and ty.ordered(right.type)):
            self.error(scope, "E203", f"`{e.op}` needs ordered values, not {left.type}", e.span,
                       "use `==` or `!=` for this kind of value")
        return ir.Cmp(e.op, left, right, ty.BOOL)

    def _Member(self, e: A.Member, scope, expect):
        item = self.check(e.item, scope)
        opts = []
        for o in e.options:
            oi = self.check(o, scope.child(evidence=None), item.type)
            if not ty.comparable(item.type, oi.type):
                self.error(scope, "E203", f"cannot compare {item.type} with {oi.type}", o.span,
                           _mismatch_hint(item.type, oi.type))
            opts.append(oi)
        return ir.InSet(item, tuple(opts), e.negated, ty.BOOL)

    def _Arith(self, e: A.Arith, scope, expect):
        left = self.check(e.left, scope)
        right = self.check(e.right, scope)
        lt, rt = left.type, right.type
        out_t: T | None = None
        if lt.kind == "any" or rt.kind == "any":
            out_t = ty.ANY
        elif lt.numeric and rt.numeric:
            if e.op in ("+", "-", "%"):
                out_t = unify(lt, rt)
            elif e.op == "*":
                out_t = ty.MONEY if "money" in (lt.kind, rt.kind) else unify(lt, rt)
            else:  # "/" is exact decimal division
                out_t = ty.NUMBER if lt.kind == rt.kind == "money" else (
                    ty.MONEY if lt.kind == "money" else ty.NUMBER)
        elif lt.kind in ("date", "datetime") and rt.kind == "duration" and e.op in ("+", "-"):
            out_t = lt
        elif lt.kind == rt.kind == "duration" and e.op in ("+", "-"):
            self.error(scope, "E203", "durations cannot be added to each other", e.span,
                       "add each duration to the date in turn")
        if out_t is None:
            hint = ("use `days_between(a, b)` for the days between two dates"
                    if lt.kind in ("date", "datetime") and rt.kind in ("date", "datetime") else
                    _mismatch_hint(lt, rt))
            self.error(scope, "E203", f"cannot apply `{e.op}` to {lt} and {rt}", e.span, hint)
            out_t = ty.ANY
        if e.op in ("/", "%") and isinstance(right, ir.Const) and right.value == 0:
            self.error(scope, "E212", "division by zero", e.right.span, "the result would always be unknown")
        return ir.Arith(e.op, left, right, out_t, e.span)

    def _Neg(self, e: A.Neg, scope, expect):
        x = self.check(e.operand, scope)
        if not (x.type.numeric or x.type.kind == "any"):
            self.error(scope, "E203", f"cannot negate {x.type}", e.span)
        return ir.Neg(x, x.type)

    def _If(self, e: A.If, scope, expect):
        c = self.check_bool(e.cond, scope, "the condition of `if`")
        a = self.check(e.then, scope, expect)
        b = self.check(e.otherwise, scope, expect or a.type)
        t = unify(a.type, b.type)
        if t is None:
            self.error(scope, "E203", f"`then` gives {a.type} but `else` gives {b.type}", e.span,
                       "both branches must have the same type")
            t = ty.ANY
        return ir.If(c, a, b, t)

    # ---- lists
    def _collection(self, coll: A.Expr, scope: Scope) -> ir.Expr:
        c = self.check(coll, scope.child(evidence=None))
        if c.type.kind not in ("list", "any"):
            self.error(scope, "E204", f"`{unparse(coll)}` is {c.type}, not a list", coll.span,
                       "quantifiers and aggregates range over lists such as `meals` or `gifts`")
        return c

    def _elem(self, c: ir.Expr) -> T:
        return c.type.elem if c.type.kind == "list" and c.type.elem else ty.ANY

    def _Quant(self, e: A.Quant, scope: Scope, expect):
        coll = self._collection(e.coll, scope)
        witness = e.kind == "some" and e.var in scope.witness_vars
        inner = scope.child(vars={**scope.vars, e.var: ir.Var(e.var, self._elem(coll))},
                            evidence=scope.evidence if witness else None)
        body = self.check_bool(e.body, inner, f"the body of `{e.kind}`")
        return ir.Quant(e.kind, e.var, coll, body, ty.BOOL)

    def _Aggregate(self, e: A.Aggregate, scope: Scope, expect):
        coll = self._collection(e.coll, scope)
        inner = scope.child(vars={**scope.vars, e.var: ir.Var(e.var, self._elem(coll))}, evidence=None)
        where = self.check_bool(e.where, inner, "the `where` condition") if e.where is not None else None
        value = None
        t = ty.INT
        if e.kind == "sum" and e.value is not None:
            value = self.check(e.value, inner)
            if not (value.type.numeric or value.type.kind == "any"):
                self.error(scope, "E203", f"`sum` adds numbers, not {value.type}", e.value.span)
            t = value.type if value.type.numeric else ty.NUMBER
        out = ir.Agg(e.kind, e.var, coll, where, value, t)
        self._note_evidence(scope, e, out)
        return out

    def _ListLit(self, e: A.ListLit, scope, expect):
        items = tuple(self.check(i, scope.child(evidence=None)) for i in e.items)
        t: T | None = items[0].type if items else ty.ANY
        for i, node in zip(items[1:], e.items[1:]):
            t2 = unify(t, i.type) if t is not None else None
            if t2 is None:
                self.error(scope, "E203", f"a list mixes {t} and {i.type}", node.span)
                t2 = ty.ANY
            t = t2
        return ir.ListExpr(items, ty.list_of(t or ty.ANY))


def _mismatch_hint(a: T, b: T) -> str | None:
    kinds = {a.kind, b.kind}
    if kinds & set(ty.NUMERIC) and kinds & {"string", "enum"}:
        return "amounts are numbers: write `60`, not `\"60\"`"
    if kinds & {"date", "datetime"} and kinds & set(ty.NUMERIC):
        return "compare a date with a date (2024-03-05) or use `days_between(a, b)`"
    if kinds == {"bool", "string"} or kinds == {"bool", "enum"}:
        return "write `true` or `false` without quotes"
    if "date" in kinds and "datetime" in kinds:
        return "use `date_of(x)` to compare a date-time with a date"
    return None
