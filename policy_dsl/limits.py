"""Bounds on what the parser accepts: file size and expression nesting, with where to point."""

from __future__ import annotations

from . import ast as A
from .errors import Diagnostic, Span

MAX_POLICY_BYTES = 2 * 1024 * 1024
MAX_NESTING = 100  # levels of an expression; later stages recurse over expressions


def too_deep(span: Span) -> Diagnostic:
    return Diagnostic("E012", "expression nested too deeply", span,
                      f"at most {MAX_NESTING} levels: give parts of it names with `define`")


def deepest_bracket(text: str, file: str) -> Span:
    """Where brackets nest deepest (outside strings and comments): the likely culprit."""
    depth = best = 0
    where = (1, 1)
    line, col = 1, 0
    in_string = in_comment = escaped = False
    for ch in text:
        col += 1
        if ch == "\n":
            line, col, in_comment, in_string = line + 1, 0, False, False
        elif in_comment:
            continue
        elif in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == "#":
            in_comment = True
        elif ch == '"':
            in_string = True
        elif ch in "([{":
            depth += 1
            if depth > best:
                best, where = depth, (line, col)
        elif ch in ")]}":
            depth -= 1
    return Span(file, where[0], where[1], where[0], where[1] + 1)


def depth(e) -> int:
    """Nesting depth of an AST expression (iterative: any depth is measured safely)."""
    best = 0
    stack = [(e, 1)]
    while stack:
        node, d = stack.pop()
        best = max(best, d)
        for f in getattr(node, "__dataclass_fields__", ()):
            if f.endswith("span"):
                continue
            child = getattr(node, f)
            kids = child if isinstance(child, tuple) else (child,)
            for k in kids:
                if hasattr(k, "__dataclass_fields__") and not isinstance(k, Span):
                    stack.append((k, d + 1))
    return best


def expressions(items) -> list:
    """The top expressions of parsed declarations (conditions, definitions, placeholders)."""
    out: list = []
    for it in items:
        if isinstance(it, A.Define):
            out.append(it.body)
        elif isinstance(it, A.Rule):
            out.extend(x for x in (it.when, it.unless) if x is not None)
            out.extend(q.cond for q in it.requires)
            out.extend(x.value for x in it.lets)
            if it.foreach is not None:
                out.append(it.foreach.coll)
            if it.window is not None:
                out.extend(it.window.keys)
            for text in (it.say, it.remedy, it.title):
                if text is not None:
                    for tpl in (text.zh, text.en):
                        if tpl is not None:
                            out.extend(p.expr for p in tpl.parts if isinstance(p, A.Placeholder))
    return out


def size(n: int) -> str:
    if n >= 1024 * 1024 and n % (1024 * 1024) == 0:
        return f"{n // (1024 * 1024)} MiB"
    if n >= 1024 and n % 1024 == 0:
        return f"{n // 1024} KiB"
    return f"{n} bytes"
