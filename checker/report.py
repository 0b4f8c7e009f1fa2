"""The report being written: policy description, entries (streamed), and the summary."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from .engine import Summary


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
