"""The oracle: a deliberately naive interpreter of the IR, written from docs/language.md.

Every backend (the Python closures today, SQL tomorrow) is differentially tested against it on
the conformance suite and on generated records. It is untuned on purpose: plain recursion over
the nodes, new dicts for every binding, no caches, no shortcuts beyond those the semantics
define. It shares no evaluation code with the product (only the value helpers of
`policy_dsl.values`: date arithmetic and the builtins' definitions).

`Oracle(record, params, env, paths, window_keys).eval(e)` → (value, missing facts);
`judge(program, params, record, window)` → the record's outcome and findings.
"""

from __future__ import annotations

import datetime as dt
import operator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable

from policy_dsl import ir
from policy_dsl.values import STRICT_BUILTINS, arith

NOTHING: frozenset = frozenset()
_CMP = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
        ">": operator.gt, ">=": operator.ge}


class Oracle:
    def __init__(self, record: dict, params: dict, env: dict | None = None, paths: dict | None = None,
                 window_keys: tuple = ()):
        self.r, self.p = record, params
        self.env = dict(env or {})
        self.paths = dict(paths or {})
        self.window_keys = window_keys
        self.visited: list[tuple[ir.Expr, dict, Any]] = []  # (node, bindings, value) of each evaluation

    def eval(self, e: ir.Expr) -> tuple[Any, frozenset]:
        value, missing = getattr(self, type(e).__name__)(e)
        self.visited.append((e, dict(self.env), value))
        return value, missing

    def value(self, e: ir.Expr) -> Any:
        return self.eval(e)[0]

    def with_var(self, var: str, item: Any, path: str) -> Oracle:
        o = Oracle(self.r, self.p, {**self.env, var: item}, {**self.paths, var: path}, self.window_keys)
        o.visited = self.visited
        return o

    def path(self, e: ir.Expr) -> str | None:
        if isinstance(e, ir.Field):
            if e.base is None:
                return e.name
            base = self.path(e.base)
            return None if base is None else f"{base}.{e.name}"
        if isinstance(e, ir.Var):
            return self.paths.get(e.name, e.name)
        if isinstance(e, ir.IndexExpr):
            base = self.path(e.base)
            i = self.value(e.index)
            return None if base is None else f"{base}[{i}]"
        if isinstance(e, ir.Lookup):
            return f"{e.kind}[{self.value(e.id)}]"
        return None

    def elements(self, coll: ir.Expr, items: list) -> list[tuple[Any, str]]:
        if isinstance(coll, ir.WindowRef):
            return [(x, f"window[{x.get('id')}]" if isinstance(x, dict) else f"window[{i}]")
                    for i, x in enumerate(items)]
        if isinstance(coll, ir.Related):
            return [(x, f"{coll.kind}[{x.get('id')}]") for x in items]
        base = self.path(coll)
        return [(x, f"{base}[{i}]" if base else f"[{i}]") for i, x in enumerate(items)]

    # ---- leaves
    def Const(self, e):
        return e.value, NOTHING

    def Field(self, e):
        base, missing = (self.r, NOTHING) if e.base is None else self.eval(e.base)
        if base is None:
            return None, missing
        x = base.get(e.name)
        return (x, NOTHING) if x is not None else (None, frozenset({self.path(e) or e.path}))

    def Var(self, e):
        return self.env.get(e.name), NOTHING

    def ParamRef(self, e):
        x = self.p.get(e.name)
        return x, (NOTHING if x is not None else frozenset({f"param.{e.name}"}))

    def WindowRef(self, e):
        w = self.env.get("$window")
        if w is not None:
            return w, NOTHING
        missing: frozenset = NOTHING
        for k in self.window_keys:  # its keys, and its width when a parameter gives it
            missing |= self.eval(k)[1]
        return None, missing

    # ---- logic: Kleene
    def Not(self, e):
        x, m = self.eval(e.operand)
        return (None, m) if x is None else (not x, NOTHING)

    def And(self, e):  # unknown: the facts of the first unknown conjunct (it guards the rest)
        value, missing = self._kleene(e.items, False)
        if value is None:
            missing = next(m for x, m in map(self.eval, e.items) if x is None)
        return value, missing

    def Or(self, e):
        return self._kleene(e.items, True)

    def _kleene(self, items, decisive: bool):
        unknown: frozenset | None = None
        for i in items:
            x, m = self.eval(i)
            if x is decisive:
                return decisive, NOTHING
            if x is None:
                unknown = (unknown or NOTHING) | m
        return (None, unknown) if unknown is not None else (not decisive, NOTHING)

    def IsKnown(self, e):
        x, _ = self.eval(e.operand)
        return (x is None) if e.negated else (x is not None), NOTHING

    def If(self, e):
        c, m = self.eval(e.cond)
        if c is None:
            return None, m
        return self.eval(e.then if c else e.otherwise)

    # ---- strict operations: unknown if an operand is
    def _operands(self, *exprs):
        pairs = [self.eval(x) for x in exprs]
        missing = frozenset().union(*(m for _, m in pairs))
        return [v for v, _ in pairs], missing

    def Cmp(self, e):
        (a, b), m = self._operands(e.left, e.right)
        if a is None or b is None:
            return None, m
        return _CMP[e.op](a, b), NOTHING

    def Arith(self, e):
        (a, b), m = self._operands(e.left, e.right)
        if a is None or b is None:
            return None, m
        return arith(e.op, a, b), NOTHING  # division by zero: unknown, nothing missing

    def Neg(self, e):
        x, m = self.eval(e.operand)
        return (None, m) if x is None else (-x, NOTHING)

    def InSet(self, e):
        x, m = self.eval(e.item)
        if x is None:
            return None, m
        unknown: frozenset | None = None
        for o in e.options:
            y, mo = self.eval(o)
            if y is None:
                unknown = (unknown or NOTHING) | mo
            elif y == x:
                return not e.negated, NOTHING
        return (None, unknown) if unknown is not None else (e.negated, NOTHING)

    def IndexExpr(self, e):
        (xs, i), m = self._operands(e.base, e.index)
        if xs is None or i is None:
            return None, m
        return (xs[i] if 0 <= i < len(xs) else None), NOTHING

    def ListExpr(self, e):
        return [self.value(i) for i in e.items], NOTHING

    def Builtin(self, e):
        if e.fn == "coalesce":
            a, ma = self.eval(e.args[0])
            if a is not None:
                return a, NOTHING
            b, mb = self.eval(e.args[1])
            return b, (NOTHING if b is not None else ma | mb)
        args, m = self._operands(*e.args)
        if any(a is None for a in args):
            return None, m
        out = STRICT_BUILTINS[e.fn](*args)
        if out is None and e.fn in ("add_working_days", "working_days_between", "is_working_day"):
            return None, frozenset({f"param.{e.args[0].name}"})  # a day outside the calendar
        return out, NOTHING

    # ---- other records: a naive scan of every record the run knows
    def known_records(self) -> list[dict] | None:
        store = self.env.get("$store")
        return None if store is None else list(store.records)

    def Lookup(self, e):
        i, m = self.eval(e.id)
        if i is None:
            return None, m
        for x in self.known_records() or ():
            if str(x.get("id")) == str(i):
                if (x.get("record_kind") or "interaction") == e.kind:
                    return x, NOTHING
        return None, frozenset({f"{e.kind}[{i}]"})

    def Related(self, e):
        values, m = self._operands(*e.values)
        if any(v is None for v in values):
            return None, m
        records = self.known_records()
        if records is None:
            return None, frozenset({f"records({e.kind})"})
        out = []
        for x in sorted(records, key=lambda x: (x.get("date"), str(x.get("id")))):
            if (x.get("record_kind") or "interaction") != e.kind:
                continue
            keys = []
            for path in e.paths:
                y = x
                for part in path.split("."):
                    y = y.get(part) if isinstance(y, dict) else None
                keys.append(y)
            if any(k is None for k in keys) or keys != values:
                continue
            if e.where is not None:
                w, mw = self.with_var(e.var, x, f"{e.kind}[{x.get('id')}]").eval(e.where)
                if w is None:
                    return None, mw
                if not w:
                    continue
            out.append(x)
        return out, NOTHING

    # ---- comprehensions
    def Quant(self, e):
        items, m = self.eval(e.coll)
        if items is None:
            return None, m
        decisive = e.kind == "some"
        unknown: frozenset | None = None
        for item, path in self.elements(e.coll, items):
            x, mx = self.with_var(e.var, item, path).eval(e.body)
            if x is decisive:
                return decisive, NOTHING
            if x is None:
                unknown = (unknown or NOTHING) | mx
        return (None, unknown) if unknown is not None else (not decisive, NOTHING)

    def Agg(self, e):
        items, m = self.eval(e.coll)
        if items is None:
            return None, m
        total: Any = Decimal(0) if e.value is not None and e.type.kind in ("money", "number") else 0
        for item, path in self.elements(e.coll, items):
            inner = self.with_var(e.var, item, path)
            if e.where is not None:
                w, mw = inner.eval(e.where)
                if w is None:
                    return None, mw
                if not w:
                    continue
            if e.value is None:
                total += 1
                continue
            x, mx = inner.eval(e.value)
            if x is None:
                return None, mx
            total += x
        return total, NOTHING


