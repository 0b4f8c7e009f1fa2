"""`qinqing test`: run the rule tests (`*.tests.yaml`) beside the packs, with coverage in legal terms.

Exit codes: 0 all passed (and coverage at or above `--coverage-min`); 1 a test failed or
coverage is below the floor; 2 the packs do not load, a test file is malformed, or no test
was found.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer


class Fmt(str, Enum):
    text = "text"
    junit = "junit"


class CovFmt(str, Enum):
    text = "text"
    json = "json"


class Lang(str, Enum):
    zh = "zh"
    en = "en"


def pack_roots(paths: list[Path]) -> list[Path]:
    """The packs to load for tests under `paths`: for each, the nearest folder (itself or an
    ancestor) holding a `params/` folder, so that a city folder loads with the common packs it
    imports; else the folder itself."""
    out: list[Path] = []
    for p in paths:
        folder = p if p.is_dir() else p.parent
        # Lexical parents first, so that relative paths stay relative in messages.
        candidates = (folder, *folder.parents, *folder.resolve().parents)
        root = next((d for d in candidates if (d / "params").is_dir()), folder)
        if root.resolve() not in {o.resolve() for o in out}:
            out.append(root)
    return out


def _under(file: str, folders: list[Path]) -> bool:
    f = Path(file).resolve()
    return any(f == d or d in f.parents for d in folders)


def _say(zh: str, en: str, lang: str) -> None:
    sys.stderr.write((zh if lang == "zh" else en) + "\n")


def run_tests(paths: list[Path], rules: list[Path] | None, fmt: str, output: Path | None,
              coverage: bool, coverage_min: float | None, coverage_format: str,
              coverage_output: Path | None, lang: str, quiet: bool) -> int:
    from checker.authoring import coverage as cov_mod
    from checker.authoring import coverage_report, testreport
    from checker.authoring.ruletests import RuleTestError, discover, load_tests, run
    from checker.engine.policy import PolicyLoadError, default_rules_path, load_policy
    from policy_dsl.errors import render_all

    paths = paths or [default_rules_path()]
    missing = [p for p in paths if not p.exists()]
    if missing:
        _say(f"找不到：{missing[0]}", f"No such file or folder: {missing[0]}", lang)
        return 2
    files = discover(paths)
    if not files:
        where = ", ".join(str(p) for p in paths)
        _say(f"在 {where} 下没有找到规则测试（*.tests.yaml）。",
             f"No rule tests (*.tests.yaml) found under {where}.", lang)
        return 2
    tests, problems = [], []
    for f in files:
        try:
            tests.extend(load_tests(f))
        except RuleTestError as exc:
            problems.extend(exc.messages)
    if problems:
        sys.stderr.write("\n".join(f"error: {m}" for m in problems) + "\n")
        _say(f"测试文件有误（{len(problems)} 处），请先修正。",
             f"The test files are malformed ({len(problems)} problems); fix them first.", lang)
        return 2
    rule_paths = rules or pack_roots(paths)
    try:
        policy = load_policy(rule_paths)
    except PolicyLoadError as exc:
        res = exc.result
        sys.stderr.write(render_all(res.errors, res.sources) + "\n")
        _say("规则加载失败，请先运行 `qinqing lint` 修正错误。",
             "The policies did not load; run `qinqing lint` and fix the errors.", lang)
        return 2
    results = run(tests, policy, lang)
    report = testreport.to_junit(results, lang) if fmt == "junit" else testreport.to_text(results, lang, quiet)
    code = 0 if all(r.passed for r in results) else 1

    cov_text = None
    # Any coverage option asks for coverage.
    if coverage or coverage_min is not None or coverage_output is not None or coverage_format != "text":
        scope = [(p if p.is_dir() else p.parent).resolve() for p in paths]
        cov = cov_mod.collect(policy.evaluator, policy.result.files, results,
                              lambda r: _under(r.span.file, scope))
        if coverage_format == "json":
            import json

            data = coverage_report.to_json(cov)
            data["tests"] = {"total": len(results), "passed": sum(1 for r in results if r.passed),
                             "failed": [{"name": r.test.name, "location": r.test.location, "diffs": r.diffs}
                                        for r in results if not r.passed]}
            cov_text = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
        else:
            cov_text = coverage_report.to_text(cov, lang)
        if coverage_min is not None and cov.percent < coverage_min:
            code = 1
            _say(f"规则覆盖率 {cov.percent}% 低于下限 {coverage_min:g}%。",
                 f"Rule coverage {cov.percent}% is below the floor of {coverage_min:g}%.", lang)

    # Where things go: the report to -o (or stdout); coverage to --coverage-output, else to
    # stdout when the report went to a file, else after a text report. When both want stdout,
    # the machine-readable one keeps it (JUnit, or JSON coverage) and the other goes to stderr.
    report_out = None if output is None or str(output) == "-" else output
    if report:
        if report_out is None and cov_text is not None and coverage_output is None and fmt == "text":
            if coverage_format == "json":
                sys.stderr.write(report)
            else:
                sys.stdout.write(report + "\n")
            report = ""
        if report:
            _write(report_out, report)
    if cov_text is not None:
        if coverage_output is not None:
            _write(coverage_output, cov_text)
        elif report_out is None and fmt == "junit":
            sys.stderr.write(cov_text)
        else:
            _write(None, cov_text)
    return code


def _write(path: Path | None, text: str) -> None:
    if path is None or str(path) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    path.write_text(text, encoding="utf-8")


def test(
    paths: Annotated[list[Path] | None, typer.Argument(
        help="测试文件或目录（默认：内置 rules/）/ Test files or folders (default: bundled rules/).",
        show_default=False)] = None,
    rules: Annotated[list[Path] | None, typer.Option(
        "--rules", help="规则目录或文件（默认：测试所在的规则树）/ Policy folders or files "
        "(default: the pack tree holding the tests).")] = None,
    fmt: Annotated[Fmt, typer.Option("--format", "-f", help="报告格式 / Report format.")] = Fmt.text,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="报告文件（默认：标准输出）/ Report file (default: stdout).")] = None,
    coverage: Annotated[bool, typer.Option(
        "--coverage", help="报告覆盖率 / Report coverage in legal terms.")] = False,
    coverage_min: Annotated[float | None, typer.Option(
        "--coverage-min", min=0, max=100,
        help="规则覆盖率下限（百分比），低于则返回 1 / Exit 1 below this rule coverage (percent).")] = None,
    coverage_format: Annotated[CovFmt, typer.Option(
        "--coverage-format", help="覆盖率格式 / Coverage format.")] = CovFmt.text,
    coverage_output: Annotated[Path | None, typer.Option(
        "--coverage-output", help="覆盖率文件 / Coverage file.")] = None,
    lang: Annotated[Lang, typer.Option("--lang", help="语言 / Language.")] = Lang.zh,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="只列出失败的测试 / List failing tests only.")] = False,
) -> None:
    """运行规则测试 / Run the rule tests written beside the packs."""
    code = run_tests(list(paths or []), list(rules) if rules else None, fmt.value, output, coverage,
                     coverage_min, coverage_format.value, coverage_output, lang.value, quiet)
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("test")(test)
