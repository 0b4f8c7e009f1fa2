"""Evaluate one record against the compiled rules in force, and decide its outcome.

Semantics (docs/language.md, "Evaluation"):
- forbid / boundary with `when`: condition true → its outcome (violation, or review if
  declared `outcome review`); unknown → review naming the missing facts.
- permit: `when` true → each `require` is checked: false → a finding of the named
  boundary; unknown → review; all true → the permit's `compliant` finding. `when`
  unknown → review (cannot tell whether the item applies).
- `overrides`: when the overriding rule holds (a forbid fired; a permit is compliant) for
  the same element, the overridden rule's findings are suppressed (kept for --explain).
- A compliant permit and a fired forbid on the same element with no override between
  them are a conflict: both stay, plus a `conflict` review finding.
- tolerance: when it holds, covered violation/review findings become `tolerated`.
- Outcome precedence: violation > review > tolerated > compliant > unlisted.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from . import ir
from .backends.python import Fn
from .explain import Closures, Explainer
from .params import ParamSet
from .values import add_duration

STORE = "$store"  # bindings key of the record store (`policy_dsl.store`)

PRECEDENCE = ("invalid", "violation", "review", "tolerated", "compliant", "unlisted")
_NO_BINDINGS: dict = {}  # read-only: closures never change their bindings
RANK = {o: i for i, o in enumerate(PRECEDENCE)}


class Finding:
    """One finding of one rule on one record (or element). Constructed with keywords; what is
    rarely set (conflicts, tolerance, suppression, pending exceptions) keeps its default."""

    __slots__ = ("bindings", "cond", "conflict", "covered", "kind", "outcome", "paths", "pending",
                 "require", "rule", "scope", "severity", "suppressed_by", "tolerated_by", "undecided",
                 "via")

    def __init__(self, *, rule: ir.RuleIR, kind: str, outcome: str, severity: str,
                 via: ir.RuleIR | None = None, scope: tuple | None = None, bindings: dict = _NO_BINDINGS,
                 paths: dict = _NO_BINDINGS, cond: ir.Expr | None = None, require: ir.RequireIR | None = None,
                 undecided: bool = False, conflict: tuple[str, str] | None = None,
                 covered: tuple[str, ...] = ()):
        self.rule = rule  # the rule whose id is reported (the boundary, for a failed require)
        self.kind = kind  # forbid | permit | boundary | tolerance | conflict
        self.outcome = outcome  # violation | review | tolerated | compliant
        self.severity = severity
        self.via = via  # the permit whose `require` produced this finding
        self.scope = scope  # (collection path, index) for `for each` rules
        self.bindings = bindings  # the variables bound (read-only: shared with the evaluation)
        self.paths = paths  # variable → concrete path of the element it is bound to (read-only)
        self.cond = cond  # decides `missing` for review findings
        self.require = require  # the failed/undecided `require`, for boundary findings
        self.undecided = undecided  # its condition (or require) is unknown: `cond` names what is missing
        self.conflict = conflict  # (permit, forbid) of a conflict finding
        self.covered = covered  # the rules a tolerance finding tolerated
        self.tolerated_by: str | None = None
        self.suppressed_by: str | None = None
        self.pending: str | None = None  # an exception (overrides) or tolerance that may apply but is undecided

    @property
    def evidence(self) -> tuple[tuple[str, ir.Expr], ...]:
        """The facts worth showing with this finding: its require's, else its rule's."""
        if self.require is not None:
            return self.require.evidence
        return (self.via or self.rule).evidence

    @property
    def rule_id(self) -> str:
        if self.conflict:
            return f"{self.conflict[0]}/{self.conflict[1]}"
        return self.rule.id

    @property
    def element(self) -> str | None:
        return f"{self.scope[0]}[{self.scope[1]}]" if self.scope else None


@dataclass(slots=True)
class TraceEntry:
    rule: ir.RuleIR
    element: str | None
    status: Any  # True | False | None
    requires: tuple = ()  # (RequireIR, status)


@dataclass(slots=True)
class RecordResult:
    outcome: str
    findings: list[Finding]
    suppressed: list[Finding]
    params: dict
    trace: list[TraceEntry] | None = None


class CompiledRule:
    """A rule with its condition, requires, list and window keys compiled."""

    __slots__ = ("coll", "coll_ir", "coll_path", "cond", "cond_ir", "ir", "keys", "looks_up", "requires",
                 "scopes", "uses_store", "var", "width")

    def __init__(self, rule: ir.RuleIR, closures: Closures):
        self.ir = rule
        # `when … unless …` is `when and not unless` (Kleene): one IR, compiled once; the same
        # IR names the missing facts of an undecided condition.
        self.cond_ir = rule.when if rule.unless is None or rule.when is None else ir.And(
            (rule.when, ir.Not(rule.unless, rule.when.type)), rule.when.type)
        self.cond: Fn = closures(self.cond_ir) if self.cond_ir is not None else _no_condition
        self.requires = tuple((q, closures(q.cond)) for q in rule.requires)
        self.coll_ir = rule.foreach[1] if rule.foreach else None
        self.coll = closures(self.coll_ir) if self.coll_ir is not None else None
        self.var = rule.foreach[0] if rule.foreach else None
        self.coll_path = _coll_path(rule.foreach[1]) if rule.foreach else None
        self.keys = tuple(closures(k) for k in rule.window.keys) if rule.window else ()
        self.width = closures(rule.window.width) if rule.window and rule.window.width is not None else None
        self.looks_up = frozenset(n.kind for e in ir.rule_exprs(rule) for n in ir.walk(e)
                                  if isinstance(n, (ir.Lookup, ir.Related)))  # the kinds it reads
        self.uses_store = bool(self.looks_up)
        # (scope, paths) of the first elements, shared by their findings (read-only, like paths)
        self.scopes = [self.scope(i) for i in range(16)] if self.var else []

    def first_day(self, record: dict, params: dict) -> dt.date | None:
        """The first day of this window rule's window for `record` (None: its width is unknown)."""
        day = record["date"]
        if self.width is None:
            return day - dt.timedelta(days=self.ir.window.days)  # type: ignore[union-attr]
        width = self.width(record, params, _NO_BINDINGS)
        if width is None:
            return None
        try:
            return add_duration(day, width, -1)
        except (OverflowError, ValueError):
            return None

    def scope(self, index: int) -> tuple[tuple, dict]:
        """The scope and paths of a finding on element `index` of this rule's list."""
        return (self.coll_path, index), {self.var: f"{self.coll_path}[{index}]"}


