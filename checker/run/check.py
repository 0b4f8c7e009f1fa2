"""The `check` pipeline: load policies and records, evaluate, write the report, pick the exit code.

Exit codes: 0 nothing reached `--fail-on`; 1 something did (invalid records always do);
2 usage errors, unreadable input, policies that do not load, an unwritable output or log.
Nothing here prints a traceback: every expected failure becomes a one-line message.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checker.engine.engine import Engine, Options, Summary
from checker.engine.policy import PolicyLoadError, load_policy
from checker.reports import writer
from checker.reports.report import EncodedEntries, Report
from checker.run.errors import CheckError, err
from checker.run.output import Progress, check_output, open_output, progress_wanted, writes_file

EXIT_OK, EXIT_FAIL, EXIT_ERROR = 0, 1, 2
LOG_BATCH = 1000
HOLD = 5000  # with cross-record rules, batches up to this size are read once, larger ones twice
_JURISDICTION = re.compile(r"[0-9]{6}\Z")


# ---- inputs ----------------------------------------------------------------------------
class FillingValidator:
    """The record validator, filling `jurisdiction` where a record lacks one (--jurisdiction)
    and `as_of` (--as-of). The raw record itself is left as read."""

    __slots__ = ("as_of", "base", "code", "schema")

    def __init__(self, base: Any, code: str | None, as_of: str | None = None):
        self.base, self.schema, self.code, self.as_of = base, base.schema, code, as_of

    def validate(self, raw: Any):
        if isinstance(raw, dict):
            if self.code is not None and raw.get("jurisdiction") is None:
                raw = {**raw, "jurisdiction": self.code}
            if self.as_of is not None and raw.get("as_of") is None:
                raw = {**raw, "as_of": self.as_of}
        return self.base.validate(raw)

    def fast_json(self) -> Any:
        """The base validator's fast JSON path (`checker.fastjson`), declining the records
        that lack a jurisdiction: those take `validate`, which fills it in."""
        from checker.input.fastjson import decoder_for

        fast = decoder_for(self.base)
        if fast is None:
            return None

        def decode(text: bytes | str) -> dict | None:
            data = fast(text)
            # The decoder returns what base.validate(raw) does, which has the record's own
            # jurisdiction: not None here means the raw record had one, so nothing to fill.
            if data is None or (self.as_of is not None and data.get("as_of") is None):
                return None
            return data if data.get("jurisdiction") is not None else None

        return decode


@dataclass
class Inputs:
    """The record files, readable as many times as the passes need (stdin is spooled once)."""

    files: Sequence[str]
    input_format: str | None
    encoding: str
    rereadable: bool
    warnings: list = field(default_factory=list)
    strict_columns: bool = False  # CSV/XLSX: an unknown column refuses the file (see tabular)
    _spool: str | None = None

    def __post_init__(self) -> None:
        from checker.input.records import require_file

        for f in self.files:
            if f != "-":
                require_file(f)
        if self.rereadable and "-" in self.files:
            from checker.input.records import FORMATS, detect_format
            from checker.input.sources import SNIFF, sniff_format
            fmt = detect_format("-", self.input_format)
            fd, spool = tempfile.mkstemp(prefix="qinqing-stdin-")
            with os.fdopen(fd, "w+b") as fh:
                shutil.copyfileobj(sys.stdin.buffer, fh, 1 << 20)
                fh.seek(0)
                if fmt == SNIFF:  # no --input-format: told from the first bytes
                    fmt = sniff_format(fh.read(1 << 16))
            assert fmt in FORMATS
            self._spool = spool + "." + fmt
            os.replace(spool, self._spool)

    def sources(self) -> list[tuple[str, str]]:
        """(path to read, name to show) of each input; stdin must have been spooled."""
        from checker.input.records import STDIN_NAME

        spool = self._spool or "-"
        return [(spool, STDIN_NAME) if f == "-" else (f, f) for f in self.files]

    def close(self) -> None:
        if self._spool:
            os.unlink(self._spool)
            self._spool = None

    def read(self, validator: Any, position: list | None = None) -> Iterator[Any]:
        """The records of every file (`position`: see `records.iter_records`)."""
        from checker.input.records import STDIN_NAME, InputError, iter_records

        paths = [self._spool if (f == "-" and self._spool) else f for f in self.files]
        self.warnings.clear()
        items = iter_records(paths, self.input_format, self.encoding, validator, self.warnings,
                             position, self.strict_columns)
        if not self._spool:
            yield from items
            return
        tmp = self._spool
        try:
            for item in items:
                if item.source == tmp:
                    _rename(item, tmp, STDIN_NAME)
                elif item.errors:
                    item.errors = [_renamed_error(e, tmp, STDIN_NAME) for e in item.errors]
                yield item
            self.warnings[:] = [_renamed_warning(w, tmp, STDIN_NAME) for w in self.warnings]
        except InputError as exc:
            raise InputError(STDIN_NAME if exc.path == tmp else exc.path,
                             exc.message_zh.replace(tmp, STDIN_NAME),
                             exc.message_en.replace(tmp, STDIN_NAME)) from None


def _rename(item: Any, old: str, new: str) -> None:
    item.source = new
    item.location = new + item.location[len(old):] if item.location.startswith(old) else item.location
    if item.errors:
        item.errors = [_renamed_error(e, old, new) for e in item.errors]


def _renamed_warning(w: Any, old: str, new: str) -> Any:
    if old not in w.message_zh and old not in w.message_en:
        return w
    return type(w)(new if w.source == old else w.source, w.message_zh.replace(old, new),
                   w.message_en.replace(old, new))


def _renamed_error(e: Any, old: str, new: str) -> Any:
    if old not in e.message_zh and old not in e.message_en:
        return e
    return type(e)(e.path, e.code, e.message_zh.replace(old, new), e.message_en.replace(old, new))


# ---- the decision log --------------------------------------------------------------------
class DecisionLogger:
    """Appends decisions to the hash-chained log in batches (`checker.audit.log_decisions`)."""

    def __init__(self, path: Path | None, mask: str | None, policy_hash: str):
        self.path, self.policy_hash = path, policy_hash
        self.mask: tuple[str, ...] = ()
        self.batch: list[tuple[dict, Any]] = []
        if path is not None:
            from checker.store.audit import parse_mask
            self.mask = parse_mask(mask or "")
        elif mask:
            raise CheckError("--mask 需与 --log 一起使用", "--mask needs --log")

    def add(self, entry: dict, raw: Any) -> None:
        if self.path is None:
            return
        self.batch.append((entry, raw if isinstance(raw, dict) else None))
        if len(self.batch) >= LOG_BATCH:
            self.flush()

    def flush(self) -> None:
        if self.path is None or not self.batch:
            return
        from checker.store.audit import log_decisions
        log_decisions(self.path, self.batch, self.policy_hash, self.mask)
        self.batch = []


# ---- the pipeline ------------------------------------------------------------------------
@dataclass
class CheckRun:
    """Counts what went by and whether anything reached the failing outcomes."""

    failing: frozenset[str]
    summary: Summary = field(default_factory=Summary)
    hit: bool = False

    def watch(self, entries: Iterable[Any], progress: Progress, logger: DecisionLogger,
              raws: Callable[[], Any] | None) -> Iterator[Any]:
        for e in entries:
            if e.__class__ is EncodedEntries:  # (never with a decision log: see _entries)
                for outcome in e.outcomes:
                    self.summary.add(outcome)
                    if outcome in self.failing:
                        self.hit = True
                progress.advance(len(e.outcomes))
                yield e
                continue
            outcome = e["outcome"]
            self.summary.add(outcome)
            if outcome in self.failing:
                self.hit = True
            if raws is not None:
                logger.add(e, raws())
            progress.advance()
            yield e


def run_check(*, files: Sequence[str], rules, jurisdiction, fmt: str, output, lang: str,
              explain: bool, history: Sequence[Path], input_format, encoding: str, jobs: int,
              failing: Sequence[str], log, mask, only: frozenset[str] | None = None,
              allow_empty: bool = False, quiet: bool = False, strict_columns: bool = False,
              schemas: dict | None = None, as_of: str | None = None, engine_kind: str = "python",
              spark_master: str | None = None) -> int:
    """The whole `qinqing check`; returns the exit code. After writing a report file, one line
    on stderr says where and sums up the outcomes (not with `quiet`). `schemas`: record schemas
    besides the bundled ones (`--schema`); `as_of`: for records that lack one (`--as-of`);
    `engine_kind`: python, duckdb or spark (`--engine`, `--spark-master`)."""
    from checker.input.records import InputError
    from checker.reports.labels import summary_line
    from policy_dsl.errors import render_all

    expected: tuple[type[Exception], ...] = (CheckError,)
    if log is not None:
        from checker.store.audit import AuditError
        expected = (CheckError, AuditError)

    try:
        policy = load_policy(rules, cache=True, schemas=schemas)
    except PolicyLoadError as exc:
        res = exc.result
        sys.stderr.write(render_all(res.errors, res.sources) + "\n")
        err("规则加载失败，请先运行 `qinqing lint` 修正错误。",
            "The policies did not load; run `qinqing lint` and fix the errors.", lang)
        return EXIT_ERROR
    inputs = None
    progress = Progress(False, lang)
    try:
        if jurisdiction is not None and not _JURISDICTION.match(jurisdiction):
            raise CheckError(f"--jurisdiction 应为 6 位行政区划代码，而不是 '{jurisdiction}'",
                             f"--jurisdiction must be a 6-digit area code, not '{jurisdiction}'")
        if not files:
            raise CheckError("请给出记录文件，或用 `-` 读取标准输入",
                             "give record files, or `-` to read standard input")
        if engine_kind != "python" and explain:
            raise CheckError("--explain 需使用 --engine python", "--explain needs --engine python")
        parquet = fmt == "parquet"
        if parquet and (output is None or str(output) == "-"):
            raise CheckError("--format parquet 需用 -o 指定输出文件", "--format parquet needs an output file (-o)")
        if parquet and (explain or log is not None):
            raise CheckError("--format parquet 不能与 --explain 或 --log 同用",
                             "--format parquet cannot be combined with --explain or --log")
        check_output(fmt, output, [*files, *history], only)
        logger = DecisionLogger(log, mask, policy.content_hash)
        engine = Engine(policy, Options(lang=lang, explain=explain, default_jurisdiction=jurisdiction,
                                        values=parquet))
        if as_of is not None:
            try:
                dt.date.fromisoformat(as_of)
            except ValueError:
                raise CheckError(f"--as-of 应为 YYYY-MM-DD 日期，而不是 '{as_of}'",
                                 f"--as-of must be a YYYY-MM-DD date, not '{as_of}'") from None
        validator: Any = policy.validator()
        if jurisdiction or as_of:
            validator = FillingValidator(validator, jurisdiction, as_of)
        hist = _history(history, encoding, validator, lang)
        inputs = Inputs(list(files), input_format, encoding,
                        rereadable=(engine.needs_windows or engine.needs_store or jobs > 1
                                    or engine_kind != "python"),
                        strict_columns=strict_columns)
        run = CheckRun(frozenset(failing))
        if engine_kind != "python":
            entries, raws = _sql_entries(engine, engine_kind, inputs, validator, jobs, hist, log is not None,
                                         spark_master)
        else:
            entries, raws = _entries(engine, inputs, validator, jobs, hist, log is not None,
                                     encoded=fmt == "jsonl")
        progress = Progress(progress_wanted(output, fmt) and not quiet, lang)
        names = [("<stdin>" if f == "-" else str(f)) for f in files]
        report = Report(policy.describe(), run.watch(entries, progress, logger, raws), run.summary,
                        lang, explain, inputs=names, only=only, failing=frozenset(failing))
        with open_output(output) as out:
            if parquet:
                from checker.reports import parquet_report
                parquet_report.write(report, out, parquet_report.records_path(output))
            else:
                writer(fmt)(report, out)
            if not run.summary.counts and not allow_empty:  # (a report file is not kept)
                progress.stop()
                shown = "、".join(names)
                raise CheckError(f"输入中没有记录（{shown}）；若确为空批次，请加 --allow-empty",
                                 f"the input has no records ({', '.join(names)}); add --allow-empty "
                                 "if an empty batch is expected")
        progress.stop()
        logger.flush()
        for w in inputs.warnings:
            err(f"注意：{w.message_zh}", f"Note: {w.message_en}", lang)
        if writes_file(output) and not quiet:
            line = summary_line(run.summary.to_dict(), lang)
            err(f"已写入 {output}：{line}", f"Wrote {output}: {line}", lang)
    except InputError as exc:
        progress.stop()
        err(f"无法读取输入：{exc.message_zh}", f"Cannot read input: {exc.message_en}", lang)
        return EXIT_ERROR
    except expected as exc:
        progress.stop()
        zh_text, en_text = exc.message_zh, exc.message_en  # type: ignore[attr-defined]
        err(f"错误：{zh_text}", f"Error: {en_text}", lang)
        return EXIT_ERROR
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_OK if not failing else EXIT_FAIL
    except OSError as exc:
        progress.stop()
        name = exc.filename or output or log or ""
        err(f"无法写入 {name}：{exc.strerror}", f"cannot write {name}: {exc.strerror}", lang)
        return EXIT_ERROR
    finally:
        progress.stop()
        if inputs is not None:
            inputs.close()
    return EXIT_FAIL if run.hit else EXIT_OK


def _quiet_stdout() -> None:
    """The reader went away (`| head`): stop writing, without a BrokenPipeError at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass


