"""SARIF 2.1.0 for CI and code-scanning tools: one result per finding that needs action.

A violation finding is a result of level `error`, a review finding one of level `warning`, an
invalid record one `error` of the pseudo-rule `invalid-record`; compliant, tolerated and
unlisted records give no result. Each result points at the record's input file and line (its
physical location) and names the record and element (its logical location); its properties
carry the severity, citation, advice and missing facts. The rules seen are described once in
`tool.driver.rules`, in the order first met. Results are spooled to a temporary file so that
memory stays flat; no timestamps, so the same input gives the same bytes.
"""

from __future__ import annotations

import json
import tempfile
from typing import IO
from urllib.parse import quote

from checker.reports.labels import OUTCOME, text_stream
from checker.reports.report import Report

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVEL = {"violation": "error", "review": "warning"}
INVALID = {"zh": "记录无效，未作判断", "en": "Invalid record, not assessed"}


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _location(entry: dict, element: str | None) -> dict:
    source = entry.get("source") or {}
    loc: dict = {}
    if source.get("file"):
        physical: dict = {"artifactLocation": {"uri": quote(str(source["file"]), safe="/:._-~")}}
        if isinstance(source.get("line"), int) and source["line"] >= 1:
            physical["region"] = {"startLine": source["line"]}
        loc["physicalLocation"] = physical
    name = str(entry.get("id") or source.get("location") or "")
    if name:
        logical = {"name": element or name, "kind": "element" if element else "object",
                   "fullyQualifiedName": f"{name}/{element}" if element else name}
        loc["logicalLocations"] = [logical]
    return loc


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("qinqing")
    except PackageNotFoundError:
        return "0"


def write(report: Report, out: IO[bytes]) -> None:
    lang = report.lang
    rules: dict[str, int] = {}
    described: list[dict] = []

    def rule_index(rule: str, title: str, severity: str | None, level: str) -> int:
        if rule not in rules:
            rules[rule] = len(described)
            desc = {"id": rule, "name": rule, "shortDescription": {"text": title or rule},
                    "defaultConfiguration": {"level": level}}
            if severity:
                desc["properties"] = {"severity": severity}
            described.append(desc)
        return rules[rule]

    count = 0
    with tempfile.TemporaryFile("w+", encoding="utf-8", newline="\n") as spool:
        for entry in report.entries:
            o = entry["outcome"]
            record = entry.get("id")
            if o == "invalid":
                errors = entry.get("errors") or ()
                text = "；".join(f"{x['path']}: {x['message']}" for x in errors) if lang == "zh" else \
                    "; ".join(f"{x['path']}: {x['message']}" for x in errors)
                result = {"ruleId": "invalid-record",
                          "ruleIndex": rule_index("invalid-record", INVALID[lang], None, "error"),
                          "level": "error", "kind": "fail",
                          "message": {"text": text or INVALID[lang]},
                          "locations": [_location(entry, None)],
                          "properties": {"record": record, "outcome": o}}
                spool.write(("," if count else "") + "\n" + _json(result))
                count += 1
                continue
            for f in entry.get("findings") or ():
                if f["outcome"] not in LEVEL:
                    continue
                sug = f.get("suggestion") or {}
                props = {"record": record, "outcome": o, "finding_outcome": f["outcome"],
                         "outcome_label": OUTCOME[lang][f["outcome"]], "severity": f.get("severity"),
                         "citation": f.get("citation"), "remedy": f.get("remedy"),
                         "missing": list(sug.get("questions") or f.get("missing") or ())}
                if f.get("via"):
                    props["via"] = f["via"]
                result = {"ruleId": f["rule"],
                          "ruleIndex": rule_index(f["rule"], f.get("title") or "", f.get("severity"),
                                                  LEVEL[f["outcome"]]),
                          "level": LEVEL[f["outcome"]],
                          "kind": "fail" if f["outcome"] == "violation" else "review",
                          "message": {"text": f"[{f['rule']}] {f.get('message') or f.get('title') or ''}"},
                          "locations": [_location(entry, f.get("element"))],
                          "properties": props}
                spool.write(("," if count else "") + "\n" + _json(result))
                count += 1
        spool.seek(0)
        driver = {"name": "qinqing", "version": _version(), "rules": described,
                  "properties": {"policy": report.policy}}
        run_props = {"summary": report.summary.to_dict(), "lang": lang}
        with text_stream(out) as s:
            s.write(f'{{"$schema":{_json(SCHEMA)},"version":"2.1.0","runs":[{{'
                    f'"tool":{{"driver":{_json(driver)}}},"properties":{_json(run_props)},'
                    f'"results":[')
            while True:
                block = spool.read(1 << 16)
                if not block:
                    break
                s.write(block)
            s.write("\n]}]}\n")
