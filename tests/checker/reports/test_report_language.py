"""Every report of the sample batch reads in its own language (issue 18, "what people read").

The sample batch is checked in Chinese and in English, in every format people read (text, the
`--explain` text, Markdown, CSV, HTML, XLSX, the JSON report's texts, SARIF and JUnit
messages), and each report is scanned for:

- English words in Chinese output (`30 days`, `unexpected end of data`) and Chinese in English
  output;
- raw enum tokens (`not_fired`, `ordinary_restaurant`) and expression text
  (`per_person_cny(m)`, `param.meal_cap_per_person_cny`, `sum(r in window where …)`);
- money that does not read as money (`619.0元`, `254.7142857…`) and unknown amounts
  (`诉求超期未知天`).

What may legitimately stay is taken out first: identifiers in brackets after a title
(`用餐·付款方（meals[0].payer）`), rule and record ids, file paths and URLs, the records' own
texts (names, descriptions: the batch's strings), citations (the titles of Chinese documents,
also in English reports) and the documents a parameter's value comes from.
"""

from __future__ import annotations

import csv
import html
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BATCH = ROOT / "fixtures" / "sample" / "batch.jsonl"
CACHE = Path(tempfile.gettempdir()) / f"qinqing-test-cache-{os.getuid()}"

FORMATS = ("text", "explain", "md", "csv", "html", "xlsx", "json", "sarif", "junit")

# ---- what may stay -----------------------------------------------------------------------
_KEEP = [
    r"https?://\S+",
    r"[\w./-]+\.(?:jsonl|csv|xlsx|yaml|yml|json|md|html)(?:[:#][\w.-]+)?",  # files, docs/rules.md#rule-b11
    r"[（(][A-Za-z_$][\w.\[\]$]*[）)]",  # an identifier after its title: （meals[0].payer）
    r"\$[\w.\[\]]*",  # a JSON path of a validation error
    r"'[^'\n]*'",  # a value quoted from the input
    r"(?<![A-Za-z0-9])[A-Z]{1,3}\d+(?:\.[a-z]+)?(?![A-Za-z0-9])",  # rule ids: B1, N2.attend, DQ2
    r"(?<![A-Za-z0-9])[A-Z]{1,4}-[0-9A-Z]+(?:-[0-9A-Z]+)*",  # ids: R-2023-0000001, RCBA-2023-212
    r"S\??:\d+",  # source references
    r"(?<![\w.])[a-z]+(?:\.[a-z]+)+ \d{4}\.\d+",  # policy packs and their versions: common.defs 2026.1
    r"--[a-z-]+(?: [a-z]+)?",  # command-line options: --format xlsx
    r"(?<![A-Za-z0-9])[0-9A-Z]{18}(?![A-Za-z0-9])",  # USCC codes
    r"(?<![A-Za-z0-9])[0-9a-f]{16,64}(?![A-Za-z0-9])",  # content hashes
]
_KEEP_RE = re.compile("|".join(_KEEP))
# Words that are Chinese usage too (AA制, KTV) or names of standards and formats.
# true/false: the JSON literals a record is written with (validation messages name them).
ZH_WORDS = {"AA", "KTV", "GB", "JSON", "CSV", "XLSX", "USCC", "SOE", "true", "false", "JavaScript",
            "qinqing"}

# ---- what must not be there ----------------------------------------------------------------
_TOKEN = re.compile(r"(?<![A-Za-z0-9_])[a-z]+(?:_[a-z0-9]+)+(?![A-Za-z0-9_])")
_EXPR = re.compile(r"param\.[a-z_]+|(?<![A-Za-z])[a-z]+_[a-z_]+\((?:[a-z_.]+(?:, )?)+\)|r in window|days_between\(|"
                   r"(?<![A-Za-z])(?:count|sum)\([a-z] in ")
_MONEY = re.compile(r"\d+\.\d(?:元|\s*CNY)|\d+\.\d{3,}(?![\d-])")
_UNKNOWN_AMOUNT = re.compile(r"未知(?:天|元|次|人)|unknown (?:days|CNY|times)")
_EN_WORD = re.compile(r"[A-Za-z][A-Za-z]+")
_EN_UNIT = re.compile(r"\d+\s*(?:days?|weeks?|months?|years?|CNY)(?![A-Za-z])")
_ZH = re.compile(r"[\u3400-\u9fff]+")


