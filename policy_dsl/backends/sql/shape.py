"""Records and parameter values to the SQL engines' stored form, and back.

Stored form (see `lower.py`): money and numbers as their exact decimal text, dates as ISO
dates, date-times as RFC 3339 text, everything else as JSON has it. `representable` tells
whether a record's numbers fit the SQL engines' exact types (DECIMAL(38, 12) with room for
sums and products, 64-bit integers); a record that does not is judged by the Python engine.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from ...types import T

MAX_INT = 1 << 62
MAX_DEC = Decimal(10) ** 14
MAX_DEC_PLACES = 12


class Unrepresentable(ValueError):
    """A number the SQL engines' exact types cannot hold (the record goes to the Python engine)."""


def storer(t: T) -> Callable[[Any], Any]:
    """A function from a value of type `t` (as the Python engine holds it) to its stored form,
    for a JSON writer; it raises `Unrepresentable` where a number does not fit the SQL types
    (or a value is not of its type's shape). Built once per type: a batch calls it per record."""
    k = t.kind
    if k in ("money", "number"):
        return _number
    if k == "int":
        return _int
    if k == "object":
        fields = {name: storer(ft) for name, ft in t.fields.items()}

        def obj(value: Any) -> Any:
            if value is None:
                return None
            if type(value) is not dict:
                raise Unrepresentable(value)
            return {name: fields[name](x) for name, x in value.items() if name in fields}
        return obj
    if k == "list":
        elem = storer(t.elem or T("any"))

        def lst(value: Any) -> Any:
            if value is None:
                return None
            if type(value) is not list:
                raise Unrepresentable(value)
            return [elem(x) for x in value]
        return lst
    if k == "calendar":
        return _calendar
    if k == "duration":
        return _duration
    if k in ("string", "enum", "bool"):
        return _same
    return _leaf


def _same(value: Any) -> Any:
    return value


def _number(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        raise Unrepresentable(value)
    x = value if isinstance(value, Decimal) else Decimal(value)
    exponent = x.as_tuple().exponent
    if not x.is_finite() or abs(x) >= MAX_DEC or not isinstance(exponent, int) or -exponent > MAX_DEC_PLACES:
        raise Unrepresentable(value)
    return value if isinstance(value, str) else format(x, "f")


def _int(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, int) or not -MAX_INT < value < MAX_INT:
        raise Unrepresentable(value)
    return value


def _calendar(value: Any) -> Any:
    if value is None:
        return None
    from .builtins import MAX_CALENDAR_DAYS  # (the days a working-day function may look at stay bounded)
    spans = getattr(value, "spans", ())
    if spans and (spans[-1][1] - spans[0][0]).days > MAX_CALENDAR_DAYS:
        raise Unrepresentable(value)
    return stored_calendar(value)


def _duration(value: Any) -> Any:
    if value is None:
        return None
    from ..sql.lower import months_days
    m, d = months_days(value)
    return {"m": m, "d": d}


def _leaf(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


def stored(value: Any, t: T) -> Any:
    """`value` in stored form (see `storer`)."""
    return storer(t)(value)


def representable(value: Any, t: T) -> bool:
    """Whether every number of `value` fits the SQL engines' exact types."""
    try:
        storer(t)(value)
    except Unrepresentable:
        return False
    return True


def stored_calendar(cal: Any) -> dict:
    """A calendar (`ir.Calendar`) as the STRUCT `lower.CALENDAR`: its spans, holidays,
    make-up working days and `g`, the longest run of consecutive non-working days it covers."""
    g = run = 0
    prev: dt.date | None = None
    for a, b in cal.spans:
        day = a
        if prev is None or a != prev:
            run = 0  # a day not covered breaks a run
        while day < b:
            works = day in cal.makeup_workdays or (day not in cal.holidays and day.weekday() < 5)
            run = 0 if works else run + 1
            g = max(g, run)
            day += dt.timedelta(days=1)
        prev = b
    return {"spans": [{"a": a.isoformat(), "b": b.isoformat()} for a, b in cal.spans],
            "hol": sorted(x.isoformat() for x in cal.holidays),
            "mk": sorted(x.isoformat() for x in cal.makeup_workdays), "g": g}


def from_stored(value: Any, t: T) -> Any:
    """The Python engine's value of a stored one (windows handed back for rendering)."""
    if value is None:
        return None
    k = t.kind
    if k in ("money", "number"):
        return Decimal(value) if isinstance(value, str) else Decimal(str(value))
    if k == "object":
        return {name: from_stored(value[name], ft) for name, ft in t.fields.items()
                if name in value and value[name] is not None}
    if k == "list":
        return [from_stored(x, t.elem or T("any")) for x in value]
    if k == "date":
        return dt.date.fromisoformat(value)
    if k == "datetime":
        return dt.datetime.fromisoformat(value)
    return value
