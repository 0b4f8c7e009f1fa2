"""`qinqing diff`: two versions of a small pack, as folders and as git revisions of a temp repo."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from checker.authoring.diff import DiffError, diff, parse_side, render_html, render_text, to_data

ROOT = Path(__file__).resolve().parents[3]
PACK = ROOT / "tests" / "policy_dsl" / "analysis" / "packs" / "conflict"


def _record(rid: str, **extra) -> dict:
    base = {"id": rid, "stage": "completed", "jurisdiction": "000000", "date": "2026-03-01",
            "official": {"id": "O-1"}, "interaction": {"kind": "research_survey"}, "meals": [],
            "enforcement_actions": [], "venue": {"type": "government_office"},
            "transport": {"mode": "own_unit_vehicle"}}
    base.update(extra)
    return base


RECORDS = [
    # 80 per person: over the old cap (60), within the new one (100) → B1 disappears, P3 appears.
    _record("R1", meals=[{"reason": "missed_meal_due_to_work", "payer": "official_self", "total_cny": "160",
                          "diners": 2}]),
    _record("R2", meals=[{"reason": "remote_location", "payer": "own_unit", "total_cny": "150", "diners": 2}]),
    # 50 per person: compliant under both.
    _record("R3", meals=[{"reason": "missed_meal_due_to_work", "payer": "official_self", "total_cny": "100",
                          "diners": 2}]),
    # A private club: N3 fires under both.
    _record("R4", venue={"type": "private_club"}),
    {"id": "R5", "stage": "nonsense"},  # invalid under both
]


@pytest.fixture()
def versions(tmp_path):
    old = tmp_path / "old"
    shutil.copytree(PACK, old)
    new = tmp_path / "new"
    shutil.copytree(PACK, new)
    params = new / "params" / "000000.yaml"
    params.write_text(params.read_text("utf-8").replace("value: 60", "value: 100"), "utf-8")
    recs = tmp_path / "batch.jsonl"
    recs.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in RECORDS), "utf-8")
    return old, new, recs


def test_folders(versions):
    old, new, recs = versions
    res = diff(str(old), str(new), [str(recs)])
    d = to_data(res)
    assert d["records"] == 5
    assert d["outcome_changed"] == 2 and d["findings_changed"] == 0
    assert d["transitions"] == [{"old": "violation", "new": "compliant", "count": 2}]
    assert d["by_rule"] == [
        {"rule": "B1", "change": "disappeared", "count": 2,
         "examples": [{"id": "R1", "old": "violation", "new": "compliant"},
                      {"id": "R2", "old": "violation", "new": "compliant"}]},
        {"rule": "P3", "change": "appeared", "count": 2,
         "examples": [{"id": "R1", "old": "violation", "new": "compliant"},
                      {"id": "R2", "old": "violation", "new": "compliant"}]},
    ]
    assert d["old"]["content_hash"] != d["new"]["content_hash"]
    assert to_data(res, examples=1)["by_rule"][0]["examples"] == [{"id": "R1", "old": "violation", "new": "compliant"}]


def test_text_and_html(versions):
    old, new, recs = versions
    res = diff(str(old), str(new), [str(recs)])
    zh = render_text(res, "zh")
    assert "记录 5 条：结论改变 2 条，结论不变但发现项改变 0 条" in zh
    assert "  violation → compliant: 2" in zh
    assert "  B1 不再出现: 2  例：R1 (violation → compliant), R2 (violation → compliant)" in zh
    assert "  P3 新出现: 2" in zh
    en = render_text(res, "en")
    assert "5 records: 2 change outcome, 0 keep their outcome with other findings" in en
    assert "  B1 disappears: 2  e.g. R1 (violation → compliant), R2 (violation → compliant)" in en
    page = render_html(res, "en")
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page and "http" not in page
    assert "<td><code>B1</code></td><td>disappears</td><td class=n>2</td>" in page
    same = diff(str(old), str(old), [str(recs)])
    assert "两版规则对这批记录的结论完全相同。" in render_text(same, "zh")
    assert "both versions give the same results for this batch." in render_text(same, "en")


def test_same_outcome_other_findings(tmp_path, versions):
    old, _, recs = versions
    new = tmp_path / "new2"
    shutil.copytree(PACK, new)
    pol = new / "conflict.policy"
    pol.write_text(pol.read_text("utf-8").replace('cite "测试 N3"', 'cite "测试 N3"\n  outcome review'), "utf-8")
    res = diff(str(old), str(new), [str(recs)])
    d = to_data(res)
    assert d["transitions"] == [{"old": "violation", "new": "review", "count": 1}]
    assert d["by_rule"] == [{"rule": "N3", "change": "changed", "count": 1,
                             "examples": [{"id": "R4", "old": "violation", "new": "review"}]}]


def _git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


@pytest.fixture()
def repo(tmp_path, versions):
    old, new, recs = versions
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    shutil.copytree(old, repo / "rules")
    _git(repo, "add", "rules")
    _git(repo, "commit", "-q", "-m", "v1")
    shutil.copy(new / "params" / "000000.yaml", repo / "rules" / "params" / "000000.yaml")
    _git(repo, "commit", "-q", "-am", "v2")
    return repo, recs


def test_git_revisions(repo):
    repo, recs = repo
    for old, new in (("HEAD~1:rules", "HEAD:rules"), ("git:HEAD~1", "git:HEAD"), ("git:HEAD^:rules", "git:HEAD")):
        res = diff(old, new, [str(recs)], repo=repo)
        d = to_data(res)
        assert d["outcome_changed"] == 2, (old, new)
        assert {g["rule"] for g in d["by_rule"]} == {"B1", "P3"}
    assert to_data(diff("HEAD:rules", "HEAD:rules", [str(recs)], repo=repo))["outcome_changed"] == 0


def test_git_errors(repo):
    repo, recs = repo
    with pytest.raises(DiffError) as e:
        diff("nosuchrev:rules", "HEAD:rules", [str(recs)], repo=repo)
    assert e.value.message("en").startswith("git failed:") or "unknown git revision" in e.value.message("en")
    with pytest.raises(DiffError) as e:
        diff("HEAD:nosuch", "HEAD:rules", [str(recs)], repo=repo)
    assert e.value.message("en").startswith("git failed:")


@pytest.mark.parametrize("spec", ["--output=/tmp/x:rules", "HEAD;rm -rf /:rules", "HEAD $(id):rules",
                                  "HEAD..main:rules", "HEAD:../etc", "HEAD:/etc", "git:-x", "HEAD:-rf"])
def test_unsafe_specs_are_rejected(spec):
    with pytest.raises(DiffError) as e:
        parse_side(spec)
    msg = e.value.message("en")
    assert msg.startswith("not a valid git revision:") or msg.startswith("not a valid path inside the repository:")
    assert e.value.message("zh").startswith(("不是有效的 git 版本：", "不是有效的仓库内路径："))


def test_missing_side():
    with pytest.raises(DiffError) as e:
        parse_side("no/such/folder")
    assert e.value.message("zh") == "找不到规则目录或 git 版本：no/such/folder"
    assert e.value.message("en") == "no such pack folder or git revision: no/such/folder"


def qinqing(*args, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "checker.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=300, env={**os.environ, "PYTHONIOENCODING": "utf-8"})


def test_cli(repo, tmp_path):
    repo, recs = repo
    p = qinqing("diff", "HEAD~1:rules", "HEAD:rules", "--records", recs, "--format", "json", "--repo", repo)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["outcome_changed"] == 2
    out = tmp_path / "impact.html"
    p = qinqing("diff", "HEAD~1:rules", "HEAD:rules", "--records", recs, "-f", "html", "-o", out, cwd=repo)
    assert p.returncode == 0 and out.read_text("utf-8").startswith("<!DOCTYPE html>")
    p = qinqing("diff", repo / "rules", repo / "rules", "--records", recs, "--lang", "en")
    assert p.returncode == 0 and "both versions give the same results" in p.stdout
    p = qinqing("diff", "HEAD:../x", "HEAD:rules", "--records", recs, "--repo", repo)
    assert p.returncode == 2 and p.stderr.strip() == "不是有效的仓库内路径：'../x'"
    p = qinqing("diff", repo / "rules", repo / "rules", "--records", tmp_path / "none.jsonl", "--lang", "en")
    assert p.returncode == 2 and p.stderr.startswith("Cannot read input:")
