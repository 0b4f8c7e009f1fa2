"""Findings as data: the values a finding's texts are made of, and the texts made from them later.

`finding_values` computes, for one finding, what `render.Renderer.finding` would write, as
values instead of text: its rule, element, outcome and severity; its evidence, missing facts
and notes; each placeholder value of its message and remedy in both languages (exact, through
the tagged-JSON codec) and the parameters among them whose value is assumed; what depends on
the record's labels, in both languages: its facts as read, its questions, its suggestion. These are the rows of the findings
table (`--format parquet`).

`render_finding` turns such a row back into the report entry's finding, in one language,
from the policy's templates: the same bytes as rendering the finding directly, without the
record. With `detail="failing"`, a compliant finding is rendered as its rule and outcome only.
"""

from __future__ import annotations

from typing import Any

from checker.engine import tagged
from checker.findings import suggest
from checker.findings.entry import department_of, one_per_rule
from checker.findings.render import _CONFLICT_TEXT, _REVIEW_TEXT, _TOLERATED_TEXT, Renderer, _Text
from policy_dsl.backends.python import NOTES
from policy_dsl.evaluate import Finding
from policy_dsl.explain import note_texts
from policy_dsl.ir import Duration

LANGS = ("zh", "en")


def _dump(value: Any) -> str:
    """Tagged JSON (exact decimals, dates), durations as `{"$dur": [amount, unit]}`."""
    return tagged.dumps(_tag_durations(value)).decode()


def _load(text: str) -> Any:
    return _untag_durations(tagged.loads(text.encode()))


def _tag_durations(v: Any) -> Any:
    if isinstance(v, Duration):
        return {"$dur": [v.amount, v.unit]}
    if isinstance(v, list):
        return [_tag_durations(x) for x in v]
    if isinstance(v, dict):
        return {k: _tag_durations(x) for k, x in v.items()}
    return v


