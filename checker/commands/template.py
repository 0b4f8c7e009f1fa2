"""`qinqing template`: a fill-in workbook (or CSV header row) for the record schema.

Exit codes: 0 written; 2 a usage error (a binary workbook to a terminal) or an output that
cannot be written.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer


class TemplateFormat(str, Enum):
    xlsx = "xlsx"
    csv = "csv"


class Lang(str, Enum):
    zh = "zh"
    en = "en"


def template(
    fmt: Annotated[TemplateFormat, typer.Option(
        "--format", "-f", help="模板格式 / Template format.")] = TemplateFormat.xlsx,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="模板文件（默认：标准输出）/ Template file (default: stdout).")] = None,
    lang: Annotated[Lang, typer.Option(
        "--lang", help="表头和说明的语言 / Language of headers and instructions.")] = Lang.zh,
) -> None:
    """写出供工作人员填写的记录模板 / Write a fill-in template for records."""
    from checker.input.columns import ColumnMap
    from checker.input.template import element_columns, main_columns, template_csv, template_xlsx
    from checker.schema import record_schema

    zh = lang is Lang.zh
    to_stdout = output is None or str(output) == "-"
    if fmt is TemplateFormat.xlsx and to_stdout and sys.stdout.isatty():
        typer.echo("错误：xlsx 是二进制格式，不能输出到终端；请用 -o 指定文件，如 -o 模板.xlsx" if zh else
                   "Error: xlsx is a binary format and is not written to a terminal; give a file "
                   "with -o, e.g. -o template.xlsx", err=True)
        raise typer.Exit(2)
    schema = record_schema()
    data = template_xlsx(schema, lang.value) if fmt is TemplateFormat.xlsx else \
        template_csv(schema, lang.value)
    if to_stdout:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    try:
        Path(output).write_bytes(data)  # type: ignore[arg-type]
    except OSError as exc:
        typer.echo(f"错误：无法写入 {output}：{exc.strerror}" if zh else
                   f"Error: cannot write {output}: {exc.strerror}", err=True)
        raise typer.Exit(2) from None
    cmap = ColumnMap(schema)
    n = len(main_columns(cmap))
    if fmt is TemplateFormat.csv:
        n += sum(len(element_columns(lst)) for lst in cmap.lists)
        typer.echo(f"已写入 {output}：CSV 表头，{n} 列" if zh else
                   f"Wrote {output}: a CSV header row, {n} columns", err=True)
        return
    names = [cmap.sheet_name(lst, lang.value) for lst in cmap.lists]
    typer.echo(f"已写入 {output}：填写模板，记录 {n} 列，列表工作表 {len(names)} 个（{'、'.join(names)}）"
               if zh else
               f"Wrote {output}: a fill-in workbook, {n} record columns, {len(names)} list sheets "
               f"({', '.join(names)})", err=True)


def register(app: typer.Typer) -> None:
    app.command("template")(template)
