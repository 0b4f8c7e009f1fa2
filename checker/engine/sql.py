"""`check --engine duckdb|spark`: the batch judged by the lowered program on an SQL engine, the
report entries rendered in Python from the findings it returns.

Validation stays the Python validator's (records are read and checked one by one, as with the
Python engine; invalid ones are reported with file, line and JSON path); only valid records are
handed to the engine, in stored form. The engine returns the findings table (rule, element,
outcome, missing facts, ...); each row becomes a `Finding` again (`finding_of`), bound to its
element and, for window rules, to the window the engine built, so that the one renderer
(`checker/findings/render.py`) writes exactly what the Python engine would. A record whose
numbers the SQL types cannot hold exactly is judged by the Python engine (the whole batch, when
window rules need the batch).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from typing import Any

import orjson

from checker.engine.engine import Engine
from checker.findings.entry import record_entry
from policy_dsl import ir
from policy_dsl.evaluate import RANK, STORE, Evaluator, Finding, RecordResult
from policy_dsl.store import record_kind

HOLD = 5000  # batches up to this size are kept in memory between the engine run and rendering


class Rows:
    """Column access for the engine's findings rows."""

    COLUMNS = ("seq", "g", "o1", "o2", "rule", "via", "winner", "kind", "outcome", "severity", "cpath", "idx",
               "n", "undecided", "cref", "miss", "pend_rule", "pend_cref", "pend_idx", "wjson",
               "conflict_with", "tolerated_by", "covered")
    AT = {c: i for i, c in enumerate(COLUMNS)}


class Rebuilder:
    """Findings rows of one record → `Finding`s, bound as the Python evaluator binds them."""

    def __init__(self, engine: Engine, lowered: Evaluator | None = None):
        self.engine = engine  # (its `store`: the records lookups find, bound as the evaluator binds it)
        self.ev = engine.ev
        self.by_id = self.ev.by_id
        self.rules = {r.id: r for r in self.ev.program.rules}
        from policy_dsl.backends.sql.run import shape_for
        self.rtype = shape_for(lowered or self.ev).record_t  # (`lowered`: the program run in SQL)

    def cond(self, cref: str | None) -> ir.Expr | None:
        if cref is None:
            return None
        tag, rest = cref[0], cref[2:]
        if tag == "W":
            return self.by_id[rest].cond_ir
        if tag == "C":
            return self.by_id[rest].coll_ir
        rid, j = rest.rsplit(":", 1)
        return self.rules[rid].requires[int(j)].cond

    def bindings(self, r: dict, p: dict, owner: ir.RuleIR, idx: int | None, cpath: str | None,
                 q: ir.RequireIR | None, wjson: str | None) -> tuple[dict, dict]:
        """What the evaluator binds for a finding of `owner` on element `idx` (and its window)."""
        v: dict = {}
        paths: dict = {}
        c = self.by_id.get(owner.id)
        if c is not None and c.uses_store and self.engine.store is not None:
            v[STORE] = self.engine.store
        if wjson is not None and owner.window is not None:
            from policy_dsl.backends.sql.shape import from_stored
            v["$window"] = [from_stored(x, self.rtype) for x in orjson.loads(wjson)]
        elif owner.window is not None:
            v["$window"] = None
        if idx is not None and owner.foreach is not None:
            c = self.by_id[owner.id]
            items = c.coll(r, p, v) or []
            var = owner.foreach[0]
            v[var] = items[idx]
            paths[var] = f"{cpath}[{idx}]"
            if q is not None:
                b = self.rules.get(q.boundary)
                if b is not None and b.foreach is not None and b.foreach[0] != var:
                    v[b.foreach[0]] = v[var]
                    paths[b.foreach[0]] = paths[var]
        return v, paths

    def finding(self, r: dict, p: dict, row: tuple) -> Finding:
        at = Rows.AT
        rule = self.rules[row[at["rule"]]]
        via = self.rules[row[at["via"]]] if row[at["via"]] is not None else None
        kind = row[at["kind"]]
        idx, cpath = row[at["idx"]], row[at["cpath"]]
        owner = via or rule
        cref = row[at["cref"]]
        pend = row[at["pend_rule"]]
        require = self._require_of(row, via) if via is not None and kind == "boundary" else None
        if kind == "tolerance":
            v, paths = {}, {}
        else:
            v, paths = self.bindings(r, p, owner, idx, cpath, require, row[at["wjson"]])
        f = Finding(rule=rule, kind=kind, outcome=row[at["outcome"]], severity=row[at["severity"]], via=via,
                    scope=(cpath, idx) if idx is not None else None, bindings=v, paths=paths,
                    cond=self.cond(cref), require=require, undecided=bool(row[at["undecided"]]))
        f.pending = pend
        f.tolerated_by = row[at["tolerated_by"]]
        if kind == "conflict":
            f.conflict = (rule.id, row[at["conflict_with"]])
        if kind == "tolerance":
            f.covered = tuple(row[at["covered"]] or ())
        if pend is not None and pend in self.by_id and self.rules[pend].kind == "tolerance" \
                and self.by_id[pend].uses_store and self.engine.store is not None:
            f.bindings = {**f.bindings, STORE: self.engine.store}  # (as evaluate._tolerance_undecided)
        if pend is not None and pend in self.rules and self.rules[pend].kind != "tolerance":
            w = self.rules[pend]
            pc = row[at["pend_cref"]]
            pq = w.requires[int(pc.rsplit(":", 1)[1])] if pc is not None and pc.startswith("R:") else None
            pv, ppaths = self.bindings(r, p, w, row[at["pend_idx"]], _cpath(w), pq, None)
            f.bindings = {**f.bindings, **pv}
            f.paths = {**f.paths, **ppaths}
        return f

    def _require_of(self, row: tuple, via: ir.RuleIR) -> ir.RequireIR | None:
        o1 = row[Rows.AT["o1"]]
        sub = o1 % 1000
        if 1 <= sub <= len(via.requires):
            return via.requires[sub - 1]
        return None


