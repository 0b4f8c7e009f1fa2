"""The rule catalogue (`qinqing docs`): every list item with its titles, rule text, citation,
provenance, severity, advice, the parameters it uses with their values per jurisdiction and
sources, and the rule tests that illustrate it. Built once, presented as Markdown or as one
self-contained HTML page (no external resources).
"""

from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from policy_dsl import ast as A
from policy_dsl import ir
from policy_dsl.format import FormatError, format_source
from policy_dsl.load import LoadResult
from policy_dsl.parser import parse

LISTS = {
    "permit": ("正面清单", "positive list"),
    "forbid": ("负面清单", "negative list"),
    "boundary": ("边界政策", "boundary policy"),
    "tolerance": ("容错", "fault tolerance"),
}
SEVERITY = {"critical": "严重", "high": "高", "medium": "中", "low": "低"}
BASIS = {"sourced": ("有据", "sourced"), "inferred": ("推定", "inferred")}
OUTCOME = {"violation": ("违规", "violation"), "review": ("需复核", "review")}


@dataclass(frozen=True)
class ParamValue:
    jurisdiction: str
    place: str  # the profile's name, "zh / en"
    start: str
    until: str
    value: str
    source: str  # "document, clause, S:n" or "assumed"
    note: str


@dataclass(frozen=True)
class ParamInfo:
    name: str
    title: tuple[str, str]
    unit: str
    values: tuple[ParamValue, ...]


@dataclass
class RuleInfo:
    id: str
    kind: str
    pack: str
    title: tuple[str, str]
    severity: str
    outcome: str
    cite: str
    basis: str
    refs: str
    start: str
    until: str
    location: str
    text: str  # the rule's formatted source
    notes: str  # the comment written just above the rule
    say: tuple[str, str] | None
    remedy: tuple[str, str] | None
    params: list[str]
    tests: list[tuple[str, str]]  # (name, file:line)
    overrides: tuple[str, ...]
    requires: tuple[str, ...]  # boundaries named by `require … else B`
    covers: str


@dataclass
class PackInfo:
    name: str
    title: tuple[str, str]
    version: str
    source: str
    start: str
    until: str
    applies_to: str
    file: str
    rules: list[RuleInfo] = field(default_factory=list)
    kinds: str = ""  # the record kinds it judges, when not (only) interactions


@dataclass
class Catalogue:
    packs: list[PackInfo]
    params: dict[str, ParamInfo]
    root: str  # what the catalogue was generated from

    @property
    def rules(self) -> list[RuleInfo]:
        return [r for p in self.packs for r in p.rules]


# ---- building ----------------------------------------------------------------------------------------
def show(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, dict):  # a table row
        return ", ".join(f"{k}={show(v)}" for k, v in value.items())
    if isinstance(value, list):  # a set or a table
        return ("; " if any(isinstance(v, dict) for v in value) else ", ").join(show(v) for v in value)
    return str(value)


def _rel(path: str, base: Path | None) -> str:
    if base is None:
        return path
    try:
        return Path(path).resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return path


def _param_infos(result: LoadResult, base: Path | None) -> dict[str, ParamInfo]:
    ps = result.params
    out = {}
    for name in sorted(ps.decls):
        decl = ps.decls[name]
        values = []
        for code in sorted(ps.profiles):
            prof = ps.profiles[code]
            for v in sorted(prof.values.get(name, ()), key=lambda v: v.start):
                place = prof.title[0] if prof.title[0] == prof.title[1] else f"{prof.title[0]} / {prof.title[1]}"
                values.append(ParamValue(code, place, v.start.isoformat(), show(v.until), show(v.value),
                                         v.source or ("assumed" if v.assumed else ""), (v.note or "").strip()))
        out[name] = ParamInfo(name, decl.title, decl.unit or "", tuple(values))
    return out


