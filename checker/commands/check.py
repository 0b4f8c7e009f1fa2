"""`qinqing check`: records in, one verdict per record, a report out.

Exit codes: 0 nothing reached `--fail-on`; 1 something did (invalid records always do);
2 usage errors, unreadable input, policies that do not load.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from checker.commands.choices import InputFormat, Lang
from checker.commands.schemas import SCHEMA_HELP


class Fmt(str, Enum):
    text = "text"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"
    md = "md"
    html = "html"
    xlsx = "xlsx"
    junit = "junit"
    sarif = "sarif"
    parquet = "parquet"


class EngineKind(str, Enum):
    python = "python"
    duckdb = "duckdb"
    spark = "spark"


OUTCOMES = ("violation", "review", "tolerated", "compliant", "unlisted", "invalid")


def parse_only(value: str | None) -> str | None:
    """`--only violation,review`: outcomes separated by commas, each one of OUTCOMES."""
    if value is None:
        return None
    items = [x.strip() for x in value.split(",") if x.strip()]
    bad = [x for x in items if x not in OUTCOMES]
    if bad or not items:
        raise typer.BadParameter(
            f"{', '.join(repr(x) for x in bad) or repr(value)} 不是有效结论；可选 / is not an outcome; "
            f"choose from: {', '.join(OUTCOMES)}")
    return ",".join(x for x in OUTCOMES if x in items)


class FailOn(str, Enum):
    violation = "violation"
    review = "review"
    never = "never"


FAILING = {"violation": ("violation", "invalid"), "review": ("violation", "review", "invalid"),
           "never": ()}  # never: exit 0 whatever the outcomes; the report still lists invalid records


def check(
    files: Annotated[list[str], typer.Argument(
        help="记录文件（JSONL/JSON/YAML/CSV/XLSX），`-` 表示标准输入 / Record files, `-` for stdin.",
        show_default=False)],
    rules: Annotated[list[Path] | None, typer.Option(
        "--rules", help="规则目录或文件（默认：内置规则）/ Policy folders or files (default: bundled rules).")] = None,
    jurisdiction: Annotated[str | None, typer.Option(
        "--jurisdiction", help="为缺少行政区划代码的记录补上此代码 / Area code for records that lack one.")] = None,
    fmt: Annotated[Fmt, typer.Option("--format", "-f", help="报告格式 / Report format.")] = Fmt.text,
    only: Annotated[str | None, typer.Option(
        "--only", callback=parse_only, metavar="OUTCOMES",
        help="只列出这些结论的记录（text、md、csv、html），如 violation,review；无效记录总会列出 / "
             "List only records with these outcomes (text, md, csv, html), e.g. violation,review; "
             "invalid records are always listed.")] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="报告文件（默认：标准输出）/ Report file (default: stdout).")] = None,
    lang: Annotated[Lang, typer.Option("--lang", help="报告语言 / Report language.")] = Lang.zh,
    explain: Annotated[bool, typer.Option(
        "--explain", help="逐条说明每条规则的判断 / Explain every rule considered.")] = False,
    history: Annotated[list[Path] | None, typer.Option(
        "--history", help="既往记录，仅用于跨记录规则，不出报告 / Earlier records for cross-record rules (not reported).")] = None,
    input_format: Annotated[InputFormat | None, typer.Option(
        "--input-format", help="输入格式（默认按扩展名）/ Input format (default: by extension).")] = None,
    encoding: Annotated[str, typer.Option(
        "--encoding", help="文本编码，如 gbk / Text encoding, e.g. gbk.")] = "utf-8",
    jobs: Annotated[int, typer.Option(
        "--jobs", "-j", min=1, max=64, help="并行进程数 / Worker processes.")] = 1,
    fail_on: Annotated[FailOn, typer.Option(
        "--fail-on", help="何种结论使退出码为 1 / What makes the exit code 1.")] = FailOn.violation,
    log: Annotated[Path | None, typer.Option(
        "--log", help="追加到防篡改决策日志 / Append decisions to a tamper-evident log.")] = None,
    mask: Annotated[str | None, typer.Option(
        "--mask", help="日志中遮蔽的字段，如 name,official.id / Fields masked in the log.")] = None,
    engine: Annotated[EngineKind, typer.Option(
        "--engine", help="判定引擎：python（默认）、duckdb、spark / Engine: python (default), duckdb, spark.")
    ] = EngineKind.python,
    spark_master: Annotated[str, typer.Option(
        "--spark-master", help="Spark 主节点 URL（--engine spark）/ Spark master URL (--engine spark).")] = "local[*]",
    allow_empty: Annotated[bool, typer.Option(
        "--allow-empty", help="输入没有记录时不报错 / An input without records is not an error.")] = False,
    strict_columns: Annotated[bool, typer.Option(
        "--strict-columns",
        help="CSV/XLSX 中有记录模式不认识的列或工作表时拒绝读取该文件（默认：警告并忽略该列）/ "
             "Refuse a CSV/XLSX file with a column or sheet the record schema does not know "
             "(default: a warning, and the column is ignored).")] = False,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="写入文件后不在标准错误输出汇总行 / No summary line on stderr after writing a file.")] = False,
    schema: Annotated[list[Path] | None, typer.Option("--schema", help=SCHEMA_HELP)] = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="缺少 as_of 的记录按此日期判断未办结事项 / as_of for records that lack one (YYYY-MM-DD).")] = None,
) -> None:
    """检查交往记录是否符合正负面清单 / Check interaction records against the lists."""
    import os

    from checker.commands.schemas import read_schemas
    from checker.run.check import run_check

    schemas = read_schemas(schema, lang.value)
    try:
        code = run_check(files=files, rules=rules, jurisdiction=jurisdiction, fmt=fmt.value,
                         output=output, lang=lang.value, explain=explain, history=history or [],
                         input_format=input_format.value if input_format else None,
                         encoding=encoding, jobs=jobs, failing=FAILING[fail_on.value], log=log,
                         mask=mask, only=frozenset(only.split(",")) if only else None,
                         allow_empty=allow_empty, quiet=quiet, strict_columns=strict_columns,
                         schemas=schemas or None, as_of=as_of, engine_kind=engine.value,
                         spark_master=spark_master)
    except KeyboardInterrupt:
        code = 130
    except Exception as exc:  # a bug: one line for the user, the traceback on request
        if os.environ.get("QINQING_DEBUG"):
            raise
        name = type(exc).__name__
        typer.echo(f"内部错误（{name}: {exc}）；请报告此问题，设置 QINQING_DEBUG=1 可查看详情。"
                   if lang is Lang.zh else
                   f"Internal error ({name}: {exc}); please report it (QINQING_DEBUG=1 shows details).",
                   err=True)
        code = 2
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("check")(check)