def _no_condition(r: dict, p: dict, v: dict) -> None:
    """The condition of a boundary template (never evaluated on its own): unknown."""


def change_dates(program: ir.ProgramIR, params: ParamSet) -> list[dt.date]:
    """Every date on which a pack, a rule or a parameter value starts or stops being in force:
    between two consecutive ones nothing that depends on the date can change."""
    days: set[dt.date] = set()
    for pack in program.packs:
        days.update(d for d in (pack.start, pack.until) if d is not None)
        for r in pack.rules:
            days.update(d for d in (r.start, r.until) if d is not None)
    for prof in params.profiles.values():
        for versions in prof.values.values():
            for v in versions:
                days.update(d for d in (v.start, v.until) if d is not None)
    return sorted(days)


def _coll_path(e: ir.Expr) -> str:
    if isinstance(e, ir.Field):
        return e.path
    return "items"


def covers_jurisdiction(claim: tuple[str, ...] | None, code: str) -> bool:
    """A pack claiming `150300` applies to 150300 and its districts (1503xx); `150000` to the
    whole province; `000000` (or no claim) everywhere."""
    if claim is None:
        return True
    for c in claim:
        if c == code or c == "000000":
            return True
        if c.endswith("0000") and code[:2] == c[:2]:
            return True
        if c.endswith("00") and code[:4] == c[:4]:
            return True
    return False


WindowLookup = Callable[[CompiledRule, dict, dict], Any]


class InForce(NamedTuple):
    """What applies to a record of one jurisdiction on one day."""

    params: dict  # parameter values
    rules: list[CompiledRule]  # rules with a condition (not tolerances)
    tolerances: list[CompiledRule]


