"""Rule tests that policy authors write in YAML beside their packs (`*.tests.yaml`).

    base: bases/work_meal.yaml          # optional, relative to this file
    jurisdiction: "150300"              # optional, for every test of the file (so are `date`
    patch: {"meals[0].diners": 4}       #   and `patch`, applied to the base)
    lang: zh                            # optional: language of expected messages (zh or en)
    tests:
      - name: B1 fires one cent over the cap
        patch: {"meals[0].total_cny": "300.05"}   # or nested maps; lists are replaced whole
        # record: {...}  /  fixture: ../../fixtures/scenarios/S08.yaml
        jurisdiction: "000000"          # optional overrides of the record's fields
        date: 2024-03-05
        history:                        # optional: earlier records for cross-record rules
          - {id: H1, date: 2024-02-20}  # each built like a test record (base + patch, record, fixture)
        expect:
          outcome: violation
          findings: [B1, P3]            # exact set of rule ids reported
          includes: [B1]                # …or only these must be present
          excludes: [N2]
          missing: ["meals[0].diners"]  # review: the missing facts named
          details: [{rule: B1, severity: medium, outcome: violation, message: "人均60.01元"}]
      - name: the same in English
        patch: {"meals[0].total_cny": "300.05"}
        lang: en                        # per test
        expect: {details: [{rule: B1, message: "60.01 CNY per person"}]}

A file that cannot be read, or a test that is malformed (unknown key, no `expect`, a patch
path that does not exist, a missing fixture), raises `RuleTestError` naming file:line.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from checker.engine.engine import Engine, Options, Summary
from checker.engine.policy import Policy
from checker.engine.windows import WindowIndex
from checker.input.documents import yaml12_booleans

TEST_SUFFIX = ".tests.yaml"
MAX_TEST_BYTES = 2 * 1024 * 1024
MAX_HISTORY = 1000

TEST_KEYS = ("name", "note", "record", "fixture", "patch", "jurisdiction", "date", "id", "history",
             "lang", "expect")
HISTORY_KEYS = ("record", "fixture", "patch", "jurisdiction", "date", "id")
EXPECT_KEYS = ("outcome", "findings", "includes", "excludes", "missing", "details")
FILE_KEYS = ("base", "tests", "note", "lang", "jurisdiction", "date", "patch")
LANGS = ("zh", "en")
OUTCOMES = ("violation", "review", "tolerated", "compliant", "unlisted", "invalid")
DETAIL_KEYS = ("rule", "outcome", "severity", "message", "element", "via", "kind")


class RuleTestError(Exception):
    """A test file that cannot be read or is malformed; each message names file:line."""

    def __init__(self, messages: str | list[str]):
        self.messages = [messages] if isinstance(messages, str) else list(messages)
        super().__init__("\n".join(self.messages))


@dataclass
class RuleTest:
    name: str
    file: str
    line: int
    record: dict | None
    expect: dict
    problem: str | None = None  # why the test could not be built
    history: list = field(default_factory=list)  # earlier records (raw) for cross-record rules
    lang: str = "zh"  # the language of the messages the test expects

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class TestResult:
    __test__ = False  # not a pytest class

    test: RuleTest
    passed: bool
    outcome: str | None
    rules: list[str]
    diffs: list[str] = field(default_factory=list)
    entry: dict | None = None
    result: Any = None  # policy_dsl.evaluate.RecordResult (with trace), for coverage
    record: dict | None = None  # the normalised record that was evaluated
    window: Callable | None = None  # the window lookup used (cross-record rules)
    store: Any = None  # the records lookups could find (the test's history and record)


RuleTest.__test__ = False  # type: ignore[attr-defined]


def discover(paths: Iterable[str | Path]) -> list[Path]:
    out: list[Path] = []
    seen: set[Path] = set()
    for raw in paths:
        p = Path(raw)
        found = sorted(p.rglob(f"*{TEST_SUFFIX}")) if p.is_dir() else (
            [p] if p.is_file() and p.name.endswith(TEST_SUFFIX) else [])
        for f in found:
            if f.resolve() not in seen:
                seen.add(f.resolve())
                out.append(f)
    return out


# ---- reading YAML with line numbers ---------------------------------------------------
class _LineDict(dict):
    line = 1


class _LineList(list):
    line = 1


class _Loader(yaml.SafeLoader):
    """A safe loader that remembers the line of each mapping and sequence."""


def _mapping(loader, node, deep=False):
    out = _LineDict(yaml.SafeLoader.construct_mapping(loader, node, deep=True))
    out.line = node.start_mark.line + 1
    return out


def _sequence(loader, node, deep=False):
    out = _LineList(yaml.SafeLoader.construct_sequence(loader, node, deep=True))
    out.line = node.start_mark.line + 1
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)
yaml12_booleans(_Loader)


def _read_yaml(path: Path, where: str | None = None) -> Any:
    label = where or str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RuleTestError(f"{label}: cannot read {path} ({exc.strerror})")
    if len(data) > MAX_TEST_BYTES:
        raise RuleTestError(f"{label}: file too large (over {MAX_TEST_BYTES // 1024 // 1024} MiB)")
    try:
        return yaml.load(data.decode("utf-8-sig"), Loader=_Loader)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        pos = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        raise RuleTestError(f"{path}{pos}: invalid YAML: {getattr(exc, 'problem', None) or exc}")


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


def _line(node: Any, default: int) -> int:
    return getattr(node, "line", default)


def _suggest(key: str, allowed: Iterable[str]) -> str:
    import difflib

    best = difflib.get_close_matches(key, list(allowed), n=1, cutoff=0.6)
    return f"; did you mean `{best[0]}`?" if best else f"; allowed: {', '.join(allowed)}"


def _check_keys(node: dict, allowed: tuple[str, ...], where: str, what: str, errors: list[str]) -> None:
    for key in node:
        if str(key) not in allowed:
            errors.append(f"{where}: unknown key `{key}` in {what}{_suggest(str(key), allowed)}")


def _check_expect(expect: dict, path: Path, line: int, errors: list[str]) -> None:
    where = f"{path}:{line}"
    _check_keys(expect, EXPECT_KEYS, where, "`expect`", errors)
    if not any(k in expect for k in EXPECT_KEYS):
        errors.append(f"{where}: `expect` says nothing to check (give `outcome`, `findings`, "
                      "`includes`, `excludes`, `missing` or `details`)")
    if "outcome" in expect and expect["outcome"] not in OUTCOMES:
        errors.append(f"{where}: unknown outcome `{expect['outcome']}`{_suggest(str(expect['outcome']), OUTCOMES)}")
    for key in ("findings", "includes", "excludes", "missing"):
        value = expect.get(key)
        if key in expect and value is not None and not (
                isinstance(value, list) and all(isinstance(v, (str, int)) for v in value)):
            errors.append(f"{where}: `{key}` must be a list of {'fact paths' if key == 'missing' else 'rule ids'}")
    details = expect.get("details")
    if details is not None:
        if not isinstance(details, list) or not all(isinstance(d, dict) and "rule" in d for d in details):
            errors.append(f"{where}: `details` must be a list of maps, each with a `rule`")
        else:
            for d in details:
                _check_keys(d, DETAIL_KEYS, f"{path}:{_line(d, line)}", "a `details` entry", errors)


def _build_record(spec: dict, path: Path, base: dict | None, where: str, label: str) -> dict:
    """A record from `record`, `fixture` or the file's `base`, then `patch` and overrides."""
    given = [k for k in ("record", "fixture") if k in spec]
    if len(given) > 1:
        raise RuleTestError(f"{where}: give either `record` or `fixture`, not both")
    if "record" in spec:
        if not isinstance(spec["record"], dict):
            raise RuleTestError(f"{where}: `record` must be a map of the record's fields")
        record = _jsonable(spec["record"])
    elif "fixture" in spec:
        fx = _read_yaml((path.parent / str(spec["fixture"])), where)
        if not isinstance(fx, dict):
            raise RuleTestError(f"{where}: fixture `{spec['fixture']}` is not one record")
        record = _jsonable(fx)
    elif base is not None:
        record = copy.deepcopy(base)
    else:
        raise RuleTestError(f"{where}: no `record`, `fixture` or file `base` to start {label} from")
    patch = spec.get("patch")
    if patch is not None:
        if not isinstance(patch, dict):
            raise RuleTestError(f"{where}: `patch` must be a map of field paths to values")
        try:
            record = apply_patch(record, _jsonable(patch))
        except KeyError as exc:
            raise RuleTestError(f"{where}: patch {exc.args[0]}")
    for key in ("jurisdiction", "date", "id"):
        if key in spec:
            record[key] = _jsonable(spec[key])
    return record


