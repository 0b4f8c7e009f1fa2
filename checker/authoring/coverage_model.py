"""What coverage records: per rule, fired / not fired / review, each `require` both ways, enum
values seen, threshold points reached; and the totals."""

from __future__ import annotations

from dataclasses import dataclass, field

from policy_dsl import ir

ORDERED_KINDS = ("int", "number", "money", "date", "datetime", "duration")
_WHERE = ("below", "at", "above")


# ---- what is covered ----------------------------------------------------------------------
@dataclass
class Site:
    """A place in a rule's conditions: its source text and where it is."""

    text: str
    file: str
    line: int

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class RequireCoverage:
    index: int  # 1-based position among the permit's requires
    boundary: str
    site: Site
    met: int = 0
    breached: int = 0
    undecided: int = 0

    @property
    def covered(self) -> bool:
        return self.met > 0 and self.breached > 0


@dataclass
class EnumCoverage:
    site: Site  # the enum-valued expression, e.g. `g.form`
    values: tuple[str, ...]  # the values named in conditions, in order of appearance
    hit: set[str] = field(default_factory=set)
    seen: set[str] = field(default_factory=set)  # every value the tests had there

    @property
    def missed(self) -> list[str]:
        return [v for v in self.values if v not in self.hit]


@dataclass
class ThresholdCoverage:
    site: Site  # the comparison, e.g. `g.value_cny > param.gift_cap_cny`
    fact: str  # the fact side
    limit: str  # the threshold side
    counts: dict[str, int] = field(default_factory=lambda: {w: 0 for w in _WHERE})
    limits: set[str] = field(default_factory=set)  # threshold values met (params differ by place)
    impossible: tuple[str, ...] = ()  # points no valid record can reach (`length(x) > 0`: below)

    @property
    def hit(self) -> int:
        return sum(1 for w in _WHERE if self.counts[w] or w in self.impossible)


@dataclass
class RuleCoverage:
    rule: ir.RuleIR
    review_possible: bool
    fired: int = 0
    not_fired: int = 0
    review: int = 0
    requires: list[RequireCoverage] = field(default_factory=list)
    enums: list[EnumCoverage] = field(default_factory=list)
    thresholds: list[ThresholdCoverage] = field(default_factory=list)
    tests: dict[str, set[str]] = field(default_factory=lambda: {"fired": set(), "not_fired": set(),
                                                                 "review": set()})

    @property
    def covered(self) -> bool:
        return self.fired > 0 and self.not_fired > 0 and (self.review > 0 or not self.review_possible)

    @property
    def missing(self) -> list[str]:
        out = []
        if not self.fired:
            out.append("fired")
        if not self.not_fired:
            out.append("not_fired")
        if self.review_possible and not self.review:
            out.append("review")
        return out


@dataclass
class Coverage:
    rules: list[RuleCoverage]
    tests: int

    def totals(self) -> dict:
        rules = len(self.rules)
        covered = sum(1 for r in self.rules if r.covered)
        reqs = [q for r in self.rules for q in r.requires]
        enums = [e for r in self.rules for e in r.enums]
        ths = [t for r in self.rules for t in r.thresholds]
        values = sum(len(e.values) for e in enums)
        hit = sum(len(e.values) - len(e.missed) for e in enums)
        points = 3 * len(ths)
        reached = sum(t.hit for t in ths)
        return {
            "rules": {"covered": covered, "total": rules, "percent": _pct(covered, rules)},
            "requires": {"covered": sum(1 for q in reqs if q.covered), "total": len(reqs),
                         "percent": _pct(sum(1 for q in reqs if q.covered), len(reqs))},
            "enum_values": {"covered": hit, "total": values, "percent": _pct(hit, values)},
            "thresholds": {"covered": reached, "total": points, "percent": _pct(reached, points),
                           "sites": len(ths), "complete": sum(1 for t in ths if t.hit == 3)},
        }

    @property
    def percent(self) -> float:
        """Rule coverage: the share of rules seen firing, not firing and (if reachable) in review."""
        return self.totals()["rules"]["percent"]


def _pct(n: int, d: int) -> float:
    return round(100.0 * n / d, 1) if d else 100.0