class Evaluator:
    """A compiled program plus its parameters: evaluates records one at a time."""

    def __init__(self, program: ir.ProgramIR, params: ParamSet):
        self.program = program
        self.params = params
        self.closures = Closures()
        self.rules = [CompiledRule(r, self.closures) for r in program.rules]
        self.by_id = {c.ir.id: c for c in self.rules}
        self.packs = {p.name: p for p in program.packs}
        self.window_rules = [c for c in self.rules if c.ir.window is not None]
        needs: dict[str, frozenset[str]] = {}  # by record kind: the kinds its rules look up
        for c in self.rules:
            if c.looks_up:
                needs[c.ir.record_kind] = needs.get(c.ir.record_kind, frozenset()) | c.looks_up
        self.store_needs = needs
        self.uses_store = bool(needs)
        self.params_read = frozenset(n.name for r in program.rules for e in ir.rule_exprs(r)
                                     for n in ir.walk(e) if isinstance(n, ir.ParamRef))
        self._change_dates = change_dates(program, params)
        self._in_force: dict[tuple, InForce] = {}
        kinds = {c.ir.kind for c in self.rules}
        self._overridden = frozenset(o for c in self.rules for o in c.ir.overrides)
        self._conflicts_possible = "permit" in kinds and "forbid" in kinds

    def epoch(self, code: str, day: dt.date) -> tuple[str, int]:
        """The jurisdiction and the interval between two consecutive change dates that `day` is
        in: nothing that depends on the date (rules and parameter values in force, their
        versions) differs between two days of one epoch."""
        return (code, bisect.bisect_right(self._change_dates, day))

    def in_force(self, code: str, day: dt.date, kind: str = ir.DEFAULT_KIND) -> InForce:
        """Parameter values and rules in force for a jurisdiction, date and record kind, worked
        out once per epoch."""
        key = (*self.epoch(code, day), kind)
        hit = self._in_force.get(key)
        if hit is None:
            active = [c for c in self.rules
                      if c.ir.in_force(day) and self.packs[c.ir.pack].in_force(day)
                      and c.ir.record_kind == kind
                      and covers_jurisdiction(self.packs[c.ir.pack].applies_to, code)]
            hit = InForce(self.params.values_for(code, day),
                          [c for c in active if c.ir.when is not None and c.ir.kind != "tolerance"],
                          [c for c in active if c.ir.kind == "tolerance"])
            if len(self._in_force) > 100_000:
                self._in_force.clear()
            self._in_force[key] = hit
        return hit

    def params_for(self, code: str, day: dt.date) -> dict:
        return self.in_force(code, day).params

    def evaluate(self, r: dict, window: WindowLookup | None = None, *, trace: bool = False,
                 store: Any = None) -> RecordResult:
        """The findings and outcome of one record. `window(rule, record, params)`: the records of
        a window rule's window; `store`: the records lookups may find (`policy_dsl.store`)."""
        p, rules, tolerances = self.in_force(r["jurisdiction"], r["date"], r.get("record_kind") or ir.DEFAULT_KIND)
        with_store = {STORE: store} if store is not None else _NO_BINDINGS
        findings: list[Finding] = []
        sizes: dict[str, int] = {}  # elements of each `for each` rule's list
        entries: list[TraceEntry] | None = [] if trace else None
        instance = self._instance
        for c in rules:
            if c.keys:
                v: dict = {"$window": window(c, r, p) if window is not None else None}
                if c.uses_store and store is not None:
                    v[STORE] = store
            elif c.uses_store:
                v = with_store
            else:
                v = _NO_BINDINGS
            if c.coll is None:
                status = c.cond(r, p, v)
                if status is not False or entries is not None:
                    instance(c, r, p, v, None, status, findings, entries)
                continue
            items = c.coll(r, p, v)
            if items is None:
                findings.append(Finding(rule=c.ir, kind=c.ir.kind, outcome="review", severity=c.ir.severity,
                                        cond=c.coll_ir, undecided=True))
                if entries is not None:
                    entries.append(TraceEntry(c.ir, None, None))
                continue
            sizes[c.ir.id] = len(items)
            if not items:
                continue
            cond, var = c.cond, c.var
            v = dict(v)
            for i, item in enumerate(items):
                v[var] = item
                status = cond(r, p, v)
                if status is not False or entries is not None:
                    instance(c, r, p, dict(v), i, status, findings, entries)
        if not findings and not tolerances:
            return RecordResult("unlisted", findings, [], p, entries)
        suppressed: list[Finding] = []
        if self._overridden:
            findings, suppressed = _apply_overrides(findings, sizes, self._overridden)
        if self._conflicts_possible:
            findings.extend(_conflicts(findings))
        for t in tolerances:
            tv = with_store if t.uses_store else _NO_BINDINGS
            status = t.cond(r, p, tv)
            if entries is not None:
                entries.append(TraceEntry(t.ir, None, status))
            if status is True:
                findings = _tolerate(t.ir, findings)
            elif status is None:
                _tolerance_undecided(t, findings, tv)
        outcome = "unlisted"
        for f in findings:
            if RANK[f.outcome] < RANK[outcome]:
                outcome = f.outcome
        return RecordResult(outcome, findings, suppressed, p, entries)

    def _instance(self, c: CompiledRule, r, p, v, index, status, findings, entries) -> None:
        """The findings of one rule on one record (or element) whose condition is `status`."""
        rule = c.ir
        if index is None:
            scope, paths = None, _NO_BINDINGS  # shared and read-only, like every finding's paths
        elif index < len(c.scopes):
            scope, paths = c.scopes[index]
        else:
            scope, paths = c.scope(index)
        req_status: list | None = [] if entries is not None else None
        if status is None:
            findings.append(Finding(rule=rule, kind=rule.kind, outcome="review", severity=rule.severity,
                                    scope=scope, bindings=v, paths=paths, cond=c.cond_ir, undecided=True))
        elif status is True and rule.kind == "permit":
            ok = True
            for q, fn in c.requires:
                s = fn(r, p, v)
                if req_status is not None:
                    req_status.append((q, s))
                if s is not True:
                    ok = False
                    b = self.by_id.get(q.boundary)
                    brule = b.ir if b is not None else rule
                    bv, bpaths = v, paths
                    if brule.foreach is not None and c.var is not None and brule.foreach[0] != c.var:
                        # The boundary's messages name the element by its own variable.
                        bv = {**v, brule.foreach[0]: v[c.var]}
                        bpaths = {**paths, brule.foreach[0]: paths[c.var]}
                    findings.append(Finding(rule=brule, kind="boundary",
                                            outcome="review" if s is None else brule.outcome,
                                            severity=q.severity, via=rule, scope=scope, bindings=bv,
                                            paths=bpaths, cond=q.cond, require=q, undecided=s is None))
            if ok:
                findings.append(Finding(rule=rule, kind="permit", outcome="compliant", severity=rule.severity,
                                        scope=scope, bindings=v, paths=paths))
        elif status is True:
            findings.append(Finding(rule=rule, kind=rule.kind, outcome=rule.outcome, severity=rule.severity,
                                    scope=scope, bindings=v, paths=paths))
        if entries is not None:
            entries.append(TraceEntry(rule, paths.get(c.var) if index is not None else None, status,
                                      tuple(req_status or ())))

    def explainer(self, r: dict, f: Finding, params: dict) -> Explainer:
        """An explainer of the finding's record and element, its witnesses bound."""
        rule = f.via or f.rule
        keys = window_facts(rule)
        t = Explainer(self.closures, r, params, f.bindings, f.paths, keys)
        for w in rule.witnesses:
            if w.var not in t.v:  # a binding from the finding (its element) comes first
                t.witness(w)
        return t