def _untag_durations(v: Any) -> Any:
    if isinstance(v, dict):
        if len(v) == 1 and "$dur" in v:
            amount, unit = v["$dur"]
            return Duration(amount, unit)
        return {k: _untag_durations(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_untag_durations(x) for x in v]
    return v


def _text_values(text: _Text | None, r: dict, p: dict, v: dict) -> list | None:
    if text is None:
        return None
    return [part[0](r, p, v) for part in text.parts if part.__class__ is not str]


def finding_values(renderers: dict[str, Renderer], r: dict, f: Finding, params: dict) -> dict:
    """The values of one finding's entry in both languages (`renderers`: by language)."""
    base = renderers["zh"]
    rule = f.rule
    wanted_missing = f.cond is not None and (f.outcome == "review" or f.tolerated_by is not None)
    ex = None
    if wanted_missing or (f.via or rule).witnesses or f.outcome in ("violation", "review"):
        ex = base.ev.explainer(r, f, params)
        v, paths = ex.v, ex.paths
    else:
        v, paths = dict(f.bindings), f.paths
        v[NOTES] = []
    missing = sorted(ex.missing(f.cond)) if ex is not None and wanted_missing else []  # type: ignore[arg-type]
    out: dict[str, Any] = {
        "rule": f.rule.id, "rule_id": f.rule_id, "kind": f.kind, "outcome": f.outcome, "severity": f.severity,
        "element": f.element, "via": f.via.id if f.via else None, "tolerated_by": f.tolerated_by,
        "missing": missing, "conflict": list(f.conflict) if f.conflict else None, "covered": list(f.covered),
    }
    stated: set[str] = set()  # the parameters stated in its texts
    for lang in LANGS:
        plan = renderers[lang].plan(rule)
        out[f"say_{lang}"] = _dump(_text_values(plan.say, r, params, v))
        out[f"remedy_{lang}"] = _dump(_text_values(plan.remedy, r, params, v))
        stated.update(part[4] for t in (plan.say, plan.remedy) if t is not None
                      for part in t.parts if part.__class__ is not str and part[4] is not None)
    out["assumed"] = sorted(name for name in stated if base.assumed(name, r))
    out["notes"] = ex.notes() if ex is not None else note_texts(v[NOTES])
    for lang in LANGS:  # what depends on the record's labels: the facts as read, the questions
        rd = renderers[lang]
        labels = rd.labels.for_record(r)
        reader = rd.reader(labels)
        shown: list[str] = []
        evidence = rd._facts(f).values(r, params, v, paths, shown, reader)
        if lang == "zh":
            out["evidence"] = _dump(evidence)
        out[f"facts_{lang}"] = shown
        out[f"questions_{lang}"] = [reader.question(m) for m in missing]
        sug = None
        if ex is not None and f.outcome in ("violation", "review"):
            sug = suggest.suggestion(f, ex, missing, lang, labels, reader)
        out[f"suggestion_{lang}"] = _dump(sug) if sug is not None else None
    return out


def render_finding(renderer: Renderer, row: dict, detail: str = "all") -> dict:
    """A findings-table row as the report entry's finding in the renderer's language."""
    lang, zh = renderer.lang, renderer.lang == "zh"
    rule = renderer.ev.by_id[row["rule"]].ir if row["rule"] in renderer.ev.by_id else None
    if rule is None:
        raise KeyError(row["rule"])
    if detail == "failing" and row["outcome"] == "compliant":  # nothing rendered: rule and outcome
        return {"rule": row["rule_id"], "kind": row["kind"], "outcome": row["outcome"], "severity": row["severity"],
                "title": "", "message": "", "citation": "", "basis": "", "remedy": None, "evidence": {},
                "missing": [], "element": row["element"], "via": row["via"], "tolerated_by": row["tolerated_by"],
                "notes": []}
    plan = renderer.plan(rule)
    missing = list(row["missing"] or [])
    stated_assumed = set(row["assumed"] or ())

    def assumed(name: str, _r: object) -> bool:
        return name in stated_assumed
    title = plan.title
    kind = row["kind"]
    if kind == "conflict":
        a, b = row["conflict"] or ("", "")
        message = _CONFLICT_TEXT[lang].format(a=a, b=b)
        title = "规则冲突" if zh else "Rule conflict"
    elif kind == "tolerance":
        message = _TOLERATED_TEXT[lang].format(rules=("、" if zh else ", ").join(row["covered"] or []))
    elif row["outcome"] == "review" and missing:
        message = _REVIEW_TEXT[lang].format(fields=("、" if zh else ", ").join(row[f"questions_{lang}"] or []))
    elif plan.say is not None:
        message = plan.say.compose(_load(row[f"say_{lang}"]) or [], assumed=assumed) or ""
    else:
        message = title
    remedy = None
    if plan.remedy is not None:
        remedy = plan.remedy.compose(_load(row[f"remedy_{lang}"]) or [], strict=True, assumed=assumed)
    out = {
        "rule": row["rule_id"],
        "kind": kind,
        "outcome": row["outcome"],
        "severity": row["severity"],
        "title": title,
        "message": message,
        "citation": plan.cite,
        "basis": plan.basis,
        "remedy": remedy,
        "evidence": _json_ready(_load(row["evidence"])),
        "facts": list(row[f"facts_{lang}"] or []),
        "missing": missing,
        "element": row["element"],
        "via": row["via"],
        "tolerated_by": row["tolerated_by"],
        "notes": list(row["notes"] or []),
    }
    sug = row.get(f"suggestion_{lang}")
    if sug is not None:
        out["suggestion"] = _load(sug)
    return out


def _json_ready(evidence: dict) -> dict:
    """Evidence as the report holds it (`labels.json_value` of each value, as at check time)."""
    from checker.findings.labels import json_value
    return {k: x if x is None or x.__class__ in (str, int, bool, float) else json_value(x) for k, x in evidence.items()}


def record_values(item: Any, outcome: str, findings: list, params: dict, renderers: dict[str, Renderer],
                  versions: dict) -> dict:
    """A valid record's row of the records table and its findings' rows (`findings`: `Finding`s)."""
    r = item.data
    kind = r.get("record_kind")
    return {
        "id": r["id"],
        "record_kind": kind,
        "outcome": outcome,
        "jurisdiction": r["jurisdiction"],
        "date": r["date"].isoformat(),
        "department": department_of(r),
        "source": {"file": item.source, "line": item.line, "location": item.location},
        "errors": [],
        "params": versions,
        "findings": [finding_values(renderers, r, f, params) for f in one_per_rule(findings)],
    }


def parameter_versions(ev: Any, code: str, day: Any) -> dict:
    """The parameter versions in force for a record: name → `profile@from`."""
    return {name: f"{res.profile}@{res.start.isoformat()}"
            for name, res in sorted(ev.params.resolve_all(code, day).items())}
