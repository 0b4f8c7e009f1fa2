"""Spreadsheet cells read by what their column holds, with the spellings people type.

`read_cell(value, field, excel)` turns one non-empty cell (CSV text, or an XLSX cell typed by
Excel) into the JSON value the schema expects, and says when it had to respell it (`Respelt`:
the kind of change and an example, for a note once per column):

- an enum value written as its Chinese or English label (`普通餐馆`, `state organ`), or in
  another case, or with spaces around it -> the value (`label`);
- a boolean written `是`/`否`, `Y`/`N`, `yes`/`no` (any case) -> true/false (`boolean`);
  `true`/`false` in any case are the plain spelling;
- a date written `2023/1/9`, `2023-1-9`, `2023.1.9` or `2023年1月9日` -> `2023-01-09`
  (`date`); an Excel date cell -> the same (`excel_date`);
- a date-time written with a space or `/`, without seconds or without an offset
  (`2023/1/9 9:30`) -> RFC 3339, an absent offset read as Beijing time, +08:00 (`datetime`);
- a list of values (`leisure.activities`) written as labels or values separated by `、` `,`
  `，` `;` `；` or line breaks -> a JSON list (`list`); a cell starting with `[` is JSON;
- any list (of values or of objects) written `无`, `没有` or `none` -> `[]` (`none`): there
  are none (an empty cell means unknown).

A cell that is none of these is passed on as written, so the validator reports it with its
usual message. Integers, JSON cells and `null` are read as before.

`Notes` collects a file's notes: each kind of respelling once per sheet and column, with an
example (and Excel's offset-less date-times once per file).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import orjson

from checker.input.columns import Field
from checker.input.jsonl import parse_json
from checker.input.messages import show
from checker.input.sources import XLSX_TIMEZONE, LoadWarning

__all__ = ["Notes", "Respelt", "read_cell", "verbatim"]


@dataclass(frozen=True, slots=True)
class Respelt:
    """A cell whose spelling was changed: what kind of change, and the cell before and after."""

    kind: str  # label | boolean | date | excel_date | datetime | excel_datetime | list | none
    before: str
    after: str


_TRUE = frozenset({"true", "是", "y", "yes"})
_FALSE = frozenset({"false", "否", "n", "no"})
_INT_TEXT = re.compile(r"-?[0-9]+\Z")
_FLOAT_TEXT = re.compile(r"-?[0-9]+\.[0-9]+\Z")
_DATE = (r"([0-9]{4})\s*(?:([-/.])\s*([0-9]{1,2})\s*\2\s*([0-9]{1,2})"  # 2023/1/9, 2023-1-9
         r"|年\s*([0-9]{1,2})\s*月\s*([0-9]{1,2})\s*日?)")  # 2023年1月9日
_DATE_ONLY = re.compile(_DATE + r"\Z")
_DATETIME = re.compile(_DATE + r"(?:\s*[Tt]\s*|\s+)([0-9]{1,2})[:：]([0-9]{2})"
                       r"(?:[:：]([0-9]{2})(\.[0-9]{1,9})?)?"
                       r"\s*([Zz]|[+-][0-9]{2}:[0-9]{2})?\Z")
_NONE = frozenset({"无", "没有", "none"})
_SPLIT = re.compile(r"\s*[、,，;；\n]\s*")
_RFC3339 = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
                      r"(Z|[+-][0-9]{2}:[0-9]{2})\Z")
_ENUM_CACHE: dict[int, tuple[Field, dict[str, str]]] = {}


def read_cell(v: Any, f: Field, excel: bool) -> tuple[Any, str | None, Respelt | None]:
    """(value, problem, respelling) of one non-empty cell; `problem` is a JSON parse error."""
    if isinstance(v, str):
        return _text(v, f)
    if not excel:
        return v, None, None
    kind = f.kind
    if isinstance(v, datetime):
        if kind == "date":
            if v.time() == time():
                iso = v.date().isoformat()
                return iso, None, Respelt("excel_date", v.date().isoformat(), iso)
            return v.isoformat(), None, None
        if v.tzinfo is None and kind == "datetime":
            iso = v.isoformat() + XLSX_TIMEZONE
            return iso, None, Respelt("excel_datetime", v.isoformat(), iso)
        return v.isoformat(), None, None
    if isinstance(v, (date, time)):
        return v.isoformat(), None, None
    if isinstance(v, bool):
        return v, None, None
    if isinstance(v, (int, float)) and (kind in ("string", "any", "list") or f.enum):
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        return _text(str(v), f) if f.enum or kind == "list" else (str(v), None, None)
    return v, None, None


_PLAIN = frozenset({"string", "money", "number", "any"})


def verbatim(f: Field) -> bool:
    """Whether text in `f`'s column is taken as written (`null` aside): no enum, no list, no
    type to read it as."""
    return f.kind in _PLAIN and not f.enum and not f.is_array


def _text(text: str, f: Field) -> tuple[Any, str | None, Respelt | None]:
    kind = f.kind
    if kind in _PLAIN and not f.enum and not f.is_array:  # most cells: text as written
        return (None if text == "null" and kind != "string" else text), None, None
    if text == "null" and kind != "string":
        return None, None, None
    if f.is_array and text.strip().casefold() in _NONE and _enum_value(text.strip(), f) is None:
        return [], None, Respelt("none", text, "[]")
    if f.enum and kind != "list":
        return _enum(text, f)
    if kind == "boolean":
        low = text.strip().casefold()
        if low in ("true", "false"):
            return low == "true", None, None
        if low in _TRUE or low in _FALSE:
            value = low in _TRUE
            return value, None, Respelt("boolean", text, "true" if value else "false")
        return text, None, None
    if kind == "integer":
        s = text.strip()
        if s.isdigit() and s.isascii() or _INT_TEXT.match(s):
            return int(s), None, None
        if _FLOAT_TEXT.match(s):
            return float(s), None, None
        return text, None, None
    if kind == "date":
        return _date(text)
    if kind == "datetime":
        return _datetime(text)
    if kind == "list":
        return _list(text, f)
    if kind == "json":
        try:
            return parse_json(text), None, None
        except orjson.JSONDecodeError as exc:
            return None, getattr(exc, "msg", str(exc)), None
    return text, None, None


def _enum_table(f: Field) -> dict[str, str]:
    """Spellings of an enum's values: the value, its labels, case-folded, without spaces."""
    hit = _ENUM_CACHE.get(id(f))
    if hit is not None and hit[0] is f:
        return hit[1]
    table: dict[str, str] = {}
    for value in f.enum:
        table.setdefault(value.casefold(), value)
    for value in f.enum:
        entry = f.labels.get(value) or {}
        for lang in ("zh", "en"):
            label = entry.get(lang)
            if isinstance(label, str) and label.strip():
                table.setdefault(" ".join(label.split()).casefold(), value)
    if len(_ENUM_CACHE) > 1024:
        _ENUM_CACHE.clear()
    _ENUM_CACHE[id(f)] = (f, table)
    return table