def window_facts(rule: ir.RuleIR) -> tuple[ir.Expr, ...]:
    """What an unknown window lacks: its keys, and its width when a parameter gives it."""
    if rule.window is None:
        return ()
    return rule.window.keys + ((rule.window.width,) if rule.window.width is not None else ())


def _fired(f: Finding) -> bool:
    """Whether the finding's rule holds: a permit compliant, a forbid or cross-cutting boundary
    fired (not merely undecided)."""
    if f.undecided or f.via is not None:
        return False
    if f.kind == "permit":
        return f.outcome == "compliant"
    return f.kind in ("forbid", "boundary")


_RANK = {"fails": 0, "undecided": 1, "holds": 2}


def _winner_status(findings: list[Finding]) -> dict[str, dict]:
    """For each overriding rule, its status on each scope it was evaluated on: `holds`,
    `undecided`, or `fails` (a permit whose `require` was breached); the weakest wins."""
    status: dict[str, dict] = {}
    for f in findings:
        if f.kind in ("conflict", "tolerance"):
            continue
        w = f.via or f.rule
        if not w.overrides:
            continue
        if _fired(f):
            st = "holds"
        elif f.undecided:
            st = "undecided"
        elif f.via is not None:
            st = "fails"
        else:
            continue
        scopes = status.setdefault(w.id, {"$rule": w})
        cur = scopes.get(f.scope)
        if cur is None or _RANK[st] < _RANK[cur[0]]:
            scopes[f.scope] = (st, f)
    return status


