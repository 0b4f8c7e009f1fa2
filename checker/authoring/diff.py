"""What a change of the packs does to a batch of records: evaluate under OLD and NEW, compare.

A side is a pack folder (or file), or a git revision: `git:REV` (the `rules/` folder at
REV) or `REV:path` (e.g. `HEAD~1:rules`). Revisions are extracted with `git archive` into a
temporary folder; git is run with argument lists only, and the revision and path are
validated first (no options, no `..`, no absolute paths).
"""

from __future__ import annotations

import html
import io
import re
import subprocess
import tarfile
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

_REV = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/~^@{}+-]{0,199}$")
DEFAULT_GIT_PATH = "rules"


class DiffError(Exception):
    def __init__(self, zh: str, en: str):
        super().__init__(en)
        self.zh, self.en = zh, en

    def message(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


# ---- sides ---------------------------------------------------------------------------
def parse_side(spec: str) -> tuple[str, str | None, str | None]:
    """('dir', path, None) or ('git', rev, path) for a command-line side."""
    if spec.startswith("git:"):
        rev, path = spec[4:], DEFAULT_GIT_PATH
        if ":" in rev:
            rev, path = rev.split(":", 1)
        return "git", _check_rev(rev), _check_path(path)
    if Path(spec).exists():
        return "dir", spec, None
    if ":" in spec:
        rev, path = spec.split(":", 1)
        return "git", _check_rev(rev), _check_path(path or ".")
    raise DiffError(f"找不到规则目录或 git 版本：{spec}", f"no such pack folder or git revision: {spec}")


def _check_rev(rev: str) -> str:
    if not _REV.match(rev) or ".." in rev or rev.endswith((".lock", "/", ".")) or "@{" in rev and "}" not in rev:
        raise DiffError(f"不是有效的 git 版本：{rev!r}", f"not a valid git revision: {rev!r}")
    return rev


def _check_path(path: str) -> str:
    p = PurePosixPath(path)
    if p.is_absolute() or ".." in p.parts or path.startswith("-") or "\\" in path or "\0" in path:
        raise DiffError(f"不是有效的仓库内路径：{path!r}", f"not a valid path inside the repository: {path!r}")
    return str(p)


def _git(args: list[str], repo: Path) -> bytes:
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=False, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DiffError(f"无法运行 git：{exc}", f"cannot run git: {exc}") from None
    if done.returncode != 0:
        err = done.stderr.decode("utf-8", "replace").strip().splitlines()
        last = err[-1] if err else f"exit {done.returncode}"
        raise DiffError(f"git 失败：{last}", f"git failed: {last}")
    return done.stdout


def extract_revision(rev: str, path: str, repo: Path, dest: Path) -> Path:
    """Extract `path` at `rev` of the repository at `repo` into `dest`; returns the folder."""
    sha = _git(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"], repo).decode().strip()
    if not re.fullmatch(r"[0-9a-f]{40,64}", sha):
        raise DiffError(f"找不到 git 版本：{rev}", f"unknown git revision: {rev}")
    top = _git(["rev-parse", "--show-prefix"], repo).decode().strip()
    full = str(PurePosixPath(top) / path) if top else path
    data = _git(["archive", "--format=tar", sha, "--", full], repo)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(dest, filter="data")
    out = dest / full
    if not out.exists():
        raise DiffError(f"{rev} 中没有 {path}", f"{path} does not exist at {rev}")
    return out


@dataclass
class Side:
    spec: str
    folder: Path
    label: str


def resolve_side(spec: str, repo: Path, tmp: Path) -> Side:
    kind, a, b = parse_side(spec)
    if kind == "dir":
        return Side(spec, Path(a), spec)
    dest = tmp / f"side{len(list(tmp.iterdir()))}"
    dest.mkdir()
    return Side(spec, extract_revision(a, b, repo, dest), f"{a}:{b}")


# ---- comparing -------------------------------------------------------------------------
@dataclass
class Change:
    id: str
    old: str
    new: str
    appeared: tuple[str, ...]
    disappeared: tuple[str, ...]
    changed: tuple[str, ...]  # rules present on both sides with different outcomes


@dataclass
class DiffResult:
    old: dict
    new: dict
    records: int = 0
    transitions: Counter = field(default_factory=Counter)
    changes: list[Change] = field(default_factory=list)  # outcome changed
    finding_changes: list[Change] = field(default_factory=list)  # same outcome, other findings


def _rule_outcomes(entry: dict) -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for f in entry.get("findings", ()):
        out.setdefault(f["rule"], []).append(f"{f['outcome']}@{f.get('element') or ''}")
    return {k: tuple(sorted(v)) for k, v in out.items()}


def compare(old_entries: Iterable[dict], new_entries: Iterable[dict], old: dict, new: dict) -> DiffResult:
    res = DiffResult(old, new)
    for a, b in zip(old_entries, new_entries, strict=True):
        res.records += 1
        res.transitions[(a["outcome"], b["outcome"])] += 1
        ra, rb = _rule_outcomes(a), _rule_outcomes(b)
        ch = Change(str(b.get("id")), a["outcome"], b["outcome"],
                    tuple(sorted(set(rb) - set(ra))), tuple(sorted(set(ra) - set(rb))),
                    tuple(sorted(k for k in set(ra) & set(rb) if ra[k] != rb[k])))
        if a["outcome"] != b["outcome"]:
            res.changes.append(ch)
        elif ch.appeared or ch.disappeared or ch.changed:
            res.finding_changes.append(ch)
    return res


def evaluate_sides(old: Side, new: Side, records: Sequence[str], jurisdiction: str | None = None,
                   input_format: str | None = None, encoding: str = "utf-8") -> DiffResult:
    from checker.engine.engine import Engine, Options
    from checker.engine.policy import PolicyLoadError, load_policy
    from checker.input.records import iter_records

    policies = []
    for side in (old, new):
        try:
            policies.append(load_policy([side.folder]))
        except PolicyLoadError as exc:
            from policy_dsl.errors import render_all

            text = render_all(exc.result.errors, exc.result.sources)
            raise DiffError(f"{side.label} 的规则加载失败：\n{text}", f"the policies of {side.label} did not load:\n{text}") \
                from None
    validator: Any = policies[1].validator()  # each record against its kind's schema (the new side's)
    if jurisdiction:
        from checker.run.check import FillingValidator

        validator = FillingValidator(validator, jurisdiction)
    loaded = list(iter_records(list(records), input_format=input_format, encoding=encoding, validator=validator))
    entries = []
    for pol in policies:
        engine = Engine(pol, Options(lang="zh", default_jurisdiction=jurisdiction))
        entries.append(list(engine.check(loaded)))
    return compare(entries[0], entries[1], _describe(old, policies[0]), _describe(new, policies[1]))


def _describe(side: Side, policy: Any) -> dict:
    d = policy.describe()
    return {"spec": side.spec, "label": side.label, "content_hash": d["content_hash"],
            "packs": [{"name": p["name"], "version": p["version"]} for p in d["packs"]]}


# ---- grouping and output -----------------------------------------------------------------
def groups(changes: Sequence[Change], examples: int = 3) -> list[dict]:
    """Changes grouped by rule and direction: which records a rule appears in, leaves, or
    changes its outcome in; largest groups first."""
    acc: dict[tuple[str, str], list[Change]] = {}
    for ch in changes:
        for kind, rules in (("appeared", ch.appeared), ("disappeared", ch.disappeared), ("changed", ch.changed)):
            for r in rules:
                acc.setdefault((r, kind), []).append(ch)
    out = []
    for (rule, kind), chs in sorted(acc.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        out.append({"rule": rule, "change": kind, "count": len(chs),
                    "examples": [{"id": c.id, "old": c.old, "new": c.new} for c in chs[:examples]]})
    return out


def to_data(res: DiffResult, examples: int = 3) -> dict:
    return {
        "old": res.old,
        "new": res.new,
        "records": res.records,
        "outcome_changed": len(res.changes),
        "findings_changed": len(res.finding_changes),
        "transitions": [{"old": a, "new": b, "count": n}
                        for (a, b), n in sorted(res.transitions.items(), key=lambda kv: (-kv[1], kv[0])) if a != b],
        "by_rule": groups(res.changes, examples),
        "by_rule_same_outcome": groups(res.finding_changes, examples),
        "changes": [{"id": c.id, "old": c.old, "new": c.new, "appeared": list(c.appeared),
                     "disappeared": list(c.disappeared), "changed": list(c.changed)} for c in res.changes],
    }


_KIND = {"appeared": ("新出现", "appears"), "disappeared": ("不再出现", "disappears"),
         "changed": ("结论改变", "changes outcome")}


def render_text(res: DiffResult, lang: str = "zh", examples: int = 3) -> str:
    zh = lang == "zh"
    d = to_data(res, examples)
    lines = [
        (f"旧版 {res.old['label']}（{res.old['content_hash'][:12]}）→ 新版 {res.new['label']}"
         f"（{res.new['content_hash'][:12]}）") if zh else
        (f"old {res.old['label']} ({res.old['content_hash'][:12]}) → new {res.new['label']} "
         f"({res.new['content_hash'][:12]})"),
        (f"记录 {d['records']} 条：结论改变 {d['outcome_changed']} 条，结论不变但发现项改变 {d['findings_changed']} 条"
         if zh else f"{d['records']} records: {d['outcome_changed']} change outcome, "
         f"{d['findings_changed']} keep their outcome with other findings"),
    ]
    if d["transitions"]:
        lines += ["", "结论变化：" if zh else "outcome changes:"]
        lines += [f"  {t['old']} → {t['new']}: {t['count']}" for t in d["transitions"]]
    for key, title in (("by_rule", ("按规则（结论改变的记录）：", "by rule (records whose outcome changes):")),
                       ("by_rule_same_outcome", ("按规则（结论不变的记录）：", "by rule (same outcome, other findings):"))):
        if not d[key]:
            continue
        lines += ["", title[0 if zh else 1]]
        for g in d[key]:
            ex = ", ".join(f"{e['id']} ({e['old']} → {e['new']})" for e in g["examples"])
            word = _KIND[g["change"]][0 if zh else 1]
            lines.append(f"  {g['rule']} {word}: {g['count']}" + (f"  例：{ex}" if zh else f"  e.g. {ex}"))
    if not d["outcome_changed"] and not d["findings_changed"]:
        lines += ["", "两版规则对这批记录的结论完全相同。" if zh else "both versions give the same results for this batch."]
    return "\n".join(lines) + "\n"


_STYLE = ("<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}"
          "table{border-collapse:collapse;margin:1em 0}"
          "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}"
          "th{background:#f4f4f4}.n{text-align:right}code{background:#f4f4f4;padding:0 .2em}</style></head><body>")


def render_html(res: DiffResult, lang: str = "zh", examples: int = 3) -> str:
    zh = lang == "zh"
    d = to_data(res, examples)
    e = html.escape
    title = "规则变更影响" if zh else "Impact of a rule change"
    parts = [
        "<!DOCTYPE html>", f'<html lang="{"zh-CN" if zh else "en"}"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title>",
        _STYLE,
        f"<h1>{e(title)}</h1>",
        (f"<p>{e('旧版' if zh else 'old')}: <code>{e(res.old['label'])}</code> ({e(res.old['content_hash'][:12])})"
         f" → {e('新版' if zh else 'new')}: <code>{e(res.new['label'])}</code> ({e(res.new['content_hash'][:12])})</p>"),
        f"<p>{e(render_text(res, lang, examples).splitlines()[1])}</p>",
    ]
    if d["transitions"]:
        parts.append(f"<h2>{e('结论变化' if zh else 'Outcome changes')}</h2><table><tr>"
                     f"<th>{e('旧' if zh else 'old')}</th><th>{e('新' if zh else 'new')}</th>"
                     f"<th>{e('记录数' if zh else 'records')}</th></tr>")
        for t in d["transitions"]:
            parts.append(f"<tr><td>{e(t['old'])}</td><td>{e(t['new'])}</td><td class=n>{t['count']}</td></tr>")
        parts.append("</table>")
    for key, head in (("by_rule", ("按规则（结论改变的记录）", "By rule (records whose outcome changes)")),
                      ("by_rule_same_outcome", ("按规则（结论不变的记录）", "By rule (same outcome, other findings)"))):
        if not d[key]:
            continue
        parts.append(f"<h2>{e(head[0 if zh else 1])}</h2><table><tr><th>{e('规则' if zh else 'rule')}</th>"
                     f"<th>{e('变化' if zh else 'change')}</th><th>{e('记录数' if zh else 'records')}</th>"
                     f"<th>{e('示例' if zh else 'examples')}</th></tr>")
        for g in d[key]:
            ex = "<br>".join(f"{e(x['id'])}: {e(x['old'])} → {e(x['new'])}" for x in g["examples"])
            parts.append(f"<tr><td><code>{e(g['rule'])}</code></td><td>{e(_KIND[g['change']][0 if zh else 1])}</td>"
                         f"<td class=n>{g['count']}</td><td>{ex}</td></tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def diff(old: str, new: str, records: Sequence[str], repo: Path | None = None,
         jurisdiction: str | None = None, input_format: str | None = None, encoding: str = "utf-8"
         ) -> DiffResult:
    """Evaluate `records` under the OLD and NEW sides (folders or git revisions)."""
    repo = repo or Path.cwd()
    with tempfile.TemporaryDirectory(prefix="qinqing-diff-") as tmp:
        t = Path(tmp)
        a = resolve_side(old, repo, t)
        b = resolve_side(new, repo, t)
        return evaluate_sides(a, b, records, jurisdiction, input_format, encoding)
