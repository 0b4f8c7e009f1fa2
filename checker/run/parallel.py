"""`qinqing check --jobs N`: the batch in chunks over worker processes, same bytes out.

JSONL files (the format of large batches) are cut into byte ranges at line ends; workers
read, parse, validate and evaluate their ranges with the loader's own JSONL reader (its
fast path included), so the main process only stitches results together. Duplicate ids are a property of the whole
batch, so a first *scan* pass has the workers return each record's id (and, with
cross-record rules, the window projection of each valid record); the main process runs the
loader's duplicate check over them in input order and files the projections into one
`WindowIndex`. The evaluation workers are forked after that and inherit the index; each
task also carries the duplicate-id errors of its records.

Other formats (CSV, XLSX, JSON, YAML) are read whole by one process anyway: the main
process reads them with `iter_records` but defers validation to the workers.

Results are taken in submission order with a bounded number of tasks in flight, so output
order and memory do not depend on N. Workers are forked (Linux), so the compiled policy is
inherited, not reloaded; what crosses processes is our own data (no user-written pickle).
"""

from __future__ import annotations

import codecs
import gc
import io
import multiprocessing as mp
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson

from checker.engine.engine import Engine
from checker.engine.windows import WindowIndex
from checker.input import records as rec
from checker.input.fastjson import Partial, decoder_for, projection_decoder
from checker.input.jsonl import read_jsonl
from checker.input.records import Decoded, InputError, LoadedRecord
from checker.reports.jsonl_report import ENCODE_OPTION
from checker.reports.report import EncodedEntries

CHUNK_BYTES = 1 << 20  # JSONL bytes per task
CHUNK = 500  # records per task, other formats
IN_FLIGHT = 3  # tasks queued per worker

# What a worker needs, set in the parent before forking.
_STATE: dict[str, Any] = {}


# ---- JSONL byte ranges ------------------------------------------------------------------------
def jsonl_ranges(path: str, target: int = CHUNK_BYTES, block_size: int = 1 << 20
                 ) -> Iterator[tuple[int, int, int]]:
    """(start, end, first line number) of consecutive byte ranges of about `target` bytes,
    each ending just after a line end (or at the end of the file)."""
    with open(path, "rb") as f:
        start, line, offset, newlines = 0, 1, 0, 0
        while True:
            block = f.read(block_size)
            if not block:
                break
            pos = 0
            while True:
                need = target - (offset + pos - start)
                if need > 0:
                    if pos + need > len(block):
                        newlines += block.count(b"\n", pos)
                        break
                    newlines += block.count(b"\n", pos, pos + need)
                    pos += need
                nl = block.find(b"\n", pos)
                if nl < 0:
                    newlines += block.count(b"\n", pos)
                    break
                newlines += block.count(b"\n", pos, nl + 1)
                end = offset + nl + 1
                yield start, end, line
                start, line, newlines, pos = end, line + newlines, 0, nl + 1
            offset += len(block)
        if offset > start:
            yield start, offset, line


def _read_range(path: str, name: str, start: int, end: int, first_line: int, encoding: str,
                schema: dict, fast: Callable | None = None, offsets: list | None = None
                ) -> list[tuple[int, str, Any, list]]:
    """The loader's JSONL reading of one byte range, with the file's line numbers (`raw` is
    a `records.Decoded` for the lines the fast path read); `offsets`, if given, receives the
    file offset of each line read."""
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read(end - start)
    shift = start
    if first_line > 1 and data.startswith(codecs.BOM_UTF8):
        data = b"\n" + data  # not the file's start: keep the bytes, shift the numbering back
        first_line -= 1
        shift -= 1
    stream = io.BufferedReader(io.BytesIO(data))  # type: ignore[arg-type]
    out = []
    position: list = [None, 0]
    for line, _loc, raw, errors in read_jsonl(stream, name, encoding, None, schema, fast,  # type: ignore[arg-type]
                                                   position):
        n = line + first_line - 1
        out.append((n, f"{name}:{n}", raw, errors))
        if offsets is not None:
            offsets.append(position[1] + shift)
    return out