def _can_fork() -> bool:
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


def _history(paths: Sequence[Path], encoding: str, validator: Any, lang: str) -> list[dict]:
    """Valid earlier records (they feed windows, they are not reported)."""
    if not paths:
        return []
    from checker.input.records import iter_records

    out, bad = [], []
    for h in iter_records([str(p) for p in paths], None, encoding, validator):
        if h.data is not None:
            out.append(h.data)
        else:
            bad.append(h)
    if bad:
        first = bad[0]
        why = first.errors[0].message(lang) if first.errors else ""
        err(f"注意：既往记录中 {len(bad)} 条无效，已忽略（如 {first.location}：{why}）",
            f"Note: {len(bad)} invalid history record(s) ignored (e.g. {first.location}: {why})", lang)
    return out


class ScanValidator:
    """The validator for the first pass over a batch with window rules: until `partial()`,
    the validator itself; then UTF-8 JSONL lines the fast path takes are decoded only in the
    fields the window index files (`fastjson.projection_decoder`), into `Partial` records
    filed tentatively (the second pass, or a window that needs one first, checks them whole).
    Lines the shortcut declines are validated in full, as always."""

    def __init__(self, base: Any, fields: dict | None):
        from checker.input.fastjson import decoder_for, projection_decoder

        self.base, self.schema = base, base.schema
        self.full = decoder_for(base)
        self.projected = projection_decoder(base, fields) if self.full else None
        self.decode = self.full

    def validate(self, raw: Any):
        return self.base.validate(raw)

    def partial(self) -> None:
        """Decode only the filed fields from now on (when there is such a shortcut)."""
        if self.projected is not None:
            self.decode = self.projected

    def fast_json(self) -> Any:
        if self.full is None:
            return None
        return lambda text: self.decode(text)  # type: ignore[misc]


