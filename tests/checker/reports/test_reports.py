"""Report writers on hand-made entries: escaping, injection, shapes, determinism."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import jsonschema
import pytest

from checker.engine.engine import Summary
from checker.reports import FORMATS, writer
from checker.reports.html_charts import buckets, hbar_svg, time_svg
from checker.reports.html_report import rule_key, script_json
from checker.reports.md_report import cell
from checker.reports.report import Report

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = json.loads((ROOT / "docs" / "report.schema.json").read_text(encoding="utf-8"))
POLICY = {"packs": [{"name": "test.mini", "title": {"zh": "测试", "en": "Test"}, "version": "0.1",
                     "rules": 5}], "content_hash": "a" * 64}
EVIL = '<script>alert("x")</script> | =HYPERLINK("http://evil") \x07'


def finding(**kw) -> dict:
    f = {"rule": "B1", "kind": "boundary", "outcome": "violation", "severity": "medium",
         "title": "工作餐超标准", "message": "人均128.00元，超过标准60.00元（假定值，待核实本地标准）", "citation": "测试依据 第4条",
         "basis": "inferred", "remedy": "补交差额68.00元/人", "evidence": {"per_person_cny(m)": "128.00"},
         "missing": [], "element": "meals[0]", "via": "P3", "tolerated_by": None, "notes": [],
         "suggestion": {"text": "减少 68.00", "changes": [], "questions": []}}
    f.update(kw)
    return f


def entries() -> list[dict]:
    src = {"file": "b.jsonl", "line": 1, "location": "b.jsonl:1"}
    return [
        {"id": "R-1", "outcome": "violation", "jurisdiction": "150300", "date": "2026-03-01",
         "department": "市场监督管理局", "source": src, "errors": [],
         "findings": [finding(), finding(rule="N1", kind="forbid", title=EVIL, message=EVIL,
                                         remedy=EVIL, citation=EVIL)]},
        {"id": "R-2", "outcome": "review", "jurisdiction": "150300", "date": "2026-04-02",
         "department": None, "source": {**src, "line": 2, "location": "b.jsonl:2"}, "errors": [],
         "findings": [finding(outcome="review", message="无法判断", remedy=None, evidence={},
                              missing=["meals[0].diners"],
                              suggestion={"text": "补充", "changes": [],
                                          "questions": ["用餐·用餐人数（meals[0].diners）"]})]},
        {"id": "R-3", "outcome": "unlisted", "jurisdiction": "150300", "date": "2026-04-03",
         "department": "财政局", "source": {**src, "line": 3, "location": "b.jsonl:3"}, "errors": [],
         "findings": []},
        {"id": None, "outcome": "invalid", "jurisdiction": None, "date": None, "department": None,
         "source": {**src, "line": 4, "location": "b.jsonl:4"}, "findings": [],
         "errors": [{"path": "$", "code": "json", "message": "JSON 格式错误：" + EVIL}]},
    ]


def render(fmt: str, lang: str = "zh", items: list[dict] | None = None) -> bytes:
    items = entries() if items is None else items
    summary = Summary()
    for e in items:
        summary.add(e["outcome"])
    buf = io.BytesIO()
    writer(fmt)(Report(POLICY, iter(items), summary, lang, False, ["b.jsonl"]), buf)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_format_is_deterministic(fmt, lang):
    assert render(fmt, lang) == render(fmt, lang)


def test_json_report_streams_in_sorted_key_order_and_matches_schema():
    doc = json.loads(render("json"))
    assert list(doc) == ["policy", "records", "summary"]
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    assert doc["summary"] == {"records": 4, "violation": 1, "review": 1, "tolerated": 0,
                              "compliant": 0, "unlisted": 1, "invalid": 1}


def test_empty_json_report():
    doc = json.loads(render("json", items=[]))
    assert doc["records"] == [] and doc["summary"]["records"] == 0
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)


def test_jsonl_last_line_is_the_summary():
    lines = render("jsonl").decode().splitlines()
    assert [json.loads(x).get("id") for x in lines[:-1]] == ["R-1", "R-2", "R-3", None]
    assert json.loads(lines[-1])["summary"]["records"] == 4


def test_csv_rows_and_formula_injection():
    text = render("csv").decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) == 1 + 2 + 1 + 1 + 1  # header, R-1 two findings, R-2, R-3, invalid
    header = rows[0]
    assert header[:4] == ["记录编号", "记录结论", "行政区划", "日期"]
    n1 = rows[2]
    assert n1[header.index("规则")] == "N1"
    assert n1[header.index("说明")] == EVIL  # not a formula: starts with "<"
    bad = dict(zip(header, rows[-1], strict=True))
    assert bad["记录结论"] == "无效记录" and bad["错误"].startswith("$: JSON 格式错误")
    r2 = dict(zip(header, rows[3], strict=True))
    assert r2["待补充事实"] == "用餐·用餐人数（meals[0].diners）" and r2["如何合规"] == ""
    formula = render("csv", items=[{**entries()[2], "id": "=1+1"}]).decode("utf-8-sig")
    assert "'=1+1" in formula


def test_csv_in_english():
    rows = list(csv.reader(io.StringIO(render("csv", "en").decode("utf-8-sig"))))
    assert rows[0][:3] == ["Record", "Record outcome", "Jurisdiction"]
    assert rows[1][1] == "violation"


def test_markdown_escapes_table_cells():
    assert cell("a|b\nc<d>") == "a\\|b<br>c&lt;d&gt;"
    text = render("md").decode()
    assert "<script>" not in text
    table = [x for x in text.splitlines() if x.startswith("| R-1 ")]
    assert len(table) == 2
    assert all(x.count(" | ") == 12 for x in table)  # 13 cells, no stray separators


def html_rows(html: str) -> list[list]:
    """The records embedded in an HTML report (the JSON array its script pages through)."""
    start = html.index('<script type="application/json" id="qq-data">') + len(
        '<script type="application/json" id="qq-data">')
    return json.loads(html[start:html.index("</script>", start)])


def test_html_escapes_everything_and_is_self_contained():
    html = render("html").decode()
    assert "<script>alert" not in html and "</script> |" not in html
    assert html.count("<script") == 3 and html.count("</script>") == 3  # meta, data, code
    assert html.count("<script>") == 1  # the only code: the table's pager and filters
    assert r'\u003cp class=\"err\">' in html  # `<` never appears inside the JSON
    assert script_json(["</script><!--x"]) == r'["\u003c/script>\u003c!--x"]'
    assert "http://evil" in html  # as text only
    assert 'href="http://evil' not in html and "src=" not in html
    assert html.count("<svg") == 4
    rows = html_rows(html)
    assert [r[1] for r in rows] == ["violation", "review", "unlisted", "invalid"]
    evil = rows[0][9]
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in evil and "<script" not in evil
    assert rows[3][9].startswith('<p class="err">✗ $: JSON 格式错误：&lt;script&gt;')


def test_html_rows_carry_what_the_page_sorts_and_filters_on():
    rows = html_rows(render("html").decode())
    label, outcome, date, area, dept, rules, severity, where, n, _ = rows[0]
    assert (label, outcome, date, area, dept, rules, severity, where, n) == (
        "R-1", "violation", "2026-03-01", "150300", "市场监督管理局", ["B1", "N1"], 2, "b.jsonl:1", 2)
    assert rows[1][5] == ["B1"] and rows[1][6] == 2  # a review: its review findings' severity
    assert rows[2][5] == [] and rows[2][6] == 4  # no finding
    assert rows[3][0] == "b.jsonl:4" and rows[3][2] == ""  # an invalid line: its location


def test_html_lists_only_the_outcomes_asked_for_and_counts_every_record():
    items = entries()
    summary = Summary()
    for x in items:
        summary.add(x["outcome"])
    buf = io.BytesIO()
    writer("html")(Report(POLICY, iter(items), summary, "zh", False, ["b.jsonl"],
                          only=frozenset({"violation", "review"})), buf)
    html = buf.getvalue().decode()
    assert [r[1] for r in html_rows(html)] == ["violation", "review", "invalid"]
    assert "本报告仅列出：违规、需复核、无效记录" in html
    assert "<span>记录总数</span><b>4</b>" in html  # the summary counts every record


def test_rule_ids_sort_naturally():
    assert sorted(["B11", "B2", "N1", "B1", "B11.liaison", "XN9", "B4.promo", "B4"], key=rule_key) == [
        "B1", "B2", "B4", "B4.promo", "B11", "B11.liaison", "N1", "XN9"]


def test_html_charts_count_violations_by_rule_department_and_month():
    html = render("html").decode()
    assert "B1 工作餐超标准" in html and ">市场监督管理局<" in html
    assert "<title>2026-03 违规: 1</title>" in html
    assert "各月记录（按结论）" in html


def test_time_chart_fills_gaps_and_coarsens_long_spans():
    from collections import Counter

    unit, cols = buckets({"2024-01": Counter(violation=2), "2024-03": Counter(compliant=1),
                          "（未填写）": Counter(invalid=1)})
    assert unit == "month" and [c[0] for c in cols] == ["2024-01", "2024-02", "2024-03", "（未填写）"]
    assert cols[1][1] == Counter()
    span = {f"{y}-{m:02d}": Counter(compliant=1) for y in range(2018, 2027) for m in range(1, 13)}
    unit, cols = buckets(span)
    assert unit == "quarter" and len(cols) == 36 and cols[0] == ("2018Q1", Counter(compliant=3))
    unit, cols = buckets({"1990-05": Counter(review=1), "2026-02": Counter(review=4)})
    assert unit == "year" and len(cols) == 37 and cols[-1] == ("2026", Counter(review=4))


def test_time_chart_fits_its_panel_with_a_y_axis_whatever_the_span():
    from collections import Counter

    for months in (1, 12, 48, 49, 400):
        by_month = {f"{1990 + i // 12}-{i % 12 + 1:02d}": Counter(violation=i % 7, compliant=30)
                    for i in range(months)}
        unit, svg = time_svg(by_month, "en", "none")
        assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg" width="100%" viewBox="0 0 640 280"')
        xs = [float(x) for x in __import__("re").findall(r'<rect x="([0-9.]+)" y="[0-9.]+" width', svg)]
        assert xs and max(xs) < 640
        ticks = __import__("re").findall(r'text-anchor="end">([0-9]+)</text>', svg)
        assert len(ticks) >= 3 and ticks[0] == "0"  # gridlines from 0 up past the peak
    assert time_svg({}, "zh", "无") == ("month", '<p class="k">无</p>')


def test_hbar_puts_the_remainder_under_the_chart():
    svg = hbar_svg([("a", 5), ("b", 3), ("其余合计", 40)], "#c00", "无", "其余合计")
    assert svg.count("<rect") == 2 and svg.endswith('<p class="k">其余合计: 40</p>')
    assert hbar_svg([], "#c00", "无") == '<p class="k">无</p>'


def test_xlsx_sheets_text_cells_and_illegal_characters():
    from openpyxl import load_workbook

    data = render("xlsx", items=[*entries(), {**entries()[2], "id": "=1+1"}])
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["汇总", "发现"]
    ws = wb["发现"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][0] == "记录编号" and len(rows) == 1 + 5 + 1
    assert rows[-1][0] == "=1+1" and ws.cell(len(rows), 1).data_type == "s"
    assert all("\x07" not in (c or "") for r in rows for c in r if isinstance(c, str))
    summary = {r[0]: r[1] for r in wb["汇总"].iter_rows(values_only=True) if len(r) > 1 and r[0]}
    assert summary["违规"] == 1 and summary["合计"] == 5
    assert wb.properties.creator == "qinqing"


def test_text_report_reads_like_advice():
    text = render("text").decode()
    assert text.startswith("记录 R-1（b.jsonl:1）：违规\n  ✗ [B1] 工作餐超标准（中） · 用餐（meals[0]）\n")
    assert "      请补充以下事实：\n        · 用餐·用餐人数（meals[0].diners）？\n" in text
    assert "记录 b.jsonl:4：无效记录\n  记录格式有误，未作判断" in text
    assert "  正负面清单均未涉及此事项（既不鼓励也不禁止）。\n" in text
    assert text.endswith("汇总：4 条记录；违规 1，需复核 1，容错免责 0，合规 0，未列入清单 1，无效记录 1\n")


def test_text_report_drops_terminal_control_characters():
    text = render("text").decode()
    assert "\x07" not in text and "\ufffd" in text


def test_text_report_in_english():
    text = render("text", "en").decode()
    assert "      Please provide these facts:\n        · 用餐·用餐人数（meals[0].diners）?\n" in text
    assert text.endswith("Summary: 4 records; violation 1, needs review 1, tolerated 0, compliant 0, "
                         "unlisted 1, invalid 1\n")


def test_html_shows_facts_by_field_title_and_enum_label():
    f = finding(evidence={"meals[0].payer": "enterprise", "per_person_cny(m)": "128.00", "x": EVIL})
    items = [{**entries()[0], "findings": [f]}]
    html = html_rows(render("html", items=items).decode())[0][9]
    assert ("触发事实：</span>用餐·付款方（meals[0].payer） = 企业；per_person_cny(m) = 128.00；"
            "x = &lt;script&gt;") in html
    assert "Meals › Payer (meals[0].payer) = the enterprise; " in html_rows(
        render("html", "en", items).decode())[0][9]