def _enum_value(text: str, f: Field) -> str | None:
    if text in f.enum:
        return text
    return _enum_table(f).get(" ".join(text.split()).casefold())


def _enum(text: str, f: Field) -> tuple[Any, str | None, Respelt | None]:
    value = _enum_value(text, f)
    if value is None or value == text:
        return text, None, None
    return value, None, Respelt("label", text, value)


def _ymd(m: re.Match) -> str | None:
    y = int(m.group(1))
    mo, d = (m.group(3), m.group(4)) if m.group(2) else (m.group(5), m.group(6))
    try:
        return date(y, int(mo), int(d)).isoformat()
    except ValueError:
        return None


def _date(text: str) -> tuple[Any, str | None, Respelt | None]:
    if len(text) == 10 and text[4] == "-" and text[7] == "-":  # ISO: as written
        return text, None, None
    m = _DATE_ONLY.match(text.strip())
    iso = _ymd(m) if m else None
    if iso is None or iso == text:
        return text, None, None
    return iso, None, Respelt("date", text, iso)


def _datetime(text: str) -> tuple[Any, str | None, Respelt | None]:
    if len(text) >= 20 and text[10] == "T" and text[16] == ":" and (
            text[-1] == "Z" or text[-6] in "+-"):
        return text, None, None  # RFC 3339 in its usual spelling: as written
    if _RFC3339.match(text):
        return text, None, None
    m = _DATETIME.match(text.strip())
    if m is None:
        return text, None, None
    day = _ymd(m)
    hh, mm, ss, frac, offset = m.group(7), m.group(8), m.group(9) or "00", m.group(10), m.group(11)
    if day is None or int(hh) > 23 or int(mm) > 59 or int(ss) > 59:
        return text, None, None
    offset = "Z" if offset in ("z", "Z") else offset or XLSX_TIMEZONE
    iso = f"{day}T{int(hh):02d}:{mm}:{ss}{frac or ''}{offset}"
    return iso, None, Respelt("datetime", text, iso)


