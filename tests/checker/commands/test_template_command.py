"""`qinqing template`: the fill-in workbook (headers, frozen row, comments, drop-down lists, date
formats, one sheet per list, instructions), the CSV header row, and the round trip: a template
filled in as staff would (labels, 是/否, Excel dates, lists on their sheets or on extra rows)
gives the same outcomes as the same records in JSON."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import pty
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
import yaml

from checker.input.columns import ColumnMap, Field
from checker.input.template import element_columns, main_columns, template_csv, template_xlsx
from checker.input.validate import default_validator
from checker.schema import record_schema

ROOT = Path(__file__).resolve().parents[3]
CACHE = Path(tempfile.gettempdir()) / f"qinqing-test-cache-{os.getuid()}"
CMAP = ColumnMap(record_schema())


def run(*args: str | Path, command: str = "template") -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "checker.cli", command, *map(str, args)]
    env = {**os.environ, "QINQING_CACHE_DIR": str(CACHE)}
    proc = subprocess.run(cmd, capture_output=True, cwd=ROOT, env=env, timeout=300)
    assert b"Traceback" not in proc.stderr, proc.stderr.decode()
    return proc


def err(proc: subprocess.CompletedProcess) -> str:
    return proc.stderr.decode("utf-8")


# ---------------------------------------------------------------- the workbook


def test_the_workbook_for_staff(tmp_path: Path) -> None:
    out = tmp_path / "模板.xlsx"
    p = run("-o", out)
    assert p.returncode == 0
    n = len(main_columns(CMAP))
    assert err(p) == f"已写入 {out}：填写模板，记录 {n} 列，列表工作表 4 个（待办事项、亲属关联、用餐、礼品礼金）\n"
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["记录", "待办事项", "亲属关联", "用餐", "礼品礼金", "填写说明", "选项"]
    assert [ws.sheet_state for ws in wb.worksheets][-1] == "hidden"
    ws = wb["记录"]
    headers = [c.value for c in ws[1]]
    assert headers[:8] == ["记录编号", "阶段", "行政区划", "日期", "截至日期", "开始时间", "结束时间",
                           "申报时间"]
    assert "用餐" in headers and "休闲娱乐·活动项目" in headers and "用餐·付款方" not in headers
    assert len(headers) == n and ws.freeze_panes == "B2"
    assert ws["B1"].comment.text == ("计划中（事前自查）或已完成（事后申报）；必填。\n"
                                     "从下拉列表中选择：计划中、已完成。\nstage")
    assert ws["B1"].font.color.rgb.endswith("C00000")  # required: red
    col = {h: openpyxl.utils.get_column_letter(i) for i, h in enumerate(headers, start=1)}
    assert ws.column_dimensions[col["日期"]].number_format == "yyyy-mm-dd"
    assert ws.column_dimensions[col["开始时间"]].number_format == "yyyy-mm-dd hh:mm"
    rules = {str(dv.sqref): dv for dv in ws.data_validations.dataValidation}
    stage = rules[f"{col['阶段']}2:{col['阶段']}1048576"]
    assert stage.type == "list" and stage.formula1.startswith("'选项'!$")
    options = wb["选项"]
    letter = stage.formula1.split("!$")[1].split("$")[0]
    assert [options[f"{letter}{i}"].value for i in (1, 2, 3)] == ["stage", "计划中", "已完成"]
    leader = col["公职人员·是否领导干部"]
    yes_no = next(dv for dv in ws.data_validations.dataValidation if dv.formula1 == '"是,否"')
    assert f"{leader}2:{leader}1048576" in str(yes_no.sqref)
    assert [c.value for c in wb["用餐"][1]][:6] == ["记录编号", "餐次", "用餐形式", "用餐原因", "安排方",
                                                   "付款方"]
    guide = [r for r in wb["填写说明"].iter_rows(values_only=True)]
    assert guide[0][0] == "政商交往记录 填写模板"
    table = guide[next(i for i, r in enumerate(guide) if r[0] == "工作表"):]
    assert table[0] == ("工作表", "列", "字段", "必填", "说明", "填写")
    assert ("用餐", "付款方", "meals.payer") in [r[:3] for r in table]
    assert len(table) - 1 == n + sum(len(element_columns(lst)) for lst in CMAP.lists)


def test_the_workbook_in_english_and_its_bytes_are_stable(tmp_path: Path) -> None:
    data = template_xlsx(lang="en")
    assert data == template_xlsx(lang="en")
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["Records", "Pending matters", "Relatives", "Meals", "Gifts",
                             "Instructions", "Options"]
    headers = [c.value for c in wb["Records"][1]]
    assert headers[:3] == ["Record id", "Stage", "Jurisdiction"] and "Official › Rank" in headers
    assert [c.value for c in wb["Meals"][1]][:2] == ["Record id", "Meal"]


def test_the_csv_header_row() -> None:
    data = template_csv()
    assert data.startswith("\ufeff记录编号,阶段,行政区划,日期,".encode())
    header = next(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert "用餐" in header and "用餐·付款方" in header and "礼品礼金·价值（元）" in header
    english = next(csv.reader(io.StringIO(template_csv(lang="en").decode("utf-8-sig"))))
    assert english[:2] == ["Record id", "Stage"] and "Meals › Payer" in english
    assert [CMAP.resolve(h).dotted for h in header] == [CMAP.resolve(h).dotted for h in english]


def test_a_workbook_is_not_written_to_a_terminal(tmp_path: Path) -> None:
    main, tty = pty.openpty()
    try:
        p = subprocess.run([sys.executable, "-m", "checker.cli", "template", "--lang", "en"],
                           stdout=tty, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, cwd=ROOT,
                           timeout=120)
    finally:
        os.close(tty)
        os.close(main)
    assert p.returncode == 2
    assert err(p) == ("Error: xlsx is a binary format and is not written to a terminal; give a file "
                      "with -o, e.g. -o template.xlsx\n")
    piped = run()  # to a pipe: written as asked
    assert piped.returncode == 0 and piped.stdout.startswith(b"PK") and err(piped) == ""
    header = run("--format", "csv", "--lang", "en")
    assert header.stdout.startswith("\ufeffRecord id,Stage,".encode())
    bad = run("--format", "ods")
    assert bad.returncode == 2


# ---------------------------------------------------------------- the round trip


def records() -> list[dict]:
    """The scenarios, the fixture records and the first valid records of the sample batch."""
    out: list[dict] = []
    for path in sorted((ROOT / "fixtures" / "scenarios").glob("S*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            out.extend(doc if isinstance(doc, list) else [doc] if doc else [])
    lines = (ROOT / "fixtures" / "sample" / "batch.jsonl").read_text(encoding="utf-8").splitlines()
    for line in lines[:140]:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    check = default_validator()
    return [r for r in out if isinstance(r, dict) and not check.validate(r)[1]]


def get(record: dict, path: tuple[str, ...]) -> object:
    for part in path:
        if not isinstance(record, dict) or part not in record:
            return None
        record = record[part]
    return record


def staff_cell(f: Field, v: object, lang: str) -> object:
    """A value as staff would write it: labels, 是/否, Excel dates, numbers."""
    if v is None:
        return None
    if f.is_array and v == []:
        return "无" if lang == "zh" else "none"
    if f.kind == "list":
        return ("、" if lang == "zh" else ", ").join(f.label(x, lang) for x in v)  # type: ignore[union-attr]
    if f.enum:
        return f.label(v, lang)  # type: ignore[arg-type]
    if f.kind == "boolean":
        return ("是" if v else "否") if lang == "zh" else ("yes" if v else "no")
    if f.kind == "date":
        return dt.datetime.fromisoformat(v)  # type: ignore[arg-type]
    if f.kind == "datetime":
        d = dt.datetime.fromisoformat(v)  # type: ignore[arg-type]
        return d.replace(tzinfo=None) if d.utcoffset() == dt.timedelta(hours=8) else v
    if f.kind == "money":
        return float(Decimal(str(v)))
    return v


def fill_xlsx(template: bytes, recs: list[dict], lang: str) -> bytes:
    """The template filled in: columns found through the instructions sheet's table."""
    wb = openpyxl.load_workbook(io.BytesIO(template))
    guide = list(wb.worksheets[-2].iter_rows(values_only=True))
    start = next(i for i, r in enumerate(guide) if r[0] in ("工作表", "Sheet"))
    fields = {(s, h): CMAP.by_path[tuple(d.split("."))] for s, h, d, *_ in guide[start + 1:]}
    lists = {lst.path for lst in CMAP.lists}
    main = wb.worksheets[0]
    for rec in recs:
        row = []
        for c in main[1]:
            f = fields[(main.title, c.value)]
            v = get(rec, f.path)
            row.append(None if f.path in lists and v else staff_cell(f, v, lang))
        main.append(row)
        for lst in CMAP.lists:
            ws = wb[CMAP.sheet_name(lst, lang)]
            for el in get(rec, lst.path) or []:  # type: ignore[union-attr]
                ws.append([rec["id"], *(staff_cell(fields[(ws.title, c.value)],
                                                   get(el, fields[(ws.title, c.value)].relative), lang)
                                        for c in ws[1][1:])])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def fill_csv(template: bytes, recs: list[dict]) -> str:
    """The CSV template filled in: a list's first element on the record's row, the others on
    extra rows below it (record columns empty)."""
    header = next(csv.reader(io.StringIO(template.decode("utf-8-sig"))))
    fields = [CMAP.resolve(h) for h in header]
    lists = {lst.path for lst in CMAP.lists}
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(header)
    for rec in recs:
        depth = max([len(get(rec, p) or []) for p in lists] + [1])  # type: ignore[arg-type]
        for i in range(depth):
            row = []
            for f in fields:
                if f.list_path is not None:
                    items = get(rec, f.list_path) or []
                    v = get(items[i], f.relative) if i < len(items) else None  # type: ignore[index]
                elif i > 0 or (f.path in lists and get(rec, f.path)):
                    v = None
                else:
                    v = get(rec, f.path)
                cell = staff_cell(f, v, "zh")
                row.append(cell.date().isoformat().replace("-", "/") if isinstance(cell, dt.datetime)
                           and f.kind == "date" else cell.isoformat(" ") if isinstance(cell, dt.datetime)
                           else "" if cell is None else cell)
            w.writerow(row)
    return out.getvalue()


