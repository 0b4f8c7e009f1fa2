"""Records assembled from spreadsheet rows: headers resolved, rows grouped, list sheets linked.

A sheet's first non-empty row is its header (`checker.input.columns` resolves each header). An
unknown column is reported once per file and sheet (a `LoadWarning` with a did-you-mean) and
ignored; with `strict` the file is refused instead (`InputError`, naming every unknown column).

One record a row, and more rows for its lists of objects. On the records sheet (or a CSV),
element columns (`meals.payer`, `用餐·付款方`) fill one element of their list per row. A row
*continues* the record above it when it fills at least one element column, its id cell is
empty or holds the same id, and each of its other record cells is empty or repeats the record's
value; it then adds one element to each list whose columns it fills. Any other row starts a new
record. In an XLSX workbook a list may also have a sheet of its own (`ListSheet`), one element a
row, linked to its record by a record-id column; rows whose id matches no record are reported as
an invalid record of their own (nothing is lost). A list given in more than one way for one
record (JSON in a cell, extra rows, its sheet) makes that record invalid.

Errors name the place of the cell when the record's location and JSON path do not: the sheet,
the row and the column as written (`Origins.locate`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from checker.input.cells import Notes, read_cell, verbatim
from checker.input.columns import ColumnMap, Field, ListOf
from checker.input.identity import identity_key
from checker.input.messages import RecordError, render_path
from checker.input.origins import Origins, Sheeted
from checker.input.sources import InputError

__all__ = ["Layout", "ListSheet", "Reader", "RowGrouper", "orphans"]


def _empty(v: Any) -> bool:
    return v is None or (v.__class__ is str and not v.strip())


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.strip() == b.strip()
    return a == b


def _id_text(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v).strip()


# ---------------------------------------------------------------- a sheet's columns


@dataclass(frozen=True, slots=True)
class Col:
    index: int
    header: str
    field: Field | None  # None: no header, an unknown column, or the record id of a list sheet
    record_id: bool = False
    verbatim: bool = False  # text in it is taken as written (`cells.verbatim`)


def _suggestion(cmap: ColumnMap, header: str, lst: ListOf | None) -> tuple[str, str]:
    hit = cmap.suggest(header, lst)
    if hit is None:
        return "", ""
    shown, dotted = hit
    if shown == dotted:
        return f"是否为 '{shown}'？", f"did you mean '{shown}'?"
    return f"是否为 '{shown}'（{dotted}）？", f"did you mean '{shown}' ({dotted})?"


class Layout:
    """The columns of one sheet (or CSV), resolved from its header row."""

    def __init__(self, row: Sequence[Any], cmap: ColumnMap, where: str, notes: Notes,
                 strict: bool, lst: ListOf | None = None) -> None:
        self.where = where
        self.lst = lst
        cols: list[Col] = []
        texts: set[str] = set()
        fields: dict[Any, str] = {}
        unknown: list[str] = []
        for i, cell in enumerate(row):
            h = "" if cell is None else str(cell).strip().removeprefix("\ufeff")
            if not h:
                cols.append(Col(i, "", None))
                continue
            if h in texts:
                raise InputError(notes.name, f"{where} 的表头中列名 '{h}' 重复",
                                 f"{where}: column '{h}' appears twice in the header")
            texts.add(h)
            if lst is None:
                f, rid = cmap.resolve(h), False
            else:
                r = cmap.resolve_in_list(lst, h)
                f, rid = r.field, r.record_id
            if f is None and not rid:
                unknown.append(h)
                cols.append(Col(i, h, None))
                continue
            key: Any = "record id" if rid else f.path  # type: ignore[union-attr]
            if key in fields:
                what = "记录编号" if rid else f.dotted  # type: ignore[union-attr]
                what_en = "the record id" if rid else f.dotted  # type: ignore[union-attr]
                raise InputError(
                    notes.name, f"{where} 的表头中列 '{fields[key]}' 与列 '{h}' 是同一字段（{what}）",
                    f"{where}: columns '{fields[key]}' and '{h}' are the same field ({what_en})")
            fields[key] = h
            cols.append(Col(i, h, f, rid, f is not None and verbatim(f)))
        self.cols = cols
        self._unknown(unknown, cmap, notes, strict)
        self.id_col = next((c for c in cols if c.record_id or (
            lst is None and c.field is not None and c.field.path == ("id",))), None)
        self.record_cols = [c for c in cols if c.field is not None and c.field.list_path is None
                            and c is not self.id_col]
        self.element_cols: dict[tuple[str, ...], list[Col]] = {}
        for c in cols:
            if c.field is not None and c.field.list_path is not None:
                self.element_cols.setdefault(c.field.list_path, []).append(c)
        self.blank = {c.index for c in cols if not c.header}
        self.first_row = sorted(([self.id_col] if self.id_col is not None else [])
                                + self.record_cols, key=lambda c: c.index)
        self.origins = tuple((c.field.path, c.header, c.field.dotted)  # type: ignore[union-attr]
                             for c in self.first_row if c.field is not None)
        self.all_element_cols = [c for cols in self.element_cols.values() for c in cols]

    def _unknown(self, unknown: list[str], cmap: ColumnMap, notes: Notes, strict: bool) -> None:
        if not unknown:
            return
        if strict:
            parts_zh, parts_en = [], []
            for h in unknown:
                zh, en = _suggestion(cmap, h, self.lst)
                parts_zh.append(f"'{h}'" + (f"（{zh}）" if zh else ""))
                parts_en.append(f"'{h}'" + (f" ({en})" if en else ""))
            noun = "column" if len(unknown) == 1 else "columns"
            raise InputError(
                notes.name,
                f"{self.where}：未知列 {'、'.join(parts_zh)}；使用了 --strict-columns，不读取此文件",
                f"{self.where}: unknown {noun} {', '.join(parts_en)}; not read because of "
                "--strict-columns")
        for h in unknown:
            zh, en = _suggestion(cmap, h, self.lst)
            notes.warn(f"{self.where}：未知列 '{h}' 已忽略，其中的值不参与检查" + (f"；{zh}" if zh else ""),
                       f"{self.where}: unknown column '{h}' ignored (its values are not checked)"
                       + (f"; {en}" if en else ""))


# ---------------------------------------------------------------- elements


@dataclass(slots=True)
class Element:
    """One element of a list of objects, from one row."""

    sheet: str | None
    row: int
    data: dict = field(default_factory=dict)
    # (path inside the element, header, dotted path) of each cell read; of each cell not read
    cells: list[tuple[tuple[str, ...], str, str]] = field(default_factory=list)
    problems: list[tuple[tuple[str, ...], str, str]] = field(default_factory=list)  # msg last


def _place(node: dict, rel: tuple[str, ...], value: Any) -> bool:
    """Put `value` at `rel` inside `node`, making objects on the way; False on a clash."""
    for part in rel[:-1]:
        nxt = node.get(part)
        if nxt is None:
            nxt = node[part] = {}
        elif not isinstance(nxt, dict):
            return False
        node = nxt
    if rel[-1] in node:
        return False
    node[rel[-1]] = value
    return True


class Reader:
    """Reads the cells of one sheet's rows (values, respellings, JSON problems)."""

    def __init__(self, layout: Layout, sheet: str | None, notes: Notes, excel: bool) -> None:
        self.layout = layout
        self.sheet = sheet
        self.notes = notes
        self.excel = excel

    def cell(self, row: Sequence[Any], c: Col) -> tuple[bool, Any, str | None]:
        """(present, value, problem) of one cell."""
        v = row[c.index] if c.index < len(row) else None
        if _empty(v):
            return False, None, None
        value, problem, respelt = read_cell(v, c.field, self.excel)  # type: ignore[arg-type]
        if respelt is not None:
            self.notes.respelt(self.layout.where, c.header, respelt)
        return True, value, problem

    def element(self, rowno: int, row: Sequence[Any], cols: list[Col]) -> Element | None:
        el = Element(self.sheet, rowno)
        filled = False
        for c in cols:
            present, value, problem = self.cell(row, c)
            if not present:
                continue
            filled = True
            f = c.field
            rel = f.relative  # type: ignore[union-attr]
            if problem is not None:
                el.problems.append((rel, c.header, problem))
            elif not _place(el.data, rel, value):
                el.problems.append((rel, c.header, ""))
            else:
                el.cells.append((rel, c.header, f.dotted))  # type: ignore[union-attr]
        return el if filled else None

    def blank_errors(self, rowno: int, row: Sequence[Any], origins: Origins) -> list[RecordError]:
        out = []
        width = len(self.layout.cols)
        if len(row) <= width and not self.layout.blank:
            return out
        for i, cell in enumerate(row):
            if (i >= width or i in self.layout.blank) and not _empty(cell):
                shown = str(cell)[:40]
                zh, en = origins.where(self.sheet, rowno, None)
                extra = (rowno != origins.home[1]) or (self.sheet != origins.home[0])
                out.append(RecordError(
                    "$", "csv",
                    f"第 {i + 1} 列没有表头，其值 {shown!r} 无法归入字段" + (f"（{zh}）" if extra else ""),
                    f"column {i + 1} has no header; its value {shown!r} belongs to no field"
                    + (f" ({en})" if extra else "")))
        return out


