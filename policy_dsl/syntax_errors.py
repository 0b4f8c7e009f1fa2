"""Friendly syntax errors: a Lark parse failure → one diagnostic with a span and a hint."""

from __future__ import annotations

import re
from functools import lru_cache

from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from .errors import Diagnostic, Span, did_you_mean
from .grammar import lark_parser

# Full-width punctuation that Chinese input methods produce, with the ASCII it stands for.
FULL_WIDTH = {
    "，": ",", "：": ":", "“": '"', "”": '"', "（": "(", "）": ")", "＝": "=", "！": "!",
    "；": ";", "。": ".", "【": "[", "】": "]", "｛": "{", "｝": "}", "＜": "<", "＞": ">",
    "‘": "'", "’": "'", "、": ",",
}



# ---- friendly syntax errors --------------------------------------------------------
# A syntax error is named in three steps: characters the lexer rejects (full-width
# punctuation, an unclosed string, `&&`, Chinese words outside quotes); parser states
# recognised from example mistakes (Lark's `match_examples`); then the tokens the parser
# expected at that point.

CLAUSE_WORDS = ("severity", "cite", "basis", "in force", "judges", "let", "for each", "window", "when", "unless",
                "require", "overrides", "covers", "say", "remedy", "outcome")
_EXPR_START = {"NAME", "SOME", "ALL", "NOT", "LPAR", "NUMBER", "PARAM", "DATE", "STRING", "TRUE",
               "FALSE", "MINUS", "COUNT", "SUM", "LSQB", "IF", "DURATION", "RULE_ID", "RECORDS"}
_CHAR_HINTS = {
    "&": "write `and` to combine conditions",
    "|": "write `or` to combine conditions",
    "!": "write `not` to negate a condition, or `!=` for \"not equal\"",
    "'": "strings are written in double quotes: \"text\"",
    ";": "clauses need no separator: start the next clause with its keyword",
    "\\": "a backslash is only allowed inside a string",
}

# Example mistakes, by the name of the error they show (see Lark's examples/advanced/
# error_reporting_lalr.py). A failing parse in the same parser state gets that name. Each
# example is tried as the file's first declaration and after another one (the parser
# state includes the depth of its stack, which differs).
_EXAMPLE_BODIES: dict[str, list[str]] = {
    "rule_id": ['forbid "t"', 'permit p3 "t"', 'boundary "t"', 'tolerance "t"', "forbid severity"],
    "rule_title": ["forbid N1 severity high", "permit P1 when x", "boundary B1 cite",
                   "forbid N1 / \"t\""],
    "pack_name": ['policy "t"', "policy version"],
    "pack_title": ["policy a.b version", "policy a.b applies", "policy a.b forbid"],
}
_EXAMPLES: dict[str, list[str]] = {
    name: [pre + body for pre in ("", 'policy a.b "t"\n') for body in bodies]
    for name, bodies in _EXAMPLE_BODIES.items()
}
# Expected-token sets that name an error on their own.
_BY_EXPECTED: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"SEVERITY"}), "severity_value"),
    (frozenset({"OUTCOME"}), "outcome_value"),
    (frozenset({"LBRACE"}), "set_braces"),
    (frozenset({"KNOWN", "MISSING"}), "is_what"),
    (frozenset({"IN"}), "foreach_in"),
    (frozenset({"EACH"}), "foreach_in"),
)
_NAMED: dict[str, tuple[str, str, str | None]] = {
    # name: (code, message, hint); `{tok}` is the token found
    "rule_id": ("E001", "expected a rule id such as `N1`, found `{tok}`",
                "rule ids start with a capital letter and contain a number: N1, P3, B11, XXT2"),
    "rule_title": ("E001", "expected the rule's title in quotes, found `{tok}`",
                   'write the title after the id: `forbid N1 "中文标题" / "English title"`'),
    "pack_name": ("E001", "expected the pack's name, found `{tok}`",
                  'write `policy city.list "中文名" / "English name"`'),
    "pack_title": ("E001", "expected the pack's title in quotes, found `{tok}`",
                   'write `policy city.list "中文名" / "English name"`'),
    "severity_value": ("E001", "`{tok}` is not a severity",
                       "write one of: critical, high, medium, low (without quotes)"),
    "outcome_value": ("E001", "`{tok}` is not an outcome a rule can yield",
                      "write `outcome review` (or `outcome violation`, the default)"),
    "require_else": ("E001", "`require` needs `else` and the boundary it breaches, found `{tok}`",
                     "write `require <condition> else B1`"),
    "else_target": ("E001", "expected a boundary id after `else`, found `{tok}`",
                    "write `else B1`: the id of a `boundary` rule"),
    "foreach_in": ("E001", "`for each` is written `for each x in list`, found `{tok}`",
                   "write e.g. `for each m in meals`"),
    "set_braces": ("E001", "a set of values is written in braces, found `{tok}`",
                   "write `x in {a, b}`"),
    "is_what": ("E001", "`is` is followed by `known` or `missing`, found `{tok}`",
                "write `x is missing` (or `x is known`); compare values with `==`"),
}


