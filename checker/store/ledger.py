"""The embedded ledger: completed (or planned) interactions kept in SQLite.

A self-check of a planned interaction needs the official's history so that
cross-record rules (meeting frequency, rolling gift totals) can apply. The
ledger stores each recorded interaction once, keyed by its record id, as the
canonical JSON of its normalised form plus a few indexed columns.

Durability: WAL journal with ``synchronous=FULL``; every file is imported in
one transaction (all of its records or none). An ``imports`` row, written in
the same transaction, says how many records each import brought, so a reader
can check that every committed file is complete.

Nothing here prints; errors are :class:`LedgerError` with Chinese and English
messages.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Self

SCHEMA_VERSION = 1
MAX_LISTED = 10  # ids or problems named in one message before "…and N more"
MAX_KEPT = 1000  # duplicate ids kept on a LedgerError
MAX_RECORDS_PER_FILE = 1_000_000
STAGES = ("planned", "completed")

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


# --------------------------------------------------------------------------- errors


class LedgerError(Exception):
    """A ledger operation failed; nothing was written.

    ``code`` is stable (``duplicate_ids``, ``invalid_records``, ``too_many_records``,
    ``ledger_missing``, ``ledger_unreadable``, ``ledger_newer``, ``ledger_busy``,
    ``ledger_write_failed``).
    """

    def __init__(
        self,
        code: str,
        message_zh: str,
        message_en: str,
        *,
        duplicate_ids: tuple[str, ...] = (),
        invalid: tuple[str, ...] = (),
        details_zh: tuple[str, ...] = (),
        details_en: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message_zh)
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en
        self.duplicate_ids = duplicate_ids  # the first MAX_KEPT
        self.invalid = invalid  # "location reason" (English), the first MAX_LISTED
        self._details = {"zh": details_zh, "en": details_en}

    def message(self, lang: str = "zh") -> str:
        """One line (for JSON answers and logs)."""
        return self.message_en if lang == "en" else self.message_zh

    def describe(self, lang: str = "zh") -> str:
        """Several lines, one problem each (for a terminal)."""
        details = self._details["en" if lang == "en" else "zh"]
        return "\n".join(details) if details else self.message(lang)


# --------------------------------------------------------------------------- canonical JSON


def _encode_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"non-finite amount: {value}")
        return format(value, "f")
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError(f"datetime without a time zone: {value.isoformat()}")
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"cannot encode {type(value).__name__} in canonical JSON")


def to_canonical_json(record: Mapping[str, Any]) -> str:
    """One deterministic text for a record: sorted keys, no spaces, UTF-8 text,
    Decimal as a plain decimal string, dates and aware datetimes in ISO-8601."""
    return json.dumps(
        record,
        default=_encode_default,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


@lru_cache(maxsize=1)
def _validator() -> Any | None:
    try:
        from checker.input.validate import compile_validator
    except ImportError:
        return None
    return compile_validator()


def from_canonical_json(text: str) -> dict[str, Any]:
    """Inverse of :func:`to_canonical_json`: restores Decimal, date and datetime.

    The record schema's validator does this when it is available and accepts
    the record; otherwise field names decide (``*_cny`` money, ``date``/``*_date``/
    ``*_on`` dates, ``*_at`` datetimes), so old rows stay readable after a
    schema change.
    """
    raw = json.loads(text)
    if not isinstance(raw, dict):
        raise TypeError("canonical record JSON is not an object")
    validator = _validator()
    if validator is not None:
        data, errors = validator.validate(raw)
        if data is not None and not errors:
            return data
    return _restore_by_name(raw)


def _restore_by_name(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _restore_by_name(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore_by_name(v, key) for v in value]
    if not isinstance(value, str):
        return value
    try:
        if key.endswith("_cny"):
            return Decimal(value)
        if key == "date" or key.endswith(("_date", "_on")):
            return dt.date.fromisoformat(value)
        if key.endswith("_at"):
            parsed = dt.datetime.fromisoformat(value)
            return parsed if parsed.tzinfo is not None else value
    except ArithmeticError:
        return value
    except ValueError:
        return value
    return value


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class LedgerRow:
    """One stored record's indexed columns (without decoding its JSON)."""

    id: str
    official_id: str
    enterprise_uscc: str | None
    date: dt.date
    stage: str
    jurisdiction: str
    added_at: str
    source: str


