"""Record loaders: JSONL, JSON, YAML, CSV and XLSX in; one `LoadedRecord` per record out.

Nothing is lost. Every record in the input yields exactly one `LoadedRecord`:
valid ones carry the normalised record (`data`); a bad JSON line, an
oversized line, a schema error or a duplicate id yields a record with
`data=None` and its errors, and the stream goes on. Only a file that cannot
be read at all (missing, a directory, binary, wrong encoding, unknown
format) raises `InputError`, naming the file.

Streaming: JSONL, CSV and XLSX are read record by record in bounded memory;
JSON and YAML documents are read whole, up to `MAX_DOCUMENT_BYTES`.
Duplicate ids are tracked in a compact table (24 bytes per record).

UTF-8 JSONL lines first try `checker.fastjson` (decode and validate in one C pass);
what it is not sure of takes the ordinary path (orjson, then the validator), which
also writes the messages. A record read that way keeps its line and parses it into
`raw` only when asked.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import os
import re
import sys
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from checker.input.identity import identity_key
from checker.input.validate import RecordError, Validator, default_validator

__all__ = [
    "FORMATS",
    "MAX_DOCUMENT_BYTES",
    "MAX_RECORD_BYTES",
    "InputError",
    "LoadWarning",
    "LoadedRecord",
    "detect_format",
    "iter_records",
]

MAX_RECORD_BYTES = 1 << 20  # one JSONL line / CSV row / XLSX row
MAX_DOCUMENT_BYTES = 256 << 20  # a whole JSON or YAML file
MAX_YAML_EXPANSION = 100_000  # nodes that aliases may add per document ("billion laughs")
FORMATS = ("jsonl", "json", "yaml", "csv", "xlsx")
STDIN = "-"
STDIN_NAME = "<stdin>"
XLSX_TIMEZONE = "+08:00"  # Excel cells carry no offset: read as Asia/Shanghai

_EXTENSIONS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".csv": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
}
_FORMAT_NAMES = {"jsonl": "JSONL", "json": "JSON", "yaml": "YAML", "csv": "CSV", "xlsx": "XLSX"}
_SNIFF_BYTES = 1 << 16


class InputError(ValueError):
    """A file that cannot be read at all; the message names the file."""

    def __init__(self, path: str, message_zh: str, message_en: str) -> None:
        super().__init__(message_en)
        self.path = path
        self.message_zh = message_zh
        self.message_en = message_en

    def message(self, lang: str = "zh") -> str:
        return self.message_en if lang == "en" else self.message_zh


@dataclass(frozen=True, slots=True)
class LoadWarning:
    """Something the user should know that did not stop loading."""

    source: str
    message_zh: str
    message_en: str

    def message(self, lang: str = "zh") -> str:
        return self.message_en if lang == "en" else self.message_zh


class LoadedRecord:
    """One record as read: where it came from, what it said, what it means.

    `raw` is what the file said (parsed JSON, a row as a dict, a bad line as text);
    for a line the fast path read, it is parsed from the kept `text` on first access."""

    __slots__ = ("_raw", "_text", "data", "errors", "line", "location", "record_id", "source")

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
    ) -> None:
        self.source = source
        self.line = line
        self.location = location
        self.record_id = record_id
        self._raw = raw
        self._text = text  # JSON text standing for `raw` until it is asked for
        self.data = data
        self.errors = [] if errors is None else errors

    @property
    def raw(self) -> Any:
        if self._text is not None:
            self._raw, self._text = _parse_json(self._text), None
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


@dataclass(frozen=True, slots=True)
class Decoded:
    """A JSONL line the fast path has decoded and validated: its text and its record."""

    text: bytes
    data: dict


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
        return "jsonl"
    fmt = _EXTENSIONS.get(Path(path).suffix.lower())
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
) -> Iterator[LoadedRecord]:
    """Read, validate and normalise records from `paths` (`-` is stdin), streaming.

    Ids must be unique across the whole call: a later record repeating an id
    is invalid (`duplicate_id`) and names the first one's location.
    `position`, if given, holds `[path, byte offset]` of the JSONL line of the record
    just yielded (for `line_valid`).
    """
    enc = _check_encoding(encoding, str(paths[0]) if paths else STDIN)
    check = validator or default_validator()
    fast: Callable[[bytes], dict | None] | None = None
    fast_known = False  # built when a UTF-8 JSONL file comes (msgspec: ~15 ms to import and build)
    ids = _IdIndex()
    templates: list[tuple[str, bool]] = []  # per source: location prefix, ends with the line?
    for p in paths:
        path = str(p)
        fmt = detect_format(path, input_format)
        name = STDIN_NAME if path == STDIN else path
        source_no = len(templates)
        templates.append((name, False))
        produced = 0
        if fmt == "jsonl" and enc == "utf-8" and not fast_known:
            fast, fast_known = decoder_for(check), True
        if position is not None:
            position[:] = [path, None]
        for line, location, raw, errors in _read(path, name, fmt, enc, warnings, check.schema, fast,
                                                 position):
            if produced == 0:
                templates[source_no] = _template(location, line)
            produced += 1
            yield _finish(name, line, location, raw, errors, check, ids, source_no, templates)
        if produced == 0 and warnings is not None:
            warnings.append(LoadWarning(name, f"{name} 中没有记录", f"{name} contains no records"))


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
    text = None
    if raw.__class__ is Decoded:  # read and validated by the fast path
        text, data = raw.text, raw.data
        record_id = _record_id(data)
        raw = None
    else:
        record_id = _record_id(raw)
        data = None
        if not errors:
            data, errors = check.validate(raw)
    if record_id is not None:
        first = ids.add(record_id, source_no, line)
        if first is not None:
            errors = [*errors, duplicate_error(record_id, first, templates)]
            data = None
    return LoadedRecord(name, line, location, record_id, raw, data, errors, text)


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


def _record_id(raw: Any) -> str | None:
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


# ---------------------------------------------------------------- opening files


def _check_encoding(encoding: str, path: str) -> str:
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise InputError(
            path, f"未知的字符编码 '{encoding}'", f"unknown character encoding '{encoding}'"
        ) from None
    if "\n".encode(name) != b"\n" or name.startswith(("utf-16", "utf-32")):
        raise InputError(
            path,
            f"不支持字符编码 '{encoding}'；请先转换为 UTF-8",
            f"character encoding '{encoding}' is not supported; convert the file to UTF-8 first",
        )
    return name


def require_file(path: str) -> None:
    """Raise the InputError a missing file or a folder given as an input gets."""
    if os.path.isdir(path):
        raise _folder_error(path)
    if not os.path.exists(path):
        raise _not_found(path)


def _not_found(path: str) -> InputError:
    return InputError(path, f"找不到文件 {path}", f"file not found: {path}")


def _folder_error(path: str) -> InputError:
    folder = path.rstrip("/\\") or path
    return InputError(
        path, f"{path} 是目录，不是文件；请列出其中的记录文件，例如 {folder}/*.jsonl",
        f"{path} is a folder, not a file; name the record files in it, e.g. {folder}/*.jsonl")


def _open(path: str) -> BinaryIO:
    if path == STDIN:
        return sys.stdin.buffer
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise _not_found(path) from None
    except IsADirectoryError:
        raise _folder_error(path) from None
    except PermissionError:
        raise InputError(path, f"没有权限读取 {path}", f"permission denied: {path}") from None
    except OSError as exc:
        raise InputError(
            path, f"无法读取 {path}：{exc.strerror}", f"cannot read {path}: {exc.strerror}"
        ) from None


class _Chain(io.RawIOBase):
    """A raw stream that replays an already-read head, then reads on."""

    def __init__(self, head: bytes, tail: BinaryIO) -> None:
        self._head = memoryview(head)
        self._tail = tail

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self._head:
            n = min(len(b), len(self._head))
            b[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._tail.read(len(b))
        n = len(data)
        b[:n] = data
        return n


def _read_head(f: BinaryIO, name: str) -> bytes:
    try:
        return f.read(_SNIFF_BYTES)
    except OSError as exc:
        raise InputError(
            name, f"无法读取 {name}：{exc.strerror}", f"cannot read {name}: {exc.strerror}"
        ) from None


def _sniff(head: bytes, name: str, fmt: str, encoding: str) -> None:
    """Refuse binary files and wrong encodings before yielding anything."""
    if fmt == "xlsx":
        return
    label = _FORMAT_NAMES[fmt]
    if head.startswith(b"PK\x03\x04"):
        raise InputError(
            name,
            f"{name} 看起来是 Excel（.xlsx）或 ZIP 文件，不是 {label} 文本；"
            "如为 Excel 文件，请使用 .xlsx 扩展名或 --input-format xlsx",
            f"{name} looks like an Excel (.xlsx) or ZIP file, not {label} text; "
            "for Excel use the .xlsx extension or --input-format xlsx",
        )
    if b"\x00" in head:
        raise InputError(
            name,
            f"{name} 看起来是二进制文件，不是 {label} 文本",
            f"{name} looks like a binary file, not {label} text",
        )
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        decoder.decode(head, final=False)
    except UnicodeDecodeError as exc:
        raise _encoding_error(name, encoding, head[: exc.start].count(b"\n") + 1) from None


def _encoding_error(name: str, encoding: str, line: int) -> InputError:
    if encoding == "utf-8":
        return InputError(
            name,
            f"{name} 第 {line} 行不是有效的 UTF-8 文本；如文件为 GBK 编码"
            "（如 Excel 导出的 CSV），请使用 --encoding gbk",
            f"{name} is not valid UTF-8 text (line {line}); if it is GBK-encoded "
            "(as CSV files saved by Excel often are), use --encoding gbk",
        )
    return InputError(
        name,
        f"{name} 第 {line} 行无法按 {encoding} 解码；请检查 --encoding",
        f"{name} cannot be decoded as {encoding} (line {line}); check --encoding",
    )


def _read(
    path: str,
    name: str,
    fmt: str,
    encoding: str,
    warnings: list[LoadWarning] | None,
    schema: dict,
    fast: Callable[[bytes], dict | None] | None = None,
    position: list | None = None,
) -> Iterator[tuple[int, str, Any, list[RecordError]]]:
    """(line, location, raw, loader errors) for each record of one file; `raw` is a
    `Decoded` for a JSONL line that `fast` decoded."""
    f = _open(path)
    try:
        head = _read_head(f, name)
        _sniff(head, name, fmt, encoding)
        stream = io.BufferedReader(_Chain(head, f), buffer_size=1 << 16)
        reader = {
            "jsonl": _read_jsonl,
            "json": _read_json,
            "yaml": _read_yaml,
            "csv": _read_csv,
            "xlsx": _read_xlsx,
        }[fmt]
        if fmt == "jsonl":
            yield from _read_jsonl(stream, name, encoding, warnings, schema, fast, position)  # type: ignore[arg-type]
        else:
            yield from reader(stream, name, encoding, warnings, schema)
    finally:
        if f is not sys.stdin.buffer:
            f.close()


def _loader_error(code: str, zh: str, en: str) -> list[RecordError]:
    return [RecordError("$", code, zh, en)]


def _too_large(size: int, what_zh: str, what_en: str) -> list[RecordError]:
    mib = size / (1 << 20)
    return _loader_error(
        "too_large",
        f"{what_zh}超过 {MAX_RECORD_BYTES >> 20} MiB 上限（{mib:.1f} MiB），未解析",
        f"{what_en} exceeds the {MAX_RECORD_BYTES >> 20} MiB limit ({mib:.1f} MiB); not parsed",
    )


# ---------------------------------------------------------------- JSON


def _parse_json(data: bytes | str) -> Any:
    """orjson: fast, strict (no NaN), UTF-8 checked.

    JSON numbers arrive as floats; the validator turns money into
    `Decimal(repr(x))`, which gives back the written digits for up to 15
    significant digits (`60.005` stays `60.005`). Longer amounts keep every
    digit only when written as strings.
    """
    return orjson.loads(data)


def _json_error(exc: Exception, line: int | None = None) -> list[RecordError]:
    msg = getattr(exc, "msg", str(exc))
    col = getattr(exc, "colno", None)
    lineno = getattr(exc, "lineno", None)
    if line is not None:  # one JSONL line: only the column matters
        where_zh = f"第 {col} 列" if col else ""
        where_en = f" at column {col}" if col else ""
        zh = f"JSON 格式错误（{where_zh}）：{msg}" if where_zh else f"JSON 格式错误：{msg}"
        return _loader_error("json", zh, f"invalid JSON{where_en}: {msg}")
    zh = f"JSON 格式错误（第 {lineno} 行第 {col} 列）：{msg}"
    en = f"invalid JSON at line {lineno}, column {col}: {msg}"
    return _loader_error("json", zh, en)


def _read_jsonl(
    stream: io.BufferedReader,
    name: str,
    encoding: str,
    warnings: list[LoadWarning] | None,
    schema: dict,
    fast: Callable[[bytes], dict | None] | None = None,
    position: list | None = None,
) -> Iterator[tuple[int, str, Any, list[RecordError]]]:
    """(line, location, raw, loader errors) per non-blank line; with `fast` (UTF-8 only),
    `raw` is a `Decoded` for each line the fast path is sure of. `position[1]`, if given,
    is set to the byte offset of each line before it is yielded."""
    utf8 = encoding == "utf-8"
    if not utf8:
        fast = None
    limit = MAX_RECORD_BYTES + 2  # room for "\r\n"
    lineno = 0
    offset = 0
    while True:
        line = stream.readline(limit)
        if not line:
            return
        if position is not None:
            position[1] = offset
        offset += len(line)
        lineno += 1
        location = f"{name}:{lineno}"
        if lineno == 1 and line.startswith(codecs.BOM_UTF8) and encoding.startswith("utf-8"):
            line = line[3:]
        body = line.rstrip(b"\r\n")
        if len(body) > MAX_RECORD_BYTES:
            size = len(line)
            while not line.endswith(b"\n"):  # skip the rest of the line unread
                line = stream.readline(1 << 20)
                if not line:
                    break
                size += len(line)
                offset += len(line)
            yield lineno, location, None, _too_large(size, "该行", "the line")
            continue
        if not body or body.isspace():
            continue
        if fast is not None:
            data = fast(body)
            if data is not None:
                yield lineno, location, Decoded(body, data), []
                continue
        text: bytes | str = body
        if not utf8:
            try:
                text = body.decode(encoding)
            except UnicodeDecodeError:
                raise _encoding_error(name, encoding, lineno) from None
        try:
            raw = _parse_json(text)
        except orjson.JSONDecodeError as exc:
            if utf8 and isinstance(exc, orjson.JSONDecodeError) and "UTF-8" in exc.msg:
                raise _encoding_error(name, encoding, lineno) from None
            yield lineno, location, _display(text), _json_error(exc, lineno)
            continue
        yield lineno, location, raw, []


def line_valid(path: str, offset: int, encoding: str, validator: Any, fast: Callable | None = None,
               handles: dict | None = None) -> bool:
    """Whether the JSONL line at `offset` of `path` holds a valid record, decided exactly as
    `iter_records` decides it (the fast path, else JSON and the validator); duplicate ids
    aside, which only the whole batch tells. `handles` keeps files open between calls."""
    f = handles.get(path) if handles is not None else None
    if f is None:
        f = open(path, "rb")  # noqa: SIM115 - kept in `handles`, or closed below
        if handles is not None:
            handles[path] = f
    try:
        f.seek(offset)
        data = f.readline(MAX_RECORD_BYTES + 2)
    finally:
        if handles is None:
            f.close()
    if offset > 0:
        data = b"\n" + data  # not the file's first line: no BOM is stripped
    stream = io.BufferedReader(io.BytesIO(data))  # type: ignore[arg-type]
    for _line, _loc, raw, errors in _read_jsonl(stream, path, _check_encoding(encoding, path), None,
                                                validator.schema, fast):
        if raw.__class__ is Decoded:
            return True
        return not errors and validator.validate(raw)[0] is not None
    return False


def line_checker(encoding: str, validator: Any, fast: Callable | None = None
                 ) -> Callable[[str, int], bool]:
    """`line_valid` for the lines of one batch, its files kept open between calls."""
    handles: dict = {}
    return lambda path, offset: line_valid(path, offset, encoding, validator, fast, handles)


def _display(text: bytes | str) -> str:
    """A bad line as text, for the report."""
    if isinstance(text, bytes):
        return text.decode("utf-8", "replace")
    return text


def _read_document(stream: io.BufferedReader, name: str, label: str) -> bytes:
    data = stream.read(MAX_DOCUMENT_BYTES + 1)
    if len(data) > MAX_DOCUMENT_BYTES:
        raise InputError(
            name,
            f"{name} 超过 {MAX_DOCUMENT_BYTES >> 20} MiB；{label} 文件须整体读入，"
            "大批量请改用 JSONL（每行一条记录）",
            f"{name} exceeds {MAX_DOCUMENT_BYTES >> 20} MiB; {label} files are read whole, "
            "use JSONL (one record per line) for large batches",
        )
    return data


def _decode(data: bytes, name: str, encoding: str) -> str:
    if encoding.startswith("utf-8") and data.startswith(codecs.BOM_UTF8):
        data = data[3:]
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise _encoding_error(name, encoding, data[: exc.start].count(b"\n") + 1) from None


def _read_json(
    stream: io.BufferedReader,
    name: str,
    encoding: str,
    warnings: list[LoadWarning] | None,
    schema: dict,
) -> Iterator[tuple[int, str, Any, list[RecordError]]]:
    text = _decode(_read_document(stream, name, "JSON"), name, encoding)
    if not text.strip():
        return
    try:
        doc = _parse_json(text)
    except (orjson.JSONDecodeError, ValueError) as exc:
        errors = _json_error(exc)
        if isinstance(exc, orjson.JSONDecodeError) and "after document" in exc.msg:
            e = errors[0]
            errors = [
                RecordError(
                    e.path,
                    e.code,
                    e.message_zh + "；如每行一条记录，请使用 .jsonl 扩展名或 --input-format jsonl",
                    e.message_en + "; for one record per line use .jsonl or --input-format jsonl",
                )
            ]
        line = getattr(exc, "lineno", 1) or 1
        yield line, f"{name}:{line}", None, errors
        return
    if isinstance(doc, list):
        for i, item in enumerate(doc, start=1):
            yield i, f"{name}#{i}", item, []
    elif isinstance(doc, dict):
        yield 1, name, doc, []
    else:
        yield (
            1,
            name,
            doc,
            _loader_error(
                "json",
                "JSON 文件的顶层应为记录对象或记录数组",
                "the top level of a JSON file must be a record object or an array of records",
            ),
        )


# ---------------------------------------------------------------- YAML


def _yaml_loader() -> type:
    import yaml

    class RecordLoader(yaml.SafeLoader):
        """SafeLoader that keeps timestamps as written and reads floats exactly."""

        def construct_yaml_timestamp(self, node: Any) -> Any:
            return self.construct_scalar(node)

        def construct_yaml_float(self, node: Any) -> Any:
            text = self.construct_scalar(node).replace("_", "")
            low = text.lower()
            if low in (".inf", "+.inf", "-.inf", ".nan"):
                return float(low.replace(".", ""))
            if ":" in text:  # YAML 1.1 base-60 float
                return super().construct_yaml_float(node)
            return Decimal(text)

    RecordLoader.add_constructor(
        "tag:yaml.org,2002:timestamp", RecordLoader.construct_yaml_timestamp
    )
    RecordLoader.add_constructor("tag:yaml.org,2002:float", RecordLoader.construct_yaml_float)
    return RecordLoader


def _read_yaml(
    stream: io.BufferedReader,
    name: str,
    encoding: str,
    warnings: list[LoadWarning] | None,
    schema: dict,
) -> Iterator[tuple[int, str, Any, list[RecordError]]]:
    import yaml

    text = _decode(_read_document(stream, name, "YAML"), name, encoding)
    loader = _yaml_loader()(text)
    try:
        while True:
            try:
                if not loader.check_node():
                    return
                node = loader.get_node()
                line = node.start_mark.line + 1
                expanded, distinct = _yaml_size(node)
                if expanded > distinct * 10 + MAX_YAML_EXPANSION:
                    yield (
                        line,
                        f"{name}:{line}",
                        None,
                        _loader_error(
                            "yaml",
                            f"YAML 文档展开别名后过大（{expanded} 个节点），未读取",
                            f"the YAML document is too large once aliases are expanded "
                            f"({expanded} nodes); not read",
                        ),
                    )
                    continue
                doc = loader.construct_document(node)
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
                line = mark.line + 1 if mark is not None else 1
                col = mark.column + 1 if mark is not None else 1
                problem = getattr(exc, "problem", None) or str(exc)
                yield (
                    line,
                    f"{name}:{line}",
                    None,
                    _loader_error(
                        "yaml",
                        f"YAML 格式错误（第 {line} 行第 {col} 列）：{problem}；此后的内容未读取",
                        f"invalid YAML at line {line}, column {col}: {problem}; "
                        "the rest of the file was not read",
                    ),
                )
                return
            if doc is None:
                continue
            if isinstance(doc, list):  # a document holding a list of records
                for item_node, item in zip(node.value, doc, strict=True):
                    item_line = item_node.start_mark.line + 1
                    yield item_line, f"{name}:{item_line}", item, []
            else:
                yield line, f"{name}:{line}", doc, []
    finally:
        loader.dispose()


def _yaml_size(root: Any) -> tuple[int, int]:
    """(nodes once aliases are expanded, distinct nodes) of a composed document."""
    import yaml

    weight: dict[int, int] = {}
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            if isinstance(node, yaml.MappingNode):
                kids = [n for pair in node.value for n in pair]
            elif isinstance(node, yaml.SequenceNode):
                kids = node.value
            else:
                kids = []
            weight[key] = 1 + sum(weight.get(id(k), 1) for k in kids)
            continue
        if key in weight:
            continue
        weight[key] = 1  # in progress; a recursive alias counts once
        stack.append((node, True))
        if isinstance(node, yaml.MappingNode):
            stack.extend((n, False) for pair in node.value for n in pair if id(n) not in weight)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((n, False) for n in node.value if id(n) not in weight)
    return weight[id(root)], len(weight)


# ---------------------------------------------------------------- CSV and XLSX


@dataclass(frozen=True, slots=True)
class _Column:
    header: str
    path: tuple[str, ...]
    kind: str  # string | boolean | integer | number | money | date | datetime | json | any


def _column_kinds(schema: dict) -> dict[tuple[str, ...], str]:
    """How to read a cell for each dotted path of the schema (objects only)."""
    defs = schema.get("$defs", {})
    out: dict[tuple[str, ...], str] = {}

    def kind_of(prop: dict) -> str:
        refs = [b.get("$ref") for b in prop.get("anyOf", []) if "$ref" in b]
        if "$ref" in prop:
            refs.append(prop["$ref"])
        for ref in refs:
            target = defs.get(ref.rsplit("/", 1)[-1], {})
            if target.get("x-normalise") == "decimal":
                return "money"
            if target.get("format") == "date":
                return "date"
            if target.get("format") == "date-time":
                return "datetime"
            return "string"
        types = prop.get("type", [])
        types = [types] if isinstance(types, str) else types
        for t in ("array", "object"):
            if t in types:
                return "json"
        for t in ("boolean", "integer", "number", "string"):
            if t in types:
                return t
        return "any"

    def walk(node: dict, prefix: tuple[str, ...]) -> None:
        for k, prop in (node.get("properties") or {}).items():
            path = (*prefix, k)
            out[path] = kind_of(prop)
            if "properties" in prop:
                walk(prop, path)

    walk(schema, ())
    return out


def _columns(header: Sequence[Any], kinds: dict[tuple[str, ...], str], name: str) -> list[_Column]:
    cols: list[_Column] = []
    seen: set[str] = set()
    for cell in header:
        h = "" if cell is None else str(cell).strip()
        h = h.removeprefix("\ufeff")
        if h and h in seen:
            raise InputError(
                name,
                f"{name} 的表头中列名 '{h}' 重复",
                f"{name}: column '{h}' appears twice in the header",
            )
        seen.add(h)
        path = tuple(h.split(".")) if h else ()
        cols.append(_Column(h, path, kinds.get(path, "any")))
    return cols


_INT_TEXT = re.compile(r"-?[0-9]+\Z")
_FLOAT_TEXT = re.compile(r"-?[0-9]+\.[0-9]+\Z")


def _cell_value(text: str, col: _Column) -> tuple[Any, str | None]:
    """(value, problem) for a non-empty text cell."""
    kind = col.kind
    if text == "null" and kind != "string":
        return None, None
    if kind == "boolean":
        low = text.strip().lower()
        if low in ("true", "false"):
            return low == "true", None
        return text, None
    if kind == "integer":
        s = text.strip()
        if _INT_TEXT.match(s):
            return int(s), None
        if _FLOAT_TEXT.match(s):
            return float(s), None
        return text, None
    if kind == "json":
        try:
            return _parse_json(text), None
        except orjson.JSONDecodeError as exc:
            msg = getattr(exc, "msg", str(exc))
            return None, msg
    return text, None


def _excel_value(v: Any, col: _Column) -> tuple[Any, str | None]:
    """(value, problem) for a typed XLSX cell."""
    if isinstance(v, str):
        return _cell_value(v, col)
    kind = col.kind
    if isinstance(v, datetime):
        if kind == "date":
            return (v.date().isoformat() if v.time() == time() else v.isoformat()), None
        if v.tzinfo is None and kind == "datetime":
            return v.isoformat() + XLSX_TIMEZONE, None
        return v.isoformat(), None
    if isinstance(v, (date, time)):
        return v.isoformat(), None
    if isinstance(v, bool):
        return v, None
    if isinstance(v, (int, float)) and kind in ("string", "any"):
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        return str(v), None
    return v, None


def _assemble(
    cells: Iterable[tuple[_Column, Any]],
) -> tuple[dict, list[RecordError]]:
    """Build a nested record from (column, value) pairs; report conflicts."""
    record: dict = {}
    errors: list[RecordError] = []
    for col, value in cells:
        node = record
        ok = True
        for part in col.path[:-1]:
            nxt = node.get(part)
            if nxt is None:
                nxt = node[part] = {}
            elif not isinstance(nxt, dict):
                ok = False
                break
            node = nxt
        last = col.path[-1]
        if not ok or (last in node and isinstance(value, dict) != isinstance(node[last], dict)):
            errors.append(
                RecordError(
                    "$." + col.header,
                    "column_conflict",
                    f"列 '{col.header}' 与其他列的取值冲突",
                    f"column '{col.header}' conflicts with another column",
                )
            )
            continue
        if isinstance(value, dict) and isinstance(node.get(last), dict):
            node[last].update(value)
        else:
            node[last] = value
    return record, errors


def _row_record(
    row: Sequence[Any], cols: list[_Column], excel: bool
) -> tuple[dict, list[RecordError]]:
    errors: list[RecordError] = []
    cells: list[tuple[_Column, Any]] = []
    for i, cell in enumerate(row):
        if cell is None or cell == "":
            continue
        if i >= len(cols) or not cols[i].path:
            errors.append(
                RecordError(
                    "$",
                    "csv",
                    f"第 {i + 1} 列没有表头，其值 {str(cell)[:40]!r} 无法归入字段",
                    f"column {i + 1} has no header; its value {str(cell)[:40]!r} belongs to no field",
                )
            )
            continue
        col = cols[i]
        value, problem = _excel_value(cell, col) if excel else _cell_value(cell, col)
        if problem is not None:
            errors.append(
                RecordError(
                    "$." + col.header,
                    "json",
                    f"列 '{col.header}' 应为 JSON：{problem}",
                    f"column '{col.header}' must hold JSON: {problem}",
                )
            )
            continue
        cells.append((col, value))
    record, conflicts = _assemble(cells)
    return record, errors + conflicts


def _read_csv(
    stream: io.BufferedReader,
    name: str,
    encoding: str,
    warnings: list[LoadWarning] | None,
    schema: dict,
) -> Iterator[tuple[int, str, Any, list[RecordError]]]:
    csv.field_size_limit(MAX_RECORD_BYTES)
    text = io.TextIOWrapper(
        stream, encoding="utf-8-sig" if encoding == "utf-8" else encoding, newline=""
    )
    reader = csv.reader(text)
    kinds = _column_kinds(schema)
    cols: list[_Column] | None = None
    last_line = 0
    while True:
        start = last_line + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError:
            raise _encoding_error(name, encoding, reader.line_num + 1) from None
        except csv.Error as exc:
            last_line = reader.line_num
            yield start, f"{name}:{start}", None, _csv_error(exc)
            continue
        last_line = reader.line_num
        if cols is None:
            if not any(c.strip() for c in row):
                continue
            cols = _columns(row, kinds, name)
            continue
        if not any(row):
            continue
        if sum(len(c) for c in row) > MAX_RECORD_BYTES:
            yield (
                start,
                f"{name}:{start}",
                None,
                _too_large(sum(len(c) for c in row), "该行", "the row"),
            )
            continue
        record, errors = _row_record(row, cols, excel=False)
        yield start, f"{name}:{start}", record, errors


def _csv_error(exc: csv.Error) -> list[RecordError]:
    msg = str(exc)
    if "field larger than field limit" in msg:
        return _too_large(MAX_RECORD_BYTES + 1, "该行的单元格", "a cell of the row")
    return _loader_error("csv", f"CSV 格式错误：{msg}", f"invalid CSV: {msg}")


def _read_xlsx(
    stream: io.BufferedReader,
    name: str,
    encoding: str,
    warnings: list[LoadWarning] | None,
    schema: dict,
) -> Iterator[tuple[int, str, Any, list[RecordError]]]:
    import zipfile

    from openpyxl import load_workbook

    data = _read_document(stream, name, "XLSX")
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise InputError(
            name, f"{name} 不是有效的 .xlsx 文件：{exc}", f"{name} is not a valid .xlsx file: {exc}"
        ) from None
    try:
        if not book.worksheets:
            return
        sheet = book.worksheets[0]
        kinds = _column_kinds(schema)
        cols: list[_Column] | None = None
        warned = False
        for rowno, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            if not any(c is not None and c != "" for c in row):
                continue
            if cols is None:
                cols = _columns(row, kinds, name)
                continue
            location = f"{name}!{sheet.title}:row {rowno}"
            record, errors = _row_record(row, cols, excel=True)
            if not warned and warnings is not None and _has_naive_datetime(row, cols):
                warned = True
                warnings.append(
                    LoadWarning(
                        name,
                        f"{name}：Excel 日期时间单元格不带时区，按北京时间（{XLSX_TIMEZONE}）读取",
                        f"{name}: Excel date-time cells carry no offset; read as "
                        f"Asia/Shanghai ({XLSX_TIMEZONE})",
                    )
                )
            yield rowno, location, record, errors
    finally:
        book.close()


def _has_naive_datetime(row: Sequence[Any], cols: list[_Column]) -> bool:
    return any(
        isinstance(v, datetime)
        and v.tzinfo is None
        and i < len(cols)
        and cols[i].kind == "datetime"
        for i, v in enumerate(row)
    )