def _cpath(rule: ir.RuleIR) -> str | None:
    from policy_dsl.backends.sql.program import coll_path
    return coll_path(rule.foreach[1]) if rule.foreach is not None else None


class SqlEngineError(Exception):
    """The SQL engine cannot run this batch (not installed, or a construct it does not lower):
    one line for the user, in both languages (`checker/run/check.py` reports it)."""

    def __init__(self, zh: str, en: str):
        super().__init__(en)
        self.zh = zh
        self.en = en


class SqlRun:
    """One batch on an SQL engine: feed, run, then entries in input order."""

    def __init__(self, engine: Engine, kind: str, threads: int | None = None, master: str | None = None):
        import importlib.util

        module = "pyspark" if kind == "spark" else "duckdb"
        if importlib.util.find_spec(module) is None:
            extra = "pip install 'qinqing[spark]'" if kind == "spark" else "pip install duckdb"
            raise SqlEngineError(f"--engine {kind} 需要 {module}：{extra}", f"--engine {kind} needs {module}: {extra}")
        self.engine = engine
        self.kind = kind
        self.threads = threads
        self.master = master
        from checker.engine.policy_cache import cache_dir

        self.dialect = "duckdb" if kind == "duckdb" else "spark"
        self.cache = cache_dir()
        # Lowered kind by kind, as a batch's records show its kinds (a batch of interactions
        # does not wait for the other kinds' SQL). The rules of a record kind with a construct
        # the SQL backend lacks are left out; that kind's records are then judged by the Python
        # engine (`refused`: kind → why).
        self.rule_kinds = {r.record_kind for r in engine.ev.program.rules}
        self.why: dict[str, str | None] = {}  # kind → why its rules do not lower (None: they do)
        self.rebuild: Any = None  # (made by feeder_for, for the program it runs)

    @property
    def refused(self) -> dict[str, str]:
        return {k: why for k, why in self.why.items() if why is not None}

    def refuses(self, kind: str) -> bool:
        """Whether the rules of `kind` do not lower (lowering them the first time it is asked)."""
        if kind not in self.rule_kinds:
            return False
        if kind not in self.why:
            self.why[kind] = _refusal(self.engine.ev, kind, self.dialect, self.cache)
        return self.why[kind] is not None

    def feeder_for(self, present: set[str]) -> Any:
        """The feeder of the program for a batch holding records of the kinds `present`: only the
        rules of those kinds are run (the others' SQL costs as much whether or not a record of
        their kind is there)."""
        from policy_dsl.backends.sql import run
        from policy_dsl.backends.sql.lower import NotLowerable

        kinds = {k for k in self.rule_kinds & present if not self.refuses(k)}
        # (the subset of one kind is the one `refuses` lowered and cached: not lowered again)
        ev = self.engine.ev if kinds == self.rule_kinds else _subset(self.engine.ev, kinds)
        feeder = run.Feeder(ev, run.shape_for(ev), self.cache)
        try:
            run.steps_for(ev, self.dialect, feeder.cache)
        except NotLowerable as exc:
            raise SqlEngineError(f"这些规则无法在 SQL 引擎上运行（{exc}），请用 --engine python",
                                 f"these policies cannot run on the SQL engines ({exc}); use --engine python") from None
        self.rebuild = Rebuilder(self.engine, ev)
        return feeder

    def rows(self, items: Iterable[tuple[int, dict]], history: list[dict]) -> tuple[Any, list[int]]:
        """The findings rows of the batch (`items`: seq and record, read once and written in
        stored form as they come, so a batch of any size streams; the rows a `run.Found`, to be
        closed), and the seqs left to Python."""
        from policy_dsl.backends.sql import run
        from policy_dsl.backends.sql.program import kinds_read

        # (Spark's executors read the files: a folder they all reach, as for its steps)
        folder = os.environ.get("QINQING_SPARK_WORKDIR") if self.kind == "spark" else None
        writer = run.RecordsWriter(self.engine.ev, kinds_read(self.engine.ev.program), folder)
        try:
            for i, h in enumerate(history):
                writer.add(i - len(history), h)
            for seq, r in items:
                writer.add(seq, r)
            writer.close()
            feeder = self.feeder_for(writer.present)
            inputs = feeder.inputs(writer)
            fallback = [s for s in inputs.fallback if s >= 0]
            if self.kind == "duckdb":
                from policy_dsl.backends.sql import duck
                con = duck.connect(self.threads)
                duck.load(con, feeder, inputs)
                writer.discard()  # (loaded: DuckDB holds the records now)
                return duck.findings(con, feeder).then(con.close), fallback
            from policy_dsl.backends.sql import spark
            return spark.findings_rows(feeder, inputs, master=self.master).then(writer.discard), fallback
        except BaseException:
            writer.discard()
            raise

    def entry(self, item: Any, rows: list[tuple]) -> dict:
        r = item.data
        p = self.engine.ev.params_for(r["jurisdiction"], r["date"])
        findings = [self.rebuild.finding(r, p, row) for row in rows]
        outcome = "unlisted"
        for f in findings:
            if RANK[f.outcome] < RANK[outcome]:
                outcome = f.outcome
        if self.engine.options.values:
            return self.engine.values_entry(item, outcome, findings, p)
        return record_entry(item, RecordResult(outcome, findings, [], p), self.engine.renderer, False)


