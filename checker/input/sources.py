"""Input files opened and checked before any record is read: paths, stdin, encodings, sniffing.

Also the pieces every loader shares: `InputError` (a file that cannot be read at all,
naming it), `LoadWarning`, the size limits, and the errors a loader gives a record it
could not parse (`loader_error`, `too_large`).
"""

from __future__ import annotations

import codecs
import io
import os
import sys
from dataclasses import dataclass
from typing import Any, BinaryIO

from checker.input.messages import RecordError

MAX_RECORD_BYTES = 1 << 20  # one JSONL line / CSV row / XLSX row
MAX_DOCUMENT_BYTES = 256 << 20  # a whole JSON or YAML file
MAX_YAML_EXPANSION = 100_000  # nodes that aliases may add per document ("billion laughs")
FORMATS = ("jsonl", "json", "yaml", "csv", "xlsx", "parquet")
STDIN = "-"
STDIN_NAME = "<stdin>"
SNIFF = "sniff"  # stdin without --input-format: told from its first bytes
XLSX_TIMEZONE = "+08:00"  # Excel cells carry no offset: read as Asia/Shanghai

EXTENSIONS = {  # file name suffix -> input format
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".csv": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".parquet": "parquet",
}
_FORMAT_NAMES = {"jsonl": "JSONL", "json": "JSON", "yaml": "YAML", "csv": "CSV", "xlsx": "XLSX", "parquet": "Parquet"}
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


# ---------------------------------------------------------------- opening files


def check_encoding(encoding: str, path: str) -> str:
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


def open_input(path: str) -> BinaryIO:
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


class Chain(io.RawIOBase):
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


def read_head(f: BinaryIO, name: str) -> bytes:
    try:
        return f.read(_SNIFF_BYTES)
    except OSError as exc:
        raise InputError(
            name, f"无法读取 {name}：{exc.strerror}", f"cannot read {name}: {exc.strerror}"
        ) from None


def sniff(head: bytes, name: str, fmt: str, encoding: str) -> None:
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
    if head.startswith(b"PAR1"):
        raise InputError(
            name,
            f"{name} 看起来是 Parquet 文件，不是 {label} 文本；请使用 .parquet 扩展名或 --input-format parquet",
            f"{name} looks like a Parquet file, not {label} text; "
            "use the .parquet extension or --input-format parquet",
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
        raise encoding_error(name, encoding, head[: exc.start].count(b"\n") + 1) from None


def encoding_error(name: str, encoding: str, line: int) -> InputError:
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


def loader_error(code: str, zh: str, en: str) -> list[RecordError]:
    return [RecordError("$", code, zh, en)]


def too_large(size: int, what_zh: str, what_en: str) -> list[RecordError]:
    mib = size / (1 << 20)
    return loader_error(
        "too_large",
        f"{what_zh}超过 {MAX_RECORD_BYTES >> 20} MiB 上限（{mib:.1f} MiB），未解析",
        f"{what_en} exceeds the {MAX_RECORD_BYTES >> 20} MiB limit ({mib:.1f} MiB); not parsed",
    )


def read_document(stream: io.BufferedReader, name: str, label: str) -> bytes:
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


def decode_text(data: bytes, name: str, encoding: str) -> str:
    if encoding.startswith("utf-8") and data.startswith(codecs.BOM_UTF8):
        data = data[3:]
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise encoding_error(name, encoding, data[: exc.start].count(b"\n") + 1) from None



def sniff_format(head: bytes) -> str:
    """The format of text read from stdin without --input-format: a first line that is a
    whole JSON value means JSONL, other text opening with `{` or `[` JSON, a ZIP file XLSX,
    anything else YAML (whose documents may also be JSON)."""
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"PAR1"):
        return "parquet"
    text = head.removeprefix(codecs.BOM_UTF8).lstrip()
    if text[:1] not in (b"{", b"["):
        return "yaml"
    first = text.split(b"\n", 1)[0].strip()
    if len(text) > len(first) or len(head) < 65536:
        import orjson

        try:
            orjson.loads(first)
        except orjson.JSONDecodeError:
            return "json"
        return "jsonl" if first[:1] == b"{" else "json"
    return "json"
