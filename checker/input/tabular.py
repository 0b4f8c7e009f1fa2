"""CSV and XLSX readers: rows in, records out (`checker.input.assemble` makes the records).

A CSV, or the records sheet of a workbook, has one record a row under a header naming its
fields (`official.rank`, `公职人员·职级`, `Official › Rank`: `checker.input.columns`); a
list of objects is JSON in one cell, or one element a row on extra rows, or (XLSX) one element
a row on a sheet of its own linked by record id. Cells are read by what the schema says the
column holds, in the spellings people type (`checker.input.cells`); Excel's typed cells are
turned into the text the schema expects (dates as YYYY-MM-DD, date-times with the +08:00
offset of Asia/Shanghai).

Which sheet is which: the records sheet is the one named 记录 / Records, else the first sheet
that is neither a list's (named after the list: 用餐, meals …) nor the fill-in template's
instructions or options; any other sheet with something in it is ignored with a warning.

XLSX files are bounded before they are opened: total uncompressed size, compression ratio,
rows and cells (decompression bombs, counted over every sheet read), and no DTDs (XXE, entity
bombs).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from checker.input.assemble import Layout, ListSheet, Notes, Reader, RowGrouper, orphans
from checker.input.columns import ColumnMap, ListOf
from checker.input.messages import RecordError
from checker.input.sources import (
    MAX_RECORD_BYTES,
    InputError,
    LoadWarning,
    encoding_error,
    loader_error,
    read_document,
    too_large,
)

_MAPS: dict[int, tuple[dict, ColumnMap]] = {}


def column_map(schema: dict) -> ColumnMap:
    """The `ColumnMap` of a schema, built once per schema object."""
    hit = _MAPS.get(id(schema))
    if hit is None or hit[0] is not schema:
        if len(_MAPS) > 16:
            _MAPS.clear()
        hit = _MAPS[id(schema)] = (schema, ColumnMap(schema))
    return hit[1]


def read_csv(
    stream: io.BufferedReader,
    name: str,
    encoding: str,
    warnings: list[LoadWarning] | None,
    schema: dict,
    strict_columns: bool = False,
) -> Iterator[tuple[int, str, Any, list[RecordError]]]:
    csv.field_size_limit(MAX_RECORD_BYTES)
    text = io.TextIOWrapper(
        stream, encoding="utf-8-sig" if encoding == "utf-8" else encoding, newline=""
    )
    reader = csv.reader(text)
    cmap = column_map(schema)
    notes = Notes(name, warnings)
    rows: RowGrouper | None = None
    last_line = 0
    while True:
        start = last_line + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except UnicodeDecodeError:
            raise encoding_error(name, encoding, reader.line_num + 1) from None
        except csv.Error as exc:
            last_line = reader.line_num
            if rows is not None:
                yield from rows.flush()
            yield start, f"{name}:{start}", None, _csv_error(exc)
            continue
        last_line = reader.line_num
        if rows is None:
            if not any(c.strip() for c in row):
                continue
            layout = Layout(row, cmap, name, notes, strict_columns)
            rows = RowGrouper(layout, Reader(layout, None, notes, excel=False), cmap)
            continue
        if not any(c.strip() for c in row):
            continue
        if sum(len(c) for c in row) > MAX_RECORD_BYTES:
            yield from rows.flush()
            yield (
                start,
                f"{name}:{start}",
                None,
                too_large(sum(len(c) for c in row), "该行", "the row"),
            )
            continue
        yield from rows.feed(start, f"{name}:{start}", row)
    if rows is not None:
        yield from rows.flush()


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
    strict_columns: bool = False,
) -> Iterator[tuple[int, str, Any, list[RecordError]]]:
    """The records sheet's rows as records; the sheets of lists read first and linked by id."""
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
        cmap = column_map(schema)
        notes = Notes(name, warnings)
        budget = [0]
        main, lists, others = _classify(book.worksheets, cmap)
        for sheet in others:
            _other_sheet(sheet, name, cmap, notes, strict_columns, budget)
        list_sheets = [_read_list_sheet(sheet, lst, name, cmap, notes, strict_columns, budget)
                       for sheet, lst in lists]
        list_sheets = [ls for ls in list_sheets if ls is not None]
        where = f"{name}!{main.title}"
        rows: RowGrouper | None = None
        for rowno, row in enumerate(_rows(main, name, budget), start=1):
            if not any(not _blank(c) for c in row):
                continue
            if rows is None:
                layout = Layout(row, cmap, where, notes, strict_columns)
                rows = RowGrouper(layout, Reader(layout, main.title, notes, excel=True), cmap,
                                  list_sheets)
                continue
            yield from rows.feed(rowno, f"{where}:row {rowno}", row)
        if rows is not None:
            yield from rows.flush()
        yield from orphans(name, main.title, list_sheets, cmap)
    finally:
        book.close()


