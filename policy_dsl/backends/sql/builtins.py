"""The builtins of record kinds, tables and calendars lowered to SQL (`lower._builtin` hands
them here): durations of a computed amount (`days(n)` …), `contains` (`x in param.set`),
`row(table, column, key)`, `rank(x, values)` and the working-day functions, registered in
`lower.BUILTINS`.

Each keeps the Python closure's three-valued result (`policy_dsl/values.py`): strict in its
arguments (unknown when one is), `contains` unknown when no element equals and one is unknown,
`rank` unknown when a value is, `row` unknown when no row has the key, and a working-day
function unknown for a day its calendar does not cover (its missing fact is then the calendar
parameter, `missing_calendar`).

A calendar parameter is held as a STRUCT (`lower.CALENDAR`): its covered spans `[a, b)`, holidays,
make-up working days, and `g`, the longest run of consecutive non-working days it covers
(worked out by the runner, `shape.stored`): the n-th working day after a date is then within
n·(g + 1) days of it, which bounds the list of days `add_working_days` looks at.
"""

from __future__ import annotations

from sqlglot import exp

from ... import ir
from ...types import T
from . import dialect as d
from .lower import (BIGINT, BOOLEAN, BUILTINS, DATE, Lowering, NotLowerable, Scope, _as_date, _elem_stored,
                    _read, case, ident, is_null, lam, null_of, value_type)

MAX_WORKING_DAYS = 3660  # as values.MAX_WORKING_DAYS
MAX_CALENDAR_DAYS = 36_000  # a calendar covering more is judged by the Python engine (shape.py)
CLAMP = 100_000_000  # an amount of days beyond this is out of every date's range anyway
MONDAY = "2000-01-03"


def n(x: int) -> exp.Expression:
    return exp.Cast(this=exp.Literal.number(x), to=BIGINT.copy())


def _strict(args: list[exp.Expression], body: exp.Expression) -> exp.Expression:
    return case((exp.or_(*(is_null(a.copy()) for a in args), copy=False), exp.Null()), default=body)


def _elements(lo: Lowering, coll: ir.Expr, s: Scope, name: str) -> tuple[exp.Expression, exp.Expression]:
    """A lambda variable over the elements of `coll`, and the element's computed value."""
    y = ident(name)
    elem_t = coll.type.elem or T("any")
    return y, _read(y.copy(), elem_t, _elem_stored(lo, coll, s))


def _some(codes: exp.Expression) -> exp.Expression:
    """Kleene `some` over truth codes (2 true, 1 unknown, 0 false; false when empty)."""
    return exp.Case(this=exp.ArrayMax(this=codes)).when(exp.Literal.number(2), exp.true()).when(
        exp.Literal.number(1), null_of(BOOLEAN)).else_(exp.false())


def _code(x: exp.Expression) -> exp.Expression:
    two = exp.Mul(this=exp.Cast(this=exp.paren(x, copy=False), to=exp.DataType.build("INT")),
                  expression=exp.Literal.number(2))
    return exp.Coalesce(this=two, expressions=[exp.Literal.number(1)])


def duration(unit: str, a: exp.Expression) -> exp.Expression:
    """`days(n)`, `weeks(n)`, `months(n)`, `years(n)` as the (months, days) STRUCT."""
    clamped = exp.Greatest(this=exp.Least(this=a.copy(), expressions=[n(CLAMP)]), expressions=[n(-CLAMP)])
    mult = {"days": 1, "weeks": 7, "months": 1, "years": 12}[unit]
    amount = exp.paren(exp.Mul(this=clamped, expression=n(mult)), copy=False) if mult != 1 else clamped
    zero = n(0)
    m, dd = (amount, zero) if unit in ("months", "years") else (zero, amount)
    struct = exp.Struct(expressions=[exp.PropertyEQ(this=exp.to_identifier("m"), expression=m),
                                     exp.PropertyEQ(this=exp.to_identifier("d"), expression=dd)])
    return case((is_null(a), null_of(value_type(T("duration")))), default=struct)


def contains(lo: Lowering, e: ir.Builtin, s: Scope) -> exp.Expression:
    coll, item = e.args
    name = lo.var_name("c", s) + "_y"
    y, val = _elements(lo, coll, s, name)
    x = lo.value(item, s)
    codes = exp.Transform(this=lo.value(coll, s), expression=lam(_code(exp.EQ(this=val, expression=x)), name))
    return _strict([lo.value(coll, s), x.copy()], _some(codes))


