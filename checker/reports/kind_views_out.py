"""Writing the record kinds' views (`checker/reports/kind_views.py`) as JSON, HTML (one table
per view, Chinese first) or XLSX (one sheet per view)."""

from __future__ import annotations

import html
from typing import IO, Any

import orjson

from checker.reports.kind_views import TITLES, VIEWS, headers, rows


def write_json(doc: dict[str, Any], out: IO[bytes]) -> None:
    out.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")


def write_html(doc: dict[str, Any], out: IO[bytes], lang: str) -> None:
    zh = lang == "zh"
    e = html.escape
    title = "记录类型统计视图" if zh else "Views of the record kinds"
    parts = [f'<!doctype html><html lang="{"zh-CN" if zh else "en"}"><head><meta charset="utf-8">',
             f"<title>{e(title)}</title><style>body{{font-family:sans-serif;margin:1.5em}}"
             "table{border-collapse:collapse;margin-bottom:1.5em}td,th{border:1px solid #bbb;padding:.2em .5em;"
             "text-align:left}th{background:#eee}</style></head><body>",
             f"<h1>{e(title)}</h1>",
             f"<p>{e('截至' if zh else 'As of')} {e(str(doc.get('as_of') or ('各记录的 as_of' if zh else 'each record’s as_of')))}"
             f" · {e('记录' if zh else 'records')} {doc['records']}</p>"]
    views = doc["views"]
    for name in VIEWS:
        parts.append(f'<h2 id="{name}">{e(TITLES[name][0 if zh else 1])}</h2>')
        if not views[name]:
            parts.append(f"<p>{e('（无）' if zh else '(none)')}</p>")
            continue
        parts.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in headers(name, lang)) + "</tr>")
        for row in rows(views, name):
            parts.append("<tr>" + "".join(f"<td>{e('' if v is None else str(v))}</td>" for v in row) + "</tr>")
        parts.append("</table>")
    parts.append("</body></html>\n")
    out.write("".join(parts).encode("utf-8"))


def write_xlsx(doc: dict[str, Any], out: IO[bytes], lang: str) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name in VIEWS:
        ws = wb.create_sheet(TITLES[name][0 if lang == "zh" else 1][:31])
        ws.append(headers(name, lang))
        for row in rows(doc["views"], name):
            ws.append(row)
    wb.save(out)
