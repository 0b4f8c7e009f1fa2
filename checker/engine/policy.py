"""Loading the packs for a run: parse, check and compile them (or take them from the cache).

`load_policy` is what every command calls; a `Policy` is the compiled program with its
parameters and its evaluator.
"""

from __future__ import annotations

import bisect
import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from policy_dsl import ir
from policy_dsl.errors import Diagnostic, PolicyError
from policy_dsl.evaluate import Evaluator

DEFAULT_RULES = Path(__file__).resolve().parents[2] / "rules"

if TYPE_CHECKING:
    from policy_dsl.load import LoadResult


class PolicyLoadError(PolicyError):
    def __init__(self, result: LoadResult):
        super().__init__(result.errors or [Diagnostic("E100", "no policy loaded", None)])  # type: ignore[arg-type]
        self.result = result


@dataclass
class CachedResult:
    """What a cached policy keeps of a `LoadResult` (the parser is not even imported)."""

    program: ir.ProgramIR
    params: Any
    diagnostics: list = field(default_factory=list)
    sources: dict = field(default_factory=dict)
    files: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    ok: bool = True


@dataclass
class Policy:
    """Loaded, checked and compiled packs with their parameters."""

    result: LoadResult | CachedResult
    evaluator: Evaluator

    @property
    def program(self) -> ir.ProgramIR:
        assert self.result.program is not None  # a Policy is made only from a program that loaded
        return self.result.program

    @property
    def content_hash(self) -> str:
        return self.program.content_hash

    def describe(self) -> dict:
        prog = self.program
        return {
            "packs": [{"name": p.name, "title": {"zh": p.title[0], "en": p.title[1]},
                       "version": p.version, "rules": len(p.rules)} for p in prog.packs],
            "content_hash": prog.content_hash,
        }


def default_rules_path() -> Path:
    """The bundled packs: `$QINQING_RULES`, else `rules/` beside the package (a checkout or an
    editable install), else `rules/` in the working directory (an installed copy run from a
    checkout)."""
    if os.environ.get("QINQING_RULES"):
        return Path(os.environ["QINQING_RULES"])
    if DEFAULT_RULES.is_dir() or not (Path.cwd() / "rules").is_dir():
        return DEFAULT_RULES
    return Path.cwd() / "rules"


def load_policy(paths: Sequence[str | Path] | None = None, cache: bool = False) -> Policy:
    """Load packs (default: the bundled `rules/`); raises PolicyLoadError on any error.

    With `cache`, a compiled policy is reused between runs (`checker/policy_cache.py`); the
    result then carries the program and parameters only (no sources, syntax trees or notes)."""
    targets: list[str | Path] = list(paths) if paths else [default_rules_path()]
    key = None
    if cache:
        from checker.engine import policy_cache
        key = policy_cache.cache_key(targets)
        hit = policy_cache.read(key) if key else None
        if hit is not None:
            program, params = hit
            return Policy(CachedResult(program, params), EpochEvaluator(program, params))
    from policy_dsl.load import load

    result = load(targets)
    if not result.ok:
        raise PolicyLoadError(result)
    assert result.program is not None  # ok
    if key:
        policy_cache.write(key, result.program, result.params)
    return Policy(result, EpochEvaluator(result.program, result.params))


# ---- caching by "epoch" -------------------------------------------------------------------
def change_dates(program: ir.ProgramIR, params: Any) -> list[dt.date]:
    """Every date on which a rule, a pack or a parameter value starts or stops being in force.
    Between two consecutive dates nothing that depends on the date can change."""
    days: set[dt.date] = set()
    for pack in program.packs:
        days.update(d for d in (pack.start, pack.until) if d is not None)
        for r in pack.rules:
            days.update(d for d in (r.start, r.until) if d is not None)
    for prof in params.profiles.values():
        for versions in prof.values.values():
            for v in versions:
                days.update(d for d in (v.start, v.until) if d is not None)
    return sorted(days)


class EpochParams:
    """`ParamSet` with `values_for` cached per (jurisdiction, epoch) instead of per day, so a
    batch spread over years resolves each parameter a few times, not once per record."""

    def __init__(self, params: Any, bounds: list[dt.date]):
        self._params, self._bounds = params, bounds
        self._cache: dict[tuple[str, int], dict] = {}

    def values_for(self, code: str, day: dt.date) -> dict[str, Any]:
        key = (code, bisect.bisect_right(self._bounds, day))
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self._params.values_for(code, day)
        return hit

    def __getattr__(self, name: str) -> Any:
        return getattr(self._params, name)


class EpochEvaluator(Evaluator):
    """The evaluator with the per-date lookups (rules in force, parameter values) cached per
    epoch (see `change_dates`)."""

    def __init__(self, program: ir.ProgramIR, params: Any):
        super().__init__(program, params)
        self._bounds = change_dates(program, params)
        self.params = EpochParams(params, self._bounds)  # type: ignore[assignment]
        self._epoch_rules: dict[tuple[str, int], Any] = {}

    def rules_in_force(self, code: str, day: dt.date):
        key = (code, bisect.bisect_right(self._bounds, day))
        hit = self._epoch_rules.get(key)
        if hit is None:
            hit = self._epoch_rules[key] = super().rules_in_force(code, day)
        return hit