@dataclass(frozen=True)
class _Prepared:
    id: str
    official_id: str
    enterprise_uscc: str | None
    date: str
    stage: str
    jurisdiction: str
    record_json: str


def _structural_problem(record: Mapping[str, Any]) -> tuple[str, str] | None:
    """Minimal shape the ledger needs (zh, en), or None. Full validation is the loader's job."""
    rid = record.get("id")
    if not isinstance(rid, str) or not rid:
        return "缺少记录编号 id", "missing record id"
    if record.get("stage") not in STAGES:
        return "stage 须为 planned 或 completed", "stage must be planned or completed"
    if not isinstance(record.get("jurisdiction"), str) or not record["jurisdiction"]:
        return "缺少 jurisdiction", "missing jurisdiction"
    date = record.get("date")
    if not isinstance(date, dt.date) or isinstance(date, dt.datetime):
        return "date 须为日期", "date must be a date"
    official = record.get("official")
    if not isinstance(official, Mapping) or not isinstance(official.get("id"), str):
        return "缺少 official.id", "missing official.id"
    if not official["id"]:
        return "缺少 official.id", "missing official.id"
    return None


def _prepare(record: Mapping[str, Any]) -> _Prepared:
    enterprise = record.get("enterprise")
    uscc = enterprise.get("uscc") if isinstance(enterprise, Mapping) else None
    return _Prepared(
        id=record["id"],
        official_id=record["official"]["id"],
        enterprise_uscc=uscc if isinstance(uscc, str) else None,
        date=record["date"].isoformat(),
        stage=record["stage"],
        jurisdiction=record["jurisdiction"],
        record_json=to_canonical_json(record),
    )


@dataclass(frozen=True)
class _Item:
    """One input record as the ledger sees it."""

    record: Mapping[str, Any] | None  # None when invalid
    location: str
    why_zh: str = ""
    why_en: str = ""
    repeated_id: str | None = None  # the loader already saw this id in the file


def _unpack(item: Any, index: int, source: str) -> _Item:
    """A normalised dict, or a LoadedRecord from checker.records (duck-typed to keep
    the ledger import-light), as an :class:`_Item`."""
    if isinstance(item, Mapping):
        location = f"{source}#{index}"
        problem = _structural_problem(item)
        if problem is None:
            return _Item(item, location)
        return _Item(None, location, *problem)
    location = getattr(item, "location", None) or f"{source}:{getattr(item, 'line', index)}"
    data = getattr(item, "data", None)
    errors = list(getattr(item, "errors", ()) or ())
    if data is not None and not errors:
        inner = _unpack(data, index, source)
        return _Item(inner.record, location, inner.why_zh, inner.why_en)
    record_id = getattr(item, "record_id", None)
    others = [e for e in errors if getattr(e, "code", "") != "duplicate_id"]
    if record_id and len(others) < len(errors) and not others:
        return _Item(None, location, repeated_id=str(record_id))
    if not others:
        return _Item(None, location, "记录无效", "invalid record")
    first = others[0]
    path = getattr(first, "path", "") or ""
    zh = getattr(first, "message_zh", "") or getattr(first, "code", "invalid")
    en = getattr(first, "message_en", "") or getattr(first, "code", "invalid")
    if path:
        zh, en = f"{path}: {zh}", f"{path}: {en}"
    if len(others) > 1:
        zh += f"（另有 {len(others) - 1} 处错误）"
        en += f" (and {len(others) - 1} more errors)"
    return _Item(None, location, zh, en)


