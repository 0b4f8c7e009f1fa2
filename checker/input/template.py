"""The fill-in template of a record schema: an XLSX workbook for staff, or a CSV header row.

`template_xlsx(schema, lang)` writes, for any record schema (`checker.input.columns`):

- a records sheet (记录 / Records): one column per field, headed by its title path in `lang`
  (`公职人员·职级`, `Official › Rank`), in the schema's order, required columns in red; the
  header row and the id column frozen; each header carries a comment with the field's
  description and what to write; drop-down lists of labels for enums and 是/否 (yes/no) for
  booleans; a date format on date columns and a date-time format on date-time columns;
- one sheet per list of objects (用餐, 礼品礼金 …): the record id, then the element fields;
- an instructions sheet (填写说明 / Instructions): how to fill it in, and every column with
  its sheet, field path, whether it is required, its description and the values it takes;
- a hidden options sheet (选项 / Options) holding the drop-down lists.

What the template writes is what the loader reads (labels, 是/否, Excel dates, the sheets of
lists, `、` between the items of a list of values), with a note for each respelt column.
`template_csv(schema, lang)` writes the header row alone (UTF-8 with a byte-order mark, for
Excel): the record columns, then the element columns of each list (one element per extra row).

The bytes are deterministic: fixed document times and zip entry times.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from typing import Any

from checker.input.columns import AUX_SHEETS, RECORD_SHEETS, ColumnMap, Field, ListOf

__all__ = ["element_columns", "main_columns", "template_csv", "template_xlsx"]

FIXED_TIME = dt.datetime(2000, 1, 1)
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
LAST_ROW = 1_048_576  # Excel's last row: validations and formats cover the whole column
_DATE_FORMAT = "yyyy-mm-dd"
_DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
_MONEY_FORMAT = "0.00"


def main_columns(cmap: ColumnMap) -> list[Field]:
    """The records sheet's columns: every record field but objects (their fields are columns)
    and `record_kind` (a template is of one kind); a list of objects has a column too, to say
    there are none (`无`: its items go on its sheet)."""
    lists = {lst.path for lst in cmap.lists}
    parents = {f.path[:i] for f in cmap.fields for i in range(1, len(f.path))} - lists
    return [f for f in cmap.main_fields() if f.path not in parents and f.path != ("record_kind",)]


def _schema(schema: dict | None) -> dict:
    if schema is not None:
        return schema
    from checker.schema import record_schema

    return record_schema()


def template_csv(schema: dict | None = None, lang: str = "zh") -> bytes:
    """The header row of a CSV to fill in: record columns, then each list's element columns."""
    cmap = ColumnMap(_schema(schema))
    headers = [f.header(lang) for f in main_columns(cmap)]
    for lst in cmap.lists:
        headers += [f.header(lang) for f in element_columns(lst)]
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(headers)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def element_columns(lst: ListOf) -> list[Field]:
    """The columns of a list's elements (objects inside an element: their fields)."""
    parents = {f.path[:i] for f in lst.fields for i in range(1, len(f.path))}
    return [f for f in lst.fields if f.path not in parents]


# ---------------------------------------------------------------- words


def _t(lang: str, zh: str, en: str) -> str:
    return zh if lang == "zh" else en


def _hint(f: Field, lang: str, sheets: dict | None = None) -> str:
    """What to write in a column, for its comment and the instructions (`sheets`: the sheet
    of each list of objects)."""
    sep = "、" if lang == "zh" else ", "
    labels = sep.join(f.label(v, lang) for v in f.enum)
    sheet = (sheets or {}).get(f.path)
    if sheet is not None:
        return _t(lang, f"没有时填 无；有的话逐项填在“{sheet}”工作表中，此列留空",
                  f"none if there are none; else list them on the {sheet} sheet and leave this "
                  "empty")
    if f.kind == "list":
        return _t(lang, "可填多项，用顿号（、）分隔；没有时填 无" + (f"：{labels}" if labels else ""),
                  "One or more, separated by commas; none if there are none"
                  + (f": {labels}" if labels else ""))
    if f.enum:
        return _t(lang, f"从下拉列表中选择：{labels}", f"Choose from the list: {labels}")
    return {
        "boolean": _t(lang, "填 是 或 否", "yes or no"),
        "date": _t(lang, "日期，如 2024-03-05", "A date, e.g. 2024-03-05"),
        "datetime": _t(lang, "日期和时间，如 2024-03-05 09:30（北京时间）",
                       "Date and time, e.g. 2024-03-05 09:30 (Beijing time)"),
        "money": _t(lang, "金额（元），如 60.00", "An amount in CNY, e.g. 60.00"),
        "integer": _t(lang, "整数", "A whole number"),
        "number": _t(lang, "数字", "A number"),
        "json": _t(lang, "JSON", "JSON"),
    }.get(f.kind, "")


def _comment(f: Field, lang: str, sheets: dict) -> str:
    desc = f.description(lang)
    lines = [desc]
    if f.required and _t(lang, "必填", "required") not in desc.lower():
        lines.append(_t(lang, "必填。", "Required."))
    hint = _hint(f, lang, sheets)
    if hint:
        lines.append(hint + _t(lang, "。", "."))
    lines.append(f.dotted)
    return "\n".join(x for x in lines if x)


