"""The first pass of a batch with window rules: past `HOLD` records, lines are decoded only in
the fields the window index files, and filed tentatively. The report must be the one that
decoding every record in full gives, whatever the later lines hold: invalid records (in a
field the first pass skips), unknown keys, duplicate ids, records a window meets before the
second pass reaches them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_check_cli import MINI, make_batch

from checker.input import jsonl, records
from checker.run import check as run


def _check(path: Path, out: Path, monkeypatch, hold: int, jobs: int = 1) -> bytes:
    monkeypatch.setattr(run, "HOLD", hold)
    code = run.run_check(files=[str(path)], rules=[MINI], jurisdiction=None, fmt="jsonl",
                         output=out, lang="zh", explain=False, history=[], input_format=None,
                         encoding="utf-8", jobs=jobs, failing=["violation"], log=None, mask=None)
    assert code == 1
    return out.read_bytes()


@pytest.fixture
def batch(tmp_path: Path) -> Path:
    recs = make_batch(1300)[::-1]  # latest first: windows reach records further down the file
    lines = [json.dumps(r, ensure_ascii=False) for r in recs]
    # Later lines whose projected fields (id, date, official.id, enterprise.uscc, meals) are
    # fine while the record is not: they must never count in an earlier record's window.
    for i in range(300, 1300, 7):
        bad = json.loads(lines[i])
        bad["stage"] = "nope"
        lines[i] = json.dumps(bad, ensure_ascii=False)
    for i in range(303, 1300, 11):
        bad = json.loads(lines[i])
        bad["unexpected_key"] = 1
        lines[i] = json.dumps(bad, ensure_ascii=False)
    lines[950] = lines[20]  # a duplicate id, late in the batch
    lines[960] = lines[960][:40]  # a truncated line
    f = tmp_path / "b.jsonl"
    f.write_text("\ufeff" + "\n".join(lines) + "\n\n", encoding="utf-8")
    return f


def test_tentative_first_pass_gives_the_full_report(batch, tmp_path, monkeypatch):
    resolved: list = []
    real = jsonl.line_valid

    def spy(*args, **kwargs):
        resolved.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(jsonl, "line_valid", spy)
    full = _check(batch, tmp_path / "full.jsonl", monkeypatch, hold=10**9)
    assert not resolved  # everything held and decoded in full
    tentative = _check(batch, tmp_path / "t.jsonl", monkeypatch, hold=2)
    assert tentative == full
    assert resolved  # windows met later records before the second pass did
    assert b'"rule":"B11"' in full  # the mini policy's window rule fired


def test_tentative_first_pass_with_jobs(batch, tmp_path, monkeypatch):
    full = _check(batch, tmp_path / "full.jsonl", monkeypatch, hold=10**9)
    assert _check(batch, tmp_path / "j.jsonl", monkeypatch, hold=2, jobs=2) == full


def test_line_valid_reads_one_line_as_the_loader_does(tmp_path):
    from checker.input.fastjson import decoder_for
    from checker.input.validate import default_validator

    good = json.dumps(make_batch(1)[0], ensure_ascii=False)
    f = tmp_path / "l.jsonl"
    f.write_bytes(b"\xef\xbb\xbf" + good.encode() + b"\r\n" + b'{"id": "x"}\n' + good.encode() + b"\n")
    v = default_validator()
    second = len(good.encode()) + 5
    for fast in (decoder_for(v), None):
        assert records.line_valid(str(f), 0, "utf-8", v, fast)  # the BOM is skipped
        assert not records.line_valid(str(f), second, "utf-8", v, fast)
        assert records.line_valid(str(f), second + len(b'{"id": "x"}\n'), "utf-8", v, fast)


def test_a_later_invalid_record_is_not_in_an_earlier_records_window(tmp_path, monkeypatch):
    """A's window (same official and firm, 30 days) would hold three firm-paid meals if C,
    further down the file and invalid, counted: B11 (more than two) must not fire."""
    meal = make_batch(1)[0]  # a firm-paid meal
    def rec(rid: str, date: str, stage: str = "completed") -> str:
        return json.dumps({**meal, "id": rid, "date": date, "stage": stage}, ensure_ascii=False)
    filler = [json.dumps({**r, "official": {**r["official"], "id": "O-other"}}, ensure_ascii=False)
              for r in make_batch(10)]
    f = tmp_path / "w.jsonl"
    for c_stage, fires in (("nope", False), ("completed", True)):
        lines = [*filler, rec("A", "2026-05-10"), rec("B", "2026-05-09"),
                 rec("C", "2026-05-08", c_stage)]
        f.write_text("\n".join(lines) + "\n", encoding="utf-8")
        full = _check(f, tmp_path / "full.jsonl", monkeypatch, hold=10**9)
        assert _check(f, tmp_path / "t.jsonl", monkeypatch, hold=2) == full
        a = next(json.loads(x) for x in full.splitlines() if x.startswith(b'{"id":"A"'))
        assert any(x["rule"] == "B11" for x in a["findings"]) is fires
