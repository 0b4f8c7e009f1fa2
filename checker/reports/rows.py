"""One row per finding (a record without findings gets one row): the tabular formats' rows.

CSV, Markdown, HTML and XLSX share these columns, labelled in the report language.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from checker.reports.labels import OUTCOME, SEVERITY, finding_facts

COLUMNS = ("record", "outcome", "jurisdiction", "date", "department", "location", "rule",
           "finding_outcome", "severity", "title", "message", "evidence", "missing", "citation",
           "remedy", "suggestion", "errors")

HEADINGS = {
    "zh": {"record": "记录编号", "outcome": "记录结论", "jurisdiction": "行政区划", "date": "日期",
           "department": "部门", "location": "来源位置", "rule": "规则", "finding_outcome": "发现结论",
           "severity": "严重程度", "title": "事项", "message": "说明", "evidence": "触发事实",
           "missing": "待补充事实", "citation": "依据", "remedy": "建议", "suggestion": "如何合规",
           "errors": "错误"},
    "en": {"record": "Record", "outcome": "Record outcome", "jurisdiction": "Jurisdiction",
           "date": "Date", "department": "Department", "location": "Input location", "rule": "Rule",
           "finding_outcome": "Finding outcome", "severity": "Severity", "title": "Item",
           "message": "Message", "evidence": "Facts", "missing": "Missing facts",
           "citation": "Source", "remedy": "Advice", "suggestion": "To comply", "errors": "Errors"},
}


def text(value: Any) -> str:
    """A JSON value as a short cell text."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, list):
        return ", ".join(text(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}={text(v)}" for k, v in value.items())
    return str(value)


def errors_text(entry: dict) -> str:
    return "; ".join(f"{e['path']}: {e['message']}" for e in entry.get("errors") or ())


def rows(entry: dict, lang: str) -> Iterator[dict[str, str]]:
    """The rows of one record entry, keyed by COLUMNS, values as display text."""
    sep = "；" if lang == "zh" else "; "
    base = {
        "record": text(entry.get("id")) + (f" ({entry['record_kind']})" if entry.get("record_kind") else ""),
        "outcome": OUTCOME[lang].get(entry["outcome"], entry["outcome"]),
        "jurisdiction": text(entry.get("jurisdiction")),
        "date": text(entry.get("date")),
        "department": text(entry.get("department")),
        "location": text((entry.get("source") or {}).get("location")),
        "errors": errors_text(entry),
    }
    findings = entry.get("findings") or ()
    if not findings:
        yield {**{c: "" for c in COLUMNS}, **base}
        return
    for f in findings:
        sug = f.get("suggestion") or {}
        yield {
            **base,
            "rule": f["rule"],
            "finding_outcome": OUTCOME[lang].get(f["outcome"], f["outcome"]),
            "severity": SEVERITY[lang].get(f["severity"], f["severity"] or ""),
            "title": f["title"] or "",
            "message": f["message"] or "",
            "evidence": finding_facts(f, lang),
            "missing": sep.join(sug.get("questions") or f.get("missing") or ()),
            "citation": f.get("citation") or "",
            "remedy": f.get("remedy") or "",
            "suggestion": "" if sug.get("questions") else (sug.get("text") or ""),
        }