def load_tests(path: Path) -> list[RuleTest]:
    """The tests of one file; raises RuleTestError listing every malformed part (file:line)."""
    path = Path(path)
    doc = _read_yaml(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("tests"), list):
        raise RuleTestError(f"{path}:1: a test file needs a `tests:` list")
    errors: list[str] = []
    _check_keys(doc, FILE_KEYS, f"{path}:{_line(doc, 1)}", "the test file", errors)
    file_lang = str(doc.get("lang", "zh"))
    if file_lang not in LANGS:
        errors.append(f"{path}:{_line(doc, 1)}: `lang` must be zh or en, not `{file_lang}`")
    base: dict | None = None
    if doc.get("base"):
        base_doc = _read_yaml(path.parent / str(doc["base"]), f"{path}:{_line(doc, 1)}")
        if not isinstance(base_doc, dict):
            raise RuleTestError(f"{path}:{_line(doc, 1)}: base `{doc['base']}` is not one record")
        base = _jsonable(base_doc)
    if base is not None and any(k in doc for k in ("patch", "jurisdiction", "date")):
        base = _build_record({k: doc[k] for k in ("patch", "jurisdiction", "date") if k in doc},
                             path, base, f"{path}:{_line(doc, 1)}", "the file's base")
    elif base is None and any(k in doc for k in ("patch", "jurisdiction", "date")):
        errors.append(f"{path}:{_line(doc, 1)}: a file-level `patch`, `jurisdiction` or `date` needs a `base`")
    tests: list[RuleTest] = []
    names: dict[str, int] = {}
    for i, t in enumerate(doc["tests"]):
        line = _line(t, _line(doc["tests"], 1))
        where = f"{path}:{line}"
        if not isinstance(t, dict):
            errors.append(f"{where}: test {i + 1} must be a map with `name`, the record and `expect`")
            continue
        name = str(t.get("name") or f"test {i + 1}")
        if name in names:
            errors.append(f"{where}: test name `{name}` is used twice (first at line {names[name]})")
        names[name] = line
        _check_keys(t, TEST_KEYS, where, f"test `{name}`", errors)
        expect = t.get("expect")
        if not isinstance(expect, dict):
            errors.append(f"{where}: test `{name}` needs an `expect:` map")
            continue
        _check_expect(expect, path, _line(expect, line), errors)
        lang = str(t.get("lang", file_lang))
        if lang not in LANGS:
            errors.append(f"{where}: `lang` must be zh or en, not `{lang}`")
        try:
            record = _build_record(t, path, base, where, f"test `{name}`")
            record.setdefault("id", f"T{i + 1}")
            history = []
            hist = t.get("history") or []
            if not isinstance(hist, list):
                raise RuleTestError(f"{where}: `history` must be a list of records")
            if len(hist) > MAX_HISTORY:
                raise RuleTestError(f"{where}: more than {MAX_HISTORY} history records")
            for j, h in enumerate(hist):
                hwhere = f"{path}:{_line(h, line)}"
                if not isinstance(h, dict):
                    raise RuleTestError(f"{hwhere}: each history record must be a map")
                _check_keys(h, HISTORY_KEYS, hwhere, "a history record", errors)
                hr = _build_record(h, path, base, hwhere, "a history record")
                hr.setdefault("id", f"T{i + 1}-H{j + 1}")
                history.append(hr)
        except RuleTestError as exc:
            errors.extend(exc.messages)
            continue
        tests.append(RuleTest(name, str(path), line, record, dict(expect), None, history, lang))
    if errors:
        raise RuleTestError(errors)
    return tests