def _rule_sources(result: LoadResult) -> dict[str, tuple[str, str]]:
    """Rule id -> (formatted rule text, the comment just above it)."""
    out: dict[str, tuple[str, str]] = {}
    for file, text in sorted(result.sources.items()):
        try:
            text = format_source(text, file)
        except FormatError:
            pass  # shown as written
        pf, _ = parse(text, file)
        if pf is None:
            continue
        lines = text.splitlines()
        for r in pf.rules:
            body = "\n".join(lines[r.span.line - 1:r.span.end_line])
            notes: list[str] = []
            k = r.span.line - 2
            while k >= 0 and lines[k].lstrip().startswith("#"):
                notes.insert(0, lines[k].lstrip()[1:].strip())
                k -= 1
            while notes and set(notes[0]) <= set("-=# "):
                notes.pop(0)  # section rulers
            out.setdefault(r.id, (body, "\n".join(notes)))
    return out


def build(result: LoadResult, tests: list | None = None, base: Path | None = None, root: str = "",
          include=None) -> Catalogue:
    """The catalogue of the loaded packs. `tests` are `ruletests.RuleTest`s (their `expect`
    names the rules they illustrate); paths are shown relative to `base`; `root` names what
    the catalogue was generated from; `include(pack)` selects the packs shown (default all)."""
    from checker.authoring.ruletests import mentioned_rules

    program = result.program
    assert program is not None, "build the catalogue from packs that load"
    by_rule: dict[str, list[tuple[str, str]]] = {}
    for t in tests or ():
        loc = f"{_rel(t.file, base)}:{t.line}"
        for rid in sorted(mentioned_rules(t.expect)):
            by_rule.setdefault(rid, []).append((t.name, loc))
    texts = _rule_sources(result)
    files = {pf.policy.name: pf for pf in result.files if pf.policy is not None}
    packs = []
    rank = {k: i for i, k in enumerate(LISTS)}

    def order(p: ir.PackIR) -> tuple:  # national packs first; positive, negative, boundary, tolerance
        kinds = [rank.get(r.kind, 9) for r in p.rules] or [9]
        return (p.applies_to is not None, min(kinds), p.name)

    for p in sorted(program.packs, key=order):
        if include is not None and not include(p):
            continue
        pf = files.get(p.name)
        info = PackInfo(p.name, p.title, p.version, p.source, show(p.start), show(p.until),
                        "all" if p.applies_to is None else ", ".join(p.applies_to), _rel(p.file, base),
                        kinds="" if p.kinds == (ir.DEFAULT_KIND,) else ", ".join(p.kinds))
        ast_rules = {r.id: r for r in pf.rules} if pf is not None else {}
        for r in p.rules:
            text, notes = texts.get(r.id, ("", ""))
            names = sorted({n.name for e in ir.rule_exprs(r) for n in ir.walk(e) if isinstance(n, ir.ParamRef)})
            ar = ast_rules.get(r.id)
            info.rules.append(RuleInfo(
                id=r.id, kind=r.kind, pack=p.name, title=r.title, severity=r.severity,
                outcome=r.outcome, cite=r.cite, basis=r.basis, refs=r.basis_refs,
                start=show(r.start), until=show(r.until),
                location=f"{_rel(r.span.file, base)}:{r.span.line}", text=text, notes=notes,
                say=_raw(ar.say) if ar is not None else None,
                remedy=_raw(ar.remedy) if ar is not None else None,
                params=names, tests=by_rule.get(r.id, []), overrides=r.overrides,
                requires=tuple(dict.fromkeys(q.boundary for q in r.requires)),
                covers=_covers(r)))
        packs.append(info)
    return Catalogue(packs, _param_infos(result, base), root)


def _raw(t: A.Text | None) -> tuple[str, str] | None:
    if t is None:
        return None
    return t.zh.raw, (t.en.raw if t.en is not None else t.zh.raw)


def _covers(r: ir.RuleIR) -> str:
    if r.kind != "tolerance":
        return ""
    if r.covers is not None:
        return ", ".join(r.covers)
    return "all" + (f" except {', '.join(r.covers_except)}" if r.covers_except else "")


# ---- Markdown ----------------------------------------------------------------------------------------
def _cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ").strip()


def _list_label(kind: str) -> str:
    zh, en = LISTS[kind]
    return f"{zh} / {en}"


def _severity(r: RuleInfo) -> str:
    return "—" if r.kind == "tolerance" else f"{SEVERITY.get(r.severity, r.severity)} / {r.severity}"


def _provenance(r: RuleInfo) -> str:
    zh, en = BASIS.get(r.basis, (r.basis, r.basis))
    return f"{zh} / {en}" + (f" ({r.refs})" if r.refs else "")


