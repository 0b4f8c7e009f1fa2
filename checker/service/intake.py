"""Request bodies in: size-limited, parsed as JSON, one `LoadedRecord` per record.

A body is one record (a JSON object) or a list of records. Records are validated and
normalised exactly as `qinqing check` does for a JSON file: the same validator, the same
per-record errors (an invalid record is reported, never dropped), the same duplicate-id
message, and the same JSON syntax message. Locations read `<request>` (one record) or
`<request>#3` (the third of a list).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from checker.input.identity import IdentityError, normalise_id
from checker.input.jsonl import json_message_zh
from checker.input.records import LoadedRecord, id_of
from checker.input.validate import RecordError
from checker.service.errors import ApiError

SOURCE = "<request>"
MAX_DEPTH = 64  # a record nests a few levels; deeper JSON is refused before anything walks it


def _mib(n: int) -> str:
    return f"{n / (1 << 20):g} MiB" if n >= 1 << 20 else f"{n} B"


def too_large(limit: int) -> ApiError:
    return ApiError(413, "body_too_large",
                    f"请求正文超过 {_mib(limit)} 上限；请分批提交",
                    f"the request body exceeds the {_mib(limit)} limit; send smaller batches",
                    limit_bytes=limit)


async def read_body(headers: Any, stream: AsyncIterator[bytes], limit: int) -> bytes:
    """The whole body, or 413 as soon as it is known to exceed `limit` bytes."""
    declared = headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise ApiError(400, "bad_content_length", "Content-Length 无效",
                           "invalid Content-Length") from None
        if size > limit:
            raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in stream:
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(body: bytes) -> Any:
    """The JSON document, or 400 with the CLI's message for a malformed JSON file."""
    if not body.strip():
        raise ApiError(400, "empty_body", "请求正文为空；请提交一条记录（JSON 对象）或记录数组",
                       "the request body is empty; send a record (a JSON object) or an array of records")
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if "recursion" in exc.msg.lower() or "depth" in exc.msg.lower():
            raise _too_deep() from None
        if "UTF-8" in exc.msg:
            raise ApiError(400, "encoding", "请求正文不是有效的 UTF-8 文本",
                           "the request body is not valid UTF-8 text") from None
        # the wording of `qinqing check` for a malformed JSON file (checker.records)
        raise ApiError(400, "json",
                       f"JSON 格式错误（第 {exc.lineno} 行第 {exc.colno} 列）：{json_message_zh(exc.msg)}",
                       f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
                       line=exc.lineno, column=exc.colno) from None
    # a depth of d needs d brackets: few brackets, no walk
    if body.count(b"[") + body.count(b"{") > MAX_DEPTH and _depth(doc) > MAX_DEPTH:
        raise _too_deep()
    return doc


def _too_deep() -> ApiError:
    return ApiError(400, "too_deep", f"JSON 嵌套超过 {MAX_DEPTH} 层；记录不会嵌套这么深",
                    f"the JSON nests more than {MAX_DEPTH} levels; no record nests that deep",
                    limit_depth=MAX_DEPTH)


def _depth(doc: Any) -> int:
    """How deep `doc` nests (walked without recursion; stops past MAX_DEPTH)."""
    deepest = 0
    stack = [(doc, 1)]
    while stack:
        node, level = stack.pop()
        if level > deepest:
            deepest = level
            if deepest > MAX_DEPTH:
                return deepest
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, level + 1) for c in children if isinstance(c, (dict, list)))
    return deepest


def record_list(doc: Any, max_records: int) -> list[tuple[int, str, Any]]:
    """(line, location, raw) per record of a parsed body; 422/413 for a wrong shape or count."""
    if isinstance(doc, dict):
        return [(1, SOURCE, doc)]
    if not isinstance(doc, list):
        raise ApiError(422, "json", "JSON 文件的顶层应为记录对象或记录数组",
                       "the top level of a JSON file must be a record object or an array of records")
    if len(doc) > max_records:
        raise ApiError(413, "too_many_records",
                       f"一次请求最多 {max_records} 条记录（收到 {len(doc)} 条）；请分批提交",
                       f"at most {max_records} records per request (got {len(doc)}); "
                       "send smaller batches",
                       limit_records=max_records)
    return [(i, f"{SOURCE}#{i}", raw) for i, raw in enumerate(doc, start=1)]



def load_records(items: list[tuple[int, str, Any]], validator: Any) -> list[LoadedRecord]:
    """Validate and normalise; a repeated id makes the later record invalid (`duplicate_id`)."""
    first_seen: dict[str, str] = {}
    out = []
    for line, location, raw in items:
        data, errors = validator.validate(raw)
        record_id = id_of(raw)
        if record_id is not None:
            try:
                key = normalise_id(record_id)
            except IdentityError as exc:
                errors = [*errors, RecordError("$.id", "lookalike_id", exc.message_zh,
                                               exc.message_en)]
                data, key = None, record_id
            where = first_seen.setdefault(key, location)
            if where != location:
                errors = [*errors, RecordError(
                    "$.id", "duplicate_id",
                    f"记录编号 '{record_id}' 重复，首次出现在 {where}",
                    f"duplicate record id '{record_id}'; first seen at {where}")]
                data = None
        out.append(LoadedRecord(SOURCE, line, location, record_id, raw, data, list(errors)))
    return out
