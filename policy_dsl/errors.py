"""Diagnostics: code, message, source span and hint, rendered Cedar/Catala style.

    rules/common/meals.qq:12:9: error[E201]: unknown field `meals.totl_cny`
       |
    12 |   when m.totl_cny > 60
       |         ^^^^^^^^^^
       = help: did you mean `total_cny`?
"""

from __future__ import annotations

import difflib
import json
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True, slots=True)
class Span:
    """A source region: 1-based line/column, end exclusive."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    @staticmethod
    def unknown(file: str = "<unknown>") -> Span:
        return Span(file, 1, 1, 1, 1)


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    message: str
    span: Span
    hint: str | None = None
    severity: str = "error"  # error | warning | note
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def to_json(self) -> dict:
        data = asdict(self)
        data["notes"] = list(self.notes)
        return data


class PolicyError(Exception):
    """Raised when policies cannot be loaded; carries every diagnostic of the run."""

    def __init__(self, diagnostics: Sequence[Diagnostic]):
        self.diagnostics = list(diagnostics)
        first = self.diagnostics[0] if self.diagnostics else None
        super().__init__(first.message if first else "policy error")


def did_you_mean(word: str, candidates: Iterable[str], *, cutoff: float = 0.6) -> str | None:
    """The closest candidate by similarity, or None."""
    matches = difflib.get_close_matches(word, sorted(set(candidates)), n=1, cutoff=cutoff)
    return matches[0] if matches else None


def hint_for(word: str, candidates: Iterable[str]) -> str | None:
    best = did_you_mean(word, candidates)
    return f"did you mean `{best}`?" if best else None


def sort_key(d: Diagnostic) -> tuple:
    return (d.span.file, d.span.line, d.span.column, d.code, d.message)


def char_width(c: str) -> int:
    """Columns a character takes in a terminal: 2 for wide (CJK, full-width), 0 for combining."""
    if unicodedata.combining(c):
        return 0
    return 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1


def _pad(text: str) -> str:
    """Blanks as wide as `text` on screen (tabs kept so the caret lines up as displayed)."""
    return "".join(c if c == "\t" else " " * char_width(c) for c in text)


def render(d: Diagnostic, sources: dict[str, str] | None = None, *, color: bool = False) -> str:
    """Render one diagnostic as text with the source line and a caret under the span.

    Columns count characters (code points); the caret is placed by display width, so it
    lines up under Chinese (East Asian wide) text too."""
    sev = d.severity
    head = f"{d.span.file}:{d.span.line}:{d.span.column}: {sev}[{d.code}]: {d.message}"
    if color:
        tint = {"error": "\x1b[1;31m", "warning": "\x1b[1;33m"}.get(sev, "\x1b[1;36m")
        head = head.replace(f"{sev}[{d.code}]", f"{tint}{sev}[{d.code}]\x1b[0m", 1)
    lines = [head]
    text = (sources or {}).get(d.span.file)
    if text is not None:
        src_lines = text.splitlines()
        if 1 <= d.span.line <= len(src_lines):
            src = src_lines[d.span.line - 1]
            num = str(d.span.line)
            pad = " " * len(num)
            start = max(0, min(d.span.column - 1, len(src)))
            if d.span.end_line == d.span.line and d.span.end_column > d.span.column:
                end = min(d.span.end_column - 1, len(src))
            elif d.span.end_line > d.span.line:
                end = len(src)  # a span over several lines: underline to the end of the first
            else:
                end = start
            width = sum(char_width(c) for c in src[start:end])
            lines.append(f"{pad} |")
            lines.append(f"{num} | {src}")
            lines.append(f"{pad} | {_pad(src[:start])}{'^' * max(1, width)}")
    for note in d.notes:
        lines.append(f"   = note: {note}")
    if d.hint:
        lines.append(f"   = help: {d.hint}")
    return "\n".join(lines)


def render_all(diags: Sequence[Diagnostic], sources: dict[str, str] | None = None,
               *, color: bool = False) -> str:
    return "\n\n".join(render(d, sources, color=color) for d in sorted(diags, key=sort_key))


def to_json(diags: Sequence[Diagnostic]) -> str:
    return json.dumps([d.to_json() for d in sorted(diags, key=sort_key)],
                      ensure_ascii=False, indent=2)
