"""Coverage for readers: text (Chinese or English) and JSON (`qinqing test --coverage`)."""

from __future__ import annotations

from checker.authoring.coverage_model import _WHERE, Coverage, Site

# ---- presentation ----------------------------------------------------------------------------------
_TEXT = {
    "zh": {"head": "覆盖率（{n} 个测试）", "fired": "触发", "not_fired": "未触发", "review": "复核",
           "na": "不适用", "require": "要求", "met": "满足", "breached": "违反", "enum": "枚举",
           "threshold": "阈值", "below": "低于", "at": "等于", "above": "高于", "totals": "合计",
           "rules": "规则", "requires": "要求两种结果", "enum_values": "枚举值", "points": "阈值点",
           "missing": "未覆盖", "sep": "：", "seen": "另见"},
    "en": {"head": "Coverage ({n} tests)", "fired": "fired", "not_fired": "not fired", "review": "review",
           "na": "n/a", "require": "require", "met": "met", "breached": "breached", "enum": "enum",
           "threshold": "threshold", "below": "below", "at": "at", "above": "above", "totals": "Totals",
           "rules": "rules", "requires": "requires both ways", "enum_values": "enum values",
           "points": "threshold points", "missing": "not covered", "sep": ": ", "seen": "also seen"},
}


def to_text(cov: Coverage, lang: str = "zh") -> str:
    w = _TEXT["zh" if lang == "zh" else "en"]
    zh = lang == "zh"
    out = [w["head"].format(n=cov.tests)]

    def where(site: Site, rule_file: str) -> str:
        return f"{'line ' if not zh else '第'}{site.line}{'行' if zh else ''}" if site.file == rule_file \
            else site.location

    for rc in cov.rules:
        r = rc.rule
        mark = "✓" if rc.covered else "✗"
        review = f"{w['review']} {rc.review}" if rc.review_possible else f"{w['review']} {w['na']}"
        line = (f"{mark} {r.id} {r.title[0 if zh else 1]} ({r.span.file}:{r.span.line})  {w['fired']} {rc.fired} · "
                f"{w['not_fired']} {rc.not_fired} · {review}")
        if rc.missing:
            line += f"  （{w['missing']}{w['sep']}{'、'.join(w[m] for m in rc.missing)}）" if zh else \
                f"  ({w['missing']}: {', '.join(w[m] for m in rc.missing)})"
        out.append(line)
        for q in rc.requires:
            m = "✓" if q.covered else "✗"
            out.append(f"    {m} {w['require']} {q.index} ({where(q.site, r.span.file)}) {q.site.text}{w['sep']}"
                       f"{w['met']} {q.met} · {w['breached']} {q.breached}")
        for e in rc.enums:
            m = "✓" if not e.missed else "✗"
            vals = " · ".join(f"{v} {'✓' if v in e.hit else '✗'}" for v in e.values)
            out.append(f"    {m} {w['enum']} {e.site.text} ({where(e.site, r.span.file)}){w['sep']}{vals}")
        for t in rc.thresholds:
            m = "✓" if t.hit == 3 else "✗"
            pts = " · ".join(f"{w[k]} {w['na'] if k in t.impossible and not t.counts[k] else ('✓' if t.counts[k] else '✗')}"
                             for k in _WHERE)
            out.append(f"    {m} {w['threshold']} {t.site.text} ({where(t.site, r.span.file)}){w['sep']}{pts}")
    tot = cov.totals()
    out.append("")
    out.append(f"{w['totals']}{w['sep']}"
               f"{w['rules']} {tot['rules']['covered']}/{tot['rules']['total']} ({tot['rules']['percent']}%) · "
               f"{w['requires']} {tot['requires']['covered']}/{tot['requires']['total']} · "
               f"{w['enum_values']} {tot['enum_values']['covered']}/{tot['enum_values']['total']} "
               f"({tot['enum_values']['percent']}%) · "
               f"{w['points']} {tot['thresholds']['covered']}/{tot['thresholds']['total']} "
               f"({tot['thresholds']['percent']}%)")
    return "\n".join(out) + "\n"


def to_json(cov: Coverage) -> dict:
    rules = []
    for rc in cov.rules:
        r = rc.rule
        rules.append({
            "rule": r.id, "kind": r.kind, "pack": r.pack, "title": {"zh": r.title[0], "en": r.title[1]},
            "location": f"{r.span.file}:{r.span.line}", "covered": rc.covered,
            "fired": rc.fired, "not_fired": rc.not_fired, "review": rc.review,
            "review_possible": rc.review_possible, "missing": rc.missing,
            "tests": {k: sorted(v) for k, v in rc.tests.items()},
            "requires": [{"index": q.index, "boundary": q.boundary, "text": q.site.text,
                          "location": q.site.location, "met": q.met, "breached": q.breached,
                          "undecided": q.undecided, "covered": q.covered} for q in rc.requires],
            "enums": [{"expression": e.site.text, "location": e.site.location, "values": list(e.values),
                       "hit": [v for v in e.values if v in e.hit], "missed": e.missed,
                       "seen": sorted(e.seen)} for e in rc.enums],
            "thresholds": [{"comparison": t.site.text, "location": t.site.location, "fact": t.fact,
                            "threshold": t.limit, "values": sorted(t.limits), **t.counts,
                            "covered": t.hit == 3} for t in rc.thresholds],
        })
    return {"tests": cov.tests, "rules": rules, "totals": cov.totals(),
            "definition": "a rule is covered when tests saw it fire, not fire and go to review "
                          "(review only where the rule reads a fact that may be absent)"}
