"""`lookup(KIND, id)` and `records(x in KIND where …)` lowered to SQL: joins with the records the
run knows, worked out once per judged record before the rules' branches (`Lookups.ctes`).

The records the run knows are `store`: the records of `recs` (the history, then the batch) of the
kinds looked up, by kind and id, a later one superseding an earlier one with the same kind and id
(as `policy_dsl.store.MemoryStore`).

- A lookup whose id reads only the record and the parameters becomes a column of `base`: the
  stored record of that id when it has the kind asked for, else NULL (unknown). Its missing fact
  is the id's, or (the id known) `KIND[id]`, as `explain.py` names it.
- A `records(x in KIND where x.a == e …)` whose key values read only the record and whose filter
  reads only the record, the parameters and `x` becomes a column too: the candidates (records of
  KIND whose key paths equal this record's key values, a candidate with an unknown key path left
  out) for which the filter holds, in (date, id) order; unknown when a key value is, or when the
  filter is for a candidate. Its missing facts: the unknown key values', else the filter's for the
  first candidate (in that order) it is unknown for, `x` named `KIND[id]`.

Anything else (a lookup by an element's field, a filter over another comprehension's variable)
is not lowered: `NotLowerable`, and `--engine duckdb|spark` refuses the program.
"""

from __future__ import annotations

from sqlglot import exp

from ... import ir
from . import dialect as d
from .lower import (_VALUE, MISSING, Bound, Lowering, NotLowerable, Scope, _concat_lists, _read, as_text, case, concat, dot,
                    empty_paths, is_null, lit)


def free_vars(e: ir.Expr) -> set[str]:
    """The variables `e` reads that it does not bind itself."""
    if isinstance(e, ir.Var):
        return {e.name}
    if isinstance(e, ir.Related):
        out: set[str] = set()
        for v in e.values:
            out |= free_vars(v)
        if e.where is not None:
            out |= free_vars(e.where) - {e.var}
        return out
    b = ir.binding(e)
    if b is not None:
        var, coll = b
        inner: set[str] = set()
        for c in ir.children(e):
            if c is not coll:
                inner |= free_vars(c)
        return free_vars(coll) | (inner - {var})
    out = set()
    for c in ir.children(e):
        out |= free_vars(c)
    return out


def _plain(e: ir.Expr) -> bool:
    """Reads no window and makes no lookup of its own."""
    return not any(isinstance(n, (ir.WindowRef, ir.Lookup, ir.Related)) for n in ir.walk(e))


def closed(e: ir.Lookup | ir.Related) -> bool:
    if isinstance(e, ir.Lookup):
        return _plain(e.id) and not free_vars(e.id)
    parts = [*e.values] + ([e.where] if e.where is not None else [])
    return all(_plain(x) for x in parts) and not free_vars(e)


def _path_value(rec: exp.Expression, path: str, t) -> exp.Expression:
    x = rec
    for part in path.split("."):
        x = dot(x, part)
    return _read(x, t, True)


