"""Compound parameters: sets, tables (inline or CSV) and working-day calendars.

Declared in the baseline profile like any parameter, with versions by jurisdiction and date
and a source (or `assumed: true`) for each version:

    hall_catalogue:                      # a table: rows with typed columns and a key column
      type: table
      key: code
      columns: {code: string, name: string, promised_working_days: integer}
      values:
        - {from: 2024-01-01, source: …, value: [{code: "140581-XK-0088", name: 取水许可, …}]}
        - {from: 2025-01-01, source: …, csv: hall_catalogue_2025.csv}   # beside the profile

    exempt_matters: {type: set, of: string, values: [{from: …, value: [a, b], source: …}]}

    working_calendar:                    # public holidays and make-up working days (调休)
      type: calendar
      values:
        - from: 2025-01-01
          until: 2026-01-01
          value: {holidays: [2025-01-01, 2025-01-28..2025-02-04], makeup_workdays: [2025-01-26]}
          source: {document: 国务院办公厅关于2025年部分节假日安排的通知, ref: 国办发明电〔2024〕12号}

In the language a set is a list of its element type, a table a list of objects (one field per
column) and a calendar a `calendar` value used by the working-day builtins.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import types as ty
from .errors import Diagnostic, Span
from .ir import Calendar

MAX_CSV_BYTES = 2 * 1024 * 1024
MAX_ROWS = 100_000
MAX_CALENDAR_DAYS = 400  # days one version may list
_SCALARS = ("money", "integer", "number", "boolean", "string", "duration", "date")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\s*\.\.\s*(\d{4}-\d{2}-\d{2})$")


SCALARS: dict[str, ty.T] = {"money": ty.MONEY, "integer": ty.INT, "number": ty.NUMBER, "boolean": ty.BOOL,
                            "string": ty.STRING, "duration": ty.DURATION, "date": ty.DATE}


def _scalar(tname: str) -> ty.T | None:
    return SCALARS.get(tname)


def compound_type(name: str, tname: str, spec: dict, sp: Span,
                  diags: list[Diagnostic]) -> tuple[ty.T, str | None] | None:
    """The language type (and a table's key column) of a `set`, `table` or `calendar`
    declaration (at `sp`); None (and a diagnostic) when the declaration is wrong."""
    if tname == "calendar":
        return ty.T("calendar", path=f"param.{name}"), None
    if tname == "set":
        of = str(spec.get("of") or "string")
        allowed = spec.get("values_allowed")
        if of == "enum" and isinstance(allowed, list):
            elem = ty.T("enum", path=f"param.{name}[]", values=tuple(str(v) for v in allowed))
        elif _scalar(of) is not None:
            elem = _scalar(of)  # type: ignore[assignment]
        else:
            diags.append(Diagnostic("E302", f"`of` of set `{name}` is not a value type: `{of}`", sp,
                                    f"write `of:` one of {', '.join(_SCALARS)} (or `enum` with `values_allowed`)"))
            return None
        return ty.list_of(elem), None
    # table
    columns = spec.get("columns")
    if not isinstance(columns, dict) or not columns:
        diags.append(Diagnostic("E302", f"table `{name}` needs `columns`", sp,
                                "write `columns: {code: string, days: integer}`"))
        return None
    fields: dict[str, ty.T] = {}
    for col, ctype in columns.items():
        cname = str(ctype.get("type") if isinstance(ctype, dict) else ctype)
        t = _scalar(cname)
        if t is None or not re.fullmatch(r"[a-z_][a-z0-9_]*", str(col)):
            diags.append(Diagnostic("E302", f"column `{col}` of table `{name}` has type `{cname}`", sp,
                                    f"columns are lower-case names with a type among {', '.join(_SCALARS)}"))
            return None
        fields[str(col)] = t
    key = spec.get("key")
    if key is not None and str(key) not in fields:
        diags.append(Diagnostic("E302", f"key `{key}` of table `{name}` is not one of its columns", sp,
                                f"columns: {', '.join(fields)}"))
        return None
    row = ty.T("object", path=f"param.{name}[]", fields=fields)
    return ty.list_of(row), (str(key) if key is not None else None)


def convert_compound(raw: Any, t: ty.T, key: str | None,
                     period: tuple[dt.date, dt.date | None] | None,
                     convert_value: Callable[[Any, ty.T], Any]) -> Any:
    """A set's, table's or calendar's YAML (or CSV) value, its items and cells converted by
    `convert_value` (the scalar conversion); raises ValueError."""
    if t.kind == "calendar":
        return _calendar(raw, period)
    if not isinstance(raw, list):
        raise ValueError("expected a list")
    if len(raw) > MAX_ROWS:
        raise ValueError(f"more than {MAX_ROWS} rows")
    elem = t.elem or ty.ANY
    if elem.kind != "object":  # a set
        out = []
        for i, item in enumerate(raw):
            try:
                out.append(convert_value(item, elem))
            except ValueError as exc:
                raise ValueError(f"item {i + 1}: {exc}") from None
        return out
    rows = []
    seen: set = set()
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise ValueError(f"row {i + 1} is not a mapping of columns")
        extra = sorted(set(map(str, item)) - set(elem.fields))
        if extra:
            raise ValueError(f"row {i + 1} has an unknown column `{extra[0]}` (columns: {', '.join(elem.fields)})")
        row = {}
        for col, ct in elem.fields.items():
            try:
                cell = item.get(col)
                row[col] = None if cell is None or cell == "" else convert_value(cell, ct)
            except ValueError as exc:
                raise ValueError(f"row {i + 1}, column `{col}`: {exc}") from None
        if key is not None:
            if row.get(key) is None:
                raise ValueError(f"row {i + 1} has no key `{key}`")
            if row[key] in seen:
                raise ValueError(f"row {i + 1} repeats the key `{row[key]}`")
            seen.add(row[key])
        rows.append(row)
    return rows


def _day(x: Any) -> dt.date:
    if isinstance(x, dt.date) and not isinstance(x, dt.datetime):
        return x
    return dt.date.fromisoformat(str(x).strip())


def _days(items: Any, what: str) -> set[dt.date]:
    if items is None:
        return set()
    if not isinstance(items, list):
        raise ValueError(f"`{what}` must be a list of days or ranges `A..B`")
    out: set[dt.date] = set()
    for item in items:
        m = _RANGE.match(str(item).strip()) if not isinstance(item, dt.date) else None
        try:
            if m:
                a, b = dt.date.fromisoformat(m.group(1)), dt.date.fromisoformat(m.group(2))
                if b < a or (b - a).days > MAX_CALENDAR_DAYS:
                    raise ValueError(f"`{item}` is not a range of days A..B with A ≤ B")
                out.update(a + dt.timedelta(days=k) for k in range((b - a).days + 1))
            else:
                out.add(_day(item))
        except ValueError as exc:
            raise ValueError(f"`{item}` in `{what}`: {exc}") from None
    return out


def _calendar(raw: Any, period: tuple[dt.date, dt.date | None] | None) -> Calendar:
    if not isinstance(raw, dict):
        raise ValueError("a calendar is `{holidays: [...], makeup_workdays: [...]}`")
    unknown = sorted(set(map(str, raw)) - {"holidays", "makeup_workdays"})
    if unknown:
        raise ValueError(f"unknown key `{unknown[0]}` (a calendar has `holidays` and `makeup_workdays`)")
    holidays = _days(raw.get("holidays"), "holidays")
    makeup = _days(raw.get("makeup_workdays"), "makeup_workdays")
    both = sorted(holidays & makeup)
    if both:
        raise ValueError(f"{both[0]} is both a holiday and a make-up working day")
    for d in sorted(makeup):
        if d.weekday() < 5:
            raise ValueError(f"make-up working day {d} is a {d:%A}, not a weekend day")
    if period is None or period[1] is None:
        raise ValueError("a calendar version needs `until` (the first day it no longer covers)")
    start, until = period
    outside = sorted(d for d in holidays | makeup if not start <= d < until)
    if outside:
        raise ValueError(f"{outside[0]} lies outside the version's {start}..{until}")
    return Calendar(((start, until),), frozenset(holidays), frozenset(makeup))


def read_csv_value(folder: Path, name: Any, sp: Span, diags: list[Diagnostic]) -> list | None:
    """The rows of a CSV file named by a version (`csv: file.csv`, beside the profile; `sp`:
    the version's place): a header row of column names, then one row per line; cells are text,
    typed by the columns."""
    target = (folder / str(name))
    try:
        inside = target.resolve().is_relative_to(folder.resolve())
    except OSError:
        inside = False
    if not inside or target.suffix.lower() != ".csv":
        diags.append(Diagnostic("E301", f"`csv: {name}` must name a .csv file in the profile's folder", sp))
        return None
    try:
        data = target.read_bytes()
    except OSError as exc:
        diags.append(Diagnostic("E301", f"cannot read {name}: {exc.strerror}", sp,
                                "put the CSV file beside the parameter file"))
        return None
    if len(data) > MAX_CSV_BYTES:
        diags.append(Diagnostic("E301", f"{name} is larger than {MAX_CSV_BYTES // (1024 * 1024)} MiB", sp))
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        diags.append(Diagnostic("E301", f"{name} is not UTF-8 (byte {exc.start})", sp, "save it as UTF-8"))
        return None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        diags.append(Diagnostic("E301", f"{name} has no header row", sp))
        return None
    header = [h.strip() for h in header]
    rows: list[Any] = []
    for n, cells in enumerate(reader, 2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            diags.append(Diagnostic("E301", f"{name}:{n}: {len(cells)} cells for {len(header)} columns", sp))
            return None
        rows.append(cells[0].strip() if len(header) == 1 and header[0] in ("value", "item")
                    else dict(zip(header, (c.strip() for c in cells))))
        if len(rows) > MAX_ROWS:
            diags.append(Diagnostic("E301", f"{name} has more than {MAX_ROWS} rows", sp))
            return None
    return rows
