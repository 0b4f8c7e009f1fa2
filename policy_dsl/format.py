"""The canonical layout of policy files (`qinqing fmt`).

One layout, whatever the input:
- the pack header, imports, definitions and rules in source order; a rule's clauses in a
  fixed order: severity, outcome, cite, basis, in force, for each, window, when, unless,
  require…, overrides, covers, say, remedy;
- clauses indented by two spaces, one clause per line; exactly one blank line around each
  rule and after the pack header; between other declarations the source's blank-line groups are kept (runs of blank
  lines become one);
- expressions written as `unparse` writes them (`x in {a, b}`, `a == b`, single spaces,
  `and` inside `or` in parentheses); a line longer than WIDTH columns (CJK characters count
  two) is broken at the top-level `and`/`or` of the condition, the operator starting each
  continuation line under the first operand; nested conditions break the same way inside
  their parentheses; `require … else B` moves `else` to its own line, `if`, `then` and
  `else` go on lines of their own (`else if` chains stay flat, a conditional inside `then`
  is parenthesised), `some x in L:` and `sum(x in L where …:` break before their body, a long
  `{a, b, …}` fills lines under its first value, and a bilingual text breaks before
  ` / "English"`;
- comments stay with what they describe: a comment on its own line stays before the clause,
  condition operand or declaration that follows it; a comment after code stays at the end of
  the line of the clause (or operand) it followed.

Formatting never changes meaning: the result parses to the same declarations as the input
(tests compare the IR of every bundled pack before and after).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from . import ast as A
from .errors import Diagnostic
from .parser import parse
from .unparse import _prec, needs_group, quote, unparse

WIDTH = 100
INDENT = "  "
CLAUSE_ORDER = ("severity", "cite", "basis", "in_force", "judges", "outcome", "foreach", "window", "let",
                "when", "unless", "require", "overrides", "covers", "say", "remedy")


def width(s: str) -> int:
    """Display width: CJK and full-width characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in s)


class FormatError(Exception):
    """The file does not parse; formatting needs a syntactically valid file."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = diagnostics
        super().__init__(diagnostics[0].message if diagnostics else "syntax error")


def format_source(text: str, file: str = "<policy>") -> str:
    """The canonical layout of a policy file's text; raises FormatError if it does not parse."""
    text = text.lstrip("\ufeff")
    pf, diags = parse(text, file)
    errors = [d for d in diags if d.severity == "error"]
    if pf is None or errors:
        raise FormatError(errors or diags)
    return _Formatter(pf, text).render()


# ---- units: the things comments attach to ----------------------------------------------------------
@dataclass
class _Unit:
    key: tuple
    start: tuple[int, int]
    end: tuple[int, int]
    depth: int  # 0 item, 1 header/clause, 2 operand


@dataclass
class _Notes:
    leading: dict = field(default_factory=dict)  # key -> [(text, blank_after)]
    trailing: dict = field(default_factory=dict)  # key -> [text]
    end: list = field(default_factory=list)  # comments after the last declaration


_POLICY_CLAUSE = re.compile(r"\b(version|source|applies|judges|in\s+force)\b")


