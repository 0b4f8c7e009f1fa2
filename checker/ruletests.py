"""Rule tests that policy authors write in YAML beside their packs (`*.tests.yaml`).

    base: bases/work_meal.yaml          # optional, relative to this file
    tests:
      - name: B1 fires one cent over the cap
        patch: {"meals[0].total_cny": "300.05"}   # or nested maps; lists are replaced whole
        # record: {...}  /  fixture: ../../fixtures/scenarios/S08.yaml
        jurisdiction: "000000"          # optional overrides of the record's fields
        date: 2024-03-05
        expect:
          outcome: violation
          findings: [B1, P3]            # exact set of rule ids reported
          includes: [B1]                # …or only these must be present
          excludes: [N2]
          missing: ["meals[0].diners"]  # review: the missing facts named
          details: [{rule: B1, severity: medium, outcome: violation, message: "人均60.01元"}]
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

from .engine import Engine, Options, Policy, Summary

TEST_SUFFIX = ".tests.yaml"
MAX_TEST_BYTES = 2 * 1024 * 1024


class RuleTestError(Exception):
    """A test file that cannot be read; the message names the file (and line)."""


@dataclass
class RuleTest:
    name: str
    file: str
    line: int
    record: dict | None
    expect: dict
    problem: str | None = None  # why the test could not be built


@dataclass
class TestResult:
    test: RuleTest
    passed: bool
    outcome: str | None
    rules: list[str]
    diffs: list[str] = field(default_factory=list)
    entry: dict | None = None
    result: Any = None  # policy_dsl.evaluate.RecordResult (with trace), for coverage


def discover(paths: Iterable[str | Path]) -> list[Path]:
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            out.extend(sorted(p.rglob(f"*{TEST_SUFFIX}")))
        elif p.is_file() and p.name.endswith(TEST_SUFFIX):
            out.append(p)
    return out


def _read_yaml(path: Path) -> Any:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RuleTestError(f"{path}: cannot read ({exc.strerror})")
    if len(data) > MAX_TEST_BYTES:
        raise RuleTestError(f"{path}: file too large")
    try:
        return yaml.safe_load(data.decode("utf-8-sig"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        raise RuleTestError(f"{path}{where}: invalid YAML: {getattr(exc, 'problem', exc)}")


_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def set_path(doc: dict, path: str, value: Any) -> None:
    """Set `meals[0].total_cny` inside a record, creating maps as needed."""
    parts = [(m.group(1), m.group(2)) for m in _PATH_PART.finditer(path)]
    cur: Any = doc
    for i, (key, idx) in enumerate(parts):
        last = i == len(parts) - 1
        if idx is not None:
            n = int(idx)
            if not isinstance(cur, list) or n >= len(cur):
                raise KeyError(f"`{path}`: no element [{n}]")
            if last:
                cur[n] = value
            else:
                cur = cur[n]
            continue
        if not isinstance(cur, dict):
            raise KeyError(f"`{path}`: `{key}` is not inside an object")
        if last:
            cur[key] = value
        else:
            nxt = parts[i + 1]
            if cur.get(key) is None:
                cur[key] = [] if nxt[1] is not None else {}
            cur = cur[key]


def apply_patch(base: dict, patch: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if any(c in key for c in ".["):
            set_path(out, key, copy.deepcopy(value))
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = apply_patch(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _jsonable(x: Any) -> Any:
    """YAML gives dates as date objects; records are JSON-shaped, so turn them into text."""
    if isinstance(x, (dt.date, dt.datetime)):
        return x.isoformat()
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_jsonable(v) for v in x]
    return x


def load_tests(path: Path) -> list[RuleTest]:
    doc = _read_yaml(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("tests"), list):
        raise RuleTestError(f"{path}: a test file needs a `tests:` list")
    base: dict | None = None
    if doc.get("base"):
        base_doc = _read_yaml((path.parent / str(doc["base"])).resolve())
        if not isinstance(base_doc, dict):
            raise RuleTestError(f"{path}: base `{doc['base']}` is not a record")
        base = _jsonable(base_doc)
    text_lines = path.read_text("utf-8-sig").splitlines()
    tests = []
    for i, t in enumerate(doc["tests"]):
        name = str(t.get("name") or f"test {i + 1}") if isinstance(t, dict) else f"test {i + 1}"
        line = next((n + 1 for n, s in enumerate(text_lines) if name in s), 1)
        if not isinstance(t, dict) or not isinstance(t.get("expect"), dict):
            tests.append(RuleTest(name, str(path), line, None, {}, "a test needs an `expect:` map"))
            continue
        problem = None
        record = None
        try:
            if "record" in t:
                record = _jsonable(t["record"])
            elif "fixture" in t:
                fx = _read_yaml((path.parent / str(t["fixture"])).resolve())
                record = _jsonable(fx)
            elif base is not None:
                record = copy.deepcopy(base)
            else:
                problem = "no `record`, `fixture` or file `base` to start from"
            if record is not None and t.get("patch"):
                record = apply_patch(record, _jsonable(t["patch"]))
            if record is not None:
                for key in ("jurisdiction", "date", "id"):
                    if key in t:
                        record[key] = _jsonable(t[key])
                record.setdefault("id", f"T{i + 1}")
        except (KeyError, RuleTestError) as exc:
            problem = str(exc)
        tests.append(RuleTest(name, str(path), line, record, t["expect"], problem))
    return tests


def run(tests: list[RuleTest], policy: Policy, lang: str = "zh") -> list[TestResult]:
    from .validate import default_validator

    validator = default_validator()
    engine = Engine(policy, Options(lang=lang, explain=False))
    results = []
    for t in tests:
        if t.problem:
            results.append(TestResult(t, False, None, [], [t.problem]))
            continue
        data, errors = validator.validate(t.record)
        if data is None:
            outcome = "invalid"
            entry = {"outcome": "invalid", "findings": [],
                     "errors": [{"path": e.path, "message": e.message(lang)} for e in errors]}
            result = None
        else:
            item = _Item(data, t)
            result = policy.evaluator.evaluate(data, None, trace=True)
            from .findings import record_entry
            entry = record_entry(item, result, policy.evaluator, lang, False)
            outcome = entry["outcome"]
        rules = sorted({f["rule"] for f in entry["findings"]})
        diffs = compare(t.expect, entry)
        results.append(TestResult(t, not diffs, outcome, rules, diffs, entry, result))
    return results


class _Item:
    def __init__(self, data: dict, t: RuleTest):
        self.data = data
        self.raw = t.record
        self.source = t.file
        self.line = t.line
        self.location = f"{t.file}:{t.line}"
        self.record_id = data.get("id")
        self.errors = []


def compare(expect: dict, entry: dict) -> list[str]:
    """Readable differences between what a test expects and what the engine said."""
    diffs = []
    got_rules = sorted({f["rule"] for f in entry["findings"]})
    if "outcome" in expect and expect["outcome"] != entry["outcome"]:
        diffs.append(f"outcome: expected {expect['outcome']}, got {entry['outcome']}")
    if "findings" in expect:
        want = sorted(set(map(str, expect["findings"] or [])))
        if want != got_rules:
            missing = sorted(set(want) - set(got_rules))
            extra = sorted(set(got_rules) - set(want))
            parts = []
            if missing:
                parts.append("- expected but absent: " + ", ".join(missing))
            if extra:
                parts.append("+ reported but not expected: " + ", ".join(extra))
            diffs.append("findings differ:\n    " + "\n    ".join(parts))
    for rid in expect.get("includes", []) or []:
        if str(rid) not in got_rules:
            diffs.append(f"expected finding {rid} is absent (got: {', '.join(got_rules) or 'none'})")
    for rid in expect.get("excludes", []) or []:
        if str(rid) in got_rules:
            diffs.append(f"finding {rid} should not be reported")
    if "missing" in expect:
        got_missing = sorted({m for f in entry["findings"] for m in f.get("missing", [])})
        want_missing = sorted(map(str, expect["missing"] or []))
        if got_missing != want_missing:
            diffs.append(f"missing facts: expected {want_missing}, got {got_missing}")
    for d in expect.get("details", []) or []:
        cands = [f for f in entry["findings"] if f["rule"] == str(d.get("rule"))]
        ok = any(all(_detail_ok(f, k, v) for k, v in d.items() if k != "rule") for f in cands)
        if not ok:
            shown = "; ".join(f"{f['rule']} {f['outcome']} {f['severity']}: {f['message']}" for f in cands)
            diffs.append(f"no finding matches {d} (candidates: {shown or 'none'})")
    if entry.get("errors") and expect.get("outcome") != "invalid":
        diffs.append("record is invalid: " + "; ".join(f"{e['path']}: {e['message']}" for e in entry["errors"]))
    return diffs


def _detail_ok(f: dict, key: str, value: Any) -> bool:
    if key == "message":
        return str(value) in (f.get("message") or "")
    return str(f.get(key)) == str(value)


__all__ = ["discover", "load_tests", "run", "compare", "apply_patch", "RuleTest", "TestResult",
           "RuleTestError", "Summary"]