def _record_strings() -> list[str]:
    """Every text of the batch's records (names, descriptions, departments): the records' own."""
    out: set[str] = set()

    def walk(x) -> None:  # free text (CJK or a space in it), not enum values or codes
        if isinstance(x, str):
            if len(x) >= 2 and (re.search(r"[\u3400-\u9fff\s]", x) or re.search(r"[A-Z]", x)):
                out.add(x)
        elif isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    for line in BATCH.read_text(encoding="utf-8").splitlines():
        try:
            walk(json.loads(line))
        except ValueError:
            out.update(x for x in re.findall(r'"([^"\\]{2,})"', line)  # a malformed line
                       if re.search(r"[\u3400-\u9fff\sA-Z]", x))
    return sorted(out, key=len, reverse=True)


_DATA_RE: re.Pattern | None = None


def _strip_data(text: str) -> str:
    global _DATA_RE
    if _DATA_RE is None:
        _DATA_RE = re.compile("|".join(re.escape(s) for s in _record_strings()))
    return _DATA_RE.sub(" ", text)


def problems(text: str, lang: str) -> list[str]:
    """What is wrong in `text` read by a reader of `lang` (empty when it reads right)."""
    out = []
    text = _strip_data(text)
    for m in _MONEY.finditer(text):
        out.append(f"money: {m.group()}")
    for m in _UNKNOWN_AMOUNT.finditer(text):
        out.append(f"unknown amount: {m.group()}")
    for m in _EXPR.finditer(re.sub(r"[（(][A-Za-z_$][\w$]*[.\[_][\w.\[\]$]*[）)]", " ", text)):
        out.append(f"expression: {m.group()}")
    rest = _KEEP_RE.sub(" ", text)
    for m in _TOKEN.finditer(rest):
        out.append(f"raw token: {m.group()}")
    if lang == "zh":
        for m in _EN_UNIT.finditer(rest):
            out.append(f"English unit: {m.group()}")
        for m in _EN_WORD.finditer(rest):
            if m.group() not in ZH_WORDS:
                out.append(f"English word: {m.group()}")
    else:
        for m in _ZH.finditer(rest):
            out.append(f"Chinese: {m.group()}")
    return out


