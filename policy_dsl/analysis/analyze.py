"""Conflicts, gaps and dead rules of the packs in force for one jurisdiction and date.

Method: every question is put to z3 over a symbolic record (model.py, encode.py); lists
hold at most `list_bound` elements. A "yes, here is a record" answer is turned into a
JSON record, validated against the record schema, evaluated by the reference evaluator,
and reported only if the evaluator confirms the claim; the record is then shrunk (facts
dropped one at a time while the claim still holds). A "no record can" answer is reported
as proven, with the bound stated when the bound matters (aggregates over a list, or more
quantifiers over one list than the bound). Anything z3 could not settle, or a record the
evaluator did not confirm, is listed as undecided.

Definitions (as the evaluator defines the run-time behaviour, policy_dsl/evaluate.py):
- conflict: a permit compliant and a forbid firing (outcome violation) on the same scope
  (both record-level, or both `for each` over the same list, same element), neither
  suppressed by an `overrides`, with no `overrides` between the two.
- gap: a value of a decisive enum field such that some record carrying it gets no finding
  at all (outcome `unlisted`).
- dead rule: a condition (`when` and not `unless`) no valid record makes true; a
  `require` always met whenever its permit applies; a `require` never met.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import z3

from .. import ir
from ..evaluate import Evaluator, covers_jurisdiction
from ..params import ParamSet
from .encode import Encoder
from .model import EnumIds, SymRecord, required_paths, schema_index
from .show import conjuncts, show

DEFAULT_GAP_FIELDS = ("interaction.kind", "meals[].reason", "gifts[].form")
METHOD = "z3"


@dataclass(frozen=True)
class Options:
    jurisdiction: str = "000000"
    day: dt.date = field(default_factory=dt.date.today)
    list_bound: int = 3
    timeout_ms: int = 20000
    gap_fields: tuple[str, ...] = DEFAULT_GAP_FIELDS


@dataclass
class Issue:
    """One analysis finding (a warning for the author)."""

    kind: str  # conflict | gap | dead_rule | require_implied | require_never_met
    rules: tuple[str, ...]
    message: tuple[str, str]  # zh, en
    span: Any = None  # policy_dsl.errors.Span of the main rule
    field_name: str | None = None
    value: str | None = None
    record: dict | None = None  # counterexample (raw JSON record), confirmed by the evaluator
    claim: dict = field(default_factory=dict)  # what `qinqing check` on the record shows
    bound: str | None = None  # caveat when the answer holds only within the list bound
    detail: tuple[tuple[str, str], ...] = ()  # (zh, en) notes

    @property
    def key(self) -> str:
        parts = [self.kind, *self.rules]
        if self.field_name:
            parts += [self.field_name.replace("[]", ""), self.value or ""]
        return "-".join(p.replace(".", "_") for p in parts if p)


@dataclass
class Undecided:
    kind: str
    subject: str
    reason: tuple[str, str]


@dataclass
class Analysis:
    jurisdiction: str
    day: dt.date
    method: str
    solver: str
    list_bound: int
    packs: list[dict]
    rules: int
    issues: list[Issue]
    undecided: list[Undecided]
    checked: dict[str, int]
    approximations: list[str]
    gap_fields: tuple[str, ...]


# ---- helpers over rules -------------------------------------------------------------
def _coll_path(rule: ir.RuleIR) -> str | None:
    if rule.foreach is None:
        return None
    e = rule.foreach[1]
    return e.path if isinstance(e, ir.Field) else "items"


def _exprs(rule: ir.RuleIR) -> Iterable[ir.Expr]:
    if rule.foreach:
        yield rule.foreach[1]
    for x in (rule.when, rule.unless):
        if x is not None:
            yield x
    for q in rule.requires:
        yield q.cond


def list_usage(rules: Iterable[ir.RuleIR]) -> dict[str, tuple[int, bool]]:
    """Per list path: how many quantifiers/`for each` range over it, and whether anything
    counts, sums, indexes or nests over it (then a bounded list is not a proof)."""
    occ: dict[str, int] = {}
    agg: set[str] = set()
    for r in rules:
        if r.foreach is not None and isinstance(r.foreach[1], ir.Field):
            occ[r.foreach[1].path] = occ.get(r.foreach[1].path, 0) + 1
        for e in _exprs(r):
            for node in ir.walk(e):
                coll = None
                if isinstance(node, (ir.Quant, ir.Agg)):
                    coll = node.coll
                elif isinstance(node, ir.IndexExpr) or (isinstance(node, ir.Builtin) and node.fn == "length"):
                    coll = node.base if isinstance(node, ir.IndexExpr) else node.args[0]
                    if isinstance(coll, ir.Field) and coll.type.kind == "list":
                        agg.add(coll.path)
                    continue
                if not isinstance(coll, ir.Field):
                    continue
                occ[coll.path] = occ.get(coll.path, 0) + 1
                if isinstance(node, ir.Agg) or any(isinstance(n, (ir.Quant, ir.Agg)) and n is not node and isinstance(n.coll, ir.Field)
                         and n.coll.path == coll.path for n in ir.walk(node.body)):
                    agg.add(coll.path)
    return {k: (v, k in agg) for k, v in occ.items()}


def _windowed(rules: Iterable[ir.RuleIR]) -> bool:
    return any(r.window is not None for r in rules)


# ---- the analyser -------------------------------------------------------------------
Validate = Callable[[dict], tuple[dict | None, list]]


class Analyzer:
    kind: str = ir.DEFAULT_KIND  # the kind of record analysed

    def __init__(self, program: ir.ProgramIR, params: ParamSet, options: Options, validate: Validate):
        self.program = program
        self.params = params
        self.opt = options
        self.pvalues = params.values_for(options.jurisdiction, options.day)
        self.evaluator = Evaluator(program, params)
        packs = {p.name: p for p in program.packs}
        self.in_force = [r for r in program.rules
                         if r.in_force(options.day) and packs[r.pack].in_force(options.day)
                         and covers_jurisdiction(packs[r.pack].applies_to, options.jurisdiction)]
        self.packs = [p for p in program.packs if p.in_force(options.day)
                      and covers_jurisdiction(p.applies_to, options.jurisdiction)]
        self.active = [r for r in self.in_force if r.when is not None and r.kind != "tolerance"]
        self.by_id = {r.id: r for r in self.in_force}
        self.issues: list[Issue] = []
        self.undecided: list[Undecided] = []
        self.approx: set[str] = set()
        self.checked = {"conflict_pairs": 0, "gap_values": 0, "rules": 0, "requires": 0}
        self.validate = validate  # raw JSON record → (normalised record or None, errors)
        self.index = schema_index(program.schema)
        self.required = frozenset(required_paths(program.schema))

    # ---- encoding plumbing ------------------------------------------------------------
    def _new(self, rules: Iterable[ir.RuleIR]) -> tuple[SymRecord, Encoder, str | None]:
        rules = list(rules)
        usage = list_usage(rules)
        bound = self.opt.list_bound
        bounds = {p: max(1, min(n, bound)) for p, (n, _) in usage.items()}
        caveats = sorted(p for p, (n, agg) in usage.items() if agg or n > bound)
        fixed = {"id": "CX", "jurisdiction": self.opt.jurisdiction, "date": self.opt.day}
        if self.kind != ir.DEFAULT_KIND:
            fixed["record_kind"] = self.kind
        sym = SymRecord(fixed, bounds, max(1, bound), EnumIds(), self.index, self.required)
        enc = Encoder(sym, self.pvalues)
        caveat = None
        if caveats:
            caveat = f"lists {', '.join(caveats)} bounded to {bound} elements"
        if _windowed(rules):
            caveat = (caveat + "; " if caveat else "") + "cross-record windows hold only the record itself"
        return sym, enc, caveat

    def _instances(self, enc: Encoder, rule: ir.RuleIR, only_first: bool = False):
        """(collection known, [(present, env)]) of a rule's evaluations on one record."""
        enc.window_keys = rule.window.keys if rule.window else ()
        if rule.foreach is None:
            return z3.BoolVal(True), [(z3.BoolVal(True), {})]
        coll = enc.collection(rule.foreach[1], {})
        items = coll.items[:1] if only_first else coll.items
        return coll.known, [(p, {rule.foreach[0]: item}) for p, item in items]

    def _cond(self, enc: Encoder, rule: ir.RuleIR, env: dict) -> tuple[z3.BoolRef, z3.BoolRef]:
        """(condition true, condition false) as the evaluator's CompiledRule.condition."""
        enc.window_keys = rule.window.keys if rule.window else ()
        w = enc.scalar(rule.when, env)
        wt, wf = z3.And(w.known, w.value), z3.And(w.known, z3.Not(w.value))
        if rule.unless is None:
            return wt, wf
        u = enc.scalar(rule.unless, env)
        ut, uf = z3.And(u.known, u.value), z3.And(u.known, z3.Not(u.value))
        return z3.And(wt, uf), z3.Or(wf, ut)

    def _holds(self, enc: Encoder, rule: ir.RuleIR, env: dict) -> z3.BoolRef:
        t, _ = self._cond(enc, rule, env)
        if rule.kind == "permit":
            return z3.And([t] + [enc.truth(q.cond, env) for q in rule.requires])
        return t

    def _threat(self, enc: Encoder, rule: ir.RuleIR, env: dict, undecided: bool) -> z3.BoolRef:
        """Whether a finding of `rule` on this scope would act as a winning `overrides`:
        fired (permit compliant, forbid/boundary true), or, if `undecided`, undecided
        (condition unknown, or a permit applying with a require unknown)."""
        t, f = self._cond(enc, rule, env)
        if rule.kind == "permit":
            reqs = [enc.scalar(q.cond, env) for q in rule.requires]
            fired = z3.And([t] + [z3.And(v.known, v.value) for v in reqs])
            pending = z3.And(t, z3.Or([z3.Not(v.known) for v in reqs]))
        else:
            fired, pending = t, z3.BoolVal(False)
        if not undecided:
            return fired
        return z3.Or(fired, pending, z3.And(z3.Not(t), z3.Not(f)))

    def _silent(self, enc: Encoder, rule: ir.RuleIR) -> z3.BoolRef:
        known, inst = self._instances(enc, rule)
        parts = [known]
        for present, env in inst:
            _, f = self._cond(enc, rule, env)
            parts.append(z3.Implies(present, f))
        return z3.And(parts)

    def _solver(self) -> z3.Solver:
        s = z3.Solver()
        s.set("timeout", self.opt.timeout_ms)
        return s

    def _model(self, s: z3.Solver, sym: SymRecord, extra: list | None = None) -> tuple[str, Any]:
        s.push()
        for c in extra or []:
            s.add(c)
        r = s.check()
        if r != z3.sat:
            s.pop()
            return str(r), None
        # Prefer amounts in whole cents and short printable text (what people write), if the
        # question allows it.
        reals = [leaf.value for leaf in sym.leaves.values() if leaf.info.kind in ("money", "number")]
        m = s.model()
        prefs = [z3.IsInt(x * 100) for x in reals] + sym.preferences
        if prefs:
            s.push()
            s.add(prefs)
            if s.check() == z3.sat:
                m = s.model()
            s.pop()
        s.pop()
        return "sat", m

    # ---- confirmation by the evaluator ------------------------------------------------------
    def evaluate_raw(self, raw: dict):
        data, _errors = self.validate(copy.deepcopy(raw))
        if data is None:
            return None
        try:
            return self.evaluator.evaluate(data, self._window)
        except Exception:  # noqa: BLE001 - an evaluator crash leaves the claim unconfirmed
            return None

    def _window(self, c, record: dict, params: dict):
        key = tuple(k(record, params, {}) for k in c.keys)
        return None if any(v is None for v in key) else [record]

    def _confirm(self, raw: dict, claim: Callable[[dict, Any], bool]) -> dict | None:
        res = self.evaluate_raw(raw)
        if res is None or not claim(raw, res):
            return None
        return self._shrink(raw, claim)

    def _shrink(self, raw: dict, claim: Callable[[dict, Any], bool]) -> dict:
        """Drop facts one at a time while the record stays valid and the claim holds."""
        fixed = {("id",), ("stage",), ("jurisdiction",), ("date",), ("official",), ("official", "id"),
                 ("record_kind",)}
        changed = True
        while changed:
            changed = False
            for path in sorted(_paths(raw), key=lambda p: (-len(p), p)):
                if path in fixed:
                    continue
                trial = copy.deepcopy(raw)
                if not _delete(trial, path):
                    continue
                res = self.evaluate_raw(trial)
                if res is not None and claim(trial, res):
                    raw = trial
                    changed = True
        return raw

    def _finish(self, raw: dict, name: str) -> dict:
        raw["id"] = name
        if self.kind != ir.DEFAULT_KIND:
            raw["record_kind"] = self.kind
            return raw
        raw.setdefault("stage", "completed")
        raw.setdefault("official", {}).setdefault("id", "O-CX")
        return raw

    # ---- conflicts ---------------------------------------------------------------------
    def conflicts(self) -> None:
        permits = [r for r in self.active if r.kind == "permit"]
        forbids = [r for r in self.active if r.kind == "forbid" and r.outcome == "violation"]
        for p in permits:
            for n in forbids:
                if n.id in p.overrides or p.id in n.overrides:
                    continue
                if _coll_path(p) != _coll_path(n):
                    continue
                self.checked["conflict_pairs"] += 1
                self._conflict(p, n)

    def _conflict(self, p: ir.RuleIR, n: ir.RuleIR) -> None:
        # Rules that may silence P or N: any rule with a condition that overrides either.
        overriders = [x for x in self.active if x.id not in (p.id, n.id)
                      and (p.id in x.overrides or n.id in x.overrides)]
        sym, enc, _ = self._new([p, n, *overriders])
        scope = _coll_path(p)
        cons = []
        if scope is None:
            cons += [self._holds(enc, p, {}), self._holds(enc, n, {})]
        else:
            _, ip = self._instances(enc, p, True)
            _, inn = self._instances(enc, n, True)
            present, env_p = ip[0]
            cons += [present, self._holds(enc, p, env_p), self._holds(enc, n, inn[0][1])]
        for x in overriders:
            # N's violation is silenced by X fired, and turned into a review by X undecided;
            # P's compliance only by X fired (evaluate._apply_overrides).
            undecided_counts = n.id in x.overrides
            xs = _coll_path(x)
            if xs is None:
                cons.append(z3.Not(self._threat(enc, x, {}, undecided_counts)))
                continue
            known, inst = self._instances(enc, x, True)
            if undecided_counts:
                cons.append(known)  # an unknown list is a record-level undecided finding
            if xs == scope:
                cons.append(z3.Not(self._threat(enc, x, inst[0][1], undecided_counts)))
        s = self._solver()
        s.add(sym.constraints)
        s.add(cons)
        status, m = self._model(s, sym)
        self.approx |= enc.approx
        subject = f"{p.id}/{n.id}"
        if status == "unsat":
            return
        if status != "sat":
            self.undecided.append(Undecided("conflict", subject, _solver_reason(status)))
            return

        def claim(raw: dict, res) -> bool:
            return any(f.kind == "conflict" and f.conflict == (p.id, n.id) for f in res.findings)

        raw = self._finish(sym.to_record(m), f"CX-conflict-{p.id}-{n.id}")
        raw = self._confirm(raw, claim)
        if raw is None:
            self.undecided.append(Undecided("conflict", subject, _unconfirmed(enc.approx)))
            return
        where = f"同一 {scope} 元素" if scope else "同一记录"
        where_en = f"the same {scope} element" if scope else "the same record"
        self.issues.append(Issue(
            "conflict", (p.id, n.id),
            (f"正面清单 {p.id} 与负面清单 {n.id} 可同时成立于{where}，二者之间未声明 overrides",
             (f"permit {p.id} and forbid {n.id} can both hold on {where_en}, "
              "with no `overrides` between them")),
            p.span, record=raw, claim={"conflict": f"{p.id}/{n.id}", "outcome": self.evaluate_raw(raw).outcome},
            bound=None, detail=(((f"提示：在 {p.id} 中声明 `overrides {n.id}`，或在 {n.id} 中声明 "
                                  f"`overrides {p.id}`，或收窄其中一条的条件"),
                                 (f"hint: add `overrides {n.id}` to {p.id}, or `overrides {p.id}` to "
                                  f"{n.id}, or narrow one of the conditions")),)))

    # ---- gaps --------------------------------------------------------------------------
    def gaps(self) -> None:
        index = self.index
        for fpath in self.opt.gap_fields:
            info = index.get(fpath)
            if info is None or info.kind != "enum":
                self.undecided.append(Undecided("gap", fpath, ("不是记录模式中的枚举字段",
                                                               "not an enum field of the record schema")))
                continue
            self._gaps_of(fpath, info.values)

    def _gaps_of(self, fpath: str, values: tuple[str, ...]) -> None:
        sym, enc, caveat = self._new(self.active)
        silent = [self._silent(enc, r) for r in self.active]
        if "[]" in fpath:
            lpath, leaf_name = fpath.split("[].", 1)
            lst = sym.list(lpath)
            leaf = sym.leaf(f"{lpath}.0.{leaf_name}")
            base = [lst.known, lst.length >= 1, leaf.known]
        else:
            leaf = sym.leaf(fpath)
            base = [leaf.known]
        s = self._solver()
        s.add(sym.constraints)
        s.add(silent)
        s.add(base)
        mentioned = _mentioned(self.active, fpath)
        self.approx |= enc.approx
        for v in values:
            self.checked["gap_values"] += 1
            status, m = self._model(s, sym, [leaf.value == sym.enums.id(v)])
            if status == "unsat":
                continue
            subject = f"{fpath} = {v}"
            if status != "sat":
                self.undecided.append(Undecided("gap", subject, _solver_reason(status)))
                continue

            def claim(raw: dict, res, v=v) -> bool:
                return res.outcome == "unlisted" and v in _values_at(raw, fpath)

            name = f"CX-gap-{fpath.replace('[]', '')}-{v}"
            raw = self._confirm(self._finish(sym.to_record(m), name), claim)
            if raw is None:
                self.undecided.append(Undecided("gap", subject, _unconfirmed(enc.approx)))
                continue
            if v in mentioned:
                msg = (f"{fpath} = {v}：规则提到此值，但存在带此值而无任何条目适用的记录（结论 unlisted）",
                       (f"{fpath} = {v}: rules mention this value, but a record with it can match "
                        "no item of either list (outcome unlisted)"))
            else:
                msg = (f"{fpath} = {v}：正负面清单均未涵盖此值（结论 unlisted）",
                       (f"{fpath} = {v}: no positive or negative item covers this value "
                        "(outcome unlisted)"))
            self.issues.append(Issue("gap", (), msg, None, fpath, v, raw, {"outcome": "unlisted"},
                                     None, (("提及此值的规则：" + "、".join(sorted(mentioned[v])),
                                             "mentioned by: " + ", ".join(sorted(mentioned[v]))),)
                                     if v in mentioned else ()))
        if caveat:
            self._bounded_note("gap", fpath, caveat)

    def _bounded_note(self, kind: str, subject: str, caveat: str) -> None:
        self.undecided.append(Undecided(kind, subject, (
            f"“无遗漏”的结论仅在以下限制内成立：{caveat}",
            f"'covered' answers hold within these limits only: {caveat}")))

    # ---- dead rules --------------------------------------------------------------------
    def dead(self) -> None:
        for r in [x for x in self.in_force if x.when is not None]:
            self.checked["rules"] += 1
            self._dead_rule(r)

    def _dead_rule(self, r: ir.RuleIR) -> None:
        sym, enc, caveat = self._new([r])
        _, inst = self._instances(enc, r, True)
        present, env = inst[0]
        t, _ = self._cond(enc, r, env)
        s = self._solver()
        s.add(sym.constraints)
        s.add(present)
        s.push()
        s.add(t)
        status = s.check()
        s.pop()
        self.approx |= enc.approx
        if status == z3.unknown:
            self.undecided.append(Undecided("dead_rule", r.id, _solver_reason("unknown")))
            return
        if status == z3.sat:
            if r.kind == "permit":
                self._requires(r, sym, enc, s, t, env, caveat)
            return
        if r.window is not None:
            self.undecided.append(Undecided("dead_rule", r.id, (
                "单条记录无法使条件成立，但该规则跨记录（window），批量中可能成立",
                "no single record makes it true, but it is a cross-record (window) rule")))
            return
        detail = self._core(r, enc, sym, env)
        what = ("条件（when 且非 unless）在记录模式下永不成立",
                "its condition (`when` and not `unless`) can never be true under the record schema")
        if r.unless is not None:
            s.push()
            w = enc.scalar(r.when, env)
            s.add(z3.And(w.known, w.value))
            if s.check() == z3.sat:
                what = ("unless 在 when 成立时总成立，规则永不触发",
                        "its `unless` always holds when its `when` does: it never fires")
            s.pop()
        self.issues.append(Issue("dead_rule", (r.id,), (f"{r.id} 为死规则：{what[0]}", f"{r.id} is dead: {what[1]}"),
                                 r.span, bound=caveat, detail=detail))

    def _core(self, r: ir.RuleIR, enc: Encoder, sym: SymRecord, env: dict) -> tuple[tuple[str, str], ...]:
        """The smallest set of top-level conditions found that cannot hold together."""
        parts = conjuncts(r.when)
        labels = [show(c) for c in parts]
        truths = [enc.truth(c, env) for c in parts]
        if r.unless is not None:
            labels.append(f"not ({show(r.unless)})")
            u = enc.scalar(r.unless, env)
            truths.append(z3.And(u.known, z3.Not(u.value)))
        s = self._solver()
        s.add(sym.constraints)
        marks = [z3.Bool(f"core{i}") for i in range(len(truths))]
        for mk, t in zip(marks, truths):
            s.add(z3.Implies(mk, t))
        if s.check(*marks) != z3.unsat:
            return ()
        core = {str(c) for c in s.unsat_core()}
        picked = [label for mk, label in zip(marks, labels) if str(mk) in core]
        if not picked:
            return (("记录模式本身即排除此条件", "the record schema alone rules it out"),)
        listed = "; ".join(f"`{x}`" for x in picked)
        return ((f"以下条件不能同时成立：{listed}", f"cannot hold together: {listed}"),)

    def _requires(self, r: ir.RuleIR, sym, enc: Encoder, s: z3.Solver, applies, env, caveat) -> None:
        for q in r.requires:
            self.checked["requires"] += 1
            v = enc.scalar(q.cond, env)
            s.add(sym.constraints)  # new fields used only by the require
            text = show(q.cond)
            s.push()
            s.add(applies, z3.Not(z3.And(v.known, v.value)))
            st = s.check()
            s.pop()
            if st == z3.unknown:
                self.undecided.append(Undecided("require_implied", f"{r.id}: {text}", _solver_reason("unknown")))
                continue
            if st == z3.unsat:
                self.issues.append(Issue("require_implied", (r.id, q.boundary), (
                    f"{r.id} 的 require `{text}`（否则 {q.boundary}）在 {r.id} 适用时总是满足：可删除或检查条件",
                    (f"{r.id}'s `require {text}` (else {q.boundary}) is always met when {r.id} "
                     "applies: it is implied by the condition")), q.span, bound=caveat))
                continue
            s.push()
            s.add(applies, z3.And(v.known, v.value))
            st = s.check()
            s.pop()
            if st == z3.unsat:
                self.issues.append(Issue("require_never_met", (r.id, q.boundary), (
                    f"{r.id} 的 require `{text}` 在 {r.id} 适用时永不满足：{r.id} 永远不会是 compliant",
                    (f"{r.id}'s `require {text}` can never be met when {r.id} applies: "
                     f"{r.id} is never compliant")), q.span, bound=caveat))
        self.approx |= enc.approx

    # ---- all ---------------------------------------------------------------------------
    def run(self, conflicts: bool = True, gaps: bool = True, dead: bool = True) -> Analysis:
        if conflicts:
            self.conflicts()
        if gaps:
            self.gaps()
        if dead:
            self.dead()
        return Analysis(
            self.opt.jurisdiction, self.opt.day, METHOD, f"z3 {z3.get_version_string()}",
            self.opt.list_bound,
            [{"name": p.name, "version": p.version, "file": p.file} for p in self.packs],
            len(self.in_force), self.issues, self.undecided, dict(self.checked),
            sorted(self.approx), self.opt.gap_fields)