class Lookups:
    """The lookups of a program, precomputed as columns of `base`."""

    def __init__(self, lo: Lowering, put, kind_list_type: exp.DataType):
        self.lo = lo
        self.put = put  # the builder's placeholder for an expression tree
        self.list_type = kind_list_type  # ARRAY of the stored record STRUCT
        self.nodes: list[ir.Lookup | ir.Related] = []
        self.pre: dict[int, tuple[exp.Expression, exp.Expression]] = {}

    def collect(self, exprs) -> None:
        """One column per distinct lookup: equal nodes (rules often repeat one, e.g. the
        pre-filing of a tolerance) share it, so `base` joins `store` once per lookup, not once
        per occurrence (a hundred joins made DuckDB's planner alone take 15 s)."""
        column: dict[ir.Lookup | ir.Related, int] = {}
        for e in exprs:
            for n in ir.walk(e):
                if isinstance(n, (ir.Lookup, ir.Related)) and id(n) not in self.pre and closed(n):
                    j = column.setdefault(n, len(self.nodes))
                    if j == len(self.nodes):
                        self.nodes.append(n)
                    value = exp.paren(exp.column(f"lk{j}"), copy=False)  # (a field of it: `(lk0).status`)
                    miss = exp.column(f"lk{j}_m") if isinstance(n, ir.Related) else None
                    self.pre[id(n)] = (value, miss)  # type: ignore[assignment]

    @property
    def columns(self) -> list[str]:
        out = []
        for j, n in enumerate(self.nodes):
            out.append(f"lk{j}")
            if isinstance(n, ir.Related):
                out.append(f"lk{j}_m")
        return out

    def ctes(self) -> list[str]:
        if not self.nodes:
            return []
        # the latest record of each kind looked up and id
        kinds = ", ".join(self.put(lit(k)) for k in sorted({n.kind for n in self.nodes}))
        out = ["store AS (SELECT l__.rid, r__.kind, r__.rec FROM (SELECT CAST(rec.id AS VARCHAR) AS rid, "
               f"max(seq) AS seq FROM recs WHERE rec.id IS NOT NULL AND kind IN ({kinds}) GROUP BY rid, kind) "
               "AS l__ JOIN recs AS r__ ON r__.seq = l__.seq)"]
        for j, n in enumerate(self.nodes):
            if isinstance(n, ir.Related):
                out.append(self._related_cte(j, n))
        return out

    def _outer(self) -> Scope:
        return Scope(rec=exp.column("rec", table="a"), params=exp.column("p", table="e"))

    def _related_cte(self, j: int, n: ir.Related) -> str:
        s = self._outer()
        on = [f"b.kind = {self.put(lit(n.kind))}"]
        for path, v in zip(n.paths, n.values):
            on.append(f"{self.put(_path_value(exp.column('rec', table='b'), path, v.type))} = "
                      f"{self.put(self.lo.value(v, s))}")
        path = concat(lit(n.kind + "["), exp.column("rid", table="b"), lit("]"))
        inner = s.bind(n.var, Bound(exp.column("rec", table="b"), True, path))
        w = self.lo.value(n.where, inner) if n.where is not None else exp.true()
        order = exp.Struct(expressions=[
            exp.PropertyEQ(this=exp.to_identifier("d", quoted=True), expression=dot(exp.column("rec", table="b"), "date")),
            exp.PropertyEQ(this=exp.to_identifier("i", quoted=True), expression=exp.column("rid", table="b"))])
        kept = d.SortedList(this=case((exp.paren(w.copy(), copy=False), exp.column("rec", table="b"))),
                            expression=order)
        keep = exp.ArrayFilter(this=kept, expression=exp.Lambda(
            this=exp.Not(this=is_null(exp.to_identifier("k__", quoted=True))),
            expressions=[exp.to_identifier("k__", quoted=True)]))
        miss = self.lo.missing(n.where, inner) if n.where is not None else empty_paths()
        first = d.FirstBy(this=miss, expression=case((is_null(w.copy()), order.copy())))
        return (f"rel{j} AS (SELECT a.seq, bool_or({self.put(w)} IS NULL) AS u__, {self.put(keep)} AS v__, "
                f"{self.put(first)} AS m__ FROM recs a JOIN epochs e ON a.epoch = e.epoch "
                f"JOIN store b ON {' AND '.join(on)} WHERE a.seq >= 0 GROUP BY a.seq)")

    def base_parts(self) -> tuple[str, str]:
        """(columns, joins) of `base` (its records are `recs`, their parameters `epochs.p`)."""
        s = Scope(rec=exp.column("rec", table="recs"), params=exp.column("p", table="epochs"))
        cols, joins = [], []
        for j, n in enumerate(self.nodes):
            if isinstance(n, ir.Lookup):
                key = self.put(as_text(self.lo.value(n.id, s)))
                joins.append(f" LEFT JOIN store lk{j}__ ON lk{j}__.rid = {key} AND lk{j}__.kind = {self.put(lit(n.kind))}")
                cols.append(f", lk{j}__.rec AS lk{j}")
                continue
            unknown_key = exp.or_(*(is_null(self.lo.value(v, s)) for v in n.values), copy=False) \
                if n.values else exp.false()
            empty = exp.Cast(this=exp.Array(expressions=[]), to=self.list_type.copy())
            value = case((unknown_key, exp.Null()), (exp.column("seq", table=f"rel{j}").is_(exp.null()), empty),
                         (exp.column("u__", table=f"rel{j}"), exp.Null()), default=exp.column("v__", table=f"rel{j}"))
            keys_missing = _concat_lists([self.lo.missing_if_unknown(v, s) for v in n.values])
            miss = case((unknown_key.copy(), keys_missing),
                        default=exp.Coalesce(this=exp.column("m__", table=f"rel{j}"), expressions=[empty_paths()]))
            joins.append(f" LEFT JOIN rel{j} ON rel{j}.seq = recs.seq")
            cols.append(f", {self.put(value)} AS lk{j}, {self.put(miss)} AS lk{j}_m")
        return "".join(cols), "".join(joins)


# ---- the lowering of the two nodes (registered in lower._VALUE and lower.MISSING) ------------
def value(lo: Lowering, e: ir.Lookup | ir.Related, s: Scope) -> exp.Expression:
    hit = s.pre.get(id(e))
    if hit is None:
        what = "lookup" if isinstance(e, ir.Lookup) else "records"
        raise NotLowerable(f"{what}({e.kind}, …) reading an element, a window or another lookup")
    return hit[0]


def missing(lo: Lowering, e: ir.Lookup | ir.Related, s: Scope) -> exp.Expression:
    value(lo, e, s)
    hit = s.pre[id(e)]
    if isinstance(e, ir.Lookup):
        own = exp.Array(expressions=[concat(lit(e.kind + "["), as_text(lo.value(e.id, s)), lit("]"))])
        return case((is_null(lo.value(e.id, s)), lo._missing(e.id, s)), default=own)
    return hit[1]


_VALUE.update({ir.Lookup: value, ir.Related: value})
MISSING.update({ir.Lookup: missing, ir.Related: missing})
