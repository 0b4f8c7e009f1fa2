"""Plain-language text for officials: verdict, reasons with citations, advice, questions.

Colours (rich) only on a terminal and when NO_COLOR is not set.
"""

from __future__ import annotations

import os
from typing import IO

from checker.reports.report import Report
from checker.reports.labels import (OUTCOME, SEVERITY, WORDS, element_label, facts_text, finding_facts, only_note, summary_line,
                                    text_stream)

_STYLE = {"violation": "bold red", "review": "bold yellow", "tolerated": "bold cyan",
          "compliant": "bold green", "unlisted": "bold", "invalid": "bold magenta"}
_CONTROL = {c: "\ufffd" for c in (*range(9), *range(11, 32), 127)}
_RANK = {"violation": 0, "review": 1, "tolerated": 2, "compliant": 3}  # worst first
_MARK = {"violation": "✗", "review": "?", "tolerated": "~", "compliant": "✓"}


def write(report: Report, out: IO[bytes]) -> None:
    with text_stream(out) as stream:
        _write(report, stream, hasattr(out, "isatty") and out.isatty() and not os.environ.get("NO_COLOR"))


def _write(report: Report, out: IO[str], color: bool) -> None:
    lang = report.lang
    zh = lang == "zh"
    w = WORDS[lang]
    console = None
    if color:
        from rich.console import Console
        console = Console(file=out, highlight=False, soft_wrap=True)

    def emit(line: str, style: str | None = None) -> None:
        line = line.translate(_CONTROL)  # no terminal escapes from record contents
        if console is not None and style:
            console.print(line, style=style, markup=False)
        else:
            out.write(line + "\n")

    sep = "：" if zh else ": "
    only = report.listed()
    for e in report.entries:
        if only is not None and e["outcome"] not in only:
            continue
        label = OUTCOME[lang][e["outcome"]]
        where = (e.get("source") or {}).get("location") or ""
        name = e["id"] or where
        head = f"{w['record']} {name}" + (f"（{where}）" if zh and e["id"] else f" ({where})" if e["id"] else "")
        emit(f"{head}{sep}{label}", _STYLE[e["outcome"]])
        if e["outcome"] == "invalid":
            emit(f"  {w['invalid_hint']}")
            for x in e["errors"]:
                emit(f"  ✗ {x['path']}{sep}{x['message']}", "magenta")
        elif not e["findings"]:
            emit(f"  {w['unlisted_hint']}")
        for f in sorted(e["findings"], key=lambda f: _RANK.get(f["outcome"], 9)):
            sev = SEVERITY[lang].get(f["severity"], f["severity"])
            el = f" · {element_label(f['element'], lang)}" if f.get("element") else ""
            emit(f"  {_MARK.get(f['outcome'], '·')} [{f['rule']}] {f['title']}"
                 + (f"（{sev}）" if zh else f" ({sev})") + el, _STYLE.get(f["outcome"]))
            if f["message"] and f["message"] != f["title"]:
                emit(f"      {f['message']}")
            facts = finding_facts(f, lang)
            if facts and f["outcome"] != "review":
                emit(f"      {w['evidence']}{sep}{facts}")
            if f.get("citation"):
                emit(f"      {w['citation']}{sep}{f['citation']}")
            if f["outcome"] in ("violation", "review", "tolerated"):
                if f.get("remedy"):
                    emit(f"      {w['remedy']}{sep}{f['remedy']}")
                sug = f.get("suggestion") or {}
                if sug.get("text") and not sug.get("questions"):
                    emit(f"      {w['change']}{sep}{sug['text']}")
                if sug.get("questions"):
                    emit(f"      {w['missing']}{sep.rstrip()}")
                    for q in sug["questions"]:
                        emit(f"        · {q}" + ("？" if zh else "?"))
        if report.explain and "explanation" in e:
            _explain(e["explanation"], emit, lang)
        emit("")
    if only is not None:
        emit(only_note(only, lang))
    emit(f"{w['summary']}{sep}{summary_line(report.summary.to_dict(), lang)}", "bold")


_STATUS = {
    "zh": {"fired": "触发", "not_fired": "未触发", "undecided": "无法判断", "applies": "适用",
           "does_not_apply": "不适用", "overridden": "被优先规则取代", "met": "满足", "breached": "未满足"},
    "en": {"fired": "fired", "not_fired": "not fired", "undecided": "undecided", "applies": "applies",
           "does_not_apply": "does not apply", "overridden": "overridden", "met": "met",
           "breached": "breached"},
}


def _explain(x: dict, emit, lang: str) -> None:
    zh = lang == "zh"
    st = _STATUS[lang]
    sep = "：" if zh else ": "
    emit("  —— 逐条规则 ——" if zh else "  -- rules considered --")
    for r in x["rules"]:
        el = f" {element_label(r['element'], lang)}" if r.get("element") else ""
        extra = ""
        if r.get("requires"):
            extra = ("（" if zh else " (") + ("，" if zh else ", ").join(
                f"{q['boundary']} {st.get(q['status'], q['status'])}" for q in r["requires"]) + ("）" if zh else ")")
        if r.get("overridden_by"):
            extra = f" ← {r['overridden_by']}"
        emit(f"    {r['rule']}{el}{sep}{st.get(r['status'], r['status'])}{extra}")
        if r.get("facts"):
            emit("        " + ("；" if zh else "; ").join(r["facts"]))
        elif r.get("values"):
            emit("        " + facts_text(r["values"], lang))
    emit("  —— 适用参数 ——" if zh else "  -- parameters in force --")
    for p in x["parameters"]:
        origin = p["source"] or ("假定值，待核实本地标准" if zh else "assumed; verify the local standard")
        name = p.get("title") or p["name"]
        value = p.get("shown", p["value"])
        emit(f"    {name}（{p['name']}） = {value}  （{p['profile']}，{p['from']}起；{origin}）" if zh else
             f"    {name} ({p['name']}) = {value}  ({p['profile']} from {p['from']}; {origin})")
