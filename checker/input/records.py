"""Record loaders: JSONL, JSON, YAML, CSV, XLSX and Parquet in; one `LoadedRecord` per record out.

Nothing is lost. Every record in the input yields exactly one `LoadedRecord`:
valid ones carry the normalised record (`data`); a bad JSON line, an
oversized line, a schema error or a duplicate id yields a record with
`data=None` and its errors, and the stream goes on. Only a file that cannot
be read at all (missing, a directory, binary, wrong encoding, unknown
format) raises `InputError`, naming the file.

Streaming: JSONL, CSV, XLSX and Parquet are read record by record in bounded memory;
JSON and YAML documents are read whole, up to `MAX_DOCUMENT_BYTES`.
Duplicate ids are tracked in a compact table (24 bytes per record).

UTF-8 JSONL lines first try `checker.fastjson` (decode and validate in one C pass);
what it is not sure of takes the ordinary path (orjson, then the validator), which
also writes the messages. A record read that way keeps its line and parses it into
`raw` only when asked.
"""

from __future__ import annotations

import hashlib
import io
import sys
from array import array
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from checker.input.documents import read_json, read_yaml
from checker.input.identity import identity_key
from checker.input.json_values import json_problem, sanitised
from checker.input.jsonl import Decoded, line_checker, line_valid, parse_json, read_jsonl
from checker.input.messages import RecordError
from checker.input.origins import Sheeted
from checker.input.parquet import read_parquet
from checker.input.sources import (
    EXTENSIONS,
    FORMATS,
    MAX_DOCUMENT_BYTES,
    MAX_RECORD_BYTES,
    SNIFF,
    STDIN,
    STDIN_NAME,
    Chain,
    InputError,
    LoadWarning,
    check_encoding,
    open_input,
    read_head,
    require_file,
    sniff,
    sniff_format,
)
from checker.input.tabular import read_csv, read_xlsx
from checker.input.validate import Validator, default_validator

__all__ = [
    "FORMATS",
    "MAX_DOCUMENT_BYTES",
    "MAX_RECORD_BYTES",
    "STDIN_NAME",
    "Decoded",
    "InputError",
    "LoadWarning",
    "LoadedRecord",
    "detect_format",
    "id_of",
    "iter_records",
    "line_checker",
    "line_valid",
    "require_file",
]


class LoadedRecord:
    """One record as read: where it came from, what it said, what it means.

    `raw` is what the file said (parsed JSON, a row as a dict, a bad line as text);
    for a line the fast path read, it is parsed from the kept `text` on first access."""

    __slots__ = ("_raw", "_text", "data", "errors", "line", "location", "origins", "record_id",
                 "source")

    def __init__(
        self,
        source: str,
        line: int,
        location: str,
        record_id: str | None,
        raw: Any,
        data: dict | None,
        errors: list[RecordError] | None = None,
        text: bytes | None = None,
        origins: Any = None,
    ) -> None:
        self.source = source
        self.line = line
        self.location = location
        self.record_id = record_id
        self._raw = raw
        self._text = text  # JSON text standing for `raw` until it is asked for
        self.data = data
        self.errors = [] if errors is None else errors
        self.origins = origins  # a spreadsheet record's `assemble.Origins` (to locate errors)

    @property
    def raw(self) -> Any:
        if self._text is not None:
            self._raw, self._text = parse_json(self._text), None
        return self._raw

    @raw.setter
    def raw(self, value: Any) -> None:
        self._raw, self._text = value, None

    @property
    def valid(self) -> bool:
        return self.data is not None and not self.errors

    def _fields(self) -> tuple:
        return (self.source, self.line, self.location, self.record_id, self.raw, self.data,
                self.errors)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._fields() == other._fields()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __repr__(self) -> str:
        names = ("source", "line", "location", "record_id", "raw", "data", "errors")
        inner = ", ".join(f"{n}={v!r}" for n, v in zip(names, self._fields(), strict=True))
        return f"LoadedRecord({inner})"


# ---------------------------------------------------------------- entry point


def detect_format(path: str, input_format: str | None = None) -> str:
    """The input format of `path`: `input_format` if given, else by extension."""
    if input_format:
        fmt = input_format.strip().lower()
        if fmt == "ndjson":
            fmt = "jsonl"
        if fmt == "yml":
            fmt = "yaml"
        if fmt not in FORMATS:
            raise InputError(
                path,
                f"不支持的输入格式 '{input_format}'；可选：{'、'.join(FORMATS)}",
                f"unsupported input format '{input_format}'; choose one of {', '.join(FORMATS)}",
            )
        return fmt
    if path == STDIN:
        return SNIFF  # told from the first bytes (`sniff_format`)
    fmt = EXTENSIONS.get(Path(path).suffix.lower())
    if fmt is None:
        raise InputError(
            path,
            f"无法根据扩展名判断 {path} 的格式；请使用 --input-format（{'、'.join(FORMATS)}）",
            f"cannot tell the format of {path} from its extension; "
            f"use --input-format ({', '.join(FORMATS)})",
        )
    return fmt


