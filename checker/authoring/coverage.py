"""Coverage of rule tests in legal terms.

For every rule in scope it answers, from the rule tests that ran:
- did the tests see it fire, not fire, and go to review (undecidable for missing facts)?
  For a permit "fire" means it applies (`when` true); for a boundary used only through
  `require … else B`, it fires when such a `require` is breached.
- was each `require` clause both met and breached?
- which enum values named in its conditions did the tested records actually have
  (`x in {a, b}`, `x == a`, `x != a`)?
- for every threshold (a comparison of a fact or derived value with a constant or a
  `param.*`), did the tests reach it with a value below, at and above the threshold?

A rule counts as covered when it was seen firing, not firing and in review. Review is
required only when it is reachable: when the rule reads a fact the record schema allows to
be absent (or divides, or uses a window); a rule that reads only required fields can never
be undecidable, and for it firing and not firing suffice.

Enum values and thresholds are observed where the evaluation reached them: a threshold
after `and` is only compared when the conditions before it held (short-circuit), which is
where it matters legally. Values are computed with the tracing evaluator, replaying each
test record rule by rule with the same parameters and windows as the test run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from policy_dsl import ast as A
from policy_dsl import ir
from policy_dsl.backends.python import compile_expr
from policy_dsl.unparse import unparse

ORDERED_KINDS = ("int", "number", "money", "date", "datetime", "duration")
_WHERE = ("below", "at", "above")


# ---- what is covered ----------------------------------------------------------------------
@dataclass
class Site:
    """A place in a rule's conditions: its source text and where it is."""

    text: str
    file: str
    line: int

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class RequireCoverage:
    index: int  # 1-based position among the permit's requires
    boundary: str
    site: Site
    met: int = 0
    breached: int = 0
    undecided: int = 0

    @property
    def covered(self) -> bool:
        return self.met > 0 and self.breached > 0


@dataclass
class EnumCoverage:
    site: Site  # the enum-valued expression, e.g. `g.form`
    values: tuple[str, ...]  # the values named in conditions, in order of appearance
    hit: set[str] = field(default_factory=set)
    seen: set[str] = field(default_factory=set)  # every value the tests had there

    @property
    def missed(self) -> list[str]:
        return [v for v in self.values if v not in self.hit]


@dataclass
class ThresholdCoverage:
    site: Site  # the comparison, e.g. `g.value_cny > param.gift_cap_cny`
    fact: str  # the fact side
    limit: str  # the threshold side
    counts: dict[str, int] = field(default_factory=lambda: {w: 0 for w in _WHERE})
    limits: set[str] = field(default_factory=set)  # threshold values met (params differ by place)
    impossible: tuple[str, ...] = ()  # points no valid record can reach (`length(x) > 0`: below)

    @property
    def hit(self) -> int:
        return sum(1 for w in _WHERE if self.counts[w] or w in self.impossible)


@dataclass
class RuleCoverage:
    rule: ir.RuleIR
    review_possible: bool
    fired: int = 0
    not_fired: int = 0
    review: int = 0
    requires: list[RequireCoverage] = field(default_factory=list)
    enums: list[EnumCoverage] = field(default_factory=list)
    thresholds: list[ThresholdCoverage] = field(default_factory=list)
    tests: dict[str, set[str]] = field(default_factory=lambda: {"fired": set(), "not_fired": set(),
                                                                 "review": set()})

    @property
    def covered(self) -> bool:
        return self.fired > 0 and self.not_fired > 0 and (self.review > 0 or not self.review_possible)

    @property
    def missing(self) -> list[str]:
        out = []
        if not self.fired:
            out.append("fired")
        if not self.not_fired:
            out.append("not_fired")
        if self.review_possible and not self.review:
            out.append("review")
        return out


