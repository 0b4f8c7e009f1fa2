"""A whole program → one SQL query: the findings of every record, after exceptions, conflicts and
fault tolerance, in the order the Python evaluator reports them.

Inputs (tables the runner provides; no user data is ever part of the SQL text):

- `recs(seq BIGINT, epoch INTEGER, kind VARCHAR, rec STRUCT)`: the valid records in `rec`
  (stored form, see `lower.py`; one STRUCT type holds the fields of every record kind the
  program reads), their kind in `kind`; `seq` is the record's position in the batch, negative
  for history records (they fill windows and lookups and are not judged); a rule judges the
  records of its kind only (`on_i` in `base`), a window holds records of its rule's kind;
- `epochs(epoch INTEGER, p STRUCT, on_0 BOOLEAN, …)`: for each (jurisdiction, interval between
  two change dates) met in the batch, the parameter values in force (`p`) and whether rule i
  of `Plan.rules` is in force (`on_i`); the runner works these out with `Evaluator.in_force`.

The query, step by step (docs/language.md, "Evaluation"):

1. `win_i`: for each window rule, each record's window, a self-join on the keys and the date
   range, in (date, position) order;
2. one branch per rule: its instances (the record, or each element of its `for each` list),
   the condition's value (NULL = unknown), each `require`'s, and the findings they give, each
   with the missing facts of what was unknown and its status as an exception (holds,
   undecided, fails);
3. `overrides`: a finding of an overridden rule is withdrawn where an overriding rule holds on
   a scope that covers it, and becomes a review naming the exception's missing facts where
   that rule is undecided;
4. conflicts between a compliant permit and a fired forbid on one scope;
5. each tolerance in turn;
6. the record's outcome: the strongest among its findings.

Each finding row carries its ordering key `(g, o1, o2)`: rule findings `(0, ord, 0)` with
`ord = rule position · 10⁹ + (element + 1) · 10³ + sub-position`, conflicts `(1, permit's ord,
forbid's ord)`, the finding of tolerance j `(2 + j, 0, 0)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp

from ... import ir
from . import dialect as d
from . import builtins, missing  # noqa: F401  (they register their node and builtin functions)
from .lookups import Lookups
from .lower import Bound, Lowering, NotLowerable, Scope, _elem_stored, dot, lit, storage_type

FINDING_COLUMNS = ("g", "o1", "o2", "rule", "via", "winner", "kind", "outcome", "severity", "cpath", "idx",
                   "n", "undecided", "cref", "miss", "wst", "pend_rule", "pend_cref", "pend_idx",
                   "tolerated_by", "covered", "conflict_with", "wjson")
OUTCOME_RANK = ("invalid", "violation", "review", "tolerated", "compliant", "unlisted")


@dataclass
class Plan:
    """The lowered program: its SQL per dialect and what the runner needs to feed it."""

    rules: list[ir.RuleIR]  # position i ↔ column on_i of `epochs`
    params: dict[str, object]  # parameter name → its type (ir/T), the fields of `p`
    record_type: exp.DataType  # the STRUCT type of `rec`
    params_type: exp.DataType
    steps: list[tuple[str, exp.Expression]]  # named intermediate results, in order
    final: exp.Expression  # the final findings (`seq`, FINDING_COLUMNS …), ordered
    windows: dict[str, str] = field(default_factory=dict)  # window rule id → its column

    def step_sql(self, dialect: str) -> list[tuple[str, str]]:
        """The steps one by one (an engine that materialises them: Spark), then `final`."""
        return [(name, d.render(q, dialect)) for name, q in self.steps] + [("final", d.render(self.final, dialect))]


def coll_path(e: ir.Expr) -> str:
    """The scope path of a `for each` list (as `evaluate._coll_path`)."""
    return e.path if isinstance(e, ir.Field) else "items"


def cond_of(rule: ir.RuleIR) -> ir.Expr | None:
    """`when and not unless`, as the evaluator compiles it."""
    if rule.when is None or rule.unless is None:
        return rule.when
    return ir.And((rule.when, ir.Not(rule.unless, rule.when.type)), rule.when.type)


def _window_free(cond: ir.Expr | None) -> ir.Expr | None:
    """The conjuncts of a condition that do not read the window (None: there are none)."""
    items: list[ir.Expr] = []
    todo = [cond]
    while todo:
        e = todo.pop()
        if isinstance(e, ir.And):
            todo.extend(reversed(e.items))
        elif e is not None:
            items.append(e)
    free = [e for e in items if not any(isinstance(n, ir.WindowRef) for n in ir.walk(e))]
    if not free or len(free) == len(items):
        return None
    return free[0] if len(free) == 1 else ir.And(tuple(free), free[0].type)


def _parse(sql: str, subs: dict[str, exp.Expression]) -> exp.Expression:
    """A DuckDB-syntax skeleton, its `__name__` placeholders replaced by expression trees."""
    tree = sqlglot.parse_one(sql, read="duckdb")

    def put(node: exp.Expression) -> exp.Expression:
        if isinstance(node, (exp.Column, exp.Identifier)) and node.name.startswith("__") and node.name.endswith("__"):
            key = node.name[2:-2]
            if key in subs and not (isinstance(node, exp.Identifier) and isinstance(node.parent, exp.Column)):
                return subs[key].copy()
        return node
    return tree.transform(put, copy=False)


def _struct(**fields: exp.Expression) -> exp.Expression:
    return exp.Struct(expressions=[exp.PropertyEQ(this=exp.to_identifier(k, quoted=True), expression=v)
                                   for k, v in fields.items()])


def _s(x: str | None) -> exp.Expression:
    return exp.Cast(this=exp.Null(), to=exp.DataType.build("VARCHAR")) if x is None else lit(x)


def _i(x: int | None) -> exp.Expression:
    return exp.Cast(this=exp.Null() if x is None else exp.Literal.number(x), to=exp.DataType.build("BIGINT"))


def _b(x: bool) -> exp.Expression:
    return exp.true() if x else exp.false()


NO_PATHS = "CAST(NULL AS VARCHAR[])"


class _Builder:
    def __init__(self, program: ir.ProgramIR, record_t, param_types: dict):
        self.program = program
        self.rules = list(program.rules)
        self.pos = {r.id: i for i, r in enumerate(self.rules)}
        self.by_id = {r.id: r for r in self.rules}
        self.lo = Lowering()
        self.record_t = record_t
        self.param_types = param_types

    def scope(self, rule: ir.RuleIR, rec: str = "rec") -> Scope:
        window = exp.column(f"w_{self.pos[rule.id]}") if rule.window is not None else None
        keys = rule.window.keys if rule.window is not None else ()
        if rule.window is not None and rule.window.width is not None:
            keys = (*keys, rule.window.width)  # what an unknown window lacks (evaluate.window_facts)
        return Scope(rec=exp.column(rec), params=exp.column("p"), window=window, window_keys=keys,
                     pre=self.lookups.pre)

    # -- step 1: windows
    def window_cte(self, i: int, rule: ir.RuleIR) -> str:
        assert rule.window is not None
        s = Scope(rec=exp.column("rec"), params=exp.column("p"))
        keys = [self.lo.value(k, s) for k in rule.window.keys]
        subs = {f"k{j}": k for j, k in enumerate(keys)}
        if rule.window.width is None:
            subs["first"] = d.AddDays(this=dot(exp.column("rec"), "date"),
                                      expression=exp.Literal.number(-rule.window.days))
        else:  # a width from a parameter: [date − width, date], unknown (no window) when it is
            width = self.lo.value(rule.window.width, s)
            back = d.AddMonths(this=dot(exp.column("rec"), "date"),
                               expression=exp.Neg(this=exp.Dot(this=width, expression=exp.to_identifier("m", quoted=True))))
            subs["first"] = d.AddDays(this=back, expression=exp.Neg(
                this=exp.Dot(this=width.copy(), expression=exp.to_identifier("d", quoted=True))))
        subs["list"] = d.SortedList(this=exp.column("rec", table="b"),
                                    expression=_struct(d=exp.column("d", table="b"), s=exp.column("seq", table="b")))
        # Only records that need the window get one: the rule is in force and the part of its
        # condition that does not read the window is not false (as evaluate.py's prefilter).
        free = _window_free(cond_of(rule))
        subs["pf"] = self.lo.value(free, s) if free is not None else exp.true()
        cols = ", ".join(f"__k{j}__ AS k{j}" for j in range(len(keys)))
        on = " AND ".join(f"a.k{j} = b.k{j}" for j in range(len(keys)))
        self.subs.update({f"w{i}_{k}": v for k, v in subs.items()})
        cols = cols.replace("__k", f"__w{i}_k")
        return [f"keys_{i} AS (SELECT recs.seq, recs.rec, recs.rec.\"date\" AS d, __w{i}_first__ AS first__, {cols}, "
                f"(epochs.on_{i} AND coalesce(__w{i}_pf__, TRUE)) AS need__ FROM recs JOIN epochs "
                f"ON recs.epoch = epochs.epoch WHERE recs.kind = {self.put(lit(rule.record_kind))})",
                f"win_{i} AS (SELECT a.seq, __w{i}_list__ AS w FROM keys_{i} a JOIN keys_{i} b ON {on} "
                f"AND b.d BETWEEN a.first__ AND a.d WHERE a.seq >= 0 AND a.need__ GROUP BY a.seq)"]

    def put(self, e: exp.Expression) -> str:
        key = f"e{len(self.subs)}"
        self.subs[key] = e
        return f"__{key}__"

    # -- step 2: one branch per rule
    def finding(self, *, o_sub: int, rule: str, via: str | None, winner: str, kind: str, outcome: str | exp.Expression,
                severity: str, cpath: str | None, idx: str, n: str, undecided: str, cref: str | None, miss: str,
                wst: str, keep: str, wjson: str) -> str:
        out = outcome if isinstance(outcome, str) and outcome.startswith("(") else f"'{outcome}'"
        return (f"struct_pack(keep := {keep}, o1 := CAST({self.rule_pos} AS BIGINT) * 1000000000 + "
                f"(coalesce({idx}, -1) + 1) * 1000 + {o_sub}, rule := {self.put(_s(rule))}, via := {self.put(_s(via))}, "
                f"winner := {self.put(_s(winner))}, kind := '{kind}', outcome := {out}, severity := '{severity}', "
                f"cpath := {self.put(_s(cpath))}, idx := CAST({idx} AS BIGINT), n := CAST({n} AS BIGINT), "
                f"undecided := {undecided}, cref := {self.put(_s(cref))}, miss := {miss}, wst := CAST({wst} AS INTEGER), "
                f"wjson := {wjson})")

    def rule_branch(self, i: int, rule: ir.RuleIR) -> list[str]:
        self.rule_pos = i
        cond = cond_of(rule)
        assert cond is not None
        base_scope = self.scope(rule)
        wcol = f"w_{i}"
        wjson = self.put(d.ToJson(this=exp.column(wcol))) if rule.window is not None else "CAST(NULL AS VARCHAR)"
        branches = []
        if rule.foreach is not None:
            var, coll = rule.foreach
            cp = coll_path(coll)
            coll_sql = self.put(self.lo.value(coll, base_scope))
            coll_miss = self.put(self.lo.missing(coll, base_scope))
            review = self.finding(o_sub=0, rule=rule.id, via=None, winner=rule.id, kind=rule.kind, outcome="review",
                                  severity=rule.severity, cpath=None, idx="NULL", n="NULL", undecided="TRUE",
                                  cref=f"C:{rule.id}", miss=coll_miss, wst="1", keep="TRUE", wjson=wjson)
            branches.append(f"SELECT seq, {review} AS f FROM base WHERE on_{i} AND ({coll_sql}) IS NULL")
            elem = exp.column("x__")
            path = exp.Concat(expressions=[lit(cp + "["), exp.Cast(this=exp.column("idx"), to=exp.DataType.build("VARCHAR")),
                                           lit("]")], safe=False, coalesce=False)
            stored = _elem_stored(self.lo, coll, base_scope)
            scope = base_scope.bind(var, Bound(elem, stored, path))
            source = (f"(SELECT seq, rec, p{self.lk}, {wcol if rule.window is not None else 'NULL'} AS {wcol}, coll__, "
                      f"__ixs__ AS idx FROM (SELECT seq, rec, p{self.lk}, "
                      f"{wcol if rule.window is not None else 'NULL'} AS {wcol}, {coll_sql} AS coll__ FROM base "
                      f"WHERE on_{i}))")
            ixs = d.Range0(this=exp.Literal.number(0), expression=d.ListLen(this=exp.column("coll__")))
            source = source.replace("__ixs__", f"UNNEST({self.put(ixs)})")
            source = (f"(SELECT *, {self.put(d.ListGet(this=exp.column('coll__'), expression=exp.column('idx')))} AS x__, "
                      f"{self.put(d.ListLen(this=exp.column('coll__')))} AS n__ FROM {source})")
            idx, n = "idx", "n__"
        else:
            scope = base_scope
            source = (f"(SELECT seq, rec, p{self.lk}, {wcol if rule.window is not None else 'NULL'} AS {wcol}, "
                      f"NULL AS idx, NULL AS n__ FROM base WHERE on_{i})")
            idx, n = "NULL", "NULL"
        cp_elem = coll_path(rule.foreach[1]) if rule.foreach is not None else None
        s_sql = self.put(self.lo.value(cond, scope))
        reqs = list(rule.requires) if rule.kind == "permit" else []
        q_sql = [self.put(self.lo.value(q.cond, scope)) for q in reqs]
        carry = f"seq, rec, p{self.lk}, {wcol}, idx, n__" + (", x__" if rule.foreach is not None else "")
        level1 = (f"SELECT {carry}, {s_sql} AS s__" + "".join(f", {q} AS q{j}__" for j, q in enumerate(q_sql))
                  + f" FROM {source}")
        ms = self.put(self.lo.missing(cond, scope))
        mq = [self.put(self.lo.missing(q.cond, scope)) for q in reqs]
        level2 = (f"SELECT {carry}, s__" + "".join(f", q{j}__" for j in range(len(reqs)))
                  + f", CASE WHEN s__ IS NULL THEN {ms} END AS ms__"
                  + "".join(f", CASE WHEN s__ AND q{j}__ IS NULL THEN {m} END AS mq{j}__" for j, m in enumerate(mq))
                  + f" FROM ({level1})")
        cands = [self.finding(o_sub=0, rule=rule.id, via=None, winner=rule.id, kind=rule.kind, outcome="review",
                              severity=rule.severity, cpath=cp_elem, idx=idx, n=n, undecided="TRUE",
                              cref=f"W:{rule.id}", miss="ms__", wst="1", keep="s__ IS NULL", wjson=wjson)]
        if rule.kind == "permit":
            for j, q in enumerate(reqs):
                b = self.by_id.get(q.boundary)
                brule = b if b is not None else rule
                out = f"(CASE WHEN q{j}__ IS NULL THEN 'review' ELSE '{brule.outcome}' END)"
                cands.append(self.finding(
                    o_sub=1 + j, rule=brule.id, via=rule.id, winner=rule.id, kind="boundary", outcome=out,
                    severity=q.severity, cpath=cp_elem, idx=idx, n=n, undecided=f"(q{j}__ IS NULL)",
                    cref=f"R:{rule.id}:{j}", miss=f"mq{j}__", wst=f"(CASE WHEN q{j}__ IS NULL THEN 1 ELSE 0 END)",
                    keep=f"(s__ AND coalesce(NOT q{j}__, TRUE))", wjson=wjson))
            all_met = " AND ".join(["s__"] + [f"coalesce(q{j}__, FALSE)" for j in range(len(reqs))])
            cands.append(self.finding(
                o_sub=900, rule=rule.id, via=None, winner=rule.id, kind="permit", outcome="compliant",
                severity=rule.severity, cpath=cp_elem, idx=idx, n=n, undecided="FALSE", cref=None, miss=NO_PATHS,
                wst="2", keep=f"({all_met})", wjson=wjson))
        else:
            cands.append(self.finding(
                o_sub=1, rule=rule.id, via=None, winner=rule.id, kind=rule.kind, outcome=rule.outcome,
                severity=rule.severity, cpath=cp_elem, idx=idx, n=n, undecided="FALSE", cref=None, miss=NO_PATHS,
                wst="2", keep="coalesce(s__, FALSE)", wjson=wjson))
        level3 = (f"SELECT seq, UNNEST([{', '.join(cands)}]) AS f "
                  f"FROM ({level2})")
        branches.append(level3)
        return branches


@dataclass
class Shape:
    """What an engine's inputs look like for a program (cheap: no lowering)."""

    rules: list[ir.RuleIR]  # position i ↔ column on_i of `epochs`
    params: dict[str, object]  # parameter name → its type, the fields of `p`
    record_type: exp.DataType
    params_type: exp.DataType
    record_t: object = None  # the T of `rec`: the fields of every kind the program reads, merged
    kinds: frozenset = frozenset({ir.DEFAULT_KIND})  # the record kinds the engine is given


