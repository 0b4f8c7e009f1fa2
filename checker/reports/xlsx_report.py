"""XLSX (openpyxl, write-only, so memory stays flat): a summary sheet and a findings sheet
(one row per finding; a record without findings gets one row).

Deterministic bytes: fixed document timestamps and zip entry times. Text is always
written as text (a cell starting with `=` is not a formula); characters XLSX cannot hold
are dropped and cells are cut at Excel's 32,767-character limit.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import zipfile
from typing import IO, Any

from checker.reports.report import Report
from checker.reports.labels import OUTCOME, OUTCOME_ORDER
from checker.reports.rows import COLUMNS, HEADINGS, rows

FIXED_TIME = dt.datetime(2000, 1, 1)  # workbook created/modified: not the wall clock
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
MAX_CELL = 32767
WIDTHS = {"record": 18, "outcome": 10, "jurisdiction": 9, "date": 11, "department": 16,
          "location": 24, "rule": 8, "finding_outcome": 10, "severity": 8, "title": 22,
          "message": 48, "evidence": 36, "missing": 36, "citation": 40, "remedy": 40,
          "suggestion": 40, "errors": 40}


class _FixedTimeZip(zipfile.ZipFile):
    """A ZipFile whose entries all carry the same timestamp."""

    def writestr(self, zinfo_or_arcname: Any, data: Any, compress_type: Any = None,
                 compresslevel: Any = None) -> None:
        if not isinstance(zinfo_or_arcname, zipfile.ZipInfo):
            zinfo_or_arcname = zipfile.ZipInfo(zinfo_or_arcname, ZIP_TIME)
            zinfo_or_arcname.compress_type = self.compression
            zinfo_or_arcname.external_attr = 0o600 << 16
        else:
            zinfo_or_arcname.date_time = ZIP_TIME
        super().writestr(zinfo_or_arcname, data, compress_type, compresslevel)

    def write(self, filename: Any, arcname: Any = None, compress_type: Any = None,
              compresslevel: Any = None) -> None:
        info = zipfile.ZipInfo(arcname or os.path.basename(filename), ZIP_TIME)
        info.compress_type = self.compression
        info.external_attr = 0o600 << 16
        with open(filename, "rb") as src, self.open(info, "w", force_zip64=True) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)


def _cell(ws: Any, value: Any, bold: bool = False) -> Any:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)[:MAX_CELL]
    c = WriteOnlyCell(ws, value=value)
    if isinstance(value, str):
        c.data_type = "s"  # never a formula
    if bold:
        from openpyxl.styles import Font
        c.font = Font(bold=True)
    return c


def write(report: Report, out: IO[bytes]) -> None:
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter
    from openpyxl.writer.excel import ExcelWriter

    lang = report.lang
    zh = lang == "zh"
    wb = Workbook(write_only=True)
    wb.properties.created = FIXED_TIME
    wb.properties.creator = "qinqing"
    summary_ws = wb.create_sheet("汇总" if zh else "Summary")
    findings_ws = wb.create_sheet("发现" if zh else "Findings")
    for i, c in enumerate(COLUMNS, 1):
        findings_ws.column_dimensions[get_column_letter(i)].width = WIDTHS.get(c, 14)
    findings_ws.freeze_panes = "A2"
    findings_ws.append([_cell(findings_ws, HEADINGS[lang][c], bold=True) for c in COLUMNS])
    for entry in report.entries:
        for row in rows(entry, lang):
            findings_ws.append([_cell(findings_ws, row[c]) for c in COLUMNS])
    s = report.summary.to_dict()
    summary_ws.column_dimensions["A"].width = 24
    summary_ws.column_dimensions["B"].width = 70
    summary_ws.append([_cell(summary_ws, "亲清政商交往合规检查报告" if zh else
                             "Government–business interaction compliance report", bold=True)])
    summary_ws.append([])
    summary_ws.append([_cell(summary_ws, "结论" if zh else "Outcome", True),
                       _cell(summary_ws, "记录数" if zh else "Records", True)])
    for o in OUTCOME_ORDER:
        summary_ws.append([_cell(summary_ws, OUTCOME[lang][o]), s[o]])
    summary_ws.append([_cell(summary_ws, "合计" if zh else "Total", True), s["records"]])
    summary_ws.append([])
    if report.inputs:
        summary_ws.append([_cell(summary_ws, "检查对象" if zh else "Input"),
                           _cell(summary_ws, ", ".join(report.inputs))])
    for p in report.policy.get("packs", []):
        summary_ws.append([_cell(summary_ws, "规则包" if zh else "Policy pack"),
                           _cell(summary_ws, f"{p['name']} {p['version']}".strip())])
    summary_ws.append([_cell(summary_ws, "内容哈希" if zh else "Content hash"),
                       _cell(summary_ws, str(report.policy.get("content_hash", "")))])
    with tempfile.TemporaryFile() as tmp:
        archive = _FixedTimeZip(tmp, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
        wb.properties.modified = FIXED_TIME
        ExcelWriter(wb, archive).save()
        tmp.seek(0)
        shutil.copyfileobj(tmp, out, 1 << 20)
