"""The report being written: policy description, entries (streamed), and the summary."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from checker.engine.engine import Summary


@dataclass(frozen=True, slots=True)
class EncodedEntries:
    """Consecutive entries already written as JSON lines (by a `--jobs` worker), with their
    outcomes: the JSONL report copies the bytes instead of decoding and encoding them again.
    Only the JSONL writer is ever given these (`Report.entries` holds dicts otherwise)."""

    lines: bytes
    outcomes: tuple[str, ...]


@dataclass
class Report:
    policy: dict
    entries: Iterable[dict]
    summary: Summary = field(default_factory=Summary)
    lang: str = "zh"
    explain: bool = False
    inputs: list[str] = field(default_factory=list)  # input names, for report headings
    only: frozenset[str] | None = None  # `--only`: the outcomes to list (None: every record)
    failing: frozenset[str] = frozenset()  # outcomes that fail the run (`--fail-on`): JUnit

    def listed(self) -> frozenset[str] | None:
        """The outcomes a filtered view lists (`--only`), invalid records always among them
        (nothing is silently dropped), or None for every record."""
        return None if self.only is None else self.only | {"invalid"}

    def __iter__(self) -> Iterator[dict]:
        return iter(self.entries)
