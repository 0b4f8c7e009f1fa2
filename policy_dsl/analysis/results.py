"""What an analysis answers: its options, its issues for the author, what it left undecided."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

DEFAULT_GAP_FIELDS = ("interaction.kind", "meals[].reason", "gifts[].form")
METHOD = "z3"


@dataclass(frozen=True)
class Options:
    jurisdiction: str = "000000"
    day: dt.date = field(default_factory=dt.date.today)
    list_bound: int = 3
    timeout_ms: int = 20000
    gap_fields: tuple[str, ...] = DEFAULT_GAP_FIELDS


@dataclass
class Issue:
    """One analysis finding (a warning for the author)."""

    kind: str  # conflict | gap | dead_rule | require_implied | require_never_met
    rules: tuple[str, ...]
    message: tuple[str, str]  # zh, en
    span: Any = None  # policy_dsl.errors.Span of the main rule
    field_name: str | None = None
    value: str | None = None
    record: dict | None = None  # counterexample (raw JSON record), confirmed by the evaluator
    claim: dict = field(default_factory=dict)  # what `qinqing check` on the record shows
    bound: str | None = None  # caveat when the answer holds only within the list bound
    detail: tuple[tuple[str, str], ...] = ()  # (zh, en) notes

    @property
    def key(self) -> str:
        parts = [self.kind, *self.rules]
        if self.field_name:
            parts += [self.field_name.replace("[]", ""), self.value or ""]
        return "-".join(p.replace(".", "_") for p in parts if p)


@dataclass
class Undecided:
    kind: str
    subject: str
    reason: tuple[str, str]


@dataclass
class Analysis:
    jurisdiction: str
    day: dt.date
    method: str
    solver: str
    list_bound: int
    packs: list[dict]
    rules: int
    issues: list[Issue]
    undecided: list[Undecided]
    checked: dict[str, int]
    approximations: list[str]
    gap_fields: tuple[str, ...]
