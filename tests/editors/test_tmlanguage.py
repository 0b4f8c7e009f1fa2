"""The TextMate grammar in editors/ (used by VS Code through editors/vscode): valid JSON, every
regex compiles, every include resolves, and a small TextMate-style matcher run over every
bundled pack gives each keyword token (as the real lexer finds them) a `keyword.*` scope."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pytest
from lark import Lark

try:  # the `regex` module speaks more of Oniguruma; plain `re` must accept the grammar too
    import regex
except ImportError:  # pragma: no cover
    regex = None

ROOT = Path(__file__).resolve().parents[2]
EDITORS = ROOT / "editors"
GRAMMAR = EDITORS / "qinqing.tmLanguage.json"
VSCODE = EDITORS / "vscode"
POLICIES = sorted(p for d in (ROOT / "rules", ROOT / "tests" / "policy_dsl" / "good",
                              ROOT / "tests" / "checker" / "data" / "ruletests")
                  if d.is_dir() for p in d.rglob("*.policy"))
# Literal values rather than keywords: they get `constant.language.*` scopes.
CONSTANT_TERMINALS = {"TRUE", "FALSE", "SEVERITY", "OUTCOME", "BASIS"}


def grammar() -> dict:
    return json.loads(GRAMMAR.read_text(encoding="utf-8"))


def all_patterns(node):
    """Every pattern object in the grammar (top level, repository, nested)."""
    if isinstance(node, dict):
        if any(k in node for k in ("match", "begin", "include")):
            yield node
        for v in node.values():
            yield from all_patterns(v)
    elif isinstance(node, list):
        for v in node:
            yield from all_patterns(v)


# ---- the files ---------------------------------------------------------------------------------------
def test_grammar_is_valid_json_with_the_expected_shape() -> None:
    g = grammar()
    assert g["scopeName"] == "source.qinqing"
    assert g["fileTypes"] == ["policy"]
    assert isinstance(g["patterns"], list) and isinstance(g["repository"], dict)
    for p in all_patterns(g):
        if "include" in p:
            assert p["include"].startswith("#") and p["include"][1:] in g["repository"], p["include"]
        if "name" in p:
            assert p["name"].endswith(".qinqing"), p["name"]
        for caps in ("captures", "beginCaptures", "endCaptures"):
            for cap in p.get(caps, {}).values():
                assert cap["name"].endswith(".qinqing")


def test_every_regex_compiles() -> None:
    count = 0
    for p in all_patterns(grammar()):
        for key in ("match", "begin", "end"):
            if key in p:
                re.compile(p[key])
                if regex is not None:
                    regex.compile(p[key])
                count += 1
    assert count > 30


def test_vscode_extension_declares_the_language() -> None:
    pkg = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
    (lang,) = pkg["contributes"]["languages"]
    assert lang["id"] == "qinqing" and lang["extensions"] == [".policy"]
    assert json.loads((VSCODE / lang["configuration"]).read_text(encoding="utf-8"))["comments"] == {
        "lineComment": "#"}
    (gram,) = pkg["contributes"]["grammars"]
    assert gram["language"] == "qinqing" and gram["scopeName"] == grammar()["scopeName"]
    # The extension ships its own copy (VS Code packages only the extension folder): same bytes.
    assert (VSCODE / gram["path"]).read_bytes() == GRAMMAR.read_bytes()


# ---- a small TextMate matcher --------------------------------------------------------------------------
@dataclass
class Rule:
    match: re.Pattern | None = None
    begin: re.Pattern | None = None
    end: re.Pattern | None = None
    name: str | None = None
    captures: dict = field(default_factory=dict)
    patterns: list = field(default_factory=list)  # Rules and "#include" keys, expanded lazily


class Grammar:
    """Compiled patterns; `#name` includes are expanded when a pattern list is scanned."""

    def __init__(self, g: dict):
        self.repo = {k: self._compile(v) for k, v in g["repository"].items()}
        self.top = [self._compile(n) for n in g["patterns"]]

    def _compile(self, n: dict):
        if "include" in n:
            return n["include"][1:]
        caps = n.get("captures") or n.get("beginCaptures") or {}
        return Rule(match=re.compile(n["match"]) if "match" in n else None,
                    begin=re.compile(n["begin"]) if "begin" in n else None,
                    end=re.compile(n["end"]) if "end" in n else None,
                    name=n.get("name"), captures={int(k): v["name"] for k, v in caps.items()},
                    patterns=[self._compile(c) for c in n.get("patterns", [])])

    def expand(self, items: list, seen: tuple = ()) -> list[Rule]:
        out: list[Rule] = []
        for it in items:
            if isinstance(it, str):
                if it in seen:
                    continue
                target = self.repo[it]
                if isinstance(target, Rule) and target.match is None and target.begin is None:
                    out.extend(self.expand(target.patterns, (*seen, it)))
                else:
                    out.extend(self.expand([target], (*seen, it)))
            else:
                out.append(it)
        return out


def scan(g: Grammar, line: str, pos: int, items: list, scopes: list[list[str]], outer: list[str],
         end: re.Pattern | None = None) -> int:
    """TextMate's rule: at each position the earliest match wins, ties go to the first pattern.
    Assign scopes from `pos` until `end` matches (or the line ends); return the new position."""
    rules = g.expand(items)
    while pos <= len(line):
        best = None
        for r in rules:
            m = (r.match or r.begin).search(line, pos)
            if m and (best is None or m.start() < best[0].start()):
                best = (m, r)
        if end is not None:
            e = end.search(line, pos)
            if e and (best is None or e.start() <= best[0].start()):
                return e.end()
        if best is None:
            return len(line)
        m, r = best
        here = outer + ([r.name] if r.name else [])
        for i in range(m.start(), m.end()):
            scopes[i] = list(here)
        for k, cap in r.captures.items():
            if m.group(k) is not None:
                for i in range(m.start(k), m.end(k)):
                    scopes[i] = [*here, cap]
        if r.begin is not None:
            after = scan(g, line, m.end(), r.patterns, scopes, here, r.end)
            for i in range(m.start(), after):
                if not scopes[i]:
                    scopes[i] = list(here)
            pos = max(after, m.end() + (m.end() == m.start()))
        else:
            pos = m.end() if m.end() > m.start() else m.start() + 1
    return pos


def tokenize(text: str, g: Grammar) -> list[list[list[str]]]:
    """Per line, per character, the scope stack."""
    out = []
    for line in text.splitlines():
        scopes: list[list[str]] = [[] for _ in range(len(line) + 1)]
        scan(g, line, 0, g.top, scopes, [])
        out.append(scopes)
    return out


def keyword_tokens(text: str) -> list:
    """Keyword tokens of a policy file as the language's own (contextual) lexer sees them."""
    src = resources.files("policy_dsl").joinpath("grammar.lark").read_text("utf-8")
    probe = Lark(src, parser="lalr", start=["start", "expr"])
    found: list = []
    kinds = {t.name for t in probe.terminals
             if (t.pattern.type == "str" and t.pattern.value.isalpha()) or t.name in ("RULE_KIND", "ALL",
                                                                                      *CONSTANT_TERMINALS)}
    lark = Lark(src, parser="lalr", start=["start", "expr"],
                lexer_callbacks={k: (lambda tok: found.append(tok) or tok) for k in kinds})
    lark.parse(text, start="start")
    return found


