"""The JSON report (schema: docs/report.schema.json). Deterministic bytes for the same input.

Streamed: top-level keys in sorted order (`policy`, `records`, `summary`), so the records
are written as they are decided and the summary, complete by then, comes last.
"""

from __future__ import annotations

from typing import IO

import orjson

from checker.reports.report import Report

_OPTS = orjson.OPT_INDENT_2


def _indented(value: object, prefix: bytes) -> bytes:
    return orjson.dumps(value, option=_OPTS).replace(b"\n", b"\n" + prefix)


def write(report: Report, out: IO[bytes]) -> None:
    out.write(b'{\n  "policy": ' + _indented(report.policy, b"  ") + b',\n  "records": [')
    first = True
    for entry in report.entries:
        out.write(b"\n    " if first else b",\n    ")
        out.write(_indented(entry, b"    "))
        first = False
    out.write(b"]" if first else b"\n  ]")
    out.write(b',\n  "summary": ' + _indented(report.summary.to_dict(), b"  ") + b"\n}\n")
