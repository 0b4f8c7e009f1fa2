"""Checked rules → IR: clause checks, scopes of messages, evidence and witnesses."""

from __future__ import annotations

import datetime as dt

from . import ast as A
from . import ir
from . import types as ty
from .errors import Diagnostic, Span, did_you_mean
from .typecheck import Checker, Scope

REQUIRED_SEVERITY = ("forbid", "permit", "boundary")


def _witness_vars(when: A.Expr | None) -> list[A.Quant]:
    """Top-level `some` quantifiers of a condition (alone or inside a top-level `and`)."""
    if isinstance(when, A.Quant) and when.kind == "some":
        return [when, *_witness_vars(when.body)]
    if isinstance(when, A.BoolOp) and when.op == "and":
        out: list[A.Quant] = []
        for item in when.items:
            out.extend(_witness_vars(item))
        return out
    return []


class RuleLowerer:
    def __init__(self, checker: Checker, rules_by_id: dict[str, A.Rule], diags: list[Diagnostic]):
        self.checker = checker
        self.rules_by_id = rules_by_id
        self.diags = diags

    def error(self, code: str, msg: str, span: Span, hint: str | None = None, severity: str = "error"):
        d = Diagnostic(code, msg, span, hint, severity)
        if d not in self.diags:
            self.diags.append(d)

    def _ref(self, ref_id: str, span: Span, visible: set[str], what: str) -> bool:
        if ref_id in visible:
            return True
        best = did_you_mean(ref_id, visible)
        self.error("E102", f"{what} `{ref_id}` is not a rule of this pack or its imports", span,
                   f"did you mean `{best}`?" if best else "check the rule id, or add an `import`")
        return False

    def lower(self, r: A.Rule, pack: str, scope: Scope, visible: set[str],
              header: A.Policy | None = None) -> ir.RuleIR:
        kind = self._kind(r, header)
        outer = self.checker
        if kind in outer.kinds and kind != outer.kind:
            self.checker = outer.for_kind(kind)
        try:
            return self._lower(r, pack, scope, visible, header, kind)
        finally:
            self.checker = outer

    def _kind(self, r: A.Rule, header: A.Policy | None) -> str:
        """The record kind a rule judges: its own `judges` (one of its pack's), else its pack's
        one kind. Unknown kinds are reported (E120) and checked as interactions."""
        pack_kinds = [k.name for k in header.judges] if header is not None and header.judges else \
            [ir.DEFAULT_KIND]
        if r.judges:
            if len(r.judges) > 1:
                self.error("E124", f"rule {r.id} judges one kind of record", r.judges[1].span,
                           "write one rule per kind")
            k = r.judges[0]
            if k.name not in pack_kinds:
                self.error("E124", f"rule {r.id} judges `{k.name}`, which its pack does not declare", k.span,
                           f"add it to the pack's `judges` ({', '.join(pack_kinds)})")
                return k.name if k.name in self.checker.kinds else ir.DEFAULT_KIND
            return k.name if k.name in self.checker.kinds else ir.DEFAULT_KIND
        if len(pack_kinds) > 1:
            self.error("E124", f"rule {r.id} does not say which kind of record it judges", r.id_span,
                       f"its pack judges {', '.join(pack_kinds)}: add `judges {pack_kinds[0]}` (or another) "
                       "to the rule")
        k0 = pack_kinds[0]
        return k0 if k0 in self.checker.kinds else ir.DEFAULT_KIND

    def _lower(self, r: A.Rule, pack: str, scope: Scope, visible: set[str], header: A.Policy | None,
               kind: str) -> ir.RuleIR:
        cs = r.clause_spans
        self._period(r, header)
        if r.severity is None and r.kind in REQUIRED_SEVERITY:
            self.error("E104", f"rule {r.id} has no `severity`", r.id_span,
                       "add `severity critical|high|medium|low`")
        if r.cite is None:
            self.error("E104", f"rule {r.id} has no `cite`", r.id_span,
                       "add `cite \"document, clause\"` so findings name their source")
        if r.when is None and r.kind != "boundary":
            self.error("E104", f"rule {r.id} has no `when` condition", r.id_span,
                       "add `when <condition>` describing the conduct the item covers")
        if r.title.en is None:
            self.error("W103", f"rule {r.id} has no English title", r.title.span,
                       'write the title as "中文" / "English"', severity="warning")
        if r.requires and r.kind != "permit":
            self.error("E112", f"`require` is only allowed in a `permit` rule, not in `{r.kind}`",
                       r.requires[0].span, "a forbid rule fires on its `when`; use `unless` for exceptions")
        if r.kind == "tolerance" and "covers" not in cs:
            self.error("E104", f"tolerance {r.id} has no `covers` clause", r.id_span,
                       "say which findings it can tolerate: `covers all except N1, N2, N3, N7`")
        if r.kind != "tolerance" and "covers" in cs:
            self.error("E112", "`covers` is only allowed in a `tolerance` rule", cs["covers"])
        if r.window is not None and r.foreach is not None:
            self.error("E112", "a rule cannot have both `for each` and `window`", cs["window"],
                       "use `some`/`count` over `window` inside the condition instead")
        self._misplaced(r)

        vars_: dict[str, ir.Expr] = {}
        foreach = None
        if r.foreach is not None:
            coll = self.checker._collection(r.foreach.coll, scope)
            foreach = (r.foreach.var, coll)
            vars_[r.foreach.var] = ir.Var(r.foreach.var, self.checker._elem(coll))
        window = None
        if r.window is not None:
            keys = tuple(self.checker.check(k, scope) for k in r.window.keys)
            window = self._window(r.window, keys, scope)
        has_window = window is not None
        evidence: list[tuple[str, ir.Expr]] = []
        witnesses = _witness_vars(r.when)
        lets: dict[str, dict] = {}
        for let in r.lets:
            if let.name in vars_ or let.name in self.checker.record.fields or let.name == "window":
                what = "a variable of this rule" if let.name in vars_ else "a field of the record"
                self.error("E117", f"`let {let.name}` hides {what}", let.name_span,
                           "choose another name")
                continue
            lscope = scope.child(vars={**scope.vars, **vars_}, window=has_window, lets=dict(lets))
            value = self.checker.check(let.value, lscope)
            lets[let.name] = dict(lscope.vars)
            vars_[let.name] = value
        base = scope.child(vars={**scope.vars, **vars_}, window=has_window, evidence=evidence,
                           witness_vars=frozenset(q.var for q in witnesses), lets=lets)

        when = self.checker.check_bool(r.when, base, "`when`") if r.when is not None else None
        unless = self.checker.check_bool(r.unless, base, "`unless`") if r.unless is not None else None
        wit_ir: list[ir.Witness] = []
        wscope = base.child(evidence=None)
        for q in witnesses:
            coll = self.checker._collection(q.coll, wscope)
            wscope = wscope.child(vars={**wscope.vars, q.var: ir.Var(q.var, self.checker._elem(coll))})
            body = self.checker.check_bool(q.body, wscope, "the body of `some`")
            wit_ir.append(ir.Witness(q.var, coll, body))

        requires = []
        for req in r.requires:
            req_evidence: list[tuple[str, ir.Expr]] = []
            cond = self.checker.check_bool(req.cond, base.child(evidence=req_evidence), "`require`")
            target = self.rules_by_id.get(req.boundary)
            sev = req.severity
            if req.boundary not in visible:
                self._ref(req.boundary, req.boundary_span, visible, "boundary")
            elif target is not None and target.kind != "boundary":
                self.error("E111", f"`else {req.boundary}` must name a `boundary` rule, not a `{target.kind}`",
                           req.boundary_span, "declare the boundary policy with `boundary "
                           f"{req.boundary} \"…\" / \"…\"`")
            elif target is not None and target.foreach is not None:
                same = (r.foreach is not None and
                        _coll_text(target.foreach.coll) == _coll_text(r.foreach.coll))
                if not same:
                    self.error("E111", f"boundary {req.boundary} is about each element of "
                               f"`{_coll_text(target.foreach.coll)}`, but this rule is not", req.boundary_span,
                               f"add `for each … in {_coll_text(target.foreach.coll)}` to {r.id}")
            if sev is None:
                sev = (target.severity if target is not None else None) or r.severity or "medium"
            requires.append(ir.RequireIR(cond, req.boundary, sev, req.span, tuple(req_evidence)))

        for ref in r.overrides:
            self._ref(ref.id, ref.span, visible, "overridden rule")
            if ref.id == r.id:
                self.error("E102", f"rule {r.id} cannot override itself", ref.span,
                           "`overrides X` in a rule means this rule wins over X; remove it here")
        for ref in (r.covers or ()) + r.covers_except:
            self._ref(ref.id, ref.span, visible, "covered rule")

        msg_scope = base.child(evidence=None, placeholder=True,
                               vars={**base.vars, **{w.var: ir.Var(w.var, self.checker._elem(w.coll))
                                                     for w in wit_ir}})
        say = self._text(r.say, msg_scope) if r.say is not None else None
        remedy = self._text(r.remedy, msg_scope) if r.remedy is not None else None
        title = (r.title.zh.raw, r.title.en.raw if r.title.en else r.title.zh.raw)
        if any(isinstance(p, A.Placeholder) for p in r.title.zh.parts):
            self.error("E209", "titles are fixed text; placeholders belong in `say`", r.title.span)
        return ir.RuleIR(
            id=r.id, kind=r.kind, pack=pack, title=title,
            severity=r.severity or "medium", cite=r.cite or "",
            basis=r.basis or "inferred", basis_refs=r.basis_refs or "",
            start=r.in_force.start if r.in_force else None,
            until=r.in_force.until if r.in_force else None,
            foreach=foreach, window=window, when=when, unless=unless, requires=tuple(requires),
            overrides=tuple(o.id for o in r.overrides),
            covers=tuple(c.id for c in r.covers) if r.covers is not None else None,
            covers_except=tuple(c.id for c in r.covers_except),
            outcome=r.outcome or "violation", say=say, remedy=remedy, witnesses=tuple(wit_ir),
            evidence=tuple(evidence), span=r.span, record_kind=kind)

    def _window(self, w: A.Window, keys: tuple[ir.Expr, ...], scope: Scope) -> ir.WindowIR:
        within = w.within
        if isinstance(within, A.WidthParam):
            decl = scope.params.decls.get(within.name)
            if decl is None:
                best = did_you_mean(within.name, scope.params.decls)
                self.error("E207", f"unknown parameter `param.{within.name}`", within.span,
                           f"did you mean `param.{best}`?" if best else
                           "declare it (with its `type`) in the baseline parameter file params/000000.yaml")
                return ir.WindowIR(keys, 0)
            ref = ir.ParamRef(within.name, decl.type)
            if within.unit is None:
                if decl.type.kind != "duration":
                    self.error("E203", f"`param.{within.name}` is {decl.type}, not a duration", within.span,
                               f"write `within param.{within.name} days` for a number of days")
                return ir.WindowIR(keys, 0, ref)
            if within.unit not in ("days", "weeks") or decl.type.kind != "int":
                self.error("E203", "a window is measured in days or weeks of an integer parameter",
                           within.span, f"write `within param.{within.name} days` with an integer "
                           "parameter, or `within param.NAME` with a duration")
            return ir.WindowIR(keys, 0, ir.Builtin(within.unit, (ref,), ty.DURATION))
        if within.unit not in ("days", "weeks"):
            self.error("E203", "a window is measured in days or weeks", within.span,
                       "write e.g. `within 30 days`")
        return ir.WindowIR(keys, within.amount * (7 if within.unit == "weeks" else 1))

    def _period(self, r: A.Rule, header: A.Policy | None) -> None:
        """A rule in force outside its pack's period never applies there (E116 when the two do
        not meet; W104 when only part of the rule's period is inside the pack's)."""
        if r.in_force is None or header is None or header.in_force is None:
            return
        if dt.date(1, 1, 1) in (r.in_force.start, header.in_force.start):
            return  # an invalid date, reported already (E008)
        ps, pu = header.in_force.start, header.in_force.until
        rs, ru = r.in_force.start, r.in_force.until
        lo = max(ps, rs)
        hi = min(d for d in (pu, ru) if d is not None) if (pu or ru) else None
        pack_text = f"{ps}" + (f" until {pu}" if pu else "")
        if hi is not None and hi <= lo:
            self.error("E116", f"rule {r.id} is in force only outside its pack's period (from {pack_text})",
                       r.in_force.span, "the rule would never apply: correct its dates, or move it to a "
                       "pack in force then")
        elif rs < ps or (pu is not None and (ru is None or ru > pu)):
            self.error("W104", f"part of rule {r.id}'s period lies outside its pack's (from {pack_text})",
                       r.in_force.span, "only the days inside the pack's period apply; align the dates",
                       severity="warning")

    def _misplaced(self, r: A.Rule) -> None:
        """Clauses that mean nothing in this kind of rule (they would be silently ignored)."""
        cs = r.clause_spans
        template = r.kind == "boundary" and r.when is None
        banned: dict[str, str] = {}
        if r.kind == "tolerance":
            banned = {"foreach": "a tolerance applies to the whole record",
                      "window": "a tolerance applies to the whole record",
                      "overrides": "a tolerance changes outcomes through `covers`",
                      "outcome": "a covered finding becomes `tolerated`"}
        elif r.kind == "permit":
            banned = {"outcome": "a permit is `compliant` when it holds; a breached `require` "
                                 "takes the outcome of its boundary"}
        elif template:
            banned = {"unless": "a boundary without `when` is only reached through `require`",
                      "window": "a boundary without `when` is only reached through `require`",
                      "overrides": "a boundary without `when` is only reached through `require`"}
        word = {"foreach": "for each"}
        for key, why in banned.items():
            if key in cs:
                where = "a boundary without `when`" if template else f"a `{r.kind}` rule"
                self.error("E112", f"`{word.get(key, key)}` is not allowed in {where}", cs[key], why)

    def _text(self, t: A.Text, scope: Scope) -> ir.Bilingual:
        zh = self._message(t.zh, scope)
        if t.en is None:
            self.error("W103", "message has no English text", t.span,
                       'write it as "中文" / "English"', severity="warning")
        en = self._message(t.en, scope) if t.en is not None else zh
        return ir.Bilingual(zh, en)

    def _message(self, tpl: A.Template, scope: Scope) -> ir.Message:
        parts: list = []
        sources = []
        for p in tpl.parts:
            if isinstance(p, str):
                parts.append(p)
            else:
                parts.append(self.checker.check(p.expr, scope))
                sources.append(p.source)
        return ir.Message(tuple(parts), tuple(sources))


def _coll_text(e: A.Expr) -> str:
    from .unparse import unparse
    return unparse(e)
