"""The ledger's hash chain: how rows and the head are MACed, and how to check them.

Row ``seq`` (1, 2, …) has ``hash = HMAC(key, "qinqing ledger row", seq, prev, content)``
where ``prev`` is row ``seq - 1``'s hash (zeros for the first) and ``content`` is the
row's id, official, enterprise, date, stage, jurisdiction, canonical record JSON, time
added and source. The ``chain`` table keeps the head (last seq and hash) and
``mac = HMAC(key, "qinqing ledger head", seq, hash)``, with the key's id.

`check_ledger` reads a ledger file without writing to it and reports the first problem
of each kind it meets with the row (seq and record id) where it is: a row edited (its MAC
fails, also when its hash was recomputed without the key), removed (a gap in seq), added by
hand (no chain position), reordered (a MAC good for another position), a head that is not
MACed by the key (forged), or a head further than the last row (rows cut from the end:
truncated). `history_digest` is what each decision line records about the history it
used. `backup` copies a ledger with SQLite's online backup API.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checker.store.keys import ChainKey

ZERO = "0" * 64
CONTENT = ("id", "official_id", "enterprise_uscc", "date", "stage", "jurisdiction",
           "record_json", "added_at", "source")
CONTENT_SQL = ", ".join(CONTENT)


def row_hash(key: ChainKey, seq: int, prev: str, content: Sequence[Any]) -> str:
    parts = [str(seq), prev, *("" if v is None else f"s{v}" for v in content)]
    return key.mac("qinqing ledger row", *parts)


def head_mac(key: ChainKey, seq: int, digest: str) -> str:
    return key.mac("qinqing ledger head", str(seq), digest)


def read_head(conn: sqlite3.Connection) -> tuple[int, str]:
    try:
        row = conn.execute("SELECT seq, hash FROM chain WHERE id = 1").fetchone()
    except sqlite3.OperationalError:  # a version-1 ledger: no chain yet
        return 0, ZERO
    return (int(row[0]), str(row[1])) if row else (0, ZERO)


def write_head(conn: sqlite3.Connection, key: ChainKey, seq: int, digest: str, when: str) -> None:
    conn.execute(
        "INSERT INTO chain (id, key_id, seq, hash, mac, updated_at) VALUES (1, ?, ?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET key_id = excluded.key_id, seq = excluded.seq,"
        " hash = excluded.hash, mac = excluded.mac, updated_at = excluded.updated_at",
        (key.key_id, seq, digest, head_mac(key, seq, digest), when),
    )


def history_digest(row_hashes: Sequence[str]) -> str:
    """sha256 over the chain hashes of the history rows a decision used, in the order used."""
    h = hashlib.sha256(b"qinqing history")
    for digest in row_hashes:
        h.update(b"\x1f" + digest.encode("ascii", "replace"))
    return h.hexdigest()


# --------------------------------------------------------------------------- checking


@dataclass(frozen=True)
class LedgerProblem:
    seq: int | None  # the chain position where it shows (None: the ledger as a whole)
    record_id: str | None
    kind: str  # edited | removed | inserted | reordered | forged | truncated | wrong_key | corrupt
    message_zh: str
    message_en: str

    def message(self, lang: str = "zh") -> str:
        return self.message_en if lang == "en" else self.message_zh


@dataclass
class LedgerReport:
    path: Path
    rows: int = 0
    head_seq: int = 0
    head: str = ZERO
    integrity: list[str] = field(default_factory=list)  # PRAGMA integrity_check, when not "ok"
    problems: list[LedgerProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.integrity

    def summary(self, lang: str = "zh") -> str:
        if self.ok:
            if lang == "en":
                return f"Ledger intact: {self.rows} records, hash chain consistent"
            return f"账本完整：{self.rows} 条记录，哈希链一致"
        n = len(self.problems) + (1 if self.integrity else 0)
        if lang == "en":
            return f"Ledger tampered with or damaged: {n} problem{'s' if n != 1 else ''} found"
        return f"账本被篡改或损坏：发现 {n} 处问题"


def _where(seq: int | None, rid: str | None) -> tuple[str, str]:
    if seq is None:
        return (f"记录 {rid}", f"record {rid}") if rid else ("账本", "ledger")
    tail_zh = f"（记录 {rid}）" if rid else ""
    tail_en = f" (record {rid})" if rid else ""
    return f"账本第 {seq} 行{tail_zh}", f"ledger row {seq}{tail_en}"


def _problem(seq: int | None, rid: str | None, kind: str, zh: str, en: str) -> LedgerProblem:
    wz, we = _where(seq, rid)
    return LedgerProblem(seq, rid, kind, f"{wz}：{zh}", f"{we}: {en}")


def _open_read_only(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
    conn.execute("PRAGMA query_only=ON")
    return conn


def check_ledger(path: str | Path, key: ChainKey, *, integrity: bool = True) -> LedgerReport:
    """Check a ledger's chain (and SQLite's own integrity check); sqlite3.Error or OSError
    when the file cannot be read at all."""
    path = Path(path)
    report = LedgerReport(path)
    conn = _open_read_only(path)
    try:
        conn.execute("BEGIN")  # one snapshot for the whole check
        if integrity:
            result = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
            if result != ["ok"]:
                report.integrity = result[:10]
        version = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
        if version == 1:
            report.rows = conn.execute("SELECT COUNT(*) FROM records").fetchone()[0]
            if report.rows:
                report.problems.append(_problem(
                    None, None, "unchained",
                    "格式版本 1 的账本尚无哈希链；下一次写入时会建立",
                    "a version-1 ledger has no hash chain yet; the next write creates it"))
            return report
        _check_rows(conn, key, report)
        conn.execute("COMMIT")
    finally:
        conn.close()
    return report


def _check_rows(conn: sqlite3.Connection, key: ChainKey, report: LedgerReport) -> None:
    problems = report.problems
    head = conn.execute("SELECT key_id, seq, hash, mac FROM chain WHERE id = 1").fetchone()
    if head is not None and head[0] != key.key_id:
        problems.append(_problem(
            None, None, "wrong_key",
            f"哈希链由另一把密钥（{head[0]}）写入，当前密钥为 {key.key_id}；无法校验",
            f"the chain was written with another key ({head[0]}; this key is {key.key_id}); "
            "cannot verify"))
        return
    rows = conn.execute(
        f"SELECT seq, prev, hash, {CONTENT_SQL} FROM records ORDER BY seq IS NULL, seq, id"
    ).fetchall()
    report.rows = len(rows)
    by_hash: dict[str, int] = {}
    expected_seq, expected_prev = 1, ZERO
    last_seq = 0
    for seq, prev, stored, *content in rows:
        rid = content[0]
        if seq is None or prev is None or stored is None:
            problems.append(_problem(
                None, rid, "inserted", "不在哈希链中：此行是绕过 qinqing 直接写入的",
                "not in the hash chain: the row was written around qinqing"))
            continue
        seq = int(seq)
        if seq > expected_seq:
            span = str(expected_seq) if seq == expected_seq + 1 else f"{expected_seq}–{seq - 1}"
            n = seq - expected_seq
            problems.append(_problem(
                seq, rid, "removed", f"此行之前缺少第 {span} 行（{n} 行被删除）",
                f"row{'s' if n != 1 else ''} {span} missing before this row ({n} removed)"))
            expected_prev = prev  # judge this row on its own
        good = row_hash(key, seq, prev, content) == stored
        if not good:
            problems.append(_problem(
                seq, rid, "edited",
                "内容与其 MAC 不符：此行被修改（或在没有密钥的情况下重算了哈希）",
                "its content does not match its MAC: the row was edited (or its hash "
                "recomputed without the key)"))
        elif prev != expected_prev:
            moved = by_hash.get(prev)
            if moved is not None:
                problems.append(_problem(
                    seq, rid, "reordered", f"本应接在第 {moved} 行之后：行的顺序被调换",
                    f"it belongs after row {moved}: rows were reordered"))
            else:
                problems.append(_problem(
                    seq, rid, "edited", "与前一行的链接不符：前一行被替换",
                    "its link to the row before does not match: the row before was replaced"))
        by_hash[stored] = seq
        expected_seq, expected_prev = seq + 1, stored
        last_seq = seq
    if head is None:
        if rows:
            problems.append(_problem(
                None, None, "forged", "缺少链头（chain 表为空）", "the chain head is missing"))
        return
    _, head_seq, head_hash, mac = head
    report.head_seq, report.head = int(head_seq), str(head_hash)
    if mac != head_mac(key, int(head_seq), str(head_hash)):
        problems.append(_problem(
            None, None, "forged", "链头的 MAC 不符：链头被伪造或修改",
            "the chain head's MAC does not match: the head was forged or edited"))
    elif int(head_seq) > last_seq:
        n = int(head_seq) - last_seq
        problems.append(_problem(
            last_seq or None, None, "truncated",
            f"链头为第 {head_seq} 行，但账本只到第 {last_seq} 行：末尾 {n} 行被删除",
            f"the chain head is row {head_seq} but the ledger ends at row {last_seq}: "
            f"{n} row{'s' if n != 1 else ''} cut from the end"))
    elif int(head_seq) < last_seq:
        problems.append(_problem(
            int(head_seq) + 1, None, "inserted",
            f"第 {int(head_seq) + 1} 行起在链头之后：这些行未经 qinqing 写入",
            f"rows from {int(head_seq) + 1} on lie beyond the chain head: not written by qinqing"))
    elif rows and expected_prev != head_hash:
        problems.append(_problem(
            last_seq, None, "edited", "最后一行与链头不符", "the last row does not match the head"))


def head_of(path: str | Path) -> tuple[int, str, str | None]:
    """(seq, hash, key id) of a ledger's chain head, read only."""
    conn = _open_read_only(Path(path))
    try:
        try:
            row = conn.execute("SELECT seq, hash, key_id FROM chain WHERE id = 1").fetchone()
        except sqlite3.OperationalError:
            return 0, ZERO, None
        return (int(row[0]), str(row[1]), str(row[2])) if row else (0, ZERO, None)
    finally:
        conn.close()


def backup(path: str | Path, target: str | Path) -> int:
    """Copy the ledger to `target` (a new file, mode 0600) with SQLite's online backup API,
    which sees one consistent snapshot while writers go on. Returns the target's size."""
    import os

    target = Path(target)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    src = _open_read_only(Path(path))
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    finally:
        src.close()
    return target.stat().st_size


def hash_at(path: str | Path, seq: int) -> str | None:
    """The stored hash of row `seq` (None when there is no such row)."""
    conn = _open_read_only(Path(path))
    try:
        row = conn.execute("SELECT hash FROM records WHERE seq = ?", (seq,)).fetchone()
        return str(row[0]) if row else None
    finally:
        conn.close()
