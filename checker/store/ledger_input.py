"""What the ledger takes in: its error type, the shape a record needs, and the rejection message.

An import is all of a file's records or none. This module turns each input item (a
normalised record dict, or a `LoadedRecord` from `checker.input.records`) into a row to
insert or a reason it cannot be, and words the one `LedgerError` that rejects a file:
duplicate ids (within the file or against the ledger), invalid records, look-alike ids
(`checker.input.identity`), each list cut after MAX_LISTED with "…and N more".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from checker.input.identity import IdentityError, normalise_id
from checker.store.canonical import to_canonical_json

MAX_LISTED = 10  # ids or problems named in one message before "…and N more"
MAX_KEPT = 1000  # duplicate ids kept on a LedgerError
STAGES = ("planned", "completed")



class LedgerError(Exception):
    """A ledger operation failed; nothing was written.

    ``code`` is stable (``duplicate_ids``, ``invalid_records``, ``too_many_records``,
    ``ledger_missing``, ``ledger_unreadable``, ``ledger_newer``, ``ledger_busy``,
    ``ledger_write_failed``, ``wrong_key``, ``key_missing``, ``key_unreadable``,
    ``key_exposed``, ``key_invalid``).
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
    try:
        normalise_id(rid)
    except IdentityError as exc:
        return f"$.id: {exc.message_zh}", f"$.id: {exc.message_en}"
    kind = record.get("record_kind")
    other = kind not in (None, "interaction")
    if other and (not isinstance(kind, str) or not kind or kind in STAGES):
        return "record_kind 无效", "invalid record_kind"
    if not other and record.get("stage") not in STAGES:
        return "stage 须为 planned 或 completed", "stage must be planned or completed"
    if not isinstance(record.get("jurisdiction"), str) or not record["jurisdiction"]:
        return "缺少 jurisdiction", "missing jurisdiction"
    date = record.get("date")
    if not isinstance(date, dt.date) or isinstance(date, dt.datetime):
        return "date 须为日期", "date must be a date"
    if other:
        return None  # a record of another kind has no official (and no stage)
    official = record.get("official")
    if not isinstance(official, Mapping) or not isinstance(official.get("id"), str):
        return "缺少 official.id", "missing official.id"
    if not official["id"]:
        return "缺少 official.id", "missing official.id"
    return None


def _prepare(record: Mapping[str, Any]) -> _Prepared:
    text = to_canonical_json(record)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"text that is not valid Unicode (U+{ord(exc.object[exc.start]):04X}, "
                         "a lone surrogate)") from None
    enterprise = record.get("enterprise")
    uscc = enterprise.get("uscc") if isinstance(enterprise, Mapping) else None
    kind = record.get("record_kind")
    other = kind not in (None, "interaction")
    return _Prepared(
        id=normalise_id(record["id"]),
        # A record of another kind has no official: its official_id is empty (no official's
        # history ever holds it) and its stage column holds its kind (`Ledger.of_kind`).
        official_id="" if other else record["official"]["id"],
        enterprise_uscc=uscc if isinstance(uscc, str) else None,
        date=record["date"].isoformat(),
        stage=kind if other else record["stage"],
        jurisdiction=record["jurisdiction"],
        record_json=text,
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
