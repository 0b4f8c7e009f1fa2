"""Report entries: messages, remedies, evidence keyed by concrete paths, notes of a division by
zero, and facts named for readers."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from checker.engine.engine import Engine, Options
from checker.engine.policy import load_policy
from checker.findings import labels
from checker.findings.render import _Text
from checker.input.records import LoadedRecord, iter_records
from checker.input.validate import default_validator
from policy_dsl.values import format_value

ROOT = Path(__file__).resolve().parents[3]


def _item(raw: dict) -> LoadedRecord:
    data, errors = default_validator().validate(raw)
    assert data is not None, errors
    return LoadedRecord("t.jsonl", 1, "t.jsonl:1", raw.get("id"), raw, data, errors)


def _check(policy, items, **opts) -> list:
    return list(Engine(policy, Options(**opts)).check(items))


def test_every_finding_of_the_sample_batch_is_written(tmp_path):
    bundled = load_policy(None, cache=True)
    items = [i for i in iter_records([ROOT / "fixtures" / "sample" / "batch.jsonl"]) if i.data is not None]
    entries = _check(bundled, items, lang="en")
    outcomes = {f["outcome"] for e in entries for f in e["findings"]}
    assert {"violation", "review", "compliant"} <= outcomes
    assert any(f["missing"] for e in entries for f in e["findings"])
    assert any(f["remedy"] is None for e in entries for f in e["findings"])
    assert all(f["suggestion"]["text"] is not None for e in entries for f in e["findings"]
               if f["outcome"] in ("violation", "review"))
    assert any(c["fact"] for e in entries for f in e["findings"] for c in f.get("suggestion", {}).get("changes", ()))


DIVIDING = """
policy t.div "除法" / "Division"
  version "0.1"
  source "test"
  in force from 2013-01-01
  applies to all

forbid D1 "比例" / "Ratio"
  severity medium
  cite "t"
  when participants.officials > 0
  say "比例{participants.officials / (participants.enterprise - 2)}，人数{participants.officials}"
    / "Ratio {participants.officials / (participants.enterprise - 2)}, {participants.officials} officials"
  remedy "调整{participants.officials / (participants.enterprise - 2)}" / "Adjust {participants.officials / (participants.enterprise - 2)}"

forbid D2 "人数" / "Headcount"
  severity low
  cite "t"
  when participants.officials > 0 and participants.enterprise / (participants.enterprise - 2) > 100
  say "企业{participants.enterprise}人" / "{participants.enterprise} from the firm"
  remedy "减少到{participants.enterprise - 1}人" / "Reduce to {participants.enterprise - 1}"

forbid D3 "逐项" / "Per meal"
  severity low
  cite "t"
  when participants.officials > 0
  say "{count(m in meals where m.total_cny / (participants.enterprise - 2) > 1)}项"
    / "{count(m in meals where m.total_cny / (participants.enterprise - 2) > 1)} meals"
"""


@pytest.mark.parametrize("firm", [2, 3])
def test_a_division_by_zero_is_noted_once_per_place(firm, tmp_path):
    (tmp_path / "div.policy").write_text(DIVIDING, encoding="utf-8")
    policy = load_policy([tmp_path / "div.policy"])
    raw = yaml.safe_load((ROOT / "fixtures" / "records" / "planned_meal.yaml").read_text(encoding="utf-8"))
    raw["participants"]["enterprise"] = firm
    entries = _check(policy, [_item(raw)], lang="en")
    by_rule = {f["rule"]: f for f in entries[0]["findings"]}
    d1, d3 = by_rule["D1"], by_rule["D3"]
    if firm == 3:  # no division by zero: no notes
        assert d1["message"].startswith("Ratio ") and d1["remedy"] and not d1["notes"]
        assert d3["message"] == "1 meals" and not d3["notes"]
        return
    assert d1["message"].startswith("Ratio unknown, ")
    assert d1["remedy"] is None  # it would say "unknown"
    # the message's division and the remedy's: two places in the source
    assert d1["notes"] == [f"division by zero at {tmp_path / 'div.policy'}:13:15",
                           f"division by zero at {tmp_path / 'div.policy'}:14:82"]
    d2 = by_rule["D2"]  # undecided: a review naming no missing fact
    assert d2["outcome"] == "review" and d2["missing"] == [] and d2["notes"]
    assert d3["message"] == "unknown meals" and len(d3["notes"]) == 1  # one place, met once per meal


def test_message_placeholders_read_like_format_value():
    """Enum values by their labels in the reader's language, lists, exact decimals, yes/no."""
    from policy_dsl import ir
    from policy_dsl import types as ty
    from policy_dsl.explain import Closures

    enum_labels = {"approved_before": {"zh": "事前已批准", "en": ""}, "a": {"zh": "甲"}}
    for lang in ("zh", "en"):
        for value in ("approved_before", "a", "x", Decimal("254.7142"), Decimal("3.10"), ["a", "b"],
                      True, None, 3):
            for lab in (enum_labels, None, {}):
                t = ty.T("enum", labels=lab) if lab is not None else ty.ANY
                msg = ir.Message(("<", ir.Var("x", t), ">"), ("x",))
                text = _Text(msg, lang, Closures())
                assert text.render({}, {}, {"x": value}) == f"<{format_value(value, lab, lang)}>"
                if value is None:
                    assert text.render({}, {}, {"x": value}, strict=True) is None


