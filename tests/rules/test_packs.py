"""The bundled rules load cleanly, and every rule test beside the packs passes.

Rule tests are YAML files `rules/**/tests/*.tests.yaml` (format: checker/ruletests.py). Each
test becomes one pytest case, named by its file and test name, so a failure shows the
differences the runner found.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest

from checker.authoring import ruletests
from checker.engine.policy import Policy, load_policy
from checker.schema import bundled_schemas
from policy_dsl.load import load

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "rules"
TEST_FILES = ruletests.discover([RULES])


@lru_cache(maxsize=1)
def policy() -> Policy:
    return load_policy([RULES])


def test_rules_load_without_errors_or_warnings():
    result = load([RULES], bundled_schemas())
    problems = [d for d in result.diagnostics if d.severity in ("error", "warning")]
    assert result.ok
    assert problems == []


def test_every_assumed_value_is_listed_as_a_note():
    result = load([RULES], bundled_schemas())
    notes = [d for d in result.diagnostics if d.code == "N301"]
    assumed = {(prof.code, name) for prof, name, _ in result.params.assumed()}
    assert notes and len(notes) == len(result.params.assumed())
    assert ("000000", "meal_cap_per_person_cny") in assumed
    # Sourced values are not assumptions.
    assert ("370100", "approval_mode") not in assumed
    assert ("000000", "gift_register_deadline") not in assumed


def test_there_are_rule_tests_for_every_pack_folder():
    folders = {p.parent.parent.name for p in TEST_FILES}
    assert {"common", "xixiangtang"} <= folders


def _cases():
    for path in TEST_FILES:
        for t in ruletests.load_tests(path):
            yield pytest.param(t, id=f"{path.relative_to(RULES)}::{t.name}")


@pytest.mark.parametrize("case", list(_cases()))
def test_rule_case(case):
    [result] = ruletests.run([case], policy(), lang="zh")
    assert result.passed, f"{case.location} {case.name}\n" + "\n".join(result.diffs)