def sql_entries(engine: Engine, kind: str, read: Callable[[], Iterator[Any]], history: list[dict],
                threads: int | None, master: str | None, keep_raw: Callable[[Any], None] | None,
                python_entries: Callable[[], Iterator[dict]]) -> Iterator[dict]:
    """Report entries in input order, judged on the SQL engine `kind`. `read()` reads the input
    (again, for a large batch); `python_entries()` is the Python engine's run of the same batch
    (used when records need it, see the module's docstring)."""
    run = SqlRun(engine, kind, threads, master)
    held: list | None = []
    builder = engine.store_builder() if engine.needs_store else None  # for rendering (below)
    for h in history if builder is not None else ():
        builder.add(h)

    def first_pass() -> Iterator[tuple[int, dict]]:
        nonlocal held
        for seq, item in enumerate(read()):
            if held is not None:
                held.append(item)
                if len(held) > HOLD:
                    held = None
            if item.data is not None:
                if builder is not None:
                    builder.add(item.data)
                if run.refuses(record_kind(item.data)):
                    refused.append(seq)
                yield seq, item.data

    refused: list[int] = []
    rows, fallback = run.rows(first_pass(), history)
    try:
        if refused:
            why = "; ".join(f"{k}: {v}" for k, v in sorted(run.refused.items()))
            kinds = ", ".join(sorted(run.refused))
            sys.stderr.write(f"注意：{kinds} 类记录的规则无法在 SQL 引擎上运行（{why}），这 {len(refused)} 条记录由 Python 引擎判定\n"
                             if engine.options.lang == "zh" else
                             f"Note: the rules of {kinds} records cannot run on the SQL engines ({why}); "
                             f"those {len(refused)} records are judged by the Python engine\n")
        fallback = [*fallback, *refused]
        if fallback:
            if engine.needs_windows or engine.needs_store:  # the others' windows or lookups need them
                rows.close()
                yield from python_entries()
                return
        fallback_set = set(fallback)
        if builder is not None:  # for rendering: what the findings' lookups find (as the Python engine)
            engine.store = builder.store()
            if engine.store is None:  # a kind found to be needed late: read again, once
                engine.store = builder.again(chain(history, (i.data for i in (held if held is not None else read())
                                                             if i.data is not None)))
        source = held if held is not None else read()
        at_seq = Rows.AT["seq"]
        pending = next(rows, None)
        for seq, item in enumerate(source):
            if keep_raw is not None:
                keep_raw(item.raw)
            if item.data is None:
                yield engine.invalid(item)
                continue
            mine = []
            while pending is not None and pending[at_seq] == seq:
                mine.append(pending)
                pending = next(rows, None)
            if seq in fallback_set:
                yield engine.check_one(item, None, seq)
                continue
            yield run.entry(item, mine)
    finally:
        rows.close()  # (the engine's connection, or Spark's files)