def row(lo: Lowering, e: ir.Builtin, s: Scope) -> exp.Expression:
    table, column, key = e.args
    if not isinstance(column, ir.Const) or not isinstance(column.value, str):
        raise NotLowerable("row() of a computed column")
    name = lo.var_name("row", s) + "_y"
    rows = lo.value(table, s)
    row_t = table.type.elem
    if row_t is None or row_t.kind != "object" or column.value not in row_t.fields:
        raise NotLowerable("row() of a table without that column")
    cell = _read(exp.Dot(this=ident(name), expression=exp.to_identifier(column.value, quoted=True)),
                 row_t.fields[column.value], True)
    k = lo.value(key, s)
    found = exp.ArrayFilter(this=rows, expression=lam(exp.EQ(this=cell, expression=k), name))
    return _strict([lo.value(table, s), k.copy()], d.ListGet(this=found, expression=exp.Literal.number(0)))


def rank(lo: Lowering, e: ir.Builtin, s: Scope) -> exp.Expression:
    item, values = e.args
    name = lo.var_name("rank", s) + "_y"
    x = lo.value(item, s)
    xs = lo.value(values, s)
    y, val = _elements(lo, values, s, name)
    nulls = d.ListLen(this=exp.ArrayFilter(this=xs, expression=lam(is_null(val), name)))
    y2, val2 = _elements(lo, values, s, name)
    above = d.ListLen(this=exp.ArrayFilter(this=xs.copy(), expression=lam(exp.GT(this=val2, expression=x), name)))
    body = case((exp.GT(this=nulls, expression=exp.Literal.number(0)), null_of(BIGINT)),
                default=exp.Cast(this=exp.Add(this=n(1), expression=above), to=BIGINT.copy()))
    return _strict([x.copy(), xs.copy()], body)


# ---- working days ----------------------------------------------------------------------
def _field(x: exp.Expression, name: str) -> exp.Expression:
    return exp.Dot(this=x.copy(), expression=exp.to_identifier(name, quoted=True))


def working(cal: exp.Expression, day: exp.Expression) -> exp.Expression:
    """TRUE on a working day of `cal`, FALSE on another covered day, NULL outside its spans."""
    sname = "cal_s"
    span = ident(sname)
    inside = exp.and_(exp.LTE(this=_field(span, "a"), expression=day.copy()),
                      exp.LT(this=day.copy(), expression=_field(span, "b")), copy=False)
    hits = exp.Transform(this=_field(cal, "spans"),
                         expression=lam(case((inside, exp.Literal.number(1)), default=exp.Literal.number(0)), sname))
    covered = exp.EQ(this=exp.Coalesce(this=exp.ArrayMax(this=hits), expressions=[exp.Literal.number(0)]),
                     expression=exp.Literal.number(1))
    monday = exp.Cast(this=exp.Literal.string(MONDAY), to=DATE.copy())
    offset = d.DaysBetween(this=monday, expression=day.copy())
    dow = exp.Mod(this=exp.paren(exp.Add(this=exp.paren(exp.Mod(this=offset, expression=exp.Literal.number(7)),
                                                         copy=False), expression=exp.Literal.number(7)), copy=False),
                  expression=exp.Literal.number(7))
    return case((exp.Not(this=covered), null_of(BOOLEAN)),
                (exp.ArrayContains(this=_field(cal, "mk"), expression=day.copy()), exp.true()),
                (exp.ArrayContains(this=_field(cal, "hol"), expression=day.copy()), exp.false()),
                default=exp.LT(this=exp.paren(dow, copy=False), expression=exp.Literal.number(5)))


def _args(lo: Lowering, e: ir.Builtin, s: Scope) -> list[exp.Expression]:
    out = []
    for a in e.args:
        v = lo.value(a, s)
        out.append(_as_date(v, a.type) if a.type.kind in ("date", "datetime") else v)
    return out


def is_working_day(lo: Lowering, e: ir.Builtin, s: Scope) -> exp.Expression:
    cal, day = _args(lo, e, s)
    return _strict([cal, day], working(cal, day))


