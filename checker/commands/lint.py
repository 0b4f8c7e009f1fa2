"""`qinqing lint`: every diagnostic of the policies; exit 0 clean, 1 warnings with --strict, 2 errors.

With `--analyze`, also conflicts, gaps and dead rules of the packs in force for one
jurisdiction and date (policy_dsl/analysis); its findings are warnings.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from checker.commands.schemas import SCHEMA_HELP


class Fmt(str, Enum):
    text = "text"
    json = "json"


class Lang(str, Enum):
    zh = "zh"
    en = "en"


def _today() -> dt.date:
    from zoneinfo import ZoneInfo

    return dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()


def _msg(lang: str, zh: str, en: str) -> str:
    return zh if lang == "zh" else en


def register(app: typer.Typer) -> None:
    @app.command("lint")
    def lint(
        paths: Optional[List[Path]] = typer.Argument(
            None, help="规则文件或目录（默认：内置规则）/ policy files or folders (default: the bundled rules)"),
        strict: bool = typer.Option(False, "--strict", help="警告也返回非零 / warnings exit 1"),
        fmt: Fmt = typer.Option(Fmt.text, "--format", help="输出格式 / output format"),
        quiet_notes: bool = typer.Option(False, "--no-notes", help="不列出假定参数 / hide notes such as assumed parameters"),
        analyze: bool = typer.Option(False, "--analyze", help="分析冲突、遗漏与死规则 / find conflicts, gaps and dead rules"),
        jurisdiction: str = typer.Option("000000", "--jurisdiction", help="分析所用行政区划代码 / jurisdiction to analyse"),
        date: Optional[str] = typer.Option(None, "--date", help="分析日期 YYYY-MM-DD（默认今天）/ date to analyse (default today)"),
        counterexamples: Optional[Path] = typer.Option(None, "--counterexamples", help="反例记录写入此目录 / write counterexample records here"),
        list_bound: int = typer.Option(3, "--list-bound", min=1, max=6, help="每个列表的元素上限 / elements per list in the search"),
        gap_fields: Optional[List[str]] = typer.Option(None, "--gap-field", help="检查遗漏的枚举字段（可重复）/ enum field to check for gaps (repeatable)"),
        schema_files: Optional[List[Path]] = typer.Option(None, "--schema", help=SCHEMA_HELP),
        lang_opt: Lang = typer.Option(Lang.zh, "--lang", help="语言 / language"),
    ) -> None:
        """检查规则文件 / Check policy files: syntax, names, types, parameters."""
        from checker.commands.schemas import read_schemas
        from checker.engine.policy import all_schemas
        from policy_dsl.errors import render_all, to_json
        from policy_dsl.load import load

        lang = lang_opt.value
        day = None
        if analyze:
            if len(jurisdiction) != 6 or not jurisdiction.isdigit():
                sys.stderr.write(_msg(lang, f"行政区划代码应为6位数字：{jurisdiction}",
                                      f"a jurisdiction code has 6 digits: {jurisdiction}") + "\n")
                raise typer.Exit(2)
            try:
                day = dt.date.fromisoformat(date) if date else _today()
            except ValueError:
                sys.stderr.write(_msg(lang, f"日期应为 YYYY-MM-DD：{date}", f"expected a YYYY-MM-DD date: {date}") + "\n")
                raise typer.Exit(2) from None
        if not paths:
            from checker.engine.policy import default_rules_path

            paths = [default_rules_path()]
        result = load(list(paths), all_schemas(read_schemas(schema_files, lang)))
        diags = [d for d in result.diagnostics if not (quiet_notes and d.severity == "note")]
        errors = [d for d in diags if d.severity == "error"]
        warnings = [d for d in diags if d.severity == "warning"]
        notes = [d for d in diags if d.severity == "note"]
        analysis = None
        files: dict[str, str] = {}
        if analyze and not errors and result.program is not None:
            analysis = _run_analysis(result, jurisdiction, day, list_bound, gap_fields, lang)
            if counterexamples is not None:
                from policy_dsl.analysis.report import write_counterexamples

                files = write_counterexamples(analysis, counterexamples)
        if fmt is Fmt.json:
            if analyze:
                from policy_dsl.analysis.report import to_data

                data = {"diagnostics": json.loads(to_json(diags)),
                        "analysis": to_data(analysis, files) if analysis is not None else None}
                sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n")
            else:
                sys.stdout.write(to_json(diags) + "\n")
        else:
            color = sys.stdout.isatty()
            if diags:
                sys.stdout.write(render_all(diags, result.sources, color=color) + "\n\n")
            rules = len(result.program.rules) if result.program else 0
            n = (len(result.sources), rules, len(errors), len(warnings), len(notes))
            sys.stdout.write(_msg(lang, "{} 个文件，{} 条规则：错误 {}，警告 {}，提示 {}",
                                  "{} files, {} rules: {} errors, {} warnings, {} notes").format(*n) + "\n")
            if analysis is not None:
                from policy_dsl.analysis.report import render_text

                sys.stdout.write("\n" + render_text(analysis, lang, files))
            elif analyze and errors:
                sys.stdout.write(_msg(lang, "规则有错误，未进行分析。", "the policies have errors; no analysis was run.") + "\n")
        if errors:
            raise typer.Exit(2)
        if strict and (warnings or (analysis is not None and analysis.issues)):
            raise typer.Exit(1)


def _run_analysis(result, jurisdiction: str, day: dt.date, list_bound: int, gap_fields, lang: str):
    try:
        from policy_dsl.analysis.analyze import DEFAULT_GAP_FIELDS, Options, analyze
    except ImportError as exc:  # z3-solver missing
        sys.stderr.write(_msg(lang, f"无法进行分析：缺少 z3-solver（pip install z3-solver）：{exc}",
                              f"cannot analyse: z3-solver is missing (pip install z3-solver): {exc}") + "\n")
        raise typer.Exit(2) from None
    opts = Options(jurisdiction, day, list_bound, gap_fields=tuple(gap_fields) if gap_fields else DEFAULT_GAP_FIELDS)
    from checker.input.kinds import kind_validator

    return analyze(result.program, result.params, opts, kind_validator(result.program.schemas).validate)