def kinds_read(program: ir.ProgramIR) -> frozenset[str]:
    """The record kinds the program judges or looks up."""
    out = {r.record_kind for r in program.rules}
    for r in program.rules:
        for e in [*ir.rule_exprs(r), *(q.cond for q in r.requires)]:
            for n in ir.walk(e):
                if isinstance(n, (ir.Lookup, ir.Related)):
                    out.add(n.kind)
    return frozenset(out or {ir.DEFAULT_KIND})


_STORED_AS = {"money": "num", "number": "num", "enum": "text", "string": "text", "any": "text"}


def merged_type(a, b, path: str = ""):
    """One record type holding the fields of two kinds' types (a field both have must be
    stored alike in both); NotLowerable otherwise."""
    from ...types import T

    if a.kind == "object" and b.kind == "object":
        fields = dict(a.fields)
        for name, t in b.fields.items():
            fields[name] = merged_type(fields[name], t, f"{path}{name}.") if name in fields else t
        return T("object", fields=fields)
    if a.kind == "list" and b.kind == "list":
        from ...types import ANY
        return T("list", elem=merged_type(a.elem or ANY, b.elem or ANY, path))
    if _STORED_AS.get(a.kind, a.kind) != _STORED_AS.get(b.kind, b.kind):
        raise NotLowerable(f"the field {path.rstrip('.') or '(record)'} has different types in two record kinds")
    return a


