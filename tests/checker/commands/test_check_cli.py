"""`qinqing check` end to end: the real CLI in a subprocess, on fixtures and generated files.

Every input format, every report format, every exit code, stdin, --lang en, malformed
inputs (never a traceback), reconciliation, and byte-identical output across runs and
across --jobs.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
DATA = Path(__file__).parents[1] / "data"
MINI = DATA / "minipolicy"
FIXTURES = ROOT / "fixtures" / "records"
SCENARIOS = ROOT / "fixtures" / "scenarios"
PLANNED = FIXTURES / "planned_meal.yaml"
OK = FIXTURES / "self_check_ok.yaml"
HISTORY = FIXTURES / "history_O-0042.jsonl"
MALFORMED = FIXTURES / "malformed.jsonl"
REPORT_SCHEMA = json.loads((ROOT / "docs" / "report.schema.json").read_text(encoding="utf-8"))
FORMATS = ("text", "json", "jsonl", "csv", "md", "html", "xlsx", "junit", "sarif")
CACHE = Path(tempfile.gettempdir()) / f"qinqing-test-cache-{os.getuid()}"  # compiled policies


def qinqing(*args: str | Path, stdin: bytes | None = None, rules: bool = True,
            env: dict | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "checker.cli", "check", *map(_rel, args)]
    if rules and "--rules" not in args:
        cmd += ["--rules", str(MINI)]
    full_env = {**os.environ, "PYTHONHASHSEED": "random", "QINQING_CACHE_DIR": str(CACHE),
                **(env or {})}
    full_env.pop("NO_COLOR", None)
    proc = subprocess.run(cmd, check=False, input=stdin if stdin is not None else b"", capture_output=True,
                          cwd=ROOT, env=full_env, timeout=120)
    assert b"Traceback" not in proc.stderr, proc.stderr.decode()
    return proc


def _rel(arg: str | Path) -> str:
    """Paths inside the repository as the user would type them (relative to its root)."""
    if isinstance(arg, Path) and arg.is_relative_to(ROOT):
        return str(arg.relative_to(ROOT))
    return str(arg)


def out(proc: subprocess.CompletedProcess) -> str:
    return proc.stdout.decode("utf-8")


def errtext(proc: subprocess.CompletedProcess) -> str:
    return proc.stderr.decode("utf-8")


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def jsonl_report(proc: subprocess.CompletedProcess) -> tuple[list[dict], dict]:
    lines = [json.loads(x) for x in proc.stdout.splitlines()]
    return lines[:-1], lines[-1]


def flatten(record: dict, prefix: str = "") -> dict[str, str]:
    """A record as CSV cells: dotted headers, lists as JSON, absent for null."""
    cells: dict[str, str] = {}
    for k, v in record.items():
        key = prefix + k
        if isinstance(v, dict):
            cells.update(flatten(v, key + "."))
        elif isinstance(v, list):
            cells[key] = json.dumps(v, ensure_ascii=False)
        elif v is None:
            continue
        elif isinstance(v, bool):
            cells[key] = "true" if v else "false"
        else:
            cells[key] = str(v)
    return cells


def write_csv(path: Path, records: list[dict], encoding: str = "utf-8") -> None:
    rows = [flatten(r) for r in records]
    headers = sorted({h for r in rows for h in r})
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(headers)
    for r in rows:
        w.writerow([r.get(h, "") for h in headers])
    path.write_bytes(buf.getvalue().encode(encoding))


def write_xlsx(path: Path, records: list[dict]) -> None:
    from openpyxl import Workbook

    rows = [flatten(r) for r in records]
    headers = sorted({h for r in rows for h in r})
    wb = Workbook()
    ws = wb.active
    ws.append(headers)
    for r in rows:
        ws.append([r.get(h) for h in headers])
    wb.save(path)


def make_batch(n: int) -> list[dict]:
    """n records cycling through fixtures, with clusters of firm-paid meals (windows fire)."""
    templates = [load_yaml(PLANNED), load_yaml(OK)]
    templates += [load_yaml(p) for p in sorted(SCENARIOS.glob("S*.yaml"))]
    out_ = []
    for i in range(n):
        r = json.loads(json.dumps(templates[i % len(templates)]))
        r["id"] = f"G-{i:05d}"
        r["stage"] = "completed"
        for k in ("start_at", "end_at", "declared_at"):
            r.pop(k, None)
        r["date"] = f"2026-{1 + (i // 28) % 12:02d}-{1 + (i * 5) % 28:02d}"
        if isinstance(r.get("official"), dict):
            r["official"]["id"] = f"O-{i % 7}"
        out_.append(r)
    return out_


def write_jsonl(path: Path, records: list[dict], bom: bool = False) -> None:
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))


# ---- input formats -----------------------------------------------------------------------
def test_yaml_self_check_reads_like_advice():
    p = qinqing(PLANNED)
    assert p.returncode == 1
    text = out(p)
    assert text.startswith("记录 P-2026-0042-01（fixtures/records/planned_meal.yaml:7）：违规\n")
    assert "  ✗ [B1] 工作餐超标准（中） · 用餐（meals[0]）\n" in text
    assert "      人均128.00元，超过标准60.00元（假定值，待核实本地标准）\n" in text
    assert "      依据：测试依据 第4条\n" in text
    assert "      建议：补交差额68.00元/人\n" in text
    assert ("      触发事实：per_person_cny(m) = 128.00；工作餐人均标准 = 60.00；"
            "用餐·按职工价支付（meals[0].employee_rate_paid） = 否\n") in text  # fields, parameters by their titles
    assert "如何合规：" in text
    assert text.endswith("汇总：1 条记录；违规 1，需复核 0，容错免责 0，合规 0，未列入清单 0，无效记录 0\n")
    assert "\x1b[" not in text  # no colours when piped


def test_english_text_report():
    p = qinqing(PLANNED, "--lang", "en")
    text = out(p)
    assert text.startswith("Record P-2026-0042-01 (fixtures/records/planned_meal.yaml:7): violation\n")
    assert "      128.00 CNY per person, above the cap of 60.00 CNY (assumed; verify the local standard)\n" in text
    assert "      Advice: Pay the difference of 68.00 CNY per person\n" in text
    assert ("      Facts: per_person_cny(m) = 128.00; Work-meal cap per person = 60.00; "
            "Meals › Employee rate paid (meals[0].employee_rate_paid) = no\n") in text
    assert text.endswith("Summary: 1 record; violation 1, needs review 0, tolerated 0, compliant 0, "
                         "unlisted 0, invalid 0\n")


def test_compliant_record_exits_0():
    p = qinqing(OK)
    assert p.returncode == 0, errtext(p)
    assert "合规" in out(p) and "✓ [P3]" in out(p)


@pytest.mark.parametrize("kind", ["jsonl", "json_array", "json_object", "yaml_multi", "csv", "xlsx"])
def test_every_input_format(tmp_path, kind):
    records = make_batch(6)
    if kind == "jsonl":
        f = tmp_path / "b.jsonl"
        write_jsonl(f, records)
    elif kind == "json_array":
        f = tmp_path / "b.json"
        f.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    elif kind == "json_object":
        f = tmp_path / "one.json"
        f.write_text(json.dumps(records[0], ensure_ascii=False), encoding="utf-8")
        records = records[:1]
    elif kind == "yaml_multi":
        f = tmp_path / "b.yaml"
        f.write_text(yaml.safe_dump_all(records, allow_unicode=True), encoding="utf-8")
    elif kind == "csv":
        f = tmp_path / "b.csv"
        write_csv(f, records)
    else:
        f = tmp_path / "b.xlsx"
        write_xlsx(f, records)
    p = qinqing(f, "--format", "jsonl", "--fail-on", "never")
    assert p.returncode == 0, errtext(p)
    entries, last = jsonl_report(p)
    assert [e["id"] for e in entries] == [r["id"] for r in records]
    assert last["summary"]["records"] == len(records)
    assert last["summary"]["invalid"] == 0, [e["errors"] for e in entries if e["errors"]]
    reference = qinqing(*_as_jsonl(tmp_path, records), "--format", "jsonl", "--fail-on", "never")
    assert [e["outcome"] for e in entries] == [e["outcome"] for e in jsonl_report(reference)[0]]


def _as_jsonl(tmp_path: Path, records: list[dict]) -> list[Path]:
    f = tmp_path / "ref.jsonl"
    write_jsonl(f, records)
    return [f]


def test_input_format_option_overrides_extension(tmp_path):
    f = tmp_path / "records.txt"
    write_jsonl(f, make_batch(2))
    assert qinqing(f).returncode == 2
    assert "--input-format" in errtext(qinqing(f))
    p = qinqing(f, "--input-format", "jsonl", "--format", "jsonl", "--fail-on", "never")
    assert p.returncode == 0 and jsonl_report(p)[1]["summary"]["records"] == 2


def test_stdin(tmp_path):
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in make_batch(4)).encode()
    p = qinqing("-", "--format", "jsonl", "--fail-on", "never", stdin=data)
    assert p.returncode == 0, errtext(p)
    entries, last = jsonl_report(p)
    assert last["summary"]["records"] == 4
    assert entries[0]["source"] == {"file": "<stdin>", "line": 1, "location": "<stdin>:1"}


def test_stdin_with_windows_and_duplicate_ids_names_stdin():
    recs = make_batch(3)
    recs.append(dict(recs[0]))
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs).encode()
    for jobs in ("1", "2"):
        p = qinqing("-", "--format", "jsonl", "--jobs", jobs, stdin=data)
        entries, _ = jsonl_report(p)
        assert entries[3]["outcome"] == "invalid"
        assert entries[3]["errors"][0]["message"] == "记录编号 'G-00000' 重复，首次出现在 <stdin>:1"
        assert all(e["source"]["file"] == "<stdin>" for e in entries)


# ---- report formats -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """Every format of one batch (malformed lines, planned meal, scenarios), twice."""
    d = tmp_path_factory.mktemp("reports")
    inputs = [MALFORMED, PLANNED, *sorted(SCENARIOS.glob("S*.yaml"))]
    made = {}
    for fmt in FORMATS:
        for run in (1, 2):
            path = d / f"r{run}.{fmt}"
            p = qinqing(*inputs, "--format", fmt, "-o", path)
            assert p.returncode == 1, errtext(p)
            assert p.stdout == b""
            made[fmt, run] = path
    return made


def test_json_report_matches_its_schema(reports):
    doc = json.loads(reports["json", 1].read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(REPORT_SCHEMA).validate(doc)
    assert list(doc) == ["policy", "records", "summary"]
    s = doc["summary"]
    assert s["records"] == len(doc["records"]) == 19 + 1 + len(list(SCENARIOS.glob("S*.yaml")))
    assert s["records"] == sum(s[o] for o in ("violation", "review", "tolerated", "compliant",
                                              "unlisted", "invalid"))


def test_explained_json_report_matches_its_schema(tmp_path):
    p = qinqing(PLANNED, MALFORMED, "--format", "json", "--explain")
    doc = json.loads(p.stdout)
    jsonschema.Draft202012Validator(REPORT_SCHEMA).validate(doc)
    assert "explanation" in doc["records"][-1]


def test_reports_are_deterministic(reports):
    for fmt in FORMATS:
        assert reports[fmt, 1].read_bytes() == reports[fmt, 2].read_bytes(), fmt


def test_jsonl_report(reports):
    lines = reports["jsonl", 1].read_text(encoding="utf-8").splitlines()
    last = json.loads(lines[-1])
    assert sorted(last) == ["policy", "summary"]
    assert last["summary"]["records"] == len(lines) - 1


def test_csv_report_one_row_per_finding(reports):
    raw = reports["csv", 1].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    doc = json.loads(reports["json", 1].read_text(encoding="utf-8"))
    expected = sum(max(1, len(r["findings"])) for r in doc["records"])
    assert len(rows) == expected
    assert list(rows[0])[:3] == ["记录编号", "记录结论", "行政区划"]
    b1 = next(r for r in rows if r["规则"] == "B1" and r["记录编号"] == "P-2026-0042-01")
    assert b1["说明"] == "人均128.00元，超过标准60.00元（假定值，待核实本地标准）" and b1["建议"] == "补交差额68.00元/人"
    bad = next(r for r in rows if r["记录编号"] == "M-003")
    assert bad["记录结论"] == "无效记录" and "participants.officials" in bad["错误"]


def test_markdown_report(reports):
    text = reports["md", 1].read_text(encoding="utf-8")
    assert text.startswith("# 亲清政商交往合规检查报告\n\n## 汇总\n")
    assert "| 违规 | " in text and "## 发现" in text
    table = [x for x in text.splitlines() if x.startswith("| ") and "P-2026-0042-01" in x]
    assert len(table) == 1 and "人均128.00元，超过标准60.00元（假定值，待核实本地标准）" in table[0]


def test_html_report_is_self_contained(reports):
    html = reports["html", 1].read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert html.count("<svg") == 4
    for external in ("<link", "src=", "@import", "url("):
        assert external not in html
    assert "http" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert ',"invalid",' in html and "<script>" in html  # the records, as the page's JSON
    assert "人均128.00元，超过标准60.00元（假定值，待核实本地标准）" in html
    assert "市场监督管理局" in html  # violations by department


def test_xlsx_report(reports):
    from openpyxl import load_workbook

    wb = load_workbook(reports["xlsx", 1], read_only=True)
    assert wb.sheetnames == ["汇总", "发现"]
    summary = {r[0]: r[1] for r in wb["汇总"].iter_rows(values_only=True) if len(r) > 1 and r[0]}
    assert summary["违规"] >= 1 and summary["合计"] == summary["违规"] + summary["需复核"] + \
        summary["容错免责"] + summary["合规"] + summary["未列入清单"] + summary["无效记录"]
    rows = list(wb["发现"].iter_rows(values_only=True))
    assert rows[0][0] == "记录编号"
    assert any(r[6] == "B1" and r[10] == "人均128.00元，超过标准60.00元（假定值，待核实本地标准）" for r in rows[1:])


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_in_english(fmt, tmp_path):
    path = tmp_path / f"r.{fmt}"
    p = qinqing(PLANNED, "--format", fmt, "--lang", "en", "-o", path)
    assert p.returncode == 1
    if fmt == "xlsx":
        from openpyxl import load_workbook
        assert load_workbook(path, read_only=True).sheetnames == ["Summary", "Findings"]
        return
    text = path.read_text(encoding="utf-8-sig")
    assert "128.00 CNY per person, above the cap of 60.00 CNY (assumed; verify the local standard)" in text
    assert "人均" not in text


# ---- exit codes -----------------------------------------------------------------------------
def test_fail_on():
    assert qinqing(PLANNED, "--fail-on", "never").returncode == 0
    assert qinqing(PLANNED, "--fail-on", "violation").returncode == 1
    s10 = SCENARIOS / "S10-work-meal-diners-missing.yaml"
    assert qinqing(s10).returncode == 0  # review does not fail by default
    assert qinqing(s10, "--fail-on", "review").returncode == 1


def test_invalid_records_fail_unless_never():
    for fail_on in ("violation", "review"):
        p = qinqing(MALFORMED, "--fail-on", fail_on, "--format", "jsonl")
        assert p.returncode == 1
        assert jsonl_report(p)[1]["summary"]["invalid"] == 15
    p = qinqing(MALFORMED, "--fail-on", "never", "--format", "jsonl")
    assert p.returncode == 0  # never means never; the invalid records are still reported
    assert jsonl_report(p)[1]["summary"]["invalid"] == 15


def test_usage_errors_exit_2():
    p = qinqing(PLANNED, "--format", "pdf")
    assert p.returncode == 2 and "pdf" in errtext(p)
    p = qinqing(PLANNED, "--jobs", "0")
    assert p.returncode == 2
    p = qinqing(PLANNED, "--jurisdiction", "wuhai")
    assert p.returncode == 2
    assert errtext(p) == "错误：--jurisdiction 应为 6 位行政区划代码，而不是 'wuhai'\n"
    p = qinqing(PLANNED, "--mask", "name")
    assert p.returncode == 2 and errtext(p) == "错误：--mask 需与 --log 一起使用\n"


def test_missing_file_exits_2():
    p = qinqing("no/such.jsonl", "--lang", "en")
    assert p.returncode == 2
    assert errtext(p) == "Cannot read input: file not found: no/such.jsonl\n"
    p = qinqing("no/such.jsonl")
    assert errtext(p) == "无法读取输入：找不到文件 no/such.jsonl\n"


def test_folder_as_input_exits_2_and_says_what_to_do():
    p = qinqing("fixtures/records")
    assert p.returncode == 2
    assert errtext(p) == ("无法读取输入：fixtures/records 是目录，不是文件；"
                          "请列出其中的记录文件，例如 fixtures/records/*.jsonl\n")
    p = qinqing("fixtures/records/", "--lang", "en")
    assert errtext(p) == ("Cannot read input: fixtures/records/ is a folder, not a file; "
                          "name the record files in it, e.g. fixtures/records/*.jsonl\n")


def test_policy_that_does_not_load_exits_2(tmp_path):
    bad = tmp_path / "bad.policy"
    bad.write_text('policy x.y "甲" / "A"\nforbid N1 "t" / "t"\n  severity huge\n', encoding="utf-8")
    p = qinqing(PLANNED, "--rules", bad)
    assert p.returncode == 2
    assert "error[" in errtext(p)
    assert errtext(p).endswith("规则加载失败，请先运行 `qinqing lint` 修正错误。\n")


def test_unwritable_output_exits_2(tmp_path):
    p = qinqing(PLANNED, "-o", tmp_path / "no" / "dir" / "r.json", "--format", "json", "--lang", "en")
    assert p.returncode == 2
    assert errtext(p).startswith("Error: cannot write ")


def test_failed_run_leaves_no_partial_report(tmp_path):
    target = tmp_path / "r.json"
    p = qinqing(PLANNED, "missing.jsonl", "-o", target, "--format", "json")
    assert p.returncode == 2 and not target.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_output_to_a_pipe_or_device_writes_into_it(tmp_path):
    """`-o` names something that is not a regular file (a named pipe, /dev/null): the report
    goes into it, and it stays what it was (renaming a file over it would replace it)."""
    import stat
    import threading

    fifo = tmp_path / "report.pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    p = qinqing(PLANNED, "--format", "json", "-o", fifo)
    reader.join(timeout=60)
    assert p.returncode == 1
    assert json.loads(got[0])["summary"]["records"] == 1
    assert stat.S_ISFIFO(fifo.stat().st_mode) and list(tmp_path.iterdir()) == [fifo]
    assert qinqing(PLANNED, "-o", os.devnull).returncode == 1
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


# ---- malformed inputs: a clear message, never a traceback --------------------------------------
def test_malformed_lines_become_invalid_results():
    p = qinqing(MALFORMED, "--format", "jsonl", "--lang", "en")
    entries, last = jsonl_report(p)
    assert len(entries) == 19 and last["summary"]["records"] == 19
    by_line = {e["source"]["line"]: e for e in entries}
    expected = yaml.safe_load((FIXTURES / "malformed.expected.yaml").read_text(encoding="utf-8"))
    for case in expected:
        e = by_line[case["line"]]
        want_invalid = case["expect"] in ("invalid", "duplicate_id")
        assert (e["outcome"] == "invalid") == want_invalid, case
        if case.get("path") and want_invalid:
            assert any(case["path"].split(".")[0] in x["path"] for x in e["errors"]), (case, e["errors"])
    assert by_line[2]["errors"][0]["code"] == "json"
    assert by_line[2]["errors"][0]["message"].startswith("invalid JSON")
    assert by_line[12]["errors"][-1]["message"] == \
        "duplicate record id 'M-001'; first seen at fixtures/records/malformed.jsonl:1"


def test_truncated_and_wrong_type_lines(tmp_path):
    good = make_batch(2)
    bad = dict(good[1], id="WT")
    bad["participants"] = {"officials": "two"}
    f = tmp_path / "t.jsonl"
    f.write_text(json.dumps(good[0], ensure_ascii=False) + "\n" + json.dumps(good[1])[:40] + "\n"
                 + json.dumps(bad, ensure_ascii=False) + "\n", encoding="utf-8")
    p = qinqing(f, "--format", "jsonl", "--lang", "en")
    entries, last = jsonl_report(p)
    assert p.returncode == 1
    assert [e["outcome"] == "invalid" for e in entries] == [False, True, True]
    assert entries[2]["errors"][0]["path"] == "$.participants.officials"
    assert last["summary"]["records"] == 3


def test_empty_file(tmp_path):
    f = tmp_path / "empty.jsonl"
    f.write_bytes(b"")
    p = qinqing(f, "--format", "json", "--lang", "en", "--allow-empty")
    assert p.returncode == 0
    assert json.loads(p.stdout)["summary"]["records"] == 0
    assert errtext(p) == f"Note: {f} contains no records\n"
    p = qinqing(f, "--format", "json", "--lang", "en")
    assert p.returncode == 2
    assert errtext(p) == (f"Error: the input has no records ({f}); add --allow-empty if an empty "
                          "batch is expected\n")


def test_binary_file(tmp_path):
    f = tmp_path / "photo.jsonl"
    f.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    p = qinqing(f, "--lang", "en")
    assert p.returncode == 2
    assert errtext(p) == f"Cannot read input: {f} looks like a binary file, not JSONL text\n"


def test_ten_megabyte_line(tmp_path):
    f = tmp_path / "big.jsonl"
    rec = make_batch(1)[0]
    with f.open("w", encoding="utf-8") as fh:
        fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
        fh.write('{"id": "HUGE", "note": "' + "x" * (10 << 20) + '"}\n')
        fh.write(json.dumps(dict(rec, id="AFTER"), ensure_ascii=False) + "\n")
    p = qinqing(f, "--format", "jsonl", "--lang", "en", "--fail-on", "review")
    entries, last = jsonl_report(p)
    assert [e["outcome"] == "invalid" for e in entries] == [False, True, False]
    assert last["summary"]["records"] == 3
    assert entries[1]["errors"][0]["code"] == "too_large"
    assert "exceeds the 1 MiB limit" in entries[1]["errors"][0]["message"]
    assert p.returncode == 1


def test_duplicate_ids(tmp_path):
    recs = make_batch(3)
    recs.append(dict(recs[1]))
    f = tmp_path / "dup.jsonl"
    write_jsonl(f, recs)
    entries, last = jsonl_report(qinqing(f, "--format", "jsonl"))
    assert entries[3]["outcome"] == "invalid"
    assert entries[3]["errors"] == [{"path": "$.id", "code": "duplicate_id",
                                     "message": f"记录编号 'G-00001' 重复，首次出现在 {f}:2"}]
    assert last["summary"]["invalid"] == 1


def test_utf8_bom(tmp_path):
    recs = make_batch(2)
    f = tmp_path / "bom.jsonl"
    write_jsonl(f, recs, bom=True)
    p = qinqing(f, "--format", "jsonl", "--fail-on", "never")
    assert jsonl_report(p)[1]["summary"]["invalid"] == 0
    c = tmp_path / "bom.csv"
    write_csv(c, recs, encoding="utf-8-sig")
    p = qinqing(c, "--format", "jsonl", "--fail-on", "never")
    assert jsonl_report(p)[1]["summary"]["invalid"] == 0, p.stdout


def test_gbk_csv(tmp_path):
    f = tmp_path / "gbk.csv"
    write_csv(f, make_batch(3), encoding="gbk")
    p = qinqing(f, "--lang", "en")
    assert p.returncode == 2
    assert "is not valid UTF-8 text" in errtext(p) and "--encoding gbk" in errtext(p)
    p = qinqing(f, "--encoding", "gbk", "--format", "jsonl", "--fail-on", "never")
    assert p.returncode == 0, errtext(p)
    summary = jsonl_report(p)[1]["summary"]
    assert (summary["records"], summary["invalid"]) == (3, 0)


# ---- options ---------------------------------------------------------------------------------
def test_jurisdiction_fills_records_that_lack_one(tmp_path):
    rec = load_yaml(OK)
    del rec["jurisdiction"]
    f = tmp_path / "nojur.json"
    f.write_text(json.dumps(rec, ensure_ascii=False), encoding="utf-8")
    entries, _ = jsonl_report(qinqing(f, "--format", "jsonl"))
    assert entries[0]["outcome"] == "invalid" and entries[0]["errors"][0]["path"] == "$.jurisdiction"
    p = qinqing(f, "--format", "jsonl", "--jurisdiction", "150304")
    entries, _ = jsonl_report(p)
    assert p.returncode == 0 and entries[0]["outcome"] == "compliant"
    assert entries[0]["jurisdiction"] == "150304"


def test_history_feeds_windows_but_is_not_reported():
    alone = qinqing(PLANNED, "--format", "jsonl")
    assert "B11" not in {f["rule"] for f in jsonl_report(alone)[0][0]["findings"]}
    p = qinqing(PLANNED, "--history", HISTORY, "--format", "jsonl")
    entries, last = jsonl_report(p)
    assert last["summary"]["records"] == 1
    b11 = next(f for f in entries[0]["findings"] if f["rule"] == "B11")
    assert b11["outcome"] == "review" and b11["message"] == "30日内第3次接受同一企业付费用餐"


def test_explain_text():
    text = out(qinqing(PLANNED, "--explain"))
    assert "  —— 逐条规则 ——\n    P3 用餐（meals[0]）：适用（B1 未满足，B2 满足）\n" in text
    assert "    工作餐人均标准（meal_cap_per_person_cny） = 60.00  （000000，2010-01-01起；假定值，待核实本地标准）\n" in text


def test_decision_log_with_mask(tmp_path):
    log = tmp_path / "decisions.log"
    p = qinqing(PLANNED, OK, "--log", log, "--mask", "name")
    assert p.returncode == 1, errtext(p)
    lines = [json.loads(x) for x in log.read_text(encoding="utf-8").splitlines()]
    assert [x.get("record_id") for x in lines[1:]] == ["P-2026-0042-01", "P-2026-0107-01"]
    assert lines[1]["official_name"].startswith("masked:") and lines[1]["official_id"] == "O-0042"
    assert lines[1]["outcome"] == "violation" and lines[1]["rules"] == ["B1"]
    verify = subprocess.run([sys.executable, "-m", "checker.cli", "audit", "verify", str(log)],
                            capture_output=True, cwd=ROOT, check=False)
    assert verify.returncode == 0, verify.stdout
    p = qinqing(PLANNED, "--log", tmp_path / "l2.log", "--mask", "shoe_size", "--lang", "en")
    assert p.returncode == 2 and errtext(p).startswith("Error: Cannot mask field shoe_size")


def test_log_is_the_same_with_jobs(tmp_path):
    f = tmp_path / "b.jsonl"
    write_jsonl(f, make_batch(30))
    for jobs in ("1", "2"):
        qinqing(f, "--log", tmp_path / f"{jobs}.log", "--jobs", jobs)
    strip = lambda p: [{k: v for k, v in json.loads(x).items() if k not in ("time", "prev", "hash", "salt")}
                       for x in p.read_text(encoding="utf-8").splitlines()[1:]]
    assert strip(tmp_path / "1.log") == strip(tmp_path / "2.log")


def test_no_progress_bar_or_colour_when_piped():
    p = qinqing(PLANNED, OK)
    assert errtext(p) == "" and "\x1b[" not in out(p)


def test_colours_on_a_terminal_but_not_with_no_color():
    import pty

    def run(env: dict) -> bytes:
        pid, fd = pty.fork()
        if pid == 0:  # pragma: no cover - child
            os.chdir(ROOT)
            os.environ.update(env)
            os.execv(sys.executable, [sys.executable, "-m", "checker.cli", "check", str(PLANNED),
                                      "--rules", str(MINI)])
        chunks = []
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        os.waitpid(pid, 0)
        return b"".join(chunks)

    coloured = run({"TERM": "xterm-256color"})
    assert b"\x1b[" in coloured and "违规".encode() in coloured
    plain = run({"TERM": "xterm-256color", "NO_COLOR": "1"})
    assert b"\x1b[" not in plain and "违规".encode() in plain


# ---- reconciliation and determinism across --jobs ------------------------------------------------
@pytest.fixture(scope="module")
def big_batch(tmp_path_factory):
    """1,300 records (several worker chunks) with clusters that fire window rules, plus bad lines."""
    d = tmp_path_factory.mktemp("batch")
    f = d / "batch.jsonl"
    recs = make_batch(1300)
    lines = [json.dumps(r, ensure_ascii=False) for r in recs]
    lines[7] = lines[7][:30]  # truncated
    lines[500] = lines[3]  # duplicate id
    lines[900] = '{"id": "X-1", "stage": "nope"}'
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return f


@pytest.mark.parametrize("fmt", ["jsonl", "html", "xlsx", "csv"])
def test_jobs_give_identical_bytes(big_batch, tmp_path, fmt):
    one, two = tmp_path / f"1.{fmt}", tmp_path / f"2.{fmt}"
    assert qinqing(big_batch, "--format", fmt, "-o", one).returncode == 1
    assert qinqing(big_batch, "--format", fmt, "-o", two, "--jobs", "2").returncode == 1
    assert one.read_bytes() == two.read_bytes()


def test_batch_reconciles_and_windows_fire(big_batch):
    p = qinqing(big_batch, "--format", "jsonl", "--jobs", "2")
    entries, last = jsonl_report(p)
    s = last["summary"]
    assert s["records"] == 1300 == len(entries)
    assert s["records"] == sum(s[o] for o in ("violation", "review", "tolerated", "compliant",
                                              "unlisted", "invalid"))
    assert s["invalid"] == 3
    assert any(f["rule"] == "B11" for e in entries for f in e["findings"])


def test_jobs_with_history_jurisdiction_explain_and_english(big_batch, tmp_path):
    extra = ["--history", HISTORY, "--jurisdiction", "150300", "--lang", "en", "--explain",
             "--format", "json"]
    one = qinqing(big_batch, PLANNED, *extra)
    two = qinqing(big_batch, PLANNED, *extra, "--jobs", "2")
    assert one.returncode == two.returncode == 1
    assert one.stdout == two.stdout
    doc = json.loads(one.stdout)
    assert doc["summary"]["records"] == 1301


def test_jobs_on_csv_and_yaml_inputs(tmp_path):
    recs = make_batch(40)
    write_csv(tmp_path / "a.csv", recs[:25])
    (tmp_path / "b.yaml").write_text(yaml.safe_dump_all(recs[25:], allow_unicode=True), encoding="utf-8")
    args = [tmp_path / "a.csv", tmp_path / "b.yaml", "--format", "jsonl"]
    one, two = qinqing(*args), qinqing(*args, "--jobs", "2")
    assert one.stdout == two.stdout and one.returncode == two.returncode
    assert jsonl_report(one)[1]["summary"]["records"] == 40


def test_the_same_file_twice_is_all_duplicates_the_second_time(tmp_path):
    f = tmp_path / "b.jsonl"
    write_jsonl(f, make_batch(5))
    for jobs in ("1", "2"):
        entries, last = jsonl_report(qinqing(f, f, "--format", "jsonl", "--jobs", jobs))
        assert last["summary"]["records"] == 10 and last["summary"]["invalid"] == 5
        assert all(e["errors"][-1]["code"] == "duplicate_id" for e in entries[5:])


def test_jobs_jsonl_counts_what_the_workers_wrote(big_batch, tmp_path):
    """With --jobs, JSONL lines come from the workers as written: the summary, --fail-on and the
    decision log (which needs each entry) still see every record."""
    never = qinqing(big_batch, "--format", "jsonl", "--jobs", "2", "--fail-on", "never")
    assert never.returncode == 0
    entries, last = jsonl_report(never)
    assert last["summary"]["records"] == len(entries) == 1300
    logged = qinqing(big_batch, "--format", "jsonl", "--jobs", "2", "--log", tmp_path / "d.log")
    assert logged.returncode == 1 and logged.stdout == never.stdout