def _instructions(title: str, lang: str, main: str, columns: list[Field],
                  list_names: list[str]) -> list[str]:
    """How to fill the workbook in; the examples are the schema's own columns."""
    lists = "、".join(list_names) if lang == "zh" else ", ".join(list_names)
    code = next((f.enum[0] for f in columns if f.enum and f.kind != "list"), None)
    many = next((f.header(lang) for f in columns if f.kind == "list"), None)
    listed = next((f.header(lang) for f in columns if f.kind == "json" and f.is_array), None)
    if lang == "zh":
        lines = [
            f"{title} 填写模板",
            "",
            f"每行一条记录，填在“{main}”工作表中；红色表头为必填列。把鼠标停在表头上可看到该列的说明。",
            "有下拉列表的列请从列表中选择" + (f"；也可以直接填写取值代码（如 {code}）。" if code else "。"),
            "日期填 2024-03-05、2024/3/5 或 2024年3月5日；日期时间填 2024-03-05 09:30，按北京时间读取。",
            "是/否 列填 是 或 否（也可填 Y/N、true/false）。",
            f"可多选的列（如 {many}）用顿号（、）分隔多项；没有的填 无。" if many else None,
            f"列表（{lists}）填在同名工作表中，每行一项，“记录编号”填所属记录的记录编号；"
            f"没有的，在“{main}”工作表的同名列（如 {listed}）中填 无。" if lists else None,
            "没有的信息留空即可：留空表示未知，可能需要复核。",
            "不认识的列会被忽略并提示；请不要修改表头。",
            "检查：qinqing check 文件.xlsx（加 --strict-columns 时，有不认识的列则拒绝读取文件）",
            "",
        ]
    else:
        lines = [
            f"{title}: fill-in template",
            "",
            (f"One record a row, on the {main} sheet; red headers are required. Hover over a "
             "header to see what the column holds."),
            ("Columns with a drop-down list: choose from the list"
             + (f", or write the value's code (e.g. {code})." if code else ".")),
            "Dates: 2024-03-05 or 2024/3/5; date-times: 2024-03-05 09:30, read as Beijing time.",
            "Yes/no columns: yes or no (Y/N, true/false and 是/否 also work).",
            (f"Columns that take several values (e.g. {many}): separate them with commas; write "
             "none where there are none.") if many else None,
            (f"Lists ({lists}) go on the sheets of the same name, one item a row, with the record "
             f"id of the record they belong to; where there are none, write none in the column of "
             f"the same name on the {main} sheet (e.g. {listed}).") if lists else None,
            "Leave what you do not know empty: empty means unknown, which may need a review.",
            ("Columns the checker does not know are ignored with a warning; do not change the "
             "headers."),
            ("Check it: qinqing check FILE.xlsx (with --strict-columns, a file with an unknown "
             "column is refused)"),
            "",
        ]
    return [x for x in lines if x is not None]


# ---------------------------------------------------------------- the workbook


