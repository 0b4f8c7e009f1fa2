"""The decision log's format: its fields, how lines are hashed, masked and kept small.

Format (JSON lines, UTF-8, each line the canonical JSON of one object):

* line 1, the header: ``{"seq": 0, "format": "qinqing-decision-log", "version": 2,
  "time", "salt", "mask", "keyed", "chain": "hmac-sha256", "key_id", "prev": "0"*64,
  "hash"}``;
* then one line per decision: ``{"seq", "time", "record_id", "official_id",
  "official_name", "enterprise_name", "jurisdiction", "date", "input_hash",
  "policy_hash", "outcome", "rules", "actor", "ledger_seq", "history_records",
  "history_hash", "prev", "hash"}``.

``hash = HMAC-SHA256(chain key, "qinqing log line", prev, canonical JSON of the line
without "hash")`` and ``prev`` is the previous line's ``hash``: a line cannot be edited,
removed, inserted or reordered, nor the chain recomputed, without the key
(`checker.store.keys`). Version 1 logs (``sha256(prev + canonical JSON)``, no key) can
still be verified, not extended.

``actor`` names who asked (``local``, or ``token:NAME``); ``ledger_seq`` is the ledger's
chain head when the check read its history, ``history_records`` how many ledger rows it
used and ``history_hash`` their digest (`checker.store.ledger_chain.history_digest`).

Bounded lines: a text field longer than MAX_FIELD characters, or one that is not valid
Unicode, is written as ``sha256:`` + the digest of its UTF-8 bytes; at most MAX_RULES rule
ids. A decision line stays under a few KiB whatever the input.

Masking. Personal fields named in ``mask`` (``official.name``, ``official.id``,
``enterprise.name``; short forms ``name`` = every name field, ``official``,
``enterprise``, ``all``) are written as ``masked:`` + the first 12 hex digits of
HMAC-SHA256(key, value). The key is a random per-log salt kept in the header,
so one person keeps one pseudonym inside a log while different logs cannot be
joined on it. Since the salt sits in the log, anyone holding the log and a list
of candidate names can recompute pseudonyms: this hides values from casual
readers, it is not anonymisation. Pass ``secret=`` (kept outside the log) to
mix a secret into the key; the header then says ``"keyed": true``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from typing import Any

from checker.store.canonical import to_canonical_json
from checker.store.keys import ChainKey

FORMAT = "qinqing-decision-log"
VERSION = 2
CHAIN = "hmac-sha256"
ZERO_HASH = "0" * 64
MASK_PREFIX = "masked:"
DIGEST_PREFIX = "sha256:"
MAX_LINE_BYTES = 1 << 20  # what a reader accepts (version-1 lines could be this long)
MAX_FIELD = 256  # characters of a text field before it is written as its digest
MAX_RULES = 200

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
    "actor",
    "ledger_seq",
    "history_records",
    "history_hash",
)
INT_FIELDS = ("ledger_seq", "history_records")
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
    """The log cannot be written or read as asked; nothing was appended.

    ``code``: unknown_mask, not_a_log, log_newer, log_old_format, wrong_secret, wrong_key,
    damaged_tail, log_no_space, log_write_failed, key_missing, key_unreadable, key_exposed,
    key_invalid, bad_checkpoint."""

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


def line_hash(prev: str, body: Mapping[str, Any], key: ChainKey | None = None) -> str:
    """The hash of one line: HMAC with the chain key (version 2), or sha256 over
    prev + canonical JSON of the line without "hash" (version 1: ``key`` None)."""
    payload = to_canonical_json({k: v for k, v in body.items() if k != "hash"})
    if key is None:
        return hashlib.sha256((prev + payload).encode("utf-8")).hexdigest()
    return key.mac("qinqing log line", prev, payload)


def input_hash(record: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of an input record (any text that is not valid
    Unicode hashed as its surrogate-escaped bytes)."""
    try:
        text = to_canonical_json(record)
    except (TypeError, ValueError):
        text = repr(sorted(record.items(), key=lambda kv: str(kv[0])))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_text(value: Any) -> str:
    if value is None:
        return utc_now()
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError("decision time must carry a time zone")
        utc = value.astimezone(dt.UTC)
        return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    raise TypeError("time must be an aware datetime")


def bounded(value: str) -> str:
    """`value`, or its digest when it is too long or not valid Unicode."""
    if len(value) <= MAX_FIELD:
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            pass
    data = value.encode("utf-8", "surrogatepass")
    return DIGEST_PREFIX + hashlib.sha256(data).hexdigest()


def entry_fields(entry: Mapping[str, Any]) -> dict[str, Any]:
    """One decision's fields as written (before masking and chaining)."""
    unknown = sorted(set(entry) - set(ENTRY_FIELDS) - {"time"})
    if unknown:
        raise ValueError(f"unknown decision fields: {', '.join(unknown)}")
    fields: dict[str, Any] = {"time": utc_text(entry.get("time"))}
    for name in ENTRY_FIELDS:
        value = entry.get(name)
        if name == "rules":
            value = sorted({bounded(str(r)) for r in value or ()})[:MAX_RULES]
        elif name in INT_FIELDS:
            value = int(value) if isinstance(value, int) and not isinstance(value, bool) else None
        elif isinstance(value, dt.date):
            value = value.isoformat()
        elif value is not None:
            value = bounded(value if isinstance(value, str) else str(value))
        fields[name] = value
    return fields


def pseudonym(key: bytes, value: str) -> str:
    digest = hmac.new(key, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
    return MASK_PREFIX + digest[:12]


def key_check(key: bytes) -> str:
    return hmac.new(key, b"qinqing key check", hashlib.sha256).hexdigest()[:16]


def decision_entry(
    report: Mapping[str, Any],
    record: Mapping[str, Any] | None,
    policy_hash: str | None,
    **context: Any,
) -> dict[str, Any]:
    """The log fields for one report entry (``{"id", "outcome", "jurisdiction", "date",
    "findings": [{"rule", ...}]}``) and its input record (normalised or raw); ``context``
    adds ``actor``, ``ledger_seq``, ``history_records``, ``history_hash``."""
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
        **{k: v for k, v in context.items() if k in ENTRY_FIELDS},
    }