def _in_force(start: str, until: str) -> str:
    if not start and not until:
        return ""
    return (f"{start or '…'} – {until} (不含 / exclusive)" if until else f"{start} 起 / from {start}")


def _param_rows(cat: Catalogue, names: list[str]) -> list[tuple[str, ParamValue]]:
    return [(n, v) for n in names if n in cat.params for v in cat.params[n].values]


def assumed_values(cat: Catalogue) -> list[tuple[str, ParamValue]]:
    """The values the rules use that no published source supports yet (`assumed: true`): the
    numbers an author should replace first."""
    used = sorted({n for r in cat.rules for n in r.params})
    return [(n, v) for n, v in _param_rows(cat, used) if v.source == "assumed"]


_ASSUMED_HEAD = ("## 仍为假定的参数值 / Parameter values still assumed",
                 "下列取值没有找到公开依据，为假定值（`assumed: true`），`qinqing lint` 以 N301 列出；"
                 "找到本地文件后应替换。其余取值均注明文件、条款，能找到时还注明发布日期和网址。",
                 "No published source was found for these values: they are assumptions (`assumed: "
                 "true`, listed by `qinqing lint` as N301) to replace when the local document is "
                 "found. Every other value names its document and clause, and its publication date "
                 "and URL where one was found.")


def to_markdown(cat: Catalogue) -> str:
    out = ["# 规则目录 / Rule catalogue", ""]
    src = f" `{cat.root}`" if cat.root else ""
    out += [f"由 `qinqing docs` 根据{src} 中的规则包生成，请勿手工修改。",
            f"Generated by `qinqing docs` from the packs in{src}; do not edit by hand.", ""]
    counts = {k: sum(1 for r in cat.rules if r.kind == k) for k in LISTS}
    out.append(" · ".join(f"{LISTS[k][0]} / {LISTS[k][1]}: {n}" for k, n in counts.items() if n))
    out += ["", "## 总览 / Overview", "",
            "| 编号 ID | 标题 | Title | 清单 / List | 严重程度 / Severity | 依据 / Citation | 来源 / Provenance | 参数 / Parameters |",
            "|---|---|---|---|---|---|---|---|"]
    for r in cat.rules:
        out.append(f"| [{r.id}](#{_anchor(r.id)}) | {_cell(r.title[0])} | {_cell(r.title[1])} | "
                   f"{_list_label(r.kind)} | {_severity(r)} | "
                   f"{_cell(r.cite)} | {_cell(_provenance(r))} | {', '.join(f'`{n}`' for n in r.params)} |")
    for p in cat.packs:
        if not p.rules:
            continue
        out += ["", f"## {p.title[0]} / {p.title[1]} (`{p.name}`)", ""]
        facts = [("版本 / Version", p.version), ("出处 / Source", p.source),
                 ("生效 / In force", _in_force(p.start, p.until)), ("适用地区 / Applies to", p.applies_to),
                 ("判断的记录 / Judges", p.kinds), ("文件 / File", f"`{p.file}`")]
        out += [f"- {k}: {v}" for k, v in facts if v]
        for r in p.rules:
            out += _md_rule(cat, r)
    used = sorted({n for r in cat.rules for n in r.params})
    if used:
        out += ["", "## 参数 / Parameters", ""]
        for n in used:
            pi = cat.params.get(n)
            if pi is None:
                continue
            unit = f" ({pi.unit})" if pi.unit else ""
            out += [f"### `{n}`", "", f"{pi.title[0]} / {pi.title[1]}{unit}", "",
                    "| 地区 / Jurisdiction | 自 / From | 至 / Until | 值 / Value | 来源 / Source | 说明 / Note |",
                    "|---|---|---|---|---|---|"]
            for v in pi.values:
                out.append(f"| {v.jurisdiction} {_cell(v.place)} | {v.start} | {v.until} | {_cell(v.value)} | "
                           f"{_cell(v.source)} | {_cell(v.note)} |")
            out.append("")
    assumed = assumed_values(cat)
    if assumed:
        out += ["", _ASSUMED_HEAD[0], "", _ASSUMED_HEAD[1], _ASSUMED_HEAD[2], "",
                "| 参数 / Parameter | 地区 / Jurisdiction | 自 / From | 至 / Until | 值 / Value | 说明 / Note |",
                "|---|---|---|---|---|---|"]
        for n, v in assumed:
            out.append(f"| `{n}` | {v.jurisdiction} {_cell(v.place)} | {v.start} | {v.until} | "
                       f"{_cell(v.value)} | {_cell(v.note)} |")
    while out and not out[-1]:
        out.pop()
    return "\n".join(out) + "\n"