def _json_error(path: Sequence[Any], header: str, problem: str) -> RecordError:
    if not problem:
        return RecordError(render_path(list(path)), "column_conflict",
                           f"列 '{header}' 与其他列的取值冲突",
                           f"column '{header}' conflicts with another column")
    return RecordError(render_path(list(path)), "json", f"列 '{header}' 应为 JSON：{problem}",
                       f"column '{header}' must hold JSON: {problem}")


# ---------------------------------------------------------------- list sheets


class ListSheet:
    """The rows of one list's own sheet, by record id (read whole before the records sheet)."""

    def __init__(self, lst: ListOf, title: str, layout: Layout, reader: Reader) -> None:
        self.lst = lst
        self.title = title
        self.layout = layout
        self.reader = reader
        self.by_id: dict[str | None, list[Element]] = {}
        self.shown: dict[str | None, str] = {}

    def add(self, rowno: int, row: Sequence[Any]) -> None:
        idc = self.layout.id_col
        v = row[idc.index] if idc is not None and idc.index < len(row) else None
        key = None if _empty(v) else identity_key(_id_text(v))
        el = self.reader.element(rowno, row, self.layout.element_cols.get(self.lst.path, []))
        if el is None:
            el = Element(self.title, rowno)
        self.by_id.setdefault(key, []).append(el)
        if key is not None:
            self.shown.setdefault(key, _id_text(v))