# ---- the reports ---------------------------------------------------------------------------------
def _run(lang: str, fmt: str, out: Path) -> None:
    args = ["--format", "text", "--explain"] if fmt == "explain" else ["--format", fmt]
    env = {**os.environ, "QINQING_CACHE_DIR": str(CACHE)}
    env.pop("QINQING_RULES", None)
    proc = subprocess.run([sys.executable, "-m", "checker.cli", "check", str(BATCH), *args, "--lang", lang,
                           "-o", str(out), "--fail-on", "never", "-q"],
                          cwd=ROOT, env=env, capture_output=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr.decode()


_CITE = {"zh": ("依据", "来源"), "en": ("Source",)}


def _texts(path: Path, fmt: str, lang: str) -> list[str]:
    """The texts of a report a person reads, without citations (documents' own titles)."""
    cite = _CITE[lang]
    if fmt in ("text", "explain"):
        out = []
        for line in path.read_text(encoding="utf-8").splitlines():
            s = line.strip()
            if s.startswith(tuple(c + ("：" if lang == "zh" else ":") for c in cite)):
                continue
            # a parameter's provenance names its document: `（000000，2013-01-01起；《…》…）`
            line = re.sub(r"  [（(]\d{6}(?:，| from ).*[）)]$", "", line)
            out.append(line)
        return out
    if fmt == "md":
        lines = path.read_text(encoding="utf-8").splitlines()
        out, cols = [], None
        for line in lines:
            if line.startswith("规则包：") or line.startswith("Policy packs:"):
                continue
            if line.startswith("| ") and cols is None and ("依据" in line or "Source" in line):
                cols = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
                continue
            if cols and line.startswith("| "):
                cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
                out.extend(c for h, c in zip(cols, cells) if h not in cite)
            else:
                out.append(line)
        return out
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
        return [v for r in rows for k, v in r.items() if k not in cite and v]
    if fmt == "xlsx":
        from openpyxl import load_workbook
        wb = load_workbook(path, read_only=True)
        out = []
        for ws in wb.worksheets:
            rows = ws.iter_rows(values_only=True)
            head = next(rows, ())
            out.extend(str(h) for h in head if h)
            skip = {i for i, h in enumerate(head) if h in cite}
            for row in rows:
                out.extend(str(v) for i, v in enumerate(row) if v is not None and i not in skip
                           and isinstance(v, str))
        return out
    if fmt == "html":
        page = path.read_text(encoding="utf-8")
        data = re.search(r'<script type="application/json" id="qq-data">(.*?)</script>', page, re.S)
        page = re.sub(r"<script.*?</script>|<style.*?</style>", " ", page, flags=re.S)
        chunks = [page]
        if data:
            def strings(x):
                if isinstance(x, str):
                    yield x
                elif isinstance(x, list):
                    for v in x:
                        yield from strings(v)
                elif isinstance(x, dict):
                    for v in x.values():
                        yield from strings(v)
            # a row: [id, outcome code, date, area, department, rule ids, rank, location, count, details]
            chunks.extend(row[9] for row in json.loads(data.group(1)))
        out = []
        for c in chunks:
            c = re.sub(r'<p><span class="k">(?:' + "|".join(cite) + r')[^<]*</span>.*?</p>', " ", c, flags=re.S)
            out.append(html.unescape(re.sub(r"<[^>]+>", " ", c)))
        return out
    if fmt == "json":
        doc = json.loads(path.read_text(encoding="utf-8"))
        out = []
        for e in doc["records"]:
            for f in e.get("findings") or ():
                out += [f["title"], f["message"], f.get("remedy") or "", *f.get("facts", [])]
                sug = f.get("suggestion") or {}
                out += [sug.get("text") or "", *(sug.get("questions") or [])]
            out += [x["message"] for x in e.get("errors") or ()]
        return out
    if fmt == "sarif":
        doc = json.loads(path.read_text(encoding="utf-8"))
        return [r["message"]["text"] for run in doc["runs"] for r in run["results"]]
    if fmt == "junit":
        tree = ET.parse(path)
        out = []
        for el in tree.iter():
            if el.tag in ("failure", "error"):
                out.append(el.get("message") or "")
                out.append(el.text or "")
            if el.tag == "system-out":
                out.append(el.text or "")
        return ["\n".join(l for l in t.splitlines()
                          if not l.strip().startswith(tuple(c + ("：" if lang == "zh" else ":") for c in cite)))
                for t in out]
    raise AssertionError(fmt)


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_report_of_the_sample_batch_reads_in_its_language(tmp_path: Path, fmt: str, lang: str) -> None:
    out = tmp_path / f"report.{fmt}"
    _run(lang, fmt, out)
    found: dict[str, int] = {}
    examples: dict[str, str] = {}
    for text in _texts(out, fmt, lang):
        for p in problems(text, lang):
            found[p] = found.get(p, 0) + 1
            examples.setdefault(p, text[:200])
    assert not found, "\n".join(f"{n}× {p}   e.g. {examples[p]!r}"
                                for p, n in sorted(found.items(), key=lambda kv: -kv[1])[:40])


# ---- the scanner itself finds what the issue found ---------------------------------------------
@pytest.mark.parametrize("text, lang, what", [
    ("企业有1项事项正在本单位办理（或办结未满30 days冷却期）", "zh", "English unit: 30 days"),
    ("审批后补办期限3 days", "zh", "English unit: 3 days"),
    ("触发事实：per_person_cny(m) = 254.7142857142857142857142857", "zh", "expression: per_person_cny(m)"),
    ("触发事实：per_person_cny(m) = 254.7142857142857142857142857", "zh", "money: 254.7142857142857142857142857"),
    ("sum(r in window where days_between(r.date, date) <= 30: length(r.meals)) = 3", "zh", "expression: sum(r in "),
    ("收受实物619.0元，超过58.00元", "zh", "money: 619.0元"),
    ("诉求超期未知天", "zh", "unknown amount: 未知天"),
    ("B8.retro: not_fired", "zh", "raw token: not_fired"),
    ("P2: does_not_apply", "en", "raw token: does_not_apply"),
    ("JSON 格式错误（第 1068 列）：unexpected end of data", "zh", "English word: unexpected"),
    ("超过工作餐标准{param.meal_cap_per_person_cny}元", "zh", "expression: param.meal_cap_per_person_cny"),
    ("Work meal at 60.00 CNY per person, 人均", "en", "Chinese: 人均"),
])
def test_the_scan_finds_what_the_issue_found(text: str, lang: str, what: str) -> None:
    assert what in problems(text, lang)


def test_the_scan_keeps_identifiers_ids_and_citations_apart() -> None:
    assert problems("用餐·付款方（meals[0].payer） 应为 本单位（现为 企业）；[N2.attend] R-2023-0000001", "zh") == []
    assert problems("Meals › Payer (meals[0].payer) must be own unit; see docs/rules.md#rule-b11", "en") == []
    assert problems("人均128.01元，超过工作餐标准60.00元/人（假定值，待核实本地标准）", "zh") == []
