"""JSON lines: one record entry per line, streamed; then one last line
`{"policy": …, "summary": …}` (it has no `outcome`, which tells it apart)."""

from __future__ import annotations

from typing import IO

import orjson

from checker.reports.report import EncodedEntries, Report

ENCODE_OPTION = orjson.OPT_APPEND_NEWLINE  # how an entry becomes its line (workers use it too)


def write(report: Report, out: IO[bytes]) -> None:
    put, dumps, opt = out.write, orjson.dumps, ENCODE_OPTION
    for entry in report.entries:
        if entry.__class__ is EncodedEntries:
            put(entry.lines)  # type: ignore[union-attr]
        else:
            put(dumps(entry, option=opt))
    out.write(orjson.dumps({"policy": report.policy, "summary": report.summary.to_dict()},
                           option=orjson.OPT_SORT_KEYS))
    out.write(b"\n")
