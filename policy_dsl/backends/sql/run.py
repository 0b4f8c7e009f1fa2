"""What an SQL engine is given: the records in stored form with their epoch, and one row per epoch
(the parameters and the rules in force for a jurisdiction between two change dates).

`Inputs` is engine-neutral: `duck.py` and `spark.py` load the two JSONL files it writes and run
the plan's query on them. The generated query is cached per program content hash and dialect.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from ... import ir
from ...evaluate import Evaluator
from ...types import T, record_type
from . import program as prog
from .shape import Unrepresentable, representable, stored, storer

_PLANS: dict[tuple[str, int], prog.Plan] = {}
_SHAPES: dict[tuple[str, int], prog.Shape] = {}
_STEPS: dict[tuple[str, int, str], list[tuple[str, str]]] = {}
CACHE_FORMAT = 6  # bump when the generated SQL changes for the same program


def _key(ev: Evaluator) -> tuple[str, int]:
    return (ev.program.content_hash, id(ev.program))


def plan_for(ev: Evaluator) -> prog.Plan:
    """The lowered program of an evaluator (kept per program)."""
    hit = _PLANS.get(_key(ev))
    if hit is None:
        hit = _PLANS[_key(ev)] = prog.plan(ev.program)
    return hit


def shape_for(ev: Evaluator) -> prog.Shape:
    hit = _SHAPES.get(_key(ev))
    if hit is None:
        hit = _SHAPES[_key(ev)] = prog.shape(ev.program)
    return hit


def steps_for(ev: Evaluator, dialect: str, cache: Path | None = None) -> list[tuple[str, str]]:
    """The query as named steps, the last named `final`. Generated once per program and
    dialect, and kept in `cache` (a folder) by the program's content hash when given."""
    key = (*_key(ev), dialect)
    hit = _STEPS.get(key)
    if hit is not None:
        return hit
    digest = ev.program.content_hash
    path = cache / f"sql-{CACHE_FORMAT}-{digest}-{dialect}.json" if cache is not None and digest else None
    if path is not None:
        try:
            hit = [tuple(x) for x in orjson.loads(path.read_bytes())]  # type: ignore[misc]
        except (OSError, ValueError):
            hit = None
    if hit is None:
        hit = plan_for(ev).step_sql(dialect)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_bytes(orjson.dumps(hit))
                os.replace(tmp, path)
            except OSError:
                pass
    _STEPS[key] = hit  # type: ignore[assignment]
    return hit  # type: ignore[return-value]


def sql_for(ev: Evaluator, dialect: str, cache: Path | None = None) -> str:
    """One statement: the steps as common table expressions, then the final query. DuckDB is
    told to materialise each step: otherwise it inlines a step at every use (`base` is read by
    every rule's branch), which took 40 % more time at 100,000 records."""
    steps = steps_for(ev, dialect, cache)
    kw = "MATERIALIZED " if dialect == "duckdb" else ""
    body = ", ".join(f"{name} AS {kw}({sql})" for name, sql in steps[:-1])
    return f"WITH {body} {steps[-1][1]}"


@dataclass
class Inputs:
    """The records and epochs files for one batch (removed by `close`)."""

    folder: str
    recs: str
    epochs: str
    n_records: int
    n_epochs: int
    fallback: list[int] = field(default_factory=list)  # seqs the SQL types cannot hold exactly

    def close(self) -> None:
        for p in (self.recs, self.epochs):
            try:
                os.unlink(p)
            except OSError:
                pass
        try:
            os.rmdir(self.folder)
        except OSError:
            pass


