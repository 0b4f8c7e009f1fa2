"""CSV and XLSX: one record a row, the header naming dotted field paths (`meals.0.payer` is
not a thing: lists and objects are JSON in one cell).

Cells are read by what the schema says the column holds (booleans, integers, JSON for
objects and arrays, text otherwise); Excel's typed cells are turned into the text the
schema expects (dates as YYYY-MM-DD, date-times with the +08:00 offset of
Asia/Shanghai). XLSX files are bounded before they are opened: total uncompressed size,
compression ratio, rows and cells (decompression bombs), and no DTDs (XXE, entity bombs).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import orjson

from checker.input.jsonl import parse_json
from checker.input.messages import RecordError
from checker.input.sources import (
    MAX_RECORD_BYTES,
    XLSX_TIMEZONE,
    InputError,
    LoadWarning,
    encoding_error,
    loader_error,
    read_document,
    too_large,
)


@dataclass(frozen=True, slots=True)
class _Column:
    header: str
    path: tuple[str, ...]
    kind: str  # string | boolean | integer | number | money | date | datetime | json | any


def _column_kinds(schema: dict) -> dict[tuple[str, ...], str]:
    """How to read a cell for each dotted path of the schema (objects only)."""
    defs = schema.get("$defs", {})
    out: dict[tuple[str, ...], str] = {}

    def kind_of(prop: dict) -> str:
        refs = [b.get("$ref") for b in prop.get("anyOf", []) if "$ref" in b]
        if "$ref" in prop:
            refs.append(prop["$ref"])
        for ref in refs:
            target = defs.get(ref.rsplit("/", 1)[-1], {})
            if target.get("x-normalise") == "decimal":
                return "money"
            if target.get("format") == "date":
                return "date"
            if target.get("format") == "date-time":
                return "datetime"
            return "string"
        types = prop.get("type", [])
        types = [types] if isinstance(types, str) else types
        for t in ("array", "object"):
            if t in types:
                return "json"
        for t in ("boolean", "integer", "number", "string"):
            if t in types:
                return t
        return "any"

    def walk(node: dict, prefix: tuple[str, ...]) -> None:
        for k, prop in (node.get("properties") or {}).items():
            path = (*prefix, k)
            out[path] = kind_of(prop)
            if "properties" in prop:
                walk(prop, path)

    walk(schema, ())
    return out


def _columns(header: Sequence[Any], kinds: dict[tuple[str, ...], str], name: str) -> list[_Column]:
    cols: list[_Column] = []
    seen: set[str] = set()
    for cell in header:
        h = "" if cell is None else str(cell).strip()
        h = h.removeprefix("\ufeff")
        if h and h in seen:
            raise InputError(
                name,
                f"{name} 的表头中列名 '{h}' 重复",
                f"{name}: column '{h}' appears twice in the header",
            )
        seen.add(h)
        path = tuple(h.split(".")) if h else ()
        cols.append(_Column(h, path, kinds.get(path, "any")))
    return cols


_INT_TEXT = re.compile(r"-?[0-9]+\Z")
_FLOAT_TEXT = re.compile(r"-?[0-9]+\.[0-9]+\Z")


def _cell_value(text: str, col: _Column) -> tuple[Any, str | None]:
    """(value, problem) for a non-empty text cell."""
    kind = col.kind
    if text == "null" and kind != "string":
        return None, None
    if kind == "boolean":
        low = text.strip().lower()
        if low in ("true", "false"):
            return low == "true", None
        return text, None
    if kind == "integer":
        s = text.strip()
        if _INT_TEXT.match(s):
            return int(s), None
        if _FLOAT_TEXT.match(s):
            return float(s), None
        return text, None
    if kind == "json":
        try:
            return parse_json(text), None
        except orjson.JSONDecodeError as exc:
            msg = getattr(exc, "msg", str(exc))
            return None, msg
    return text, None


def _excel_value(v: Any, col: _Column) -> tuple[Any, str | None]:
    """(value, problem) for a typed XLSX cell."""
    if isinstance(v, str):
        return _cell_value(v, col)
    kind = col.kind
    if isinstance(v, datetime):
        if kind == "date":
            return (v.date().isoformat() if v.time() == time() else v.isoformat()), None
        if v.tzinfo is None and kind == "datetime":
            return v.isoformat() + XLSX_TIMEZONE, None
        return v.isoformat(), None
    if isinstance(v, (date, time)):
        return v.isoformat(), None
    if isinstance(v, bool):
        return v, None
    if isinstance(v, (int, float)) and kind in ("string", "any"):
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        return str(v), None
    return v, None


def _assemble(
    cells: Iterable[tuple[_Column, Any]],
) -> tuple[dict, list[RecordError]]:
    """Build a nested record from (column, value) pairs; report conflicts."""
    record: dict = {}
    errors: list[RecordError] = []
    for col, value in cells:
        node = record
        ok = True
        for part in col.path[:-1]:
            nxt = node.get(part)
            if nxt is None:
                nxt = node[part] = {}
            elif not isinstance(nxt, dict):
                ok = False
                break
            node = nxt
        last = col.path[-1]
        if not ok or (last in node and isinstance(value, dict) != isinstance(node[last], dict)):
            errors.append(
                RecordError(
                    "$." + col.header,
                    "column_conflict",
                    f"列 '{col.header}' 与其他列的取值冲突",
                    f"column '{col.header}' conflicts with another column",
                )
            )
            continue
        if isinstance(value, dict) and isinstance(node.get(last), dict):
            node[last].update(value)
        else:
            node[last] = value
    return record, errors


def _row_record(
    row: Sequence[Any], cols: list[_Column], excel: bool
) -> tuple[dict, list[RecordError]]:
    errors: list[RecordError] = []
    cells: list[tuple[_Column, Any]] = []
    for i, cell in enumerate(row):
        if cell is None or cell == "":
            continue
        if i >= len(cols) or not cols[i].path:
            errors.append(
                RecordError(
                    "$",
                    "csv",
                    f"第 {i + 1} 列没有表头，其值 {str(cell)[:40]!r} 无法归入字段",
                    f"column {i + 1} has no header; its value {str(cell)[:40]!r} belongs to no field",
                )
            )
            continue
        col = cols[i]
        value, problem = _excel_value(cell, col) if excel else _cell_value(cell, col)
        if problem is not None:
            errors.append(
                RecordError(
                    "$." + col.header,
                    "json",
                    f"列 '{col.header}' 应为 JSON：{problem}",
                    f"column '{col.header}' must hold JSON: {problem}",
                )
            )
            continue
        cells.append((col, value))
    record, conflicts = _assemble(cells)
    return record, errors + conflicts


def read_csv(
    stream: io.BufferedReader,
    name: str,
    encoding: str,
    warnings: list[LoadWarning] | None,
    schema: dict,
) -> Iterator[tuple[int, str, Any, list[RecordError]]]:
    csv.field_size_limit(MAX_RECORD_BYTES)
    text = io.TextIOWrapper(
        stream, encoding="utf-8-sig" if encoding == "utf-8" else encoding, newline=""
    )
    reader = csv.reader(text)
    kinds = _column_kinds(schema)
    cols: list[_Column] | None = None
    last_line = 0
    while True:
        start = last_line + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError:
            raise encoding_error(name, encoding, reader.line_num + 1) from None
        except csv.Error as exc:
            last_line = reader.line_num
            yield start, f"{name}:{start}", None, _csv_error(exc)
            continue
        last_line = reader.line_num
        if cols is None:
            if not any(c.strip() for c in row):
                continue
            cols = _columns(row, kinds, name)
            continue
        if not any(row):
            continue
        if sum(len(c) for c in row) > MAX_RECORD_BYTES:
            yield (
                start,
                f"{name}:{start}",
                None,
                too_large(sum(len(c) for c in row), "该行", "the row"),
            )
            continue
        record, errors = _row_record(row, cols, excel=False)
        yield start, f"{name}:{start}", record, errors


def _csv_error(exc: csv.Error) -> list[RecordError]:
    msg = str(exc)
    if "field larger than field limit" in msg:
        return too_large(MAX_RECORD_BYTES + 1, "该行的单元格", "a cell of the row")
    return loader_error("csv", f"CSV 格式错误：{msg}", f"invalid CSV: {msg}")


def read_xlsx(
    stream: io.BufferedReader,
    name: str,
    encoding: str,
    warnings: list[LoadWarning] | None,
    schema: dict,
) -> Iterator[tuple[int, str, Any, list[RecordError]]]:

    from openpyxl import load_workbook

    data = read_document(stream, name, "XLSX")
    _check_workbook(data, name)
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - zip, XML or openpyxl: the file is not usable
        raise _not_xlsx(name, exc) from None
    try:
        if not book.worksheets:
            return
        sheet = book.worksheets[0]
        kinds = _column_kinds(schema)
        cols: list[_Column] | None = None
        warned = False
        for rowno, row in enumerate(_rows(sheet, name), start=1):
            if not any(c is not None and c != "" for c in row):
                continue
            if cols is None:
                cols = _columns(row, kinds, name)
                continue
            location = f"{name}!{sheet.title}:row {rowno}"
            record, errors = _row_record(row, cols, excel=True)
            if not warned and warnings is not None and _has_naive_datetime(row, cols):
                warned = True
                warnings.append(
                    LoadWarning(
                        name,
                        f"{name}：Excel 日期时间单元格不带时区，按北京时间（{XLSX_TIMEZONE}）读取",
                        f"{name}: Excel date-time cells carry no offset; read as "
                        f"Asia/Shanghai ({XLSX_TIMEZONE})",
                    )
                )
            yield rowno, location, record, errors
    finally:
        book.close()


def _has_naive_datetime(row: Sequence[Any], cols: list[_Column]) -> bool:
    return any(
        isinstance(v, datetime)
        and v.tzinfo is None
        and i < len(cols)
        and cols[i].kind == "datetime"
        for i, v in enumerate(row)
    )



MAX_XLSX_UNCOMPRESSED = 256 << 20  # all parts of a workbook, unzipped
MAX_XLSX_RATIO = 200  # uncompressed / compressed, for a part over 1 MiB
MAX_XLSX_ROWS = 1 << 20  # Excel's own limit
MAX_XLSX_COLUMNS = 1 << 14  # Excel's own limit (XFD)
MAX_XLSX_CELLS = 10_000_000  # cells read in all, empty ones included


def _not_xlsx(name: str, exc: Exception) -> InputError:
    why = str(exc) or type(exc).__name__
    return InputError(name, f"{name} 不是有效的 .xlsx 文件：{why}",
                      f"{name} is not a valid .xlsx file: {why}")


def _check_workbook(data: bytes, name: str) -> None:
    """Refuse, before openpyxl reads it, a workbook that would unzip past the limits
    (a decompression bomb) or whose XML declares a DTD (external entities, entity bombs)."""
    import zipfile

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        parts = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise _not_xlsx(name, exc) from None
    total = sum(p.file_size for p in parts)
    worst = max(((p.file_size / max(p.compress_size, 1), p) for p in parts
                 if p.file_size > 1 << 20), default=(0, None), key=lambda t: t[0])
    if total > MAX_XLSX_UNCOMPRESSED or worst[0] > MAX_XLSX_RATIO:
        raise InputError(
            name,
            f"{name} 解压后过大（{total / (1 << 20):.0f} MiB，压缩比 {worst[0]:.0f}:1），"
            f"超过上限（{MAX_XLSX_UNCOMPRESSED >> 20} MiB，{MAX_XLSX_RATIO}:1），未读取",
            f"{name} is too large once unzipped ({total / (1 << 20):.0f} MiB, compression ratio "
            f"{worst[0]:.0f}:1; limits {MAX_XLSX_UNCOMPRESSED >> 20} MiB and {MAX_XLSX_RATIO}:1); "
            "not read")
    try:
        for p in parts:
            if p.filename.endswith((".xml", ".rels", ".vml")):
                with archive.open(p) as f:
                    head = f.read(4096)
                if b"<!DOCTYPE" in head.upper() or b"<!ENTITY" in head.upper():
                    raise InputError(
                        name,
                        f"{name} 中的 {p.filename} 含有 XML 文档类型声明（DTD）；"
                        ".xlsx 文件不需要 DTD，为安全起见（外部实体、实体膨胀）拒绝读取",
                        f"{p.filename} in {name} declares an XML document type (DTD); .xlsx "
                        "files need none, so it is refused for safety (external entities, "
                        "entity expansion)")
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise _not_xlsx(name, exc) from None


def _rows(sheet: Any, name: str) -> Iterator[tuple]:
    """The sheet's rows (values), bounded in rows and columns; a broken sheet is an
    InputError naming the file."""
    if hasattr(sheet, "reset_dimensions"):  # rows as long as their cells, not the declared size
        sheet.reset_dimensions()
    rows = sheet.iter_rows(values_only=True)
    count = cells = 0
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except Exception as exc:  # noqa: BLE001 - XML or openpyxl: the sheet is not usable
            raise _not_xlsx(name, exc) from None
        count += 1
        cells += len(row)
        if count > MAX_XLSX_ROWS or len(row) > MAX_XLSX_COLUMNS or cells > MAX_XLSX_CELLS:
            raise InputError(
                name,
                f"{name} 的工作表超过上限（{MAX_XLSX_ROWS} 行、{MAX_XLSX_COLUMNS} 列或 "
                f"{MAX_XLSX_CELLS} 个单元格），未读完",
                f"{name}: the sheet exceeds the limits ({MAX_XLSX_ROWS} rows, {MAX_XLSX_COLUMNS} "
                f"columns or {MAX_XLSX_CELLS} cells); not read to the end")
        yield row
