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
where it matters legally. Values are observed by the compiled conditions themselves, compiled again with a watcher at each
site, replaying each test record rule by rule with the same parameters and windows as the test
run. The sites are in `coverage_sites.py`, the records in `coverage_model.py`, the presentation in
`coverage_report.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from checker.authoring.coverage_model import (
    Coverage,
    EnumCoverage,
    RequireCoverage,
    RuleCoverage,
    Site,
    ThresholdCoverage,
)
from checker.authoring.coverage_sites import (
    Nullable,
    _enum_values,
    _impossible,
    _Labels,
    _threshold,
    describe,
    may_be_unknown,
)
from policy_dsl import ast as A
from policy_dsl import ir
from policy_dsl.backends.python import compile_expr
from policy_dsl.unparse import unparse


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
