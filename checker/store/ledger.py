"""The embedded ledger: completed (or planned) interactions kept in SQLite, hash-chained.

A self-check of a planned interaction needs the official's history so that
cross-record rules (meeting frequency, rolling gift totals) can apply. The
ledger stores each recorded interaction once, keyed by its record id (in NFC,
look-alike ids refused: `checker.input.identity`), as the canonical JSON of its
normalised form plus a few indexed columns.

Tamper evidence: every row has a chain position ``seq``, the previous row's
``prev`` hash and its own ``hash`` = HMAC(chain key, prev + the row's content)
(`checker.store.ledger_chain`); the ``chain`` table holds the head (last seq and
hash) with its own MAC. Rows and head are written in the import's transaction.
The key lives outside the ledger (`checker.store.keys`); it is loaded (and
created, on first use) only when writing.

Durability: WAL journal with ``synchronous=FULL``; every file is imported in
one transaction (all of its records or none). An ``imports`` row, written in
the same transaction, says how many records each import brought.

Concurrency: one write connection (writes are serialised by SQLite anyway);
every reading thread has its own connection, so reads never wait for a write,
and a write waiting for SQLite's lock holds nothing a reader needs.

Nothing here prints; errors are :class:`LedgerError` with Chinese and English
messages. The file is created with mode 0600.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Self

from checker.input.identity import IdentityError, normalise_id
from checker.store import ledger_chain as chain
from checker.store.canonical import from_canonical_json, to_canonical_json
from checker.store.keys import ChainKey, ChainKeyError
from checker.store.ledger_input import (
    MAX_KEPT,
    MAX_LISTED,
    STAGES,
    LedgerError,
    LedgerRow,
    _Collected,
    _prepare,
    _rejection,
    _unpack,
)

__all__ = [
    "MAX_KEPT", "MAX_LISTED", "MAX_RECORDS_PER_FILE", "SCHEMA_VERSION", "STAGES", "Ledger",
    "LedgerError", "LedgerRow", "default_ledger_path", "from_canonical_json",
    "to_canonical_json",
]

SCHEMA_VERSION = 2
MAX_RECORDS_PER_FILE = 1_000_000

_SCHEMA = (
    "CREATE TABLE schema_version (version INTEGER NOT NULL)",
    """CREATE TABLE imports (
        id INTEGER PRIMARY KEY,
        source TEXT NOT NULL,
        added_at TEXT NOT NULL,
        record_count INTEGER NOT NULL
    )""",
    """CREATE TABLE records (
        id TEXT PRIMARY KEY,
        official_id TEXT NOT NULL,
        enterprise_uscc TEXT,
        date TEXT NOT NULL,
        stage TEXT NOT NULL,
        jurisdiction TEXT NOT NULL,
        record_json TEXT NOT NULL,
        added_at TEXT NOT NULL,
        source TEXT NOT NULL,
        import_id INTEGER NOT NULL REFERENCES imports(id)
    )""",
    "CREATE INDEX records_official_date ON records (official_id, date, id)",
    "CREATE INDEX records_import ON records (import_id)",
)
# version 1 → 2: the chain columns and table, and access tokens (checker.store.tokens)
_UPGRADE_2 = (
    "ALTER TABLE records ADD COLUMN seq INTEGER",
    "ALTER TABLE records ADD COLUMN prev TEXT",
    "ALTER TABLE records ADD COLUMN hash TEXT",
    "CREATE UNIQUE INDEX records_seq ON records (seq)",
    """CREATE TABLE chain (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        key_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        hash TEXT NOT NULL,
        mac TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
    """CREATE TABLE tokens (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        official_id TEXT,
        digest TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        revoked_at TEXT
    )""",
)


def _utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def default_ledger_path() -> Path:
    """Where the ledger lives unless ``--ledger`` says otherwise."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("qinqing")) / "ledger.sqlite3"


def _create_private(path: Path) -> None:
    """Create an empty file with mode 0600 (SQLite would create it 0644)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)