def iter_records(
    paths: Sequence[str | Path],
    input_format: str | None = None,
    encoding: str = "utf-8",
    validator: Validator | None = None,
    warnings: list[LoadWarning] | None = None,
    position: list | None = None,
    strict_columns: bool = False,
) -> Iterator[LoadedRecord]:
    """Read, validate and normalise records from `paths` (`-` is stdin), streaming.

    Ids must be unique across the whole call: a later record repeating an id
    is invalid (`duplicate_id`) and names the first one's location.
    `position`, if given, holds `[path, byte offset]` of the JSONL line of the record
    just yielded (for `line_valid`). `strict_columns`: a CSV or XLSX file with a column (or
    sheet) the schema does not know is refused (`InputError`) instead of read without it.
    """
    enc = check_encoding(encoding, str(paths[0]) if paths else STDIN)
    check = validator or default_validator()
    fast: Callable[[bytes], dict | None] | None = None
    fast_known = False  # built when a UTF-8 JSONL file comes (msgspec: ~15 ms to import and build)
    ids = _IdIndex()
    reading = _reading_schema(check)  # types a CSV/XLSX cell by its column
    templates: list[tuple[str, bool]] = []  # per source: location prefix, ends with the line?
    for p in paths:
        path = str(p)
        fmt = detect_format(path, input_format)
        name = STDIN_NAME if path == STDIN else path
        source_no = len(templates)
        templates.append((name, False))
        produced = 0
        if fmt in ("jsonl", "parquet", SNIFF) and enc == "utf-8" and not fast_known:
            fast, fast_known = decoder_for(check), True
        if position is not None:
            position[:] = [path, None]
        for line, location, raw, errors in _read(path, name, fmt, enc, warnings, reading, fast,
                                                 position, strict_columns):
            if produced == 0:
                templates[source_no] = _template(location, line)
            produced += 1
            yield _finish(name, line, location, raw, errors, check, ids, source_no, templates)
        if produced == 0 and warnings is not None:
            warnings.append(LoadWarning(name, f"{name} 中没有记录", f"{name} contains no records"))


def _reading_schema(check: Any) -> dict:
    """The schema a table loader types its cells by: a validator's `reading_schema` (a
    `KindValidator`'s: the fields of every kind), looked for through validators that wrap
    another (`base`), else its schema."""
    x = check
    for _ in range(8):
        if x is None:
            break
        found = getattr(x, "reading_schema", None)
        if found is not None:
            return found
        x = getattr(x, "base", None)
    return check.schema


def decoder_for(validator: Any) -> Callable[[bytes], dict | None] | None:
    """The fast path that agrees with `validator` (`checker.fastjson.decoder_for`)."""
    from checker.input.fastjson import decoder_for as fast_decoder_for

    return fast_decoder_for(validator)


def _finish(
    name: str,
    line: int,
    location: str,
    raw: Any,
    errors: list[RecordError],
    check: Validator,
    ids: _IdIndex,
    source_no: int,
    templates: list[tuple[str, bool]],
) -> LoadedRecord:
    text = origins = None
    if raw.__class__ is Decoded:  # read and validated by the fast path
        text, data = raw.text, raw.data
        record_id = id_of(data)
        raw = None
    else:
        if raw.__class__ is Sheeted:  # from spreadsheet rows: errors name the sheet, row, column
            origins, raw = raw.origins, raw.record
        record_id = id_of(raw)
        data = None
        if not errors:
            data, errors = check.validate(raw)
            if errors and origins is not None:
                errors = origins.locate(errors)
    if record_id is not None:
        first = ids.add(record_id, source_no, line)
        if first is not None:
            errors = [*errors, duplicate_error(record_id, first, templates)]
            data = None
    if data is None:
        raw = displayable(raw)
    return LoadedRecord(name, line, location, record_id, raw, data, errors, text, origins)


def displayable(raw: Any) -> Any:
    """An invalid record's `raw` as reports and logs can write it: unchanged unless it holds
    what JSON cannot (non-finite numbers, lone surrogates, nesting past the limit)."""
    if raw is None or raw.__class__ is str:
        return raw
    if json_problem(raw) is None:
        try:
            orjson.dumps(raw, default=str)
            return raw
        except (TypeError, orjson.JSONEncodeError):  # integers past 64 bits, say
            pass
    return sanitised(raw)


def duplicate_error(record_id: str, first: tuple[int, int], templates: list[tuple[str, bool]]
                    ) -> RecordError:
    """The error of a record repeating the id first seen at `first` (source, line)."""
    prefix, numbered = templates[first[0]]
    where = prefix + str(first[1]) if numbered else prefix
    return RecordError(
        "$.id",
        "duplicate_id",
        f"记录编号 '{record_id}' 重复，首次出现在 {where}",
        f"duplicate record id '{record_id}'; first seen at {where}",
    )


