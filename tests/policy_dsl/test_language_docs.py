"""docs/language.md stays true: its complete `policy` examples load without a diagnostic, and
the tutorial's rule behaves as the text says."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from checker.schema import bundled_schemas
from policy_dsl.errors import render_all
from policy_dsl.evaluate import Evaluator
from policy_dsl.load import load

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```policy\n(.*?)```", DOC, re.DOTALL)
PARAMS = Path(__file__).parent / "good" / "params"


def _load(text: str, tmp_path: Path):
    shutil.copytree(PARAMS, tmp_path / "params")
    (tmp_path / "doc.policy").write_text(text, encoding="utf-8")
    return load([tmp_path], bundled_schemas())


def test_there_are_examples() -> None:
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("text", BLOCKS, ids=lambda t: t.split('"')[0].strip().split()[-1])
def test_policy_examples_load_cleanly(text: str, tmp_path: Path) -> None:
    result = _load(text, tmp_path)
    assert render_all(result.diagnostics, result.sources) == ""


def test_tutorial_rule_behaves_as_described(tmp_path: Path) -> None:
    text = next(b for b in BLOCKS if "tutorial.wuhai" in b)
    result = _load(text, tmp_path)
    ev = Evaluator(result.program, result.params)
    base = {"id": "r", "stage": "completed", "jurisdiction": "150302",
            "date": dt.date(2024, 6, 1), "official": {"id": "O-1"}}
    gift = {"direction": "received", "giver_is_management_service_object": True, "form": "cash",
            "value_cny": Decimal(500)}

    def outcome(**changes):
        res = ev.evaluate({**base, **changes})
        missing = []
        for f in res.findings:
            if f.cond is not None:
                missing += sorted(ev.explainer({**base, **changes}, f, res.params).missing(f.cond))
        return res.outcome, missing

    assert outcome(gifts=[{**gift, "disposition": "kept_unregistered"}]) == ("violation", [])
    assert outcome(gifts=[gift]) == ("review", ["gifts[0].disposition"])
    assert outcome() == ("review", ["gifts"])
    assert outcome(gifts=[]) == ("unlisted", [])
    unknown_giver = {k: v for k, v in gift.items() if k != "giver_is_management_service_object"}
    assert outcome(gifts=[{**unknown_giver, "disposition": "refused"}]) == ("unlisted", [])
    assert outcome(jurisdiction="150402", gifts=[{**gift, "disposition": "kept_unregistered"}]) \
        == ("unlisted", [])
