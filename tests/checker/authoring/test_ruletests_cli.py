"""`qinqing test`: rule tests beside the packs, end to end, plus the bundled packs' own tests.

The test pack `data/ruletests/pack` (cov.policy, cov.tests.yaml) is a small pack whose
tests all pass; failing and malformed test files are written to tmp_path beside a copy.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from checker.authoring.ruletests import RuleTestError, discover, load_tests, mentioned_rules, run
from checker.cli import _register_all, app
from checker.commands.test import pack_roots
from checker.engine.policy import load_policy

ROOT = Path(__file__).resolve().parents[3]
PACK = Path(__file__).parents[1] / "data" / "ruletests" / "pack"
BUNDLED = ROOT / "rules"


def qq(*args: str | Path):
    _register_all()
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    dst = tmp_path / "pack"
    shutil.copytree(PACK, dst)
    return dst


def write_tests(folder: Path, text: str, name: str = "extra.tests.yaml") -> Path:
    p = folder / name
    p.write_text(text, encoding="utf-8")
    return p


# ---- the runner API ------------------------------------------------------------------------------
def test_every_test_of_the_test_pack_passes() -> None:
    policy = load_policy([PACK])
    results = run(load_tests(PACK / "cov.tests.yaml"), policy, "zh")
    assert [r.test.name for r in results if not r.passed] == []
    assert len(results) == 20
    first = results[0]
    assert (first.test.name, first.test.line, first.outcome, first.rules) == (
        "P3 applies at exactly the cap", 4, "compliant", ["P3"])
    assert first.record["id"] == "S08" and first.result.trace  # kept for coverage


def test_history_records_feed_cross_record_rules() -> None:
    policy = load_policy([PACK])
    by_name = {r.test.name: r for r in run(load_tests(PACK / "cov.tests.yaml"), policy, "en")}
    third = by_name["B11 third firm-paid meal in 30 days"]
    assert "B11" in third.rules and third.outcome == "review"
    assert "B11" not in by_name["B11 second firm-paid meal in 30 days is fine"].rules


def test_discover_finds_test_files_once(pack: Path) -> None:
    assert discover([pack, pack / "cov.tests.yaml"]) == [pack / "cov.tests.yaml"]
    assert discover([pack / "cov.policy"]) == []


def test_mentioned_rules() -> None:
    assert mentioned_rules({"findings": ["B1", "P3"], "includes": ["N1"], "excludes": ["N2"],
                            "details": [{"rule": "B2"}]}) == {"B1", "P3", "N1", "N2", "B2"}


def test_pack_roots_climb_to_the_folder_with_params(tmp_path: Path) -> None:
    (tmp_path / "rules" / "params").mkdir(parents=True)
    (tmp_path / "rules" / "city").mkdir()
    (tmp_path / "alone").mkdir()
    assert pack_roots([tmp_path / "rules" / "city"]) == [tmp_path / "rules"]
    assert pack_roots([tmp_path / "alone"]) == [tmp_path / "alone"]


# ---- malformed test files name file:line --------------------------------------------------------------
MALFORMED = """\
base: bases/work_meal.yaml
tests:
  - name: typo in a key
    expected: {outcome: compliant}
  - name: no expectation
    patch: {"meals[0].diners": 3}
  - name: bad outcome
    expect: {outcome: violated}
  - name: patch into nothing
    patch: {"meals[5].diners": 3}
    expect: {outcome: compliant}
  - name: no expectation
    expect: {findings: B1}