def _loaded(name: str, line: int, location: str, raw: Any, errors: list, dup: Any,
            validate: Callable) -> LoadedRecord:
    """The LoadedRecord `iter_records` makes (its `_finish`), given the duplicate-id verdict."""
    text = None
    if raw.__class__ is Decoded:
        text, data, raw = raw.text, raw.data, None
        record_id = rec._record_id(data)
    else:
        record_id = rec._record_id(raw)
        data = None
        if not errors:
            data, errors = validate(raw)
    if dup is not None:
        errors = [*errors, dup]
        data = None
    if data is None:
        raw = rec.displayable(raw)
    return LoadedRecord(name, line, location, record_id, raw, data, errors, text)


def _scan_task(args: tuple) -> Any:
    """Ids of a range's records (with their digests), and the window filings of the valid
    ones, encoded (`WindowIndex.encode`): those the projection decoder read
    (`fastjson.projection_decoder`) with their file offset, to be filed tentatively (see
    `run._first_pass`)."""
    path, name, start, end, first_line, _source = args
    validate, windows = _STATE["validate"], _STATE["windows"]
    offsets: list[int] = []
    try:
        items = _read_range(path, name, start, end, first_line, _STATE["encoding"], _STATE["schema"],
                            _STATE["scan_fast"] if windows else None, offsets)  # ids alone need no validation
    except InputError as exc:
        return ("error", exc.path, exc.message_zh, exc.message_en)
    index: WindowIndex = _STATE["scan_index"]
    out = []
    for (line, location, raw, errors), offset in zip(items, offsets, strict=True):
        filing = None
        if raw.__class__ is Decoded:
            data = raw.data
            rid = rec._record_id(data)
        else:
            data = None
            if windows and not errors:
                data, _errors = validate(raw)
            rid = rec._record_id(raw)
        if windows and data is not None:
            slots = index.slots(data)
            if slots:
                filing = (index.encode(slots, data), offset if data.__class__ is Partial else None)
        out.append((line, location, rid, rec.id_digest(rid) if rid is not None else None, filing))
    return out


def _eval_jsonl_task(args: tuple) -> Any:
    path, name, start, end, first_line, _source, seq0, dups, want_raw, encoded = args
    engine: Engine = _STATE["engine"]
    validate, index = _STATE["validate"], _STATE.get("index")
    try:
        items = _read_range(path, name, start, end, first_line, _STATE["encoding"], _STATE["schema"],
                            _STATE["fast"])
    except InputError as exc:
        return ("error", exc.path, exc.message_zh, exc.message_en)
    entries = []
    raws = []
    tentative = index is not None and index.tentative
    for i, (line, location, raw, errors) in enumerate(items):
        item = _loaded(name, line, location, raw, errors, dups.get(i), validate)
        if tentative:
            index.settle(seq0 + i, item.data is not None)  # type: ignore[union-attr]
        entries.append(engine.check_one(item, index, seq0 + i))
        if want_raw:
            raws.append(item.raw if isinstance(item.raw, dict) else None)
    if encoded:
        return _encoded(entries), raws
    return orjson.dumps(entries), raws


def _encoded(entries: list[dict]) -> EncodedEntries:
    """Entries as the JSONL report writes them."""
    dumps, opt = orjson.dumps, ENCODE_OPTION
    return EncodedEntries(b"".join([dumps(e, option=opt) for e in entries]),
                          tuple(e["outcome"] for e in entries))


# ---- other formats: read in the main process, validated in the workers ------------------------
class DeferredValidator:
    """Stands in for the validator inside `iter_records`: accepts everything and notes that it
    was asked (so the worker knows validation is due)."""

    __slots__ = ("called", "schema")
    OK = object()

    def __init__(self, schema: dict):
        self.schema = schema
        self.called = False

    def validate(self, raw: Any) -> tuple[Any, list]:
        self.called = True
        return self.OK, []


def _item_chunks(items: Iterable[LoadedRecord], deferred: DeferredValidator, size: int
                 ) -> Iterator[list[tuple]]:
    chunk: list[tuple] = []
    for item in items:  # iter_records validates each record before yielding it
        due, deferred.called = deferred.called, False
        chunk.append((item.source, item.line, item.location, item.record_id, item.raw,
                      list(item.errors), due, item.origins))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _materialise(t: tuple, validate: Callable) -> LoadedRecord:
    source, line, location, record_id, raw, errors, due, origins = t
    data = None
    if due:
        data, verrs = validate(raw)
        if verrs and origins is not None:  # a spreadsheet record: name the sheet, row, column
            verrs = origins.locate(verrs)
        if errors:  # the loader's own finding after validation: a duplicate id
            errors = [*verrs, *errors]
            data = None
        else:
            errors = verrs
    return LoadedRecord(source, line, location, record_id, raw, data, errors)