def _anchor(rid: str) -> str:
    return "rule-" + re.sub(r"[^A-Za-z0-9]+", "-", rid).strip("-").lower()


def _md_rule(cat: Catalogue, r: RuleInfo) -> list[str]:
    out = ["", f'<a id="{_anchor(r.id)}"></a>', "", f"### {r.id} {r.title[0]} / {r.title[1]}", ""]
    facts = [
        ("清单 / List", _list_label(r.kind)),
        ("严重程度 / Severity", f"{SEVERITY.get(r.severity, r.severity)} / {r.severity}"
         if r.kind != "tolerance" else ""),
        ("触发结论 / Outcome when it fires", " / ".join(OUTCOME[r.outcome])
         if r.kind in ("forbid", "boundary") else ""),
        ("依据 / Citation", r.cite),
        ("来源 / Provenance", _provenance(r)),
        ("生效 / In force", _in_force(r.start, r.until)),
        ("要求 / Requires", ", ".join(f"[{b}](#{_anchor(b)})" for b in r.requires)),
        ("优先于 / Overrides", ", ".join(f"[{o}](#{_anchor(o)})" for o in r.overrides)),
        ("容错范围 / Covers", r.covers),
        ("位置 / Location", f"`{r.location}`"),
    ]
    out += [f"- {k}: {v}" for k, v in facts if v]
    if r.say:
        out.append(f"- 提示 / Message: {_cell(r.say[0])} / {_cell(r.say[1])}")
    if r.remedy:
        out.append(f"- 建议 / Advice: {_cell(r.remedy[0])} / {_cell(r.remedy[1])}")
    if r.notes:
        out += ["", "说明 / Notes:", ""] + [f"> {line}" if line else ">" for line in r.notes.splitlines()]
    if r.text:
        out += ["", "```", r.text, "```"]
    rows = _param_rows(cat, r.params)
    if rows:
        out += ["", "参数 / Parameters:", "",
                "| 参数 / Parameter | 地区 / Jurisdiction | 自 / From | 至 / Until | 值 / Value | 来源 / Source |",
                "|---|---|---|---|---|---|"]
        for n, v in rows:
            out.append(f"| `{n}` | {v.jurisdiction} {_cell(v.place)} | {v.start} | {v.until} | {_cell(v.value)} | "
                       f"{_cell(v.source)} |")
    if r.tests:
        out += ["", "测试 / Tests:", ""] + [f"- {_cell(name)} (`{loc}`)" for name, loc in r.tests]
    return out


# ---- HTML (one self-contained page) ----------------------------------------------------------------
_CSS = """
body{font-family:"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",system-ui,sans-serif;margin:0;color:#1d1d1f;background:#fafafa;line-height:1.55}
header{background:#8b1a1a;color:#fff;padding:1.2em 2em}header h1{margin:0;font-size:1.5em}header p{margin:.3em 0 0;opacity:.9}
main{max-width:1100px;margin:0 auto;padding:1em 2em}
nav input{width:100%;padding:.5em;font-size:1em;margin:.5em 0 1em;box-sizing:border-box}
table{border-collapse:collapse;width:100%;margin:.6em 0;font-size:.92em;background:#fff}
th,td{border:1px solid #ddd;padding:.35em .5em;text-align:left;vertical-align:top}th{background:#f0eeee}
section.rule{background:#fff;border:1px solid #e3e3e3;border-left:5px solid #999;border-radius:4px;margin:1.2em 0;padding:.8em 1.2em}
section.permit{border-left-color:#2e7d32}section.forbid{border-left-color:#c62828}section.boundary{border-left-color:#ef6c00}section.tolerance{border-left-color:#1565c0}
.tag{display:inline-block;border-radius:3px;padding:0 .45em;font-size:.85em;margin-right:.3em;background:#eee}
.permit .kind{background:#e8f5e9}.forbid .kind{background:#ffebee}.boundary .kind{background:#fff3e0}.tolerance .kind{background:#e3f2fd}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em;margin:.5em 0}dt{color:#555}dd{margin:0}
blockquote{margin:.5em 0;padding:.3em 1em;border-left:3px solid #ccc;color:#444;white-space:pre-wrap}
pre{background:#272822;color:#f8f8f2;padding:.8em;border-radius:4px;overflow-x:auto;font-size:.88em}
.k{color:#f92672}.s{color:#e6db74}.c{color:#75715e}.n{color:#ae81ff}.r{color:#66d9ef;font-weight:bold}.p{color:#a6e22e}
.hidden{display:none}
"""