# ---- the matcher on the real packs ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def rules() -> Grammar:
    return Grammar(grammar())


def test_matcher_on_a_sample(rules) -> None:
    line = 'forbid N1 "收受{g.form}" / "Kept"  # note'
    (scopes,) = tokenize(line, rules)
    assert scopes[0][-1] == "keyword.declaration.rule.qinqing"
    assert scopes[7][-1] == "entity.name.function.rule-id.qinqing"
    assert scopes[line.index("g.form")][-2:] == ["meta.embedded.placeholder.qinqing", "variable.other.qinqing"]
    assert scopes[line.index("form")][-1] == "variable.other.property.qinqing"
    assert scopes[line.index("#")][-1] == "comment.line.number-sign.qinqing"
    (scopes,) = tokenize("  when tolerance.prefiling_id is known and date <= 2025-05-20 + 30 days", rules)
    assert scopes[2][-1] == "keyword.control.clause.qinqing"
    assert scopes[7][-1] == "variable.other.qinqing"  # a field, not the `tolerance` keyword
    assert scopes[51][-1] == "constant.numeric.date.qinqing"


@pytest.mark.skipif(not POLICIES, reason="no policy files")
@pytest.mark.parametrize("path", POLICIES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_keyword_gets_a_keyword_scope(path: Path, rules) -> None:
    text = path.read_text(encoding="utf-8")
    lines = tokenize(text, rules)
    wrong = []
    tokens = keyword_tokens(text)
    assert tokens, "the file has keywords"
    for tok in tokens:
        scope = (lines[tok.line - 1][tok.column - 1] or ["(none)"])[-1]
        want = "constant.language." if tok.type in CONSTANT_TERMINALS else "keyword."
        if not scope.startswith(want):
            wrong.append(f"{path.name}:{tok.line}:{tok.column} `{tok}` ({tok.type}) has {scope}")
    assert not wrong, "\n".join(wrong[:20])
