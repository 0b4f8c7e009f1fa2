"""`qinqing check` batch conveniences: the summary line after writing a file, the failures-only
view (`--only`), empty inputs, binary formats and terminals, a report over its own input,
option values that do not exist, and the CI formats (JUnit XML, SARIF 2.1.0)."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "tests" / "checker" / "data"
MINI = DATA / "minipolicy"
PLANNED = ROOT / "fixtures" / "records" / "planned_meal.yaml"
MALFORMED = ROOT / "fixtures" / "records" / "malformed.jsonl"
SCENARIOS = sorted((ROOT / "fixtures" / "scenarios").glob("S*.yaml"))
SARIF_SCHEMA = json.loads((DATA / "sarif" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
CACHE = Path(tempfile.gettempdir()) / f"qinqing-test-cache-{os.getuid()}"


def run(*args: str | Path, command: str = "check", stdin: bytes = b"", **kw) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "checker.cli", command, *map(_rel, args)]
    env = {**os.environ, "QINQING_CACHE_DIR": str(CACHE), "COLUMNS": "200"}
    env.pop("NO_COLOR", None)
    proc = subprocess.run(cmd, input=stdin, capture_output=True, cwd=ROOT, env=env, timeout=300, **kw)
    assert b"Traceback" not in proc.stderr, proc.stderr.decode()
    return proc


def _rel(arg: str | Path) -> str:
    """Paths inside the repository as a user would type them (relative to its root)."""
    if isinstance(arg, Path) and arg.is_relative_to(ROOT):
        return str(arg.relative_to(ROOT))
    return str(arg)


def err(proc: subprocess.CompletedProcess) -> str:
    return proc.stderr.decode("utf-8")


@pytest.fixture(scope="module")
def batch_json() -> dict:
    """The JSON report of the malformed lines, the planned meal and the scenarios (bundled rules)."""
    proc = run(MALFORMED, PLANNED, *SCENARIOS, "--format", "json", "--fail-on", "never")
    assert proc.returncode == 0, err(proc)
    return json.loads(proc.stdout)


# ---- the summary line ------------------------------------------------------------------------
def test_a_report_file_gets_a_summary_line_and_its_path(tmp_path):
    out = tmp_path / "report.html"
    p = run(PLANNED, "--rules", MINI, "--format", "html", "-o", out)
    assert p.returncode == 1 and p.stdout == b"" and out.exists()
    assert err(p) == (f"已写入 {out}：1 条记录；违规 1，需复核 0，容错免责 0，合规 0，未列入清单 0，"
                      "无效记录 0\n")
    p = run(PLANNED, MALFORMED, "--rules", MINI, "--format", "csv", "-o", out, "--lang", "en")
    assert err(p).splitlines()[-1] == (f"Wrote {out}: 20 records; violation 1, needs review 3, "
                                       "tolerated 0, compliant 1, unlisted 0, invalid 15")


def test_quiet_and_stdout_have_no_summary_line(tmp_path):
    out = tmp_path / "report.json"
    p = run(PLANNED, "--rules", MINI, "--format", "json", "-o", out, "--quiet")
    assert p.returncode == 1 and err(p) == "" and out.exists()
    p = run(PLANNED, "--rules", MINI, "--format", "json", "-q")
    assert err(p) == "" and json.loads(p.stdout)["summary"]["records"] == 1


# ---- --only --------------------------------------------------------------------------------------
def test_only_lists_failures_in_text_and_counts_everything(batch_json):
    p = run(MALFORMED, PLANNED, *SCENARIOS, "--only", "violation,review", "--fail-on", "never")
    text = p.stdout.decode()
    heads = [x for x in text.splitlines() if x.startswith("记录 ")]
    records = batch_json["records"]
    want = [r["source"]["location"] for r in records if r["outcome"] in ("violation", "review", "invalid")]
    assert [h.split("（")[-1].split("）")[0] if "（" in h else h[3:].split("：")[0] for h in heads] == want
    assert len(want) < len(records)
    assert all(h.endswith(("：违规", "：需复核", "：无效记录")) for h in heads)
    s = batch_json["summary"]
    assert text.endswith(
        "仅列出：违规、需复核、无效记录（汇总计入全部记录）\n"
        f"汇总：{s['records']} 条记录；违规 {s['violation']}，需复核 {s['review']}，容错免责 "
        f"{s['tolerated']}，合规 {s['compliant']}，未列入清单 {s['unlisted']}，无效记录 {s['invalid']}\n")


@pytest.mark.parametrize("fmt", ["csv", "md", "html"])
def test_only_filters_the_table_formats(fmt, tmp_path, batch_json):
    out = tmp_path / f"r.{fmt}"
    p = run(MALFORMED, PLANNED, *SCENARIOS, "--only", "review", "--format", fmt, "-o", out,
            "--fail-on", "never", "--lang", "en")
    assert p.returncode == 0, err(p)
    wanted = [r["source"]["location"] for r in batch_json["records"]
              if r["outcome"] in ("review", "invalid")]
    body = out.read_text(encoding="utf-8-sig")
    if fmt == "csv":
        listed = [r["Input location"] for r in csv.DictReader(io.StringIO(body))]
    elif fmt == "md":
        assert "Listed only: needs review, invalid record (the summary counts every record)" in body
        cells = [x.split(" | ") for x in body.splitlines()
                 if x.startswith("| ") and x.count(" | ") > 5 and not x.startswith("| Record ")]
        assert {c[1] for c in cells} == {"needs review", "invalid record"}
        want_rows = sum(max(1, len(r["findings"])) for r in batch_json["records"]
                        if r["outcome"] in ("review", "invalid"))
        assert len(cells) == want_rows
        return
    else:
        assert "This report lists only: needs review, invalid record" in body
        start = body.index('id="qq-data">') + len('id="qq-data">')
        listed = [r[7] for r in json.loads(body[start:body.index("</script>", start)])]
    assert sorted(set(listed)) == sorted(wanted)


def test_only_rejects_what_it_cannot_filter():
    p = run(PLANNED, "--rules", MINI, "--only", "violation,sometimes")
    assert p.returncode == 2
    assert "'sometimes'" in err(p) and "violation, review, tolerated, compliant, unlisted, invalid" in err(p)
    p = run(PLANNED, "--rules", MINI, "--only", "violation", "--format", "json", "--lang", "en")
    assert p.returncode == 2 and p.stdout == b""
    assert err(p) == "Error: --only applies to the text, md, csv and html formats, not to json\n"


# ---- empty input ---------------------------------------------------------------------------------
def test_empty_input_is_an_error_unless_allowed(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("id,date\n", encoding="utf-8")
    out = tmp_path / "r.html"
    p = run(empty, "--rules", MINI, "--format", "html", "-o", out)
    assert p.returncode == 2 and not out.exists()
    assert err(p) == f"错误：输入中没有记录（{empty}）；若确为空批次，请加 --allow-empty\n"
    p = run("-", "--rules", MINI, "--lang", "en", stdin=b"\n\n")
    assert p.returncode == 2
    assert err(p).endswith("Error: the input has no records (<stdin>); add --allow-empty if an "
                           "empty batch is expected\n")
    p = run(empty, "--rules", MINI, "--format", "html", "-o", out, "--allow-empty", "--lang", "en")
    assert p.returncode == 0 and out.exists()
    assert err(p) == (f"Note: {empty} contains no records\nWrote {out}: 0 records; violation 0, "
                      "needs review 0, tolerated 0, compliant 0, unlisted 0, invalid 0\n")


# ---- binary formats and terminals ----------------------------------------------------------------
def test_xlsx_is_not_written_to_a_terminal(tmp_path):
    main, tty = pty.openpty()
    try:
        cmd = [sys.executable, "-m", "checker.cli", "check", str(PLANNED), "--rules", str(MINI),
               "--format", "xlsx", "--lang", "en"]
        p = subprocess.run(cmd, stdout=tty, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, cwd=ROOT,
                           env={**os.environ, "QINQING_CACHE_DIR": str(CACHE)}, timeout=120)
    finally:
        os.close(tty)
        os.close(main)
    assert p.returncode == 2
    assert err(p) == ("Error: xlsx is a binary format and is not written to a terminal; give a "
                      "report file with -o, e.g. -o report.xlsx\n")
    piped = run(PLANNED, "--rules", MINI, "--format", "xlsx")  # to a pipe: written as asked
    assert piped.returncode == 1 and piped.stdout.startswith(b"PK")


# ---- a report over its own input -----------------------------------------------------------------
def test_output_naming_an_input_is_refused(tmp_path):
    record = tmp_path / "meal.yaml"
    record.write_bytes(PLANNED.read_bytes())
    link = tmp_path / "link.yaml"
    link.symlink_to(record)
    for target in (record, tmp_path / "." / "meal.yaml", link):
        p = run(record, "--rules", MINI, "--format", "text", "-o", target, "--lang", "en")
        assert p.returncode == 2, target
        assert err(p) == (f"Error: -o {target} is one of the input files and the report would "
                          "overwrite it; choose another report file\n")
    history = tmp_path / "history.jsonl"
    history.write_text("", encoding="utf-8")
    p = run(record, "--rules", MINI, "--history", history, "-o", history)
    assert p.returncode == 2 and "是输入文件" in err(p)
    assert record.read_bytes() == PLANNED.read_bytes() and history.read_text() == ""


# ---- option values that do not exist -------------------------------------------------------------
@pytest.mark.parametrize("args, option, choices", [
    (("check", PLANNED, "--lang", "fr"), "--lang", "'zh', 'en'"),
    (("check", PLANNED, "--format", "pdf"), "--format", "'text', 'json', 'jsonl', 'csv', 'md', "
                                                         "'html', 'xlsx', 'junit', 'sarif'"),
    (("check", PLANNED, "--fail-on", "warning"), "--fail-on", "'violation', 'review', 'never'"),
    (("check", PLANNED, "--input-format", "toml"), "--input-format", "'jsonl', 'json', 'yaml'"),
    (("lint", "--format", "xml"), "--format", "'text', 'json'"),
    (("lint", "--lang", "fr"), "--lang", "'zh', 'en'"),
    (("diff", "a", "b", "--records", PLANNED, "--lang", "fr"), "--lang", "'zh', 'en'"),
    (("diff", "a", "b", "--records", PLANNED, "--input-format", "toml"), "--input-format", "'jsonl'"),
])
def test_unknown_option_values_are_rejected_with_the_valid_ones(args, option, choices):
    p = run(*args[1:], command=args[0])
    assert p.returncode == 2 and p.stdout == b""
    text = " ".join(err(p).replace("│", " ").split())
    assert f"Invalid value for '{option}'" in text and choices in text


# ---- JUnit XML -------------------------------------------------------------------------------------
@pytest.mark.parametrize("fail_on, failing", [("violation", ("violation",)),
                                              ("review", ("violation", "review")), ("never", ())])
def test_junit_marks_what_fails_the_run(fail_on, failing, batch_json, tmp_path):
    out = tmp_path / "junit.xml"
    p = run(MALFORMED, PLANNED, *SCENARIOS, "--format", "junit", "-o", out, "--fail-on", fail_on)
    assert p.returncode == (1 if failing else 0)
    root = ET.parse(out).getroot()
    records = batch_json["records"]
    assert root.tag == "testsuites" and int(root.get("tests")) == len(records)
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [
        str(x.relative_to(ROOT)) if x.is_relative_to(ROOT) else str(x) for x in (MALFORMED, PLANNED, *SCENARIOS)]
    cases = [c for s in suites for c in s.findall("testcase")]
    assert len(cases) == len(records)
    for case, rec in zip(cases, records):
        assert case.get("name") == (rec["id"] or rec["source"]["location"])
        failure, error = case.find("failure"), case.find("error")
        if rec["outcome"] in failing:
            assert failure is not None and failure.get("type") == rec["outcome"]
            rules = {f["rule"] for f in rec["findings"] if f["outcome"] == rec["outcome"]}
            assert all(f"[{r}]" in failure.text for r in rules)
        else:
            assert failure is None
        assert (error is not None) == (rec["outcome"] == "invalid" and bool(failing))
    n_fail = sum(1 for r in records if r["outcome"] in failing)
    n_err = sum(1 for r in records if r["outcome"] == "invalid") if failing else 0
    assert (int(root.get("failures")), int(root.get("errors"))) == (n_fail, n_err)


def test_junit_escapes_record_text(tmp_path):
    evil = tmp_path / "evil.jsonl"
    evil.write_text('{"id": "<x>&\\u0007\\"y\\"", "date": 5}\n', encoding="utf-8")
    p = run(evil, "--rules", MINI, "--format", "junit")
    root = ET.fromstring(p.stdout)  # well-formed
    case = root.find("testsuite/testcase")
    assert case.get("name") == '<x>&\ufffd"y"' and case.find("error") is not None
    assert b"&lt;x&gt;&amp;" in p.stdout


# ---- SARIF 2.1.0 ------------------------------------------------------------------------------------
def test_sarif_is_valid_and_has_one_result_per_finding_that_needs_action(batch_json, tmp_path):
    out = tmp_path / "r.sarif"
    p = run(MALFORMED, PLANNED, *SCENARIOS, "--format", "sarif", "-o", out, "--fail-on", "never",
            "--lang", "en")
    assert p.returncode == 0, err(p)
    doc = json.loads(out.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator(SARIF_SCHEMA).validate(doc)
    assert doc["version"] == "2.1.0" and len(doc["runs"]) == 1
    run_ = doc["runs"][0]
    rules = run_["tool"]["driver"]["rules"]
    results = run_["results"]
    want = [(f["rule"], "error" if f["outcome"] == "violation" else "warning")
            for r in batch_json["records"] if r["outcome"] != "invalid"
            for f in r["findings"] if f["outcome"] in ("violation", "review")]
    invalid = sum(1 for r in batch_json["records"] if r["outcome"] == "invalid")
    got = [(x["ruleId"], x["level"]) for x in results if x["ruleId"] != "invalid-record"]
    assert got == want and len(results) == len(want) + invalid
    for x in results:
        assert rules[x["ruleIndex"]]["id"] == x["ruleId"]
        loc = x["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uri"].endswith((".jsonl", ".yaml"))
        assert loc["region"]["startLine"] >= 1
    b7 = next(x for x in results if x["ruleId"] == "B7")
    assert b7["message"]["text"].startswith("[B7] To be paid by the enterprise")  # a planned meal
    assert b7["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "P-2026-0042-01/meals[0]"
    assert run_["properties"]["summary"] == batch_json["summary"]


def test_the_docs_show_the_real_summary_line(tmp_path):
    out = tmp_path / "report.html"
    p = run(ROOT / "fixtures" / "sample" / "batch.jsonl", "--format", "html", "-o", out)
    assert p.returncode == 1
    line = err(p).rstrip("\n").replace(str(out), "report.html")
    assert line.startswith("已写入 report.html：2400 条记录；")
    assert line in (ROOT / "README.md").read_text(encoding="utf-8")
    assert line in (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
