"""Plain-language text for officials: verdict, reasons with citations, advice, questions.

Colours (rich) only on a terminal and when NO_COLOR is not set.
"""

from __future__ import annotations

import os
from typing import IO

from ..report import Report
from .labels import OUTCOME, SEVERITY, WORDS

_STYLE = {"violation": "bold red", "review": "bold yellow", "tolerated": "bold cyan",
          "compliant": "bold green", "unlisted": "bold", "invalid": "bold magenta"}


def write(report: Report, out: IO[str]) -> None:
    lang = report.lang
    w = WORDS[lang]
    color = hasattr(out, "isatty") and out.isatty() and not os.environ.get("NO_COLOR")
    console = None
    if color:
        from rich.console import Console
        console = Console(file=out, highlight=False)

    def emit(text: str, style: str | None = None) -> None:
        if console is not None and style:
            console.print(text, style=style, markup=False)
        else:
            out.write(text + "\n")

    sep = "：" if lang == "zh" else ": "
    for e in report.entries:
        label = OUTCOME[lang][e["outcome"]]
        emit(f"{w['record']} {e['id'] or e['source']['location']}{sep}{label}", _STYLE[e["outcome"]])
        if e["outcome"] == "invalid":
            emit(f"  {w['source']}{sep}{e['source']['location']}")
            for err in e["errors"]:
                emit(f"  ✗ {err['path']}{sep}{err['message']}")
        for f in e["findings"]:
            sev = SEVERITY[lang].get(f["severity"], f["severity"])
            mark = {"violation": "✗", "review": "?", "tolerated": "~", "compliant": "✓"}.get(f["outcome"], "·")
            emit(f"  {mark} [{f['rule']}] {f['title']}（{sev}）" if lang == "zh" else
                 f"  {mark} [{f['rule']}] {f['title']} ({sev})", _STYLE.get(f["outcome"]))
            if f["message"] and f["message"] != f["title"]:
                emit(f"      {f['message']}")
            if f.get("citation"):
                emit(f"      {w['citation']}{sep}{f['citation']}")
            if f["outcome"] in ("violation", "review", "tolerated"):
                if f.get("remedy"):
                    emit(f"      {w['remedy']}{sep}{f['remedy']}")
                sug = f.get("suggestion") or {}
                if sug.get("text") and not sug.get("questions"):
                    emit(f"      {w['change']}{sep}{sug['text']}")
                for q in sug.get("questions", []):
                    emit(f"      {w['missing']}{sep}{q}")
        if report.explain and "explanation" in e:
            _explain(e["explanation"], emit, lang)
        emit("")
    s = report.summary.to_dict()
    parts = [f"{OUTCOME[lang][k]} {s[k]}" for k in ("violation", "review", "tolerated", "compliant",
                                                    "unlisted", "invalid")]
    emit(f"{w['summary']}{sep}{s['records']} {w['records']}；" + "，".join(parts) if lang == "zh" else
         f"{w['summary']}: {s['records']} {w['records']}; " + ", ".join(parts), "bold")


def _explain(x: dict, emit, lang: str) -> None:
    zh = lang == "zh"
    emit("  —— 逐条规则 ——" if zh else "  -- rules considered --")
    for r in x["rules"]:
        el = f" {r['element']}" if r.get("element") else ""
        extra = ""
        if r.get("requires"):
            extra = " " + ", ".join(f"{q['boundary']}={q['status']}" for q in r["requires"])
        if r.get("overridden_by"):
            extra = f" ← {r['overridden_by']}"
        emit(f"    {r['rule']}{el}: {r['status']}{extra}")
    emit("  —— 适用参数 ——" if zh else "  -- parameters in force --")
    for p in x["parameters"]:
        origin = p["source"] or ("假定值" if zh else "assumed")
        emit(f"    {p['name']} = {p['value']}  ({p['profile']} {p['from']}; {origin})")
