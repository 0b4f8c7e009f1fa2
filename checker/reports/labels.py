"""Words shared by the human-readable report formats, and small output helpers."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

OUTCOME = {
    "zh": {"violation": "违规", "review": "需复核", "tolerated": "容错免责", "compliant": "合规",
           "unlisted": "未列入清单", "invalid": "无效记录"},
    "en": {"violation": "violation", "review": "needs review", "tolerated": "tolerated",
           "compliant": "compliant", "unlisted": "unlisted", "invalid": "invalid record"},
}
SEVERITY = {
    "zh": {"critical": "严重", "high": "高", "medium": "中", "low": "低"},
    "en": {"critical": "critical", "high": "high", "medium": "medium", "low": "low"},
}
WORDS = {
    "zh": {"record": "记录", "outcome": "结论", "finding": "发现", "citation": "依据", "remedy": "建议",
           "evidence": "触发事实", "missing": "请补充以下事实", "change": "如何合规", "summary": "汇总",
           "records": "条记录", "errors": "错误", "severity": "严重程度", "rule": "规则",
           "policy": "规则包", "source": "来源",
           "invalid_hint": "记录格式有误，未作判断；请按下列提示修正后重新检查：",
           "unlisted_hint": "正负面清单均未涉及此事项（既不鼓励也不禁止）。"},
    "en": {"record": "Record", "outcome": "Outcome", "finding": "Finding", "citation": "Source",
           "remedy": "Advice", "evidence": "Facts", "missing": "Please provide these facts",
           "change": "To comply", "summary": "Summary", "records": "records", "errors": "Errors",
           "severity": "Severity", "rule": "Rule", "policy": "Policy", "source": "Input",
           "invalid_hint": "The record is malformed and was not assessed; fix the following and check again:",
           "unlisted_hint": "Neither list covers this interaction (neither encouraged nor forbidden)."},
}
OUTCOME_ORDER = ("violation", "review", "tolerated", "compliant", "unlisted", "invalid")


def summary_line(summary: dict, lang: str) -> str:
    """`4 条记录；违规 1，需复核 1，…` / `4 records; violation 1, needs review 1, …`."""
    names = {**OUTCOME[lang], "invalid": "invalid"} if lang == "en" else OUTCOME[lang]  # (not "invalid record 12")
    parts = [f"{names[k]} {summary[k]}" for k in OUTCOME_ORDER]
    if lang == "zh":
        return f"{summary['records']} {WORDS[lang]['records']}；" + "，".join(parts)
    records = WORDS[lang]["records"] if summary["records"] != 1 else "record"
    return f"{summary['records']} {records}; " + ", ".join(parts)


def only_note(only: frozenset[str], lang: str) -> str:
    """What a filtered view (`--only`) lists."""
    names = ("、" if lang == "zh" else ", ").join(OUTCOME[lang][o] for o in OUTCOME_ORDER if o in only)
    return f"仅列出：{names}（汇总计入全部记录）" if lang == "zh" else \
        f"Listed only: {names} (the summary counts every record)"


def element_label(element: str, lang: str) -> str:
    """The list element a finding is about, by its title: `meals[0]` → 用餐（meals[0]） / Meals (meals[0])."""
    from checker.findings.labels import bundled

    return bundled().field_label(element, lang)


def finding_facts(f: dict, lang: str) -> str:
    """A finding's facts for a reader: as its renderer wrote them (`facts`: titles, not
    expressions), else from its evidence."""
    shown = f.get("facts")
    if shown is not None:
        return ("；" if lang == "zh" else "; ").join(shown)
    return facts_text(f.get("evidence") or {}, lang)


def facts_text(evidence: dict, lang: str) -> str:
    """A finding's evidence for a reader (`FieldLabels.fact_text` of each fact)."""
    from checker.findings.labels import bundled

    fields = bundled()
    return ("；" if lang == "zh" else "; ").join(fields.fact_text(k, v, lang) for k, v in evidence.items())


@contextmanager
def text_stream(out: IO[bytes]) -> Iterator[IO[str]]:
    """UTF-8 text over a binary report stream, left open afterwards."""
    stream = io.TextIOWrapper(out, encoding="utf-8", newline="\n", write_through=False)
    try:
        yield stream
        stream.flush()
    finally:
        stream.detach()
