"""A finding → its report entry: title, message, remedy, evidence, missing facts, suggestion, notes.

One path for every finding. What a rule's findings say in one language is worked out once
(`_RulePlan`: static texts, each placeholder and fact as its compiled closure); per finding only
the values are computed, by the same closures that decided it. The missing facts of a review,
the witnesses of a top-level `some` and the suggestions use an `Explainer`
(`policy_dsl/explain.py`), made only for the findings that need one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from checker.findings import suggest
from checker.findings.labels import FactReader, FieldLabels, fact_path, json_value
from policy_dsl import ir
from policy_dsl.backends.python import NOTES
from policy_dsl.evaluate import Evaluator, Finding
from policy_dsl.explain import Explainer, enum_labels, note_texts
from policy_dsl.values import format_money, format_value

_REVIEW_TEXT = {
    "zh": "无法判断，需要复核：缺少{fields}",
    "en": "Cannot decide; needs review: missing {fields}",
}
_CONFLICT_TEXT = {
    "zh": "{a} 认定合规，而 {b} 认定违规，二者未声明优先关系（规则冲突，需人工判断）",
    "en": "{a} finds this compliant while {b} forbids it, and neither declares priority "
          "(a rule conflict: needs a human decision)",
}
_TOLERATED_TEXT = {
    "zh": "已事前备案容错，以下问题按容错处理：{rules}",
    "en": "Covered by a pre-registered fault-tolerance filing: {rules}",
}
_PLAIN = frozenset({str, int, bool, float, type(None)})

Closure = Callable[[dict, dict, dict], Any]


class _Text:
    """A message in one language: its literal pieces and, for each placeholder, its closure and
    what its enum values read as."""

    __slots__ = ("lang", "parts", "static")

    def __init__(self, msg: ir.Message, lang: str, closures: Callable[[ir.Expr], Closure]):
        self.lang = lang
        parts: list = []
        for part in msg.parts:
            if isinstance(part, str):
                if parts and isinstance(parts[-1], str):
                    parts[-1] += part
                else:
                    parts.append(part)
            else:
                labels = enum_labels(part.type)
                names = {k: x.get(lang) or k for k, x in labels.items()} if labels else None
                param = part.name if isinstance(part, ir.ParamRef) else None
                parts.append((closures(part), names, labels, part.type.kind == "money", param))
        self.parts = tuple(parts)
        self.static = "".join(parts) if all(isinstance(p, str) for p in parts) else None

    def render(self, r: dict, p: dict, v: dict, strict: bool = False,
               assumed: Callable[[str, dict], bool] | None = None) -> str | None:
        """The text; with `strict`, None when a placeholder is unknown. A parameter whose value
        in force is assumed (`assumed(name, record)`) says so where it is stated, after the
        unit that follows it (`60元/人（假定值，待核实本地标准）`)."""
        if self.static is not None:
            return self.static
        values = [part[0](r, p, v) for part in self.parts if part.__class__ is not str]
        return self.compose(values, strict, assumed, r)

    def compose(self, values: list, strict: bool = False,
                assumed: Callable[[str, dict], bool] | None = None, r: dict | None = None) -> str | None:
        """The text from its placeholders' values (in order), as `render` words it."""
        if self.static is not None:
            return self.static
        out = []
        pending = None  # an assumed parameter's note, put after its unit
        vals = iter(values)
        for part in self.parts:
            if part.__class__ is str:
                if pending is not None:
                    part = _after_unit(part, pending)
                    pending = None
                out.append(part)
                continue
            _, names, labels, money, param = part
            value = next(vals, None)
            if value is None and strict:
                return None
            if names is not None and value.__class__ is str:
                out.append(names.get(value, value))
            elif money:
                out.append(format_money(value, self.lang))
            else:
                out.append(format_value(value, labels, self.lang))
            if param is not None and assumed is not None and assumed(param, r):
                if pending is not None:
                    out.append(pending)
                pending = _ASSUMED[self.lang]
        if pending is not None:
            out.append(pending)
        return "".join(out)


_ASSUMED = {"zh": "（假定值，待核实本地标准）", "en": " (assumed; verify the local standard)"}
_UNIT = re.compile(r"^(?:元/人|元|天|人|次|个月|%| ?CNY(?: per person)?| ?days?| ?months?)")


def _after_unit(text: str, note: str) -> str:
    """`note` put after the unit that opens `text` (`元/人，…` → `元/人（…），…`)."""
    m = _UNIT.match(text)
    end = m.end() if m else 0
    return text[:end] + note + text[end:]


class _Facts:
    """A finding's evidence: for each fact its key (or how to make it from the element's path)
    and its closure."""

    __slots__ = ("exprs", "items")

    def __init__(self, evidence: tuple[tuple[str, ir.Expr], ...], closures: Callable[[ir.Expr], Closure]):
        self.exprs = tuple(e for _, e in evidence)
        items = []
        for label, e in evidence:
            var, rest = fact_path(e) or (None, label)
            # an unbound variable falls back to the label; a record field is its own path
            items.append((label if var is not None else rest, closures(e), var, rest))
        self.items = tuple(items)

    def values(self, r: dict, p: dict, v: dict, paths: dict, shown: list | None = None,
               reader: FactReader | None = None) -> dict:
        """The facts as JSON values by key; with `shown`, each also as text for a reader."""
        out = {}
        for i, (key, fn, var, rest) in enumerate(self.items):
            unbound = False
            if var is not None:
                base = paths.get(var)
                if base is not None:
                    key = base + rest
                else:
                    unbound = True
            try:
                x = fn(r, p, v)
            except (KeyError, TypeError):
                continue
            if unbound and x is None:
                continue  # a fact of an element no quantifier chose (`p.type` of no matter)
            if key in out:
                continue
            out[key] = x if x.__class__ in _PLAIN and x.__class__ is not int else json_value(x)
            if shown is not None and reader is not None:
                shown.append(reader.fact(key, x, self.exprs[i]))
        return out


