"""Coverage of rule tests in legal terms: fire / not fire / review per rule, requires both ways,
enum values named in conditions, and thresholds reached below, at and above."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from checker.authoring import coverage as cov
from checker.authoring import coverage_report as cov_report
from checker.authoring import coverage_sites as cov_sites
from checker.authoring.ruletests import load_tests, run
from checker.cli import _register_all, app
from checker.engine.policy import load_policy
from checker.schema import record_schema
from policy_dsl import ir
from policy_dsl import types as ty

PACK = Path(__file__).parent / "data" / "ruletests" / "pack"
TESTS = PACK / "cov.tests.yaml"


def qq(*args: str | Path):
    _register_all()
    return CliRunner().invoke(app, [str(a) for a in args])


def collect(pack: Path = PACK, tests: Path = TESTS, only: int | None = None) -> cov.Coverage:
    policy = load_policy([pack])
    cases = load_tests(tests)
    results = run(cases[:only] if only else cases, policy, "en")
    return cov.collect(policy.evaluator, policy.result.files, results)


EXPECTED_EN = """\
Coverage (20 tests)
✓ N1 Accepting gifts or cash (cov.policy:14)  fired 1 · not fired 4 · review 1
    ✓ enum g.direction (line 19): received ✓
    ✓ enum g.form (line 19): cash ✓ · digital_red_envelope ✓
    ✗ enum g.disposition (line 20): refused ✓ · returned ✗ · registered_handed_in ✗
✓ N4 Accepting a gift above the cap (cov.policy:25)  fired 1 · not fired 4 · review 1
    ✓ enum g.direction (line 30): received ✓
    ✓ enum g.form (line 30): goods ✓
    ✗ threshold g.value_cny > param.gift_cap_cny (line 30): below ✗ · at ✓ · above ✓
✓ P3 Work meal during official activity (cov.policy:35)  fired 18 · not fired 1 · review 3
    ✓ require 1 (line 40) per_person_cny(m) <= param.meal_cap_per_person_cny or m.employee_rate_paid == true else B1: met 16 · breached 1
    ✓ require 2 (line 41) m.alcohol == none else B2: met 13 · breached 4
    ✗ enum m.reason (line 39): missed_meal_due_to_work ✓ · remote_location ✗ · event_catering ✗
    ✓ enum m.alcohol (line 41): none ✓
    ✓ threshold per_person_cny(m) <= param.meal_cap_per_person_cny (line 40): below ✓ · at ✓ · above ✓
✓ B1 Work meal over the cost cap (cov.policy:44)  fired 1 · not fired 16 · review 1
✓ B2 Alcohol at a work meal (cov.policy:53)  fired 4 · not fired 13 · review 1
✓ B11 Frequent meals from one firm (cov.policy:60)  fired 1 · not fired 18 · review 1
    ✗ enum m.payer (line 12): enterprise ✓ · mixed ✗
    ✓ threshold count(r in window where some m in r.meals: enterprise_paid(m)) > 2 (line 66): below ✓ · at ✓ · above ✓
✓ B15 Fault-tolerance pre-registration (cov.policy:71)  fired 1 · not fired 18 · review 1

