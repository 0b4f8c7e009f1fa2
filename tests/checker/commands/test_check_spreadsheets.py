"""`qinqing check` on spreadsheets: an extra column no longer makes every record invalid, its
warning is printed also when the report goes to a file, `--strict-columns` refuses the file,
and `--jobs` gives the same report (errors naming sheet, row and column) as one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import openpyxl

ROOT = Path(__file__).resolve().parents[3]
BATCH = ROOT / "fixtures" / "sample" / "batch.xlsx"
CACHE = Path(tempfile.gettempdir()) / f"qinqing-test-cache-{os.getuid()}"


def run(*args: str | Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "checker.cli", "check", *map(str, args)]
    env = {**os.environ, "QINQING_CACHE_DIR": str(CACHE)}
    proc = subprocess.run(cmd, capture_output=True, cwd=ROOT, env=env, timeout=300)
    assert b"Traceback" not in proc.stderr, proc.stderr.decode()
    return proc


def err(proc: subprocess.CompletedProcess) -> str:
    return proc.stderr.decode("utf-8")


def with_remarks(tmp_path: Path) -> Path:
    """The sample workbook (50 records) with a `备注` column filled in on every row."""
    wb = openpyxl.load_workbook(BATCH)
    ws = wb.worksheets[0]
    col = ws.max_column + 1
    ws.cell(row=1, column=col, value="备注")
    for row in range(2, ws.max_row + 1):
        ws.cell(row=row, column=col, value=f"第{row}行已核对")
    path = tmp_path / "备注.xlsx"
    wb.save(path)
    return path


def test_an_extra_column_is_a_warning_printed_also_with_an_output_file(tmp_path: Path) -> None:
    path = with_remarks(tmp_path)
    for lang in ("zh", "en"):
        plain = run(BATCH, "--format", "json", "-o", tmp_path / "plain.json", "--fail-on", "never",
                    "--lang", lang)
        extra = run(path, "--format", "json", "-o", tmp_path / "extra.json", "--fail-on", "never",
                    "--lang", lang)
        assert plain.returncode == extra.returncode == 0
        note = (f"注意：{path}!records：未知列 '备注' 已忽略，其中的值不参与检查\n" if lang == "zh" else
                f"Note: {path}!records: unknown column '备注' ignored (its values are not checked)\n")
        assert err(extra) == note + err(plain).replace(str(tmp_path / "plain.json"),
                                                       str(tmp_path / "extra.json"))
        plain_report = json.loads((tmp_path / "plain.json").read_text(encoding="utf-8"))
        extra_report = json.loads((tmp_path / "extra.json").read_text(encoding="utf-8"))
        assert extra_report["summary"] == plain_report["summary"]
        assert extra_report["summary"]["records"] == 50 and extra_report["summary"]["invalid"] == 0
    jobs = run(path, "--format", "json", "-o", tmp_path / "jobs.json", "--fail-on", "never",
               "--jobs", "2", "--quiet")
    assert err(jobs) == f"注意：{path}!records：未知列 '备注' 已忽略，其中的值不参与检查\n"


def test_strict_columns_refuse_the_file(tmp_path: Path) -> None:
    path = with_remarks(tmp_path)
    out = tmp_path / "r.html"
    p = run(path, "--format", "html", "-o", out, "--strict-columns")
    assert p.returncode == 2 and not out.exists()
    assert err(p) == (f"无法读取输入：{path}!records：未知列 '备注'；使用了 --strict-columns，不读取此文件\n")
    p = run(path, "--format", "html", "-o", out, "--strict-columns", "--lang", "en")
    assert err(p) == (f"Cannot read input: {path}!records: unknown column '备注'; not read because "
                      "of --strict-columns\n")
    ok = run(BATCH, "--format", "json", "-o", out, "--strict-columns", "--fail-on", "never")
    assert ok.returncode == 0


def test_jobs_give_the_same_report_and_locations(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "记录"
    ws.append(["记录编号", "阶段", "行政区划", "日期", "公职人员·公职人员编号", "用餐·付款方", "用餐·用餐人数"])
    for i in range(30):
        ws.append([f"R-{i}", "已完成", "150300", "2024-03-05", "O-1", "企业", 2])
        ws.append([None, None, None, None, None, "本人自付", "二" if i % 7 == 0 else 1])
    path = tmp_path / "rows.xlsx"
    wb.save(path)
    one = run(path, "--format", "json", "--fail-on", "never", "--quiet")
    two = run(path, "--format", "json", "--fail-on", "never", "--quiet", "--jobs", "2")
    assert one.stdout == two.stdout and err(one) == err(two)
    report = json.loads(one.stdout)
    assert report["summary"]["records"] == 30 and report["summary"]["invalid"] == 5
    bad = next(r for r in report["records"] if r["id"] == "R-7")
    assert bad["errors"] == [{"path": "$.meals[1].diners", "code": "type", "message":
                              "应为整数，实际为字符串 '二'（工作表 '记录' 第 17 行，列 '用餐·用餐人数'）"}]
