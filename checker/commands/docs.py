"""`qinqing docs`: the rule catalogue as Markdown and as one self-contained HTML page.

Exit codes: 0 written; 2 the packs do not load or the output cannot be written.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer


class Fmt(str, Enum):
    md = "md"
    html = "html"
    both = "both"


class Lang(str, Enum):
    zh = "zh"
    en = "en"


def _say(zh: str, en: str, lang: str) -> None:
    sys.stderr.write((zh if lang == "zh" else en) + "\n")


def catalogue_for(path: Path, rules: list[Path] | None = None):
    """(catalogue, load result) of the packs under `path`, loaded with the pack tree they
    belong to (so that a city folder finds the common packs it imports)."""
    from checker.authoring.catalogue import build
    from checker.authoring.ruletests import RuleTestError, discover, load_tests
    from checker.commands.test import pack_roots
    from checker.engine.policy import all_schemas
    from policy_dsl.load import load

    result = load(rules or pack_roots([path]), all_schemas())
    if not result.ok:
        return None, result
    tests = []
    for f in discover([path]):
        try:
            tests.extend(load_tests(f))
        except RuleTestError as exc:
            sys.stderr.write("\n".join(f"warning: {m}" for m in exc.messages) + "\n")
    scope = (path if path.is_dir() else path.parent).resolve()
    base = scope.parent
    inside = lambda p: scope == Path(p.file).resolve() or scope in Path(p.file).resolve().parents
    return build(result, tests, base, scope.name, inside), result


def run_docs(path: Path | None, output: Path, fmt: str, rules: list[Path] | None, lang: str) -> int:
    from checker.authoring.catalogue import to_html, to_markdown
    from checker.engine.policy import default_rules_path
    from policy_dsl.errors import render_all

    path = path or default_rules_path()
    if not path.exists():
        _say(f"找不到：{path}", f"No such file or folder: {path}", lang)
        return 2
    cat, result = catalogue_for(path, rules)
    if cat is None:
        sys.stderr.write(render_all(result.errors, result.sources) + "\n")
        _say("规则加载失败，请先运行 `qinqing lint` 修正错误。",
             "The policies did not load; run `qinqing lint` and fix the errors.", lang)
        return 2
    try:
        output.mkdir(parents=True, exist_ok=True)
        written = []
        if fmt in ("md", "both"):
            (output / "rules.md").write_text(to_markdown(cat), encoding="utf-8", newline="\n")
            written.append(output / "rules.md")
        if fmt in ("html", "both"):
            (output / "rules.html").write_text(to_html(cat), encoding="utf-8", newline="\n")
            written.append(output / "rules.html")
    except OSError as exc:
        _say(f"无法写入 {output}：{exc.strerror}", f"Cannot write {output}: {exc.strerror}", lang)
        return 2
    n = len(cat.rules)
    for w in written:
        _say(f"已写入 {w}（{n} 条规则）", f"Wrote {w} ({n} rules)", lang)
    return 0


def docs(
    path: Annotated[Path | None, typer.Argument(
        help="规则目录（默认：内置 rules/）/ Pack folder (default: bundled rules/).", show_default=False)] = None,
    output: Annotated[Path, typer.Option(
        "--output", "-o", help="输出目录 / Output folder.")] = Path("catalogue"),
    fmt: Annotated[Fmt, typer.Option("--format", "-f", help="md、html 或 both / Output format.")] = Fmt.both,
    rules: Annotated[list[Path] | None, typer.Option(
        "--rules", help="要加载的规则（默认：所在规则树）/ Packs to load (default: the pack tree).")] = None,
    lang: Annotated[Lang, typer.Option("--lang", help="提示语言 / Message language.")] = Lang.zh,
) -> None:
    """生成规则目录（Markdown 与 HTML）/ Publish the rule catalogue (Markdown and HTML)."""
    raise typer.Exit(run_docs(path, output, fmt.value, list(rules) if rules else None, lang.value))


def register(app: typer.Typer) -> None:
    app.command("docs")(docs)