# ---- a record's findings -------------------------------------------------------------------
@dataclass
class Found:
    rule: str  # the reported rule (a boundary for a failed require; `P/N` for a conflict)
    outcome: str
    element: str | None = None
    kind: str = ""
    via: str | None = None  # the permit of a require
    owner: str = ""  # the rule evaluated (the permit for a require's finding)
    holds: bool = False  # the owner holds here: a permit compliant, a forbid/boundary fired
    undecided: bool = False
    breached: bool = False  # a permit whose require failed
    extra: dict = field(default_factory=dict)

    def key(self) -> str:
        return f"{self.rule}{'@' + self.element if self.element else ''} {self.outcome}"


ORDER = ("violation", "review", "tolerated", "compliant", "unlisted")


def in_force(program: ir.ProgramIR, code: str, day: dt.date) -> list[ir.RuleIR]:
    def covers(claim, code):
        if claim is None:
            return True
        return any(c in (code, "000000") or (c.endswith("0000") and c[:2] == code[:2])
                   or (c.endswith("00") and c[:4] == code[:4]) for c in claim)
    out = []
    for pack in program.packs:
        if not pack.in_force(day) or not covers(pack.applies_to, code):
            continue
        out.extend(r for r in pack.rules if r.in_force(day))
    return out


def condition(rule: ir.RuleIR) -> ir.Expr:
    if rule.unless is None:
        return rule.when
    return ir.And((rule.when, ir.Not(rule.unless, rule.when.type)), rule.when.type)


