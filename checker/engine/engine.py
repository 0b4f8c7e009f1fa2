"""Runs the compiled packs over records: one report entry per record, a summary of outcomes.

The engine knows nothing about output formats: it yields report entries (plain dicts, the JSON
report's `records[]` items) and a summary; `checker/reports/` presents them. `Engine.check` is
the one-pass convenience for small batches that holds the batch in memory; `checker/run/` reads
large ones twice (the window index first, see `checker/engine/windows.py`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from checker.engine.policy import Policy
from checker.engine.windows import WindowIndex, window_paths
from checker.findings.entry import record_entry
from policy_dsl.evaluate import PRECEDENCE
from policy_dsl.store import MemoryStore, record_kind

OUTCOMES = ("violation", "review", "tolerated", "compliant", "unlisted", "invalid")


@dataclass
class Options:
    lang: str = "zh"
    explain: bool = False
    default_jurisdiction: str | None = None  # --jurisdiction: for records that lack one
    values: bool = False  # entries as findings data (checker/engine/values.py), not text


@dataclass
class Summary:
    counts: Counter = field(default_factory=Counter)

    def add(self, outcome: str) -> None:
        self.counts[outcome] += 1

    def to_dict(self) -> dict:
        out = {"records": sum(self.counts.values())}
        out.update({o: self.counts.get(o, 0) for o in OUTCOMES})
        return out


class StoreBuilder:
    """Fills a store with the records (in order) of the kinds that a rule of a kind present can
    look up (`Evaluator.store_needs`). `store()` is None when a kind turned out to be needed only
    after some of its records went by: `again(records)` then reads them all again."""

    def __init__(self, needs: dict[str, frozenset[str]]):
        self.needs = needs
        self.present: set[str] = set()
        self.wanted: set[str] = set()
        self.missed: set[str] = set()
        self.mem = MemoryStore()

    def add(self, x: dict) -> None:
        kind = record_kind(x)
        if kind not in self.present:
            self.present.add(kind)
            self.wanted |= self.needs.get(kind, frozenset())
        if kind in self.wanted:
            self.mem.add(x)
        else:
            self.missed.add(kind)

    def store(self) -> MemoryStore | None:
        return None if self.missed & self.wanted else self.mem

    def again(self, records: Iterable[dict]) -> MemoryStore:
        return MemoryStore(x for x in records if record_kind(x) in self.wanted)


class Engine:
    def __init__(self, policy: Policy, options: Options | None = None):
        self.policy = policy
        self.ev = policy.evaluator
        self.options = options or Options()
        self.renderer = policy.renderer(self.options.lang)
        self._versions: dict = {}
        self.store: Any = None  # the records lookups may find (`new_store`), when the rules look up

    @property
    def needs_store(self) -> bool:
        """Whether a rule looks other records up (`lookup`, `records`): then the whole batch,
        the history and the ledger's records are known before any record is decided."""
        return self.ev.uses_store

    def new_store(self, *sources: Callable[[], Iterable[dict | None]]) -> Any:
        """A store of the valid records of `sources` (each a function giving them, so that they
        can be read again), in order (a later record with the id of an earlier one supersedes
        it: the ledger or history first, then the batch). Only records of a kind that a rule of
        a kind present can look up are kept: a batch of interactions keeps its prior filings,
        not its interactions (which only the filings' rules look up). A kind found to be needed
        only after some of its records went by is read again."""
        def records() -> Iterator[dict]:
            for source in sources:
                yield from (x for x in source() if x is not None)

        builder = self.store_builder()
        for x in records():
            builder.add(x)
        store = builder.store()
        return store if store is not None else builder.again(records())

    def store_builder(self) -> StoreBuilder:
        """A store filled record by record (`new_store` does it from sources it can read again)."""
        return StoreBuilder(self.ev.store_needs)

    @property
    def needs_windows(self) -> bool:
        return bool(self.ev.window_rules)

    def _params_for(self, record: dict) -> dict:
        return self.ev.params_for(record["jurisdiction"], record["date"])

    def new_index(self, history: Iterable[dict] = ()) -> WindowIndex | None:
        """An empty window index (None without window rules), seeded with history records."""
        if not self.needs_windows:
            return None
        index = WindowIndex(self.ev.window_rules, self._params_for, window_paths(self.ev.window_rules))
        hist = list(history)
        for i, h in enumerate(hist):
            index.add(h, i - len(hist))
        return index

    def index_items(self, loaded: Iterable[Any], index: WindowIndex, start: int = 0) -> int:
        """First pass: file every valid record into the index; return how many items were seen."""
        n = 0
        for n, item in enumerate(loaded, 1):
            if item.data is not None:
                index.add(item.data, start + n - 1)
        return n

    def entries(self, loaded: Iterable[Any], index: WindowIndex | None = None, start: int = 0
                ) -> Iterator[dict]:
        """Second pass: evaluate items in order (item k has batch position start + k)."""
        for seq, item in enumerate(loaded, start):
            yield self.check_one(item, index, seq)

    def check(self, loaded: Iterable[Any], history: Iterable[dict] = (), summary: Summary | None = None,
              store: Any = None) -> Iterator[dict]:
        """Evaluate loaded records (checker.records.LoadedRecord) in order; yield report entries.

        One pass: with cross-record rules the batch is held in memory to build the windows;
        otherwise the input streams through in bounded memory."""
        summary = summary if summary is not None else Summary()
        history = list(history)
        index = self.new_index(history)
        if index is not None or self.needs_store:
            loaded = list(loaded)
        if index is not None:
            self.index_items(loaded, index)
        if self.needs_store:  # `store`: a store given (it knows the batch), else one of these
            self.store = store if store is not None else self.new_store(lambda: history,
                                                                        lambda: (i.data for i in loaded))
        for entry in self.entries(loaded, index):
            summary.add(entry["outcome"])
            yield entry

    def invalid(self, item: Any) -> dict:
        """The entry of an invalid record (as data: its errors in both languages)."""
        entry = invalid_entry(item, self.options.lang, self.options.default_jurisdiction)
        if self.options.values:
            entry["errors_zh"] = invalid_entry(item, "zh")["errors"]
            entry["errors_en"] = invalid_entry(item, "en")["errors"]
        return entry

    def check_one(self, item: Any, index: WindowIndex | None = None, seq: int | None = None) -> dict:
        if item.data is None:
            return self.invalid(item)
        window = None
        if index is not None:
            window = lambda c, r, p: index.lookup(c, r, p, seq)
        result = self.ev.evaluate(item.data, window, trace=self.options.explain, store=self.store)
        if self.options.values:
            return self.values_entry(item, result.outcome, result.findings, result.params)
        return record_entry(item, result, self.renderer, self.options.explain)

    def values_entry(self, item: Any, outcome: str, findings: list, params: dict) -> dict:
        """A record's entry as findings data (both languages' values, parameter versions)."""
        from checker.engine.values import parameter_versions, record_values

        r = item.data
        key = self.ev.epoch(r["jurisdiction"], r["date"])
        versions = self._versions.get(key)
        if versions is None:
            versions = self._versions[key] = parameter_versions(self.ev, r["jurisdiction"], r["date"])
        renderers = {lang: self.policy.renderer(lang) for lang in ("zh", "en")}
        return record_values(item, outcome, findings, params, renderers, versions)


def invalid_entry(item: Any, lang: str, default_jurisdiction: str | None = None) -> dict:
    raw: dict = item.raw if isinstance(item.raw, dict) else {}
    official: dict = raw["official"] if isinstance(raw.get("official"), dict) else {}
    code = raw.get("jurisdiction")
    if code is None and isinstance(item.raw, dict):
        code = default_jurisdiction
    return {
        "id": item.record_id,
        "outcome": "invalid",
        "jurisdiction": code if isinstance(code, str) else None,
        "date": raw.get("date") if isinstance(raw.get("date"), str) else None,
        "department": official.get("department") if isinstance(official.get("department"), str) else None,
        "source": {"file": item.source, "line": item.line, "location": item.location},
        "findings": [],
        "errors": [{"path": e.path, "code": e.code, "message": e.message(lang)} for e in item.errors],
    }


def worst(outcomes: Iterable[str]) -> str:
    rank = {o: i for i, o in enumerate(PRECEDENCE)}
    return min(outcomes, key=lambda o: rank[o], default="unlisted")
