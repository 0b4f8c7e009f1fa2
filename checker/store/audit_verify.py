"""Checking the decision log (and the ledger beside it), and signed checkpoints of both.

`verify` reads a log line by line and names each problem with its line number and why:
a line edited (its MAC fails, also when the chain was recomputed without the key), removed
(a gap in seq), reordered, duplicated, not a log line, a header that is not MACed by the
key (forged log), lines cut from the end (the ``.head`` file, a checkpoint or ``--head``
names a later line), a decision that refers to ledger rows no longer there. A torn last
line, or one already moved aside to a ``.torn-*`` file, is reported as a recovered crash
(a notice), not as tampering.

`make_checkpoint` writes the heads of the log and the ledger with their MAC, to keep
somewhere else; `verify(checkpoint=...)` then also proves that nothing up to those heads
was changed or cut, even by someone who rewrote the ``.head`` file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checker.store.audit import head_path, load_key
from checker.store.audit_format import FORMAT, MAX_LINE_BYTES, ZERO_HASH, AuditError, line_hash
from checker.store.canonical import to_canonical_json
from checker.store.keys import ChainKey
from checker.store.ledger_chain import (
    LedgerReport,
    _problem,
    check_ledger,
    hash_at,
    head_of,
)

CHECKPOINT_FORMAT = "qinqing-checkpoint"


@dataclass(frozen=True)
class Problem:
    line: int
    # not_json | truncated | edited | chain_break | removed | reordered | duplicated
    # | bad_header | forged | wrong_key | head_mismatch | ledger_missing_rows
    kind: str
    message_zh: str
    message_en: str

    def message(self, lang: str = "zh") -> str:
        return self.message_en if lang == "en" else self.message_zh


@dataclass
class VerifyReport:
    path: Path
    lines: int = 0
    entries: int = 0  # decision lines (the header excluded)
    head: str | None = None  # hash of the last line read
    last_seq: int = -1
    version: int | None = None
    problems: list[Problem] = field(default_factory=list)
    notices: list[Problem] = field(default_factory=list)  # recovered crashes: not tampering
    ledger: LedgerReport | None = None

    @property
    def ok(self) -> bool:
        return not self.problems and (self.ledger is None or self.ledger.ok)

    def summary(self, lang: str = "zh") -> str:
        if not self.problems:
            if lang == "en":
                return f"Log intact: {self.entries} records, hash chain consistent"
            return f"日志完整：{self.entries} 条记录，哈希链一致"
        n = len(self.problems)
        if lang == "en":
            return f"Log tampered with or damaged: {n} problem{'s' if n != 1 else ''} found"
        return f"日志被篡改或损坏：发现 {n} 处问题"


def _p(line: int, kind: str, zh: str, en: str) -> Problem:
    return Problem(line, kind, f"第 {line} 行：{zh}", f"line {line}: {en}")


def verify(path: str | Path, *, key: ChainKey | None = None, head: str | None = None,
           ledger: str | Path | None = None, checkpoint: dict | None = None) -> VerifyReport:
    """Check the whole log (and, given `ledger`, the ledger and the log's references to it).

    `key` is needed for a version-2 log; OSError when the file cannot be read.
    """
    path = Path(path)
    if key is None:  # the default key file, when there is one
        try:
            key = load_key(None, create=False)
        except AuditError:
            key = None
    report = VerifyReport(path)
    state = _State()
    with path.open("rb") as handle:
        for number, (text, complete) in enumerate(_lines(handle), start=1):
            report.lines = number
            _check_line(report, state, key, number, text, complete)
    _report_gaps(report, state)
    _check_heads(report, state, key, head, checkpoint)
    for side in sorted(path.parent.glob(path.name + ".torn-*")):
        size = side.stat().st_size
        report.notices.append(Problem(
            report.lines, "recovered_crash",
            f"已恢复的崩溃：一行不完整的写入（{size} 字节）已移至 {side.name}",
            f"recovered crash: an incomplete write ({size} bytes) was moved aside to {side.name}"))
    if ledger is not None and key is not None:
        report.ledger = check_ledger(ledger, key)
        ledger_seq = report.ledger.head_seq
        for number, seq in state.ledger_refs:
            if seq > ledger_seq:
                report.problems.append(_p(
                    number, "ledger_missing_rows",
                    f"此决策读取了账本第 {seq} 行为止的历史，但账本只到第 {ledger_seq} 行：账本末尾的行被删除",
                    f"this decision read the ledger up to row {seq}, but the ledger ends at row "
                    f"{ledger_seq}: rows were cut from the ledger"))
                break
        cp = (checkpoint or {}).get("ledger")
        if isinstance(cp, dict) and isinstance(cp.get("seq"), int) and cp["seq"] > 0:
            _check_ledger_checkpoint(report.ledger, ledger, cp["seq"], str(cp.get("hash")))
    report.problems.sort(key=lambda p: p.line)
    return report


@dataclass
class _State:
    present: set[int] = field(default_factory=set)
    seq_line: dict[int, int] = field(default_factory=dict)
    hash_line: dict[str, int] = field(default_factory=dict)
    jumps: list[tuple[int, int, int, int]] = field(default_factory=list)
    prev_entry: tuple[int, int, str] | None = None
    max_seq: int = -1
    garbled: int = 0
    keyed: bool = True
    forged: bool = False
    ledger_refs: list[tuple[int, int]] = field(default_factory=list)


def _check_line(report: VerifyReport, state: _State, key: ChainKey | None, number: int,
                text: bytes | None, complete: bool) -> None:
    problems = report.problems
    obj = _parse(text) if text is not None else None
    if not complete:
        report.notices.append(_p(
            number, "torn", "最后一行不完整：写入时崩溃（不是篡改）；下次写入时会移至旁边的文件",
            "the last line is incomplete: a crash during a write (not tampering); the next "
            "write moves it aside"))
        return
    if obj is None:
        problems.append(_p(number, "not_json", "不是有效的日志行（JSON）",
                           "not a valid log line (JSON)"))
        state.garbled += 1
        return
    seq, prev, stored = obj["seq"], obj["prev"], obj["hash"]
    is_header = obj.get("format") == FORMAT
    if number == 1 and is_header:
        report.version = obj.get("version") if isinstance(obj.get("version"), int) else None
        state.keyed = report.version != 1
        if state.keyed:
            if key is None:
                raise AuditError("key_missing", "校验第 2 版日志需要链密钥",
                                 "verifying a version-2 log needs the chain key")
            if obj.get("key_id") != key.key_id:
                problems.append(_p(
                    1, "wrong_key",
                    f"日志由另一把密钥（{obj.get('key_id')}）写入，当前密钥为 {key.key_id}；无法校验",
                    f"the log was written with another key ({obj.get('key_id')}; this key is "
                    f"{key.key_id}); cannot verify"))
                state.forged = True
            elif line_hash(prev, obj, key) != stored:
                problems.append(_p(
                    1, "forged",
                    "日志头的 MAC 不符：此日志不是用这把密钥写入的（伪造），或日志头被修改",
                    "the header's MAC does not match: the log was not written with this key "
                    "(forged) or its header was edited"))
                state.forged = True
    if not is_header:
        report.entries += 1
        ref = obj.get("ledger_seq")
        if isinstance(ref, int) and not isinstance(ref, bool):
            state.ledger_refs.append((number, ref))
    if state.forged:
        pass  # one problem for a forged log, not one per line
    elif not (number == 1 and is_header) and line_hash(
            prev, obj, key if state.keyed else None) != stored:
        problems.append(_p(
            number, "edited",
            f"内容被修改（seq {seq}）：MAC 不符（即使重算了哈希链，没有密钥也无法伪造）",
            f"content was edited (seq {seq}): its MAC does not match (a chain recomputed "
            "without the key cannot match)"))
    if number == 1 and not is_header:
        problems.append(_p(
            1, "bad_header", f"第一行不是日志头（seq {seq}）：开头的行被删除",
            f"the first line is not the log header (seq {seq}): lines were removed from the start"))
    elif number > 1 and is_header:
        problems.append(_p(number, "bad_header", "日志头只能在第 1 行",
                           "a log header may only be line 1"))
    if state.prev_entry is None:
        if prev != ZERO_HASH and number == 1 and is_header:
            problems.append(_p(1, "chain_break", "日志头的 prev 不是全零",
                               "the header's prev is not all zeros"))
    else:
        p_line, p_seq, p_hash = state.prev_entry
        if seq in state.present:
            problems.append(_p(
                number, "duplicated", f"seq {seq} 重复（与第 {state.seq_line[seq]} 行相同）",
                f"seq {seq} is repeated (same as line {state.seq_line[seq]})"))
        elif seq < state.max_seq:
            at = state.seq_line[state.max_seq]
            problems.append(_p(
                number, "reordered",
                f"seq {seq} 出现在 seq {state.max_seq}（第 {at} 行）之后：行的顺序被调换",
                f"seq {seq} comes after seq {state.max_seq} (line {at}): lines were reordered"))
        elif seq > state.max_seq + 1:
            state.jumps.append((number, state.max_seq, seq, state.garbled))
        if seq == p_seq + 1 and prev != p_hash and not state.forged:
            problems.append(_p(
                number, "chain_break",
                f"prev 与第 {p_line} 行的哈希不符：第 {p_line} 行被替换",
                f"prev does not match the hash of line {p_line}: line {p_line} was replaced"))
    state.present.add(seq)
    state.seq_line.setdefault(seq, number)
    state.hash_line.setdefault(stored, number)
    state.max_seq = max(state.max_seq, seq)
    state.prev_entry = (number, seq, stored)
    report.head, report.last_seq = stored, seq
    state.garbled = 0


def _report_gaps(report: VerifyReport, state: _State) -> None:
    for number, before, after, garbled_between in state.jumps:
        missing = [s for s in range(before + 1, after) if s not in state.present]
        if len(missing) > garbled_between:
            span = f"{missing[0]}" if len(missing) == 1 else f"{missing[0]}–{missing[-1]}"
            n = len(missing)
            report.problems.append(_p(
                number, "removed", f"此行之前缺少 seq {span}（{n} 行被删除）",
                f"seq {span} missing before this line ({n} line{'s' if n != 1 else ''} removed)"))


def _check_heads(report: VerifyReport, state: _State, key: ChainKey | None, head: str | None,
                 checkpoint: dict | None) -> None:
    """Lines cut from the end: the `.head` file, a checkpoint, or a hash given by hand."""
    where = max(report.lines, 1)
    heads: list[tuple[str, int | None, str]] = []
    hp = head_path(report.path)
    if key is not None and state.keyed and not state.forged and hp.exists():
        try:
            obj = json.loads(hp.read_bytes()[:4096])
            seq, digest = int(obj["seq"]), str(obj["hash"])
            if obj.get("mac") != key.mac("qinqing log head", str(seq), digest):
                report.problems.append(_p(
                    where, "forged", f"{hp.name} 的 MAC 不符：末行记录被伪造",
                    f"the MAC of {hp.name} does not match: the recorded last line was forged"))
            else:
                heads.append(("head", seq, digest))
        except (ValueError, KeyError, TypeError):
            report.notices.append(_p(where, "head_unreadable", f"{hp.name} 无法读取（可能是崩溃所致）",
                                     f"{hp.name} cannot be read (a crash can leave it so)"))
    if checkpoint is not None:
        log_part = checkpoint.get("log") or {}
        if isinstance(log_part.get("seq"), int):
            heads.append(("checkpoint", log_part["seq"], str(log_part.get("hash"))))
    for source, seq, digest in heads:
        if seq > report.last_seq:
            n = seq - report.last_seq
            label = ("检查点" if source == "checkpoint" else "末行记录", "checkpoint"
                     if source == "checkpoint" else "the recorded last line")
            report.problems.append(_p(
                where, "truncated",
                f"{label[0]}为 seq {seq}，但日志只到 seq {report.last_seq}：末尾 {n} 行被删除",
                f"{label[1]} is seq {seq} but the log ends at seq {report.last_seq}: "
                f"{n} line{'s' if n != 1 else ''} cut from the end"))
        elif seq in state.seq_line and state.hash_line.get(digest) != state.seq_line[seq]:
            at = state.seq_line[seq]
            report.problems.append(_p(
                at, "head_mismatch", f"seq {seq} 与{'检查点' if source == 'checkpoint' else '末行记录'}不符：此行被替换",
                f"seq {seq} does not match the {source}: this line was replaced"))
    if head is not None and head not in state.hash_line:
        report.problems.append(_p(
            where, "head_mismatch",
            "给定的哈希不在日志中：它之后的行被删除或替换",
            "the given hash is not in the log: lines up to it were removed or replaced"))


def _check_ledger_checkpoint(found: LedgerReport, ledger: str | Path, seq: int, digest: str
                             ) -> None:
    if seq > found.head_seq:
        n = seq - found.head_seq
        found.problems.append(_problem(
            found.head_seq or None, None, "truncated",
            f"检查点为第 {seq} 行，但账本只到第 {found.head_seq} 行：末尾 {n} 行被删除",
            f"the checkpoint is row {seq} but the ledger ends at row {found.head_seq}: "
            f"{n} row{'s' if n != 1 else ''} cut from the end"))
    elif hash_at(ledger, seq) != digest:
        found.problems.append(_problem(
            seq, None, "edited", "与检查点不符：此行被替换或删除",
            "does not match the checkpoint: the row was replaced or removed"))


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
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(obj, dict):
        return None
    seq, prev, stored = obj.get("seq"), obj.get("prev"), obj.get("hash")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        return None
    if not isinstance(prev, str) or not isinstance(stored, str):
        return None
    return obj


# --------------------------------------------------------------------------- checkpoints


def make_checkpoint(log: Path | None, ledger: Path | None, key: ChainKey, when: str) -> dict:
    """The heads of `log` and `ledger` (either may be None) with their MAC."""
    body: dict[str, Any] = {"format": CHECKPOINT_FORMAT, "version": 1, "time": when,
                            "key_id": key.key_id}
    if log is not None:
        report = verify(log, key=key)
        if not report.ok:
            raise AuditError("bad_checkpoint", "日志未通过校验，不能为其建立检查点",
                             "the log does not verify; no checkpoint made")
        body["log"] = {"file": log.name, "seq": report.last_seq, "hash": report.head}
    if ledger is not None:
        seq, digest, _ = head_of(ledger)
        body["ledger"] = {"file": ledger.name, "seq": seq, "hash": digest}
    body["mac"] = key.mac("qinqing checkpoint", to_canonical_json(body))
    return body


def read_checkpoint(data: bytes, key: ChainKey) -> dict:
    """A checkpoint whose MAC holds; AuditError otherwise."""
    try:
        obj = json.loads(data[:65536])
    except ValueError:
        obj = None
    if not isinstance(obj, dict) or obj.get("format") != CHECKPOINT_FORMAT:
        raise AuditError("bad_checkpoint", "不是 qinqing 检查点文件", "not a qinqing checkpoint file")
    body = {k: v for k, v in obj.items() if k != "mac"}
    if obj.get("mac") != key.mac("qinqing checkpoint", to_canonical_json(body)):
        raise AuditError("bad_checkpoint", "检查点的 MAC 不符：检查点被修改或来自另一把密钥",
                         "the checkpoint's MAC does not match: it was edited or made with "
                         "another key")
    return obj