class Ledger:
    """The ledger file. Use as a context manager; safe to share between threads.

    ``key`` is the chain key (a :class:`ChainKey`, or a key file path; None: the default
    key file, see `checker.store.keys`); it is needed only to write. ``timeout`` is how
    long a write waits for another process's import before ``ledger_busy``.
    """

    def __init__(self, path: str | Path, *, create: bool = True, timeout: float = 30.0,
                 key: ChainKey | str | Path | None = None) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._key_spec = key
        self._key: ChainKey | None = key if isinstance(key, ChainKey) else None
        if not self.path.exists():
            if not create:
                raise LedgerError(
                    "ledger_missing",
                    f"账本不存在：{self.path}",
                    f"Ledger not found: {self.path}",
                )
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                _create_private(self.path)
            except OSError as exc:
                raise self._unreadable(exc) from exc
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False
        try:
            self._conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=timeout
            )
            self._setup()
        except sqlite3.DatabaseError as exc:
            if hasattr(self, "_conn"):
                self._conn.close()
            raise self._unreadable(exc) from exc
        for suffix in ("", "-wal", "-shm"):
            try:
                os.chmod(f"{self.path}{suffix}", 0o600)
            except OSError:
                pass

    def _unreadable(self, exc: Exception) -> LedgerError:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return LedgerError(
            "ledger_unreadable",
            f"无法打开账本 {self.path}：{why}",
            f"Cannot open ledger {self.path}: {why}",
        )

    # -- lifecycle

    def _setup(self) -> None:
        conn = self._conn
        conn.execute("PRAGMA journal_mode=WAL")  # persistent; a no-op once set
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        version = self._version(conn)  # a plain read: does not wait for a running import
        if version is None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                version = self._version(conn)
                if version is None:
                    for statement in (*_SCHEMA, *_UPGRADE_2):
                        conn.execute(statement)
                    conn.execute(
                        "INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,)
                    )
                    version = SCHEMA_VERSION
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        if version not in (1, SCHEMA_VERSION):
            conn.close()
            raise LedgerError(
                "ledger_newer",
                f"账本 {self.path} 的格式版本为 {version}，本程序只支持 {SCHEMA_VERSION}",
                f"Ledger {self.path} has format version {version}; "
                f"this program supports {SCHEMA_VERSION}",
            )
        self.version = version

    @staticmethod
    def _version(conn: sqlite3.Connection) -> int | None:
        exists = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        ).fetchone()
        if not exists:
            return None
        row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
        return row[0] if row else None

    def _reader(self) -> sqlite3.Connection:
        """This thread's read connection (WAL: never waits for a writer)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise LedgerError("ledger_closed", "账本已关闭", "the ledger is closed")
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                   timeout=self.timeout)
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def close(self) -> None:
        with self._readers_lock:
            self._closed = True
            readers, self._readers = self._readers, []
        for conn in readers:
            conn.close()
        with self._write_lock:
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the key

    def chain_key(self, *, create: bool = True) -> ChainKey:
        """The chain key (loaded once; created on first use when `create`)."""
        if self._key is None:
            spec = self._key_spec if not isinstance(self._key_spec, ChainKey) else None
            try:
                self._key = ChainKey.load(spec, create=create)
            except ChainKeyError as exc:
                raise LedgerError(exc.code, exc.message_zh, exc.message_en) from None
        return self._key

    # -- writing

    def write_transaction(self, source: str) -> _WriteTransaction:
        """`with ledger.write_transaction(source) as conn:` one IMMEDIATE transaction on
        the write connection (LedgerError ``ledger_busy`` / ``ledger_write_failed``)."""
        return _WriteTransaction(self, source)

    def add_records(self, records: Iterable[Any], source: str) -> int:
        """Add one file's records in one transaction; return how many were added.

        ``records`` are normalised record dicts, or ``LoadedRecord`` objects from
        :mod:`checker.input.records` (invalid ones are then named by file:line). Any
        invalid record or duplicate id (within the file or against the ledger, after
        NFC) rejects the whole file with :class:`LedgerError`; nothing is written.
        """
        key = self.chain_key()
        with self.write_transaction(source) as conn:
            self._upgrade(conn, key)
            return self._insert_all(conn, key, records, source, _utc_now())

    def _upgrade(self, conn: sqlite3.Connection, key: ChainKey) -> None:
        """Inside a write transaction: bring a version-1 ledger to version 2 (chain its
        rows in import order with `key`); check that a chained ledger uses `key`."""
        if self._version(conn) == 1:
            for statement in _UPGRADE_2:
                conn.execute(statement)
            rows = conn.execute(
                f"SELECT {chain.CONTENT_SQL} FROM records ORDER BY import_id, rowid"
            ).fetchall()
            prev, seq = chain.ZERO, 0
            for row in rows:
                seq += 1
                digest = chain.row_hash(key, seq, prev, row)
                conn.execute("UPDATE records SET seq = ?, prev = ?, hash = ? WHERE id = ?",
                             (seq, prev, digest, row[0]))
                prev = digest
            chain.write_head(conn, key, seq, prev, _utc_now())
            conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
            self.version = SCHEMA_VERSION
            return
        stored = conn.execute("SELECT key_id FROM chain WHERE id = 1").fetchone()
        if stored is not None and stored[0] != key.key_id:
            raise LedgerError(
                "wrong_key",
                f"账本 {self.path} 的哈希链使用另一把密钥（{stored[0]}），当前密钥为 {key.key_id}；"
                "请用 --key 指定写入时的密钥",
                f"the hash chain of ledger {self.path} uses another key ({stored[0]}; this key is "
                f"{key.key_id}); pass the key it was written with (--key)",
            )

    def _insert_all(self, conn: sqlite3.Connection, key: ChainKey, records: Iterable[Any],
                    source: str, added_at: str) -> int:
        import_id = conn.execute(
            "INSERT INTO imports (source, added_at, record_count) VALUES (?, ?, 0)",
            (source, added_at),
        ).lastrowid
        seq, prev = chain.read_head(conn)
        seen: set[str] = set()
        in_file = _Collected()
        in_ledger = _Collected()
        invalid = _Collected()
        insert = (
            "INSERT INTO records (id, official_id, enterprise_uscc, date, stage, jurisdiction,"
            " record_json, added_at, source, import_id, seq, prev, hash)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
        )
        count = 0
        for index, item in enumerate(records, start=1):
            if index > MAX_RECORDS_PER_FILE:
                raise LedgerError(
                    "too_many_records",
                    f"{source}：整个文件未导入：记录超过 {MAX_RECORDS_PER_FILE} 条，请拆分文件",
                    f"{source}: file rejected: more than {MAX_RECORDS_PER_FILE} records; "
                    "split the file",
                )
            unpacked = _unpack(item, index, source)
            record, location = unpacked.record, unpacked.location
            if unpacked.repeated_id is not None:
                in_file.add(unpacked.repeated_id)
                continue
            if record is None:
                invalid.add((f"{location} {unpacked.why_zh}", f"{location} {unpacked.why_en}"))
                continue
            try:
                rid = normalise_id(record["id"])
            except IdentityError:  # pragma: no cover - _unpack refused it already
                continue
            if rid in seen:
                in_file.add(rid)
                continue
            seen.add(rid)
            if invalid.total or in_file.total or in_ledger.total:
                # already rejected: only look for more problems to report
                if conn.execute("SELECT 1 FROM records WHERE id = ?", (rid,)).fetchone():
                    in_ledger.add(rid)
                continue
            try:
                prepared = _prepare(record)
            except (TypeError, ValueError) as exc:
                invalid.add((f"{location} 无法编码：{exc}", f"{location} cannot encode: {exc}"))
                continue
            content = (prepared.id, prepared.official_id, prepared.enterprise_uscc,
                       prepared.date, prepared.stage, prepared.jurisdiction,
                       prepared.record_json, added_at, source)
            digest = chain.row_hash(key, seq + 1, prev, content)
            try:
                conn.execute(insert, (*content, import_id, seq + 1, prev, digest))
            except sqlite3.IntegrityError:
                in_ledger.add(rid)
                continue
            seq, prev = seq + 1, digest
            count += 1
        if invalid.total or in_file.total or in_ledger.total:
            raise _rejection(source, in_file, in_ledger, invalid)
        conn.execute("UPDATE imports SET record_count = ? WHERE id = ?", (count, import_id))
        chain.write_head(conn, key, seq, prev, added_at)
        return count

    # -- reading (each thread its own connection: never behind a write)

    def snapshot(self) -> _Snapshot:
        """`with ledger.snapshot():` this thread's reads see one state of the ledger."""
        return _Snapshot(self._reader())

    def count(self) -> int:
        return int(self._reader().execute("SELECT COUNT(*) FROM records").fetchone()[0])

    def head(self) -> tuple[int, str]:
        """(seq, hash) of the last chained row; (0, zeros) for an empty ledger."""
        return chain.read_head(self._reader())

    def contains(self, record_id: str) -> bool:
        row = self._reader().execute("SELECT 1 FROM records WHERE id = ?",
                                     (record_id,)).fetchone()
        return row is not None

    def get(self, record_id: str) -> dict[str, Any] | None:
        row = self._reader().execute(
            "SELECT record_json FROM records WHERE id = ?", (record_id,)
        ).fetchone()
        return from_canonical_json(row[0]) if row else None

    def history(
        self,
        official_id: str,
        *,
        until: dt.date | None = None,
        since: dt.date | None = None,
        stage: str | None = None,
    ) -> list[dict[str, Any]]:
        """The official's recorded interactions, normalised, by date then id.

        ``since`` and ``until`` are inclusive; ``stage`` keeps only that stage.
        """
        return [record for _, record in
                self.history_rows(official_id, until=until, since=since, stage=stage)]

    def history_rows(
        self,
        official_id: str,
        *,
        until: dt.date | None = None,
        since: dt.date | None = None,
        stage: str | None = None,
    ) -> list[tuple[str, dict[str, Any]]]:
        """:meth:`history` with each row's chain hash (what a decision's history digest
        covers: `checker.store.ledger_chain.history_digest`)."""
        has_hash = self.version >= 2
        sql = ("SELECT hash, record_json FROM records" if has_hash
               else "SELECT '', record_json FROM records") + " WHERE official_id = ?"
        params: list[Any] = [official_id]
        if since is not None:
            sql += " AND date >= ?"
            params.append(since.isoformat())
        if until is not None:
            sql += " AND date <= ?"
            params.append(until.isoformat())
        if stage is not None:
            sql += " AND stage = ?"
            params.append(stage)
        sql += " ORDER BY date, id"
        rows = self._reader().execute(sql, params).fetchall()
        return [(digest or "", from_canonical_json(text)) for digest, text in rows]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        """The stored records of a kind other than interaction, normalised, by date then id."""
        rows = self._reader().execute(
            "SELECT record_json FROM records WHERE official_id = '' AND stage = ? ORDER BY date, id",
            (kind,)).fetchall()
        return [from_canonical_json(text) for (text,) in rows]

    def rows(self, official_id: str | None = None) -> Iterator[LedgerRow]:
        """Indexed columns of stored records, by date then id (optionally one official's)."""
        sql = (
            "SELECT id, official_id, enterprise_uscc, date, stage, jurisdiction, added_at, source"
            " FROM records"
        )
        params: tuple[Any, ...] = ()
        if official_id is not None:
            sql += " WHERE official_id = ?"
            params = (official_id,)
        sql += " ORDER BY date, id"
        fetched = self._reader().execute(sql, params).fetchall()
        for rid, oid, uscc, date, stage, jurisdiction, added_at, source in fetched:
            yield LedgerRow(
                rid, oid, uscc, dt.date.fromisoformat(date), stage, jurisdiction, added_at, source
            )