def working_days_between(lo: Lowering, e: ir.Builtin, s: Scope) -> exp.Expression:
    cal, a, b = _args(lo, e, s)
    gap = exp.Abs(this=d.DaysBetween(this=a.copy(), expression=b.copy()))
    start = exp.Least(this=a.copy(), expressions=[b.copy()])
    k = lo.var_name("wd", s) + "_k"
    codes = exp.Transform(
        this=d.Range0(this=n(1), expression=exp.Add(this=exp.Cast(this=gap.copy(), to=BIGINT.copy()), expression=n(1))),
        expression=lam(_code(working(cal, d.AddDays(this=start, expression=ident(k)))), k))
    unknown = exp.GT(this=d.ListLen(this=exp.ArrayFilter(this=codes, expression=lam(
        exp.EQ(this=ident(k + "c"), expression=exp.Literal.number(1)), k + "c"))), expression=exp.Literal.number(0))
    count = d.ListLen(this=exp.ArrayFilter(this=codes.copy(), expression=lam(
        exp.EQ(this=ident(k + "w"), expression=exp.Literal.number(2)), k + "w")))
    sign = case((exp.LT(this=b.copy(), expression=a.copy()), n(-1)), default=n(1))
    body = case((exp.GT(this=gap.copy(), expression=n(2 * MAX_WORKING_DAYS)), null_of(BIGINT)),
                (unknown, null_of(BIGINT)),
                default=exp.Cast(this=exp.Mul(this=sign, expression=count), to=BIGINT.copy()))
    return _strict([cal, a, b], body)


def add_working_days(lo: Lowering, e: ir.Builtin, s: Scope) -> exp.Expression:
    cal, day, count = _args(lo, e, s)
    left = exp.Abs(this=count.copy())
    sign = case((exp.LT(this=count.copy(), expression=n(0)), n(-1)), default=n(1))
    # look at days 1 … left·(g + 1) after (or before) `day`, never more than the calendar spans
    span = exp.Mul(this=left.copy(), expression=exp.Add(this=_field(cal, "g"), expression=n(1)))
    length = exp.Least(this=span, expressions=[n(MAX_CALENDAR_DAYS + 1)])
    k = lo.var_name("wd", s) + "_k"

    def at(i: exp.Expression) -> exp.Expression:
        return d.AddDays(this=day.copy(), expression=exp.Mul(this=sign.copy(), expression=i))
    offsets = d.WideRange(this=n(1), expression=exp.Add(this=length, expression=n(1)))
    work = exp.ArrayFilter(this=offsets, expression=lam(exp.EQ(
        this=exp.Coalesce(this=working(cal, at(ident(k))), expressions=[exp.false()]), expression=exp.true()), k))
    gaps = exp.ArrayFilter(this=offsets.copy(), expression=lam(is_null(working(cal, at(ident(k + "u")))), k + "u"))
    nth = d.ListGet(this=work, expression=exp.Sub(this=left.copy(), expression=n(1)))
    first_gap = exp.ArrayMin(this=gaps)
    found = case((is_null(nth.copy()), null_of(DATE)),
                 (exp.and_(exp.Not(this=is_null(first_gap.copy())), exp.LT(this=first_gap.copy(), expression=nth.copy()),
                           copy=False), null_of(DATE)),
                 default=at(nth.copy()))
    body = case((exp.GT(this=left.copy(), expression=n(MAX_WORKING_DAYS)), null_of(DATE)),
                (exp.EQ(this=count.copy(), expression=n(0)), day.copy()),
                default=found)
    return _strict([cal, day, count], body)


def _duration(unit: str):
    return lambda lo, e, s: duration(unit, lo.value(e.args[0], s))


CALENDAR_FNS = frozenset({"add_working_days", "working_days_between", "is_working_day"})
BUILTINS.update({
    "contains": contains, "row": row, "rank": rank, "is_working_day": is_working_day,
    "working_days_between": working_days_between, "add_working_days": add_working_days,
    **{unit: _duration(unit) for unit in ("days", "weeks", "months", "years")},
})


def missing_calendar(lo: Lowering, e: ir.Builtin, s: Scope) -> exp.Expression:
    """The missing facts of an unknown working-day function: its unknown arguments', or (all
    known: a day its calendar does not cover) the calendar parameter."""
    from .lower import _concat_lists, empty_paths, lit

    parts = [lo.missing_if_unknown(a, s) for a in e.args]
    known = exp.and_(*(exp.Not(this=is_null(lo.value(a, s))) for a in e.args), copy=False)
    cal = e.args[0]
    name = cal.name if isinstance(cal, ir.ParamRef) else "calendar"
    return case((known, exp.Array(expressions=[lit(f"param.{name}")])),
                default=_concat_lists(parts) if parts else empty_paths())


__all__ = ["CALENDAR_FNS", "missing_calendar"]