def _index_items_task(args: tuple[int, list[tuple]]) -> list[tuple[int, list, dict]]:
    start, chunk = args
    validate, project, index = _STATE["validate"], _STATE["project"], _STATE["scan_index"]
    out = []
    for i, t in enumerate(chunk):
        item = _materialise(t, validate)
        if item.data is not None:
            slots = index.slots(item.data)
            if slots:
                out.append((start + i, slots, project(item.data)))
    return out


def _eval_items_task(args: tuple[int, list[tuple], bool]) -> Any:
    start, chunk, encoded = args
    engine: Engine = _STATE["engine"]
    items = [_materialise(t, _STATE["validate"]) for t in chunk]
    entries = list(engine.entries(items, _STATE.get("index"), start))
    return _encoded(entries) if encoded else orjson.dumps(entries)


# ---- driving the pool ----------------------------------------------------------------------
def _pool(ctx: Any, jobs: int) -> Any:
    """Forked workers; what exists now is frozen out of the garbage collector first, so the
    workers neither scan nor copy the inherited heap (the policy, the window index)."""
    gc.collect()
    gc.freeze()
    return ctx.Pool(jobs)


def _ordered(pool: Any, task: Callable, args: Iterable[Any], jobs: int) -> Iterator[tuple[Any, Any]]:
    """Submit tasks with backpressure; yield (args, result) in submission order."""
    pending: deque = deque()
    for a in args:
        pending.append((a, pool.apply_async(task, (a,))))
        if len(pending) >= jobs * IN_FLIGHT:
            a0, res = pending.popleft()
            yield a0, _checked(res.get())
    while pending:
        a0, res = pending.popleft()
        yield a0, _checked(res.get())


def _checked(result: Any) -> Any:
    if isinstance(result, tuple) and len(result) == 4 and result[0] == "error":
        raise InputError(result[1], result[2], result[3])
    return result


def parallel_entries(engine: Engine, inputs: Any, validator: Any, jobs: int,
                     history: Iterable[dict] = (), on_raw: Callable[[Any], None] | None = None,
                     encoded: bool = False) -> Iterator[Any]:
    """Report entries of the whole input, in order, computed by `jobs` processes.

    `inputs` is a `checker.run.Inputs` (stdin already spooled to a file); `validator` the
    record validator (possibly filling defaults); `on_raw`, if given, receives each entry's
    raw input record just before the entry is yielded (for the decision log). With
    `encoded` (for a JSONL report, without `on_raw`), consecutive entries come as
    `EncodedEntries`, the lines the JSONL writer would write."""
    ctx = mp.get_context("fork")
    fmts = {rec.detect_format(p, inputs.input_format) for p in inputs.files}
    _STATE.clear()
    _STATE.update(engine=engine, validate=validator.validate, schema=validator.schema, index=None,
                  project=None, windows=engine.needs_windows, fast=decoder_for(validator))
    try:
        if fmts == {"jsonl"}:
            yield from _jsonl(ctx, engine, inputs, validator, jobs, history, on_raw, encoded)
        else:
            yield from _items(ctx, engine, inputs, validator, jobs, history, on_raw, encoded)
    finally:
        _STATE.clear()
        gc.unfreeze()