# ---- running ---------------------------------------------------------------------------
def run(tests: list[RuleTest], policy: Policy, lang: str = "zh") -> list[TestResult]:
    """Evaluate each test's record. Messages are rendered in the test's own language (what its
    `details` expect); `lang` is the language of the differences reported."""
    from checker.findings.entry import record_entry

    validator = policy.validator()  # each record against its kind's schema
    ev = policy.evaluator
    engine = Engine(policy, Options(lang=lang, explain=False))
    results = []
    for t in tests:
        if t.problem or t.record is None:
            results.append(TestResult(t, False, None, [], [t.problem or "no record"]))
            continue
        data, errors = validator.validate(t.record)
        if data is None:
            entry = {"outcome": "invalid", "findings": [],
                     "errors": [{"path": e.path, "message": e.message(t.lang)} for e in errors]}
            diffs = compare(t.expect, entry, lang)
            results.append(TestResult(t, not diffs, "invalid", [], diffs, entry))
            continue
        history, hist_errors = [], []
        for h in t.history:
            hdata, herr = validator.validate(h)
            if hdata is None:
                hist_errors.append(f"{h.get('id')}: " + "; ".join(f"{e.path}: {e.message(lang)}" for e in herr))
            else:
                history.append(hdata)
        if hist_errors:
            msg = ("历史记录无效：" if lang == "zh" else "invalid history record: ") + " | ".join(hist_errors)
            results.append(TestResult(t, False, None, [], [msg]))
            continue
        window = None
        index = engine.new_index(history)
        if index is not None:
            index.add(data, 0)
            window = _lookup(index)
        store = engine.new_store(lambda: history, lambda: [data]) if engine.needs_store else None
        result = ev.evaluate(data, window, trace=True, store=store)
        entry = record_entry(_Item(data, t), result, policy.renderer(t.lang), False)
        rules = sorted({f["rule"] for f in entry["findings"]})
        diffs = compare(t.expect, entry, lang)
        results.append(TestResult(t, not diffs, entry["outcome"], rules, diffs, entry, result, data, window,
                                  store))
    return results