def test_json_value_keeps_plain_values_and_converts_the_rest():
    import datetime as dt

    assert labels.json_value("s") == "s" and labels.json_value(None) is None
    assert labels.json_value(True) is True and labels.json_value(3) == 3
    assert labels.json_value([Decimal("1.50"), dt.date(2026, 1, 2), ("x",)]) == ["1.50", "2026-01-02", ["x"]]
    assert labels.json_value({"a": Decimal("2.0")}) == {"a": "2.0"}


FACTS = """
policy t.facts "事实" / "Facts"
  version "0.1"
  source "test"
  in force from 2013-01-01
  applies to all

permit P1 "自付工作餐" / "Self-paid meal"
  severity low
  cite "t"
  for each m in meals
  when m.payer == own_unit
  say "付款方{m.payer}" / "Payer {m.payer}"

forbid N1 "企业付费" / "Firm pays"
  severity high
  cite "t"
  for each m in meals
  when m.payer == enterprise and m.total_cny / m.diners > 100
  say "人均{m.total_cny / m.diners}" / "{m.total_cny / m.diners} each"

forbid N2 "贵重礼品" / "Valuable gift"
  severity high
  cite "t"
  when some g in gifts: g.value_cny > 200 and interaction.kind == private_social
  say "礼品{g.value_cny}元" / "Gift of {g.value_cny}"
"""


def test_evidence_is_keyed_by_the_concrete_path_of_each_field(tmp_path):
    """A fact read through a rule's element or a witness is keyed like a missing fact
    (`meals[1].payer`, not `m.payer`)."""
    (tmp_path / "t.policy").write_text(FACTS, encoding="utf-8")
    policy = load_policy([tmp_path / "t.policy"])
    raw = yaml.safe_load((ROOT / "fixtures" / "records" / "planned_meal.yaml").read_text(encoding="utf-8"))
    raw["interaction"]["kind"] = "private_social"
    raw["meals"].append({**raw["meals"][0], "payer": "own_unit"})
    raw["gifts"] = [{"direction": "received", "value_cny": "50.00"},
                    {"direction": "received", "value_cny": "500.00"}]
    entries = _check(policy, [_item(raw)])
    got = {f["rule"]: (f["element"], f["evidence"]) for f in entries[0]["findings"]}
    assert got == {
        "P1": ("meals[1]", {"meals[1].payer": "own_unit"}),
        "N1": ("meals[0]", {"meals[0].payer": "enterprise", "meals[0].total_cny": "768.00",
                            "meals[0].diners": 6}),
        "N2": (None, {"gifts[1].value_cny": "500.00", "interaction.kind": "private_social"}),
    }


def test_fact_text_names_fields_and_enum_values():
    assert labels.bundled().fact_text("meals[0].payer", "enterprise", "zh") == "用餐·付款方（meals[0].payer） = 企业"
    assert labels.bundled().fact_text("meals[0].payer", "enterprise", "en") == \
        "Meals › Payer (meals[0].payer) = the enterprise"
    assert labels.bundled().fact_text("leisure.activities", ["golf"], "zh").endswith("（leisure.activities） = 高尔夫")
    assert labels.bundled().fact_text("interaction.is_public_event", True, "en").endswith(" = yes")
    assert labels.bundled().fact_text("gifts[1].value_cny", None, "zh").endswith("（gifts[1].value_cny） = 未知")
    # derived facts, parameters and names the schema lacks keep their source text
    assert labels.bundled().fact_text("per_person_cny(m)", "128.00", "zh") == "per_person_cny(m) = 128.00"
    assert labels.bundled().fact_text("param.meal_cap_per_person_cny", "60", "en") == "param.meal_cap_per_person_cny = 60"
    assert labels.bundled().fact_text("m.payer", "enterprise", "zh") == "m.payer = enterprise"
    assert labels.bundled().fact_text("meals[i].payer", "enterprise", "zh") == "meals[i].payer = enterprise"
    assert labels.bundled().fact_text("approval", {"status": "none"}, "en") == "Approval (approval) = status=none"
