"""Words shared by the human-readable report formats."""

from __future__ import annotations

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
           "evidence": "事实", "missing": "请补充", "change": "如何合规", "summary": "汇总",
           "records": "记录数", "errors": "错误", "severity": "严重程度", "rule": "规则",
           "policy": "规则包", "source": "来源"},
    "en": {"record": "Record", "outcome": "Outcome", "finding": "Finding", "citation": "Source",
           "remedy": "Advice", "evidence": "Facts", "missing": "Please provide", "change": "To comply",
           "summary": "Summary", "records": "records", "errors": "Errors", "severity": "Severity",
           "rule": "Rule", "policy": "Policy", "source": "Input"},
}
