"""The catalogue in force: the packs, rules and parameter values that apply to one
jurisdiction on one date (`GET /v1/rules`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from policy_dsl import ir
from policy_dsl.evaluate import covers_jurisdiction

from checker.engine.policy import Policy
from checker.findings.labels import json_value


def _day(d: dt.date | None) -> str | None:
    return d.isoformat() if d is not None else None


def _value(v: Any) -> Any:
    if isinstance(v, ir.Duration):
        return str(v)
    return json_value(v)


def catalogue(policy: Policy, code: str, day: dt.date) -> dict:
    ev = policy.evaluator
    packs, rules = [], []
    for pack in ev.program.packs:
        if not pack.in_force(day) or not covers_jurisdiction(pack.applies_to, code):
            continue
        active = [r for r in pack.rules if r.in_force(day)]
        packs.append({"name": pack.name, "title": {"zh": pack.title[0], "en": pack.title[1]},
                      "version": pack.version, "source": pack.source,
                      "applies_to": list(pack.applies_to) if pack.applies_to is not None else None,
                      "from": _day(pack.start), "until": _day(pack.until), "rules": len(active)})
        for r in active:
            rules.append({
                "id": r.id, "kind": r.kind, "pack": pack.name,
                "title": {"zh": r.title[0], "en": r.title[1]},
                "severity": r.severity, "outcome": r.outcome,
                "citation": r.cite, "basis": r.basis, "basis_refs": r.basis_refs,
                "from": _day(r.start), "until": _day(r.until),
                "cross_record": r.window is not None,
                "template": r.when is None and r.kind == "boundary",
                "overrides": list(r.overrides),
            })
    params = []
    for name, res in sorted(ev.params.resolve_all(code, day).items()):
        decl = ev.params.decls.get(name)
        params.append({
            "name": name,
            "title": {"zh": decl.title[0], "en": decl.title[1]} if decl else None,
            "unit": decl.unit if decl else None,
            "value": _value(res.value), "profile": res.profile, "from": res.start.isoformat(),
            "source": res.source, "assumed": res.assumed,
        })
    return {"jurisdiction": code, "date": day.isoformat(), "content_hash": policy.content_hash,
            "packs": packs, "rules": rules, "parameters": params}
