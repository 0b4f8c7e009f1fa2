"""The tamper-evident decision log: one JSON line per check, chained by hash.

Format (JSON lines, UTF-8, each line the canonical JSON of one object):

* line 1, the header: ``{"seq": 0, "format": "qinqing-decision-log", "version": 1,
  "time", "salt", "mask", "keyed", "prev": "0"*64, "hash"}``;
* then one line per decision: ``{"seq", "time", "record_id", "official_id",
  "official_name", "enterprise_name", "jurisdiction", "date", "input_hash",
  "policy_hash", "outcome", "rules", "prev", "hash"}``.

``hash = sha256(prev + canonical JSON of the line without "hash")`` and ``prev``
is the previous line's ``hash``, so editing, removing, inserting or reordering
any line breaks the chain at that point and :func:`verify` names the line.
A chain cannot show that its *last* lines were cut off: keep the latest
``hash`` (returned by :meth:`DecisionLog.append`) somewhere else and pass it to
``verify(path, head=...)`` to check that too.

Masking. Personal fields named in ``mask`` (``official.name``, ``official.id``,
``enterprise.name``; short forms ``name`` = every name field, ``official``,
``enterprise``, ``all``) are written as ``masked:`` + the first 12 hex digits of
HMAC-SHA256(key, value). The key is a random per-log salt kept in the header,
so one person keeps one pseudonym inside a log (the discipline office can still
see "the same official, five times this month") while different logs cannot be
joined on it. Since the salt sits in the log, anyone holding the log and a list
of candidate names can recompute pseudonyms: this hides values from casual
readers, it is not anonymisation. Pass ``secret=`` (kept outside the log) to
mix a secret into the key; the header then says ``"keyed": true`` and a later
writer without the same secret is refused. Once a log masks a field, every
later append masks it too (the header's mask is merged with the caller's).

Appends are serialised across processes with ``fcntl.flock`` and made durable
with ``fsync``; resuming an existing log continues its chain.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import hmac
import json
import os
import secrets as _secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from checker.store.ledger import to_canonical_json

FORMAT = "qinqing-decision-log"
VERSION = 1
ZERO_HASH = "0" * 64
MASK_PREFIX = "masked:"
MAX_LINE_BYTES = 1 << 20  # a decision line is small; anything bigger is not ours
_BLOCK = 8192

ENTRY_FIELDS = (
    "record_id",
    "official_id",
    "official_name",
    "enterprise_name",
    "jurisdiction",
    "date",
    "input_hash",
    "policy_hash",
    "outcome",
    "rules",
)
MASKABLE = {
    "official.name": "official_name",
    "official.id": "official_id",
    "enterprise.name": "enterprise_name",
}
MASK_ALIASES = {
    "name": ("official.name", "enterprise.name"),
    "official": ("official.name", "official.id"),
    "enterprise": ("enterprise.name",),
    "all": tuple(MASKABLE),
}


class AuditError(Exception):
    """The log cannot be written or read as asked; nothing was appended."""

    def __init__(self, code: str, message_zh: str, message_en: str) -> None:
        super().__init__(message_zh)
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en

    def message(self, lang: str = "zh") -> str:
        return self.message_en if lang == "en" else self.message_zh


def parse_mask(mask: Sequence[str] | str) -> tuple[str, ...]:
    """Normalise mask names (``"name,official.id"`` or a list) to sorted field paths."""
    items = mask.split(",") if isinstance(mask, str) else list(mask)
    fields: set[str] = set()
    for item in (i.strip() for i in items):
        if not item:
            continue
        key = item.lower().replace("_", ".")
        if key in MASKABLE:
            fields.add(key)
        elif key in MASK_ALIASES:
            fields.update(MASK_ALIASES[key])
        else:
            allowed = ", ".join([*MASKABLE, *MASK_ALIASES])
            raise AuditError(
                "unknown_mask",
                f"无法遮蔽字段 {item}；可用：{allowed}",
                f"Cannot mask field {item}; choose from: {allowed}",
            )
    return tuple(sorted(fields))


def line_hash(prev: str, body: Mapping[str, Any]) -> str:
    """The hash of one line: sha256 over prev + canonical JSON of the line without "hash"."""
    payload = {k: v for k, v in body.items() if k != "hash"}
    return hashlib.sha256((prev + to_canonical_json(payload)).encode("utf-8")).hexdigest()


def input_hash(record: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of an input record."""
    return hashlib.sha256(to_canonical_json(record).encode("utf-8")).hexdigest()