Totals: rules 7/7 (100.0%) · requires both ways 2/2 · enum values 9/14 (64.3%) · threshold points 8/9 (88.9%)
"""


def test_coverage_text_of_the_test_pack() -> None:
    text = cov_report.to_text(collect(), "en").replace(f"{PACK}/", "")
    assert text == EXPECTED_EN


def test_coverage_text_in_chinese() -> None:
    text = cov_report.to_text(collect(), "zh").replace(f"{PACK}/", "")
    lines = text.splitlines()
    assert lines[0] == "覆盖率（20 个测试）"
    assert lines[1] == "✓ N1 收受礼品礼金 (cov.policy:14)  触发 1 · 未触发 4 · 复核 1"
    assert "    ✗ 阈值 g.value_cny > param.gift_cap_cny (第30行)：低于 ✗ · 等于 ✓ · 高于 ✓" in lines
    assert ("    ✓ 要求 2 (第41行) m.alcohol == none else B2：满足 13 · 违反 4") in lines
    assert lines[-1] == "合计：规则 7/7 (100.0%) · 要求两种结果 2/2 · 枚举值 9/14 (64.3%) · 阈值点 8/9 (88.9%)"


def test_fewer_tests_leave_rules_uncovered() -> None:
    c = collect(only=3)  # at the cap, one cent over, below at the employee rate
    by_id = {r.rule.id: r for r in c.rules}
    p3 = by_id["P3"]
    assert (p3.fired, p3.not_fired, p3.review, p3.missing) == (3, 0, 0, ["not_fired", "review"])
    b1 = by_id["B1"]
    assert (b1.fired, b1.not_fired, b1.covered) == (1, 2, False)
    assert by_id["N1"].missing == ["fired", "not_fired", "review"]  # no gifts in these records
    assert c.percent == 0.0
    text = cov_report.to_text(c, "en").replace(f"{PACK}/", "")
    assert "✗ P3 Work meal during official activity (cov.policy:35)  fired 3 · not fired 0 · review 0  " \
           "(not covered: not fired, review)" in text
    assert "✗ B1 Work meal over the cost cap (cov.policy:44)  fired 1 · not fired 2 · review 0  " \
           "(not covered: review)" in text


def test_coverage_json() -> None:
    data = cov_report.to_json(collect())
    assert data["totals"] == {
        "rules": {"covered": 7, "total": 7, "percent": 100.0},
        "requires": {"covered": 2, "total": 2, "percent": 100.0},
        "enum_values": {"covered": 9, "total": 14, "percent": 64.3},
        "thresholds": {"covered": 8, "total": 9, "percent": 88.9, "sites": 3, "complete": 2},
    }
    n4 = next(r for r in data["rules"] if r["rule"] == "N4")
    assert n4["tests"]["fired"] == ["N4 gift above the cap"]
    assert n4["tests"]["review"] == ["N4 review when the value is unknown"]
    th = n4["thresholds"][0]
    assert (th["comparison"], th["fact"], th["threshold"], th["values"]) == (
        "g.value_cny > param.gift_cap_cny", "g.value_cny", "param.gift_cap_cny", ["200"])
    assert (th["below"], th["at"], th["above"], th["covered"]) == (0, 1, 1, False)
    n1 = data["rules"][0]
    assert n1["enums"][2] == {"expression": "g.disposition", "location": f"{PACK}/cov.policy:20",
                              "values": ["refused", "returned", "registered_handed_in"],
                              "hit": ["refused"], "missed": ["returned", "registered_handed_in"],
                              "seen": ["kept_unregistered", "refused"]}


def test_threshold_values_differ_by_jurisdiction(tmp_path: Path) -> None:
    path = tmp_path / "city.tests.yaml"
    path.write_text(f"""\
base: {PACK / 'bases' / 'work_meal.yaml'}
tests:
  - name: Wuhai test cap is 35
    jurisdiction: "150300"
    patch: {{"meals[0].total_cny": "140.00"}}
    expect: {{outcome: compliant}}
  - name: baseline cap is 60
    expect: {{outcome: compliant}}
""", encoding="utf-8")
    c = collect(tests=path)
    th = next(r for r in c.rules if r.rule.id == "P3").thresholds[0]
    assert th.counts == {"below": 0, "at": 2, "above": 0}
    assert th.limits == {"35", "60"}


def test_cli_coverage_min(tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    shutil.copytree(PACK, pack)
    tests = (pack / "cov.tests.yaml").read_text(encoding="utf-8").split("\n\n")
    (pack / "cov.tests.yaml").write_text("\n\n".join(tests[:4]) + "\n", encoding="utf-8")
    res = qq("test", pack, "--coverage-min", "50", "--lang", "en")
    assert res.exit_code == 1
    assert res.stderr == "Rule coverage 14.3% is below the floor of 50%.\n"
    assert "Totals: rules 1/7 (14.3%)" in res.stdout
    zh = qq("test", pack, "--coverage-min", "50")
    assert zh.stderr == "规则覆盖率 14.3% 低于下限 50%。\n"
    assert qq("test", PACK, "--coverage-min", "100").exit_code == 0


def test_cli_coverage_json_goes_to_stdout_and_the_report_to_stderr() -> None:
    res = qq("test", PACK, "--coverage", "--coverage-format", "json", "--lang", "en")
    assert res.exit_code == 0
    data = json.loads(res.stdout)
    assert data["tests"] == {"total": 20, "passed": 20, "failed": []}
    assert data["totals"]["rules"]["percent"] == 100.0
    assert res.stderr.endswith("20 tests: 20 passed, 0 failed\n")


def test_cli_coverage_scope_is_the_folder_tested(tmp_path: Path) -> None:
    root = tmp_path / "rules"
    shutil.copytree(PACK, root / "common")
    (root / "common" / "params").rename(root / "params")
    city = root / "city"
    city.mkdir()
    (city / "city.policy").write_text("""\
