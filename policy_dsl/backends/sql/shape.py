"""Records and parameter values to the SQL engines' stored form, and back.

Stored form (see `lower.py`): money and numbers as their exact decimal text, dates as ISO
dates, date-times as RFC 3339 text, everything else as JSON has it. `representable` tells
whether a record's numbers fit the SQL engines' exact types (DECIMAL(38, 12) with room for
sums and products, 64-bit integers); a record that does not is judged by the Python engine.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ...types import T

MAX_INT = 1 << 62
MAX_DEC = Decimal(10) ** 14
MAX_DEC_PLACES = 12


def stored(value: Any, t: T) -> Any:
    """`value` (as the Python engine holds it) in stored form, for a JSON writer."""
    if value is None:
        return None
    k = t.kind
    if k in ("money", "number"):
        if isinstance(value, bool):
            return None
        return format(Decimal(value), "f") if not isinstance(value, str) else value
    if k == "object":
        if not isinstance(value, dict):
            return None
        return {name: stored(value.get(name), ft) for name, ft in t.fields.items() if name in value}
    if k == "list":
        if not isinstance(value, list):
            return None
        elem = t.elem or T("any")
        return [stored(x, elem) for x in value]
    if k == "calendar":
        return stored_calendar(value)
    if k == "duration":
        from ..sql.lower import months_days
        m, d = months_days(value)
        return {"m": m, "d": d}
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


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


def representable(value: Any, t: T) -> bool:
    """Whether every number of `value` fits the SQL engines' exact types."""
    if value is None:
        return True
    k = t.kind
    if k in ("money", "number"):
        if isinstance(value, bool):
            return False
        x = Decimal(value) if not isinstance(value, Decimal) else value
        if not x.is_finite() or abs(x) >= MAX_DEC:
            return False
        exponent = x.as_tuple().exponent
        return isinstance(exponent, int) and -exponent <= MAX_DEC_PLACES
    if k == "int":
        return isinstance(value, int) and -MAX_INT < value < MAX_INT
    if k == "calendar":  # the days a working-day function may look at stay bounded
        from .builtins import MAX_CALENDAR_DAYS
        spans = getattr(value, "spans", ())
        return not spans or (spans[-1][1] - spans[0][0]).days <= MAX_CALENDAR_DAYS
    if k == "object":
        return isinstance(value, dict) and all(representable(value.get(n), ft) for n, ft in t.fields.items())
    if k == "list":
        return isinstance(value, list) and all(representable(x, t.elem or T("any")) for x in value)
    return True
