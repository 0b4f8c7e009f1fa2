"""Type rules of the record-kind, table and calendar constructs (methods of `typecheck.Checker`).

- `lookup(KIND, id)` → `ir.Lookup`: the record of that kind with that id, or unknown;
- `records(x in KIND where x.path == value and …)` → `ir.Related`: the key conjuncts are split
  from the rest of the condition;
- `row(param.table, key)`, `x in param.set`, `n days` and the working-day builtins → `ir.Builtin`
  (the table's key column and the calendar parameter become explicit arguments);
- `let` capture checks and the misuse of table parameters as scalars.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import ast as A
from . import ir
from . import types as ty
from .errors import Span, did_you_mean
from .unparse import unparse

T = ty.T
Checker = Any  # `typecheck.Checker`, whose methods these are (not imported: it imports this module)
Scope = Any  # `typecheck.Scope`


def _want(*kinds: str) -> Callable[[T], bool]:
    return lambda t: t.kind in kinds or t.kind == "any"


_INT, _DATEISH = _want("int"), _want("date", "datetime")

# Working-day builtins: the calendar (`param.working_calendar`) is an implicit first argument.
CALENDAR_PARAM = "working_calendar"
CALENDAR_BUILTINS: dict[str, tuple[tuple[Callable[[T], bool], ...], T, str]] = {
    "add_working_days": ((_DATEISH, _INT), ty.DATE, "add_working_days(date, n)"),
    "working_days_between": ((_DATEISH, _DATEISH), ty.INT, "working_days_between(from_date, to_date)"),
    "is_working_day": ((_DATEISH,), ty.BOOL, "is_working_day(date)"),
}
SPECIAL = ("lookup", "row", *CALENDAR_BUILTINS)  # typed here, not by typecheck.BUILTINS


def _kind(self: Checker, name: str, span, scope: Scope) -> T | None:
    if name in self.kinds:
        return self.kinds[name]
    best = did_you_mean(name, self.kinds)
    self.error(scope, "E120", f"unknown record kind `{name}`", span,
               f"did you mean `{best}`?" if best else f"record kinds: {', '.join(sorted(self.kinds))}")
    return None


def _special(self: Checker, e: A.Call, scope: Scope) -> ir.Expr:
    if e.fn == "lookup":
        if len(e.args) != 2:
            self.error(scope, "E108", f"`lookup` takes 2 argument(s), {len(e.args)} given", e.span,
                       "write `lookup(record_kind, id)`")
            return ir.Const(None, ty.ANY)
        kind_arg = e.args[0]
        if not isinstance(kind_arg, A.Name):
            self.error(scope, "E120", "the first argument of `lookup` is a record kind", kind_arg.span,
                       f"write e.g. `lookup({next(iter(sorted(self.kinds)))}, tolerance.prefiling_id)`")
            return ir.Const(None, ty.ANY)
        t = _kind(self, kind_arg.id, kind_arg.span, scope)
        ident = self.check(e.args[1], scope.child(evidence=None))
        if ident.type.kind not in ("string", "enum", "any"):
            self.error(scope, "E203", f"a record id is text, not {ident.type}", e.args[1].span)
        if t is None:
            return ir.Const(None, ty.ANY)
        return ir.Lookup(kind_arg.id, ident, t)
    if e.fn == "row":
        if len(e.args) != 2:
            self.error(scope, "E108", f"`row` takes 2 argument(s), {len(e.args)} given", e.span,
                       "write `row(param.table, key)`")
            return ir.Const(None, ty.ANY)
        table = self.check(e.args[0], scope.child(evidence=None))
        if isinstance(table, ir.Const) and table.type.kind == "any":
            return ir.Const(None, ty.ANY)  # reported already (an unknown parameter)
        decl = scope.params.decls.get(table.name) if isinstance(table, ir.ParamRef) else None
        if decl is None or decl.key is None:
            what = "a table parameter without a `key` column" if decl is not None else unparse(e.args[0])
            self.error(scope, "E213", f"`row` looks a row up in a table parameter with a key, not in {what}",
                       e.args[0].span, "declare the table with `type: table` and `key: <column>` and write "
                       "`row(param.table, key)`")
            return ir.Const(None, ty.ANY)
        key = self.check(e.args[1], scope.child(evidence=None))
        row_t = table.type.elem or ty.ANY
        kt = row_t.fields.get(decl.key, ty.ANY)
        if not ty.comparable(kt, key.type):
            self.error(scope, "E203", f"the key of `param.{table.name}` is {kt}, not {key.type}",
                       e.args[1].span)
        out = ir.Builtin("row", (table, ir.Const(decl.key, ty.STRING), key), row_t)
        self._note_evidence(scope, e, out)
        return out
    # working days: the calendar parameter is the implicit first argument
    checks, result, sig = CALENDAR_BUILTINS[e.fn]
    if len(e.args) != len(checks):
        self.error(scope, "E108", f"`{e.fn}` takes {len(checks)} argument(s), {len(e.args)} given",
                   e.span, f"write `{sig}`")
        return ir.Const(None, ty.ANY)
    decl = scope.params.decls.get(CALENDAR_PARAM)
    if decl is None or decl.type.kind != "calendar":
        self.error(scope, "E214", f"`{e.fn}` needs the working-day calendar `param.{CALENDAR_PARAM}`",
                   e.fn_span, f"declare `{CALENDAR_PARAM}` with `type: calendar` in params/000000.yaml "
                   "(public holidays and make-up working days, one version per year)")
        return ir.Const(None, ty.ANY)
    args = [self.check(a, scope.child(evidence=None)) for a in e.args]
    for a, ok, node in zip(args, checks, e.args):
        if not ok(a.type):
            self.error(scope, "E203", f"wrong argument type {a.type} for `{e.fn}`", node.span,
                       f"write `{sig}`")
    out = ir.Builtin(e.fn, (ir.ParamRef(CALENDAR_PARAM, decl.type), *args), result)
    self._note_evidence(scope, e, out)
    return out


def _MemberList(self: Checker, e: A.MemberList, scope: Scope, expect):
    if isinstance(e.coll, A.ListLit):  # `x in [a, b]`: the values are a set, in braces
        sp = e.coll.span
        self.error(scope, "E001", "a set of values is written in braces, found `[`",
                   Span(sp.file, sp.line, sp.column, sp.line, sp.column + 1), "write `x in {a, b}`")
        return ir.Const(None, ty.ANY)
    item = self.check(e.item, scope)
    coll = self.check(e.coll, scope.child(evidence=None))
    if coll.type.kind not in ("list", "any"):
        self.error(scope, "E215", f"`{unparse(e.coll)}` is {coll.type}, not a list or a set",
                   e.coll.span, "write a set of values in braces, `x in {a, b}`, or name a `set` "
                   "parameter or a list")
        return ir.Const(None, ty.ANY)
    elem = coll.type.elem or ty.ANY
    if elem.kind == "object":
        self.error(scope, "E213", f"`{unparse(e.coll)}` is a table; its rows are not single values",
                   e.coll.span, "look a row up with `row(param.table, key) is known`, or test a column: "
                   "`some r in param.table: r.code == x`")
        return ir.Const(None, ty.ANY)
    if not ty.comparable(item.type, elem):
        self.error(scope, "E203", f"cannot look for {item.type} in a list of {elem}", e.span)
    out: ir.Expr = ir.Builtin("contains", (coll, item), ty.BOOL)
    if e.negated:
        out = ir.Not(out, ty.BOOL)
    return out


def _ScaledDuration(self: Checker, e: A.ScaledDuration, scope: Scope, expect):
    n = self.check(e.amount, scope)
    if n.type.kind not in ("int", "any"):
        self.error(scope, "E203", f"`{e.unit}` counts a whole number, not {n.type}", e.amount.span,
                   "use an integer field or parameter: `param.deadline_days days`")
    return ir.Builtin(e.unit, (n,), ty.DURATION)


def _Related(self: Checker, e: A.Related, scope: Scope, expect):
    t = _kind(self, e.kind, e.kind_span, scope)
    if t is None:
        return ir.Const(None, ty.ANY)
    inner = scope.child(vars={**scope.vars, e.var: ir.Var(e.var, t)}, evidence=None)
    where = self.check_bool(e.where, inner, "the condition of `records`")
    items: list[ir.Expr] = []
    todo = [where]
    while todo:
        x = todo.pop(0)
        if isinstance(x, ir.And):
            todo[:0] = list(x.items)
        else:
            items.append(x)
    paths: list[str] = []
    values: list[ir.Expr] = []
    rest: list[ir.Expr] = []
    for x in items:
        key = _key(x, e.var)
        if key is None:
            rest.append(x)
        else:
            paths.append(key[0])
            values.append(key[1])
    if not paths:
        self.error(scope, "E123", f"`records({e.var} in {e.kind} where …)` has no key", e.where.span,
                   f"relate the records by a field: `{e.var}.unit.id == unit.id and …` (records are "
                   "looked up by their keys)")
        return ir.Const(None, ty.ANY)
    rest_e = None if not rest else rest[0] if len(rest) == 1 else ir.And(tuple(rest), ty.BOOL)
    out = ir.Related(e.kind, e.var, tuple(paths), tuple(values), rest_e, ty.list_of(t))
    self._note_evidence(scope, e, out)
    return out


def _key(x: ir.Expr, var: str) -> tuple[str, ir.Expr] | None:
    """(path, value) when `x` is `var.path == value` (either way round) with `value` free of
    `var` and of list elements; else None."""
    if not isinstance(x, ir.Cmp) or x.op != "==":
        return None
    for mine, other in ((x.left, x.right), (x.right, x.left)):
        path = _var_path(mine, var)
        if path is not None and not any(isinstance(n, ir.Var) and n.name == var for n in ir.walk(other)):
            return path, other
    return None


def _var_path(e: ir.Expr, var: str) -> str | None:
    names: list[str] = []
    while isinstance(e, ir.Field):
        names.append(e.name)
        e = e.base  # type: ignore[assignment]
    if isinstance(e, ir.Var) and e.name == var and names:
        return ".".join(reversed(names))
    return None


def _check_capture(self: Checker, e: A.Name, value: ir.Expr, scope: Scope) -> None:
    """A `let` reads the variables of where it was written: using it where one of them has been
    rebound (by an inner `some m in …`) would read the inner one."""
    defined = scope.lets[e.id]
    for n in ir.walk(value):
        if isinstance(n, ir.Var) and n.name in defined and scope.vars.get(n.name) is not defined[n.name]:
            self.error(scope, "E118", f"`{e.id}` uses `{n.name}`, which is rebound here", e.span,
                       f"rename the inner variable `{n.name}`, or write the expression of `{e.id}` here")
            return


def _Compare_table(self: Checker, e: A.Compare, left: ir.Expr, right: ir.Expr, scope: Scope) -> bool:
    """A table, set or calendar parameter compared as a scalar: reported (E213); True if so."""
    for side, node in ((left, e.left), (right, e.right)):
        t = side.type
        if isinstance(side, ir.ParamRef) and (t.kind == "calendar" or
                                              (t.kind == "list" and t.elem is not None)):
            what = ("a calendar" if t.kind == "calendar" else
                    "a table" if t.elem is not None and t.elem.kind == "object" else "a set")
            hint = {"a calendar": "use it through `add_working_days`, `working_days_between` or "
                                  "`is_working_day`",
                    "a table": f"look a row up: `row(param.{side.name}, key).column`",
                    "a set": f"test membership: `x in param.{side.name}`"}[what]
            self.error(scope, "E213", f"`param.{side.name}` is {what}, not a single value", node.span, hint)
            return True
    return False
