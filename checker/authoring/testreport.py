"""Presentation of rule-test results: readable text for authors, JUnit XML for CI systems."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import OrderedDict
from collections.abc import Iterable

from checker.authoring.ruletests import TestResult
from checker.reports.labels import OUTCOME, SEVERITY

_WORDS = {
    "zh": {"summary": "{n} 个测试：{p} 通过，{f} 失败", "got": "实际发现：", "none": "（无）",
           "outcome": "实际结论：{o}", "sep": "："},
    "en": {"summary": "{n} tests: {p} passed, {f} failed", "got": "reported findings:", "none": "(none)",
           "outcome": "actual outcome: {o}", "sep": ": "},
}


def _by_file(results: Iterable[TestResult]) -> OrderedDict[str, list[TestResult]]:
    groups: OrderedDict[str, list[TestResult]] = OrderedDict()
    for r in results:
        groups.setdefault(r.test.file, []).append(r)
    return groups


def summary_line(results: list[TestResult], lang: str = "zh") -> str:
    w = _WORDS["zh" if lang == "zh" else "en"]
    passed = sum(1 for r in results if r.passed)
    return w["summary"].format(n=len(results), p=passed, f=len(results) - passed)


def finding_lines(entry: dict | None, lang: str) -> list[str]:
    """The findings a record actually got, one per line: `B1 violation medium: message`."""
    w = _WORDS["zh" if lang == "zh" else "en"]
    if not entry or not entry.get("findings"):
        return [w["none"]]
    out = []
    for f in entry["findings"]:
        outcome = OUTCOME[lang].get(f["outcome"], f["outcome"])
        sev = SEVERITY[lang].get(f["severity"], f["severity"])
        where = f" [{f['element']}]" if f.get("element") else ""
        out.append(f"{f['rule']}{where} {outcome} {sev}{w['sep']}{f.get('message') or ''}")
    return out


def failure_text(r: TestResult, lang: str = "zh") -> str:
    """Why a test failed: the differences, then what the engine actually reported."""
    w = _WORDS["zh" if lang == "zh" else "en"]
    lines = list(r.diffs)
    if r.entry is not None:
        lines.append(w["outcome"].format(o=OUTCOME[lang].get(r.entry["outcome"], r.entry["outcome"])))
        lines.append(w["got"])
        lines.extend("  " + x for x in finding_lines(r.entry, lang))
    return "\n".join(lines)


def to_text(results: list[TestResult], lang: str = "zh", quiet: bool = False) -> str:
    out: list[str] = []
    for file, group in _by_file(results).items():
        failed = [r for r in group if not r.passed]
        if quiet and not failed:
            continue
        out.append(file)
        for r in group:
            if r.passed:
                if not quiet:
                    out.append(f"  ✓ {r.test.name}")
                continue
            out.append(f"  ✗ {r.test.name}  ({r.test.location})")
            for line in failure_text(r, lang).splitlines():
                out.append("      " + line)
    if out:
        out.append("")
    out.append(summary_line(results, lang))
    return "\n".join(out) + "\n"


def to_junit(results: list[TestResult], lang: str = "zh") -> str:
    """JUnit XML (the Ant/Surefire dialect Jenkins, GitLab and GitHub actions read)."""
    root = ET.Element("testsuites", name="qinqing rule tests", tests=str(len(results)),
                      failures=str(sum(1 for r in results if not r.passed)), errors="0", time="0")
    for file, group in _by_file(results).items():
        suite = ET.SubElement(root, "testsuite", name=file, tests=str(len(group)),
                              failures=str(sum(1 for r in group if not r.passed)), errors="0",
                              skipped="0", time="0")
        classname = file.removesuffix(".tests.yaml").replace("/", ".").replace("\\", ".").strip(".")
        for r in group:
            case = ET.SubElement(suite, "testcase", classname=classname, name=r.test.name,
                                 file=r.test.file, line=str(r.test.line), time="0")
            if not r.passed:
                first = r.diffs[0].splitlines()[0] if r.diffs else "failed"
                fail = ET.SubElement(case, "failure", message=first, type="RuleTestFailure")
                fail.text = f"{r.test.location}\n{failure_text(r, lang)}"
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


__all__ = ["failure_text", "finding_lines", "summary_line", "to_junit", "to_text"]