# ---------------------------------------------------------------- the records sheet


class RowGrouper:
    """Groups the rows of the records sheet (or a CSV) into records and assembles each one."""

    def __init__(self, layout: Layout, reader: Reader, cmap: ColumnMap,
                 lists: Sequence[ListSheet] = ()) -> None:
        self.layout = layout
        self.reader = reader
        self.cmap = cmap
        self.lists = lists
        self.group: list[tuple[int, str, Sequence[Any]]] = []

    def feed(self, rowno: int, location: str, row: Sequence[Any]
             ) -> Iterator[tuple[int, str, Any, list[RecordError]]]:
        """The record the previous rows made, once this row does not continue it."""
        if self.group and self._continues(row):
            self.group.append((rowno, location, row))
            return
        yield from self.flush()
        self.group = [(rowno, location, row)]

    def flush(self) -> Iterator[tuple[int, str, Any, list[RecordError]]]:
        if self.group:
            group, self.group = self.group, []
            rowno, location, _ = group[0]
            raw, errors = self._build(group)
            yield rowno, location, raw, errors

    def _continues(self, row: Sequence[Any]) -> bool:
        lay = self.layout
        if not any(not _empty(row[c.index]) for c in lay.all_element_cols if c.index < len(row)):
            return False
        first = self.group[0][2]
        if lay.id_col is not None:
            v = row[lay.id_col.index] if lay.id_col.index < len(row) else None
            w = first[lay.id_col.index] if lay.id_col.index < len(first) else None
            if not _empty(v) and (_empty(w) or
                                  identity_key(_id_text(v)) != identity_key(_id_text(w))):
                return False
        for c in lay.record_cols:
            v = row[c.index] if c.index < len(row) else None
            if _empty(v):
                continue
            w = first[c.index] if c.index < len(first) else None
            if _empty(w) or not _same(v, w):
                return False
        return True

    def _build(self, group: list[tuple[int, str, Sequence[Any]]]) -> tuple[Any, list[RecordError]]:
        lay, rd = self.layout, self.reader
        rowno, _location, first = group[0]
        origins = Origins((rd.sheet, rowno), rd.excel, lay.origins)
        errors: list[RecordError] = []
        record: dict = {}
        record_id: str | None = None
        width, excel, id_col = len(first), rd.excel, lay.id_col
        for c in lay.first_row:  # (inlined `rd.cell`: most cells of a wide sheet are empty)
            i = c.index
            if i >= width:
                break
            v = first[i]
            if v is None or (v.__class__ is str and (not v or v.isspace())):
                continue
            f: Field = c.field  # type: ignore[assignment]
            if c.verbatim and v.__class__ is str:  # text as written (`cells.read_cell`'s case)
                value, problem = (None if v == "null" and f.kind != "string" else v), None
            else:
                value, problem, respelt = read_cell(v, f, excel)
                if respelt is not None:
                    rd.notes.respelt(lay.where, c.header, respelt)
            if c is id_col and value is not None:
                record_id = _id_text(value)
            path = f.path
            if problem is not None:
                errors.append(_json_error(path, c.header, problem))
                continue
            if len(path) == 1:
                if path[0] not in record:
                    record[path[0]] = value
                    continue
            elif len(path) == 2:
                node = record.get(path[0])
                if node is None:
                    record[path[0]] = {path[1]: value}
                    continue
                if node.__class__ is dict and path[1] not in node:
                    node[path[1]] = value
                    continue
            if not _merge(record, path, value):
                errors.append(_json_error(path, c.header, ""))
        for n, _loc, row in group:
            errors.extend(rd.blank_errors(n, row, origins))
        from_rows: dict[tuple[str, ...], list[Element]] = {}
        for n, _loc, row in group:
            for lp, ecols in lay.element_cols.items():
                el = rd.element(n, row, ecols)
                if el is not None:
                    from_rows.setdefault(lp, []).append(el)
        sheet_elements: dict[tuple[str, ...], list[tuple[ListSheet, list[Element]]]] = {}
        if record_id is not None and self.lists:
            key = identity_key(record_id)
            for ls in self.lists:
                els = ls.by_id.pop(key, None)
                if els:
                    sheet_elements.setdefault(ls.lst.path, []).append((ls, els))
        for lst in self.cmap.lists if from_rows or sheet_elements else ():
            rows_els = from_rows.get(lst.path, [])
            sheets = sheet_elements.get(lst.path, [])
            if not rows_els and not sheets:
                continue
            errors.extend(_place_list(record, lst, rows_els, sheets, origins))
        if lay.lst is None and lay.element_cols and not any(
                p in record for p in self.cmap.required_top) and self.cmap.required_top \
                and any(from_rows.values()):
            errors.append(_lonely_row(rowno, origins))
        return Sheeted(record, origins), origins.locate(errors)