@dataclass
class Coverage:
    rules: list[RuleCoverage]
    tests: int

    def totals(self) -> dict:
        rules = len(self.rules)
        covered = sum(1 for r in self.rules if r.covered)
        reqs = [q for r in self.rules for q in r.requires]
        enums = [e for r in self.rules for e in r.enums]
        ths = [t for r in self.rules for t in r.thresholds]
        values = sum(len(e.values) for e in enums)
        hit = sum(len(e.values) - len(e.missed) for e in enums)
        points = 3 * len(ths)
        reached = sum(t.hit for t in ths)
        return {
            "rules": {"covered": covered, "total": rules, "percent": _pct(covered, rules)},
            "requires": {"covered": sum(1 for q in reqs if q.covered), "total": len(reqs),
                         "percent": _pct(sum(1 for q in reqs if q.covered), len(reqs))},
            "enum_values": {"covered": hit, "total": values, "percent": _pct(hit, values)},
            "thresholds": {"covered": reached, "total": points, "percent": _pct(reached, points),
                           "sites": len(ths), "complete": sum(1 for t in ths if t.hit == 3)},
        }

    @property
    def percent(self) -> float:
        """Rule coverage: the share of rules seen firing, not firing and (if reachable) in review."""
        return self.totals()["rules"]["percent"]


def _pct(n: int, d: int) -> float:
    return round(100.0 * n / d, 1) if d else 100.0


# ---- sites: IR nodes labelled with their source text -----------------------------------------
class _Labels:
    """Maps IR nodes (by identity) to the AST text and position they came from, by walking the
    AST and the IR side by side (definitions are followed into their bodies)."""

    def __init__(self, defines: Mapping[str, A.Define]):
        self.defines = defines
        self.out: dict[int, tuple[A.Expr, str]] = {}

    def pair(self, a: A.Expr | None, e: ir.Expr | None, depth: int = 0) -> None:
        if a is None or e is None or depth > 64:
            return
        d = depth + 1
        if isinstance(e, ir.Var):
            return
        if isinstance(a, A.Call) and a.fn in self.defines:
            self.out.setdefault(id(e), (a, a.span.file))
            self.pair(self.defines[a.fn].body, e, d)
            return
        if isinstance(a, A.Name) and a.id in self.defines and self.defines[a.id].params is None:
            self.out.setdefault(id(e), (a, a.span.file))
            self.pair(self.defines[a.id].body, e, d)
            return
        self.out.setdefault(id(e), (a, a.span.file))
        if isinstance(a, A.Compare) and isinstance(e, ir.Cmp):
            self.pair(a.left, e.left, d)
            self.pair(a.right, e.right, d)
        elif isinstance(a, A.Member) and isinstance(e, ir.InSet):
            self.pair(a.item, e.item, d)
            for ao, eo in zip(a.options, e.options):
                self.pair(ao, eo, d)
        elif isinstance(a, A.BoolOp) and isinstance(e, (ir.And, ir.Or)) and len(a.items) == len(e.items):
            for ai, ei in zip(a.items, e.items):
                self.pair(ai, ei, d)
        elif isinstance(a, A.Not) and isinstance(e, ir.Not) or isinstance(a, A.Neg) and isinstance(e, ir.Neg) or isinstance(a, A.IsKnown) and isinstance(e, ir.IsKnown):
            self.pair(a.operand, e.operand, d)
        elif isinstance(a, A.Arith) and isinstance(e, ir.Arith):
            self.pair(a.left, e.left, d)
            self.pair(a.right, e.right, d)
        elif isinstance(a, A.If) and isinstance(e, ir.If):
            self.pair(a.cond, e.cond, d)
            self.pair(a.then, e.then, d)
            self.pair(a.otherwise, e.otherwise, d)
        elif isinstance(a, A.Quant) and isinstance(e, ir.Quant):
            self.pair(a.coll, e.coll, d)
            self.pair(a.body, e.body, d)
        elif isinstance(a, A.Aggregate) and isinstance(e, ir.Agg):
            self.pair(a.coll, e.coll, d)
            self.pair(a.where, e.where, d)
            self.pair(a.value, e.value, d)
        elif isinstance(a, A.Call) and isinstance(e, ir.Builtin):
            for aa, ea in zip(a.args, e.args):
                self.pair(aa, ea, d)
        elif isinstance(a, A.Attr) and isinstance(e, ir.Field):
            self.pair(a.base, e.base, d)
        elif isinstance(a, A.Index) and isinstance(e, ir.IndexExpr):
            self.pair(a.base, e.base, d)
            self.pair(a.index, e.index, d)

    def site(self, e: ir.Expr, fallback_file: str, fallback_line: int) -> Site:
        hit = self.out.get(id(e))
        if hit is None:
            return Site(describe(e), fallback_file, fallback_line)
        a, file = hit
        return Site(unparse(a), file, a.span.line)

    def text(self, e: ir.Expr) -> str:
        hit = self.out.get(id(e))
        return unparse(hit[0]) if hit is not None else describe(e)


