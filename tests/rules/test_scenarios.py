"""Every scenario of scenarios.md, as recorded in fixtures/scenarios/, gives its expected outcome
and rule ids through the public CLI (`qinqing check FILE… --format json`).

The expectations are fixtures/scenarios/expected.yaml (written from scenarios.md, with notes
where it is ambiguous):
- `outcome` is the record's outcome;
- `rules` must appear among the findings, as a finding's rule or as the permit it came from
  (`via`: a breached boundary of P8 is reported as B11.liaison via P8);
- `absent_rules` must not appear as a violation or review finding;
- `missing` must be among the facts the review findings name.
"""

from __future__ import annotations

import json
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "fixtures" / "scenarios"
EXPECTED = yaml.safe_load((SCENARIOS / "expected.yaml").read_text("utf-8"))


def _check(files: list[str]) -> dict | None:
    proc = subprocess.run(
        [sys.executable, "-c", "from checker.cli import main; main()", "check", *files,
         "--history", str(SCENARIOS / "filings.yaml"), "--format", "json", "--lang", "en"],
        check=False, capture_output=True, text=True, cwd=ROOT, timeout=300)
    try:
        return json.loads(proc.stdout)
    except ValueError:
        return None


@lru_cache(maxsize=1)
def records() -> dict:
    """Report entries by record id: one CLI run for all scenarios; if that run fails, one run
    per scenario, so that a crash on one record does not hide the others."""
    files = {sid: str(SCENARIOS / spec["file"]) for sid, spec in EXPECTED.items()}
    rep = _check(list(files.values()))
    if rep is not None:
        return {r["id"]: r for r in rep["records"]}
    out = {}
    for f in files.values():
        one = _check([f])
        if one is not None:
            out.update({r["id"]: r for r in one["records"]})
    return out


def _entry(sid: str) -> dict:
    recs = records()
    assert sid in recs, f"qinqing check gave no report for scenario {sid}"
    return recs[sid]


@pytest.mark.parametrize("sid", sorted(EXPECTED))
def test_scenario(sid: str):
    spec = EXPECTED[sid]
    entry = _entry(sid)
    findings = entry["findings"]
    shown = [(f["rule"], f.get("via"), f["outcome"], f["severity"]) for f in findings]
    assert entry["outcome"] == spec["outcome"], shown
    present = {f["rule"] for f in findings} | {f["via"] for f in findings if f.get("via")}
    for rid in spec.get("rules") or []:
        assert rid in present, (rid, shown)
    for rid in spec.get("absent_rules") or []:
        assert not any(f["rule"] == rid and f["outcome"] in ("violation", "review") for f in findings), \
            (rid, shown)
    named = {m for f in findings for m in f.get("missing") or []}
    assert set(spec.get("missing") or []) <= named, (spec.get("missing"), named)


def test_every_scenario_is_checked():
    assert set(records()) == set(EXPECTED)


def test_same_facts_two_dates_two_outcomes():
    """Scenario #12: Weihai's legacy ceremonial-drinking value ends with the 2025 national rule."""
    before, after = _entry("S12a"), _entry("S12b")
    assert before["outcome"] == "compliant"
    assert after["outcome"] == "violation"
    [b2] = [f for f in after["findings"] if f["rule"] == "B2"]
    assert (b2["via"], b2["severity"]) == ("P5", "low")