def _end_position(text: str) -> tuple[int, int]:
    """Line and column just after the last non-blank character (comments count as blank)."""
    lines = text.splitlines() or [""]
    for n in range(len(lines), 0, -1):
        stripped = re.sub(r"#[^\n]*$", "", lines[n - 1]).rstrip()
        if stripped:
            return n, len(stripped) + 1
    return 1, 1


def _last_word(text: str, words: tuple[str, ...]) -> str | None:
    """Which of `words` occurs last (as a whole word) in `text`."""
    best, pos = None, -1
    for w in words:
        for m in re.finditer(rf"\b{w}\b", text):
            if m.start() > pos:
                best, pos = w, m.start()
    return best


def _named(exc: UnexpectedInput, start: str) -> str | None:
    if start != "start" or getattr(exc, "state", None) is None:
        return None

    def parse_fn(example: str):
        return lark_parser().parse(example, start="start")
    try:
        return exc.match_examples(parse_fn, _EXAMPLES, use_accepts=True)
    except (AssertionError, AttributeError, TypeError, UnexpectedInput):
        return None  # a parser state without example support


def friendly(exc: UnexpectedInput, text: str, file: str, *, expression: bool = False) -> Diagnostic:
    line, col = exc.line, exc.column
    is_eof = isinstance(exc, UnexpectedEOF) or (
        isinstance(exc, UnexpectedToken) and exc.token.type == "$END")
    if is_eof or line in (None, -1) or col in (None, -1):
        line, col = _end_position(text)
    span = Span(file, line, col, line, col + 1)
    if isinstance(exc, UnexpectedCharacters):
        return _bad_character(exc, text, file, line, col)
    if is_eof:
        at_end = sorted(getattr(exc, "expected", None) or getattr(exc, "accepts", None) or [])
        if expression:
            desc = _describe(at_end) if at_end else "an expression"
            return Diagnostic("E006", "the expression ends too early", span,
                              "complete the expression" +
                              (f"; expected {desc}" if desc != "an expression" else ""))
        return Diagnostic("E006", "unexpected end of file", span,
                          "the last rule or expression is incomplete" +
                          (f"; expected {_describe(at_end)}" if at_end else ""))
    assert isinstance(exc, UnexpectedToken)
    tok = exc.token
    tline, tcol = tok.line or line, tok.column or col
    span = Span(file, tline, tcol, tok.end_line or tline, tok.end_column or tcol + max(1, len(str(tok))))
    expected: set[str] = set(exc.accepts or exc.expected or [])
    if tok.type == "EQUAL" or str(tok) == "=":
        return Diagnostic("E003", "`=` is not a comparison", span, "write `==` to compare values")
    name = _named(exc, "expr" if expression else "start")
    if name is None:
        name = next((n for exp, n in _BY_EXPECTED if expected == exp), None)
    if name is not None:
        code, msg, hint = _NAMED[name]
        return Diagnostic(code, msg.format(tok=tok), span, hint)
    before = text[:tok.start_pos] if tok.start_pos is not None else ""
    if "ELSE" in expected and _last_word(before, ("require", "if")) == "require":
        code, msg, hint = _NAMED["require_else"]
        return Diagnostic(code, msg.format(tok=tok), span, hint)
    if expected == {"RULE_ID"} and _last_word(before, ("else",)) == "else":
        code, msg, hint = _NAMED["else_target"]
        return Diagnostic(code, msg.format(tok=tok), span, hint)
    if "COLON" in expected and _last_word(before, ("some", "all", "sum")) in ("some", "all"):
        return Diagnostic("E001", f"expected `:` before the condition, found `{tok}`", span,
                          "write `some x in list: condition` (or `all x in list: …`)")
    if not expression and "WHEN" in expected and "REQUIRE" in expected:
        # Inside a rule, where a clause keyword may come next.
        if tok.type == "NAME":
            best = did_you_mean(str(tok), [w.split()[0] for w in CLAUSE_WORDS] + ["policy", "import",
                                                                                  "define"])
            if best is not None and best != str(tok):
                return Diagnostic("E001", f"unknown clause `{tok}`", span, f"did you mean `{best}`?")
        if tok.type in _EXPR_START:
            return Diagnostic("E005", f"expected a clause keyword, found `{tok}`", span,
                              "did you forget `when` before the condition?")
        return Diagnostic("E001", f"unexpected `{tok}`: expected a clause keyword", span,
                          f"clauses are: {', '.join(CLAUSE_WORDS)}")
    if expression and tok.type not in ("$END",):
        return Diagnostic("E001", f"unexpected `{tok}` in the expression", span,
                          f"expected {_describe(sorted(expected))}" if expected else None)
    return Diagnostic("E001", f"unexpected `{tok}`", span,
                      f"expected {_describe(sorted(expected))}" if expected else None)


