"""The report being written: policy description, entries (streamed), and the summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator

from .engine import Summary


@dataclass
class Report:
    policy: dict
    entries: Iterable[dict]
    summary: Summary = field(default_factory=Summary)
    lang: str = "zh"
    explain: bool = False

    def __iter__(self) -> Iterator[dict]:
        return iter(self.entries)
