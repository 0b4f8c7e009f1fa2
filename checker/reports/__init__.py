"""Report formats: one module per format, each with `write(report, out, lang)`.

`report` is a `checker.report.Report` (summary, policy description and the entries
iterator). Streaming formats consume the entries as they come.
"""

from __future__ import annotations

import importlib

FORMATS = ("text", "json", "jsonl", "csv", "md", "html", "xlsx")
BINARY = {"xlsx"}


def writer(fmt: str):
    return importlib.import_module(f"checker.reports.{fmt}_report").write