def describe(e: ir.Expr) -> str:
    """Readable text for an IR expression without source (definitions appear expanded)."""
    if isinstance(e, ir.Const):
        v = e.value
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, Decimal):
            return format(v, "f")
        if isinstance(v, (dt.date, dt.datetime)):
            return v.isoformat()
        return str(v)
    if isinstance(e, ir.Field):
        return f"{describe(e.base)}.{e.name}" if e.base is not None else e.name
    if isinstance(e, ir.Var):
        return e.name
    if isinstance(e, ir.ParamRef):
        return f"param.{e.name}"
    if isinstance(e, ir.WindowRef):
        return "window"
    if isinstance(e, ir.Cmp):
        return f"{describe(e.left)} {e.op} {describe(e.right)}"
    if isinstance(e, ir.Arith):
        return f"({describe(e.left)} {e.op} {describe(e.right)})"
    if isinstance(e, ir.Neg):
        return f"-{describe(e.operand)}"
    if isinstance(e, ir.Builtin):
        return f"{e.fn}({', '.join(describe(a) for a in e.args)})"
    if isinstance(e, ir.InSet):
        return f"{describe(e.item)} {'not in' if e.negated else 'in'} {{{', '.join(describe(o) for o in e.options)}}}"
    if isinstance(e, ir.Agg):
        return f"{e.kind}({e.var} in {describe(e.coll)} …)"
    if isinstance(e, ir.If):
        return f"if {describe(e.cond)} then {describe(e.then)} else {describe(e.otherwise)}"
    if isinstance(e, ir.IndexExpr):
        return f"{describe(e.base)}[{describe(e.index)}]"
    return type(e).__name__.lower()


# ---- static facts about expressions ---------------------------------------------------------------
def fixed(e: ir.Expr) -> bool:
    """True when an expression does not depend on the record: constants, parameters, arithmetic."""
    if isinstance(e, (ir.Const, ir.ParamRef)):
        return True
    if isinstance(e, (ir.Arith, ir.Neg, ir.Builtin)):
        return all(fixed(c) for c in ir.children(e))
    return False


def _enum_values(e: ir.Expr) -> tuple[ir.Expr, tuple[str, ...]] | None:
    """(the enum-valued expression, the values named) for `x in {a, b}` / `x == a` / `x != a`."""
    if isinstance(e, ir.InSet) and e.item.type.kind == "enum" and not fixed(e.item):
        vals = tuple(str(o.value) for o in e.options if isinstance(o, ir.Const) and o.value is not None)
        return (e.item, vals) if vals else None
    if isinstance(e, ir.Cmp) and e.op in ("==", "!="):
        for x, c in ((e.left, e.right), (e.right, e.left)):
            if (x.type.kind == "enum" and not fixed(x) and isinstance(c, ir.Const)
                    and isinstance(c.value, str)):
                return x, (c.value,)
    return None


def _threshold(e: ir.Expr) -> tuple[ir.Expr, ir.Expr, bool] | None:
    """(fact side, threshold side, flipped) for a comparison of a fact with a constant/param."""
    if not isinstance(e, ir.Cmp):
        return None
    if e.left.type.kind not in ORDERED_KINDS or e.right.type.kind not in ORDERED_KINDS:
        return None
    lf, rf = fixed(e.left), fixed(e.right)
    if rf and not lf:
        return e.left, e.right, False
    if lf and not rf:
        return e.right, e.left, True
    return None