policy test.city "城市清单" / "City list"
  applies to "150300"

import test.cov

forbid C1 "城市规则" / "City rule"
  severity low
  cite "测试"
  when venue.type == private_club
""", encoding="utf-8")
    (city / "city.tests.yaml").write_text("""\
base: ../common/bases/work_meal.yaml
tests:
  - name: club
    jurisdiction: "150300"
    patch: {"venue.type": private_club}
    expect: {includes: [C1]}
  - name: restaurant
    jurisdiction: "150300"
    expect: {excludes: [C1]}
  - name: unknown venue
    jurisdiction: "150300"
    patch: {"venue.type": null}
    expect: {includes: [C1]}
""", encoding="utf-8")
    res = qq("test", city, "--coverage", "--lang", "en")
    assert res.exit_code == 0, res.output
    cov_lines = res.stdout.split("Coverage (3 tests)\n")[1].splitlines()
    assert cov_lines[0] == f"✓ C1 City rule ({city / 'city.policy'}:6)  fired 1 · not fired 1 · review 1"
    assert cov_lines[1] == "    ✓ enum venue.type (line 9): private_club ✓"
    assert cov_lines[-1].startswith("Totals: rules 1/1 (100.0%)")


# ---- static facts -------------------------------------------------------------------------------------
def test_review_is_not_required_when_a_rule_reads_only_required_facts(tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    shutil.copytree(PACK / "params", pack / "params")
    shutil.copytree(PACK / "bases", pack / "bases")
    (pack / "p.policy").write_text("""\
policy test.stage "阶段" / "Stage"

forbid S1 "计划中" / "Planned"
  severity low
  cite "测试"
  when stage == planned and official.id != "X"

forbid S2 "干预" / "Interventions"
  severity low
  cite "测试"
  when length(interventions) > 0
""", encoding="utf-8")
    (pack / "p.tests.yaml").write_text("""\
base: bases/work_meal.yaml
tests:
  - {name: planned, patch: {stage: planned}, expect: {includes: [S1]}}
  - {name: completed, expect: {excludes: [S1]}}