class _Formatter:
    def __init__(self, pf: A.PolicyFile, text: str):
        self.pf = pf
        self.text = text
        self.lines = text.splitlines()
        self.units: list[_Unit] = []
        self.policy_clauses: dict[str, tuple[int, int]] = {}
        self._collect_units()
        self.notes = self._assign_comments()

    # ---- source facts
    def _blank(self, line: int) -> bool:
        return 1 <= line <= len(self.lines) and not self.lines[line - 1].strip()

    def _own_line(self, c: A.Comment) -> bool:
        return not self.lines[c.line - 1][: c.column - 1].strip()

    def _line_end(self, line: int) -> int:
        """Column after the last code character of a line (before any comment)."""
        src = self.lines[line - 1] if 1 <= line <= len(self.lines) else ""
        cut = next((c.column - 1 for c in self.pf.comments if c.line == line), len(src))
        return len(src[:cut].rstrip()) + 1

    # ---- units
    def _add(self, key: tuple, span, depth: int, end: tuple[int, int] | None = None) -> None:
        self.units.append(_Unit(key, (span.line, span.column), end or (span.end_line, span.end_column), depth))

    def _ops(self, key: tuple, e: A.Expr | None) -> None:
        if isinstance(e, A.BoolOp):
            for item in e.items:
                self._add(("op", id(item)), item.span, 2)

    def _collect_units(self) -> None:
        for i, it in enumerate(self.pf.items):
            self._add(("item", i), it.span, 0)
            if isinstance(it, A.Policy):
                self._add(("head", i), it.span, 1, (it.title.span.end_line, it.title.span.end_column))
                self._policy_units(i, it)
            elif isinstance(it, A.Rule):
                self._add(("head", i), it.span, 1, (it.title.span.end_line, it.title.span.end_column))
                for name, sp in it.clause_spans.items():
                    self._add(("clause", i, name), sp, 1)
                for j, q in enumerate(it.requires):
                    self._add(("clause", i, f"require{j}"), q.span, 1)
                    self._ops(("clause", i, f"require{j}"), q.cond)
                for j, x in enumerate(it.lets):
                    self._add(("clause", i, f"let{j}"), x.span, 1)
                self._ops(("clause", i, "when"), it.when)
                self._ops(("clause", i, "unless"), it.unless)
            elif isinstance(it, A.Define):
                self._ops(("item", i), it.body)

    def _policy_units(self, i: int, p: A.Policy) -> None:
        """Header clauses have no spans in the AST: find their keywords in the source lines."""
        sp = p.span
        comment_cols = {c.line: c.column for c in self.pf.comments}
        for line in range(sp.line, sp.end_line + 1):
            src = self.lines[line - 1]
            cut = comment_cols.get(line, len(src) + 1) - 1
            start = (sp.column - 1) if line == sp.line else 0
            for m in _POLICY_CLAUSE.finditer(src[:cut], start):
                if _in_string(src, m.start()):
                    continue
                name = m.group(1) if m.group(1) in ("version", "source", "applies", "judges") else "in_force"
                self.policy_clauses.setdefault(name, (line, m.start() + 1))
        names = sorted(self.policy_clauses, key=lambda n: self.policy_clauses[n])
        for k, name in enumerate(names):
            line, col = self.policy_clauses[name]
            end = sp.end_line
            if k + 1 < len(names):
                end = max(line, self.policy_clauses[names[k + 1]][0] - 1)
                while end > line and not self._code(end):
                    end -= 1
            self.units.append(_Unit(("pclause", i, name), (line, col), (end, self._line_end(end)), 1))

    def _code(self, line: int) -> bool:
        """Whether a line holds code (not only blanks or a comment)."""
        src = self.lines[line - 1].strip() if 1 <= line <= len(self.lines) else ""
        return bool(src) and not src.startswith("#")

    # ---- comments
    def _assign_comments(self) -> _Notes:
        notes = _Notes()
        units = sorted(self.units, key=lambda u: (u.start, u.depth))
        # A pack header or a rule ends with its last clause: comments there belong to the clause.
        containers = {("item", i) for i, it in enumerate(self.pf.items) if isinstance(it, (A.Policy, A.Rule))}
        for c in self.pf.comments:
            pos = (c.line, c.column)
            if self._own_line(c):
                target = next((u for u in units if u.start > pos), None)
                if target is None:
                    notes.end.append((c.text.rstrip(), self._blank(c.line + 1), c.line))
                else:
                    notes.leading.setdefault(target.key, []).append(
                        (c.text.rstrip(), self._blank(c.line + 1), c.line))
                continue
            ending = [u for u in units if u.end[0] == c.line and u.start < pos and u.key not in containers]
            if ending:
                best = max(ending, key=lambda u: (u.end[1], -u.depth))
            else:
                inside = [u for u in units if u.start[0] <= c.line <= u.end[0] and u.start < pos
                          and u.key not in containers]
                best = max(inside, key=lambda u: (u.depth, u.start)) if inside else None
            if best is None:
                target = next((u for u in units if u.start > pos), None)
                if target is None:
                    notes.end.append((c.text.rstrip(), False, c.line))
                else:
                    notes.leading.setdefault(target.key, []).append((c.text.rstrip(), False, c.line))
            else:
                notes.trailing.setdefault(best.key, []).append(c.text.rstrip())
        return notes

    def _lead(self, key: tuple, indent: str, keep_blank: bool = False) -> list[str]:
        out = []
        for text, blank, _ in self.notes.leading.get(key, ()):
            out.append(indent + text)
            if blank and keep_blank:
                out.append("")
        return out

    def _trail(self, key: tuple, lines: list[str], indent: str = "") -> list[str]:
        """Put a unit's trailing comment at the end of its last line (extra ones before it)."""
        extra, lines = self._trail_split(key, lines, indent)
        return extra + lines

    def _trail_split(self, key: tuple, lines: list[str], indent: str = "") -> tuple[list[str], list[str]]:
        found = self.notes.trailing.get(key)
        if not found:
            return [], lines
        lines = list(lines)
        lines[-1] = lines[-1] + "  " + found[0]
        return [indent + t for t in found[1:]], lines

    def _has_notes(self, key: tuple) -> bool:
        return bool(self.notes.leading.get(key) or self.notes.trailing.get(key))

    # ---- rendering
    def render(self) -> str:
        out: list[str] = []
        items = self.pf.items
        prev_end = 0
        for i, it in enumerate(items):
            leads = self.notes.leading.get(("item", i), [])
            first_line = min([it.span.line] + [line for _, _, line in leads])
            if i > 0:
                gap = any(self._blank(n) for n in range(prev_end + 1, first_line))
                if gap or isinstance(it, (A.Rule, A.Policy)) or isinstance(items[i - 1], (A.Rule, A.Policy)):
                    out.append("")
            out.extend(self._lead(("item", i), "", keep_blank=True))
            out.extend(self._item(i, it))
            prev_end = it.span.end_line
        if self.notes.end:
            end_first = self.notes.end[0][2]
            if items and any(self._blank(n) for n in range(prev_end + 1, end_first)):
                out.append("")
            for text, blank, _ in self.notes.end:
                out.append(text)
                if blank:
                    out.append("")
        while out and not out[-1]:
            out.pop()
        return "\n".join(line.rstrip() for line in out) + "\n"

    def _item(self, i: int, it) -> list[str]:
        if isinstance(it, A.Policy):
            return self._policy(i, it)
        if isinstance(it, A.Import):
            return self._trail(("item", i), [f"import {it.name}"])
        if isinstance(it, A.Define):
            head = f"define {it.name}"
            if it.params is not None:
                head += f"({', '.join(it.params)})"
            if it.title is not None:  # the title on the head line, the body below it
                lead = "    = "
                body = self._expr(it.body, len(lead))
                lines = [f"{head} {_text(it.title)}", lead + body[0], *body[1:]]
                return self._trail(("item", i), lines)
            head += " = "
            body = self._expr(it.body, len(head))
            lines = [head + body[0], *body[1:]]
            return self._trail(("item", i), lines)
        if isinstance(it, A.Rule):
            return self._rule(i, it)
        raise TypeError(f"cannot format {type(it).__name__}")

    def _policy(self, i: int, p: A.Policy) -> list[str]:
        out = self._trail(("head", i), [f"policy {p.name} {_text(p.title)}"])
        clauses = []
        if "version" in self.policy_clauses or p.version is not None:
            clauses.append(("version", f"version {quote(p.version or '')}"))
        if "source" in self.policy_clauses or p.source is not None:
            clauses.append(("source", f"source {quote(p.source or '')}"))
        if p.in_force is not None:
            clauses.append(("in_force", _in_force(p.in_force)))
        if "applies" in self.policy_clauses or p.applies_to is not None:
            target = "all" if p.applies_to is None else ", ".join(quote(c) for c in p.applies_to)
            clauses.append(("applies", f"applies to {target}"))
        if p.judges:
            clauses.append(("judges", f"judges {', '.join(k.name for k in p.judges)}"))
        for name, line in clauses:
            key = ("pclause", i, name)
            out.extend(self._lead(key, INDENT))
            out.extend(self._trail(key, [INDENT + line], INDENT))
        return out

    def _rule(self, i: int, r: A.Rule) -> list[str]:
        out = self._trail(("head", i), [f"{r.kind} {r.id} {_text(r.title)}"])
        cs = r.clause_spans
        for name in CLAUSE_ORDER:
            if name == "require":
                for j, q in enumerate(r.requires):
                    key = ("clause", i, f"require{j}")
                    out.extend(self._clause(key, self._require(q, key)))
                continue
            if name == "let":
                for j, x in enumerate(r.lets):
                    key = ("clause", i, f"let{j}")
                    if x.title is not None:  # the title on the head line, the value below it
                        lead = f"{INDENT}    = "
                        body = self._expr(x.value, len(lead))
                        out.extend(self._clause(key, [f"{INDENT}let {x.name} {_text(x.title)}",
                                                      lead + body[0], *body[1:]]))
                        continue
                    head = f"{INDENT}let {x.name} = "
                    body = self._expr(x.value, len(head))
                    out.extend(self._clause(key, [head + body[0], *body[1:]]))
                continue
            if name not in cs and name != "covers":
                continue
            lines = self._rule_clause(r, name)
            if lines:
                out.extend(self._clause(("clause", i, name), lines))
        return out

    def _clause(self, key: tuple, lines: list[str]) -> list[str]:
        pre = [INDENT + t for t, _, _ in self.notes.leading.get(key, ())]
        return pre + self._trail(key, lines, INDENT)

    def _rule_clause(self, r: A.Rule, name: str) -> list[str] | None:
        if name == "severity":
            return [f"{INDENT}severity {r.severity}"]
        if name == "outcome":
            return [f"{INDENT}outcome {r.outcome}"]
        if name == "cite":
            return [f"{INDENT}cite {quote(r.cite or '')}"]
        if name == "basis":
            refs = f" {quote(r.basis_refs)}" if r.basis_refs is not None else ""
            return [f"{INDENT}basis {r.basis}{refs}"]
        if name == "in_force":
            return [INDENT + _in_force(r.in_force)]
        if name == "foreach":
            return [f"{INDENT}for each {r.foreach.var} in {unparse(r.foreach.coll)}"]
        if name == "window":
            keys = ", ".join(unparse(k) for k in r.window.keys)
            w = r.window.within
            width_text = (unparse(w) if not isinstance(w, A.WidthParam) else
                          f"param.{w.name}" + (f" {w.unit}" if w.unit else ""))
            return [f"{INDENT}window same {keys} within {width_text}"]
        if name == "judges":
            return [f"{INDENT}judges {', '.join(k.name for k in r.judges or ())}"]
        if name in ("when", "unless"):
            expr = r.when if name == "when" else r.unless
            head = f"{INDENT}{name} "
            body = self._expr(expr, len(head))
            return [head + body[0], *body[1:]]
        if name == "overrides":
            return [f"{INDENT}overrides {', '.join(x.id for x in r.overrides)}"]
        if name == "covers":
            if "covers" not in r.clause_spans:
                return None
            if r.covers is not None:
                return [f"{INDENT}covers {', '.join(x.id for x in r.covers)}"]
            exc = f" except {', '.join(x.id for x in r.covers_except)}" if r.covers_except else ""
            return [f"{INDENT}covers all{exc}"]
        if name in ("say", "remedy"):
            text = r.say if name == "say" else r.remedy
            one = f"{INDENT}{name} {_text(text)}"
            if width(one) <= WIDTH or text.en is None:
                return [one]
            return [f"{INDENT}{name} {quote(text.zh.raw)}", f"{INDENT * 2}/ {quote(text.en.raw)}"]
        return None

    def _require(self, q: A.Require, key: tuple) -> list[str]:
        head = f"{INDENT}require "
        tail = f" else {q.boundary}" + (f" as {q.severity}" if q.severity else "")
        body = self._expr(q.cond, len(head))
        forced = len(body) > 1
        if not forced and width(head + body[0] + tail) <= WIDTH:
            return [head + body[0] + tail]
        return [head + body[0], *body[1:], f"{INDENT * 2}{tail.strip()}"]

    # ---- expressions
    def _expr(self, e: A.Expr, col: int) -> list[str]:
        """Lines of an expression whose first line starts at column `col` (0-based); later lines
        carry their own indentation."""
        text = unparse(e)
        forced = isinstance(e, A.BoolOp) and any(self._has_notes(("op", id(x))) for x in e.items)
        if not forced and col + width(text) <= WIDTH:
            return [text]
        if isinstance(e, A.BoolOp):
            return self._chain(e, col)
        if isinstance(e, A.Quant):
            head = f"{e.kind} {e.var} in {_wrap_text(e.coll, 8)}:"
            body = self._expr(e.body, col + 2)
            return [head, " " * (col + 2) + body[0], *body[1:]]
        if isinstance(e, A.If):
            # `if c / then a / else b`, one per line under `if`; `else if` chains stay flat.
            arms, rest = [], e
            while isinstance(rest, A.If):
                arms.append((rest.cond, rest.then))
                rest = rest.otherwise
            pad = " " * col
            lines: list[str] = []
            for k, (cond, then) in enumerate(arms):
                kw = "if " if k == 0 else "else if "
                c = self._expr(cond, col + len(kw))
                lines += [(pad if k else "") + kw + c[0], *c[1:]]
                t = self._operand(then, 1, col + 5) if isinstance(then, A.If) else self._expr(then, col + 5)
                lines += [pad + "then " + t[0], *t[1:]]
            other = self._expr(rest, col + 5)
            return lines + [pad + "else " + other[0], *other[1:]]
        if isinstance(e, A.Member):
            head = f"{_wrap_text(e.item, 5)} {'not in' if e.negated else 'in'} {{"
            return _fill(head, [unparse(o) for o in e.options], col, "}")
        if isinstance(e, A.Compare):
            return self._binary(e.left, f" {e.op} ", e.right, 5, 5, col)
        if isinstance(e, A.Arith):
            p = _prec(e)
            return self._binary(e.left, f" {e.op} ", e.right, p, p + 1, col)
        if isinstance(e, A.Not):
            inner = self._operand(e.operand, 3, col + 4)
            return ["not " + inner[0], *inner[1:]]
        if isinstance(e, A.Aggregate) and e.kind == "sum":
            where = f" where {unparse(e.where)}" if e.where is not None else ""
            head = f"sum({e.var} in {_wrap_text(e.coll, 8)}{where}:"
            value = self._expr(e.value, col + 4)
            return _close([head, " " * (col + 4) + value[0], *value[1:]], ")")
        return [text]

    def _binary(self, left: A.Expr, op: str, right: A.Expr, lp: int, rp: int, col: int) -> list[str]:
        """`left op right`: break inside the left side if it is long, else inside the right."""
        lhs = self._operand(left, lp, col)
        rtext = _wrap_text(right, rp)
        if len(lhs) > 1 or col + width(lhs[0] + op + rtext) <= WIDTH:
            return [*lhs[:-1], lhs[-1] + op + rtext]
        rhs = self._operand(right, rp, col + width(lhs[0] + op))
        return [lhs[0] + op + rhs[0], *rhs[1:]]

    def _chain(self, e: A.BoolOp, col: int) -> list[str]:
        p = {"or": 1, "and": 2}[e.op]
        pad = " " * col
        out: list[str] = []
        # The first line goes after the clause keyword, so comments before the first operand
        # cannot sit above it: they move down, before the second operand.
        pending = [pad + t for t, _, _ in self.notes.leading.get(("op", id(e.items[0])), ())]
        for k, item in enumerate(e.items):
            key = ("op", id(item))
            prefix = "" if k == 0 else e.op + " "
            inner = self._operand(item, p + 1, col + len(prefix), e.op)
            lines = [prefix + inner[0], *inner[1:]] if k == 0 else [pad + prefix + inner[0], *inner[1:]]
            extra, lines = self._trail_split(key, lines, pad)
            if k == 0:
                out.extend(lines)
                pending.extend(extra)
                continue
            out.extend(pending)
            pending = []
            out.extend(pad + t for t, _, _ in self.notes.leading.get(key, ()))
            out.extend(extra)
            out.extend(lines)
        return out

    def _operand(self, e: A.Expr, min_prec: int, col: int, op: str | None = None) -> list[str]:
        if _prec(e) < min_prec or (op is not None and needs_group(op, e)):
            inner = self._expr(e, col + 1)
            if len(inner) == 1:
                return [f"({inner[0]})"]
            return ["(" + inner[0], *inner[1:-1], inner[-1] + ")"]
        return self._expr(e, col)