def _utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def default_ledger_path() -> Path:
    """Where the ledger lives unless ``--ledger`` says otherwise."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("qinqing")) / "ledger.sqlite3"


class Ledger:
    """The ledger file. Use as a context manager; safe to share between threads."""

    def __init__(self, path: str | Path, *, create: bool = True, timeout: float = 30.0) -> None:
        self.path = Path(path)
        if not self.path.exists():
            if not create:
                raise LedgerError(
                    "ledger_missing",
                    f"账本不存在：{self.path}",
                    f"Ledger not found: {self.path}",
                )
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        try:
            self._conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=timeout
            )
            self._setup()
        except sqlite3.DatabaseError as exc:
            if hasattr(self, "_conn"):
                self._conn.close()
            raise LedgerError(
                "ledger_unreadable",
                f"无法打开账本 {self.path}：{exc}",
                f"Cannot open ledger {self.path}: {exc}",
            ) from exc

    # -- lifecycle

    def _setup(self) -> None:
        conn = self._conn
        conn.execute("PRAGMA journal_mode=WAL")  # persistent; a no-op once set
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        version = self._version()  # a plain read: does not wait for a running import
        if version is None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                version = self._version()
                if version is None:
                    for statement in _SCHEMA:
                        conn.execute(statement)
                    conn.execute(
                        "INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,)
                    )
                    version = SCHEMA_VERSION
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        if version != SCHEMA_VERSION:
            conn.close()
            raise LedgerError(
                "ledger_newer",
                f"账本 {self.path} 的格式版本为 {version}，本程序只支持 {SCHEMA_VERSION}",
                f"Ledger {self.path} has format version {version}; "
                f"this program supports {SCHEMA_VERSION}",
            )

    def _version(self) -> int | None:
        exists = self._conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        ).fetchone()
        if not exists:
            return None
        row = self._conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
        return row[0] if row else None

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing

    def add_records(self, records: Iterable[Any], source: str) -> int:
        """Add one file's records in one transaction; return how many were added.

        ``records`` are normalised record dicts, or ``LoadedRecord`` objects from
        :mod:`checker.records` (invalid ones are then named by file:line). Any
        invalid record or duplicate id (within the file or against the ledger)
        rejects the whole file with :class:`LedgerError`; nothing is written.
        """
        with self._lock:
            conn = self._conn
            added_at = _utc_now()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise LedgerError(
                    "ledger_busy",
                    f"账本 {self.path} 正被其他导入占用，请稍后重试（{source} 未导入）",
                    f"Ledger {self.path} is busy with another import; try again later "
                    f"({source} not added)",
                ) from exc
            try:
                count = self._insert_all(records, source, added_at)
                conn.execute("COMMIT")
            except BaseException as exc:
                self._rollback()
                if isinstance(exc, sqlite3.DatabaseError):
                    raise LedgerError(
                        "ledger_write_failed",
                        f"写入账本 {self.path} 失败（{source} 未导入）：{exc}",
                        f"Writing to ledger {self.path} failed ({source} not added): {exc}",
                    ) from exc
                raise
            return count

    def _rollback(self) -> None:
        try:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # the original error matters more; SQLite rolls back on close anyway

    def _insert_all(self, records: Iterable[Any], source: str, added_at: str) -> int:
        conn = self._conn
        import_id = conn.execute(
            "INSERT INTO imports (source, added_at, record_count) VALUES (?, ?, 0)",
            (source, added_at),
        ).lastrowid
        seen: set[str] = set()
        in_file = _Collected()
        in_ledger = _Collected()
        invalid = _Collected()
        insert = (
            "INSERT INTO records (id, official_id, enterprise_uscc, date, stage, jurisdiction,"
            " record_json, added_at, source, import_id) VALUES (?,?,?,?,?,?,?,?,?,?)"
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
            rid = record["id"]
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
            try:
                conn.execute(
                    insert,
                    (
                        prepared.id,
                        prepared.official_id,
                        prepared.enterprise_uscc,
                        prepared.date,
                        prepared.stage,
                        prepared.jurisdiction,
                        prepared.record_json,
                        added_at,
                        source,
                        import_id,
                    ),
                )
            except sqlite3.IntegrityError:
                in_ledger.add(rid)
                continue
            count += 1
        if invalid.total or in_file.total or in_ledger.total:
            raise _rejection(source, in_file, in_ledger, invalid)
        conn.execute("UPDATE imports SET record_count = ? WHERE id = ?", (count, import_id))
        return count

    # -- reading

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM records").fetchone()[0])

    def get(self, record_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute(
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
        sql = "SELECT record_json FROM records WHERE official_id = ?"
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
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
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
        with self._lock:
            fetched = self._conn.execute(sql, params).fetchall()
        for rid, oid, uscc, date, stage, jurisdiction, added_at, source in fetched:
            yield LedgerRow(
                rid, oid, uscc, dt.date.fromisoformat(date), stage, jurisdiction, added_at, source
            )


class _Collected:
    """The first MAX_KEPT distinct items of a kind of problem, and how many there were."""

    def __init__(self) -> None:
        self.items: dict[Any, None] = {}  # ordered set
        self.total = 0

    def add(self, item: Any) -> None:
        if item in self.items:
            return
        self.total += 1
        if len(self.items) < MAX_KEPT:
            self.items[item] = None

    def listing(self, lang: str) -> tuple[list[str], str]:
        """The first MAX_LISTED items and the "…and N more" tail (or "")."""
        shown = [x if isinstance(x, str) else x[1 if lang == "en" else 0] for x in self.items]
        shown = shown[:MAX_LISTED]
        rest = self.total - len(shown)
        if rest <= 0:
            return shown, ""
        return shown, (f"…and {rest} more" if lang == "en" else f"…另有 {rest} 个")


def _rejection(
    source: str, in_file: _Collected, in_ledger: _Collected, invalid: _Collected
) -> LedgerError:
    texts: dict[str, tuple[str, list[str]]] = {}
    for lang, sep in (("zh", "、"), ("en", ", ")):
        en = lang == "en"
        head = (
            f"{source}: file rejected, no record added."
            if en
            else f"{source}：整个文件未导入（0 条记录写入）。"
        )
        one_line, lines = [head], [head]
        sections = (
            (in_ledger, "Record ids already in the ledger" if en else "账本中已有这些记录编号"),
            (in_file, "Record ids repeated within the file" if en else "文件内重复的记录编号"),
        )
        for collected, label in sections:
            if collected.total:
                shown, more = collected.listing(lang)
                text = sep.join(shown) + (f" {more}" if more else "")
                one_line.append(f"{label}: {text}." if en else f"{label}：{text}。")
                lines.append(f"  {label}: {text}" if en else f"  {label}：{text}")
        if invalid.total:
            shown, more = invalid.listing(lang)
            label = "Invalid records" if en else "无效记录"
            text = sep.join(shown) + (f" {more}" if more else "")
            one_line.append(f"{label}: {text}." if en else f"{label}：{text}。")
            lines.append(f"  {label}:" if en else f"  {label}：")
            lines.extend(f"    {item}" for item in shown)
            if more:
                lines.append(f"    {more}")
        texts[lang] = ((" " if en else "").join(one_line), lines)
    ids = list(in_ledger.items) + [i for i in in_file.items if i not in in_ledger.items]
    return LedgerError(
        "invalid_records" if invalid.total else "duplicate_ids",
        texts["zh"][0],
        texts["en"][0],
        duplicate_ids=tuple(ids),
        invalid=tuple(en for _, en in list(invalid.items)[:MAX_LISTED]),
        details_zh=tuple(texts["zh"][1]),
        details_en=tuple(texts["en"][1]),
    )