class Feeder:
    """Turns records into the engine's inputs (epochs worked out with the evaluator)."""

    def __init__(self, ev: Evaluator, plan: prog.Shape, cache: Path | None = None):
        self.ev = ev
        self.plan = plan
        self.cache = cache  # where the generated SQL is kept (see steps_for)
        self.rtype = plan.record_t if plan.record_t is not None else record_type(ev.program.schema)
        self.kinds = plan.kinds
        self.ptypes = plan.params
        self.pos = {r.id: i for i, r in enumerate(plan.rules)}
        self._epochs: dict[tuple[str, int], int] = {}
        self._epoch_rows: list[bytes] = []
        self._params_ok: dict[tuple[str, int], bool] = {}

    def epoch(self, r: dict) -> int:
        code, day = r["jurisdiction"], r["date"]
        key = self.ev.epoch(code, day)
        e = self._epochs.get(key)
        if e is None:
            e = self._epochs[key] = len(self._epochs)
            on: set[str] = set()
            for kind in self.kinds:  # (a rule judges its kind only: `base` checks the record's)
                inf = self.ev.in_force(code, day, kind)
                on |= {c.ir.id for c in inf.rules} | {c.ir.id for c in inf.tolerances}
            p = {name: stored(inf.params.get(name), t) for name, t in self.ptypes.items()}  # type: ignore[arg-type]
            row: dict[str, Any] = {"epoch": e, "p": p or {"none__": None}}
            for rid, i in self.pos.items():
                row[f"on_{i}"] = rid in on
            self._epoch_rows.append(orjson.dumps(row))
        return e

    def params_ok(self, r: dict) -> bool:
        """Whether the parameter values in force for the record fit the SQL types (per epoch)."""
        key = self.ev.epoch(r["jurisdiction"], r["date"])
        ok = self._params_ok.get(key)
        if ok is None:
            inf = self.ev.in_force(r["jurisdiction"], r["date"])
            ok = self._params_ok[key] = all(representable(inf.params.get(n), t)  # type: ignore[arg-type]
                                            for n, t in self.ptypes.items())
        return ok

    def write(self, records: Iterable[tuple[int, dict]]) -> Inputs:
        """Write the records (seq, record) to a JSONL file; records whose numbers the SQL types
        cannot hold exactly are left out and listed in `fallback` (negative seqs: history)."""
        folder = tempfile.mkdtemp(prefix="qinqing-sql-")
        recs = os.path.join(folder, "recs.jsonl")
        n = 0
        fallback = []
        store = storer(self.rtype)
        with open(recs, "wb") as fh:
            for seq, r in records:
                kind = r.get("record_kind") or ir.DEFAULT_KIND
                if kind not in self.kinds:
                    continue  # no rule judges it or looks it up: unlisted, without findings
                try:
                    rec = store(r)
                except Unrepresentable:
                    rec = None
                if rec is None or not self.params_ok(r):
                    fallback.append(seq)
                    continue
                fh.write(orjson.dumps({"seq": seq, "epoch": self.epoch(r), "kind": kind, "rec": rec}))
                fh.write(b"\n")
                n += 1
        epochs = os.path.join(folder, "epochs.jsonl")
        with open(epochs, "wb") as fh:
            for row in self._epoch_rows:
                fh.write(row + b"\n")
        return Inputs(folder, recs, epochs, n, len(self._epoch_rows), fallback)

    def column_types(self) -> dict[str, dict[str, Any]]:
        """The column types of the two inputs, as sqlglot data types."""
        from sqlglot import exp
        epochs: dict[str, Any] = {"epoch": exp.DataType.build("INTEGER"), "p": self.plan.params_type}
        for i in range(len(self.plan.rules)):
            epochs[f"on_{i}"] = exp.DataType.build("BOOLEAN")
        return {"recs": {"seq": exp.DataType.build("BIGINT"), "epoch": exp.DataType.build("INTEGER"),
                         "kind": exp.DataType.build("VARCHAR"), "rec": self.plan.record_type},
                "epochs": epochs}


def type_of_params(ptypes: dict[str, T]) -> T:
    return T("object", fields=dict(ptypes))


__all__ = ["Feeder", "Inputs", "ir", "plan_for", "shape_for", "sql_for", "steps_for"]