def _first_pass(index: Any, inputs: Inputs, validator: Any) -> list | None:
    """File every valid record of the input into the window index; return the records when
    there are at most HOLD of them (the second pass then reuses them), else None. Past HOLD,
    records are decoded only in the fields the index needs and filed tentatively; the index
    can then check one of them by reading its line again (`records.line_valid`)."""
    from checker.input.fastjson import Partial
    from checker.input.records import line_checker

    scan = ScanValidator(validator, index.scan_fields())
    position: list = [None, None]
    held: list | None = []
    for seq, item in enumerate(inputs.read(scan, position)):
        data = item.data
        if data is not None:
            index.add(data, seq, (position[0], position[1]) if data.__class__ is Partial else None)
        if held is not None:
            held.append(item)
            if len(held) > HOLD:
                held = None
                scan.partial()
    if index.tentative:
        index.resolver = line_checker(inputs.encoding, validator, scan.full)
    return held


def _sql_entries(engine: Engine, kind: str, inputs: Inputs, validator: Any, jobs: int,
                 history: list[dict], want_raw: bool, master: str | None
                 ) -> tuple[Iterator[Any], Callable[[], Any] | None]:
    """Report entries judged on an SQL engine (`checker/engine/sql.py`); `--jobs` is the
    engine's thread count."""
    from checker.engine.sql import SqlEngineError, sql_entries

    last: list[Any] = [None]

    def keep(raw: Any) -> None:
        last[0] = raw

    def python_entries() -> Iterator[Any]:
        return _entries(engine, inputs, validator, 1, history, False)[0]

    def entries() -> Iterator[Any]:
        try:
            yield from sql_entries(engine, kind, lambda: inputs.read(validator), history, jobs, master,
                                   keep if want_raw else None, python_entries)
        except SqlEngineError as exc:
            raise CheckError(exc.zh, exc.en) from None

    return entries(), (lambda: last[0]) if want_raw else None


