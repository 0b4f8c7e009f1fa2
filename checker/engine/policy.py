"""Loading the packs for a run: parse, check and compile them (or take them from the cache).

`load_policy` is what every command calls; a `Policy` is the compiled program with its
parameters and its evaluator.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from checker.findings.labels import FieldLabels
from checker.findings.render import Renderer
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
    _renderers: dict[str, Renderer] = field(default_factory=dict, repr=False)
    _validator: Any = field(default=None, repr=False)

    def validator(self) -> Any:
        """The validator of this policy's record kinds (`checker.input.kinds`)."""
        from checker.input.kinds import kind_validator
        if self._validator is None:
            self._validator = kind_validator(self.program.schemas)
        return self._validator

    def renderer(self, lang: str) -> Renderer:
        """What writes this policy's findings in `lang` (kept: it compiles plans as it goes)."""
        hit = self._renderers.get(lang)
        if hit is None:
            hit = self._renderers[lang] = Renderer(self.evaluator, lang,
                                                          FieldLabels(self.program.schema, self.program.schemas))
        return hit

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


def all_schemas(extra: dict | None = None) -> dict:
    """The bundled record schemas, with `extra` (kind → schema) added or replacing."""
    from checker.schema import bundled_schemas

    return {**bundled_schemas(), **(extra or {})}


def default_rules_path() -> Path:
    """The bundled packs: `$QINQING_RULES`, else `rules/` beside the package (a checkout or an
    editable install), else `rules/` in the working directory (an installed copy run from a
    checkout)."""
    if os.environ.get("QINQING_RULES"):
        return Path(os.environ["QINQING_RULES"])
    if DEFAULT_RULES.is_dir() or not (Path.cwd() / "rules").is_dir():
        return DEFAULT_RULES
    return Path.cwd() / "rules"


def load_policy(paths: Sequence[str | Path] | None = None, cache: bool = False,
                schemas: dict | None = None) -> Policy:
    """Load packs (default: the bundled `rules/`); raises PolicyLoadError on any error.

    The rules are checked against the bundled record schemas, the `*.schema.json` files beside
    the packs, and `schemas` (record kind → schema, e.g. from `--schema`), later ones replacing
    earlier ones of the same kind. With `cache`, a compiled policy is reused between runs
    (`checker/engine/policy_cache.py`); the result then carries the program and parameters only
    (no sources, syntax trees or notes)."""
    targets: list[str | Path] = list(paths) if paths else [default_rules_path()]
    key = None
    if cache:
        from checker.engine import policy_cache
        key = policy_cache.cache_key(targets, schemas)
        hit = policy_cache.read(key) if key else None
        if hit is not None:
            program, params = hit
            return Policy(CachedResult(program, params), Evaluator(program, params))
    from policy_dsl.load import load

    result = load(targets, all_schemas(schemas))
    if not result.ok:
        raise PolicyLoadError(result)
    assert result.program is not None  # ok
    if key:
        policy_cache.write(key, result.program, result.params)
    return Policy(result, Evaluator(result.program, result.params))