def _lookup(index: WindowIndex) -> Callable:
    return lambda c, r, p: index.lookup(c, r, p, 0)


class _Item:
    def __init__(self, data: dict, t: RuleTest):
        self.data = data
        self.raw = t.record
        self.source = t.file
        self.line = t.line
        self.location = t.location
        self.record_id = data.get("id")
        self.errors: list = []


_WORDS = {
    "zh": {
        "outcome": "结论：应为 {want}，实为 {got}",
        "findings": "发现不一致：",
        "absent": "- 应有而没有：{ids}",
        "extra": "+ 不应有而有：{ids}",
        "includes": "应有发现 {rid}，但没有（实际：{got}）",
        "excludes": "不应有发现 {rid}，但出现了",
        "missing": "缺少的事实：应为 {want}，实为 {got}",
        "details": "没有符合预期的发现 {want}（同一规则的发现：{got}）",
        "invalid": "记录无效：{errors}",
        "none": "无",
    },
    "en": {
        "outcome": "outcome: expected {want}, got {got}",
        "findings": "findings differ:",
        "absent": "- expected but absent: {ids}",
        "extra": "+ reported but not expected: {ids}",
        "includes": "expected finding {rid} is absent (got: {got})",
        "excludes": "finding {rid} should not be reported",
        "missing": "missing facts: expected {want}, got {got}",
        "details": "no finding matches {want} (findings of that rule: {got})",
        "invalid": "record is invalid: {errors}",
        "none": "none",
    },
}


