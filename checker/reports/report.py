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

    def __iter__(self) -> Iterator[dict]:
        return iter(self.entries)
