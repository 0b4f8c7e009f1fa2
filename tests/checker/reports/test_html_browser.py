"""The HTML report of a 20,000-record generated batch in headless Chromium (Playwright driving
Debian's `chromium`, as tests/checker/service/test_page_browser.py does): no table cell overflows, the
time chart stays inside its panel, the rule filter is exact, the first rows are the worst,
and the page paints quickly.

The browser is the suite's (`chromium` in tests/conftest.py: skipped when missing, except in
CI). Set QINQING_SCREENSHOT_DIR to keep the screenshots.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CACHE = Path(tempfile.gettempdir()) / f"qinqing-test-cache-{os.getuid()}"
RECORDS = 20_000
FIRST_PAINT_MS = 2000  # asserted on the best of a few loads: the machine is shared and noisy
RANK = {"violation": 0, "review": 1, "invalid": 2, "tolerated": 3, "compliant": 4, "unlisted": 5}

# Cells whose content is wider than the cell (it spills into the next column or is clipped).
OVERFLOWING = """() => {
  const bad = [];
  for (const td of document.querySelectorAll('#records tbody td')) {
    if (td.scrollWidth > td.clientWidth + 1) bad.push(td.textContent.slice(0, 60));
  }
  const t = document.querySelector('#records');
  if (t.scrollWidth > t.parentElement.clientWidth + 1) bad.push('the table itself');
  return bad;
}"""


@pytest.fixture(scope="module")
def report(tmp_path_factory, chromium) -> Path:
    """The HTML report of `generate_sample.py --seed 7 -n 20000` (made only where the browser is)."""
    tmp = tmp_path_factory.mktemp("html20k")
    batch, html = tmp / "batch.jsonl", tmp / "report.html"
    subprocess.run([sys.executable, "fixtures/generate_sample.py", "--seed", "7", "-n", str(RECORDS),
                    "-o", str(batch)], cwd=ROOT, check=True, timeout=300, capture_output=True)
    env = {**os.environ, "QINQING_CACHE_DIR": str(CACHE)}
    proc = subprocess.run([sys.executable, "-m", "checker.cli", "check", str(batch), "--format", "html",
                           "-o", str(html), "--fail-on", "never", "--jobs", "2", "--quiet"],
                          cwd=ROOT, env=env, timeout=600, capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()
    return html


@pytest.fixture(scope="module")
def rows(report) -> list[list]:
    text = report.read_text(encoding="utf-8")
    marker = '<script type="application/json" id="qq-data">'
    start = text.index(marker) + len(marker)
    return json.loads(text[start:text.index("</script>", start)])


@pytest.fixture(scope="module")
def browser(chromium):
    return chromium


def open_report(browser, report: Path, width: int = 1280):
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="zh-CN")
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    errors: list[str] = []
    outside: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("request", lambda r: None if r.url.startswith(("file:", "data:")) else outside.append(r.url))
    pg.goto(report.as_uri())
    pg.wait_for_selector("body[data-ready=true]")
    pg.errors, pg.outside = errors, outside
    return context, pg


def keep(pg, name: str, tmp_path: Path) -> None:
    target = os.environ.get("QINQING_SCREENSHOT_DIR")
    path = tmp_path / name
    pg.screenshot(path=str(path))
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / name)


def test_the_report_holds_every_record_and_shows_one_page(browser, report, rows, tmp_path):
    assert len(rows) == RECORDS
    context, pg = open_report(browser, report)
    try:
        assert pg.errors == [] and pg.outside == []
        assert pg.locator("#records tbody tr").count() == 100
        assert pg.inner_text("#n") == str(RECORDS)
        height = pg.evaluate("document.documentElement.scrollHeight")
        assert height < 20_000, height  # one page of rows, not 20,000
        pg.select_option("#ps", "500")
        assert pg.locator("#records tbody tr").count() == 500
        pg.click("#last")
        assert pg.locator("#records tbody tr").count() == RECORDS - 39 * 500
        keep(pg, "html20k-last-page.png", tmp_path)
    finally:
        context.close()


@pytest.mark.parametrize("width", [1280, 820])
def test_no_table_cell_overflows(browser, report, width, tmp_path):
    context, pg = open_report(browser, report, width)
    try:
        pg.select_option("#ps", "500")
        assert pg.evaluate(OVERFLOWING) == []
        pg.select_option("#s", "invalid")  # invalid lines: their location stands in for the id
        assert pg.locator("#records tbody tr").count() > 0
        assert pg.evaluate(OVERFLOWING) == []
        pg.locator("#records tbody tr details summary").first.click()
        assert pg.evaluate(OVERFLOWING) == []
        keep(pg, f"html20k-invalid-{width}.png", tmp_path)
    finally:
        context.close()


def test_time_chart_stays_inside_its_panel(browser, report, tmp_path):
    context, pg = open_report(browser, report)
    try:
        boxes = pg.evaluate("""() => [...document.querySelectorAll('figure')].map(f => {
            const s = f.querySelector('svg'), a = f.getBoundingClientRect();
            const b = s ? s.getBoundingClientRect() : a;
            return [f.querySelector('figcaption').textContent, a.left, a.right, b.left, b.right,
                    f.scrollWidth - f.clientWidth, s ? s.querySelectorAll('text').length : 0];
        })""")
        assert len(boxes) == 4
        for caption, left, right, svg_left, svg_right, spill, _ in boxes:
            assert left <= svg_left and svg_right <= right, caption
            assert spill <= 0, caption
        caption, *_, labels = boxes[3]
        assert caption.startswith("各") and labels > 8  # y-axis values, dates and the legend
        pg.locator("figure").nth(3).screenshot(path=str(tmp_path / "time.png"))
    finally:
        context.close()


def test_rule_filter_is_exact(browser, report, rows):
    want = sum(1 for r in rows if "B1" in r[5])
    near = sum(1 for r in rows if any(x.startswith("B1") and x != "B1" for x in r[5]))
    assert want > 0 and near > 0  # B11, B13, B14 … are there to be wrongly matched
    context, pg = open_report(browser, report)
    try:
        pg.select_option("#r", "B1")
        assert pg.inner_text("#n") == str(want)
        pg.select_option("#ps", "500")
        shown = pg.eval_on_selector_all("#records tbody tr", "rs => rs.map(r => r.dataset.rules)")
        assert shown and all("B1" in x.split(" ") for x in shown)
        pg.select_option("#r", "")
        pg.fill("#q", "b1")  # a term that is a rule id matches that rule only
        assert pg.inner_text("#n") == str(want)
        pg.fill("#q", "B11")
        assert pg.inner_text("#n") == str(sum(1 for r in rows if "B11" in r[5]))
    finally:
        context.close()


def test_first_rows_are_the_worst(browser, report, rows):
    context, pg = open_report(browser, report)
    try:
        pg.select_option("#ps", "500")
        first = pg.eval_on_selector_all(
            "#records tbody tr", "rs => rs.map(r => [r.dataset.outcome, +r.dataset.severity])")
        keys = [(RANK[o], s) for o, s in first]
        assert keys == sorted(keys)
        assert first[0] == ["violation", 0]  # a critical violation comes first
        worst = min((RANK[r[1]], r[6]) for r in rows)
        assert keys[0] == worst
    finally:
        context.close()


def test_first_paint_is_quick(browser, report):
    """First contentful paint of the 25 MB report, best of three loads (asserted under 2 s)."""
    best = None
    for _ in range(3):
        context, pg = open_report(browser, report)
        try:
            paint = pg.evaluate("""() => {
                const p = performance.getEntriesByName('first-contentful-paint')[0];
                return p ? p.startTime : null;
            }""")
        finally:
            context.close()
        assert paint is not None
        best = paint if best is None else min(best, paint)
        if best < FIRST_PAINT_MS / 4:
            break
    print(f"first contentful paint: {best:.0f} ms (best of the loads)")
    assert best < FIRST_PAINT_MS


def test_record_text_never_runs_as_script(browser, tmp_path):
    """Hostile text in every field of a record, opened and searched in the browser: shown as
    text, never run (no dialog, no element created from it)."""
    import io

    from checker.engine.engine import Summary
    from checker.reports import writer
    from checker.reports.report import Report

    evil = '<img src=x onerror=alert(1)></script><script>alert(2)</script>"\'&'
    finding = {"rule": "B1", "kind": "boundary", "outcome": "violation", "severity": "medium",
               "title": evil, "message": evil, "citation": evil, "basis": "inferred", "remedy": evil,
               "evidence": {"x": evil}, "missing": [], "element": evil, "via": None,
               "tolerated_by": None, "notes": [],
               "suggestion": {"text": evil, "changes": [], "questions": [evil]}}
    entries = [{"id": evil, "outcome": "violation", "jurisdiction": evil, "date": "2026-01-02",
                "department": evil, "source": {"file": evil, "line": 1, "location": evil},
                "errors": [], "findings": [finding, {**finding, "outcome": "review"}]},
               {"id": None, "outcome": "invalid", "jurisdiction": None, "date": None,
                "department": None, "source": {"file": "b", "line": 2, "location": evil},
                "findings": [], "errors": [{"path": evil, "code": "json", "message": evil}]}]
    summary = Summary()
    for x in entries:
        summary.add(x["outcome"])
    buf = io.BytesIO()
    writer("html")(Report({"packs": [], "content_hash": evil}, iter(entries), summary, "en", False,
                          [evil]), buf)
    path = tmp_path / "evil.html"
    path.write_bytes(buf.getvalue())
    context, pg = open_report(browser, path)
    dialogs: list[str] = []
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        for summary_el in pg.locator("#records tbody details summary").all():
            summary_el.click()
        pg.fill("#q", "onerror")
        pg.fill("#q", "")
        assert dialogs == [] and pg.errors == [] and pg.outside == []
        assert pg.locator("img").count() == 0
        assert pg.locator("script").count() == 3  # the page's own: meta, data, code
        assert evil in pg.inner_text("#records")
    finally:
        context.close()