def compare(expect: dict, entry: dict, lang: str = "en") -> list[str]:
    """Readable differences between what a test expects and what the engine said."""
    w = _WORDS["zh" if lang == "zh" else "en"]
    sep = "、" if lang == "zh" else ", "
    diffs = []
    got_rules = sorted({f["rule"] for f in entry["findings"]})
    if "outcome" in expect and expect["outcome"] != entry["outcome"]:
        diffs.append(w["outcome"].format(want=expect["outcome"], got=entry["outcome"]))
    if "findings" in expect:
        want = sorted(set(map(str, expect["findings"] or [])))
        if want != got_rules:
            missing = sorted(set(want) - set(got_rules))
            extra = sorted(set(got_rules) - set(want))
            parts = []
            if missing:
                parts.append(w["absent"].format(ids=sep.join(missing)))
            if extra:
                parts.append(w["extra"].format(ids=sep.join(extra)))
            diffs.append(w["findings"] + "\n    " + "\n    ".join(parts))
    for rid in expect.get("includes", []) or []:
        if str(rid) not in got_rules:
            diffs.append(w["includes"].format(rid=rid, got=sep.join(got_rules) or w["none"]))
    for rid in expect.get("excludes", []) or []:
        if str(rid) in got_rules:
            diffs.append(w["excludes"].format(rid=rid))
    if "missing" in expect:
        got_missing = sorted({m for f in entry["findings"] for m in f.get("missing", [])})
        want_missing = sorted(map(str, expect["missing"] or []))
        if got_missing != want_missing:
            diffs.append(w["missing"].format(want=want_missing, got=got_missing))
    for d in expect.get("details", []) or []:
        cands = [f for f in entry["findings"] if f["rule"] == str(d.get("rule"))]
        ok = any(all(_detail_ok(f, k, v) for k, v in d.items() if k != "rule") for f in cands)
        if not ok:
            shown = "; ".join(f"{f['rule']} {f['outcome']} {f['severity']}"
                              + (f" {f['element']}" if f.get("element") else "")
                              + (f" via {f['via']}" if f.get("via") else "") + f": {f['message']}"
                              for f in cands)
            diffs.append(w["details"].format(want=_describe_detail(d), got=shown or w["none"]))
    if entry.get("errors") and expect.get("outcome") != "invalid":
        diffs.append(w["invalid"].format(errors="; ".join(f"{e['path']}: {e['message']}" for e in entry["errors"])))
    return diffs


def _describe_detail(d: dict) -> str:
    """`B1 (severity medium, message "人均60.01元")` for an expected finding."""
    parts = [f'{k} "{v}"' if k == "message" else f"{k} {v}" for k, v in d.items() if k != "rule"]
    return f"{d.get('rule')} ({', '.join(parts)})" if parts else str(d.get("rule"))


def _detail_ok(f: dict, key: str, value: Any) -> bool:
    if key == "message":
        return str(value) in (f.get("message") or "")
    return str(f.get(key)) == str(value)


def mentioned_rules(expect: dict) -> set[str]:
    """Rule ids a test names in its `expect` (findings, includes, excludes, details)."""
    out = {str(r) for key in ("findings", "includes", "excludes") for r in (expect.get(key) or [])}
    out |= {str(d.get("rule")) for d in expect.get("details") or [] if isinstance(d, dict)}
    return out


__all__ = [
    "RuleTest",
    "RuleTestError",
    "Summary",
    "TestResult",
    "apply_patch",
    "compare",
    "discover",
    "load_tests",
    "mentioned_rules",
    "run",
]
