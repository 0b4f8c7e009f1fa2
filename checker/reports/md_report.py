"""Markdown: a heading, the summary, then one table row per finding (a record without
findings gets one row). Rows are spooled to a temporary file so that the summary, known
only at the end, can come first while memory stays flat."""

from __future__ import annotations

import tempfile
from typing import IO

from checker.reports.report import Report
from checker.reports.labels import OUTCOME, OUTCOME_ORDER, only_note, text_stream
from checker.reports.rows import HEADINGS, rows

MD_COLUMNS = ("record", "outcome", "date", "rule", "finding_outcome", "severity", "title",
              "message", "citation", "remedy", "suggestion", "missing", "errors")


def cell(value: str) -> str:
    """Table-safe text: pipes escaped, line breaks as <br>, HTML-ish characters escaped."""
    return (value.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;")
            .replace(">", "&gt;").replace("\r\n", "<br>").replace("\n", "<br>").replace("\r", "<br>"))


def write(report: Report, out: IO[bytes]) -> None:
    lang = report.lang
    zh = lang == "zh"
    h = HEADINGS[lang]
    only = report.listed()
    with tempfile.TemporaryFile("w+", encoding="utf-8", newline="\n") as spool:
        for entry in report.entries:
            if only is not None and entry["outcome"] not in only:
                continue
            for row in rows(entry, lang):
                spool.write("| " + " | ".join(cell(row[c]) for c in MD_COLUMNS) + " |\n")
        spool.seek(0)
        with text_stream(out) as s:
            s.write("# 亲清政商交往合规检查报告\n\n" if zh else "# Government–business interaction compliance report\n\n")
            summary = report.summary.to_dict()
            s.write("## 汇总\n\n| 结论 | 记录数 |\n|---|---:|\n" if zh else
                     "## Summary\n\n| Outcome | Records |\n|---|---:|\n")
            for o in OUTCOME_ORDER:
                s.write(f"| {OUTCOME[lang][o]} | {summary[o]} |\n")
            s.write(f"| **{'合计' if zh else 'Total'}** | **{summary['records']}** |\n\n")
            packs = ", ".join(f"{p['name']} {p['version']}".strip() for p in report.policy.get("packs", []))
            s.write(f"规则包：{cell(packs)}（内容哈希 `{report.policy.get('content_hash', '')[:16]}`）\n\n" if zh else
                     f"Policy packs: {cell(packs)} (content hash `{report.policy.get('content_hash', '')[:16]}`)\n\n")
            s.write("## 发现\n\n" if zh else "## Findings\n\n")
            if only is not None:
                s.write(cell(only_note(only, lang)) + "\n\n")
            s.write("| " + " | ".join(h[c] for c in MD_COLUMNS) + " |\n")
            s.write("|" + "---|" * len(MD_COLUMNS) + "\n")
            while True:
                block = spool.read(1 << 16)
                if not block:
                    break
                s.write(block)