def _jsonl(ctx: Any, engine: Engine, inputs: Any, validator: Any, jobs: int,
           history: Iterable[dict], on_raw: Callable | None, encoded: bool) -> Iterator[Any]:
    sources = inputs.sources()  # [(path to read, name to show)]
    for path, _name in sources:  # unreadable, binary or wrongly encoded: fail before any work
        next(rec.iter_records([path], "jsonl", inputs.encoding, validator), None)
    _STATE["encoding"] = codecs.lookup(inputs.encoding).name  # as the loader normalises it
    tasks = [(path, name, s, e, line, k) for k, (path, name) in enumerate(sources)
             for s, e, line in jsonl_ranges(path)]
    index: WindowIndex | None = engine.new_index(history)
    if index is not None:
        _STATE["project"] = index.project
        _STATE["scan_index"] = index  # for the workers: the slots of a record
        projected = projection_decoder(validator, index.scan_fields()) if _STATE["fast"] else None
        _STATE["scan_fast"] = projected or _STATE["fast"]
    # pass 1: ids (duplicates) and window projections
    ids = rec._IdIndex()
    templates = [(name, False) for _p, name in sources]
    produced = [0] * len(sources)
    dups: dict[int, Any] = {}
    seq = 0
    counts: list[int] = []
    with _pool(ctx, jobs) as pool:
        for task, found in _ordered(pool, _scan_task, tasks, jobs):
            counts.append(len(found))
            k = task[5]
            for line, location, rid, digest, filing in found:
                if produced[k] == 0:
                    templates[k] = rec._template(location, line)
                produced[k] += 1
                first = ids.add_digest(digest, k, line) if digest is not None else None
                if first is not None:  # the loader's duplicate-id check (`records._finish`)
                    dups[seq] = rec.duplicate_error(rid, first, templates)
                elif filing is not None and index is not None:
                    where = (task[0], filing[1]) if filing[1] is not None else None
                    index.file_encoded(seq, filing[0], where)
                seq += 1
    del ids
    if index is not None:
        index.freeze()
        _STATE["index"] = index
        if index.tentative:
            index.resolver = rec.line_checker(inputs.encoding, validator, _STATE["fast"])
    # pass 2: evaluation (workers forked now inherit the index)
    args, seq0 = [], 0
    for task, n in zip(tasks, counts):
        chunk_dups = {s - seq0: dups[s] for s in range(seq0, seq0 + n) if s in dups} if dups else {}
        args.append((*task, seq0, chunk_dups, on_raw is not None, encoded))
        seq0 += n
    with _pool(ctx, jobs) as pool:
        for _task, (blob, raws) in _ordered(pool, _eval_jsonl_task, args, jobs):
            if blob.__class__ is EncodedEntries:
                yield blob
                continue
            for i, entry in enumerate(orjson.loads(blob)):
                if on_raw is not None:
                    on_raw(raws[i])
                yield entry
    for (path, name), n in zip(sources, produced):
        if n == 0:  # the loader's "contains no records" note
            for _ in rec.iter_records([path], "jsonl", inputs.encoding, validator, inputs.warnings):
                pass
            inputs.warnings[-1:] = [_renamed(w, path, name) for w in inputs.warnings[-1:]]


def _renamed(w: Any, path: str, name: str) -> Any:
    if path == name:
        return w
    return type(w)(name, w.message_zh.replace(path, name), w.message_en.replace(path, name))


def _items(ctx: Any, engine: Engine, inputs: Any, validator: Any, jobs: int,
           history: Iterable[dict], on_raw: Callable | None, encoded: bool) -> Iterator[Any]:
    index: WindowIndex | None = engine.new_index(history)
    if index is not None:
        _STATE["project"] = index.project
        _STATE["scan_index"] = index
        deferred = DeferredValidator(validator.schema)
        with _pool(ctx, jobs) as pool:
            for _a, projections in _ordered(pool, _index_items_task,
                                            _numbered(_item_chunks(inputs.read(deferred), deferred, CHUNK)),
                                            jobs):
                for seq, slots, proj in projections:
                    index.file(slots, seq, proj)
        index.freeze()
        _STATE["index"] = index
    deferred = DeferredValidator(validator.schema)
    with _pool(ctx, jobs) as pool:
        chunks = ((start, chunk, encoded) for start, chunk in
                  _numbered(_item_chunks(inputs.read(deferred), deferred, CHUNK)))
        for (_start, chunk, _enc), blob in _ordered(pool, _eval_items_task, chunks, jobs):
            if blob.__class__ is EncodedEntries:
                yield blob
                continue
            for t, entry in zip(chunk, orjson.loads(blob)):
                if on_raw is not None:
                    on_raw(t[4])
                yield entry


def _numbered(chunks: Iterable[list[tuple]]) -> Iterator[tuple[int, list[tuple]]]:
    start = 0
    for chunk in chunks:
        yield start, chunk
        start += len(chunk)


__all__ = ["DeferredValidator", "jsonl_ranges", "parallel_entries"]
