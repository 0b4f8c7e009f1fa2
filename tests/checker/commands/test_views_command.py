"""`qinqing views`: the record kinds' views of a small batch, values computed by hand (working
days across the 2025 National Day holiday, rates, the escalation list), in JSON, HTML and XLSX."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
BASES = ROOT / "rules"


def base(path: str) -> dict:
    return yaml.load((BASES / path).read_text("utf-8"), Loader=_loader())


def _loader():
    from checker.input.documents import _yaml_loader
    return _yaml_loader()


def _json(x: object) -> str:
    return json.dumps(x, ensure_ascii=False, default=lambda v: float(v) if isinstance(v, Decimal) else str(v))


@pytest.fixture
def batch(tmp_path: Path) -> Path:
    c = base("common/tests/bases/complaint.yaml")  # due 2025-10-10 (5 working days from 09-26)
    on_time = {**c, "id": "C-1"}
    late = {**c, "id": "C-2", "handling": {**c["handling"], "closed_on": "2025-10-14"},
            "feedback": {**c["feedback"], "on": "2025-10-14"}}  # 10-11 (make-up Sat), 10-13, 10-14: 3 late
    still_open = {**c, "id": "C-3", "as_of": "2025-10-10",
                  "handling": {**c["handling"], "status": "open", "closed_on": None},
                  "feedback": {"given": False}}
    r = base("xuchang/tests/bases/rating.yaml")
    bottom = {**r, "id": "R-1", "rank": 98, "measures": r["measures"]}  # bottom 3, only talks: UR2
    p = base("common/tests/bases/problem.yaml")
    fixed = {**p, "id": "P-1"}
    open_item = {**p, "id": "P-2", "status": "open", "rectified_on": None, "verification": None,
                 "as_of": "2025-10-10"}
    path = tmp_path / "b.jsonl"
    path.write_text("".join(_json(x) + "\n" for x in (on_time, late, still_open, bottom, fixed, open_item)),
                    encoding="utf-8")
    return path


def views(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "checker.cli", "views", *map(str, args)], cwd=ROOT,
                          capture_output=True, timeout=300, check=False)


def test_json_views(batch: Path) -> None:
    proc = views(batch, "--format", "json", "--lang", "en")
    assert proc.returncode == 0, proc.stderr.decode()
    doc = json.loads(proc.stdout)
    v = doc["views"]
    assert doc["records"] == 6
    unit = next(x for x in v["by_unit"] if x["kind"] == "complaint")
    assert unit == {"unit": "乌海市不动产登记中心", "kind": "complaint", "records": 3, "open": 1, "closed": 2,
                    "closed_on_time": 1, "overdue": 1, "feedback_owed": 2, "feedback_given": 2,
                    "closure_rate": "66.7%", "on_time_rate": "50.0%", "feedback_rate": "100.0%",
                    "avg_working_days_to_close": "6.5"}  # 5 and 8 working days
    assert v["overdue"] == [{"id": "C-2", "kind": "complaint", "unit": "乌海市不动产登记中心", "rule": "CP1",
                             "due": "2025-10-10", "on": "2025-10-14", "working_days_overdue": 3}]
    assert [(x["id"], x["from_bottom"], x["rule"], x["status"]) for x in v["escalation"]] == [
        ("R-1", 3, "UR2", "violation")]
    assert v["problem_lists"] == [{"list": "重点项目推进作风问题清单", "source": "special_inspection", "items": 2,
                                   "rectified": 1, "verified": 1, "open": 1, "overdue": 0,
                                   "completion_rate": "50.0%"}]
    q = next(x for x in v["by_quarter"] if x["kind"] == "complaint")
    assert (q["quarter"], q["received"], q["closed"], q["by_channel"]) == ("2025Q3", 3, 2, {"qr_supervision": 3})


def test_html_and_xlsx(batch: Path, tmp_path: Path) -> None:
    out = tmp_path / "v.html"
    proc = views(batch, "--format", "html", "-o", out)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stderr.decode().strip() == f"已写入 {out}：6 条记录的统计视图"
    html = out.read_text("utf-8")
    for title in ("按责任单位", "按季度", "按问题分类", "逾期清单（工作日）", "作风评议结果运用清单", "问题清单整改完成率"):
        assert f">{title}</h2>" in html
    assert "<th>逾期工作日</th>" in html and "<td>C-2</td>" in html
    import openpyxl
    xlsx = tmp_path / "v.xlsx"
    assert views(batch, "--format", "xlsx", "-o", xlsx, "--lang", "en").returncode == 0
    wb = openpyxl.load_workbook(xlsx)
    assert wb.sheetnames == ["By responsible unit", "By quarter", "By problem class", "Overdue (working days)",
                             "Ratings, measures due", "Problem-list completion"]
    rows = list(wb["Overdue (working days)"].iter_rows(values_only=True))
    assert rows == [("id", "kind", "unit", "rule", "due", "on", "working_days_overdue"),
                    ("C-2", "complaint", "乌海市不动产登记中心", "CP1", "2025-10-10", "2025-10-14", 3)]


def test_bad_as_of() -> None:
    proc = views("fixtures/kinds/complaint.jsonl", "--as-of", "2025/12/31")
    assert proc.returncode == 2
    assert proc.stderr.decode().strip() == "错误：--as-of 应为 YYYY-MM-DD 日期，而不是 '2025/12/31'"