def _refusal(ev: Evaluator, kind: str, dialect: str, cache: Any) -> str | None:
    """Why the rules of `kind` do not lower (the first construct met), or None when they do.
    Their SQL is cached by `steps_for` (by content hash); a refusal is kept in `cache` too."""
    from policy_dsl.backends.sql import run
    from policy_dsl.backends.sql.lower import NotLowerable

    sub = _subset(ev, {kind})
    path = cache / f"sql-refused-{run.CACHE_FORMAT}-{sub.program.content_hash}-{dialect}.json" \
        if cache is not None and ev.program.content_hash else None
    if path is not None and path.exists():
        try:
            return str(orjson.loads(path.read_bytes()))
        except (OSError, ValueError):
            pass
    try:
        run.steps_for(sub, dialect, cache)
        return None
    except NotLowerable as exc:
        why = str(exc)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(orjson.dumps(why))
        except OSError:
            pass
    return why


def _subset(ev: Evaluator, kinds: set[str]) -> Evaluator:
    """The evaluator of the program's rules of `kinds` only."""
    return rules_subset(ev, lambda r: r.record_kind in kinds, ",".join(sorted(kinds)))


def rules_subset(ev: Evaluator, keep: Callable[[ir.RuleIR], bool], tag: str) -> Evaluator:
    """The evaluator of the program's rules that `keep` keeps (`tag` names the subset in the
    content hash the generated SQL is cached by)."""
    import dataclasses

    program = ev.program
    packs = tuple(dataclasses.replace(pk, rules=tuple(r for r in pk.rules if keep(r))) for pk in program.packs)
    sub = dataclasses.replace(program, packs=packs, content_hash=f"{program.content_hash}-{tag}")
    return Evaluator(sub, ev.params)