_JS = """
document.getElementById('q').addEventListener('input',function(e){var q=e.target.value.toLowerCase();
document.querySelectorAll('section.rule').forEach(function(s){s.classList.toggle('hidden',q&&s.textContent.toLowerCase().indexOf(q)<0)});});
"""

_TOKEN = re.compile(
    r'(?P<c>#[^\n]*)|(?P<s>"(?:[^"\\\n]|\\.)*")'
    r"|(?P<r>\b[A-Z][A-Za-z]*[0-9]+[A-Za-z0-9_.-]*)"
    r"|(?P<n>\b\d{4}-\d{2}-\d{2}\b|\b\d+(?:\.\d+)?(?:\s*(?:days?|weeks?|months?|years?)\b)?)"
    r"|(?P<p>\bparam\.[a-z_][A-Za-z0-9_]*)"
    r"|(?P<k>\b(?:policy|version|source|in|force|from|until|applies|to|import|define|forbid|permit|boundary"
    r"|tolerance|severity|cite|basis|sourced|inferred|for|each|window|same|within|when|unless|require|else"
    r"|as|overrides|covers|all|except|say|remedy|outcome|violation|review|critical|high|medium|low|and|or"
    r"|not|is|known|missing|some|if|then|count|sum|where|true|false|judges|let|records)\b)")


def highlight(src: str) -> str:
    """Policy source as HTML with token classes (comments, strings, rule ids, numbers, keywords)."""
    out, pos = [], 0
    for m in _TOKEN.finditer(src):
        out.append(html.escape(src[pos:m.start()]))
        out.append(f'<span class="{m.lastgroup}">{html.escape(m.group())}</span>')
        pos = m.end()
    out.append(html.escape(src[pos:]))
    return "".join(out)


