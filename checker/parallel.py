"""`qinqing check --jobs N`: the batch in chunks over worker processes, same bytes out.

The main process reads the input with `checker.records.iter_records` (parsing, duplicate
ids, locations) but *defers validation*: it passes a stand-in validator that only notes
which records it was asked about. Chunks of raw records go to forked workers, which
validate and normalise them exactly as the loader would have, then evaluate them and
send the report entries back as JSON. Results are taken in submission order with a
bounded number of chunks in flight, so output order and memory do not depend on N.

With cross-record rules there are two passes: workers first return each valid record's
window projection (positions are global), the main process files them into one
`WindowIndex`, and the evaluation workers are forked after that, inheriting the index.

Workers are forked (Linux) so the compiled policy is inherited, not reloaded; the
arguments and results that cross processes are our own objects (no user-written pickle).
"""

from __future__ import annotations

import multiprocessing as mp
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson

from .engine import Engine, WindowIndex, project
from .records import LoadedRecord

CHUNK = 500  # records per task
IN_FLIGHT = 3  # tasks queued per worker

# What a worker needs, set in the parent before forking.
_STATE: dict[str, Any] = {}


class DeferredValidator:
    """Stands in for the validator inside `iter_records`: accepts everything, remembers the
    last record it was asked about (so the worker knows validation is due)."""

    __slots__ = ("called", "schema")
    OK = object()

    def __init__(self, schema: dict):
        self.schema = schema
        self.called = False

    def validate(self, raw: Any) -> tuple[Any, list]:
        self.called = True
        return self.OK, []


def _chunks(items: Iterable[LoadedRecord], deferred: DeferredValidator, size: int
            ) -> Iterator[list[tuple]]:
    chunk: list[tuple] = []
    for item in items:  # iter_records validates each record before yielding it
        due, deferred.called = deferred.called, False
        chunk.append((item.source, item.line, item.location, item.record_id, item.raw,
                      list(item.errors), due))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _materialise(t: tuple, validate: Callable) -> LoadedRecord:
    """The LoadedRecord `iter_records` would have produced with the real validator."""
    source, line, location, record_id, raw, errors, due = t
    data = None
    if due:
        data, verrs = validate(raw)
        if errors:  # the loader's own findings after validation (a duplicate id)
            errors = [*verrs, *errors]
            data = None
        else:
            errors = verrs
    return LoadedRecord(source, line, location, record_id, raw, data, errors)


def _index_task(args: tuple[int, list[tuple]]) -> list[tuple[int, dict]]:
    start, chunk = args
    validate, tree = _STATE["validate"], _STATE["tree"]
    out = []
    for i, t in enumerate(chunk):
        item = _materialise(t, validate)
        if item.data is not None:
            out.append((start + i, project(item.data, tree) if tree is not None else item.data))
    return out


def _eval_task(args: tuple[int, list[tuple]]) -> bytes:
    start, chunk = args
    engine: Engine = _STATE["engine"]
    validate = _STATE["validate"]
    index = _STATE.get("index")
    items = [_materialise(t, validate) for t in chunk]
    return orjson.dumps(list(engine.entries(items, index, start)))


def _ordered(pool, task, chunks: Iterator[list[tuple]], jobs: int
             ) -> Iterator[tuple[list[tuple], Any]]:
    """Submit chunks with backpressure; yield (chunk, result) in input order."""
    pending: deque = deque()
    start = 0
    for chunk in chunks:
        pending.append((chunk, pool.apply_async(task, ((start, chunk),))))
        start += len(chunk)
        if len(pending) >= jobs * IN_FLIGHT:
            c, res = pending.popleft()
            yield c, res.get()
    while pending:
        c, res = pending.popleft()
        yield c, res.get()


def parallel_entries(engine: Engine, read: Callable[[DeferredValidator], Iterable[LoadedRecord]],
                     validate: Callable, schema: dict, jobs: int, history: Iterable[dict] = (),
                     on_raw: Callable[[Any], None] | None = None, chunk_size: int = CHUNK
                     ) -> Iterator[dict]:
    """Report entries of the whole input, in order, computed by `jobs` processes.

    `read(validator)` opens the input afresh (called once per pass); `validate(raw)` is the
    real validation step (`Validator.validate`, possibly filling defaults); `on_raw`, if
    given, receives each entry's raw input record just before the entry is yielded."""
    ctx = mp.get_context("fork")
    _STATE.clear()
    _STATE.update(engine=engine, validate=validate, index=None, tree=None)
    try:
        index: WindowIndex | None = engine.new_index(history)
        if index is not None:
            _STATE["tree"] = index.tree
            deferred = DeferredValidator(schema)
            with ctx.Pool(jobs) as pool:
                for _chunk, projections in _ordered(pool, _index_task,
                                                    _chunks(read(deferred), deferred, chunk_size), jobs):
                    for seq, proj in projections:
                        index.add(proj, seq)
            index.freeze()
            _STATE["index"] = index
        deferred = DeferredValidator(schema)
        with ctx.Pool(jobs) as pool:
            for chunk, blob in _ordered(pool, _eval_task,
                                        _chunks(read(deferred), deferred, chunk_size), jobs):
                for t, entry in zip(chunk, orjson.loads(blob)):
                    if on_raw is not None:
                        on_raw(t[4])
                    yield entry
    finally:
        _STATE.clear()
