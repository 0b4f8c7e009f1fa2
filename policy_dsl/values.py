"""Runtime value operations shared by every Python evaluator (dates, durations, builtins).

Unknown is `None` and behaves like SQL NULL: every operation on it is unknown, except
`is known`/`is missing` and `coalesce`.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import re
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, ROUND_UP, Decimal
from functools import lru_cache

from .ir import Duration


def add_duration(day: dt.date | dt.datetime, dur: Duration, sign: int = 1) -> dt.date | dt.datetime:
    """Calendar arithmetic. Months and years keep the day of month, clamped to the month's
    last day: 2024-01-31 + 1 month = 2024-02-29; 2023-01-31 + 1 month = 2023-02-28."""
    n = dur.amount * sign
    if dur.unit == "days":
        return day + dt.timedelta(days=n)
    if dur.unit == "weeks":
        return day + dt.timedelta(weeks=n)
    months = n * (12 if dur.unit == "years" else 1)
    total = day.year * 12 + (day.month - 1) + months
    year, month = divmod(total, 12)
    month += 1
    last = calendar.monthrange(year, month)[1]
    return day.replace(year=year, month=month, day=min(day.day, last))


def as_date(x: dt.date | dt.datetime) -> dt.date:
    return x.date() if isinstance(x, dt.datetime) else x


def days_between(a, b) -> int:
    return (as_date(b) - as_date(a)).days


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern:
    return re.compile(pattern)


def _round(x, n):
    q = Decimal(1).scaleb(-n)
    return Decimal(x).quantize(q, rounding=ROUND_HALF_UP)


def _round_up(x, n):
    """Away from zero at `n` digits: an amount owed or over a cap is never understated
    (`round_up(0.0033, 2) = 0.01`)."""
    q = Decimal(1).scaleb(-n)
    return Decimal(x).quantize(q, rounding=ROUND_UP)


def _char_at(s: str, i: int):
    return s[i] if 0 <= i < len(s) else None


def _substr(s: str, start: int, length: int):
    return s[start:start + length] if start >= 0 and length >= 0 else None


def _quarter(d) -> int:
    return (as_date(d).month - 1) // 3 + 1


MAX_RANGE = 10_000  # `range(a, b)` longer than this is unknown (bounded work per record)


def _range(a: int, b: int):
    return list(range(a, b)) if b - a <= MAX_RANGE else None


def _index_of(s: str, sub: str) -> int:
    return s.find(sub)


def _matches(s: str, pattern: str) -> bool:
    return _regex(pattern).fullmatch(s) is not None


def _year(d) -> int:
    return d.year


def _month(d) -> int:
    return d.month


def _floor(x) -> int:
    return math.floor(x)


def total(fn):
    """Wrap a builtin so that a failure of the operation (an overflow, a date out of range,
    rounding beyond the precision) is unknown, never a Python exception."""
    def call(*args):
        try:
            return fn(*args)
        except (ArithmeticError, ValueError, OverflowError, TypeError):
            return None
    call.__name__ = getattr(fn, "__name__", "builtin")
    return call


def _contains(items, x):
    """`x in items`: true if an element equals it, else unknown if an element is unknown."""
    unknown = False
    for y in items:
        if y is None:
            unknown = True
        elif y == x:
            return True
    return None if unknown else False


def _row(rows, column, key):
    """The first row of a table whose key column equals `key` (unknown when none does)."""
    for row in rows:
        if row.get(column) == key:
            return row
    return None


def _rank(x, values):
    """1 + how many values are greater than `x` (competition ranking: ties share a rank)."""
    n = 1
    for y in values:
        if y is None:
            return None
        if y > x:
            n += 1
    return n


MAX_WORKING_DAYS = 3660  # a working-day count beyond ten years is unknown (bounded work)


def is_working_day(cal, d):
    """Monday–Friday that is not a holiday, or a make-up working day; unknown outside the
    days the calendar covers."""
    d = as_date(d)
    if not cal.covers(d):
        return None
    if d in cal.makeup_workdays:
        return True
    if d in cal.holidays:
        return False
    return d.weekday() < 5


def add_working_days(cal, d, n):
    """The n-th working day after `d` (`d` itself not counted); before it for negative n."""
    d = as_date(d)
    if abs(n) > MAX_WORKING_DAYS:
        return None
    step = dt.timedelta(days=1 if n >= 0 else -1)
    left = abs(n)
    while left:
        d = d + step
        w = is_working_day(cal, d)
        if w is None:
            return None
        if w:
            left -= 1
    return d


def working_days_between(cal, a, b):
    """The working days in (a, b] (negative: those in (b, a]); `add_working_days(a, k)` is
    then the last working day on or before b."""
    a, b = as_date(a), as_date(b)
    sign = 1
    if b < a:
        a, b, sign = b, a, -1
    if (b - a).days > MAX_WORKING_DAYS * 2:
        return None
    n = 0
    d = a
    while d < b:
        d = d + dt.timedelta(days=1)
        w = is_working_day(cal, d)
        if w is None:
            return None
        n += w
    return sign * n


def _days(n):
    return Duration(n, "days")


def _weeks(n):
    return Duration(n, "weeks")


def _months(n):
    return Duration(n, "months")


def _years(n):
    return Duration(n, "years")


# Builtins that return unknown when any argument is unknown.
STRICT_BUILTINS = {name: total(fn) for name, fn in {
    "contains": _contains,
    "row": _row,
    "rank": _rank,
    "add_working_days": add_working_days,
    "working_days_between": working_days_between,
    "is_working_day": is_working_day,
    "days": _days,
    "weeks": _weeks,
    "months": _months,
    "years": _years,
    "length": len,
    "upper": str.upper,
    "char_at": _char_at,
    "index_of": _index_of,
    "substr": _substr,
    "matches": _matches,
    "days_between": days_between,
    "date_of": as_date,
    "year": _year,
    "month": _month,
    "quarter": _quarter,
    "floor": _floor,
    "abs": abs,
    "round": _round,
    "round_up": _round_up,
    "min": min,
    "max": max,
    "range": _range,
}.items()}


def _mod(a, b):
    """Remainder with the sign of the dividend (truncated division), as in SQL `MOD`:
    -7 % 3 = -1 for integers and decimals alike."""
    if isinstance(a, int) and isinstance(b, int):
        r = abs(a) % abs(b)
        return r if a >= 0 else -r
    return Decimal(a) % Decimal(b)  # Decimal's % already truncates


def arith(op: str, a, b):
    """Exact arithmetic. Division by zero, and a result out of range (a date past 9999, an
    overflowing decimal), are unknown (None): the caller reports division by zero."""
    try:
        if op == "+":
            if isinstance(b, Duration):
                return add_duration(a, b)
            return a + b
        if op == "-":
            if isinstance(b, Duration):
                return add_duration(a, b, -1)
            return a - b
        if op == "*":
            return a * b
        if b == 0:
            return None
        if op == "/":
            return Decimal(a) / Decimal(b)
        return _mod(a, b)
    except (ArithmeticError, ValueError, OverflowError):
        return None


def format_value(value, labels: Mapping | None = None, lang: str = "zh") -> str:
    """How a value appears in a message: enum labels in the reader's language, exact decimals."""
    if value is None:
        return "未知" if lang == "zh" else "unknown"
    if isinstance(value, bool):
        if lang == "zh":
            return "是" if value else "否"
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        text = format(value, "f")
        if "." in text:
            text = text.rstrip("0").rstrip(".") if len(text.split(".")[1]) > 2 else text
        return text
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str) and labels and value in labels:
        return labels[value].get(lang) or value
    if isinstance(value, (list, tuple)):
        return "、".join(format_value(v, labels, lang) for v in value) if lang == "zh" else \
            ", ".join(format_value(v, labels, lang) for v in value)
    if isinstance(value, Duration):
        return format_duration(value, lang)
    if isinstance(value, dict):
        return "{…}"
    return str(value)


_DURATION_ZH = {"days": "天", "weeks": "周", "months": "个月", "years": "年"}
_DURATION_EN = {"days": ("day", "days"), "weeks": ("week", "weeks"), "months": ("month", "months"),
                "years": ("year", "years")}


def format_duration(d: Duration, lang: str = "zh") -> str:
    """`30天` / `30 days`, `1个月` / `1 month`."""
    if lang == "zh":
        return f"{d.amount}{_DURATION_ZH.get(d.unit, d.unit)}"
    one, many = _DURATION_EN.get(d.unit, (d.unit, d.unit))
    return f"{d.amount} {one if d.amount in (1, -1) else many}"


_CENT = Decimal("0.01")


def format_money(value, lang: str = "zh") -> str:
    """A money amount with two decimals: `619.00`; a share finer than the fen rounded up, as
    the rules' `round_up` (1,783.00 ÷ 7 → `254.72`), so one finding states one amount; unknown as
    `format_value`."""
    if isinstance(value, (Decimal, int)) and not isinstance(value, bool):
        return format(Decimal(value).quantize(_CENT, rounding=ROUND_UP), "f")
    return format_value(value, None, lang)