def _utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _utc_text(value: Any) -> str:
    if value is None:
        return _utc_now()
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError("decision time must carry a time zone")
        utc = value.astimezone(dt.UTC)
        return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    raise TypeError("time must be an aware datetime")


# --------------------------------------------------------------------------- writing


@dataclass(frozen=True)
class _Header:
    salt: str
    mask: tuple[str, ...]
    keyed: bool
    key_check: str | None


class DecisionLog:
    """Append-only, hash-chained decision log at ``path``."""

    def __init__(
        self,
        path: str | Path,
        mask: Sequence[str] | str = (),
        *,
        secret: bytes | None = None,
    ) -> None:
        self.path = Path(path)
        self.mask = parse_mask(mask)
        self._secret = secret
        self._header: _Header | None = None

    def append(self, entry: Mapping[str, Any]) -> dict[str, Any]:
        """Append one decision; return the line as written (with ``seq`` and ``hash``)."""
        written = self.append_many([entry])
        return written[0]

    def append_many(self, entries: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Append several decisions under one lock and one fsync."""
        prepared = [self._fields(e) for e in entries]
        if not prepared:
            return []
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                return self._append_locked(fd, prepared)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    # -- internals

    def _fields(self, entry: Mapping[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(entry) - set(ENTRY_FIELDS) - {"time"})
        if unknown:
            raise ValueError(f"unknown decision fields: {', '.join(unknown)}")
        fields: dict[str, Any] = {"time": _utc_text(entry.get("time"))}
        for name in ENTRY_FIELDS:
            value = entry.get(name)
            if name == "rules":
                value = sorted({str(r) for r in value or ()})
            elif isinstance(value, dt.date):
                value = value.isoformat()
            elif value is not None and not isinstance(value, str):
                value = str(value)
            fields[name] = value
        return fields

    def _append_locked(self, fd: int, prepared: list[dict[str, Any]]) -> list[dict[str, Any]]:
        size = os.fstat(fd).st_size
        out: list[dict[str, Any]] = []
        created = size == 0
        if created:
            header_line = self._new_header()
            out_bytes = [_dump(header_line)]
            prev, seq = header_line["hash"], 0
        else:
            self._header = self._read_header(fd)
            last = _read_last_line(fd, size, self.path)
            out_bytes = []
            prev, seq = last["hash"], last["seq"]
        header = self._header
        if header is None:  # pragma: no cover - set by either branch above
            raise RuntimeError("decision log header missing")
        key = self._key(header)
        masked = sorted(set(self.mask) | set(header.mask))
        for fields in prepared:
            line = {"seq": seq + 1, **fields}
            for path in masked:
                name = MASKABLE[path]
                if line[name] is not None:
                    line[name] = _pseudonym(key, line[name])
            line["prev"] = prev
            line["hash"] = line_hash(prev, line)
            out_bytes.append(_dump(line))
            out.append(line)
            prev, seq = line["hash"], seq + 1
        _write_all(fd, b"".join(out_bytes))
        os.fsync(fd)
        if created:
            _fsync_dir(self.path.parent)
        return out

    def _new_header(self) -> dict[str, Any]:
        salt = _secrets.token_hex(16)
        keyed = self._secret is not None
        header: dict[str, Any] = {
            "seq": 0,
            "format": FORMAT,
            "version": VERSION,
            "time": _utc_now(),
            "salt": salt,
            "mask": list(self.mask),
            "keyed": keyed,
        }
        key_check = None
        if keyed:
            key_check = _key_check(self._key_from(salt))
            header["key_check"] = key_check
        header["prev"] = ZERO_HASH
        header["hash"] = line_hash(ZERO_HASH, header)
        self._header = _Header(salt, self.mask, keyed, key_check)
        return header

    def _read_header(self, fd: int) -> _Header:
        first = _read_first_line(fd)
        try:
            obj = json.loads(first)
        except ValueError:
            obj = None
        if not isinstance(obj, dict) or obj.get("format") != FORMAT or obj.get("seq") != 0:
            raise AuditError(
                "not_a_log",
                f"{self.path} 不是 qinqing 决策日志（第 1 行不是日志头）",
                f"{self.path} is not a qinqing decision log (line 1 is not its header)",
            )
        if obj.get("version") != VERSION:
            raise AuditError(
                "log_newer",
                f"{self.path} 的日志格式版本为 {obj.get('version')}，本程序只支持 {VERSION}",
                f"{self.path} has log format version {obj.get('version')}; "
                f"this program supports {VERSION}",
            )
        header = _Header(
            salt=str(obj.get("salt", "")),
            mask=parse_mask([str(m) for m in obj.get("mask") or ()]),
            keyed=bool(obj.get("keyed")),
            key_check=obj.get("key_check"),
        )
        if header.keyed:
            if self._secret is None or _key_check(self._key_from(header.salt)) != header.key_check:
                raise AuditError(
                    "wrong_secret",
                    f"{self.path} 的遮蔽使用了密钥；需要同一密钥才能继续写入",
                    f"{self.path} masks with a secret key; the same secret is needed to append",
                )
        elif self._secret is not None:
            raise AuditError(
                "wrong_secret",
                f"{self.path} 创建时未使用密钥；不能改用密钥继续写入",
                f"{self.path} was created without a secret key; cannot append with one",
            )
        return header

    def _key_from(self, salt: str) -> bytes:
        key = bytes.fromhex(salt)
        if self._secret is not None:
            key = hmac.new(self._secret, key, hashlib.sha256).digest()
        return key

    def _key(self, header: _Header) -> bytes:
        return self._key_from(header.salt)


def _pseudonym(key: bytes, value: str) -> str:
    digest = hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()
    return MASK_PREFIX + digest[:12]


def _key_check(key: bytes) -> str:
    return hmac.new(key, b"qinqing key check", hashlib.sha256).hexdigest()[:16]


def _dump(obj: Mapping[str, Any]) -> bytes:
    return (to_canonical_json(obj) + "\n").encode("utf-8")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_dir(directory: Path) -> None:
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def _read_first_line(fd: int) -> bytes:
    data = b""
    while len(data) <= MAX_LINE_BYTES:
        block = os.pread(fd, _BLOCK, len(data))
        data += block
        if b"\n" in block or len(block) < _BLOCK:
            break
    return data.split(b"\n", 1)[0]


def _last_line_bytes(fd: int, size: int) -> bytes:
    """The bytes of the last line (the file ends with a newline, not included)."""
    end = size - 1
    data = b""
    while end > 0 and len(data) <= MAX_LINE_BYTES:
        start = max(0, end - _BLOCK)
        data = os.pread(fd, end - start, start) + data
        end = start
        if b"\n" in data:
            break
    return data.rsplit(b"\n", 1)[-1]


def _read_last_line(fd: int, size: int, path: Path) -> dict[str, Any]:
    """The last line, parsed and self-checked; refuses to extend a damaged tail."""
    if os.pread(fd, 1, size - 1) != b"\n":
        raise AuditError(
            "truncated",
            f"{path} 的最后一行不完整；请先运行 qinqing audit verify",
            f"The last line of {path} is incomplete; run qinqing audit verify first",
        )
    line = _last_line_bytes(fd, size)
    try:
        obj = json.loads(line)
        ok = (
            isinstance(obj, dict)
            and isinstance(obj.get("seq"), int)
            and obj.get("hash") == line_hash(str(obj.get("prev")), obj)
        )
    except ValueError:
        ok = False
    if not ok:
        raise AuditError(
            "damaged_tail",
            f"{path} 的最后一行已损坏或被修改；请先运行 qinqing audit verify",
            f"The last line of {path} is damaged or was edited; run qinqing audit verify first",
        )
    return obj


# --------------------------------------------------------------------------- report entries


def decision_entry(
    report: Mapping[str, Any],
    record: Mapping[str, Any] | None,
    policy_hash: str | None,
) -> dict[str, Any]:
    """The log fields for one report entry (``{"id", "outcome", "jurisdiction", "date",
    "findings": [{"rule", ...}]}``) and its input record (normalised or raw)."""
    record = record or {}
    official = record.get("official") if isinstance(record.get("official"), Mapping) else {}
    enterprise = record.get("enterprise") if isinstance(record.get("enterprise"), Mapping) else {}
    findings = report.get("findings") or ()
    return {
        "record_id": report.get("id", record.get("id")),
        "official_id": official.get("id"),
        "official_name": official.get("name"),
        "enterprise_name": enterprise.get("name"),
        "jurisdiction": report.get("jurisdiction", record.get("jurisdiction")),
        "date": report.get("date", record.get("date")),
        "input_hash": input_hash(record) if record else None,
        "policy_hash": policy_hash,
        "outcome": report.get("outcome"),
        "rules": [f["rule"] for f in findings if isinstance(f, Mapping) and f.get("rule")],
    }


def log_decisions(
    path: str | Path,
    report_records: Iterable[Any],
    policy_hash: str | None,
    mask: Sequence[str] | str = (),
    *,
    secret: bytes | None = None,
) -> int:
    """Append one line per checked record; return how many were appended.

    Each item is a report entry that carries its input record under ``"record"``,
    or a ``(report_entry, input_record)`` pair.
    """
    entries = []
    for item in report_records:
        if isinstance(item, tuple):
            report, record = item
        else:
            report, record = item, item.get("record")
        entries.append(decision_entry(report, record, policy_hash))
    return len(DecisionLog(path, mask, secret=secret).append_many(entries))


# --------------------------------------------------------------------------- verifying


@dataclass(frozen=True)
class Problem:
    line: int
    # not_json | truncated | hash_mismatch | chain_break | removed | reordered | duplicated
    # | bad_header | head_mismatch
    kind: str
    message_zh: str
    message_en: str

    def message(self, lang: str = "zh") -> str:
        return self.message_en if lang == "en" else self.message_zh


@dataclass(frozen=True)
class VerifyReport:
    path: Path
    lines: int
    entries: int  # decision lines (the header excluded)
    head: str | None  # hash of the last line read
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self, lang: str = "zh") -> str:
        if self.ok:
            if lang == "en":
                return f"Intact: {self.entries} records, hash chain consistent"
            return f"完整：{self.entries} 条记录，哈希链一致"
        n = len(self.problems)
        if lang == "en":
            return f"Tampering or damage: {n} problem{'s' if n != 1 else ''} found"
        return f"发现篡改或损坏：{n} 处问题"


def _p(line: int, kind: str, zh: str, en: str) -> Problem:
    return Problem(line, kind, f"第 {line} 行：{zh}", f"line {line}: {en}")


def verify(path: str | Path, *, head: str | None = None) -> VerifyReport:
    """Check the whole chain; name every problem with its line number (1-based).

    Raises OSError when the file cannot be read.
    """
    path = Path(path)
    problems: list[Problem] = []
    present: set[int] = set()
    jumps: list[tuple[int, int, int, int]] = []  # (line, from seq, to seq, garbled lines between)
    seq_line: dict[int, int] = {}
    prev_entry: tuple[int, int, str] | None = None  # (line, seq, stored hash)
    max_seq = -1
    garbled = 0
    lines = entries = 0
    last_hash: str | None = None

    with path.open("rb") as handle:
        number = 0
        for text, complete in _lines(handle):
            number += 1
            lines = number
            obj = _parse(text) if text is not None else None
            if not complete:
                problems.append(
                    _p(
                        number,
                        "truncated",
                        "最后一行不完整（被截断）",
                        "the last line is incomplete (truncated)",
                    )
                )
                if obj is None:
                    break
            elif obj is None:
                problems.append(
                    _p(
                        number,
                        "not_json",
                        "不是有效的日志行（JSON）",
                        "not a valid log line (JSON)",
                    )
                )
                garbled += 1
                continue
            seq, prev, stored = obj["seq"], obj["prev"], obj["hash"]
            is_header = obj.get("format") == FORMAT
            if not is_header:
                entries += 1
            if line_hash(prev, obj) != stored:
                problems.append(
                    _p(
                        number,
                        "hash_mismatch",
                        f"内容被修改（seq {seq}）：哈希不符",
                        f"content was edited (seq {seq}): hash mismatch",
                    )
                )
            if number == 1 and not is_header:
                problems.append(
                    _p(
                        1,
                        "bad_header",
                        f"第一行不是日志头（seq {seq}）：开头的行被删除",
                        f"the first line is not the log header (seq {seq}): "
                        "lines were removed from the start",
                    )
                )
            elif number > 1 and is_header:
                problems.append(
                    _p(
                        number,
                        "bad_header",
                        "日志头只能在第 1 行",
                        "a log header may only be line 1",
                    )
                )
            if prev_entry is None:
                if prev != ZERO_HASH and number == 1 and is_header:
                    problems.append(
                        _p(
                            1,
                            "chain_break",
                            "日志头的 prev 不是全零",
                            "the header's prev is not all zeros",
                        )
                    )
            else:
                p_line, p_seq, p_hash = prev_entry
                if seq in present:
                    problems.append(
                        _p(
                            number,
                            "duplicated",
                            f"seq {seq} 重复（与第 {seq_line[seq]} 行相同）",
                            f"seq {seq} is repeated (same as line {seq_line[seq]})",
                        )
                    )
                elif seq < max_seq:
                    problems.append(
                        _p(
                            number,
                            "reordered",
                            f"seq {seq} 出现在 seq {max_seq}（第 {seq_line[max_seq]} 行）之后："
                            "行的顺序被调换",
                            f"seq {seq} comes after seq {max_seq} (line {seq_line[max_seq]}): "
                            "lines were reordered",
                        )
                    )
                elif seq > max_seq + 1:
                    jumps.append((number, max_seq, seq, garbled))
                if seq == p_seq + 1 and prev != p_hash:
                    problems.append(
                        _p(
                            number,
                            "chain_break",
                            f"prev 与第 {p_line} 行的哈希不符：第 {p_line} 行被替换或修改后重算了哈希",
                            f"prev does not match the hash of line {p_line}: line {p_line} was "
                            "replaced, or edited and its hash recomputed",
                        )
                    )
            present.add(seq)
            seq_line.setdefault(seq, number)
            max_seq = max(max_seq, seq)
            prev_entry = (number, seq, stored)
            last_hash = stored
            garbled = 0

    for number, before, after, garbled_between in jumps:
        missing = [s for s in range(before + 1, after) if s not in present]
        if len(missing) > garbled_between:
            span = f"{missing[0]}" if len(missing) == 1 else f"{missing[0]}–{missing[-1]}"
            problems.append(
                _p(
                    number,
                    "removed",
                    f"此行之前缺少 seq {span}（{len(missing)} 行被删除）",
                    f"seq {span} missing before this line ({len(missing)} "
                    f"line{'s' if len(missing) != 1 else ''} removed)",
                )
            )
    if head is not None and head != last_hash:
        where = max(lines, 1)
        problems.append(
            _p(
                where,
                "head_mismatch",
                "末行哈希与给定的哈希不符：末尾的行被删除或替换",
                "the last hash does not match the given head: lines at the end "
                "were removed or replaced",
            )
        )
    problems.sort(key=lambda p: p.line)
    return VerifyReport(path, lines, entries, last_hash, tuple(problems))


def _lines(handle: Any) -> Iterable[tuple[bytes | None, bool]]:
    """(line without its newline, or None when overlong; whether it ended with a newline)."""
    while True:
        chunk = handle.readline(MAX_LINE_BYTES + 1)
        if not chunk:
            return
        if chunk.endswith(b"\n"):
            yield chunk[:-1], True
        elif len(chunk) <= MAX_LINE_BYTES:
            yield chunk, False
        else:  # overlong: skip the rest of it
            while chunk and not chunk.endswith(b"\n"):
                chunk = handle.readline(MAX_LINE_BYTES + 1)
            yield None, bool(chunk)


def _parse(text: bytes) -> dict[str, Any] | None:
    """A log line as a dict with int seq and str prev/hash, or None."""
    if len(text) > MAX_LINE_BYTES:
        return None
    try:
        obj = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(obj, dict):
        return None
    seq, prev, stored = obj.get("seq"), obj.get("prev"), obj.get("hash")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        return None
    if not isinstance(prev, str) or not isinstance(stored, str):
        return None
    return obj
