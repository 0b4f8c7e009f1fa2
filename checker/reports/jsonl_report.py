"""JSON lines: one record entry per line, streamed; the summary as the last line."""

from __future__ import annotations

import json
from typing import IO

from ..report import Report


def write(report: Report, out: IO[str]) -> None:
    for entry in report.entries:
        out.write(json.dumps(entry, ensure_ascii=False, separators=(",", ":")))
        out.write("\n")
    out.write(json.dumps({"summary": report.summary.to_dict(), "policy": report.policy},
                         ensure_ascii=False, separators=(",", ":")))
    out.write("\n")