class Nullable:
    """Which schema paths may be absent (not required, or null allowed) along the way."""

    def __init__(self, schema: dict):
        self.schema = schema
        self.defs = schema.get("$defs", {})
        self._cache: dict[str, bool] = {}

    def _deref(self, node: dict) -> tuple[dict, bool]:
        nullable = False
        while True:
            if "$ref" in node:
                node = self.defs.get(node["$ref"].rsplit("/", 1)[-1], {})
                continue
            if "anyOf" in node:
                alts = node["anyOf"]
                nullable = nullable or any(a.get("type") == "null" for a in alts)
                node = next((a for a in alts if a.get("type") != "null"), {})
                continue
            types = node.get("type")
            if isinstance(types, list) and "null" in types:
                nullable = True
            return node, nullable

    def minimum(self, path: str) -> int | float | None:
        """The schema's `minimum` for a path, if it declares one."""
        node = self.schema
        for part in path.split("."):
            name = part.removesuffix("[]")
            props = node.get("properties", {})
            if name not in props:
                return None
            node, _ = self._deref(props[name])
            if part.endswith("[]"):
                node, _ = self._deref(node.get("items", {}))
        return node.get("minimum")

    def __call__(self, path: str) -> bool:
        hit = self._cache.get(path)
        if hit is not None:
            return hit
        node, out = self.schema, False
        for part in path.split("."):
            name = part.removesuffix("[]")
            if not name:
                continue
            props = node.get("properties", {})
            if name not in props:
                out = True
                break
            if name not in node.get("required", []):
                out = True
            node, null = self._deref(props[name])
            out = out or null
            if part.endswith("[]"):
                node, _ = self._deref(node.get("items", {}))
        self._cache[path] = out
        return out


def floor_of(e: ir.Expr, schema: Nullable) -> int | float | None:
    """A lower bound every valid record respects: lengths and counts are at least 0, and a
    field with a schema `minimum` at least that."""
    if isinstance(e, ir.Builtin) and e.fn == "length":
        return 0
    if isinstance(e, ir.Agg) and e.kind == "count":
        return 0
    if isinstance(e, ir.Field):
        return schema.minimum(e.path)
    return None


def _impossible(fact: ir.Expr, limit: ir.Expr, flipped: bool, schema: Nullable) -> tuple[str, ...]:
    low = floor_of(fact, schema)
    if low is None or not isinstance(limit, ir.Const) or not isinstance(limit.value, (int, Decimal)):
        return ()
    if limit.value < low:
        return ("below", "at")
    if limit.value == low:
        return ("below",)
    return ()


def _guards(e: ir.Expr, when_true: bool) -> set[str]:
    """Facts known to be present whenever `e` is true (`when_true`) or false."""
    if isinstance(e, ir.IsKnown):
        return {describe(e.operand)} if e.negated != when_true else set()
    if isinstance(e, ir.Not):
        return _guards(e.operand, not when_true)
    if isinstance(e, ir.And) and when_true or isinstance(e, ir.Or) and not when_true:
        return set().union(*(_guards(i, when_true) for i in e.items))
    return set()


def _may_be_zero(e: ir.Expr, schema: Callable[[str], bool]) -> bool:
    if isinstance(e, ir.Const):
        return not e.value
    if isinstance(e, ir.Field) and hasattr(schema, "minimum"):
        low = schema.minimum(e.path)
        return low is None or low <= 0
    return True