def _close(lines: list[str], closer: str) -> list[str]:
    out = list(lines)
    out[-1] = out[-1] + closer
    return out


def _fill(head: str, items: list[str], col: int, closer: str) -> list[str]:
    """`head a, b, c` + closer, filling lines; continuation lines align under the first item.
    The first line starts at column `col`; later lines carry their own indentation."""
    inner = col + width(head)
    lines = [head]
    start = [col]  # column where each line's text starts
    fresh = True
    for k, item in enumerate(items):
        piece = item + ("," if k + 1 < len(items) else closer)
        if fresh:
            lines[-1] += piece
            fresh = False
        elif start[-1] + width(lines[-1]) + 1 + width(piece) > WIDTH:
            lines.append(" " * inner + piece)
            start.append(0)
        else:
            lines[-1] += " " + piece
    return lines


def _in_string(src: str, pos: int) -> bool:
    """Whether position `pos` of a line lies inside a "string"."""
    inside, i = False, 0
    while i < pos:
        if src[i] == "\\" and inside:
            i += 2
            continue
        if src[i] == '"':
            inside = not inside
        i += 1
    return inside


def _wrap_text(e: A.Expr, min_prec: int) -> str:
    text = unparse(e)
    return f"({text})" if _prec(e) < min_prec else text


def _text(t: A.Text) -> str:
    zh = quote(t.zh.raw)
    return f"{zh} / {quote(t.en.raw)}" if t.en is not None else zh


def _in_force(f: A.InForce) -> str:
    until = f" until {f.until.isoformat()}" if f.until else ""
    return f"in force from {f.start.isoformat()}{until}"


__all__ = ["CLAUSE_ORDER", "WIDTH", "FormatError", "format_source", "width"]
