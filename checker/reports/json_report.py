"""The JSON report (schema: docs/report.schema.json). Deterministic bytes for the same input."""

from __future__ import annotations

import json
from typing import IO

from ..report import Report


def write(report: Report, out: IO[str]) -> None:
    records = list(report.entries)
    doc = {"summary": report.summary.to_dict(), "policy": report.policy, "records": records}
    json.dump(doc, out, ensure_ascii=False, indent=2)
    out.write("\n")