def may_be_unknown(e: ir.Expr | None, nullable: Callable[[str], bool], known: frozenset[str] = frozenset()
                   ) -> bool:
    """Whether an expression can evaluate to unknown for some schema-valid record.

    Guards are understood (`x is known and x > 3` is never unknown, in an `and`, an `or` and
    an `if`), a division only when its divisor can be zero. Lookups that go out of range
    (`char_at`, `xs[i]`) are assumed to stay in range: the question is whether a test can
    make the rule undecidable by leaving a fact out."""
    if e is None:
        return False
    mbu = may_be_unknown
    if isinstance(e, ir.Field):
        if describe(e) in known:
            return False
        return nullable(e.path) or mbu(e.base, nullable, known)
    if isinstance(e, (ir.Const, ir.Var, ir.ParamRef, ir.IsKnown)):
        return False
    if isinstance(e, ir.WindowRef):
        return True
    if isinstance(e, (ir.And, ir.Or)):
        k = known | set().union(*(_guards(i, isinstance(e, ir.And)) for i in e.items))
        return any(mbu(i, nullable, frozenset(k)) for i in e.items)
    if isinstance(e, ir.If):
        return (mbu(e.cond, nullable, known) or mbu(e.then, nullable, known | _guards(e.cond, True))
                or mbu(e.otherwise, nullable, known | _guards(e.cond, False)))
    if isinstance(e, ir.Arith) and e.op in ("/", "%") and _may_be_zero(e.right, nullable):
        return True
    if isinstance(e, ir.Builtin) and e.fn == "coalesce":
        return all(mbu(a, nullable, known) for a in e.args)
    return any(mbu(c, nullable, known) for c in ir.children(e))


# ---- observing evaluation ------------------------------------------------------------------
def _watchers(plan: _RulePlan, closures: Callable[[ir.Expr], Callable]) -> dict[int, Callable]:
    """For the compiled conditions of a rule: at each enum and threshold site, a function that
    notes the values met there each time the site is evaluated."""
    out: dict[int, Callable] = {}
    for key in set(plan.enums) | set(plan.thresholds):
        notes = []
        if key in plan.enums:
            item, cov = plan.enums[key]
            notes.append(_enum_note(closures(item), cov))
        if key in plan.thresholds:
            fact, limit, tc = plan.thresholds[key]
            notes.append(_threshold_note(closures(fact), closures(limit), limit, tc))
        out[key] = notes[0] if len(notes) == 1 else (lambda r, p, v, ns=tuple(notes): [n(r, p, v) for n in ns])
    return out


def _enum_note(item: Callable, cov: EnumCoverage) -> Callable:
    def note(r, p, v) -> None:
        x = item(r, p, v)
        if x is not None:
            cov.seen.add(str(x))
            if str(x) in cov.values:
                cov.hit.add(str(x))
    return note


def _threshold_note(fact: Callable, limit: Callable, limit_ir: ir.Expr, cov: ThresholdCoverage) -> Callable:
    def note(r, p, v) -> None:
        a, b = fact(r, p, v), limit(r, p, v)
        if a is None or b is None:
            return
        try:
            where = "below" if a < b else ("at" if a == b else "above")
        except TypeError:
            return
        cov.counts[where] += 1
        cov.limits.add(describe(ir.Const(b, limit_ir.type)))
    return note


