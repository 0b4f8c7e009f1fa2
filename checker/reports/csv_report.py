"""CSV: one row per finding (a record without findings gets one row), headings in the report
language. UTF-8 with a byte-order mark so that Excel shows Chinese text; cells that a
spreadsheet would run as a formula (= + - @) are prefixed with an apostrophe."""

from __future__ import annotations

import csv
from typing import IO

from checker.reports.report import Report
from checker.reports.labels import text_stream
from checker.reports.rows import COLUMNS, HEADINGS, rows

_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA) else value


def write(report: Report, out: IO[bytes]) -> None:
    out.write(b"\xef\xbb\xbf")
    with text_stream(out) as stream:
        w = csv.writer(stream, lineterminator="\r\n")
        w.writerow([HEADINGS[report.lang][c] for c in COLUMNS])
        only = report.listed()
        for entry in report.entries:
            if only is not None and entry["outcome"] not in only:
                continue
            for row in rows(entry, report.lang):
                w.writerow([safe_cell(row[c]) for c in COLUMNS])
