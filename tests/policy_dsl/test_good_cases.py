"""Good policies load without a diagnostic, and read back the same after unparsing."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from checker.schema import record_schema
from policy_dsl import ast as A
from policy_dsl.errors import render_all
from policy_dsl.load import load
from policy_dsl.parser import parse, parse_expression
from policy_dsl.unparse import unparse

GOOD = Path(__file__).parent / "good"
FILES = sorted(GOOD.glob("*.policy"))


def test_good_policies_load_cleanly() -> None:
    result = load([GOOD], record_schema())
    assert render_all(result.diagnostics, result.sources) == ""
    assert result.ok
    assert {p.name for p in result.program.packs} == {
        "good.defs", "good.negative", "good.positive", "good.boundaries", "good.city"}


def test_good_policies_cover_every_rule_kind_and_clause() -> None:
    kinds, clauses = set(), set()
    for path in FILES:
        pf, _ = parse(path.read_text(encoding="utf-8"), str(path))
        for r in pf.rules:
            kinds.add(r.kind)
            clauses |= set(r.clause_spans) | ({"require"} if r.requires else set())
    assert kinds == {"forbid", "permit", "boundary", "tolerance"}
    assert clauses >= {"severity", "cite", "basis", "in_force", "foreach", "window", "when", "unless",
                       "require", "overrides", "covers", "say", "remedy", "outcome"}


def _strip(node):
    """An AST without positions, to compare a parse with the parse of its unparse."""
    if isinstance(node, tuple):
        return tuple(_strip(x) for x in node)
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        return (type(node).__name__,) + tuple(
            _strip(getattr(node, f.name)) for f in dataclasses.fields(node)
            if not f.name.endswith("span"))
    return node


def _expressions(pf: A.PolicyFile):
    for d in pf.defines:
        yield d.body
    for r in pf.rules:
        for e in (r.when, r.unless, *(q.cond for q in r.requires)):
            if e is not None:
                yield e


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_unparse_round_trips(path: Path) -> None:
    pf, diags = parse(path.read_text(encoding="utf-8"), str(path))
    assert diags == []
    for e in _expressions(pf):
        text = unparse(e)
        assert _strip(parse_expression(text)) == _strip(e), text