def analyze(program: ir.ProgramIR, params: ParamSet, options: Options, validate: Validate,
            **which) -> Analysis:
    """Conflicts, gaps and dead rules of a program; `validate` turns a JSON record into the
    normalised record the evaluator takes (to confirm each finding by evaluation).

    Rules of different record kinds never meet on one record: each kind is analysed on its own
    (its rules, its schema; a record of it carries `record_kind`), and the results joined."""
    kinds = sorted({r.record_kind for r in program.rules}) or [ir.DEFAULT_KIND]
    if kinds == [ir.DEFAULT_KIND]:
        return Analyzer(program, params, options, validate).run(**which)
    parts = []
    for kind in kinds:
        sub = dataclasses.replace(program, schemas={kind: program.schemas[kind]}, packs=tuple(
            dataclasses.replace(p, rules=tuple(r for r in p.rules if r.record_kind == kind))
            for p in program.packs))
        index = schema_index(sub.schema)
        gap_fields = tuple(f for f in options.gap_fields if f in index) if kind != ir.DEFAULT_KIND \
            else options.gap_fields
        analyzer = Analyzer(sub, params, dataclasses.replace(options, gap_fields=gap_fields), validate)
        if kind != ir.DEFAULT_KIND:
            analyzer.kind = kind
        parts.append(analyzer.run(**which))
    first = parts[0]
    checked: dict[str, int] = {}
    for a in parts:
        for k, v in a.checked.items():
            checked[k] = checked.get(k, 0) + v
    packs = {p["name"]: p for a in parts for p in a.packs}
    return Analysis(first.jurisdiction, first.day, first.method, first.solver, first.list_bound,
                    sorted(packs.values(), key=lambda p: p["name"]), sum(a.rules for a in parts),
                    [i for a in parts for i in a.issues], [u for a in parts for u in a.undecided],
                    checked, sorted({x for a in parts for x in a.approximations}),
                    options.gap_fields)


