"""A record's evaluation result → its JSON report entry (findings with text, evidence, missing facts)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from functools import lru_cache
from typing import Any

from policy_dsl import ir
from policy_dsl import types as ty
from policy_dsl.backends.python import compile_expr
from policy_dsl.evaluate import Evaluator, Finding, RecordResult
from policy_dsl.explain import NONE, Tracer, enum_labels
from policy_dsl.values import format_value

from checker.findings import suggest as _suggest  # it imports this module too: names are looked up when called

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


def json_value(value: Any) -> Any:
    """Evidence values as JSON: exact decimals as strings, dates ISO."""
    if value.__class__ in _PLAIN:
        return value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: json_value(v) for k, v in value.items()}
    return value


def record_entry(item: Any, result: RecordResult, ev: Evaluator, lang: str, explain: bool) -> dict:
    r = item.data
    params = result.params
    findings = []
    for f in result.findings:
        if f.outcome == "compliant" and f.kind == "permit" and FAST_COMPLIANT and not f.rule.witnesses:
            findings.append(_compliant_finding(r, f, params, lang))  # most findings
        else:
            findings.append(finding_dict(r, f, result, ev, lang))
    entry = {
        "id": r["id"],
        "outcome": result.outcome,
        "jurisdiction": r["jurisdiction"],
        "date": r["date"].isoformat(),
        "department": (r.get("official") or {}).get("department"),
        "source": {"file": item.source, "line": item.line, "location": item.location},
        "findings": findings,
        "errors": [],
    }
    if explain:
        entry["explanation"] = explanation(r, result, ev, lang)
    return entry


def finding_dict(r: dict, f: Finding, result: RecordResult, ev: Evaluator, lang: str) -> dict:
    if FAST_COMPLIANT and f.kind == "permit" and f.outcome == "compliant" and not f.rule.witnesses:
        return _compliant_finding(r, f, result.params, lang)
    zh = lang == "zh"
    rule = f.rule
    tracer = _tracer(r, f, result.params) if FAST_TRACER else ev.tracer(r, f, result.params)
    missing: list[str] = []
    if f.outcome == "review" and f.cond is not None or f.tolerated_by and f.cond is not None:
        missing = sorted(tracer.eval(f.cond)[1])
    title = rule.title[0 if zh else 1]
    if f.kind == "conflict":
        a, b = f.conflict or ("", "")
        message = _CONFLICT_TEXT[lang].format(a=a, b=b)
        title = "规则冲突" if zh else "Rule conflict"
    elif f.kind == "tolerance":
        message = _TOLERATED_TEXT[lang].format(rules="、".join(f.covered) if zh else ", ".join(f.covered))
    elif f.outcome == "review" and missing:
        fields = "、".join(field_label(m, lang) for m in missing) if zh else \
            ", ".join(field_label(m, lang) for m in missing)
        message = _REVIEW_TEXT[lang].format(fields=fields)
    elif rule.say is not None:
        message = _traced_text(rule.say.zh if zh else rule.say.en, tracer, lang) or ""
    else:
        message = title
    remedy = None
    if rule.remedy is not None:  # not when it would say "unknown" (a review)
        remedy = _traced_text(rule.remedy.zh if zh else rule.remedy.en, tracer, lang, strict=True)
    evidence = {}
    for label, expr in f.evidence:
        try:
            evidence[fact_key(label, _fact_path(expr), tracer.paths)] = json_value(tracer.value(expr))
        except (KeyError, TypeError):
            continue
    out = {
        "rule": f.rule_id,
        "kind": f.kind,
        "outcome": f.outcome,
        "severity": f.severity,
        "title": title,
        "message": message,
        "citation": rule.cite,
        "basis": rule.basis,
        "remedy": remedy,
        "evidence": evidence,
        "missing": missing,
        "element": f.element,
        "via": f.via.id if f.via else None,
        "tolerated_by": f.tolerated_by,
        "notes": list(tracer.notes),
    }
    if f.outcome in ("violation", "review"):
        out["suggestion"] = _suggest.suggestion(f, tracer, missing, lang)
    return out


# ---- the fast path for compliant findings (most findings of a batch) ------------------------
FAST_COMPLIANT = True  # tests switch it off to compare with the tracing path
FAST_TRACER = True  # likewise: the tracer that takes known values from the compiled closures
_COMPILED: dict[int, tuple[Any, Any]] = {}


def _compiled(expr: ir.Expr):
    """The closure of the fast backend for an expression (kept with it, so ids stay unique)."""
    hit = _COMPILED.get(id(expr))
    if hit is None or hit[0] is not expr:
        if len(_COMPILED) > 100_000:
            _COMPILED.clear()
        hit = _COMPILED[id(expr)] = (expr, compile_expr(expr))
    return hit[1]


class _CompliantPlan:
    """What a compliant finding of one rule says in one language, worked out once: the finding
    with its static parts filled in, and each placeholder and fact as a compiled closure."""

    __slots__ = ("evidence", "message", "remedy", "template")

    def __init__(self, rule: ir.RuleIR, lang: str):
        zh = lang == "zh"
        self.evidence = _evidence_fns(rule.evidence)  # a permit's own (not a `require`'s)
        title = rule.title[0 if zh else 1]
        message = _parts(rule.say.zh if zh else rule.say.en, lang) if rule.say else title
        remedy = _parts(rule.remedy.zh if zh else rule.remedy.en, lang) if rule.remedy else None
        self.message = None if isinstance(message, str) else _filler(message, lang)
        self.remedy = None if remedy is None or isinstance(remedy, str) else remedy
        self.template: dict[str, Any] = {  # in report order; None: each finding fills it in
            "rule": rule.id, "kind": "permit", "outcome": "compliant", "severity": None,
            "title": title, "message": message if isinstance(message, str) else None,
            "citation": rule.cite, "basis": rule.basis,
            "remedy": remedy if remedy is None or isinstance(remedy, str) else None,
            "evidence": None, "missing": None, "element": None, "via": None,
            "tolerated_by": None, "notes": None,
        }


def _filler(parts: tuple, lang: str) -> Callable[[dict, dict, dict], str]:
    """`_fill(parts, …)` as one function; a message with one placeholder (most) without the loop."""
    holes = [i for i, part in enumerate(parts) if not isinstance(part, str)]
    if len(holes) != 1:
        return lambda r, p, v: _fill(parts, r, p, v, lang)
    i = holes[0]
    pre, post = "".join(parts[:i]), "".join(parts[i + 1:])
    fn, names, labels = parts[i]
    if names is None:
        return lambda r, p, v: pre + format_value(fn(r, p, v), labels, lang) + post

    def fill(r: dict, p: dict, v: dict) -> str:
        x = fn(r, p, v)
        if x.__class__ is str:
            return pre + names.get(x, x) + post
        return pre + format_value(x, labels, lang) + post
    return fill


_PLANS: dict[tuple[int, str], tuple[ir.RuleIR, _CompliantPlan]] = {}
_EVIDENCE: dict[int, tuple[Any, tuple]] = {}


def _plan(rule: ir.RuleIR, lang: str) -> _CompliantPlan:
    hit = _PLANS.get((id(rule), lang))
    if hit is None or hit[0] is not rule:
        if len(_PLANS) > 10_000:
            _PLANS.clear()
        hit = _PLANS[(id(rule), lang)] = (rule, _CompliantPlan(rule, lang))
    return hit[1]


def _evidence_fns(evidence: tuple) -> tuple:
    """`((label, expr), …)` → `((key, closure, var, rest), …)`, per evidence tuple: the fact's
    key is `paths[var] + rest` when `var` is bound, else `key` (`fact_key`, worked out once)."""
    hit = _EVIDENCE.get(id(evidence))
    if hit is None or hit[0] is not evidence:
        if len(_EVIDENCE) > 10_000:
            _EVIDENCE.clear()
        fns = []
        for label, e in evidence:
            var, rest = _fact_path(e) or (None, label)
            # an unbound variable falls back to the label; a record field is its own path
            fns.append((label if var is not None else rest, _compiled(e), var, rest))
        hit = _EVIDENCE[id(evidence)] = (evidence, tuple(fns))
    return hit[1]


def _fact_path(e: ir.Expr) -> tuple[str | None, str] | None:
    """A fact read by plain field accesses, as (its variable, or None for the record itself;
    the fields after it, `.payer` or `interaction.kind`); None for any other fact."""
    names: list[str] = []
    while isinstance(e, ir.Field):
        names.append(e.name)
        if e.base is None:
            return None, ".".join(reversed(names))
        e = e.base
    if isinstance(e, ir.Var) and names:
        return e.name, "." + ".".join(reversed(names))
    return None


def fact_key(label: str, path: tuple[str | None, str] | None, paths: dict) -> str:
    """The key of a fact in a finding's evidence: the record field's concrete path when the fact
    is one (`meals[0].payer` for `m.payer`, like the paths of missing facts), else its source text."""
    if path is None:
        return label
    var, rest = path
    if var is None:
        return rest
    base = paths.get(var)
    return label if base is None else base + rest


_MESSAGES: dict[tuple[int, str], tuple[ir.Message, str | tuple, tuple | None, Any]] = {}


def _parts(msg: ir.Message, lang: str) -> str | tuple:
    """A message as its text when it has no placeholders, else as literal strings and
    `(closure, {enum value: its label}, enum labels)` triples (adjacent literals joined)."""
    return _message(msg, lang)[1]


def _message(msg: ir.Message, lang: str) -> tuple[ir.Message, str | tuple, tuple | None, Any]:
    """(msg, `_parts(msg, lang)`, the divisors of its placeholders (None when one divides
    inside a comprehension), `_filler` of the parts), once per message and language."""
    hit = _MESSAGES.get((id(msg), lang))
    if hit is None or hit[0] is not msg:
        if len(_MESSAGES) > 10_000:
            _MESSAGES.clear()
        out: list = []
        guards: tuple | None = ()
        for part in msg.parts:
            if isinstance(part, str):
                if out and isinstance(out[-1], str):
                    out[-1] += part
                else:
                    out.append(part)
            else:
                labels = enum_labels(part.type)
                out.append((_compiled(part), _names(labels, lang), labels))
                _, fn, divisors = _traced(part)
                guards = None if fn is None or guards is None else guards + divisors
        parts: str | tuple = "".join(out) if all(isinstance(p, str) for p in out) else tuple(out)
        fill = None if isinstance(parts, str) else _filler(parts, lang)
        hit = _MESSAGES[(id(msg), lang)] = (msg, parts, guards, fill)
    return hit


def _names(labels: dict | None, lang: str) -> dict | None:
    """What `format_value` makes of each enum value (a string): its label, else itself."""
    return {k: x.get(lang) or k for k, x in labels.items()} if labels else None


def _traced_text(msg: ir.Message, tracer: Tracer, lang: str, strict: bool = False) -> str | None:
    """`tracer.render(msg)`; with `strict`, None when a placeholder is unknown. The fast tracer
    fills the placeholders once from the compiled closures unless one may divide by zero (the
    tracer notes a division by zero each time it evaluates one)."""
    _, parts, guards, fill = _message(msg, lang)
    if guards is None or not isinstance(tracer, FastTracer) or \
            guards and _unsafe(guards, tracer.r, tracer.p, tracer.v):
        if strict and not all(isinstance(p, str) or tracer.value(p) is not None for p in msg.parts):
            return None
        return tracer.render(msg, lang)
    if isinstance(parts, str):
        return parts
    if strict:
        return _fill_strict(parts, tracer.r, tracer.p, tracer.v, lang)
    return fill(tracer.r, tracer.p, tracer.v)


def _compliant_finding(r: dict, f: Finding, params: dict, lang: str) -> dict:
    """A compliant permit's finding: its message and facts computed by the compiled closures
    (nothing is missing, so the tracing evaluator has nothing to explain)."""
    plan = _plan(f.rule, lang)
    v = f.bindings
    out = plan.template.copy()
    if f.conflict is not None:
        out["rule"] = f.rule_id
    out["severity"] = f.severity
    if plan.message is not None:
        out["message"] = plan.message(r, params, v)
    if plan.remedy is not None:
        out["remedy"] = _fill_strict(plan.remedy, r, params, v, lang)
    evidence = {}
    paths = f.paths
    for key, fn, var, rest in plan.evidence if f.require is None and f.via is None else _evidence_fns(f.evidence):
        if var is not None:
            base = paths.get(var)
            if base is not None:
                key = base + rest
        try:
            x = fn(r, params, v)
            evidence[key] = x if x.__class__ in _PLAIN else json_value(x)
        except (KeyError, TypeError):
            continue
    out["evidence"] = evidence
    out["missing"] = []
    scope = f.scope
    if scope:
        out["element"] = f"{scope[0]}[{scope[1]}]"
    out["notes"] = []
    return out


def _fill(parts: tuple, r: dict, params: dict, v: dict, lang: str) -> str:
    """Message text from `_parts`."""
    out = []
    for part in parts:
        if part.__class__ is str:
            out.append(part)
            continue
        fn, names, labels = part
        value = fn(r, params, v)
        if names is not None and value.__class__ is str:
            out.append(names.get(value, value))
        else:
            out.append(format_value(value, labels, lang))
    return "".join(out)


def _fill_strict(parts: tuple, r: dict, params: dict, v: dict, lang: str) -> str | None:
    """Message text from `_parts`, or None when a placeholder is unknown."""
    out = []
    for part in parts:
        if part.__class__ is str:
            out.append(part)
            continue
        fn, names, labels = part
        value = fn(r, params, v)
        if value is None:
            return None
        if names is not None and value.__class__ is str:
            out.append(names.get(value, value))
        else:
            out.append(format_value(value, labels, lang))
    return "".join(out)


def _render(msg: ir.Message, r: dict, params: dict, v: dict, lang: str, strict: bool = False
            ) -> str | None:
    """Message text; with `strict`, None when a placeholder is unknown."""
    parts = _parts(msg, lang)
    if isinstance(parts, str):
        return parts
    return _fill_strict(parts, r, params, v, lang) if strict else _fill(parts, r, params, v, lang)


def _value(expr: ir.Expr, r: dict, params: dict, v: dict) -> Any:
    return _compiled(expr)(r, params, v)


# ---- the tracer for the other findings -------------------------------------------------------
# The tracer notes each division by zero it evaluates, so a closure may stand in for it on an
# expression that divides only when no divisor is zero: each expression comes with the closures
# of its divisors (its guards), or none at all (always traced) when a division is inside a
# comprehension, where the divisor depends on the element.
_TRACED: dict[int, tuple[Any, Any, tuple]] = {}
_DIVIDES = ("/", "%")


def _traced(expr: ir.Expr) -> tuple[Any, Any, tuple]:
    """(expr, its closure or None, the closures of its divisors), once per expression."""
    hit = _TRACED.get(id(expr))
    if hit is None or hit[0] is not expr:
        if len(_TRACED) > 100_000:
            _TRACED.clear()
        divisors: list[ir.Expr] = []
        ok = _divisors(expr, divisors)
        hit = _TRACED[id(expr)] = (expr, _compiled(expr) if ok else None,
                                   tuple(_compiled(d) for d in divisors))
    return hit


def _divisors(e: ir.Expr, out: list) -> bool:
    """Collect the divisors of `e` evaluated with its own bindings; False when a division is
    inside a comprehension (`some`, `all`, `sum`, `count` …)."""
    if isinstance(e, ir.Arith) and e.op in _DIVIDES:
        out.append(e.right)
    if isinstance(e, (ir.Quant, ir.Agg)):
        inner = (e.body,) if isinstance(e, ir.Quant) else (e.where, e.value)
        if any(x is not None and _divides(x) for x in inner):
            return False
        return _divisors(e.coll, out)
    return all(_divisors(c, out) for c in ir.children(e))


def _divides(e: ir.Expr) -> bool:
    return any(isinstance(n, ir.Arith) and n.op in _DIVIDES for n in ir.walk(e))


def _unsafe(guards: tuple, r: dict, p: dict, v: dict) -> bool:
    """Whether a divisor is zero here (the tracer would note it), or cannot be told."""
    for g in guards:
        try:
            b = g(r, p, v)
        except Exception:  # noqa: BLE001 - the tracer will say what it says
            return True
        if b is not None and b == 0:
            return True
    return False


class FastTracer(Tracer):
    """The tracing evaluator, with every value it can take from the compiled closures taken
    from them: a known value has no missing facts, so only the unknown parts of an expression
    (and divisions by zero, for their notes) are traced. Same values, missing facts and notes
    as `Tracer`."""

    def eval(self, e: ir.Expr) -> tuple[Any, frozenset[str]]:
        hit = _TRACED.get(id(e))
        if hit is None or hit[0] is not e:
            hit = _traced(e)
        fn = hit[1]
        if fn is not None and not (hit[2] and _unsafe(hit[2], self.r, self.p, self.v)):
            x = fn(self.r, self.p, self.v)
            if x is not None:
                return x, NONE
        return getattr(self, "_" + type(e).__name__)(e)

    def value(self, e: ir.Expr) -> Any:
        hit = _TRACED.get(id(e))
        if hit is None or hit[0] is not e:
            hit = _traced(e)
        fn = hit[1]
        if fn is not None and not (hit[2] and _unsafe(hit[2], self.r, self.p, self.v)):
            return fn(self.r, self.p, self.v)
        return self.eval(e)[0]


def _tracer(r: dict, f: Finding, params: dict) -> Tracer:
    """`Evaluator.tracer`, with the fast tracer."""
    rule = f.via or f.rule
    keys = rule.window.keys if rule.window is not None else ()
    t = FastTracer(r, params, dict(f.bindings), dict(f.paths), keys)
    for w in rule.witnesses:
        if w.var not in t.v:  # a binding from the finding (its element) comes first
            t.witness(w)
    return t


def explanation(r: dict, result: RecordResult, ev: Evaluator, lang: str) -> dict:
    """Every rule considered: fired / not fired / undecided, with the values compared."""
    zh = lang == "zh"
    words = {True: "fired" , False: "not_fired", None: "undecided"}
    rules = []
    for e in result.trace or ():
        item: dict[str, Any] = {"rule": e.rule.id, "kind": e.rule.kind,
                                "title": e.rule.title[0 if zh else 1], "element": e.element,
                                "status": words[e.status]}
        values = _trace_values(r, e, result.params)
        if values:
            item["values"] = values
        if e.rule.kind == "permit" and e.status is not None:
            item["status"] = "applies" if e.status else "does_not_apply"
        if e.requires:
            item["requires"] = [{"boundary": q.boundary, "status": {True: "met", False: "breached",
                                                                    None: "undecided"}[s]}
                                for q, s in e.requires]
        rules.append(item)
    for f in result.suppressed:
        rules.append({"rule": f.rule.id, "kind": f.kind, "status": "overridden",
                      "overridden_by": f.suppressed_by, "element": f.element})
    params = []
    for name, res in sorted(ev.params.resolve_all(r["jurisdiction"], r["date"]).items()):
        params.append({"name": name, "value": json_value(res.value), "profile": res.profile,
                       "from": res.start.isoformat(), "source": res.source, "assumed": res.assumed})
    packs = [{"name": p.name, "version": p.version} for p in ev.program.packs]
    return {"rules": rules, "parameters": params, "packs": packs}


def _trace_values(r: dict, e: Any, params: dict) -> dict:
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
        items = (FastTracer if FAST_TRACER else Tracer)(r, params, {}, {}).value(coll)
        if m is None or not isinstance(items, list) or int(m.group(1)) >= len(items):
            return {}
        bindings[var] = items[int(m.group(1))]
        paths[var] = e.element
    t = (FastTracer if FAST_TRACER else Tracer)(r, params, bindings, paths)
    for w in rule.witnesses:
        t.witness(w)
    out: dict = {}
    for label, expr in (*rule.evidence, *(x for q in rule.requires for x in q.evidence)):
        key = fact_key(label, _fact_path(expr), t.paths)
        if key in out:
            continue
        try:
            out[key] = json_value(t.value(expr))
        except (KeyError, TypeError, AttributeError):
            continue
    return out


# ---- field labels from the schema, for "missing facts" questions ------------------------
@lru_cache(maxsize=4096)
def field_label(path: str, lang: str) -> str:
    """`meals[1].diners` → 用餐·用餐人数（meals[1].diners）; a path the schema lacks, as it is."""
    nodes = _field_nodes(path)
    if nodes is None:
        return path
    key = "x-title-zh" if lang == "zh" else "title"
    words = [node.get(key) or name for name, node in nodes]
    label = "·".join(words) if lang == "zh" else " › ".join(words)
    return f"{label}（{path}）" if lang == "zh" else f"{label} ({path})"


def fact_text(key: str, value: Any, lang: str) -> str:
    """One fact of a finding's evidence for a reader: a record field by its schema title and
    path, an enum value by its label, yes/no, exact decimals; other facts by their source text."""
    nodes = _field_nodes(key)
    labels = None
    if nodes is not None:
        schema = ty.record_schema()
        node = _deref(nodes[-1][1], schema)
        labels = node.get("x-enum-labels") or _deref(_items(node, schema), schema).get("x-enum-labels")
    if isinstance(value, dict):
        shown = "; ".join(f"{k}={format_value(v, None, lang)}" for k, v in value.items())
    else:
        shown = format_value(value, labels, lang)
    return f"{field_label(key, lang)} = {shown}"


@lru_cache(maxsize=4096)
def _field_nodes(path: str) -> tuple[tuple[str, dict], ...] | None:
    """The schema node of each field named on a record path (indices skipped), or None when
    the schema has no such field."""
    if path.startswith("param."):
        return None
    schema = ty.record_schema()
    node: Any = schema
    out = []
    for part in re.findall(r"[A-Za-z_]\w*|\[\d+\]|\S", path):
        if part[0] == "[" and len(part) > 1:  # an index
            continue
        if not (part[0].isalpha() or part[0] == "_"):
            if part != ".":
                return None  # an expression (`per_person_cny(m)`), not a path
            continue
        node = _props(node, schema).get(part) if node is not None else None
        if node is None:
            return None
        out.append((part, node))
        node = _items(node, schema)
    return tuple(out) or None


def _deref(node: dict, schema: dict) -> dict:
    if "$ref" in node:
        return schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    if "anyOf" in node:
        for alt in node["anyOf"]:
            if alt.get("type") != "null":
                return _deref(alt, schema)
    return node


def _props(node: dict, schema: dict) -> dict:
    return _deref(node, schema).get("properties", {})


def _items(node: dict, schema: dict) -> dict:
    n = _deref(node, schema)
    return n.get("items", n) if "items" in n else n


__all__ = ["fact_key", "fact_text", "field_label", "finding_dict", "ir", "json_value", "record_entry"]
