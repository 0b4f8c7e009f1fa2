"""`qinqing lint --analyze` end to end: the real CLI in a subprocess, on the planted packs.

Every counterexample file it writes is checked with the real `qinqing check --format json`
and must show the claimed outcome.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from checker.input.validate import default_validator
from checker.schema import bundled_schemas, record_schema
from policy_dsl.load import load

ROOT = Path(__file__).resolve().parents[3]
PACKS = ROOT / "tests" / "policy_dsl" / "analysis" / "packs"
DATE = "2026-03-01"


def qinqing(*args: str | Path, **env: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "checker.cli", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env={**os.environ, "PYTHONIOENCODING": "utf-8", **env})


def analyze_json(pack: str, tmp_path: Path, *extra: str) -> tuple[dict, Path]:
    out = tmp_path / f"cx-{pack}"
    p = qinqing("lint", PACKS / pack, "--analyze", "--date", DATE, "--format", "json",
                "--counterexamples", out, *extra)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout), out


def check_json(record: Path, pack: str) -> dict:
    p = qinqing("check", record, "--rules", PACKS / pack, "--format", "json", "--fail-on", "never")
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


@pytest.mark.parametrize("pack,expected", [
    ("conflict", {("conflict", "P1", "N8"), ("conflict", "P3", "N2")}),
    ("gap", {("gap", "interaction.kind", "public_business_event"), ("gap", "interaction.kind", "training_lecture"),
             ("gap", "meals[].reason", "celebration")}),
])
def test_counterexamples_reproduce_with_qinqing_check(pack, expected, tmp_path):
    data, out = analyze_json(pack, tmp_path)
    issues = data["analysis"]["issues"]
    found = {(i["kind"], *i["rules"]) if i["kind"] == "conflict" else (i["kind"], i["field"], i["value"])
             for i in issues}
    assert found == expected
    files = sorted(out.glob("*.json"))
    assert len(files) == len(expected)
    for issue in issues:
        path = Path(issue["counterexample_file"])
        raw = json.loads(path.read_text("utf-8"))
        assert raw == issue["counterexample"]
        valid, errors = default_validator().validate(raw)
        assert valid is not None, errors
        report = check_json(path, pack)
        (rec,) = report["records"]
        if issue["kind"] == "conflict":
            rules = {f["rule"] for f in rec["findings"]}
            p_id, n_id = issue["rules"]
            assert {f"{p_id}/{n_id}", p_id, n_id} <= rules
            # The forbid fires (violation) and the conflict finding (review) is beside it.
            assert rec["outcome"] == issue["expect"]["outcome"] == "violation"
            assert [f["outcome"] for f in rec["findings"] if f["rule"] == f"{p_id}/{n_id}"] == ["review"]
        else:
            assert rec["outcome"] == "unlisted" and rec["findings"] == []


def test_dead_pack_json(tmp_path):
    data, out = analyze_json("dead", tmp_path)
    a = data["analysis"]
    assert a["counts"] == {"conflict": 0, "gap": 0, "dead_rule": 3, "require_implied": 1, "require_never_met": 1}
    assert [i["rules"] for i in a["issues"]] == [["D1"], ["D2"], ["D3"], ["P3", "B2"], ["P5", "B1"]]
    assert a["issues"][0]["location"]["line"] == 45
    assert a["method"]["name"] == "z3" and a["method"]["list_bound"] == 3
    assert a["undecided"] == []
    assert list(out.glob("*.json")) == []  # a dead rule has no record to show, only its proof
    assert data["diagnostics"][0]["code"] == "N301"


def test_text_output_zh_and_en(tmp_path):
    p = qinqing("lint", PACKS / "conflict", "--analyze", "--date", DATE, "--no-notes")
    assert p.returncode == 0
    assert "规则分析：行政区划 000000，日期 2026-03-01，生效规则 10 条" in p.stdout
    assert "方法：z3" in p.stdout and "每个反例均经参考求值器确认后才报告" in p.stdout
    assert "warning[conflict] 冲突: 正面清单 P3 与负面清单 N2 可同时成立于同一 meals 元素，二者之间未声明 overrides" in p.stdout
    assert "提示：在 P1 中声明 `overrides N8`，或在 N8 中声明 `overrides P1`，或收窄其中一条的条件" in p.stdout
    assert "分析结果：冲突 2，遗漏 0，死规则 0，多余 require 0，永不满足 require 0，未判定 0" in p.stdout
    p = qinqing("lint", PACKS / "gap", "--analyze", "--date", DATE, "--lang", "en", "--no-notes",
                "--counterexamples", tmp_path / "cx")
    assert p.returncode == 0
    assert ("warning[gap] gap: meals[].reason = celebration: no positive or negative item covers this value "
            "(outcome unlisted)") in p.stdout
    assert ("interaction.kind = public_business_event: rules mention this value, but a record with it can "
            "match no item of either list (outcome unlisted)") in p.stdout
    assert "  = mentioned by: P0, P1" in p.stdout
    assert f"counterexample: {tmp_path / 'cx' / 'gap-interaction_kind-training_lecture.json'} " \
           "(qinqing check shows outcome=unlisted)" in p.stdout
    assert "method: z3" in p.stdout
    assert "analysis: 0 conflicts, 3 gaps, 0 dead rules" in p.stdout


def test_exit_codes(tmp_path):
    assert qinqing("lint", PACKS / "dead", "--analyze", "--date", DATE, "--strict").returncode == 1
    assert qinqing("lint", PACKS / "dead", "--strict", "--no-notes").returncode == 0  # no analysis, no warnings
    bad = tmp_path / "bad.policy"
    bad.write_text('policy x.y "x" / "x"\n  applies to all\nforbid N1 "t" / "t"\n  when nosuch.field == 1\n',
                   "utf-8")
    p = qinqing("lint", bad, "--analyze", "--date", DATE)
    assert p.returncode == 2
    assert "规则有错误，未进行分析。" in p.stdout
    p = qinqing("lint", bad, "--analyze", "--date", DATE, "--lang", "en")
    assert "the policies have errors; no analysis was run." in p.stdout


def test_bad_options():
    p = qinqing("lint", PACKS / "dead", "--analyze", "--date", "2026-13-01")
    assert p.returncode == 2 and "日期应为 YYYY-MM-DD：2026-13-01" in p.stderr
    p = qinqing("lint", PACKS / "dead", "--analyze", "--jurisdiction", "15030", "--lang", "en")
    assert p.returncode == 2 and "a jurisdiction code has 6 digits: 15030" in p.stderr


def test_gap_field_option(tmp_path):
    data, _ = analyze_json("gap", tmp_path, "--gap-field", "venue.type", "--gap-field", "nosuch.field")
    a = data["analysis"]
    assert a["gap_fields"] == ["venue.type", "nosuch.field"]
    assert a["undecided"] == [{"kind": "gap", "subject": "nosuch.field",
                               "reason": {"zh": "不是记录模式中的枚举字段", "en": "not an enum field of the record schema"}}]
    # venue.type is not decisive in the gap pack: every value is covered except with a gap kind.
    assert {i["field"] for i in a["issues"]} <= {"venue.type"}


def test_default_rules_and_summary_language():
    """Without a path, `lint` checks the bundled rules (or `QINQING_RULES`); the summary line
    is in the language asked for."""
    bundled = load([ROOT / "rules"], bundled_schemas())
    files, n_rules = len(bundled.sources), len(bundled.program.rules)
    p = qinqing("lint", "--no-notes", QINQING_RULES="")
    assert p.returncode == 0, p.stderr
    assert p.stdout == f"{files} 个文件，{n_rules} 条规则：错误 0，警告 0，提示 0\n"
    p = qinqing("lint", "--no-notes", "--lang", "en", QINQING_RULES="")
    assert p.stdout == f"{files} files, {n_rules} rules: 0 errors, 0 warnings, 0 notes\n"
    p = qinqing("lint", "--no-notes", "--lang", "en", QINQING_RULES=str(PACKS / "dead"))
    dead = load([PACKS / "dead"], record_schema())
    assert p.stdout == f"{len(dead.sources)} files, {len(dead.program.rules)} rules: 0 errors, 0 warnings, 0 notes\n"
