"""Analysis results as JSON-ready data and as text (Chinese or English)."""

from __future__ import annotations

import json
from pathlib import Path

from .results import Analysis, Issue

KIND_TITLE = {
    "conflict": ("冲突", "conflict"),
    "gap": ("遗漏", "gap"),
    "dead_rule": ("死规则", "dead rule"),
    "require_implied": ("多余的 require", "implied require"),
    "require_never_met": ("永不满足的 require", "require never met"),
}
ORDER = tuple(KIND_TITLE)


def method_text(a: Analysis, lang: str) -> str:
    if lang == "zh":
        return (f"方法：{a.solver} SMT 求解（枚举为有限域，金额/整数为线性算术，日期为日序数，未知值以“已知”标志编码；"
                f"列表至多 {a.list_bound} 个元素）；每个反例均经参考求值器确认后才报告。")
    return (f"method: {a.solver} SMT (finite enum domains, linear arithmetic over amounts and "
            f"integers, dates as day numbers, unknown encoded by 'known' flags; lists of at most "
            f"{a.list_bound} elements); every counterexample is confirmed by the reference "
            "evaluator before it is reported.")


def sorted_issues(a: Analysis) -> list[Issue]:
    return sorted(a.issues, key=lambda i: (ORDER.index(i.kind), i.rules, i.field_name or "", i.value or ""))


def to_data(a: Analysis, files: dict[str, str] | None = None) -> dict:
    files = files or {}
    return {
        "jurisdiction": a.jurisdiction,
        "date": a.day.isoformat(),
        "method": {"name": a.method, "solver": a.solver, "list_bound": a.list_bound,
                   "confirmed_by": "policy_dsl.evaluate.Evaluator",
                   "description": {"zh": method_text(a, "zh"), "en": method_text(a, "en")}},
        "packs": a.packs,
        "rules_in_force": a.rules,
        "gap_fields": list(a.gap_fields),
        "checked": a.checked,
        "counts": {k: sum(1 for i in a.issues if i.kind == k) for k in ORDER},
        "issues": [_issue(i, files.get(i.key)) for i in sorted_issues(a)],
        "undecided": [{"kind": u.kind, "subject": u.subject, "reason": {"zh": u.reason[0], "en": u.reason[1]}}
                      for u in a.undecided],
        "approximations": a.approximations,
    }


def _issue(i: Issue, file: str | None) -> dict:
    out = {
        "kind": i.kind,
        "severity": "warning",
        "rules": list(i.rules),
        "message": {"zh": i.message[0], "en": i.message[1]},
        "detail": [{"zh": zh, "en": en} for zh, en in i.detail],
    }
    if i.span is not None:
        out["location"] = {"file": i.span.file, "line": i.span.line, "column": i.span.column}
    if i.field_name:
        out["field"] = i.field_name
        out["value"] = i.value
    if i.bound:
        out["bound"] = i.bound
    if i.record is not None:
        out["counterexample"] = i.record
        out["expect"] = i.claim
        if file:
            out["counterexample_file"] = file
    return out


def render_text(a: Analysis, lang: str = "zh", files: dict[str, str] | None = None) -> str:
    files = files or {}
    zh = lang == "zh"
    lines = []
    head = (f"规则分析：行政区划 {a.jurisdiction}，日期 {a.day.isoformat()}，生效规则 {a.rules} 条"
            if zh else f"analysis: jurisdiction {a.jurisdiction}, date {a.day.isoformat()}, "
            f"{a.rules} rules in force")
    lines += [head, method_text(a, lang), ""]
    for i in sorted_issues(a):
        title = KIND_TITLE[i.kind][0 if zh else 1]
        loc = f"{i.span.file}:{i.span.line}: " if i.span is not None else ""
        lines.append(f"{loc}warning[{i.kind}] {title}: {i.message[0 if zh else 1]}")
        for d in i.detail:
            lines.append(f"  = {d[0 if zh else 1]}")
        if i.bound:
            lines.append(("  = 限制：" if zh else "  = bound: ") + i.bound)
        if i.record is not None:
            expect = ", ".join(f"{k}={v}" for k, v in sorted(i.claim.items()))
            if i.key in files:
                lines.append(f"  反例：{files[i.key]}（qinqing check 预期 {expect}）" if zh else
                              f"  counterexample: {files[i.key]} (qinqing check shows {expect})")
            else:
                lines.append(("  反例：" if zh else "  counterexample: ") +
                             json.dumps(i.record, ensure_ascii=False, sort_keys=True))
        lines.append("")
    if a.undecided:
        lines.append("未能判定：" if zh else "not decided:")
        for u in a.undecided:
            lines.append(f"  - [{u.kind}] {u.subject}: {u.reason[0 if zh else 1]}")
        lines.append("")
    if a.approximations:
        lines.append(("近似处理（仅影响反例搜索，已由求值器把关）：" if zh else
                      "approximated (affects the search only; the evaluator checks every record): ")
                     + "; ".join(a.approximations))
    counts = {k: sum(1 for i in a.issues if i.kind == k) for k in ORDER}
    c = a.checked
    if zh:
        lines.append(f"分析结果：冲突 {counts['conflict']}，遗漏 {counts['gap']}，死规则 {counts['dead_rule']}，"
                     f"多余 require {counts['require_implied']}，永不满足 require {counts['require_never_met']}，"
                     f"未判定 {len(a.undecided)}（检查了 {c['conflict_pairs']} 对正负面条目、{c['gap_values']} 个枚举值、"
                     f"{c['rules']} 条规则、{c['requires']} 个 require）")
    else:
        lines.append(f"analysis: {counts['conflict']} conflicts, {counts['gap']} gaps, "
                     f"{counts['dead_rule']} dead rules, {counts['require_implied']} implied requires, "
                     f"{counts['require_never_met']} requires never met, {len(a.undecided)} undecided "
                     f"(checked {c['conflict_pairs']} permit/forbid pairs, {c['gap_values']} enum values, "
                     f"{c['rules']} rules, {c['requires']} requires)")
    return "\n".join(lines) + "\n"


def write_counterexamples(a: Analysis, folder: Path) -> dict[str, str]:
    """One JSON record file per issue that has a counterexample; returns key → path."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for i in sorted_issues(a):
        if i.record is None:
            continue
        path = folder / f"{i.key}.json"
        path.write_text(json.dumps(i.record, ensure_ascii=False, indent=2, sort_keys=True) + "\n",
                        encoding="utf-8")
        out[i.key] = str(path)
    return out