""", encoding="utf-8")
    c = collect(pack, pack / "p.tests.yaml")
    s1, _s2 = c.rules
    assert (s1.review_possible, s1.covered, s1.missing) == (False, True, [])
    text = cov_report.to_text(c, "en")
    assert "✓ S1 Planned (" in text and "fired 1 · not fired 1 · review n/a" in text
    # length() is never below 0: the threshold counts as reached below.
    assert "    ✗ threshold length(interventions) > 0 (line 11): below n/a · at ✓ · above ✗" in text, text


def test_nullable_paths() -> None:
    nullable = cov_sites.Nullable(record_schema())
    assert not nullable("official.id")
    assert not nullable("stage")
    assert not nullable("date")
    assert nullable("official.rank")
    assert nullable("meals")
    assert nullable("meals[].total_cny")
    assert nullable("no_such_field")


def _f(path: str, t=ty.ANY, base=None) -> ir.Field:
    return ir.Field(base, path.rsplit(".", 1)[-1], t, path)


VENUE_TYPE = _f("venue.type", ty.STRING, _f("venue"))
DINERS = ir.Field(ir.Var("m", ty.ANY), "diners", ty.INT, "meals[].diners")
KNOWN = ir.IsKnown(VENUE_TYPE, False, ty.BOOL)
MISSING = ir.IsKnown(VENUE_TYPE, True, ty.BOOL)
EQ = ir.Cmp("==", VENUE_TYPE, ir.Const("hotel", ty.STRING), ty.BOOL)


@pytest.mark.parametrize("expr, unknown", [
    (KNOWN, False),
    (_f("stage"), False),
    (_f("venue"), True),
    (EQ, True),
    (ir.And((KNOWN, EQ), ty.BOOL), False),  # `x is known and x == …`
    (ir.And((EQ, KNOWN), ty.BOOL), False),  # Kleene: the order does not matter
    (ir.Or((MISSING, EQ), ty.BOOL), False),  # `x is missing or x == …`
    (ir.Or((KNOWN, EQ), ty.BOOL), True),
    (ir.If(KNOWN, EQ, ir.Const(False, ty.BOOL), ty.BOOL), False),
    (ir.Arith("/", ir.Const(1, ty.INT), ir.Const(2, ty.INT), ty.NUMBER, None), False),
    (ir.Arith("/", ir.Const(1, ty.INT), ir.Const(0, ty.INT), ty.NUMBER, None), True),
    (ir.Arith("/", ir.Const(240, ty.INT), DINERS, ty.NUMBER, None), True),  # diners may be absent
    (ir.Builtin("coalesce", (_f("venue"), ir.Const(1, ty.INT)), ty.ANY), False),
    (ir.WindowRef(ty.ANY), True),
])
def test_may_be_unknown(expr, unknown) -> None:
    nullable = cov_sites.Nullable(record_schema())
    assert cov_sites.may_be_unknown(expr, nullable) is unknown


def test_division_by_a_field_that_cannot_be_zero() -> None:
    nullable = cov_sites.Nullable(record_schema())
    assert nullable.minimum("meals[].diners") == 1
    known = frozenset({"m.diners"})
    e = ir.Arith("/", ir.Const(240, ty.INT), DINERS, ty.NUMBER, None)
    assert cov_sites.may_be_unknown(e, nullable, known) is False


def test_impossible_threshold_points() -> None:
    nullable = cov_sites.Nullable(record_schema())
    length = ir.Builtin("length", (_f("interventions"),), ty.INT)
    assert cov_sites.floor_of(length, nullable) == 0
    assert cov_sites._impossible(length, ir.Const(0, ty.INT), False, nullable) == ("below",)
    assert cov_sites._impossible(length, ir.Const(-1, ty.INT), False, nullable) == ("below", "at")
    assert cov_sites._impossible(length, ir.Const(2, ty.INT), False, nullable) == ()


def test_describe_ir_without_source() -> None:
    e = ir.Cmp(">", ir.Field(ir.Var("g", ty.ANY), "value_cny", ty.MONEY, "gifts[].value_cny"),
               ir.ParamRef("gift_cap_cny", ty.MONEY), ty.BOOL)
    assert cov_sites.describe(e) == "g.value_cny > param.gift_cap_cny"


# ---- the bundled packs ----------------------------------------------------------------------------------
ROOT = Path(__file__).resolve().parents[2]


def test_bundled_packs_reach_full_rule_coverage() -> None:
    """Issue 5: the bundled packs reach 100% rule coverage and report their threshold coverage
    (`qinqing test rules --coverage --coverage-min 100`)."""
    from checker.authoring.ruletests import discover

    policy = load_policy([ROOT / "rules"])
    tests = [t for f in discover([ROOT / "rules"]) for t in load_tests(f)]
    c = cov.collect(policy.evaluator, policy.result.files, run(tests, policy, "zh"))
    assert c.totals()["thresholds"]["sites"] > 0
    says = {"fired": "fires", "not_fired": "does not fire", "review": "goes to review"}
    missing = [f"{r.rule.id} ({r.rule.span.file}:{r.rule.span.line}): no test where it "
               + " / ".join(says[m] for m in r.missing) for r in c.rules if not r.covered]
    assert not missing, "\n".join(missing)


def test_cli_junit_keeps_stdout_and_coverage_goes_to_stderr_or_a_file(tmp_path: Path) -> None:
    res = qq("test", PACK, "--coverage", "--format", "junit", "--lang", "en")
    assert res.exit_code == 0
    assert res.stdout.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites')
    assert res.stderr.startswith("Coverage (20 tests)\n")
    out = tmp_path / "cov.json"
    res = qq("test", PACK, "--coverage-format", "json", "--coverage-output", out, "-q", "--lang", "en")
    assert res.stdout == "20 tests: 20 passed, 0 failed\n"
    assert json.loads(out.read_text(encoding="utf-8"))["totals"]["rules"]["covered"] == 7