def _template(location: str, line: int) -> tuple[str, bool]:
    """Locations end with their line number (or are constant): keep the prefix only,
    so the first occurrence of each id costs two integers, not a string."""
    s = str(line)
    if location.endswith(s):
        return location[: -len(s)], True
    return location, False


def id_of(raw: Any) -> str | None:
    """The record's id as text (a number written as an id counts), or None."""
    if isinstance(raw, dict):
        v = raw.get("id")
        if isinstance(v, str):
            return v
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return str(v)
    return None


# ---------------------------------------------------------------- duplicate ids


class _IdIndex:
    """Open-addressing set of 128-bit id digests with each id's first (source, line).

    Three machine words per slot instead of a Python dict entry (at most half
    full: ~48 bytes per record, against ~130 for a dict of id strings). A false
    duplicate would need a 128-bit BLAKE2b collision.
    """

    __slots__ = ("_his", "_locs", "_los", "_mask", "_size")

    def __init__(self, slots: int = 1024) -> None:
        self._mask = slots - 1
        self._size = 0
        self._his = array("Q", bytes(8 * slots))
        self._los = array("Q", bytes(8 * slots))
        self._locs = array("Q", bytes(8 * slots))  # (source << 40 | line) + 1; 0 = empty

    def add(self, record_id: str, source: int, line: int) -> tuple[int, int] | None:
        """Insert; return the first (source, line) if the id was already there."""
        return self.add_digest(id_digest(record_id), source, line)

    def add_digest(self, digest: tuple[int, int], source: int, line: int) -> tuple[int, int] | None:
        """`add`, given the id's `id_digest` (computed elsewhere: a worker)."""
        hi, lo = digest
        his, los, locs, mask = self._his, self._los, self._locs, self._mask
        i = hi & mask
        loc = locs[i]
        while loc:
            if his[i] == hi and los[i] == lo:
                return (loc - 1) >> 40, (loc - 1) & _LINE
            i = (i + 1) & mask
            loc = locs[i]
        his[i], los[i], locs[i] = hi, lo, ((source << 40) | line) + 1
        self._size += 1
        if self._size * 2 > mask:
            self._grow()
        return None

    def _grow(self) -> None:
        bigger = _IdIndex(2 * (self._mask + 1))
        his, los, locs, mask = bigger._his, bigger._los, bigger._locs, bigger._mask
        for hi, lo, loc in zip(self._his, self._los, self._locs, strict=True):
            if loc:
                i = hi & mask
                while locs[i]:
                    i = (i + 1) & mask
                his[i], los[i], locs[i] = hi, lo, loc
        self._his, self._los, self._locs, self._mask = his, los, locs, mask


def id_digest(record_id: str) -> tuple[int, int]:
    """The 128 bits `_IdIndex` keeps of an id."""
    key = identity_key(record_id)  # look-alike spellings of one id are one id (issue 17)
    v = int.from_bytes(
        _blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).digest(), "little"
    )
    return v & _WORD, v >> 64


_WORD = (1 << 64) - 1
_LINE = (1 << 40) - 1
_blake2b = hashlib.blake2b


def _read(
    path: str,
    name: str,
    fmt: str,
    encoding: str,
    warnings: list[LoadWarning] | None,
    schema: dict,
    fast: Callable[[bytes], dict | None] | None = None,
    position: list | None = None,
    strict_columns: bool = False,
) -> Iterator[tuple[int, str, Any, list[RecordError]]]:
    """(line, location, raw, loader errors) for each record of one file; `raw` is a
    `Decoded` for a JSONL line that `fast` decoded."""
    f = open_input(path)
    if fmt == "parquet":  # (read by path, with DuckDB: opened above only to check it can be)
        if f is not sys.stdin.buffer:
            f.close()
        yield from read_parquet(path, name, fast)
        return
    try:
        head = read_head(f, name)
        if fmt == SNIFF:
            fmt = sniff_format(head)
            if fmt == "parquet":
                yield from read_parquet(path, name, fast)  # (refuses stdin, naming it)
        sniff(head, name, fmt, encoding)
        stream = io.BufferedReader(Chain(head, f), buffer_size=1 << 16)
        if fmt == "jsonl":
            yield from read_jsonl(stream, name, encoding, warnings, schema, fast, position)  # type: ignore[arg-type]
            return
        if fmt in ("csv", "xlsx"):
            tabular = read_csv if fmt == "csv" else read_xlsx
            yield from tabular(stream, name, encoding, warnings, schema, strict_columns)
            return
        reader = {"json": read_json, "yaml": read_yaml}[fmt]
        yield from reader(stream, name, encoding, warnings, schema)
    finally:
        if f is not sys.stdin.buffer:
            f.close()