def _status_for(scopes: dict, loser: Finding, size: int | None) -> tuple[str, Finding] | None:
    """The winner's status where it would cover `loser`: a record-level winner covers every
    element; an element-level winner covers the same element, or a record-level finding only
    when it was evaluated on every element of its list (the finding may be about any of them)."""
    if None in scopes:
        return scopes[None]
    if loser.scope is not None:
        return scopes.get(loser.scope)
    per_element = [v for k, v in scopes.items() if k != "$rule"]
    if not size or len(per_element) != size:
        return None
    worst = min(per_element, key=lambda sf: _RANK[sf[0]])
    return worst


def _apply_overrides(findings: list[Finding], sizes: dict[str, int],
                     overridden: frozenset[str] | None = None) -> tuple[list[Finding], list[Finding]]:
    """Suppress findings of overridden rules where the overriding rule holds (on a scope that
    covers them). Where it is undecided, an overridden violation becomes a review naming the
    facts that would decide the exception (Kleene: `loser and not winner` is unknown).
    `overridden`: the ids any rule overrides (only their findings can be affected)."""
    losers = [f for f in findings if f.via is None and f.kind not in ("conflict", "tolerance")
              and (overridden is None or f.rule.id in overridden)]
    if not losers:
        return findings, []
    status = _winner_status(findings)
    if not status:
        return findings, []
    gone: set[int] = set()
    suppressed = []
    for f in losers:
        holder = pending = None
        for wid, scopes in status.items():
            if f.rule.id not in scopes["$rule"].overrides or wid == f.rule.id:
                continue
            found = _status_for(scopes, f, sizes.get(wid))
            if found is None:
                continue
            st, h = found
            if st == "holds":
                holder = h
                break
            if st == "undecided" and pending is None:
                pending = h
        if holder is not None:
            f.suppressed_by = (holder.via or holder.rule).id
            suppressed.append(f)
            gone.add(id(f))
        elif pending is not None and f.outcome == "violation":
            f.outcome = "review"
            f.pending = (pending.via or pending.rule).id
            f.cond = pending.cond
            f.bindings = {**f.bindings, **pending.bindings}
            f.paths = {**f.paths, **pending.paths}
    if not gone:
        return findings, suppressed
    return [f for f in findings if id(f) not in gone], suppressed


def _conflicts(findings: list[Finding]) -> list[Finding]:
    permits = [f for f in findings if f.kind == "permit" and f.outcome == "compliant"]
    if not permits:
        return []
    forbids = [f for f in findings if f.kind == "forbid" and f.outcome == "violation" and not f.undecided]
    out = []
    for pf in permits:
        for nf in forbids:
            if pf.scope != nf.scope:
                continue
            if nf.rule.id in pf.rule.overrides or pf.rule.id in nf.rule.overrides:
                continue
            out.append(Finding(rule=pf.rule, kind="conflict", outcome="review", severity="medium",
                               scope=pf.scope, bindings=pf.bindings, paths=pf.paths,
                               conflict=(pf.rule.id, nf.rule.id)))
    return out


def _tolerable(t: ir.RuleIR, f: Finding) -> bool:
    if f.outcome not in ("violation", "review") or f.kind in ("conflict", "tolerance"):
        return False
    rid = f.rule.id
    if t.covers is not None:
        return rid in t.covers
    return rid not in t.covers_except and (f.via is None or f.via.id not in t.covers_except)


def _tolerance_undecided(t: CompiledRule, findings: list[Finding], bindings: dict = _NO_BINDINGS) -> None:
    """A tolerance that may apply (its condition is unknown): the violations it would cover
    become reviews naming the facts that decide it."""
    rule, cond = t.ir, t.cond_ir
    for f in findings:
        if f.outcome == "violation" and _tolerable(rule, f):
            f.outcome = "review"
            f.pending = rule.id
            f.cond = cond
            if STORE in bindings:
                f.bindings = {**f.bindings, STORE: bindings[STORE]}


def _tolerate(t: ir.RuleIR, findings: list[Finding]) -> list[Finding]:
    covered = []
    for f in findings:
        if _tolerable(t, f):
            f.outcome = "tolerated"
            f.tolerated_by = t.id
            covered.append(f.rule.id)
    if covered:
        findings.append(Finding(rule=t, kind="tolerance", outcome="tolerated", severity=t.severity,
                                covered=tuple(covered)))
    return findings
