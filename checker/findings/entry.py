"""A record's evaluation result → its JSON report entry (and, with --explain, every rule considered)."""

from __future__ import annotations

import re
from typing import Any

from checker.findings.labels import fact_key, fact_path, json_value
from checker.findings.render import Renderer
from policy_dsl.evaluate import RecordResult
from policy_dsl.explain import Explainer
from policy_dsl.ir import Calendar


def record_entry(item: Any, result: RecordResult, renderer: Renderer, explain: bool) -> dict:
    r = item.data
    params = result.params
    kind = r.get("record_kind")
    entry = {
        "id": r["id"],
        "outcome": result.outcome,
        "jurisdiction": r["jurisdiction"],
        "date": r["date"].isoformat(),
        "department": department_of(r),
        "source": {"file": item.source, "line": item.line, "location": item.location},
        "findings": [renderer.finding(r, f, params) for f in one_per_rule(result.findings)],
        "errors": [],
    }
    if kind not in (None, "interaction"):  # (an interaction's entry is as before record kinds)
        entry = {"id": entry["id"], "record_kind": kind, **{k: v for k, v in entry.items() if k != "id"}}
    if explain:
        entry["explanation"] = explanation(r, result, renderer)
    return entry


_WORST = {"violation": 0, "review": 1, "tolerated": 2, "compliant": 3}
_SEVERE = {"critical": 0, "high": 1, "medium": 2, "low": 3, None: 4}


def one_per_rule(findings: list) -> list:
    """One finding per rule and element: when several breached requires of a permit name the same
    boundary for one gift or meal (G1's three `else B4`), the worst outcome and then the highest
    severity stands, in the place of the first (the outcome of the record is the same)."""
    seen: dict[tuple, int] = {}
    out: list = []
    for f in findings:
        key = (f.rule_id, f.element, f.kind)
        i = seen.get(key)
        if i is None:
            seen[key] = len(out)
            out.append(f)
        elif (_WORST.get(f.outcome, 9), _SEVERE.get(f.severity, 4)) < \
                (_WORST.get(out[i].outcome, 9), _SEVERE.get(out[i].severity, 4)):
            out[i] = f
    return out


def department_of(r: dict) -> str | None:
    """What a report shows as the department: an interaction's official's, else `unit_of`."""
    if r.get("record_kind") in (None, "interaction"):
        return (r.get("official") or {}).get("department")
    return unit_of(r)


def unit_of(r: dict) -> str | None:
    """The unit a record of another kind is about, shown where an interaction shows the
    official's department: its `unit`, else a complaint's handling unit or subject unit."""
    for path in (("unit",), ("handling", "unit"), ("subject", "unit")):
        x: Any = r
        for part in path:
            x = x.get(part) if isinstance(x, dict) else None
        if isinstance(x, dict) and (x.get("name") or x.get("id")):
            return x.get("name") or x.get("id")
    return None


_STATUS = {True: "fired", False: "not_fired", None: "undecided"}
_REQUIRE = {True: "met", False: "breached", None: "undecided"}


def explanation(r: dict, result: RecordResult, renderer: Renderer) -> dict:
    """Every rule considered: fired / not fired / undecided, with the values compared."""
    ev, zh = renderer.ev, renderer.lang == "zh"
    reader = renderer.reader(renderer.labels.for_record(r))
    rules = []
    for e in result.trace or ():
        item: dict[str, Any] = {"rule": e.rule.id, "kind": e.rule.kind,
                                "title": e.rule.title[0 if zh else 1], "element": e.element,
                                "status": _STATUS[e.status]}
        shown: list[str] = []
        values = _trace_values(ev, r, e, result.params, shown, reader)
        if values:
            item["values"] = values
            item["facts"] = shown
        if e.rule.kind == "permit" and e.status is not None:
            item["status"] = "applies" if e.status else "does_not_apply"
        if e.requires:
            item["requires"] = [{"boundary": q.boundary, "status": _REQUIRE[s]} for q, s in e.requires]
        rules.append(item)
    for f in result.suppressed:
        rules.append({"rule": f.rule.id, "kind": f.kind, "status": "overridden",
                      "overridden_by": f.suppressed_by, "element": f.element})
    params = []
    for name, res in sorted(ev.params.resolve_all(r["jurisdiction"], r["date"]).items()):
        if res.value.__class__ is Calendar and name not in ev.params_read:
            continue  # a calendar no rule reads (a whole calendar is data, not a value)
        params.append({"name": name, "title": reader.title(f"param.{name}"),
                       "value": json_value(res.value), "shown": _param_shown(reader, ev, name, res.value),
                       "profile": res.profile, "from": res.start.isoformat(), "source": res.source,
                       "assumed": res.assumed})
    packs = [{"name": p.name, "version": p.version} for p in ev.program.packs]
    return {"rules": rules, "parameters": params, "packs": packs}


def _param_shown(reader: Any, ev: Any, name: str, value: Any) -> str:
    """A parameter's value as a reader sees it (money with two decimals, a duration in words,
    a calendar by the days it covers)."""
    if value.__class__ is Calendar:
        spans = value.spans
        if not spans:
            return "—"
        return f"{spans[0][0].isoformat()} – {spans[-1][1].isoformat()}"
    decl = ev.params.decls.get(name)
    return reader.value(value, decl.type if decl is not None else None)


def _trace_values(ev: Any, r: dict, e: Any, params: dict, shown: list | None = None,
                  reader: Any = None) -> dict:
    """The facts a rule compared, for one element: its own and its requires' evidence."""
    rule = e.rule
    if rule.window is not None:
        return {}  # the window itself is not kept for explanations
    bindings: dict = {}
    paths: dict = {}
    if rule.foreach is not None:
        if e.element is None:
            return {}
        var, coll = rule.foreach
        m = re.search(r"\[(\d+)\]$", e.element)
        items = Explainer(ev.closures, r, params, {}, {}).value(coll)
        if m is None or not isinstance(items, list) or int(m.group(1)) >= len(items):
            return {}
        bindings[var] = items[int(m.group(1))]
        paths[var] = e.element
    t = Explainer(ev.closures, r, params, bindings, paths)
    for w in rule.witnesses:
        t.witness(w)
    out: dict = {}
    for label, expr in (*rule.evidence, *(x for q in rule.requires for x in q.evidence)):
        path = fact_path(expr)
        key = fact_key(label, path, t.paths)
        if key in out:
            continue
        try:
            x = t.value(expr)
        except (KeyError, TypeError, AttributeError):
            continue
        if x is None and path is not None and path[0] is not None and path[0] not in t.paths:
            continue  # a fact of an element no quantifier chose (`p.type` of no matter)
        out[key] = json_value(x)
        if shown is not None and reader is not None:
            shown.append(reader.fact(key, x, expr))
    return out