class _RulePlan:
    __slots__ = ("basis", "cite", "facts", "remedy", "say", "title")

    def __init__(self, rule: ir.RuleIR, lang: str, closures: Callable[[ir.Expr], Closure]):
        zh = lang == "zh"
        self.title = rule.title[0 if zh else 1]
        self.cite, self.basis = rule.cite, rule.basis
        self.say = _Text(rule.say.zh if zh else rule.say.en, lang, closures) if rule.say else None
        self.remedy = _Text(rule.remedy.zh if zh else rule.remedy.en, lang, closures) if rule.remedy else None
        self.facts = _Facts(rule.evidence, closures)  # a rule's own (a permit's: not a `require`'s)


class Renderer:
    """Report findings of one evaluator's program in one language (plans kept per rule)."""

    def __init__(self, ev: Evaluator, lang: str, labels: FieldLabels):
        self.ev = ev
        self.lang = lang
        self.labels = labels
        self._plans: dict[str, _RulePlan] = {}
        self._require_facts: dict[tuple[str, int], _Facts] = {}
        self._assumed_at: dict[tuple[str, str, Any], bool] = {}
        self._readers: dict[int, FactReader] = {}

    def reader(self, labels: FieldLabels) -> FactReader:
        """How facts read (titles of fields, derived values and parameters) for one record kind."""
        hit = self._readers.get(id(labels))
        if hit is None:
            hit = self._readers[id(labels)] = FactReader(labels, self.lang, self.ev.program.define_titles(),
                                                         self.ev.params.decls)
        return hit

    def assumed(self, name: str, r: dict) -> bool:
        """Whether the value of parameter `name` in force for the record is assumed."""
        key = (name, r.get("jurisdiction"), r.get("date"))
        hit = self._assumed_at.get(key)
        if hit is None:
            res = self.ev.params.resolve(name, r.get("jurisdiction"), r.get("date"))
            hit = self._assumed_at[key] = bool(res is not None and res.assumed)
        return hit

    def plan(self, rule: ir.RuleIR) -> _RulePlan:
        hit = self._plans.get(rule.id)
        if hit is None:
            hit = self._plans[rule.id] = _RulePlan(rule, self.lang, self.ev.closures)
        return hit

    def _facts(self, f: Finding) -> _Facts:
        if f.require is None:
            return self.plan(f.via or f.rule).facts
        key = ((f.via or f.rule).id, id(f.require))
        hit = self._require_facts.get(key)
        if hit is None:  # (the rule holds its requires: the id stays theirs)
            hit = self._require_facts[key] = _Facts(f.require.evidence, self.ev.closures)
        return hit

    def finding(self, r: dict, f: Finding, params: dict) -> dict:
        lang, zh = self.lang, self.lang == "zh"
        labels = self.labels.for_record(r)
        rule = f.rule
        plan = self.plan(rule)
        wanted_missing = f.cond is not None and (f.outcome == "review" or f.tolerated_by is not None)
        ex: Explainer | None = None
        if wanted_missing or (f.via or rule).witnesses or f.outcome in ("violation", "review"):
            ex = self.ev.explainer(r, f, params)
            v, paths = ex.v, ex.paths
        else:
            v, paths = dict(f.bindings), f.paths
            v[NOTES] = []
        missing = sorted(ex.missing(f.cond)) if ex is not None and wanted_missing else []  # type: ignore[arg-type]
        title = plan.title
        if f.kind == "conflict":
            a, b = f.conflict or ("", "")
            message = _CONFLICT_TEXT[lang].format(a=a, b=b)
            title = "规则冲突" if zh else "Rule conflict"
        elif f.kind == "tolerance":
            message = _TOLERATED_TEXT[lang].format(rules=("、" if zh else ", ").join(f.covered))
        elif f.outcome == "review" and missing:
            fields = ("、" if zh else ", ").join(self.reader(labels).question(m) for m in missing)
            message = _REVIEW_TEXT[lang].format(fields=fields)
        elif plan.say is not None:
            message = plan.say.render(r, params, v, assumed=self.assumed) or ""
        else:
            message = title
        remedy = plan.remedy.render(r, params, v, strict=True, assumed=self.assumed) \
            if plan.remedy is not None else None
        reader = self.reader(labels)
        shown: list[str] = []
        evidence = self._facts(f).values(r, params, v, paths, shown, reader)
        out = {
            "rule": f.rule_id,
            "kind": f.kind,
            "outcome": f.outcome,
            "severity": f.severity,
            "title": title,
            "message": message,
            "citation": plan.cite,
            "basis": plan.basis,
            "remedy": remedy,
            "evidence": evidence,
            "facts": shown,
            "missing": missing,
            "element": f.element,
            "via": f.via.id if f.via else None,
            "tolerated_by": f.tolerated_by,
            "notes": ex.notes() if ex is not None else note_texts(v[NOTES]),
        }
        if ex is not None and f.outcome in ("violation", "review"):
            out["suggestion"] = suggest.suggestion(f, ex, missing, lang, labels, reader)
        return out