# ---- small helpers --------------------------------------------------------------------
def _solver_reason(status: str) -> tuple[str, str]:
    return ("求解器未能在时限内判定（unknown）",
            f"the solver could not decide it ({status}, e.g. a timeout or non-linear arithmetic)")


def _unconfirmed(approx: set[str]) -> tuple[str, str]:
    why = "; ".join(sorted(approx)) or "—"
    return (f"求解器找到的记录未被求值器确认（近似处理：{why}）",
            f"the record the solver found was not confirmed by the evaluator (approximated: {why})")


def _mentioned(rules: list[ir.RuleIR], fpath: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for r in rules:
        for e in _exprs(r):
            for node in ir.walk(e):
                if isinstance(node, ir.Cmp) and node.op in ("==", "!="):
                    pairs = [(node.left, node.right), (node.right, node.left)]
                    for a, b in pairs:
                        if isinstance(a, ir.Field) and a.path == fpath and isinstance(b, ir.Const):
                            out.setdefault(str(b.value), set()).add(r.id)
                elif isinstance(node, ir.InSet) and isinstance(node.item, ir.Field) and node.item.path == fpath:
                    for o in node.options:
                        if isinstance(o, ir.Const):
                            out.setdefault(str(o.value), set()).add(r.id)
    return out


def _values_at(raw: dict, fpath: str) -> list:
    if "[]" not in fpath:
        x: Any = raw
        for k in fpath.split("."):
            x = x.get(k) if isinstance(x, dict) else None
        return [x]
    lpath, rest = fpath.split("[].", 1)
    x = raw
    for k in lpath.split("."):
        x = x.get(k) if isinstance(x, dict) else None
    return [e.get(rest) for e in x if isinstance(e, dict)] if isinstance(x, list) else []


def _paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.append(prefix + (k,))
            out.extend(_paths(v, prefix + (k,)))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.append(prefix + (i,))
            out.extend(_paths(v, prefix + (i,)))
    return out


def _delete(obj: Any, path: tuple) -> bool:
    for k in path[:-1]:
        try:
            obj = obj[k]
        except (KeyError, IndexError, TypeError):
            return False
    last = path[-1]
    try:
        if isinstance(obj, list):
            if last != len(obj) - 1:  # only trailing elements, so indexes stay meaningful
                return False
            obj.pop()
        else:
            del obj[last]
    except (KeyError, IndexError, TypeError):
        return False
    return True