def facts(rule: ir.RuleIR) -> tuple:
    """What an unknown window lacks: its keys and a width a parameter gives."""
    if rule.window is None:
        return ()
    return rule.window.keys + ((rule.window.width,) if rule.window.width is not None else ())


def judge(program: ir.ProgramIR, params: dict, record: dict,
          window: Callable[[ir.RuleIR, dict], list | None], store: Any = None
          ) -> tuple[str, list[Found], list[Found]]:
    """(outcome, findings, suppressed findings) of a record: every rule of its kind in force,
    naively. `store`: the records lookups may find (anything with `.records`)."""
    kind = record.get("record_kind") or "interaction"
    rules = [r for r in in_force(program, record["jurisdiction"], record["date"]) if r.record_kind == kind]
    base_env = {"$store": store} if store is not None else {}
    by_id = {r.id: r for r in program.rules}
    found: list[Found] = []
    sizes: dict[str, int] = {}
    for rule in rules:
        if rule.when is None or rule.kind == "tolerance":
            continue
        env = {**base_env, "$window": window(rule, record)} if rule.window is not None else dict(base_env)
        keys = facts(rule)
        if rule.foreach is None:
            instances = [(None, env, {})]
        else:
            var, coll = rule.foreach
            items = Oracle(record, params, env, {}, keys).value(coll)
            if items is None:
                found.append(Found(rule.id, "review", None, rule.kind, owner=rule.id, undecided=True))
                continue
            sizes[rule.id] = len(items)
            base = coll.path if isinstance(coll, ir.Field) else "items"
            instances = [(f"{base}[{i}]", {**env, var: x}, {var: f"{base}[{i}]"}) for i, x in enumerate(items)]
        for element, bindings, paths in instances:
            status = Oracle(record, params, bindings, paths, keys).value(condition(rule))
            if status is None:
                found.append(Found(rule.id, "review", element, rule.kind, owner=rule.id, undecided=True))
            elif status and rule.kind == "permit":
                ok = True
                for q in rule.requires:
                    s = Oracle(record, params, bindings, paths, keys).value(q.cond)
                    if s is not True:
                        ok = False
                        b = by_id.get(q.boundary, rule)
                        found.append(Found(b.id, "review" if s is None else b.outcome, element, "boundary",
                                           via=rule.id, owner=rule.id, undecided=s is None, breached=s is False))
                if ok:
                    found.append(Found(rule.id, "compliant", element, "permit", owner=rule.id, holds=True))
            elif status:
                found.append(Found(rule.id, rule.outcome, element, rule.kind, owner=rule.id, holds=True))
    found, suppressed = _overrides(found, sizes, by_id)
    found += _conflicts(found, by_id)
    for t in rules:
        if t.kind != "tolerance":
            continue
        s = Oracle(record, params, base_env).value(condition(t))
        covered = [f for f in found if f.outcome in ("violation", "review") and f.kind != "conflict"
                   and (f.rule in t.covers if t.covers is not None else
                        f.rule not in t.covers_except and (f.via is None or f.via not in t.covers_except))]
        if s is True:
            for f in covered:
                f.outcome = "tolerated"
            if covered:
                found.append(Found(t.id, "tolerated", None, "tolerance", owner=t.id))
        elif s is None:
            for f in covered:
                if f.outcome == "violation":
                    f.outcome = "review"
    outcome = min((f.outcome for f in found), key=ORDER.index, default="unlisted")
    return outcome, found, suppressed


