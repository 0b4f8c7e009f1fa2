"""`qinqing report FINDINGS.parquet`: a report in any format from the findings and records tables
that `check --format parquet` wrote, without checking the records again.

The policy must be the one the tables were made with (its content hash is in the file); the
texts are rendered from its templates and the values in the tables (checker/engine/values.py).
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer


class Fmt(str, Enum):
    text = "text"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"
    md = "md"
    html = "html"
    xlsx = "xlsx"


class Detail(str, Enum):
    all = "all"
    failing = "failing"


class Lang(str, Enum):
    zh = "zh"
    en = "en"


def report(
    findings: Annotated[Path, typer.Argument(help="check --format parquet 写出的文件 / A findings table.")],
    fmt: Annotated[Fmt, typer.Option("--format", "-f", help="报告格式 / Report format.")] = Fmt.text,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="报告文件 / Report file.")] = None,
    lang: Annotated[Lang, typer.Option("--lang", help="报告语言 / Report language.")] = Lang.zh,
    rules: Annotated[list[Path] | None, typer.Option(
        "--rules", help="生成该表时的规则（默认：内置规则）/ The policies the table was made with.")] = None,
    detail: Annotated[Detail, typer.Option(
        "--detail", help="failing：合规结论只列规则与结论 / failing: compliant findings as rule and outcome only.")
    ] = Detail.all,
) -> None:
    """由结论表生成报告（不重新检查）/ Render a report from a findings table (no re-check)."""
    from checker.engine.engine import Summary
    from checker.engine.policy import PolicyLoadError, load_policy
    from checker.reports import parquet_report, writer
    from checker.reports.report import Report
    from checker.run.output import open_output

    zh = lang is Lang.zh

    def fail(msg_zh: str, msg_en: str) -> None:
        typer.echo(("错误：" + msg_zh) if zh else ("Error: " + msg_en), err=True)
        raise typer.Exit(2)

    if not findings.is_file() or not parquet_report.records_path(findings).is_file():
        fail(f"找不到结论表 {findings} 或其记录表 {parquet_report.records_path(findings)}",
             f"cannot find the findings table {findings} or its records table {parquet_report.records_path(findings)}")
    try:
        policy_desc, inputs, records, by_seq = parquet_report.read(findings)
    except Exception as exc:  # duckdb's errors: not a parquet file, missing metadata
        fail(f"无法读取 {findings}：{exc}", f"cannot read {findings}: {exc}")
    try:
        policy = load_policy(rules, cache=True)
    except PolicyLoadError:
        fail("规则加载失败，请先运行 `qinqing lint`", "the policies did not load; run `qinqing lint`")
    if policy.content_hash != policy_desc.get("content_hash"):
        fail("规则与生成结论表时的规则不同（内容哈希不符），请用 --rules 指定原规则",
             "the policies differ from those the table was made with (content hash); give them with --rules")
    renderer = policy.renderer(lang.value)
    summary = Summary()

    def counted():
        for e in parquet_report.entries(renderer, records, by_seq, detail.value):
            summary.add(e["outcome"])
            yield e

    rep = Report(policy_desc, counted(), summary, lang.value, False, inputs=inputs)
    with open_output(output) as out:
        writer(fmt.value)(rep, out)


def register(app: typer.Typer) -> None:
    app.command("report")(report)