# ---- collecting -------------------------------------------------------------------------------------
class _RulePlan:
    """A rule's coverage record plus the IR nodes to watch."""

    def watched(self, closures: Callable) -> tuple[Callable | None, Callable | None, list[Callable]]:
        """The rule's `when`, `unless` and requires compiled with watchers (once)."""
        if self._watched is None:
            watch = _watchers(self, closures)
            rule = self.rule
            self._watched = (compile_expr(rule.when, watch) if rule.when is not None else None,
                             compile_expr(rule.unless, watch) if rule.unless is not None else None,
                             [compile_expr(q.cond, watch) for q in rule.requires])
        return self._watched

    def __init__(self, rule: ir.RuleIR, ast_rule: A.Rule | None, defines: Mapping[str, A.Define],
                 nullable: Nullable):
        self.rule = rule
        self._watched: tuple | None = None
        self.enums: dict[int, tuple[ir.Expr, EnumCoverage]] = {}
        self.thresholds: dict[int, tuple[ir.Expr, ir.Expr, ThresholdCoverage]] = {}
        labels = _Labels(defines)
        conds: list[ir.Expr] = []
        if ast_rule is not None:
            labels.pair(ast_rule.when, rule.when)
            labels.pair(ast_rule.unless, rule.unless)
            for aq, q in zip(ast_rule.requires, rule.requires):
                labels.pair(aq.cond, q.cond)
        file, line = rule.span.file, rule.span.line
        for x in (rule.when, rule.unless):
            if x is not None:
                conds.append(x)
        conds.extend(q.cond for q in rule.requires)
        review = (may_be_unknown(rule.when, nullable) or may_be_unknown(rule.unless, nullable)
                  or (rule.kind == "permit" and any(may_be_unknown(q.cond, nullable) for q in rule.requires))
                  or (rule.foreach is not None and may_be_unknown(rule.foreach[1], nullable)))
        self.cov = RuleCoverage(rule, review)
        for i, q in enumerate(rule.requires, 1):
            sp = q.span
            text = ""
            if ast_rule is not None and i <= len(ast_rule.requires):
                aq = ast_rule.requires[i - 1]
                text = f"{unparse(aq.cond)} else {aq.boundary}"
            self.cov.requires.append(RequireCoverage(i, q.boundary, Site(text or f"… else {q.boundary}",
                                                                         sp.file, sp.line)))
        by_label: dict[str, EnumCoverage] = {}
        seen_th: set[int] = set()
        for cond in conds:
            for node in ir.walk(cond):
                ev = _enum_values(node)
                if ev is not None:
                    item, values = ev
                    site = labels.site(item, file, line)
                    if isinstance(item, ir.Var) and item.type.path:
                        site = Site(f"{site.text} ({item.type.path})", site.file, site.line)
                    if isinstance(item, ir.Field):
                        key = item.path
                    else:
                        key = site.text
                    cov = by_label.get(key)
                    if cov is None:
                        cov = EnumCoverage(site, ())
                        by_label[key] = cov
                        self.cov.enums.append(cov)
                    cov.values = cov.values + tuple(v for v in values if v not in cov.values)
                    self.enums[id(node)] = (item, cov)
                th = _threshold(node)
                if th is not None and id(node) not in seen_th:
                    seen_th.add(id(node))
                    fact, limit, flipped = th
                    tc = ThresholdCoverage(labels.site(node, file, line), labels.text(fact), labels.text(limit),
                                           impossible=_impossible(fact, limit, flipped, nullable))
                    # The same comparison reached through two uses of a definition is one threshold.
                    twin = next((t for t in self.cov.thresholds if t.site.text == tc.site.text
                                 and t.site.location == tc.site.location), None)
                    if twin is None:
                        self.cov.thresholds.append(tc)
                        twin = tc
                    self.thresholds[id(node)] = (fact, limit, twin)


def _ast_index(files: Iterable[A.PolicyFile]) -> tuple[dict[str, A.Rule], dict[str, dict[str, A.Define]]]:
    """AST rules by id, and per pack the definitions it sees (its own first, then the rest)."""
    rules: dict[str, A.Rule] = {}
    files = list(files)
    all_defs: dict[str, A.Define] = {}
    for pf in files:
        for d in pf.defines:
            all_defs.setdefault(d.name, d)
    pack_defs: dict[str, dict[str, A.Define]] = {}
    for pf in files:
        for r in pf.rules:
            rules.setdefault(r.id, r)
        if pf.policy is not None:
            own = dict(all_defs)
            own.update({d.name: d for d in pf.defines})
            pack_defs[pf.policy.name] = own
    return rules, pack_defs


