"""JUnit XML for CI: one test case per record, one test suite per input file.

A record whose outcome makes the run fail (`--fail-on`) is a `<failure>` (an invalid record an
`<error>`), with its failing findings as text; every other record passes, and the findings of
one that needs review are kept in its `<system-out>`. So a CI server shows red exactly when
`qinqing check` exits 1. Test cases name the record (its id, or its input location when it has
none) and carry the input file and line. No timings: the same input gives the same bytes.
"""

from __future__ import annotations

import re
import tempfile
from typing import IO
from xml.sax.saxutils import escape, quoteattr

from checker.reports.labels import OUTCOME, SEVERITY, WORDS, element_label, text_stream
from checker.reports.report import Report

_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # not allowed in XML 1.0
_FAILING = ("violation", "review")


def _x(value: object) -> str:
    return escape(_ILLEGAL.sub("\ufffd", str(value)))


def _a(value: object) -> str:
    return quoteattr(_ILLEGAL.sub("\ufffd", str(value)))


def findings_text(entry: dict, lang: str) -> str:
    """The record's failing findings (or its errors), one block each, for a failure's text."""
    w = WORDS[lang]
    sep = "：" if lang == "zh" else ": "
    out: list[str] = []
    for x in entry.get("errors") or ():
        out.append(f"✗ {x['path']}{sep}{x['message']}")
    for f in entry.get("findings") or ():
        if f["outcome"] not in _FAILING:
            continue
        sev = SEVERITY[lang].get(f["severity"], f["severity"] or "")
        el = f" · {element_label(f['element'], lang)}" if f.get("element") else ""
        out.append(f"[{f['rule']}] {f['title']} — {OUTCOME[lang][f['outcome']]}"
                   + (f"（{sev}）" if lang == "zh" else f" ({sev})") + el)
        if f.get("message") and f["message"] != f["title"]:
            out.append(f"    {f['message']}")
        if f.get("citation"):
            out.append(f"    {w['citation']}{sep}{f['citation']}")
        if f.get("remedy"):
            out.append(f"    {w['remedy']}{sep}{f['remedy']}")
        for q in (f.get("suggestion") or {}).get("questions") or ():
            out.append(f"    · {q}" + ("？" if lang == "zh" else "?"))
    return "\n".join(out)


class _Suite:
    def __init__(self, name: str) -> None:
        self.name = name
        self.tests = self.failures = self.errors = 0


def write(report: Report, out: IO[bytes]) -> None:
    lang = report.lang
    suites: list[_Suite] = []
    with tempfile.TemporaryFile("w+", encoding="utf-8", newline="\n") as spool:
        for entry in report.entries:
            source = entry.get("source") or {}
            file = str(source.get("file") or "")
            if not suites or suites[-1].name != file:
                if suites:
                    spool.write("  </testsuite>\n")
                suites.append(_Suite(file))
                spool.write("\0")  # where this suite's opening tag goes
            suite = suites[-1]
            suite.tests += 1
            o = entry["outcome"]
            where = str(source.get("location") or "")
            name = str(entry.get("id") or where)
            line = f" line={_a(source['line'])}" if source.get("line") else ""
            head = (f"    <testcase classname={_a(file)} name={_a(name)} file={_a(file)}{line}")
            label = OUTCOME[lang][o]
            if o in report.failing:
                tag = "error" if o == "invalid" else "failure"
                if tag == "error":
                    suite.errors += 1
                else:
                    suite.failures += 1
                rules = ", ".join(sorted({f["rule"] for f in entry.get("findings") or ()
                                          if f["outcome"] == o}))
                message = f"{label}{'：' if lang == 'zh' else ': '}{rules}" if rules else label
                spool.write(f"{head}>\n      <{tag} type={_a(o)} message={_a(message)}>"
                            f"{_x(findings_text(entry, lang))}</{tag}>\n    </testcase>\n")
            elif o in ("review", "violation", "invalid"):
                spool.write(f"{head}>\n      <system-out>{_x(label)}\n"
                            f"{_x(findings_text(entry, lang))}</system-out>\n    </testcase>\n")
            else:
                spool.write(f"{head}/>\n")
        if suites:
            spool.write("  </testsuite>\n")
        spool.seek(0)
        tests = sum(s.tests for s in suites)
        failures = sum(s.failures for s in suites)
        errors = sum(s.errors for s in suites)
        with text_stream(out) as s:
            s.write('<?xml version="1.0" encoding="UTF-8"?>\n'
                    f'<testsuites name="qinqing" tests="{tests}" failures="{failures}" '
                    f'errors="{errors}" skipped="0">\n')
            it = iter(suites)
            policy = report.policy.get("content_hash", "")
            while True:
                block = spool.read(1 << 16)
                if not block:
                    break
                parts = block.split("\0")
                s.write(parts[0])
                for part in parts[1:]:
                    suite = next(it)
                    s.write(f"  <testsuite name={_a(suite.name)} tests=\"{suite.tests}\" "
                            f"failures=\"{suite.failures}\" errors=\"{suite.errors}\" skipped=\"0\">\n"
                            f"    <properties><property name=\"qinqing.policy\" value={_a(policy)}/>"
                            f"</properties>\n")
                    s.write(part)
            s.write("</testsuites>\n")
