"""Report formats: one module per format, each with `write(report, out)`.

`report` is a `checker.report.Report` (summary, policy description and the entries
iterator); `out` is a binary stream. Streaming formats consume the entries as they come;
the others spool to a temporary file, so memory does not grow with the batch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

FORMATS = ("text", "json", "jsonl", "csv", "md", "html", "xlsx", "junit", "sarif")
BINARY = frozenset({"xlsx"})  # never written to a terminal
FILTERABLE = frozenset({"text", "md", "csv", "html"})  # formats with a filtered view (`--only`)


def writer(fmt: str) -> Callable:
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}")
    return importlib.import_module(f"checker.reports.{fmt}_report").write
