"""`qinqing check`: records in, one verdict per record, a report out."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer


class Fmt(str, Enum):
    text = "text"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"
    md = "md"
    html = "html"
    xlsx = "xlsx"


class FailOn(str, Enum):
    violation = "violation"
    review = "review"
    never = "never"


class Lang(str, Enum):
    zh = "zh"
    en = "en"


FAILING = {"violation": ("violation", "invalid"), "review": ("violation", "review", "invalid"),
           "never": ("invalid",)}


def register(app: typer.Typer) -> None:
    @app.command("check")
    def check(
        files: List[str] = typer.Argument(..., help="记录文件（JSONL/JSON/YAML/CSV/XLSX），`-` 表示标准输入 / record files, `-` for stdin"),
        rules: Optional[List[Path]] = typer.Option(None, "--rules", help="规则目录或文件 / policy folders or files (default: bundled rules/)"),
        jurisdiction: Optional[str] = typer.Option(None, "--jurisdiction", help="缺省行政区划代码 / jurisdiction for records that lack one"),
        fmt: Fmt = typer.Option(Fmt.text, "--format", "-f", help="输出格式 / output format"),
        output: Optional[Path] = typer.Option(None, "-o", "--output", help="输出文件 / output file"),
        lang: Lang = typer.Option(Lang.zh, "--lang", help="语言 / language"),
        explain: bool = typer.Option(False, "--explain", help="逐条解释 / explain every rule"),
        history: Optional[List[Path]] = typer.Option(None, "--history", help="既往记录 / earlier records for cross-record rules"),
        input_format: Optional[str] = typer.Option(None, "--input-format", help="jsonl|json|yaml|csv|xlsx"),
        encoding: str = typer.Option("utf-8", "--encoding", help="文本编码 / text encoding (e.g. gbk)"),
        jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="并行进程数 / worker processes"),
        fail_on: FailOn = typer.Option(FailOn.violation, "--fail-on", help="何种结论返回 1 / what makes the exit code 1"),
        log: Optional[Path] = typer.Option(None, "--log", help="决策日志 / append decisions to a hash-chained log"),
        mask: Optional[str] = typer.Option(None, "--mask", help="日志中脱敏的字段 / fields masked in the log, e.g. name,official.id"),
    ) -> None:
        """检查交往记录是否符合正负面清单 / Check interaction records against the lists."""
        from ..run import run_check

        code = run_check(files=files, rules=rules, jurisdiction=jurisdiction, fmt=fmt.value,
                         output=output, lang=lang.value, explain=explain, history=history or [],
                         input_format=input_format, encoding=encoding, jobs=jobs,
                         failing=FAILING[fail_on.value], log=log, mask=mask)
        raise typer.Exit(code)
