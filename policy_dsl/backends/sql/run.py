"""What an SQL engine is given: the records in stored form with their epoch, and one row per epoch
(the parameters and the rules in force for a jurisdiction between two change dates).

`Inputs` is engine-neutral: `duck.py` and `spark.py` load the two JSONL files it writes and run
the plan's query on them. The generated query is cached per program content hash and dialect.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from array import array
from pathlib import Path
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from ... import ir
from ...evaluate import Evaluator
from ...store import record_kind
from ...types import T, record_type
from . import program as prog
from .shape import Unrepresentable, representable, stored, storer

_PLANS: dict[tuple[str, int], prog.Plan] = {}
_SHAPES: dict[tuple[str, int], prog.Shape] = {}
_STEPS: dict[tuple[str, int, str], list[tuple[str, str]]] = {}
CACHE_FORMAT = 7  # bump when the generated SQL changes for the same program


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
    recs: list[str]  # the records files (one per kind)
    epochs: str
    n_records: int
    n_epochs: int
    fallback: list[int] = field(default_factory=list)  # seqs the SQL types cannot hold exactly

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


class Found:
    """An engine's findings rows, handed over as they are read; then each `done` callback runs,
    once: when the rows run out, or on `close` (consumed or not, started or not)."""

    def __init__(self, rows: Iterator[tuple], *done: Callable[[], None]):
        self._rows = rows
        self._done = list(done)

    def then(self, done: Callable[[], None]) -> Found:
        self._done.append(done)
        return self

    def __iter__(self) -> Found:
        return self

    def __next__(self) -> tuple:
        try:
            return next(self._rows)
        except StopIteration:
            self.close()
            raise

    def close(self) -> None:
        done, self._done = self._done, []
        for fn in done:
            fn()


class RecordsWriter:
    """The records files of a batch, written as the records come (nothing held in memory), one
    per kind: each record in stored form by its kind's type (a field two kinds share is stored
    alike, see `program.merged_type`, so the files of the kinds a program reads load with its
    merged type), with its epoch (`Evaluator.epoch`). `kinds`: the kinds worth writing (judged
    or looked up by some rule)."""

    def __init__(self, ev: Evaluator, kinds: frozenset[str], folder: str | None = None):
        self.ev = ev
        self.kinds = kinds
        self.folder = tempfile.mkdtemp(prefix="qinqing-sql-", dir=folder)  # (`folder`: where, else the temp folder)
        self.files: dict[str, Any] = {}  # kind → its open file
        self._storers: dict[str, Any] = {}
        self.present: set[str] = set()  # the kinds of every record given
        self.epochs: dict[tuple[str, int], int] = {}  # epoch key → its number
        self.days: list[tuple[str, Any]] = []  # by number: a jurisdiction and day of the epoch
        self.seqs = array("q")  # the records written: seq and epoch number
        self.at = array("l")
        self.fallback: list[int] = []  # seqs the SQL types cannot hold exactly

    def _storer(self, kind: str) -> Any:
        hit = self._storers.get(kind)
        if hit is None:
            schema = self.ev.program.schema_of(kind)
            hit = self._storers[kind] = storer(record_type(schema)) if schema is not None else False
        return hit

    def add(self, seq: int, r: dict) -> None:
        kind = record_kind(r)
        self.present.add(kind)
        if kind not in self.kinds:
            return  # no rule judges it or looks it up: unlisted, without findings
        store = self._storer(kind)
        try:
            rec = store(r) if store else None
        except Unrepresentable:
            rec = None
        if rec is None:
            self.fallback.append(seq)
            return
        code, day = r["jurisdiction"], r["date"]
        key = self.ev.epoch(code, day)
        e = self.epochs.get(key)
        if e is None:
            e = self.epochs[key] = len(self.days)
            self.days.append((code, day))
        fh = self.files.get(kind)
        if fh is None:
            fh = self.files[kind] = open(os.path.join(self.folder, f"recs-{len(self.files)}.jsonl"), "wb")
        fh.write(orjson.dumps({"seq": seq, "epoch": e, "kind": kind, "rec": rec}))
        fh.write(b"\n")
        self.seqs.append(seq)
        self.at.append(e)

    def close(self) -> None:
        for fh in self.files.values():
            fh.close()

    def discard(self) -> None:
        """Remove the files (and the epochs file written beside them)."""
        self.close()
        shutil.rmtree(self.folder, ignore_errors=True)


class Feeder:
    """Turns records into the engine's inputs (epochs worked out with the evaluator)."""

    def __init__(self, ev: Evaluator, plan: prog.Shape, cache: Path | None = None):
        self.ev = ev
        self.plan = plan
        self.cache = cache  # where the generated SQL is kept (see steps_for)
        self.kinds = plan.kinds
        self.ptypes = plan.params
        self.pos = {r.id: i for i, r in enumerate(plan.rules)}

    def writer(self) -> RecordsWriter:
        return RecordsWriter(self.ev, self.kinds)

    def write(self, records: Iterable[tuple[int, dict]]) -> Inputs:
        """Write the records (seq, record): `writer` and `inputs` in one go."""
        w = self.writer()
        try:
            for seq, r in records:
                w.add(seq, r)
            w.close()
            return self.inputs(w)
        except BaseException:
            w.discard()
            raise

    def inputs(self, w: RecordsWriter) -> Inputs:
        """The inputs of this feeder's program from a written records file (`w`, closed): one
        row per epoch with the parameters and the rules in force. Records of an epoch whose
        parameter values the SQL types cannot hold exactly get no epoch row (the engine's joins
        leave them out) and are listed in `fallback` (negative seqs: history)."""
        rows, bad = [], set()
        for e, (code, day) in enumerate(w.days):
            inf = self.ev.in_force(code, day)
            if not all(representable(inf.params.get(n), t) for n, t in self.ptypes.items()):  # type: ignore[arg-type]
                bad.add(e)
                continue
            on: set[str] = set()
            for kind in self.kinds:  # (a rule judges its kind only: `base` checks the record's)
                kin = self.ev.in_force(code, day, kind)
                on |= {c.ir.id for c in kin.rules} | {c.ir.id for c in kin.tolerances}
            p = {name: stored(inf.params.get(name), t) for name, t in self.ptypes.items()}  # type: ignore[arg-type]
            row: dict[str, Any] = {"epoch": e, "p": p or {"none__": None}}
            for rid, i in self.pos.items():
                row[f"on_{i}"] = rid in on
            rows.append(orjson.dumps(row))
        fallback = list(w.fallback)
        if bad:
            fallback += [s for s, e in zip(w.seqs, w.at) if e in bad]
        epochs = os.path.join(w.folder, "epochs.jsonl")
        with open(epochs, "wb") as fh:
            for row in rows:
                fh.write(row + b"\n")
        recs = [fh.name for kind, fh in w.files.items() if kind in self.kinds]
        if not recs:  # (an engine reads at least one file: an empty one)
            recs = [os.path.join(w.folder, "recs-none.jsonl")]
            open(recs[0], "wb").close()
        return Inputs(w.folder, recs, epochs, len(w.seqs), len(rows), fallback)

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


__all__ = ["Feeder", "Found", "Inputs", "RecordsWriter", "ir", "plan_for", "shape_for", "sql_for", "steps_for"]
