"""The records a self-check's lookups may find: the request's records first, then the ledger.

`LedgerStore(ledger, records)` is a store (`policy_dsl.store`) for `lookup(KIND, id)` and
`records(x in KIND where …)`: a record of the request supersedes a stored one with its kind and
id; a kind's stored records are read once per request (records of kinds other than interaction are
kept under their kind, `Ledger.of_kind`; stored interactions are found by id).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from policy_dsl.store import MemoryStore, record_kind


class LedgerStore:
    def __init__(self, ledger: Any, records: Iterable[dict]):
        self.ledger = ledger
        self.mem = MemoryStore(records)
        self._kinds: dict[str, MemoryStore] = {}

    @property
    def records(self) -> list[dict]:
        return self.mem.records

    def get(self, record_id: Any, kind: str) -> dict | None:
        hit = self.mem.get(record_id, kind)
        if hit is None and isinstance(record_id, str):
            hit = self.ledger.get(record_id)
            if hit is not None and record_kind(hit) != kind:
                return None
        return hit

    def related(self, kind: str, paths: tuple[str, ...], values: tuple) -> list[dict]:
        store = self._kinds.get(kind)
        if store is None:
            stored = self.ledger.of_kind(kind) if kind != "interaction" else []
            store = self._kinds[kind] = MemoryStore([*stored, *self.mem.records])
        return store.related(kind, paths, values)