def _overrides(found: list[Found], sizes: dict[str, int], by_id: dict) -> tuple[list[Found], list[Found]]:
    """Withdraw the findings of overridden rules where the overriding rule holds (on a scope
    covering them); an overridden violation where it is undecided becomes a review."""
    # the overriding rule's status on each scope it was evaluated on; the weakest wins
    rank = {"fails": 0, "undecided": 1, "holds": 2}
    status: dict[str, dict] = {}
    for f in found:
        w = by_id[f.owner]
        if not w.overrides or f.kind == "conflict":
            continue
        st = "holds" if f.holds else "undecided" if f.undecided else "fails" if f.breached else None
        if st is None:
            continue
        cur = status.setdefault(w.id, {}).get(f.element)
        if cur is None or rank[st] < rank[cur]:
            status[w.id][f.element] = st
    kept, suppressed = [], []
    for f in found:
        if f.via is not None or f.kind == "conflict":
            kept.append(f)
            continue
        verdicts = []
        for wid, scopes in status.items():
            if f.rule not in by_id[wid].overrides or wid == f.rule:
                continue
            if None in scopes:
                verdicts.append(scopes[None])
            elif f.element is not None:
                if f.element in scopes:
                    verdicts.append(scopes[f.element])
            elif sizes.get(wid) and len(scopes) == sizes[wid]:
                verdicts.append(min(scopes.values(), key=rank.__getitem__))
        if "holds" in verdicts:
            suppressed.append(f)
            continue
        if "undecided" in verdicts and f.outcome == "violation":
            f.outcome = "review"
        kept.append(f)
    return kept, suppressed


def _conflicts(found: list[Found], by_id: dict) -> list[Found]:
    out = []
    for p in found:
        if p.kind != "permit" or p.outcome != "compliant":
            continue
        for n in found:
            if (n.kind == "forbid" and n.outcome == "violation" and not n.undecided and n.element == p.element
                    and n.rule not in by_id[p.rule].overrides and p.rule not in by_id[n.rule].overrides):
                out.append(Found(f"{p.rule}/{n.rule}", "review", p.element, "conflict", owner=p.rule))
    return out
