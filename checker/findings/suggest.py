""""What would make it compliant": the smallest change of facts the failed condition allows.

For a breached `require`, each numeric comparison against a limit gives the amount by which
the fact must change; an equality on an enum or flag gives the value it must take; for a
fired `forbid`, the facts that made it fire are named. A review lists the missing facts as
questions to answer.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal
from functools import lru_cache

from checker.findings.labels import FactReader, FieldLabels, json_value
from policy_dsl import ir
from policy_dsl.evaluate import Finding
from policy_dsl.explain import Explainer
from policy_dsl.values import format_money, format_value


def _cents(v: object, rounding: str) -> object:
    """A long decimal (a per-person share, 254.714285…) to cents for reading."""
    if isinstance(v, Decimal) and v.as_tuple().exponent < -2:  # type: ignore[operator]
        return v.quantize(Decimal("0.01"), rounding=rounding)
    return v


_FLIP = {"<=": ">", "<": ">=", ">=": "<", ">": "<=", "==": "!=", "!=": "=="}


def suggestion(f: Finding, ex: Explainer, missing: list[str], lang: str, fields: FieldLabels,
               reader: FactReader | None = None) -> dict:
    zh = lang == "zh"
    if f.outcome == "review":
        questions = [reader.question(m) if reader is not None else fields.field_label(m, lang)
                     for m in missing]
        if not questions:
            return {"text": "需由纪检监察部门人工判断" if zh else "Needs a human judgement", "changes": [],
                    "questions": []}
        text = ("补充以下事实即可判断：" + "；".join(questions)) if zh else \
            ("Provide these facts to decide: " + "; ".join(questions))
        return {"text": text, "changes": [], "questions": questions}
    labels = _Labels(f.evidence, ex, lang, fields, reader)
    changes: list[dict] = []
    if f.require is not None:  # a breached boundary: what would meet it
        _needed(f.require.cond, ex, labels, changes, want=True)
    elif f.rule.unless is not None:  # a fired prohibition: its declared exception
        _needed(f.rule.unless, ex, labels, changes, want=True)
    texts = [_describe(c, lang) for c in changes[:3]]
    text = ("；或".join(texts) if zh else "; or ".join(texts)) if texts else ""
    return {"text": text, "changes": [{k: json_value(v) for k, v in c.items() if k not in ("labels", "money")}
                                      for c in changes[:3]], "questions": []}


class _Labels:
    """The labels of a finding's facts by expression id (the last label of an expression wins),
    each named when first asked for."""

    __slots__ = ("by_id", "done", "ex", "fields", "lang", "reader")

    def __init__(self, evidence: tuple, ex: Explainer, lang: str, fields: FieldLabels,
                 reader: FactReader | None = None):
        self.by_id = {id(e): (label, e) for label, e in evidence}
        self.ex, self.lang, self.fields, self.reader = ex, lang, fields, reader
        self.done: dict[int, str] = {}

    def get(self, key: int) -> str | None:
        out = self.done.get(key)
        if out is None:
            hit = self.by_id.get(key)
            if hit is None:
                return None
            label, expr = hit
            if isinstance(expr, ir.Field) and (path := self.ex.path_of(expr)):
                label = self.fields.field_label(path, self.lang)
            elif self.reader is not None:  # a derived value or a parameter, by its title
                label = self.reader.title(label)
            out = self.done[key] = label
        return out


def _needed(e: ir.Expr, t: Explainer, labels: _Labels, out: list[dict], want: bool) -> bool:
    """Collect simple fact changes that would make `e` evaluate to `want`; False when no change
    the official can make would (a fact they do not control, or none of the simple kind)."""
    if isinstance(e, ir.Or) and want or isinstance(e, ir.And) and not want:
        found = False
        for item in e.items:  # any one alternative suffices
            found = _needed(item, t, labels, out, want) or found
        return found
    if isinstance(e, ir.And) and want or isinstance(e, ir.Or) and not want:
        mine: list[dict] = []
        for item in e.items:  # every failing part must change
            if t.value(item) is not want and not _needed(item, t, labels, mine, want):
                return False  # one part cannot be changed: the whole alternative is no advice
        out.extend(mine)
        return bool(mine)
    if isinstance(e, ir.Not):
        return _needed(e.operand, t, labels, out, not want)
    if isinstance(e, ir.Cmp):
        if not _actionable(e.left, t, labels.fields):
            return False
        op = e.op if want else _FLIP[e.op]
        left, right = t.value(e.left), t.value(e.right)
        label = labels.get(id(e.left))
        if label is None or left is None or right is None:
            return False
        money = e.left.type.kind == "money" or e.right.type.kind == "money"
        if e.left.type.numeric and e.right.type.numeric and op in ("<=", "<", ">=", ">"):
            delta = Decimal(left) - Decimal(right)
            out.append({"fact": label, "current": left, "limit": right, "op": op,
                        "change": -delta, "money": money})
            return True
        enum_labels = e.left.type.labels if e.left.type.kind == "enum" else None
        key = "required" if op == "==" else "not"
        if op in ("==", "!="):
            out.append({"fact": label, "current": left, key: right, "op": op, "labels": enum_labels})
            return True
        return False
    if isinstance(e, ir.InSet):
        if not _actionable(e.item, t, labels.fields):
            return False
        label = labels.get(id(e.item))
        if label is None:
            return False
        allowed = [o.value for o in e.options if isinstance(o, ir.Const)]
        negated = e.negated if want else not e.negated
        key = "not_in" if negated else "one_of"
        out.append({"fact": label, "current": t.value(e.item), key: allowed, "op": key,
                    "labels": e.item.type.labels if e.item.type.kind == "enum" else None})
        return True
    return False


# Facts that describe who and where, not what was done: changing them is no advice.
FIXED = ("id", "stage", "jurisdiction", "date", "official", "enterprise.name", "enterprise.uscc",
         "enterprise.kind", "enterprise.is_management_service_object")


def _actionable(expr: ir.Expr, ex: Explainer, fields: FieldLabels | None = None) -> bool:
    """Whether advice may ask to change this value: not a parameter, not an identity fact, not a
    field the schema marks `"x-actionable": false` (a fact the official does not control: who
    the giver is, whether an event is a major one)."""
    if isinstance(expr, ir.ParamRef):
        return False
    if isinstance(expr, ir.Field):
        path = ex.path_of(expr) or expr.path
        return not _fixed(path) and (fields is None or fields.actionable(path))
    return True


_FIXED_PREFIXES = tuple(f + s for f in FIXED for s in (".", "["))


@lru_cache(maxsize=4096)
def _fixed(path: str) -> bool:
    """Whether a field path is one of the FIXED facts or inside one."""
    return path in FIXED or path.startswith(_FIXED_PREFIXES)


def _describe(c: dict, lang: str) -> str:
    zh = lang == "zh"
    labels = c.get("labels")
    fmt = lambda v: format_value(_cents(v, ROUND_HALF_UP), labels, lang)
    fact = c["fact"]
    op = c["op"]
    if op in ("<=", "<", ">=", ">"):
        # A value over a cap is shown rounded up, under a floor rounded down (never shown as
        # meeting a limit it misses); the change is rounded up: enough to comply. Money with
        # two decimals. The same rounding as the rules' remedies (`round_up`): one amount.
        over = op in ("<=", "<")
        show = (lambda v: format_money(v, lang)) if c.get("money") else (lambda v: format_value(v, labels, lang))
        cur = show(_cents(c["current"], ROUND_UP if over else ROUND_DOWN))
        lim = show(c["limit"])
        amount = show(_cents(abs(c["change"]), ROUND_UP))
        if op in ("<=", "<"):
            return (f"{fact} 为 {cur}，需{'不超过' if op == '<=' else '低于'} {lim}（减少 {amount}）" if zh else
                    f"{fact} is {cur}; it must be {'at most' if op == '<=' else 'below'} {lim} (reduce by {amount})")
        return (f"{fact} 为 {cur}，需{'不低于' if op == '>=' else '高于'} {lim}（增加 {amount}）" if zh else
                f"{fact} is {cur}; it must be {'at least' if op == '>=' else 'above'} {lim} (increase by {amount})")
    if op == "==":
        return (f"{fact} 应为 {fmt(c['required'])}（现为 {fmt(c['current'])}）" if zh else
                f"{fact} must be {fmt(c['required'])} (now {fmt(c['current'])})")
    if op == "!=":
        return (f"{fact} 不应为 {fmt(c['not'])}" if zh else f"{fact} must not be {fmt(c['not'])}")
    if op == "one_of":
        opts = "、".join(fmt(v) for v in c["one_of"]) if zh else ", ".join(fmt(v) for v in c["one_of"])
        return (f"{fact} 应为以下之一：{opts}（现为 {fmt(c['current'])}）" if zh else
                f"{fact} must be one of: {opts} (now {fmt(c['current'])})")
    opts = "、".join(fmt(v) for v in c["not_in"]) if zh else ", ".join(fmt(v) for v in c["not_in"])
    return (f"{fact} 不应为：{opts}（现为 {fmt(c['current'])}）" if zh else
            f"{fact} must not be: {opts} (now {fmt(c['current'])})")