def to_html(cat: Catalogue) -> str:
    e = html.escape
    parts = ['<!DOCTYPE html>', '<html lang="zh-CN">', "<head>", '<meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             "<title>规则目录 / Rule catalogue</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
             "<header><h1>规则目录 / Rule catalogue</h1>",
             (f"<p>由 qinqing docs 生成 / Generated by qinqing docs{(' · ' + e(cat.root)) if cat.root else ''}"
             f" · {len(cat.rules)} 条规则 / rules</p></header>"), "<main>", "<nav>",
             '<input id="q" type="search" placeholder="筛选（编号、标题、依据…）/ Filter (id, title, citation…)">',
             ("<table><thead><tr><th>编号 ID</th><th>标题 / Title</th><th>清单 / List</th>"
             "<th>严重程度 / Severity</th><th>来源 / Provenance</th></tr></thead><tbody>")]
    for r in cat.rules:
        parts.append(f'<tr><td><a href="#{_anchor(r.id)}">{e(r.id)}</a></td><td>{e(r.title[0])}<br>{e(r.title[1])}</td>'
                     f"<td>{e(_list_label(r.kind))}</td><td>{e(_severity(r))}</td>"
                     f"<td>{e(_provenance(r))}</td></tr>")
    parts.append("</tbody></table></nav>")
    for p in cat.packs:
        if not p.rules:
            continue
        parts.append(f"<h2>{e(p.title[0])} / {e(p.title[1])} <code>{e(p.name)}</code></h2>")
        facts = [("版本 / Version", p.version), ("出处 / Source", p.source),
                 ("生效 / In force", _in_force(p.start, p.until)), ("适用地区 / Applies to", p.applies_to),
                 ("判断的记录 / Judges", p.kinds), ("文件 / File", p.file)]
        parts.append("<dl>" + "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in facts if v) + "</dl>")
        for r in p.rules:
            parts.append(_html_rule(cat, r))
    assumed = assumed_values(cat)
    if assumed:
        parts += [f"<h2>{e(_ASSUMED_HEAD[0][3:])}</h2>", f"<p>{e(_ASSUMED_HEAD[1])}<br>{e(_ASSUMED_HEAD[2])}</p>",
                  "<table><thead><tr><th>参数 / Parameter</th><th>地区 / Jurisdiction</th><th>自 / From</th>"
                  "<th>至 / Until</th><th>值 / Value</th><th>说明 / Note</th></tr></thead><tbody>"]
        parts += [f"<tr><td><code>{e(n)}</code></td><td>{e(v.jurisdiction)} {e(v.place)}</td><td>{e(v.start)}</td>"
                  f"<td>{e(v.until)}</td><td>{e(v.value)}</td><td>{e(v.note)}</td></tr>" for n, v in assumed]
        parts.append("</tbody></table>")
    parts += ["</main>", f"<script>{_JS}</script>", "</body>", "</html>"]
    return "\n".join(parts) + "\n"


def _html_rule(cat: Catalogue, r: RuleInfo) -> str:
    e = html.escape
    link = lambda rid: f'<a href="#{_anchor(rid)}">{e(rid)}</a>'
    facts = [
        ("依据 / Citation", e(r.cite)),
        ("来源 / Provenance", e(_provenance(r))),
        ("触发结论 / Outcome", e(" / ".join(OUTCOME[r.outcome])) if r.kind in ("forbid", "boundary") else ""),
        ("生效 / In force", e(_in_force(r.start, r.until))),
        ("要求 / Requires", ", ".join(link(b) for b in r.requires)),
        ("优先于 / Overrides", ", ".join(link(o) for o in r.overrides)),
        ("容错范围 / Covers", e(r.covers)),
        ("提示 / Message", f"{e(r.say[0])}<br>{e(r.say[1])}" if r.say else ""),
        ("建议 / Advice", f"{e(r.remedy[0])}<br>{e(r.remedy[1])}" if r.remedy else ""),
        ("位置 / Location", f"<code>{e(r.location)}</code>"),
    ]
    sev = "" if r.kind == "tolerance" else \
        f'<span class="tag">{e(SEVERITY.get(r.severity, r.severity))} / {e(r.severity)}</span>'
    out = [f'<section class="rule {r.kind}" id="{_anchor(r.id)}">',
           f"<h3>{e(r.id)} {e(r.title[0])} / {e(r.title[1])}</h3>",
           f'<p><span class="tag kind">{e(_list_label(r.kind))}</span>{sev}</p>',
           "<dl>" + "".join(f"<dt>{e(k)}</dt><dd>{v}</dd>" for k, v in facts if v) + "</dl>"]
    if r.notes:
        out.append(f"<blockquote>{e(r.notes)}</blockquote>")
    if r.text:
        out.append(f"<pre><code>{highlight(r.text)}</code></pre>")
    rows = _param_rows(cat, r.params)
    if rows:
        out.append("<table><thead><tr><th>参数 / Parameter</th><th>地区 / Jurisdiction</th><th>自 / From</th>"
                   "<th>至 / Until</th><th>值 / Value</th><th>来源 / Source</th></tr></thead><tbody>")
        for n, v in rows:
            title = cat.params[n].title
            out.append(f'<tr><td><code>{e(n)}</code><br>{e(title[0])} / {e(title[1])}</td>'
                       f"<td>{e(v.jurisdiction)} {e(v.place)}</td><td>{e(v.start)}</td><td>{e(v.until)}</td>"
                       f"<td>{e(v.value)}</td><td>{e(v.source)}</td></tr>")
        out.append("</tbody></table>")
    if r.tests:
        out.append("<p>测试 / Tests:</p><ul>" + "".join(f"<li>{e(n)} <code>{e(loc)}</code></li>"
                                                     for n, loc in r.tests) + "</ul>")
    out.append("</section>")
    return "\n".join(out)


__all__ = ["Catalogue", "PackInfo", "assumed_values", "ParamInfo", "ParamValue", "RuleInfo", "build", "highlight", "to_html",
           "to_markdown"]