def template_xlsx(schema: dict | None = None, lang: str = "zh") -> bytes:
    """The fill-in workbook of `schema` (default: the bundled interaction schema)."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    schema = _schema(schema)
    cmap = ColumnMap(schema)
    wb = Workbook()
    wb.properties.creator = "qinqing template"
    wb.properties.created = wb.properties.modified = FIXED_TIME
    head_fill = PatternFill("solid", fgColor="DDEBF7")
    sheet_of = {lst.path: cmap.sheet_name(lst, lang) for lst in cmap.lists}
    options = None
    option_cols: dict[tuple[str, ...], str] = {}

    def options_range(f: Field) -> str:
        nonlocal options
        if options is None:
            options = wb.create_sheet(AUX_SHEETS[lang][1])
            options.sheet_state = "hidden"
        if f.path not in option_cols:
            col = get_column_letter(len(option_cols) + 1)
            option_cols[f.path] = col
            options[f"{col}1"] = f.dotted
            for i, v in enumerate(f.enum, start=2):
                options[f"{col}{i}"] = f.label(v, lang)
        col = option_cols[f.path]
        return f"'{AUX_SHEETS[lang][1]}'!${col}$2:${col}${len(f.enum) + 1}"

    def fill(ws: Any, fields: list[tuple[str, Field | None]], title: str) -> None:
        ws.freeze_panes = "B2"
        bools: list[str] = []
        nones: list[str] = []
        for i, (header, f) in enumerate(fields, start=1):
            letter = get_column_letter(i)
            cell = ws.cell(row=1, column=i, value=header)
            cell.data_type = "s"
            required = f is None or f.required
            cell.font = Font(bold=True, color="C00000" if required else "000000")
            cell.fill = head_fill
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            text = _comment(f, lang, sheet_of) if f is not None else _t(
                lang, f"所属记录的记录编号（与“{title}”工作表中的相同）。必填。",
                f"The record id of the record it belongs to (as on the {title} sheet). Required.")
            comment = Comment(text, "qinqing")
            comment.width, comment.height = 320, 40 + 18 * (text.count("\n") + len(text) // 40)
            cell.comment = comment
            ws.column_dimensions[letter].width = max(12, min(40, 2 * len(header) + 2))
            rng = f"{letter}2:{letter}{LAST_ROW}"
            if f is None:
                continue
            if f.enum and f.kind != "list":
                dv = DataValidation(type="list", formula1=options_range(f), allow_blank=True,
                                    errorStyle="warning", showErrorMessage=True,
                                    errorTitle=_t(lang, "不在列表中", "Not in the list"),
                                    error=_t(lang, "请从下拉列表中选择", "Choose from the list"))
                dv.add(rng)
                ws.add_data_validation(dv)
            elif f.kind == "boolean":
                bools.append(rng)
            elif f.path in sheet_of:
                nones.append(rng)
            fmt = {"date": _DATE_FORMAT, "datetime": _DATETIME_FORMAT,
                   "money": _MONEY_FORMAT}.get(f.kind)
            if fmt is not None:
                ws.column_dimensions[letter].number_format = fmt
        if bools:
            dv = DataValidation(type="list", formula1=_t(lang, '"是,否"', '"yes,no"'),
                                allow_blank=True, errorStyle="warning", showErrorMessage=True,
                                errorTitle=_t(lang, "是或否", "Yes or no"),
                                error=_t(lang, "请填 是 或 否", "Write yes or no"))
            for rng in bools:
                dv.add(rng)
            ws.add_data_validation(dv)
        if nones:
            dv = DataValidation(type="list", formula1=_t(lang, '"无"', '"none"'), allow_blank=True,
                                errorStyle="warning", showErrorMessage=True,
                                errorTitle=_t(lang, "填在工作表中", "On its own sheet"),
                                error=_t(lang, "没有时填 无；有的话填在同名工作表中",
                                         "none if there are none; else use the sheet of the "
                                         "same name"))
            for rng in nones:
                dv.add(rng)
            ws.add_data_validation(dv)

    main = wb.active
    main.title = RECORD_SHEETS[lang]
    columns = main_columns(cmap)
    fill(main, [(f.header(lang), f) for f in columns], main.title)
    id_header = cmap.id_field.header(lang) if cmap.id_field else _t(lang, "记录编号", "Record id")
    sheets: list[tuple[str, ListOf, list[Field]]] = []
    for lst in cmap.lists:
        ws = wb.create_sheet(cmap.sheet_name(lst, lang))
        elements = element_columns(lst)
        fill(ws, [(id_header, None), *((f.header(lang, relative=True), f) for f in elements)],
             main.title)
        sheets.append((ws.title, lst, elements))
    _write_instructions(wb, schema, lang, main.title, columns, sheets, sheet_of)
    if options is not None:
        wb.move_sheet(options, offset=len(wb.sheetnames))
    wb.active = 0
    raw = io.BytesIO()
    wb.save(raw)
    return _fixed_times(raw.getvalue())


def _write_instructions(wb: Any, schema: dict, lang: str, main_title: str,
                        columns: list[Field], sheets: list[tuple[str, ListOf, list[Field]]],
                        sheet_of: dict) -> None:
    from openpyxl.styles import Alignment, Font

    ws = wb.create_sheet(AUX_SHEETS[lang][0])
    title = str(schema.get("x-title-zh") if lang == "zh" else schema.get("title")) \
        or _t(lang, "记录", "Records")
    lines = _instructions(title, lang, main_title, columns, [name for name, _l, _f in sheets])
    for i, line in enumerate(lines, start=1):
        ws.cell(row=i, column=1, value=line).data_type = "s"
    ws.cell(row=1, column=1).font = Font(bold=True, size=14)
    head = [_t(lang, "工作表", "Sheet"), _t(lang, "列", "Column"), _t(lang, "字段", "Field"),
            _t(lang, "必填", "Required"), _t(lang, "说明", "Description"),
            _t(lang, "填写", "What to write")]
    row = len(lines) + 1
    for j, text in enumerate(head, start=1):
        ws.cell(row=row, column=j, value=text).font = Font(bold=True)
    yes = _t(lang, "是", "yes")
    entries = [(main_title, f.header(lang), f) for f in columns]
    for name, _lst, elements in sheets:
        entries += [(name, f.header(lang, relative=True), f) for f in elements]
    for sheet, header, f in entries:
        row += 1
        values = [sheet, header, f.dotted, yes if f.required else "", f.description(lang),
                  _hint(f, lang, sheet_of)]
        for j, text in enumerate(values, start=1):
            c = ws.cell(row=row, column=j, value=text)
            c.data_type = "s"
            c.alignment = Alignment(wrap_text=j >= 5, vertical="top")
    for letter, width in zip("ABCDEF", (12, 28, 34, 8, 48, 48), strict=True):
        ws.column_dimensions[letter].width = width


def _fixed_times(data: bytes) -> bytes:
    """The workbook with every zip entry and the document's modified time fixed."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(rb"<dcterms:modified([^>]*)>[^<]*<",
                              rb"<dcterms:modified\1>2000-01-01T00:00:00Z<", body)
            fixed = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            dst.writestr(fixed, body)
    return out.getvalue()
