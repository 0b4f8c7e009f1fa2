"""`qinqing fmt`: rewrite policy files in the canonical layout (policy_dsl/format.py).

Exit codes: 0 done (or, with --check, every file already formatted); 1 with --check, some
file would change (a unified diff is printed); 2 a file does not parse or cannot be read.
`qinqing fmt -` formats standard input to standard output (for editors).
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path
from typing import Annotated

import typer

from checker.commands.choices import Lang


def policy_files(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """(policy files under the paths, paths that do not exist)."""
    found: list[Path] = []
    missing: list[Path] = []
    for p in paths:
        if p.is_dir():
            found.extend(sorted(p.rglob("*.policy")))
        elif p.is_file():
            found.append(p)
        else:
            missing.append(p)
    seen, out = set(), []
    for f in found:
        if f.resolve() not in seen:
            seen.add(f.resolve())
            out.append(f)
    return out, missing


def unified_diff(path: str, old: str, new: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                        fromfile=f"{path} (current)", tofile=f"{path} (formatted)"))


def run_fmt(paths: list[Path], check: bool, lang: str) -> int:
    from policy_dsl.errors import render_all
    from policy_dsl.format import FormatError, format_source

    zh = lang == "zh"
    if [str(p) for p in paths] == ["-"]:
        text = sys.stdin.read()
        try:
            sys.stdout.write(format_source(text, "<stdin>"))
        except FormatError as exc:
            sys.stderr.write(render_all(exc.diagnostics, {"<stdin>": text}) + "\n")
            return 2
        return 0
    files, missing = policy_files(paths)
    failed = 0
    for m in missing:
        sys.stderr.write((f"找不到：{m}" if zh else f"No such file or folder: {m}") + "\n")
        failed += 1
    changed: list[Path] = []
    same = 0
    for f in files:
        try:
            text = f.read_bytes().decode("utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
            sys.stderr.write((f"无法读取 {f}：{why}" if zh else f"Cannot read {f}: {why}") + "\n")
            failed += 1
            continue
        try:
            new = format_source(text, str(f))
        except FormatError as exc:
            sys.stderr.write(render_all(exc.diagnostics, {str(f): text}) + "\n")
            failed += 1
            continue
        if new == text:
            same += 1
            continue
        changed.append(f)
        if check:
            sys.stdout.write(unified_diff(str(f), text, new))
        else:
            f.write_text(new, encoding="utf-8", newline="\n")
    n = len(changed)
    if check:
        if n:
            msg = (f"{n} 个文件需要格式化（运行 `qinqing fmt` 改写），{same} 个文件已符合格式" if zh else
                   f"{n} file{'s' if n != 1 else ''} would be reformatted (run `qinqing fmt`), "
                   f"{same} already formatted")
        else:
            msg = (f"{same} 个文件均已符合格式" if zh else
                   f"{same} file{'s' if same != 1 else ''} already formatted")
    else:
        msg = (f"已格式化 {n} 个文件，{same} 个文件未改变" if zh else
               f"{n} file{'s' if n != 1 else ''} reformatted, {same} left unchanged")
    if failed:
        msg += (f"；{failed} 个文件无法格式化（见上）" if zh else
                f"; {failed} could not be formatted (see above)")
    sys.stderr.write(msg + "\n")
    if failed:
        return 2
    return 1 if check and n else 0


def fmt(
    paths: Annotated[list[Path], typer.Argument(
        help="规则文件或目录；`-` 表示标准输入 / Policy files or folders; `-` for stdin.",
        show_default=False)],
    check: Annotated[bool, typer.Option(
        "--check", help="只检查不改写；有文件需要格式化时显示差异并返回 1 / Check only: show a diff "
        "and exit 1 when a file is not formatted.")] = False,
    lang: Annotated[Lang, typer.Option("--lang", help="语言 / Language.")] = Lang.zh,
) -> None:
    """统一规则文件格式 / Rewrite policy files in the canonical layout."""
    raise typer.Exit(run_fmt(list(paths), check, lang.value))


def register(app: typer.Typer) -> None:
    app.command("fmt")(fmt)