"""


def test_malformed_tests_are_all_reported_with_file_and_line(pack: Path) -> None:
    path = write_tests(pack, MALFORMED)
    with pytest.raises(RuleTestError) as exc:
        load_tests(path)
    assert exc.value.messages == [
        f"{path}:3: unknown key `expected` in test `typo in a key`; did you mean `expect`?",
        f"{path}:3: test `typo in a key` needs an `expect:` map",
        f"{path}:5: test `no expectation` needs an `expect:` map",
        f"{path}:8: unknown outcome `violated`; did you mean `violation`?",
        f"{path}:9: patch `meals[5].diners`: no element [5]",
        f"{path}:12: test name `no expectation` is used twice (first at line 5)",
        f"{path}:13: `findings` must be a list of rule ids",
    ]


def test_invalid_yaml_names_line_and_column(pack: Path) -> None:
    path = write_tests(pack, "tests:\n  - name: x\n    expect: {outcome: [}\n")
    with pytest.raises(RuleTestError) as exc:
        load_tests(path)
    assert str(exc.value).startswith(f"{path}:3:")
    assert "invalid YAML" in str(exc.value)


def test_missing_fixture_and_base(pack: Path) -> None:
    path = write_tests(pack, "tests:\n  - name: a\n    fixture: nowhere.yaml\n    expect: {outcome: compliant}\n"
                             "  - name: b\n    expect: {outcome: compliant}\n")
    with pytest.raises(RuleTestError) as exc:
        load_tests(path)
    assert exc.value.messages[0].startswith(f"{path}:2: cannot read {pack / 'nowhere.yaml'}")
    assert exc.value.messages[1] == f"{path}:5: no `record`, `fixture` or file `base` to start test `b` from"


def test_cli_exit_2_on_a_malformed_file(pack: Path) -> None:
    write_tests(pack, MALFORMED)
    res = qq("test", pack, "--lang", "en")
    assert res.exit_code == 2
    assert "unknown key `expected` in test `typo in a key`; did you mean `expect`?" in res.stderr
    assert res.stderr.endswith("The test files are malformed (7 problems); fix them first.\n")
    zh = qq("test", pack)
    assert zh.stderr.endswith("测试文件有误（7 处），请先修正。\n")


# ---- the command ---------------------------------------------------------------------------------------
def test_cli_passes_on_the_test_pack() -> None:
    res = qq("test", PACK, "--lang", "en")
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0] == str(PACK / "cov.tests.yaml")
    assert lines[1] == "  ✓ P3 applies at exactly the cap"
    assert lines[-1] == "20 tests: 20 passed, 0 failed"
    zh = qq("test", PACK)
    assert zh.stdout.splitlines()[-1] == "20 个测试：20 通过，0 失败"


FAILING = """\
base: bases/work_meal.yaml
tests:
  - name: wrong expectation
    patch: {"meals[0].total_cny": "240.04"}
    expect: {outcome: compliant, findings: [P3]}
  - name: right expectation
    expect: {outcome: compliant}