def _list(text: str, f: Field) -> tuple[Any, str | None, Respelt | None]:
    s = text.strip()
    if s.startswith("["):
        try:
            return parse_json(s), None, None
        except orjson.JSONDecodeError as exc:
            return None, getattr(exc, "msg", str(exc)), None
    items = [x for x in _SPLIT.split(s) if x]
    values = [(_enum_value(x, f) or x) if f.enum else x for x in items]
    shown = orjson.dumps(values, option=orjson.OPT_NON_STR_KEYS).decode()
    return values, None, Respelt("list", text, shown)


# ---------------------------------------------------------------- notes


_NOTES = {
    "label": ("列 '{h}' 的标签已换为对应取值（如 {b} → {a}）",
              "column '{h}': labels read as their values (e.g. {b} → {a})"),
    "boolean": ("列 '{h}' 的 是/否 写法已读作布尔值（如 {b} → {a}）",
                "column '{h}': yes/no spellings read as booleans (e.g. {b} → {a})"),
    "date": ("列 '{h}' 的日期已改写为 YYYY-MM-DD（如 {b} → {a}）",
             "column '{h}': dates rewritten as YYYY-MM-DD (e.g. {b} → {a})"),
    "excel_date": ("列 '{h}' 的 Excel 日期单元格已读作 YYYY-MM-DD（如 {a}）",
                   "column '{h}': Excel date cells read as YYYY-MM-DD (e.g. {a})"),
    "datetime": ("列 '{h}' 的日期时间已改写为 RFC 3339，未写时区的按北京时间（+08:00）读取（如 {b} → {a}）",
                 ("column '{h}': date-times rewritten as RFC 3339, read as Beijing time (+08:00) "
                  "where no offset is written (e.g. {b} → {a})")),
    "list": ("列 '{h}' 中分隔列出的多项已读作列表（如 {b} → {a}）",
             "column '{h}': items separated by 、 , ; read as a list (e.g. {b} → {a})"),
    "none": ("列 '{h}' 的 {b} 已读作空列表 []（没有）",
             "column '{h}': {b} read as an empty list [] (there are none)"),
}


class Notes:
    """The notes and warnings of one file: each respelling once per sheet and column."""

    def __init__(self, name: str, warnings: list[LoadWarning] | None) -> None:
        self.name = name
        self.warnings = warnings
        self.seen: set[tuple] = set()

    def warn(self, zh: str, en: str) -> None:
        if self.warnings is not None:
            self.warnings.append(LoadWarning(self.name, zh, en))

    def respelt(self, where: str, header: str, r: Respelt) -> None:
        if r.kind == "excel_datetime":  # the loader's note since Excel cells came in: once a file
            if "excel_datetime" not in self.seen:
                self.seen.add("excel_datetime")
                self.warn(f"{self.name}：Excel 日期时间单元格不带时区，按北京时间（{XLSX_TIMEZONE}）读取",
                          f"{self.name}: Excel date-time cells carry no offset; read as "
                          f"Asia/Shanghai ({XLSX_TIMEZONE})")
            return
        key = (where, header, r.kind)
        if key in self.seen:
            return
        self.seen.add(key)
        zh, en = _NOTES[r.kind]
        b = show(r.before)
        self.warn(f"{where}：" + zh.format(h=header, b=b, a=r.after),
                  f"{where}: " + en.format(h=header, b=b, a=r.after))
