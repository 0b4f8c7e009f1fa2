"""The records a run knows, for `lookup(KIND, id)` and `records(x in KIND where …)`.

A store is what the closures find under `$store` in their bindings (`Evaluator.evaluate(…,
store=)`): `get(id, kind)` (the record of that kind with that id, or None) and `related(kind,
paths, values)` (the records of `kind` whose fields at `paths` equal `values`, in (date, id)
order). `MemoryStore`
keeps them in memory, indexed on first use; the checker fills one from the ledger, the
`--history` files and the batch, in that order: a later record with the id of an earlier one
of the same kind supersedes it (a newer version of the same item, e.g. once closed); records of
different kinds never supersede each other (the SQL backends' `store` does the same).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import ir


def _at(x: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(x, dict):
            return None
        x = x.get(part)
        if x is None:
            return None
    return x


def record_kind(x: dict) -> str:
    return x.get("record_kind") or ir.DEFAULT_KIND


def _order(x: dict) -> tuple:
    return (x.get("date"), str(x.get("id")))


class MemoryStore:
    """Records by kind and id, and by key, built from valid (normalised) records."""

    def __init__(self, records: Iterable[dict] = ()):
        self._by_id: dict[tuple[str, str], dict] = {}  # (kind, id) → record
        self._index: dict[tuple[str, tuple[str, ...]], dict[tuple, list[dict]]] = {}
        for x in records:
            self.add(x)

    @property
    def records(self) -> list[dict]:
        """Every record, in the order first added (a superseding record takes the place)."""
        return list(self._by_id.values())

    def add(self, x: dict) -> None:
        i = x.get("id")
        if i is None:
            return
        self._by_id[(record_kind(x), str(i))] = x
        self._index.clear()

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, record_id: Any, kind: str) -> dict | None:
        return self._by_id.get((kind, str(record_id)))

    def related(self, kind: str, paths: tuple[str, ...], values: tuple) -> list[dict]:
        index = self._index.get((kind, paths))
        if index is None:
            index = {}
            for x in self._by_id.values():
                if record_kind(x) != kind:
                    continue
                key = tuple(_at(x, p) for p in paths)
                if any(k is None for k in key):
                    continue  # a record whose key is unknown is no one's candidate
                try:
                    index.setdefault(key, []).append(x)
                except TypeError:  # an unhashable key value (a list): not a key
                    continue
            for found in index.values():
                found.sort(key=_order)
            self._index[(kind, paths)] = index
        try:
            return index.get(values, [])
        except TypeError:
            return []