"""


def test_cli_shows_a_readable_diff_and_exits_1(pack: Path) -> None:
    path = write_tests(pack, FAILING)
    res = qq("test", path, "--lang", "en")
    assert res.exit_code == 1
    assert res.stdout == (
        f"{path}\n"
        f"  ✗ wrong expectation  ({path}:3)\n"
        "      outcome: expected compliant, got violation\n"
        "      findings differ:\n"
        "          - expected but absent: P3\n"
        "          + reported but not expected: B1\n"
        "      actual outcome: violation\n"
        "      reported findings:\n"
        "        B1 [meals[0]] violation medium: 人均60.01元，超过标准60.00元（假定值，待核实本地标准）\n"
        "  ✓ right expectation\n"
        "\n"
        "2 tests: 1 passed, 1 failed\n")
    zh = qq("test", path)
    assert "      结论：应为 compliant，实为 violation\n" in zh.stdout
    assert "          - 应有而没有：P3\n" in zh.stdout
    assert "        B1 [meals[0]] 违规 中：人均60.01元，超过标准60.00元（假定值，待核实本地标准）\n" in zh.stdout
    quiet = qq("test", pack, "-q", "--lang", "en")
    assert "✓" not in quiet.stdout and "✗ wrong expectation" in quiet.stdout


def test_junit_is_valid_xml_with_failures(pack: Path, tmp_path: Path) -> None:
    path = write_tests(pack, FAILING)
    out = tmp_path / "junit.xml"
    res = qq("test", pack, "--format", "junit", "-o", out, "--lang", "en")
    assert res.exit_code == 1 and res.stdout == ""
    root = ET.parse(out).getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("22", "1", "0")
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {str(pack / "cov.tests.yaml"), str(path)}
    case = next(c for c in root.iter("testcase") if c.get("name") == "wrong expectation")
    assert case.get("line") == "3" and case.get("file") == str(path)
    fail = case.find("failure")
    assert fail.get("message") == "outcome: expected compliant, got violation"
    assert fail.text.startswith(f"{path}:3\noutcome: expected compliant, got violation\n")
    assert sum(1 for _ in root.iter("failure")) == 1


def test_cli_exit_2_when_packs_do_not_load(pack: Path) -> None:
    (pack / "cov.policy").write_text('policy test.cov "x" / "x"\nforbid N1 "t" / "T"\n  when nope\n',
                                     encoding="utf-8")
    res = qq("test", pack, "--lang", "en")
    assert res.exit_code == 2
    assert "unknown name `nope`" in res.stderr
    assert res.stderr.endswith("The policies did not load; run `qinqing lint` and fix the errors.\n")


def test_cli_exit_2_without_tests(tmp_path: Path) -> None:
    res = qq("test", tmp_path, "--lang", "en")
    assert res.exit_code == 2
    assert res.stderr == f"No rule tests (*.tests.yaml) found under {tmp_path}.\n"
    assert qq("test", tmp_path / "nope").stderr == f"找不到：{tmp_path / 'nope'}\n"


def test_cli_rules_option_selects_the_packs(pack: Path, tmp_path: Path) -> None:
    tests_only = tmp_path / "only-tests"
    tests_only.mkdir()
    shutil.copy(pack / "cov.tests.yaml", tests_only)
    shutil.copytree(pack / "bases", tests_only / "bases")
    res = qq("test", tests_only, "--rules", pack, "--lang", "en")
    assert res.exit_code == 0, res.output


def test_subprocess_run_has_no_traceback() -> None:
    proc = subprocess.run([sys.executable, "-m", "checker.cli", "test", str(PACK), "-q"],
                          capture_output=True, cwd=ROOT, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.decode().endswith("20 个测试：20 通过，0 失败\n")


# ---- the bundled packs' own rule tests run in the project's suite ------------------------------------
BUNDLED_TESTS = discover([BUNDLED]) if BUNDLED.is_dir() else []


@pytest.fixture(scope="module")
def bundled_policy():
    return load_policy([BUNDLED])


@pytest.mark.skipif(not BUNDLED_TESTS, reason="the bundled packs have no rule tests yet")
@pytest.mark.parametrize("path", BUNDLED_TESTS, ids=lambda p: str(p.relative_to(BUNDLED)))
def test_bundled_rule_tests(path: Path, bundled_policy) -> None:
    results = run(load_tests(path), bundled_policy, "zh")
    failures = [f"{r.test.location} {r.test.name}:\n  " + "\n  ".join(r.diffs) for r in results if not r.passed]
    assert not failures, "\n".join(failures)


DETAILS = """\
base: bases/work_meal.yaml
tests:
  - name: message in English
    patch: {"meals[0].total_cny": "240.04"}
    lang: en
    expect: {details: [{rule: B1, message: "60.01 CNY per person"}]}
  - name: wrong severity
    patch: {"meals[0].total_cny": "240.04"}
    expect: {details: [{rule: B1, severity: high, message: "人均60.01元"}]}
"""


def test_details_match_in_the_tests_language(pack: Path) -> None:
    path = write_tests(pack, DETAILS)
    results = run(load_tests(path), load_policy([pack]), "en")
    assert [r.passed for r in results] == [True, False]
    assert results[1].diffs == [(
        'no finding matches B1 (severity high, message "人均60.01元") (findings of that rule: '
        "B1 violation medium meals[0] via P3: 人均60.01元，超过标准60.00元（假定值，待核实本地标准）)")]


def test_file_level_jurisdiction_and_patch_apply_to_the_base(pack: Path) -> None:
    path = write_tests(pack, """\
base: bases/work_meal.yaml
jurisdiction: "150300"
patch: {"meals[0].total_cny": "140.00"}
tests:
  - name: at the city cap of 35
    expect: {outcome: compliant}
""")
    (t,) = load_tests(path)
    assert t.record["jurisdiction"] == "150300" and t.record["meals"][0]["total_cny"] == "140.00"
    assert run([t], load_policy([pack]), "en")[0].passed
    bad = write_tests(pack, 'jurisdiction: "150300"\ntests:\n  - {name: a, record: {id: x}, expect: {outcome: invalid}}\n',
                      "bad.tests.yaml")
    with pytest.raises(RuleTestError) as exc:
        load_tests(bad)
    assert exc.value.messages == [f"{bad}:1: a file-level `patch`, `jurisdiction` or `date` needs a `base`"]