def outcomes(path: Path) -> dict[str, tuple]:
    p = subprocess.run([sys.executable, "-m", "checker.cli", "check", str(path), "--format", "json",
                        "--fail-on", "never", "--quiet"], capture_output=True, cwd=ROOT, timeout=300,
                       env={**os.environ, "QINQING_CACHE_DIR": str(CACHE)})
    assert p.returncode == 0, p.stderr.decode()
    report = json.loads(p.stdout)
    return {r["id"]: (r["outcome"], sorted((f["rule"], f["outcome"]) for f in r["findings"]))
            for r in report["records"]}


@pytest.fixture(scope="module")
def json_outcomes(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict], dict]:
    recs = records()
    path = tmp_path_factory.mktemp("rt") / "records.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs), encoding="utf-8")
    return recs, outcomes(path)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_filled_workbook_checks_like_the_json_records(lang: str, tmp_path: Path,
                                                        json_outcomes: tuple) -> None:
    recs, want = json_outcomes
    assert len(recs) > 100 and {o for o, _f in want.values()} >= {"violation", "review", "compliant"}
    assert sum(len(r.get("meals") or []) + len(r.get("gifts") or []) for r in recs) > 50
    path = tmp_path / "filled.xlsx"
    path.write_bytes(fill_xlsx(template_xlsx(lang=lang), recs, lang))
    got = outcomes(path)
    assert got == want


def test_a_filled_csv_with_extra_rows_checks_like_the_json_records(tmp_path: Path,
                                                                   json_outcomes: tuple) -> None:
    recs, want = json_outcomes
    path = tmp_path / "filled.csv"
    path.write_text(fill_csv(template_csv(), recs), encoding="utf-8")
    lines = path.read_text(encoding="utf-8").count("\n") - 1
    assert lines > len(recs)  # some records took extra rows
    assert outcomes(path) == want


def test_the_readme_shows_the_real_template_line(tmp_path: Path) -> None:
    out = tmp_path / "申报.xlsx"
    p = run("-o", out)
    line = err(p).rstrip("\n").replace(str(out), "申报.xlsx")
    assert line.startswith("已写入 申报.xlsx：填写模板，记录 ")
    assert line in (ROOT / "README.md").read_text(encoding="utf-8")