def _blank(v: Any) -> bool:
    return v is None or (v.__class__ is str and not v.strip())


def _classify(sheets: list, cmap: ColumnMap) -> tuple[Any, list[tuple[Any, ListOf]], list]:
    """The records sheet (named 记录 / Records, else the first sheet that is neither a list's
    nor the template's instructions or options), the sheets of lists, and the other sheets."""
    lists, others, plain = [], [], []
    for sheet in sheets:
        if cmap.is_aux_sheet(sheet.title):
            continue
        lst = cmap.sheet_list(sheet.title)
        if lst is not None and not cmap.is_record_sheet(sheet.title):
            lists.append((sheet, lst))
        else:
            plain.append(sheet)
    named = [s for s in plain if cmap.is_record_sheet(s.title)]
    if named:
        main = named[0]
    elif plain:
        main = plain[0]
    else:  # nothing but lists: their rows are then reported as rows without a record
        main = sheets[0]
        lists = [(s, lst) for s, lst in lists if s is not main]
    others = [s for s in plain if s is not main]
    return main, lists, others


def _other_sheet(sheet: Any, name: str, cmap: ColumnMap, notes: Notes, strict: bool,
                 budget: list[int]) -> None:
    """A sheet that is neither the records sheet nor a list's: ignored, with a warning (refused
    with `strict`) unless it is empty."""
    if not any(any(not _blank(c) for c in row) for row in _rows(sheet, name, budget)):
        return
    guess = cmap.suggest_sheet(sheet.title)
    zh = f"是否为 '{guess}'？" if guess else ""
    en = f"did you mean '{guess}'?" if guess else ""
    if strict:
        raise InputError(name, f"{name}：工作表 '{sheet.title}' 不是记录模式中的列表"
                         + (f"（{zh}）" if zh else "") + "；使用了 --strict-columns，不读取此文件",
                         f"{name}: sheet '{sheet.title}' is not a list of the record schema"
                         + (f" ({en})" if en else "") + "; not read because of --strict-columns")
    notes.warn(f"{name}：工作表 '{sheet.title}' 不是记录模式中的列表，已忽略，其中的值不参与检查"
               + (f"；{zh}" if zh else ""),
               f"{name}: sheet '{sheet.title}' is not a list of the record schema; ignored (its "
               "values are not checked)" + (f"; {en}" if en else ""))


def _read_list_sheet(sheet: Any, lst: ListOf, name: str, cmap: ColumnMap, notes: Notes,
                     strict: bool, budget: list[int]) -> ListSheet | None:
    where = f"{name}!{sheet.title}"
    out: ListSheet | None = None
    for rowno, row in enumerate(_rows(sheet, name, budget), start=1):
        if not any(not _blank(c) for c in row):
            continue
        if out is None:
            layout = Layout(row, cmap, where, notes, strict, lst)
            if layout.id_col is None:
                raise InputError(
                    name,
                    f"{where}：没有记录编号列（记录编号 或 id），其中的行无法对应到记录",
                    f"{where}: the sheet has no record id column (记录编号 or id); its rows cannot "
                    "be linked to records")
            reader = Reader(layout, sheet.title, notes, excel=True)
            out = ListSheet(lst, sheet.title, layout, reader)
            continue
        out.add(rowno, row)
    return out


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


def _rows(sheet: Any, name: str, budget: list[int]) -> Iterator[tuple]:
    """The sheet's rows (values), bounded in rows and columns (`budget`: the cells read so far
    in the workbook); a broken sheet is an InputError naming the file."""
    if hasattr(sheet, "reset_dimensions"):  # rows as long as their cells, not the declared size
        sheet.reset_dimensions()
    rows = sheet.iter_rows(values_only=True)
    count = 0
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except Exception as exc:  # noqa: BLE001 - XML or openpyxl: the sheet is not usable
            raise _not_xlsx(name, exc) from None
        count += 1
        budget[0] += len(row)
        if count > MAX_XLSX_ROWS or len(row) > MAX_XLSX_COLUMNS or budget[0] > MAX_XLSX_CELLS:
            raise InputError(
                name,
                f"{name} 的工作表超过上限（{MAX_XLSX_ROWS} 行、{MAX_XLSX_COLUMNS} 列或 "
                f"{MAX_XLSX_CELLS} 个单元格），未读完",
                f"{name}: the sheet exceeds the limits ({MAX_XLSX_ROWS} rows, {MAX_XLSX_COLUMNS} "
                f"columns or {MAX_XLSX_CELLS} cells); not read to the end")
        yield row
