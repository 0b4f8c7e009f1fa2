"""ECMA-262 regular expressions (JSON Schema's `pattern`) as Python ones matching the same strings.

Only a subset translates exactly: classes, the ECMA escapes, anchors, groups, lookaheads,
alternation and quantifiers. Anything else raises `Untranslatable`, and the caller declines.
"""

from __future__ import annotations

import re

__all__ = ["Untranslatable", "ecma_regex"]


class Untranslatable(ValueError):
    """A pattern without an exact Python translation."""


# ECMA-262's \s: its white space and line terminators.
_ECMA_SPACE = "\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
_CLASS_ESCAPES = {"d": "0-9", "w": "A-Za-z0-9_", "s": _ECMA_SPACE}
_ESCAPES = {
    "d": "[0-9]", "D": "[^0-9]", "w": "[A-Za-z0-9_]", "W": "[^A-Za-z0-9_]",
    "s": f"[{_ECMA_SPACE}]", "S": f"[^{_ECMA_SPACE}]", "b": "\\b", "B": "\\B",
    "t": "\\t", "n": "\\n", "r": "\\r", "f": "\\f", "v": "\\v",
}
_QUANTIFIER = re.compile(r"\{[0-9]+(,[0-9]*)?\}")
_HEX = re.compile(r"x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}")


def ecma_regex(pattern: str) -> re.Pattern[str]:
    """An ECMA-262 pattern as a Python one that matches exactly the same strings (as
    jsonschema-rs runs it), for the subset where that can be promised: literals, `^`,
    `$`, `.`, classes, `\\d \\w \\s` and their negations, `\\b`, groups, `(?:`,
    lookaheads, alternation and quantifiers. Anything else raises Untranslatable
    (the validator then decides those records)."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            esc, size = _escape(pattern, i, in_class=False)
            out.append(esc)
            i += size
        elif c == "[":
            j = i + 1
            body = ["["]
            if pattern.startswith("^", j):
                body.append("^")
                j += 1
            if pattern.startswith("]", j):
                raise Untranslatable(f"empty class in {pattern!r}")
            while j < n and pattern[j] != "]":
                d = pattern[j]
                if d == "\\":
                    esc, size = _escape(pattern, j, in_class=True)
                    body.append(esc)
                    j += size
                    continue
                if d == "[" or pattern.startswith(("&&", "--", "||", "~~"), j):
                    raise Untranslatable(f"class syntax Python reads otherwise: {pattern!r}")
                body.append(d)
                j += 1
            if j >= n:
                raise Untranslatable(f"unclosed class in {pattern!r}")
            body.append("]")
            out.append("".join(body))
            i = j + 1
        elif c == "(":
            if pattern.startswith("(?", i):
                if pattern[i + 2 : i + 3] not in (":", "=", "!"):
                    raise Untranslatable(f"group syntax in {pattern!r}")
                out.append(pattern[i : i + 3])
                i += 3
            else:
                out.append("(?:")  # no capture: no backreference can name it
                i += 1
        elif c == "{":
            m = _QUANTIFIER.match(pattern, i)
            if m is None or not out:
                raise Untranslatable(f"brace in {pattern!r}")
            out.append(m.group())
            i = m.end()
        elif c == "$":
            out.append("\\Z")
            i += 1
        elif c == ".":
            out.append("[^\\n\\r\\u2028\\u2029]")
            i += 1
        elif c in "^|)*+?":
            out.append(c)
            i += 1
        elif c in "]}":
            raise Untranslatable(f"unbalanced {c!r} in {pattern!r}")
        else:
            out.append(re.escape(c))
            i += 1
    try:
        return re.compile("".join(out), re.ASCII)
    except re.error as exc:
        raise Untranslatable(f"{pattern!r}: {exc}") from None


def _escape(pattern: str, i: int, in_class: bool) -> tuple[str, int]:
    """(Python text, characters consumed) for the escape at `pattern[i]`."""
    c = pattern[i + 1 : i + 2]
    if in_class and c in _CLASS_ESCAPES:
        return _CLASS_ESCAPES[c], 2
    if c in _ESCAPES and not (in_class and c in "bBDWS"):
        return _ESCAPES[c], 2
    m = _HEX.match(pattern, i + 1)
    if m is not None:
        return "\\" + m.group(), 1 + m.end() - (i + 1)
    if c and not c.isalnum() and c.isascii() and c != "_":
        return re.escape(c), 2
    raise Untranslatable(f"escape \\{c} in {pattern!r}")
