"""`qinqing views`: the views of the record kinds beyond interactions (by responsible unit, by
quarter, by problem class, the overdue list in working days, the ratings' escalation list,
problem-list completion) for a batch, after checking it, as JSON, HTML or XLSX.

Exit codes: 0 written; 2 the rules did not load, an input or the output could not be used.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import tempfile
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer


class ViewFormat(str, Enum):
    json = "json"
    html = "html"
    xlsx = "xlsx"


class Lang(str, Enum):
    zh = "zh"
    en = "en"


def views(
    files: Annotated[list[str], typer.Argument(help="记录文件 / Record files.")],
    fmt: Annotated[ViewFormat, typer.Option("--format", "-f", help="格式 / Format.")] = ViewFormat.json,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="输出文件（默认：标准输出）/ Output file (default: stdout).")] = None,
    history: Annotated[list[Path] | None, typer.Option(
        "--history", help="既往记录（供跨记录规则和查找）/ Earlier records for cross-record rules and lookups.")] = None,
    rules: Annotated[list[Path] | None, typer.Option("--rules", help="规则目录 / Rule folders.")] = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="缺少 as_of 的记录按此日期 / as_of for records that lack one (YYYY-MM-DD).")] = None,
    lang: Annotated[Lang, typer.Option("--lang", help="语言 / Language.")] = Lang.zh,
) -> None:
    """记录类型统计视图 / Views of complaints, ratings, filings, licensing matters and problem lists."""
    from checker.engine.policy import PolicyLoadError, load_policy
    from checker.input.records import InputError, iter_records
    from checker.reports.kind_views import Views
    from checker.reports.kind_views_out import write_html, write_json, write_xlsx
    from checker.run.check import run_check

    zh = lang is Lang.zh

    def fail(msg_zh: str, msg_en: str) -> None:
        sys.stderr.write(("错误：" + msg_zh if zh else "error: " + msg_en) + "\n")
        raise typer.Exit(2)

    if fmt is ViewFormat.xlsx and output is None and sys.stdout.isatty():
        fail("XLSX 须用 -o 写入文件", "write XLSX to a file with -o")
    day = None
    if as_of is not None:
        try:
            day = dt.date.fromisoformat(as_of)
        except ValueError:
            fail(f"--as-of 应为 YYYY-MM-DD 日期，而不是 '{as_of}'", f"--as-of must be a YYYY-MM-DD date, not '{as_of}'")
    try:
        policy = load_policy(rules, cache=True)
    except PolicyLoadError:
        fail("规则加载失败，请先运行 `qinqing lint`。", "The policies did not load; run `qinqing lint`.")
    with tempfile.TemporaryDirectory() as tmp:
        report_path = Path(tmp) / "report.json"
        code = run_check(files=files, rules=rules, jurisdiction=None, fmt="json", output=report_path,
                         lang=lang.value, explain=False, history=history or [], input_format=None,
                         encoding="utf-8", jobs=1, failing=[], log=None, mask=None, quiet=True, as_of=as_of)
        if code == 2 or not report_path.exists():
            raise typer.Exit(2)
        report = json.loads(report_path.read_text("utf-8"))
    data: dict[tuple[str, str], dict] = {}
    try:
        for item in iter_records(files, validator=policy.validator()):
            if item.data is not None:
                data.setdefault((item.data.get("record_kind") or "interaction", item.data["id"]), item.data)
    except InputError as exc:
        fail(str(exc), str(exc))
    acc = Views(policy.evaluator.params_for, day)
    for entry in report["records"]:
        rec = data.get((entry.get("record_kind") or "interaction", entry.get("id")))
        if rec is not None:
            acc.add(rec, entry)
    doc = {"as_of": as_of, "records": len(acc.pairs), "summary": report["summary"], "views": acc.compute()}
    out = output.open("wb") if output is not None else sys.stdout.buffer
    try:
        if fmt is ViewFormat.json:
            write_json(doc, out)
        elif fmt is ViewFormat.html:
            write_html(doc, out, lang.value)
        else:
            write_xlsx(doc, out, lang.value)
    finally:
        if output is not None:
            out.close()
    if output is not None:
        sys.stderr.write((f"已写入 {output}：{len(acc.pairs)} 条记录的统计视图\n" if zh
                          else f"Wrote {output}: views of {len(acc.pairs)} records\n"))


def register(app: typer.Typer) -> None:
    app.command("views")(views)