class _Snapshot:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN")

    def __exit__(self, *exc: object) -> None:
        _rollback(self.conn)


class _WriteTransaction:
    """BEGIN IMMEDIATE … COMMIT on the ledger's write connection, errors as LedgerError."""

    def __init__(self, ledger: Ledger, source: str) -> None:
        self.ledger = ledger
        self.source = source

    def __enter__(self) -> sqlite3.Connection:
        ledger = self.ledger
        ledger._write_lock.acquire()
        try:
            ledger._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            ledger._write_lock.release()
            raise LedgerError(
                "ledger_busy",
                f"账本 {ledger.path} 正被其他导入占用，请稍后重试（{self.source} 未导入）",
                f"Ledger {ledger.path} is busy with another import; try again later "
                f"({self.source} not added)",
            ) from exc
        return ledger._conn

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        ledger = self.ledger
        try:
            if exc is None:
                try:
                    ledger._conn.execute("COMMIT")
                    return
                except sqlite3.DatabaseError as error:
                    exc = error
            _rollback(ledger._conn)
            if isinstance(exc, sqlite3.DatabaseError):
                raise LedgerError(
                    "ledger_write_failed",
                    f"写入账本 {ledger.path} 失败（{self.source} 未导入）：{exc}",
                    f"Writing to ledger {ledger.path} failed ({self.source} not added): {exc}",
                ) from exc
        finally:
            ledger._write_lock.release()


def _rollback(conn: sqlite3.Connection) -> None:
    try:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass  # the original error matters more; SQLite rolls back on close anyway