def _bad_character(exc: UnexpectedCharacters, text: str, file: str, line: int, col: int) -> Diagnostic:
    span = Span(file, line, col, line, col + 1)
    pos = exc.pos_in_stream or 0
    ch = text[pos] if pos < len(text) else ""
    if ch in FULL_WIDTH:
        return Diagnostic("E004", f"full-width character `{ch}` is not allowed here", span,
                          f"replace `{ch}` with the ASCII `{FULL_WIDTH[ch]}` (switch the input "
                          "method to half-width); Chinese text belongs inside \"quotes\"")
    if ch == '"':
        end = text.find("\n", pos)
        end_col = col + ((end if end >= 0 else len(text)) - pos)
        return Diagnostic("E002", "unclosed string", Span(file, line, col, line, max(end_col, col + 1)),
                          'close the string with `"` on the same line')
    if ch == "=":
        return Diagnostic("E003", "`=` is not a comparison", span, "write `==` to compare values")
    if ch in _CHAR_HINTS:
        return Diagnostic("E007", f"unexpected character `{ch}`", span, _CHAR_HINTS[ch])
    if ch.isalpha() and not ch.isascii():
        # A run of non-ASCII letters: Chinese written where a name or keyword belongs.
        j = pos
        while j < len(text) and text[j].isalpha() and not text[j].isascii():
            j += 1
        word = text[pos:j]
        return Diagnostic("E007", f"unexpected text `{word}` outside quotes",
                          Span(file, line, col, line, col + len(word)),
                          "names and keywords are English (`m.total_cny`); Chinese text belongs "
                          "inside \"quotes\"")
    if ch.isupper():
        m = re.match(r"[A-Za-z_]\w*", text[pos:])
        word = m.group(0) if m else ch
        hint = ("write `true`/`false` in lower case" if word.lower() in ("true", "false") else
                "names start with a lower-case letter; rule ids are a capital and a number (N1)")
        return Diagnostic("E007", f"unexpected `{word}`", Span(file, line, col, line, col + len(word)),
                          hint)
    shown = ch if ch.isprintable() and ch.strip() else f"U+{ord(ch):04X}" if ch else "end of file"
    return Diagnostic("E007", f"unexpected character `{shown}`", span,
                      "check for a stray symbol or a missing quote")


_TERMINAL_WORDS = {
    "STRING": "a \"string\"", "NAME": "a name", "RULE_ID": "a rule id such as N1", "NUMBER": "a number",
    "DATE": "a date (YYYY-MM-DD)", "COMP_OP": "a comparison", "SEVERITY": "critical|high|medium|low",
    "DURATION": "a duration (30 days)", "RULE_KIND": "forbid|permit|boundary|tolerance",
    "OUTCOME": "violation|review", "BASIS": "sourced|inferred", "ADD_OP": "`+` or `-`",
    "MUL_OP": "`*`, `/` or `%`", "$END": "the end of the file",
}


@lru_cache(maxsize=1)
def _literal_terminals() -> dict[str, str]:
    """Terminal name → its literal text, for keywords and punctuation (`WHEN` → `when`)."""
    out = {}
    for t in lark_parser().terminals:
        if type(t.pattern).__name__ == "PatternStr":
            out[t.name] = t.pattern.value
    return out


def _describe(expected: list[str]) -> str:
    literals = _literal_terminals()
    words = []
    if {"NAME", "NUMBER"} <= set(expected):
        # Where any expression may start, say so instead of listing its first tokens.
        words.append("an expression")
        expected = [e for e in expected if e not in _EXPR_START]
    for e in expected:
        if e in _TERMINAL_WORDS:
            words.append(_TERMINAL_WORDS[e])
        elif e in literals:
            words.append(f"`{literals[e]}`")
    words = sorted(set(words))
    if len(words) > 8:
        words = words[:8] + ["…"]
    return ", ".join(words) if words else "something else"
