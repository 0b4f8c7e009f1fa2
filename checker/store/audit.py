"""The tamper-evident decision log: appending, keyed chaining, crash recovery, a full disk.

The format (fields, hashing, masking, bounded lines) is in `checker.store.audit_format`;
checking a log is `checker.store.audit_verify`. This module writes:

* Appends are serialised across processes with ``fcntl.flock`` and made durable with
  ``fsync``; resuming an existing log continues its chain (after checking that its last
  line is intact and MACed by the same key: a damaged tail is never extended).
* A torn tail (a last line without its newline: a crash or a full disk during a write)
  is moved aside to ``<log>.torn-<time>`` before the next append (and by :meth:`recover`,
  which `qinqing serve` calls at start) and reported as a recovered crash, not tampering.
* A write that fails (ENOSPC, EIO) is undone (the file cut back to where it was) and
  raised as AuditError ``log_no_space`` / ``log_write_failed``; once space returns, the
  next append works.
* After each append, ``<log>.head`` holds the last seq and hash with their MAC, so that
  `audit verify` can tell lines cut from the end (truncation) from a crash.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import secrets as _secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from checker.store.audit_format import (
    CHAIN,
    ENTRY_FIELDS,
    FORMAT,
    MASK_ALIASES,
    MASK_PREFIX,
    MASKABLE,
    MAX_LINE_BYTES,
    VERSION,
    ZERO_HASH,
    AuditError,
    decision_entry,
    entry_fields,
    input_hash,
    key_check,
    line_hash,
    parse_mask,
    pseudonym,
    utc_now,
)
from checker.store.canonical import to_canonical_json
from checker.store.keys import ChainKey, ChainKeyError

__all__ = [
    "CHAIN", "ENTRY_FIELDS", "FORMAT", "MASKABLE", "MASK_ALIASES", "MASK_PREFIX",
    "MAX_LINE_BYTES", "VERSION", "ZERO_HASH", "AuditError", "DecisionLog", "Recovered",
    "decision_entry", "head_path", "input_hash", "line_hash", "load_key", "log_decisions",
    "parse_mask",
]

log = logging.getLogger("qinqing.audit")
_BLOCK = 8192


def head_path(path: Path) -> Path:
    return path.with_name(path.name + ".head")


def read_head_file(path: Path, key: ChainKey) -> tuple[int, str] | None:
    """(seq, hash) from `<log>.head` when it is there and MACed by `key`."""
    try:
        obj = json.loads(head_path(path).read_bytes()[:4096])
        seq, digest = int(obj["seq"]), str(obj["hash"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if obj.get("mac") != key.mac("qinqing log head", str(seq), digest):
        return None
    return seq, digest


def load_key(key: ChainKey | str | Path | None, *, create: bool) -> ChainKey:
    if isinstance(key, ChainKey):
        return key
    try:
        return ChainKey.load(key, create=create)
    except ChainKeyError as exc:
        raise AuditError(exc.code, exc.message_zh, exc.message_en) from None


@dataclass(frozen=True)
class Recovered:
    """A torn tail moved aside: where to, how many bytes, after which line."""

    side_file: Path
    size: int
    after_line: int


@dataclass(frozen=True)
class _Header:
    salt: str
    mask: tuple[str, ...]
    keyed: bool
    key_check: str | None


class DecisionLog:
    """Append-only, keyed hash chain of decisions at ``path``."""

    def __init__(
        self,
        path: str | Path,
        mask: Sequence[str] | str = (),
        *,
        secret: bytes | None = None,
        key: ChainKey | str | Path | None = None,
    ) -> None:
        self.path = Path(path)
        self.mask = parse_mask(mask)
        self._secret = secret
        self._key_spec = key
        self._chain_key: ChainKey | None = key if isinstance(key, ChainKey) else None
        self._header: _Header | None = None
        self.recovered: list[Recovered] = []

    @property
    def chain_key(self) -> ChainKey:
        if self._chain_key is None:
            self._chain_key = load_key(self._key_spec, create=True)
        return self._chain_key

    def append(self, entry: Mapping[str, Any]) -> dict[str, Any]:
        """Append one decision; return the line as written (with ``seq`` and ``hash``)."""
        written = self.append_many([entry])
        return written[0]

    def append_many(self, entries: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Append several decisions under one lock and one fsync."""
        prepared = [entry_fields(e) for e in entries]
        if not prepared:
            return []
        key = self.chain_key
        with self._locked() as fd:
            return self._append_locked(fd, key, prepared)

    def recover(self) -> Recovered | None:
        """Move a torn tail aside now (nothing when the log ends with a whole line)."""
        if not self.path.exists():
            return None
        with self._locked() as fd:
            return self._recover_locked(fd, os.fstat(fd).st_size)

    def prepare(self) -> Recovered | None:
        """At start: move a torn tail aside and check that the log can be extended (its
        header and last line MACed by this key); AuditError when it cannot."""
        key = self.chain_key
        with self._locked() as fd:
            size = os.fstat(fd).st_size
            found = self._recover_locked(fd, size) if size else None
            size = os.fstat(fd).st_size
            if size:
                self._header = self._read_header(fd, key)
                self._check_head(_read_last_line(fd, size, self.path, key), key)
            return found

    # -- internals

    def _locked(self) -> _Locked:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError as exc:
            raise _write_error(exc, self.path) from exc
        return _Locked(fd)

    def _recover_locked(self, fd: int, size: int) -> Recovered | None:
        if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
            return None
        start = _last_newline(fd, size) + 1  # 0 when no line is whole
        tail = os.pread(fd, size - start, start) if size - start <= 16 * MAX_LINE_BYTES else b""
        stamp = utc_now().replace(":", "").replace("-", "")
        side = self.path.with_name(f"{self.path.name}.torn-{stamp}-{_secrets.token_hex(2)}")
        fd_side = os.open(side, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            _write_all(fd_side, tail)
            os.fsync(fd_side)
        finally:
            os.close(fd_side)
        os.ftruncate(fd, start)
        os.fsync(fd)
        lines = _count_lines(fd, start)
        found = Recovered(side, size - start, lines)
        self.recovered.append(found)
        log.warning("decision log %s: a torn last line (%d bytes, a crash during a write) was "
                    "moved aside to %s", self.path, size - start, side)
        return found

    def _append_locked(self, fd: int, key: ChainKey, prepared: list[dict[str, Any]]
                       ) -> list[dict[str, Any]]:
        size = os.fstat(fd).st_size
        if size and self._recover_locked(fd, size) is not None:
            size = os.fstat(fd).st_size
        out: list[dict[str, Any]] = []
        created = size == 0
        if created:
            header_line = self._new_header(key)
            out_bytes = [_dump(header_line)]
            prev, seq = header_line["hash"], 0
        else:
            self._header = self._read_header(fd, key)
            last = _read_last_line(fd, size, self.path, key)
            self._check_head(last, key)
            out_bytes = []
            prev, seq = last["hash"], last["seq"]
        header = self._header
        if header is None:  # pragma: no cover - set by either branch above
            raise RuntimeError("decision log header missing")
        mask_key = self._mask_key(header.salt)
        masked = sorted(set(self.mask) | set(header.mask))
        for fields in prepared:
            line = {"seq": seq + 1, **fields}
            for path in masked:
                name = MASKABLE[path]
                if line[name] is not None:
                    line[name] = pseudonym(mask_key, line[name])
            line["prev"] = prev
            line["hash"] = line_hash(prev, line, key)
            out_bytes.append(_dump(line))
            out.append(line)
            prev, seq = line["hash"], seq + 1
        try:
            _write_all(fd, b"".join(out_bytes))
            os.fsync(fd)
        except OSError as exc:
            _undo(fd, size)
            raise _write_error(exc, self.path) from exc
        if created:
            _fsync_dir(self.path.parent)
        self._write_head(key, seq, prev)
        return out

    def _check_head(self, last: Mapping[str, Any], key: ChainKey) -> None:
        """Refuse to extend a log whose `.head` names a later line: lines were cut from its
        end (a crash cannot do that: the head is written after the lines are on disk), and
        extending it would hide that."""
        found = read_head_file(self.path, key)
        if found is None:
            return
        seq, digest = found
        if seq > last["seq"] or (seq == last["seq"] and digest != last["hash"]):
            raise AuditError(
                "truncated",
                f"{self.path} 的末行记录为 seq {seq}，但日志只到 seq {last['seq']}：末尾的行被删除；"
                "请运行 qinqing audit verify，并改用新的日志文件",
                f"the recorded last line of {self.path} is seq {seq} but the log ends at seq "
                f"{last['seq']}: lines were cut from its end; run qinqing audit verify and "
                "start a new log file",
            )

    def _write_head(self, key: ChainKey, seq: int, digest: str) -> None:
        """`<log>.head`: replaced atomically; a failure here loses nothing (verify then sees
        a head behind the log, which a crash also leaves)."""
        target = head_path(self.path)
        tmp = target.with_name(target.name + ".tmp")
        body = {"seq": seq, "hash": digest, "key_id": key.key_id,
                "mac": key.mac("qinqing log head", str(seq), digest)}
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                _write_all(fd, _dump(body))
            finally:
                os.close(fd)
            os.replace(tmp, target)
        except OSError as exc:
            log.warning("decision log head %s not updated: %s", target, exc)

    def _new_header(self, key: ChainKey) -> dict[str, Any]:
        salt = _secrets.token_hex(16)
        keyed = self._secret is not None
        header: dict[str, Any] = {
            "seq": 0,
            "format": FORMAT,
            "version": VERSION,
            "time": utc_now(),
            "salt": salt,
            "mask": list(self.mask),
            "keyed": keyed,
            "chain": CHAIN,
            "key_id": key.key_id,
        }
        check = None
        if keyed:
            check = key_check(self._mask_key(salt))
            header["key_check"] = check
        header["prev"] = ZERO_HASH
        header["hash"] = line_hash(ZERO_HASH, header, key)
        self._header = _Header(salt, self.mask, keyed, check)
        return header

    def _read_header(self, fd: int, key: ChainKey) -> _Header:
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
        version = obj.get("version")
        if version == 1:
            raise AuditError(
                "log_old_format",
                f"{self.path} 是第 1 版日志（哈希链无密钥），不能再追加；请保留它以便校验，并改用新的日志文件",
                f"{self.path} is a version-1 log (its chain has no key) and cannot be extended; "
                "keep it for verifying and start a new log file",
            )
        if version != VERSION:
            raise AuditError(
                "log_newer",
                f"{self.path} 的日志格式版本为 {version}，本程序只支持 {VERSION}",
                f"{self.path} has log format version {version}; this program supports {VERSION}",
            )
        if obj.get("key_id") != key.key_id:
            raise AuditError(
                "wrong_key",
                f"{self.path} 的哈希链使用另一把密钥（{obj.get('key_id')}），当前密钥为 "
                f"{key.key_id}；请用 --key 指定写入时的密钥",
                f"the chain of {self.path} uses another key ({obj.get('key_id')}; this key is "
                f"{key.key_id}); pass the key it was written with (--key)",
            )
        header = _Header(
            salt=str(obj.get("salt", "")),
            mask=parse_mask([str(m) for m in obj.get("mask") or ()]),
            keyed=bool(obj.get("keyed")),
            key_check=obj.get("key_check"),
        )
        if header.keyed:
            if self._secret is None or key_check(self._mask_key(header.salt)) != header.key_check:
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

    def _mask_key(self, salt: str) -> bytes:
        import hashlib
        import hmac

        key = bytes.fromhex(salt)
        if self._secret is not None:
            key = hmac.new(self._secret, key, hashlib.sha256).digest()
        return key


class _Locked:
    """`with`: the open log file, under an exclusive flock."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __enter__(self) -> int:
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except OSError:
            os.close(self.fd)
            raise
        return self.fd

    def __exit__(self, *exc: object) -> None:
        try:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        finally:
            os.close(self.fd)


def _write_error(exc: OSError, path: Path) -> AuditError:
    """The error (its messages name the path and the OS's words: for a terminal or the
    server log, not for an HTTP answer)."""
    log.error("decision log %s: write failed: %s", path, exc)
    why = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return AuditError("log_no_space", f"决策日志 {path} 所在磁盘已满",
                          f"the disk holding the decision log {path} is full")
    return AuditError("log_write_failed", f"无法写入决策日志 {path}：{why}",
                      f"cannot write the decision log {path}: {why}")


def _undo(fd: int, size: int) -> None:
    """Cut a failed append back off (so a full disk leaves no torn line behind)."""
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    except OSError as exc:  # the next append moves what is left aside
        log.error("could not cut back a failed append: %s", exc)


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


def _last_newline(fd: int, size: int) -> int:
    """Offset of the last newline before `size` (-1 when there is none)."""
    end = size
    while end > 0:
        start = max(0, end - _BLOCK)
        block = os.pread(fd, end - start, start)
        at = block.rfind(b"\n")
        if at >= 0:
            return start + at
        end = start
    return -1


def _count_lines(fd: int, size: int) -> int:
    count, offset = 0, 0
    while offset < size:
        block = os.pread(fd, min(1 << 20, size - offset), offset)
        if not block:
            break
        count += block.count(b"\n")
        offset += len(block)
    return count


def _read_last_line(fd: int, size: int, path: Path, key: ChainKey) -> dict[str, Any]:
    """The last line, parsed and checked against its MAC; refuses to extend a damaged tail."""
    start = _last_newline(fd, size - 1) + 1
    line = os.pread(fd, min(size - 1 - start, MAX_LINE_BYTES + 1), start)
    try:
        obj = json.loads(line)
        ok = (
            isinstance(obj, dict)
            and isinstance(obj.get("seq"), int)
            and obj.get("hash") == line_hash(str(obj.get("prev")), obj, key)
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


def log_decisions(
    path: str | Path,
    report_records: Iterable[Any],
    policy_hash: str | None,
    mask: Sequence[str] | str = (),
    *,
    secret: bytes | None = None,
    key: ChainKey | str | Path | None = None,
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
        entries.append(decision_entry(report, record, policy_hash, actor="cli"))
    return len(DecisionLog(path, mask, secret=secret, key=key).append_many(entries))