def shape(program: ir.ProgramIR) -> Shape:
    from ...types import T, record_type

    params = _param_types(program)
    p_t = T("object", fields=dict(sorted(params.items()))) if params else T("object", fields={"none__": T("bool")})
    kinds = kinds_read(program)
    rt = None
    for k in sorted(kinds):
        schema = program.schema_of(k)
        if schema is None:
            raise NotLowerable(f"record kind {k} without a schema")
        t = record_type(schema)
        rt = t if rt is None else merged_type(rt, t)
    return Shape(list(program.rules), params, storage_type(rt), storage_type(p_t), rt, kinds)


def _param_types(program: ir.ProgramIR) -> dict[str, object]:
    param_types: dict[str, object] = {}
    for r in program.rules:
        for e in ir.rule_exprs(r):
            for node in ir.walk(e):
                if isinstance(node, ir.ParamRef):
                    param_types[node.name] = node.type
        for q in r.requires:
            for node in ir.walk(q.cond):
                if isinstance(node, ir.ParamRef):
                    param_types[node.name] = node.type
    return param_types


def plan(program: ir.ProgramIR) -> Plan:
    """Lower `program` (raises NotLowerable for a construct the SQL backend lacks)."""
    sh = shape(program)
    rt = sh.record_t
    param_types = sh.params
    b = _Builder(program, rt, param_types)
    b.subs = {}
    rules = b.rules
    list_t = exp.DataType(this=exp.DataType.Type.ARRAY, expressions=[sh.record_type.copy()], nested=True)
    b.lookups = Lookups(b.lo, b.put, list_t)
    b.lookups.collect(e for r in rules for e in (*ir.rule_exprs(r), *(q.cond for q in r.requires)))
    b.lk = "".join(f", {c}" for c in b.lookups.columns)
    window_rules = [(i, r) for i, r in enumerate(rules) if r.window is not None]
    judged = [(i, r) for i, r in enumerate(rules) if r.when is not None and r.kind != "tolerance"]
    tolerances = [(i, r) for i, r in enumerate(rules) if r.kind == "tolerance" and r.when is not None]
    ctes = [c for i, r in window_rules for c in b.window_cte(i, r)]
    ctes += b.lookups.ctes()
    lk_cols, lk_joins = b.lookups.base_parts()
    wcols = "".join(f", win_{i}.w AS w_{i}" for i, _ in window_rules)
    wjoins = "".join(f" LEFT JOIN win_{i} ON win_{i}.seq = recs.seq" for i, _ in window_rules)
    on_cols = "".join(f", (epochs.on_{i} AND recs.kind = {b.put(lit(r.record_kind))}) AS on_{i}"
                      for i, r in enumerate(rules))
    ctes.append(f"base AS (SELECT recs.seq, recs.rec, epochs.p{on_cols}{wcols}{lk_cols} FROM recs JOIN epochs "
                f"ON recs.epoch = epochs.epoch{wjoins}{lk_joins} WHERE recs.seq >= 0)")
    branches: list[str] = []
    for i, r in judged:
        branches.extend(b.rule_branch(i, r))
    fcols = ", ".join(f"f.{c} AS {c}" for c in ("o1", "rule", "via", "winner", "kind", "outcome", "severity",
                                                  "cpath", "idx", "n", "undecided", "cref", "miss", "wst", "wjson"))
    for k, br in enumerate(branches):
        ctes.append(f"b{k} AS (SELECT seq, {fcols} FROM ({br}) WHERE f.keep)")
    if branches:
        union = " UNION ALL ".join(f"SELECT * FROM b{k}" for k in range(len(branches)))
    else:
        union = ("SELECT CAST(NULL AS BIGINT) AS seq, CAST(NULL AS BIGINT) AS o1, CAST(NULL AS VARCHAR) AS rule, "
                 "CAST(NULL AS VARCHAR) AS via, CAST(NULL AS VARCHAR) AS winner, CAST(NULL AS VARCHAR) AS kind, "
                 "CAST(NULL AS VARCHAR) AS outcome, CAST(NULL AS VARCHAR) AS severity, CAST(NULL AS VARCHAR) AS cpath, "
                 "CAST(NULL AS BIGINT) AS idx, CAST(NULL AS BIGINT) AS n, CAST(NULL AS BOOLEAN) AS undecided, "
                 "CAST(NULL AS VARCHAR) AS cref, CAST(NULL AS VARCHAR[]) AS miss, CAST(NULL AS INTEGER) AS wst, "
                 "CAST(NULL AS VARCHAR) AS wjson WHERE FALSE")
    ctes.append(f"f0 AS ({union})")
    # -- step 3: overrides
    pairs = [(loser, w.id, wi) for wi, w in enumerate(rules) for loser in w.overrides if loser != w.id]
    overridden = sorted({p[0] for p in pairs})
    winners = sorted({p[1] for p in pairs})
    cols = ("seq, 0 AS g, o1, CAST(0 AS BIGINT) AS o2, rule, via, winner, kind, outcome, severity, cpath, idx, n, "
            "undecided, cref, miss, wst")
    if pairs:
        values = ", ".join(f"({b.put(lit(lo_))}, {b.put(lit(w))}, {wi})" for lo_, w, wi in pairs)
        win_in = ", ".join(b.put(lit(w)) for w in winners)
        lose_in = ", ".join(b.put(lit(x)) for x in overridden)
        ctes.append(f"pairs AS (SELECT * FROM (VALUES {values}) AS t(loser, winner, wpos))")
        ctes.append(
            "ws AS (SELECT seq, winner, cpath, idx, min(wst) AS st, "
            "arg_min(struct_pack(cref := cref, miss := miss, idx := idx, via := via, rule := rule), "
            "struct_pack(a := wst, b := o1)) AS h, max(n) AS n FROM f0 "
            f"WHERE wst IS NOT NULL AND winner IN ({win_in}) GROUP BY seq, winner, cpath, idx)")
        ctes.append(
            "wr AS (SELECT seq, winner, max(st) FILTER (WHERE idx IS NULL) AS rec_st, "
            "arg_min(h, st) FILTER (WHERE idx IS NULL) AS rec_h, count(*) FILTER (WHERE idx IS NOT NULL) AS cnt, "
            "min(st) FILTER (WHERE idx IS NOT NULL) AS el_st, "
            "arg_min(h, struct_pack(a := st, b := idx)) FILTER (WHERE idx IS NOT NULL) AS el_h, max(n) AS n "
            "FROM ws GROUP BY seq, winner)")
        ctes.append(
            "cand AS (SELECT f.seq, f.o1, pairs.winner, pairs.wpos, "
            "CASE WHEN wr.rec_st IS NOT NULL THEN wr.rec_st WHEN f.idx IS NOT NULL THEN ws.st "
            "WHEN wr.cnt = wr.n AND wr.n > 0 THEN wr.el_st END AS st, "
            "CASE WHEN wr.rec_st IS NOT NULL THEN wr.rec_h WHEN f.idx IS NOT NULL THEN ws.h "
            "WHEN wr.cnt = wr.n AND wr.n > 0 THEN wr.el_h END AS h "
            f"FROM f0 f JOIN pairs ON pairs.loser = f.rule "
            "LEFT JOIN wr ON wr.seq = f.seq AND wr.winner = pairs.winner "
            "LEFT JOIN ws ON ws.seq = f.seq AND ws.winner = pairs.winner AND ws.cpath = f.cpath AND ws.idx = f.idx "
            f"WHERE f.via IS NULL AND f.kind IN ('forbid', 'permit', 'boundary') AND f.rule IN ({lose_in}) "
            "AND pairs.winner <> f.rule)")
        ctes.append(
            "dec AS (SELECT seq, o1, bool_or(coalesce(st = 2, FALSE)) AS holds, "
            "arg_min(struct_pack(winner := winner, h := h), wpos) FILTER (WHERE st = 1) AS pend "
            "FROM cand GROUP BY seq, o1)")
        ctes.append(
            "f1 AS (SELECT f0.seq, 0 AS g, f0.o1, CAST(0 AS BIGINT) AS o2, rule, via, f0.winner, kind, "
            "CASE WHEN dec.pend IS NOT NULL AND outcome = 'violation' THEN 'review' ELSE outcome END AS outcome, "
            "severity, cpath, idx, n, undecided, "
            "CASE WHEN dec.pend IS NOT NULL AND outcome = 'violation' THEN dec.pend.h.cref ELSE cref END AS cref, "
            "CASE WHEN dec.pend IS NOT NULL AND outcome = 'violation' THEN dec.pend.h.miss ELSE miss END AS miss, "
            "CASE WHEN dec.pend IS NOT NULL AND outcome = 'violation' THEN dec.pend.winner END AS pend_rule, "
            "CASE WHEN dec.pend IS NOT NULL AND outcome = 'violation' THEN dec.pend.h.cref END AS pend_cref, "
            "CASE WHEN dec.pend IS NOT NULL AND outcome = 'violation' THEN dec.pend.h.idx END AS pend_idx, "
            "wjson FROM f0 LEFT JOIN dec ON dec.seq = f0.seq AND dec.o1 = f0.o1 "
            "WHERE NOT coalesce(dec.holds, FALSE))")
    else:
        ctes.append(f"f1 AS (SELECT {cols}, CAST(NULL AS VARCHAR) AS pend_rule, CAST(NULL AS VARCHAR) AS pend_cref, "
                    "CAST(NULL AS BIGINT) AS pend_idx, wjson FROM f0)")
    # -- step 4: conflicts
    fcols1 = ("seq, g, o1, o2, rule, via, winner, kind, outcome, severity, cpath, idx, n, undecided, cref, miss, "
              "pend_rule, pend_cref, pend_idx, wjson")
    kinds = {r.kind for r in rules}
    if "permit" in kinds and "forbid" in kinds:
        related = sorted({f"{a.id}/{c}" for a in rules for c in a.overrides} |
                         {f"{c}/{a.id}" for a in rules for c in a.overrides})
        rel = ", ".join(b.put(lit(x)) for x in related) if related else None
        not_rel = f"AND (pf.rule || '/' || nf.rule) NOT IN ({rel})" if rel else ""
        ctes.append(
            f"f2 AS (SELECT {fcols1}, CAST(NULL AS VARCHAR) AS conflict_with FROM f1 UNION ALL "
            "SELECT pf.seq, 1 AS g, pf.o1, nf.o1 AS o2, pf.rule, CAST(NULL AS VARCHAR) AS via, pf.rule AS winner, "
            "'conflict' AS kind, 'review' AS outcome, 'medium' AS severity, pf.cpath, pf.idx, pf.n, FALSE AS undecided, "
            "CAST(NULL AS VARCHAR) AS cref, CAST(NULL AS VARCHAR[]) AS miss, CAST(NULL AS VARCHAR) AS pend_rule, "
            "CAST(NULL AS VARCHAR) AS pend_cref, CAST(NULL AS BIGINT) AS pend_idx, pf.wjson, nf.rule AS conflict_with "
            "FROM f1 pf JOIN f1 nf ON pf.seq = nf.seq AND pf.cpath IS NOT DISTINCT FROM nf.cpath "
            "AND pf.idx IS NOT DISTINCT FROM nf.idx "
            "WHERE pf.kind = 'permit' AND pf.outcome = 'compliant' AND nf.kind = 'forbid' "
            f"AND nf.outcome = 'violation' AND NOT nf.undecided {not_rel})")
    else:
        ctes.append(f"f2 AS (SELECT {fcols1}, CAST(NULL AS VARCHAR) AS conflict_with FROM f1)")
    # -- step 5: tolerances, in order
    fcols2 = fcols1 + ", conflict_with"
    cur = "f2"
    tol_cols = ""
    if tolerances:
        tsel = []
        for j, (i, t) in enumerate(tolerances):
            cond = cond_of(t)
            s = b.scope(t)
            tsel.append(f"on_{i} AND {b.put(b.lo.value(cond, s))} AS t{j}")
        ctes.append(f"ts0 AS (SELECT seq, rec, p{b.lk}, {', '.join(tsel)} FROM base)")
        msel = []
        for j, (i, t) in enumerate(tolerances):
            msel.append(f"CASE WHEN t{j} IS NULL THEN {b.put(b.lo.missing(cond_of(t), b.scope(t)))} END AS tm{j}")
        ctes.append(f"ts AS (SELECT seq, {', '.join(f't{j}' for j in range(len(tolerances)))}, {', '.join(msel)} FROM ts0)")
        prev_cols = fcols2 + ", tolerated_by"
        ctes.append(f"t_in AS (SELECT {fcols2}, CAST(NULL AS VARCHAR) AS tolerated_by FROM f2)")
        cur = "t_in"
        for j, (i, t) in enumerate(tolerances):
            if t.covers is not None:
                ids = ", ".join(b.put(lit(x)) for x in t.covers) or b.put(lit(""))
                covers = f"rule IN ({ids})"
            else:
                ex = ", ".join(b.put(lit(x)) for x in t.covers_except) or b.put(lit(""))
                covers = f"rule NOT IN ({ex}) AND (via IS NULL OR via NOT IN ({ex}))"
            tolerable = f"(outcome IN ('violation', 'review') AND kind NOT IN ('conflict', 'tolerance') AND {covers})"
            tid = b.put(lit(t.id))
            tcref = b.put(lit(f"W:{t.id}"))
            holds = f"coalesce(ts.t{j}, FALSE)"
            undec = f"(ts.t{j} IS NULL)"
            sel = []
            for c in prev_cols.split(", "):
                if c == "seq":
                    sel.append("x.seq")
                elif c == "outcome":
                    sel.append(f"CASE WHEN {holds} AND {tolerable} THEN 'tolerated' WHEN {undec} AND outcome = "
                               f"'violation' AND {tolerable} THEN 'review' ELSE outcome END AS outcome")
                elif c == "tolerated_by":
                    sel.append(f"CASE WHEN {holds} AND {tolerable} THEN {tid} ELSE tolerated_by END AS tolerated_by")
                elif c == "cref":
                    sel.append(f"CASE WHEN {undec} AND outcome = 'violation' AND {tolerable} THEN {tcref} ELSE cref END AS cref")
                elif c == "miss":
                    sel.append(f"CASE WHEN {undec} AND outcome = 'violation' AND {tolerable} THEN ts.tm{j} ELSE miss END AS miss")
                elif c in ("pend_rule", "pend_cref", "pend_idx"):
                    repl = {"pend_rule": tid, "pend_cref": tcref, "pend_idx": "CAST(NULL AS BIGINT)"}[c]
                    sel.append(f"CASE WHEN {undec} AND outcome = 'violation' AND {tolerable} THEN {repl} ELSE {c} END AS {c}")
                else:
                    sel.append(c)
            nxt = f"t{j}_a"
            ctes.append(f"{nxt} AS (SELECT {', '.join(sel)}, ({holds} AND {tolerable}) AS now__ "
                        f"FROM {cur} x JOIN ts ON ts.seq = x.seq)")
            sev = b.put(lit(t.severity))
            ctes.append(
                f"t{j}_b AS (SELECT {prev_cols} FROM {nxt} UNION ALL "
                f"SELECT seq, {2 + j} AS g, CAST(0 AS BIGINT) AS o1, CAST(0 AS BIGINT) AS o2, {tid} AS rule, "
                f"CAST(NULL AS VARCHAR) AS via, {tid} AS winner, 'tolerance' AS kind, 'tolerated' AS outcome, "
                f"{sev} AS severity, CAST(NULL AS VARCHAR) AS cpath, CAST(NULL AS BIGINT) AS idx, "
                "CAST(NULL AS BIGINT) AS n, FALSE AS undecided, CAST(NULL AS VARCHAR) AS cref, "
                "CAST(NULL AS VARCHAR[]) AS miss, CAST(NULL AS VARCHAR) AS pend_rule, CAST(NULL AS VARCHAR) AS pend_cref, "
                "CAST(NULL AS BIGINT) AS pend_idx, CAST(NULL AS VARCHAR) AS wjson, "
                "CAST(NULL AS VARCHAR) AS conflict_with, "
                f"CAST(NULL AS VARCHAR) AS tolerated_by, {b.put(d.SortedList(this=exp.column('rule'), expression=_struct(g=exp.column('g'), a=exp.column('o1'), b=exp.column('o2'))))} AS covered "
                f"FROM {nxt} WHERE now__ GROUP BY seq)")
            # the covered list is a column of the tolerance rows only
            cur = f"t{j}_b"
            if j == 0:
                prev_cols = prev_cols + ", covered"
                ctes[-1] = ctes[-1].replace(f"SELECT {fcols2}, tolerated_by FROM {nxt}",
                                            f"SELECT {fcols2}, tolerated_by, CAST(NULL AS VARCHAR[]) AS covered FROM {nxt}")
        tol_cols = ", tolerated_by, covered"
    else:
        tol_cols = ", CAST(NULL AS VARCHAR) AS tolerated_by, CAST(NULL AS VARCHAR[]) AS covered"
    final = _parse(f"SELECT {fcols2}{tol_cols} FROM {cur} ORDER BY seq, g, o1, o2", b.subs)
    steps = []
    for c in ctes:
        name, body = c.split(" AS (", 1)
        assert body.endswith(")")
        steps.append((name.strip(), _parse(body[:-1], b.subs)))
    return Plan(rules=rules, params=param_types, record_type=sh.record_type, params_type=sh.params_type,
                steps=steps, final=final,
                windows={r.id: f"w_{i}" for i, r in window_rules})


__all__ = ["FINDING_COLUMNS", "NotLowerable", "Plan", "coll_path", "cond_of", "plan"]