def _entries(engine: Engine, inputs: Inputs, validator: Any, jobs: int, history: list[dict],
             want_raw: bool, encoded: bool = False) -> tuple[Iterator[Any], Callable[[], Any] | None]:
    """Report entries in input order, and (for the log) a way to get each entry's raw record.
    With `encoded` (a JSONL report) and no log, `--jobs` workers may hand over entries already
    encoded (`EncodedEntries`)."""
    last: list[Any] = [None]
    raws = (lambda: last[0]) if want_raw else None
    if jobs > 1 and not _can_fork():
        err("注意：此系统不支持 fork，--jobs 按 1 处理", "Note: no fork() on this system; --jobs 1 is used",
            engine.options.lang)
        jobs = 1
    if jobs > 1:
        from checker.run.parallel import parallel_entries

        def keep(raw: Any) -> None:
            last[0] = raw

        def parallel() -> Iterator[Any]:
            if engine.needs_store:  # lookups: a pass of its own, here, before the workers fork
                engine.store = engine.new_store(lambda: history, lambda: (i.data for i in inputs.read(validator)))
            yield from parallel_entries(engine, inputs, validator, jobs, history,
                                        keep if want_raw else None, encoded and not want_raw)

        return parallel(), raws

    def serial() -> Iterator[dict]:
        if engine.needs_store:  # a pass of its own: every valid record, for lookups
            engine.store = engine.new_store(lambda: history, lambda: (i.data for i in inputs.read(validator)))
        index = engine.new_index(history)
        source: Iterable[Any] | None = None
        if index is not None:  # first pass: the windows; a small batch is kept for the second
            source = _first_pass(index, inputs, validator)
            gc.freeze()  # the index is long-lived: keep the collector from rescanning it
        tentative = index is not None and index.tentative
        for seq, item in enumerate(source if source is not None else inputs.read(validator)):
            if tentative:
                index.settle(seq, item.data is not None)  # type: ignore[union-attr]
            if want_raw:  # (a fast-path record parses its raw line only when asked)
                last[0] = item.raw
            yield engine.check_one(item, index, seq)

    return serial(), raws
