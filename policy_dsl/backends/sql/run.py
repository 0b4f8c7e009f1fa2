"""What an SQL engine is given: the records in stored form with their epoch, and one row per epoch
(the parameters and the rules in force for a jurisdiction between two change dates).

`Inputs` is engine-neutral: `duck.py` and `spark.py` load the two JSONL files it writes and run
the plan's query on them. The generated query is cached per program content hash and dialect.
"""

from __future__ import annotations

import bisect
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from ... import ir
from ...evaluate import Evaluator
from ...types import T, record_type
from . import program as prog
from .shape import representable, stored

_PLANS: dict[tuple[str, int], prog.Plan] = {}
_SQL: dict[tuple[str, int, str], str] = {}


def plan_for(ev: Evaluator) -> prog.Plan:
    """The lowered program of an evaluator (cached by content hash and program)."""
    key = (ev.program.content_hash, id(ev.program))
    hit = _PLANS.get(key)
    if hit is None or hit.rules[:1] != list(ev.program.rules)[:1]:
        hit = _PLANS[key] = prog.plan(ev.program, None)
    return hit


def sql_for(ev: Evaluator, dialect: str) -> str:
    """The query text for a dialect (generated once per program content hash)."""
    key = (ev.program.content_hash, id(ev.program), dialect)
    hit = _SQL.get(key)
    if hit is None:
        hit = _SQL[key] = plan_for(ev).sql(dialect)
    return hit


_STEPS: dict[tuple[str, int, str], list[tuple[str, str]]] = {}


def steps_for(ev: Evaluator, dialect: str) -> list[tuple[str, str]]:
    """The query as named steps, each to be materialised in turn (cached like `sql_for`)."""
    key = (ev.program.content_hash, id(ev.program), dialect)
    hit = _STEPS.get(key)
    if hit is None:
        hit = _STEPS[key] = plan_for(ev).step_sql(dialect)
    return hit


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

    def __init__(self, ev: Evaluator, plan: prog.Plan):
        self.ev = ev
        self.plan = plan
        self.rtype = record_type(ev.program.schema)
        self.ptypes = plan.params
        self.pos = {r.id: i for i, r in enumerate(plan.rules)}
        self._epochs: dict[tuple[str, int], int] = {}
        self._epoch_rows: list[bytes] = []

    def epoch(self, r: dict) -> int:
        code, day = r["jurisdiction"], r["date"]
        key = (code, bisect.bisect_right(self.ev._change_dates, day))
        e = self._epochs.get(key)
        if e is None:
            e = self._epochs[key] = len(self._epochs)
            inf = self.ev.in_force(code, day)
            on = {c.ir.id for c in inf.rules} | {c.ir.id for c in inf.tolerances}
            p = {name: stored(inf.params.get(name), t) for name, t in self.ptypes.items()}  # type: ignore[arg-type]
            row: dict[str, Any] = {"epoch": e, "p": p or {"none__": None}}
            for rid, i in self.pos.items():
                row[f"on_{i}"] = rid in on
            self._epoch_rows.append(orjson.dumps(row))
        return e

    def params_ok(self, r: dict) -> bool:
        inf = self.ev.in_force(r["jurisdiction"], r["date"])
        return all(representable(inf.params.get(n), t) for n, t in self.ptypes.items())  # type: ignore[arg-type]

    def write(self, records: Iterable[tuple[int, dict]]) -> Inputs:
        """Write the records (seq, record) to a JSONL file; records whose numbers the SQL types
        cannot hold exactly are left out and listed in `fallback` (negative seqs: history)."""
        folder = tempfile.mkdtemp(prefix="qinqing-sql-")
        recs = os.path.join(folder, "recs.jsonl")
        n = 0
        fallback = []
        with open(recs, "wb") as fh:
            for seq, r in records:
                if not representable(r, self.rtype) or not self.params_ok(r):
                    fallback.append(seq)
                    continue
                fh.write(orjson.dumps({"seq": seq, "epoch": self.epoch(r), "rec": stored(r, self.rtype)}))
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
                         "rec": self.plan.record_type},
                "epochs": epochs}


def type_of_params(ptypes: dict[str, T]) -> T:
    return T("object", fields=dict(ptypes))


__all__ = ["Feeder", "Inputs", "ir", "plan_for", "sql_for"]