def _merge(record: dict, path: tuple[str, ...], value: Any) -> bool:
    """Put a record cell's value at its path; an object merges with the object columns under it
    (`official` as JSON and `official.id`); False when they clash."""
    node = record
    for part in path[:-1]:
        nxt = node.get(part)
        if nxt is None:
            nxt = node[part] = {}
        elif not isinstance(nxt, dict):
            return False
        node = nxt
    last = path[-1]
    if last in node and isinstance(value, dict) != isinstance(node[last], dict):
        return False
    if isinstance(value, dict) and isinstance(node.get(last), dict):
        node[last].update(value)
    else:
        node[last] = value
    return True


def _ways(rows: list[Element], sheets: list[tuple[ListSheet, list[Element]]], json_cell: bool
          ) -> tuple[list[str], list[str]]:
    zh, en = [], []
    if json_cell:
        zh.append("其本列中的取值（JSON 或 无）")
        en.append("a value in its own column (JSON or none)")
    if rows:
        zh.append("续行中的列")
        en.append("columns on extra rows")
    for ls, _els in sheets:
        zh.append(f"工作表 '{ls.title}'")
        en.append(f"sheet '{ls.title}'")
    return zh, en


def _place_list(record: dict, lst: ListOf, rows: list[Element],
                sheets: list[tuple[ListSheet, list[Element]]], origins: Origins
                ) -> list[RecordError]:
    """Put a list's elements (from extra rows or its sheet) into the record."""
    node: Any = record
    for part in lst.path[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            break
    json_cell = isinstance(node, dict) and lst.path[-1] in node
    path_zh, path_en = f"{lst.title('zh')}（{lst.dotted}）", f"{lst.title('en')} ({lst.dotted})"
    if json_cell or (rows and sheets) or len(sheets) > 1:
        zh, en = _ways(rows, sheets, json_cell)
        first = rows[0] if rows else sheets[0][1][0]
        origins.add(lst.path, first.sheet, first.row, None)
        return [RecordError(render_path(list(lst.path)), "column_conflict",
                            f"列表 {path_zh} 以多种方式给出（{'、'.join(zh)}）；请只用一种",
                            f"the list {path_en} is given in more than one way ({', '.join(en)}); "
                            "use one")]
    elements = rows or sheets[0][1]
    data = [el.data for el in elements]
    if not _merge(record, lst.path, data):
        first = elements[0]
        origins.add(lst.path, first.sheet, first.row, None)
        return [RecordError(render_path(list(lst.path)), "column_conflict",
                            f"列表 {path_zh} 与其他列的取值冲突",
                            f"the list {path_en} conflicts with another column")]
    errors = []
    origins.add(lst.path, elements[0].sheet, elements[0].row, None)
    for i, el in enumerate(elements):
        base = (*lst.path, i)
        origins.add(base, el.sheet, el.row, None)
        for rel, header, dotted in el.cells:
            origins.add((*base, *rel), el.sheet, el.row, header, dotted)
        for rel, header, problem in el.problems:
            origins.add((*base, *rel), el.sheet, el.row, header, None)
            errors.append(_json_error((*base, *rel), header, problem))
    return errors


def _lonely_row(rowno: int, origins: Origins) -> RecordError:
    zh, en = origins.where(origins.home[0], rowno, None)
    return RecordError(
        "$", "continuation",
        f"此行只填写了列表的列，像是续行（{zh}）；续行须紧跟在同一记录的行之下，记录编号留空或与之相同，"
        "其余记录列留空或与之相同",
        f"this row fills only list columns, like an extra row ({en}); an extra row must directly "
        "follow its record's rows, with the same or an empty record id and the other record "
        "columns empty or the same")


def orphans(name: str, records_sheet: str, lists: Sequence[ListSheet], cmap: ColumnMap
            ) -> Iterator[tuple[int, str, Any, list[RecordError]]]:
    """One invalid record per record id that rows of list sheets name but no record has (and
    one for rows without an id): their elements, and the rows that were not checked."""
    keys: dict[str | None, None] = {}
    for ls in lists:
        for key in ls.by_id:
            keys.setdefault(key, None)
    for key in keys:
        raw: dict = {}
        errors: list[RecordError] = []
        first: tuple[str, int] | None = None
        for ls in lists:
            els = ls.by_id.get(key)
            if not els:
                continue
            shown = ls.shown.get(key)
            if shown is not None:
                raw.setdefault("id", shown)
            rows = [el.row for el in els]
            if first is None:
                first = (ls.title, rows[0])
            _merge(raw, ls.lst.path, [el.data for el in els])
            listed_zh = "、".join(map(str, rows[:10])) + ("…" if len(rows) > 10 else "")
            listed_en = ", ".join(map(str, rows[:10])) + ("…" if len(rows) > 10 else "")
            one = len(rows) == 1
            word, have, name_ = ("row", "has", "names") if one else ("rows", "have", "name")
            if key is None:
                errors.append(RecordError(
                    "$.id", "orphan_rows",
                    f"工作表 '{ls.title}' 第 {listed_zh} 行没有填写记录编号，无法对应到记录，未参与检查",
                    f"{word} {listed_en} of sheet '{ls.title}' {have} no record id and cannot be "
                    "linked to a record; not checked"))
            else:
                errors.append(RecordError(
                    "$.id", "orphan_rows",
                    f"工作表 '{ls.title}' 第 {listed_zh} 行的记录编号 '{shown}' 在工作表 '{records_sheet}' "
                    "中没有对应的记录，未参与检查",
                    f"{word} {listed_en} of sheet '{ls.title}' {name_} record id '{shown}', which "
                    f"is not on sheet '{records_sheet}'; not checked"))
        assert first is not None
        yield first[1], f"{name}!{first[0]}:row {first[1]}", raw, errors
