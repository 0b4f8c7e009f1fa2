"""Runs the compiled packs over records: windows for cross-record rules, one result per record.

The engine knows nothing about output formats: it yields report entries (plain dicts,
the JSON report's `records[]` items) and a summary; `checker/reports/` presents them.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from policy_dsl.errors import Diagnostic, PolicyError
from policy_dsl.evaluate import PRECEDENCE, CompiledRule, Evaluator
from policy_dsl.load import LoadResult, load
from policy_dsl.values import add_duration

from .findings import record_entry

OUTCOMES = ("violation", "review", "tolerated", "compliant", "unlisted", "invalid")
DEFAULT_RULES = Path(__file__).resolve().parent.parent / "rules"


class PolicyLoadError(PolicyError):
    def __init__(self, result: LoadResult):
        super().__init__(result.errors or [Diagnostic("E100", "no policy loaded", None)])  # type: ignore[arg-type]
        self.result = result


@dataclass
class Policy:
    """Loaded, checked and compiled packs with their parameters."""

    result: LoadResult
    evaluator: Evaluator

    @property
    def content_hash(self) -> str:
        return self.result.program.content_hash

    def describe(self) -> dict:
        prog = self.result.program
        return {
            "packs": [{"name": p.name, "title": {"zh": p.title[0], "en": p.title[1]},
                       "version": p.version, "rules": len(p.rules)} for p in prog.packs],
            "content_hash": prog.content_hash,
        }


def default_rules_path() -> Path:
    return DEFAULT_RULES


def load_policy(paths: Sequence[str | Path] | None = None) -> Policy:
    """Load packs (default: the bundled `rules/`); raises PolicyLoadError on any error."""
    result = load(list(paths) if paths else [default_rules_path()])
    if not result.ok:
        raise PolicyLoadError(result)
    return Policy(result, Evaluator(result.program, result.params))


class WindowIndex:
    """Records by (window rule, key values), sorted by date, for cross-record rules."""

    def __init__(self, rules: Sequence[CompiledRule], params_for):
        self.rules = list(rules)
        self.params_for = params_for
        self._index: dict[tuple, list[tuple[dt.date, int, dict]]] = {}
        self._seq = 0
        self._sorted = True

    def add(self, record: dict) -> None:
        for c in self.rules:
            key = self.key(c, record)
            if key is None:
                continue
            self._index.setdefault((c.ir.id, key), []).append((record["date"], self._seq, record))
            self._seq += 1
            self._sorted = False

    def key(self, c: CompiledRule, record: dict) -> tuple | None:
        p = self.params_for(record)
        values = tuple(k(record, p, {}) for k in c.keys)
        return None if any(v is None for v in values) else values

    def lookup(self, c: CompiledRule, record: dict, params: dict) -> list[dict] | None:
        if not self._sorted:
            for bucket in self._index.values():
                bucket.sort(key=lambda t: (t[0], t[1]))
            self._sorted = True
        key = tuple(k(record, params, {}) for k in c.keys)
        if any(v is None for v in key):
            return None
        bucket = self._index.get((c.ir.id, key), [])
        day = record["date"]
        start = day - dt.timedelta(days=c.ir.window.days)
        lo = bisect.bisect_left(bucket, (start, -1))
        hi = bisect.bisect_right(bucket, (day, float("inf")))
        found = [t[2] for t in bucket[lo:hi]]
        if not any(r is record for r in found):
            found.append(record)  # a planned record is always in its own window
        return found


@dataclass
class Options:
    lang: str = "zh"
    explain: bool = False


@dataclass
class Summary:
    counts: Counter = field(default_factory=Counter)

    def add(self, outcome: str) -> None:
        self.counts[outcome] += 1

    def to_dict(self) -> dict:
        out = {"records": sum(self.counts.values())}
        out.update({o: self.counts.get(o, 0) for o in OUTCOMES})
        return out


class Engine:
    def __init__(self, policy: Policy, options: Options | None = None):
        self.policy = policy
        self.ev = policy.evaluator
        self.options = options or Options()

    @property
    def needs_windows(self) -> bool:
        return bool(self.ev.window_rules)

    def _params_for(self, record: dict) -> dict:
        return self.ev.params.values_for(record["jurisdiction"], record["date"])

    def check(self, loaded: Iterable[Any], history: Iterable[dict] = (), summary: Summary | None = None
              ) -> Iterator[dict]:
        """Evaluate loaded records (checker.records.LoadedRecord) in order; yield report entries.

        With cross-record rules the valid records are held in memory to build the windows;
        otherwise the input streams through in bounded memory."""
        summary = summary if summary is not None else Summary()
        index = None
        if self.needs_windows:
            loaded = list(loaded)
            index = WindowIndex(self.ev.window_rules, self._params_for)
            for h in history:
                index.add(h)
            for item in loaded:
                if item.data is not None:
                    index.add(item.data)
        for item in loaded:
            entry = self.check_one(item, index)
            summary.add(entry["outcome"])
            yield entry

    def check_one(self, item: Any, index: WindowIndex | None = None) -> dict:
        if item.data is None:
            return invalid_entry(item, self.options.lang)
        window = index.lookup if index is not None else None
        result = self.ev.evaluate(item.data, window, trace=self.options.explain)
        return record_entry(item, result, self.ev, self.options.lang, self.options.explain)


def invalid_entry(item: Any, lang: str) -> dict:
    raw = item.raw if isinstance(item.raw, dict) else {}
    return {
        "id": item.record_id,
        "outcome": "invalid",
        "jurisdiction": raw.get("jurisdiction") if isinstance(raw.get("jurisdiction"), str) else None,
        "date": raw.get("date") if isinstance(raw.get("date"), str) else None,
        "source": {"file": item.source, "line": item.line, "location": item.location},
        "findings": [],
        "errors": [{"path": e.path, "code": e.code, "message": e.message(lang)} for e in item.errors],
    }


def worst(outcomes: Iterable[str]) -> str:
    rank = {o: i for i, o in enumerate(PRECEDENCE)}
    return min(outcomes, key=lambda o: rank[o], default="unlisted")