def collect(evaluator: Any, files: Iterable[A.PolicyFile], results: Iterable[Any],
            in_scope: Callable[[ir.RuleIR], bool] | None = None) -> Coverage:
    """Coverage of the evaluator's rules (those `in_scope`) by the results of `ruletests.run`."""
    schemas = evaluator.program.schemas
    by_kind = {k: Nullable(s) for k, s in schemas.items()}  # each rule against its kind's schema
    nullable = by_kind.get("interaction") or Nullable(evaluator.program.schema)
    ast_rules, pack_defs = _ast_index(files)
    plans: dict[str, _RulePlan] = {}
    for r in evaluator.program.rules:
        if in_scope is None or in_scope(r):
            plans[r.id] = _RulePlan(r, ast_rules.get(r.id), pack_defs.get(r.pack, {}),
                                    by_kind.get(r.record_kind, nullable))
    for r in evaluator.program.rules:  # a template's review comes from the requires naming it
        for q in r.requires:
            target = plans.get(q.boundary)
            if target is not None and target.rule.when is None and may_be_unknown(q.cond, nullable):
                target.cov.review_possible = True
    results = list(results)
    ran = 0
    for tr in results:
        res = getattr(tr, "result", None)
        if res is None or res.trace is None:
            continue
        ran += 1
        name = tr.test.name
        _statuses(res.trace, plans, name)
        if getattr(tr, "record", None) is not None:
            _replay(evaluator, tr.record, res.params, getattr(tr, "window", None), plans,
                    getattr(tr, "store", None))
    ordered = [plans[r.id] for r in evaluator.program.rules if r.id in plans]
    return Coverage([p.cov for p in ordered], ran)


def _note(cov: RuleCoverage, status: Any, test: str) -> None:
    key = {True: "fired", False: "not_fired", None: "review"}[status]
    setattr(cov, key, getattr(cov, key) + 1)
    cov.tests[key].add(test)


def _statuses(trace, plans: dict[str, _RulePlan], test: str) -> None:
    for entry in trace:
        plan = plans.get(entry.rule.id)
        if plan is not None:
            status = entry.status
            if status is True and entry.rule.kind == "permit" and any(s is None for _, s in entry.requires):
                _note(plan.cov, None, test)  # applies, but a requirement is undecidable
            _note(plan.cov, status, test)
        for q, s in entry.requires:
            if plan is not None:
                idx = next((i for i, x in enumerate(entry.rule.requires) if x is q), None)
                if idx is not None:
                    rc = plan.cov.requires[idx]
                    if s is True:
                        rc.met += 1
                    elif s is False:
                        rc.breached += 1
                    else:
                        rc.undecided += 1
            bplan = plans.get(q.boundary)
            if bplan is not None and bplan.rule.when is None:
                _note(bplan.cov, None if s is None else (not s), test)


def _replay(ev: Any, record: dict, params: dict, window: Callable | None,
            plans: dict[str, _RulePlan], store: Any = None) -> None:
    """Evaluate the conditions of the rules in force again, compiled with watchers at their
    enum and threshold sites (the same short-circuits as the evaluator's own closures)."""
    in_force = ev.in_force(record["jurisdiction"], record["date"], record.get("record_kind") or "interaction")
    for c in [*in_force.rules, *in_force.tolerances]:
        plan = plans.get(c.ir.id)
        if plan is None or not (plan.enums or plan.thresholds):
            continue
        rule = c.ir
        when, unless, requires = plan.watched(ev.closures)
        v: dict = {"$store": store} if store is not None else {}
        if rule.window is not None:
            v["$window"] = window(c, record, params) if window is not None else None
        instances = [v]
        if rule.foreach is not None:
            var, coll = rule.foreach
            items = ev.closures(coll)(record, params, v)
            instances = [{**v, var: item} for item in items or ()]
        for bindings in instances:
            try:
                status = when(record, params, bindings) if when is not None else None
                if unless is not None and status is not False:
                    u = unless(record, params, bindings)
                    status = False if u is True else (None if (status is None or u is None) else True)
                if status is True and rule.kind == "permit":
                    for q in requires:
                        q(record, params, bindings)
            except (TypeError, KeyError, AttributeError, ValueError, ArithmeticError):
                continue  # coverage is an observer: a value it cannot compute is simply not counted


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


__all__ = [
    "Coverage",
    "EnumCoverage",
    "Nullable",
    "RequireCoverage",
    "RuleCoverage",
    "ThresholdCoverage",
    "collect",
    "describe",
    "may_be_unknown",
    "to_json",
    "to_text",
]
