"""JSONL records: one JSON document a line, read in bounded memory, line by line.

UTF-8 lines first try the fast path (`checker.input.fastjson`: decode and validate in
one C pass); what it is not sure of takes the ordinary path (orjson, then the
validator), which also writes the messages. `line_valid` reads one line again and
decides it exactly as the loader did (for the window index's tentative records).
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from checker.input.messages import RecordError
from checker.input.sources import (
    MAX_RECORD_BYTES,
    LoadWarning,
    check_encoding,
    encoding_error,
    loader_error,
    too_large,
)


@dataclass(frozen=True, slots=True)
class Decoded:
    """A JSONL line the fast path has decoded and validated: its text and its record."""

    text: bytes
    data: dict


def parse_json(data: bytes | str) -> Any:
    """orjson: fast, strict (no NaN), UTF-8 checked.

    JSON numbers arrive as floats; the validator turns money into
    `Decimal(repr(x))`, which gives back the written digits for up to 15
    significant digits (`60.005` stays `60.005`). Longer amounts keep every
    digit only when written as strings.
    """
    return orjson.loads(data)


# The JSON parsers' messages, in Chinese (orjson and the standard library); others read as
# "格式不正确" in a Chinese report (never the parser's English).
_JSON_ZH = {
    "unexpected end of data": "数据意外结束（缺少括号、引号或值）",
    "unexpected character": "出现意外的字符",
    "trailing comma is not allowed": "末尾多了逗号",
    "trailing characters": "值之后还有多余字符",
    "expected value": "此处应为一个值",
    "expected `,` or `}`": "此处应为逗号或右花括号",
    "expected `,` or `]`": "此处应为逗号或右方括号",
    "expected `:`": "此处应为冒号",
    "key must be a string": "键必须是字符串",
    "Expecting value": "此处应为一个值",
    "Expecting property name enclosed in double quotes": "键名应使用双引号",
    "Expecting ',' delimiter": "此处应为逗号",
    "Expecting ':' delimiter": "此处应为冒号",
    "Extra data": "值之后还有多余内容",
    "Unterminated string starting at": "字符串缺少结束引号",
    "Invalid control character at": "字符串中有控制字符",
    "str is not valid UTF-8: surrogates not allowed": "含有无效的 Unicode 代理字符",
    "lone leading surrogate in hex escape": "含有无效的 Unicode 代理字符",
}


def json_message_zh(msg: str) -> str:
    """A JSON parser's message in Chinese."""
    for en, zh in _JSON_ZH.items():
        if msg.startswith(en) or msg.lower().startswith(en.lower()):
            return zh
    return "格式不正确"


def json_error(exc: Exception, line: int | None = None) -> list[RecordError]:
    msg = getattr(exc, "msg", str(exc))
    msg_zh = json_message_zh(msg)
    col = getattr(exc, "colno", None)
    lineno = getattr(exc, "lineno", None)
    if line is not None:  # one JSONL line: only the column matters
        where_zh = f"第 {col} 列" if col else ""
        where_en = f" at column {col}" if col else ""
        zh = f"JSON 格式错误（{where_zh}）：{msg_zh}" if where_zh else f"JSON 格式错误：{msg_zh}"
        return loader_error("json", zh, f"invalid JSON{where_en}: {msg}")
    zh = f"JSON 格式错误（第 {lineno} 行第 {col} 列）：{msg_zh}"
    en = f"invalid JSON at line {lineno}, column {col}: {msg}"
    return loader_error("json", zh, en)


def read_jsonl(
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
            yield lineno, location, None, too_large(size, "该行", "the line")
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
                raise encoding_error(name, encoding, lineno) from None
        try:
            raw = parse_json(text)
        except orjson.JSONDecodeError as exc:
            if utf8 and isinstance(exc, orjson.JSONDecodeError) and "UTF-8" in exc.msg:
                raise encoding_error(name, encoding, lineno) from None
            yield lineno, location, display(text), json_error(exc, lineno)
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
    for _line, _loc, raw, errors in read_jsonl(stream, path, check_encoding(encoding, path), None,
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


def display(text: bytes | str) -> str:
    """A bad line as text, for the report."""
    if isinstance(text, bytes):
        return text.decode("utf-8", "replace")
    return text

