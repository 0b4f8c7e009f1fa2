"""`qinqing diff OLD NEW --records FILE`: what a change of the packs does to a batch of records."""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer


class Fmt(str, Enum):
    text = "text"
    json = "json"
    html = "html"


class Lang(str, Enum):
    zh = "zh"
    en = "en"


class InputFormat(str, Enum):
    jsonl = "jsonl"
    json = "json"
    yaml = "yaml"
    csv = "csv"
    xlsx = "xlsx"


def register(app: typer.Typer) -> None:
    @app.command("diff")
    def diff(
        old: str = typer.Argument(..., help="旧版规则：目录，或 git:REV / REV:path / old packs: folder, git:REV or REV:path"),
        new: str = typer.Argument(..., help="新版规则：目录，或 git:REV / REV:path / new packs: folder, git:REV or REV:path"),
        records: List[str] = typer.Option(..., "--records", help="记录文件（可重复）/ record file (repeatable)"),
        fmt: Fmt = typer.Option(Fmt.text, "--format", "-f", help="输出格式 / output format"),
        output: Optional[Path] = typer.Option(None, "-o", "--output", help="输出文件 / output file"),
        repo: Optional[Path] = typer.Option(None, "--repo", help="git 仓库（默认当前目录）/ git repository (default: current folder)"),
        jurisdiction: Optional[str] = typer.Option(None, "--jurisdiction", help="缺省行政区划代码 / jurisdiction for records that lack one"),
        examples: int = typer.Option(3, "--examples", min=0, max=50, help="每组示例数 / examples per group"),
        input_format_opt: Optional[InputFormat] = typer.Option(
            None, "--input-format", help="输入格式（默认按扩展名）/ input format (default: by extension)"),
        encoding: str = typer.Option("utf-8", "--encoding", help="文本编码 / text encoding"),
        lang_opt: Lang = typer.Option(Lang.zh, "--lang", help="语言 / language"),
    ) -> None:
        """比较两版规则对同一批记录的结论 / Compare the verdicts of two versions of the packs on a batch."""
        from checker.authoring.diff import DiffError, render_html, render_text, to_data
        from checker.authoring.diff import diff as run_diff
        from checker.input.records import InputError

        lang = lang_opt.value
        input_format = input_format_opt.value if input_format_opt else None
        try:
            res = run_diff(old, new, records, repo, jurisdiction, input_format, encoding)
        except DiffError as exc:
            sys.stderr.write(exc.message(lang) + "\n")
            raise typer.Exit(2) from None
        except InputError as exc:
            msg = f"无法读取输入：{exc.message_zh}" if lang == "zh" else f"Cannot read input: {exc.message_en}"
            sys.stderr.write(msg + "\n")
            raise typer.Exit(2) from None
        if fmt is Fmt.json:
            text = json.dumps(to_data(res, examples), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
        elif fmt is Fmt.html:
            text = render_html(res, lang, examples)
        else:
            text = render_text(res, lang, examples)
        if output is None or str(output) == "-":
            sys.stdout.write(text)
        else:
            output.write_text(text, encoding="utf-8")
