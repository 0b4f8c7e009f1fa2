"""Text → AST. Lark LALR parser with positions, plus friendly parse errors."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from functools import lru_cache
from importlib import resources

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from . import ast as A
from .errors import Diagnostic, Span

MAX_POLICY_BYTES = 2 * 1024 * 1024

# Full-width punctuation that Chinese input methods produce, with the ASCII it stands for.
FULL_WIDTH = {
    "，": ",", "：": ":", "“": '"', "”": '"', "（": "(", "）": ")", "＝": "=", "！": "!",
    "；": ";", "。": ".", "【": "[", "】": "]", "｛": "{", "｝": "}", "＜": "<", "＞": ">",
    "‘": "'", "’": "'", "、": ",",
}


@lru_cache(maxsize=1)
def _lark() -> Lark:
    grammar = resources.files("policy_dsl").joinpath("grammar.lark").read_text("utf-8")
    return Lark(grammar, parser="lalr", start=["start", "expr"], propagate_positions=True,
                maybe_placeholders=True)


def _span(file: str, meta) -> Span:
    return Span(file, meta.line, meta.column, meta.end_line, meta.end_column)


def _tok_span(file: str, tok: Token) -> Span:
    return Span(file, tok.line, tok.column, tok.end_line or tok.line,
                tok.end_column or tok.column + len(tok))


def unquote(tok: str) -> str:
    body = tok[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


class _ParseFailure(Exception):
    def __init__(self, diag: Diagnostic):
        self.diag = diag


@v_args(meta=True)
class _ToAst(Transformer):
    def __init__(self, file: str, line_offset: int = 0, col_offset: int = 0):
        super().__init__()
        self.file = file
        self.line_offset = line_offset
        self.col_offset = col_offset

    # Positions: placeholders are parsed out of strings and shifted to their place in the file.
    def s(self, meta) -> Span:
        sp = _span(self.file, meta)
        return self._shift(sp)

    def t(self, tok: Token) -> Span:
        return self._shift(_tok_span(self.file, tok))

    def _shift(self, sp: Span) -> Span:
        if not self.line_offset and not self.col_offset:
            return sp
        return Span(sp.file, sp.line + self.line_offset, sp.column + self.col_offset,
                    sp.end_line + self.line_offset, sp.end_column + self.col_offset)

    # ---- literals
    def number(self, meta, ch):
        text = str(ch[0])
        return A.Num(Decimal(text) if "." in text else int(text), self.s(meta))

    def string(self, meta, ch):
        return A.Str(unquote(ch[0]), self.s(meta))

    def true(self, meta, ch):
        return A.Bool(True, self.s(meta))

    def false(self, meta, ch):
        return A.Bool(False, self.s(meta))

    def date(self, meta, ch):
        try:
            value = dt.date.fromisoformat(str(ch[0]))
        except ValueError:
            raise _ParseFailure(Diagnostic("E008", f"invalid date `{ch[0]}`", self.s(meta),
                                           "dates are written YYYY-MM-DD and must exist in the calendar"))
        return A.DateLit(value, self.s(meta))

    def duration(self, meta, ch):
        m = re.match(r"(\d+)\s*([a-z]+)", str(ch[0]))
        unit = m.group(2)
        if not unit.endswith("s"):
            unit += "s"
        return A.DurationLit(int(m.group(1)), unit, self.s(meta))

    def name(self, meta, ch):
        return A.Name(str(ch[0]), self.s(meta))

    def param(self, meta, ch):
        return A.Param(str(ch[0]), self.s(meta))

    def attr(self, meta, ch):
        return A.Attr(ch[0], str(ch[1]), self.s(meta), self.t(ch[1]))

    def index(self, meta, ch):
        return A.Index(ch[0], ch[1], self.s(meta))

    def call(self, meta, ch):
        args = tuple(a for a in ch[1:] if a is not None)
        return A.Call(str(ch[0]), args, self.s(meta), self.t(ch[0]))

    def count(self, meta, ch):
        return A.Aggregate("count", str(ch[0]), ch[1], ch[2], None, self.s(meta))

    def total(self, meta, ch):
        return A.Aggregate("sum", str(ch[0]), ch[1], ch[2], ch[3], self.s(meta))

    def list_lit(self, meta, ch):
        return A.ListLit(tuple(c for c in ch if c is not None), self.s(meta))

    def set_lit(self, meta, ch):
        return tuple(c for c in ch if c is not None)

    # ---- operators
    def some(self, meta, ch):
        return A.Quant("some", str(ch[0]), ch[1], ch[2], self.s(meta))

    def every(self, meta, ch):
        return A.Quant("all", str(ch[1]), ch[2], ch[3], self.s(meta))

    def if_expr(self, meta, ch):
        return A.If(ch[0], ch[1], ch[2], self.s(meta))

    def or_(self, meta, ch):
        return ch[0] if len(ch) == 1 else A.BoolOp("or", tuple(ch), self.s(meta))

    def and_(self, meta, ch):
        return ch[0] if len(ch) == 1 else A.BoolOp("and", tuple(ch), self.s(meta))

    def not_(self, meta, ch):
        return A.Not(ch[0], self.s(meta))

    def neg(self, meta, ch):
        return A.Neg(ch[0], self.s(meta))

    def compare(self, meta, ch):
        return A.Compare(str(ch[1]), ch[0], ch[2], self.s(meta))

    def member(self, meta, ch):
        return A.Member(ch[0], ch[1], False, self.s(meta))

    def not_member(self, meta, ch):
        return A.Member(ch[0], ch[1], True, self.s(meta))

    def is_known(self, meta, ch):
        return A.IsKnown(ch[0], False, self.s(meta))

    def is_missing(self, meta, ch):
        return A.IsKnown(ch[0], True, self.s(meta))

    def arith(self, meta, ch):
        left = ch[0]
        for i in range(1, len(ch), 2):
            right = ch[i + 1]
            sp = Span(left.span.file, left.span.line, left.span.column,
                      right.span.end_line, right.span.end_column)
            left = A.Arith(str(ch[i]), left, right, sp)
        return left

    # ---- text
    def title(self, meta, ch):
        return self._text(meta, ch)

    def text(self, meta, ch):
        return self._text(meta, ch)

    def _text(self, meta, ch):
        zh = self._template(ch[0])
        en = self._template(ch[1]) if len(ch) > 1 and ch[1] is not None else None
        return A.Text(zh, en, self.s(meta))

    def _template(self, tok: Token) -> A.Template:
        return parse_template(unquote(tok), tok, self.file)

    # ---- declarations
    def dotted(self, meta, ch):
        return ".".join(str(c) for c in ch)

    def policy_decl(self, meta, ch):
        name, title, *clauses = ch
        kw: dict = {"version": None, "source": None, "in_force": None, "applies_to": None}
        for key, value in clauses:
            kw[key] = value
        return A.Policy(name, title, span=self.s(meta), **kw)

    def version_clause(self, meta, ch):
        return ("version", unquote(ch[0]))

    def source_clause(self, meta, ch):
        return ("source", unquote(ch[0]))

    def applies_clause(self, meta, ch):
        return ("applies_to", ch[0])

    def applies_target(self, meta, ch):
        return tuple(unquote(c) for c in ch)

    def applies_all(self, meta, ch):
        return None

    def force_clause(self, meta, ch):
        try:
            start = dt.date.fromisoformat(str(ch[0]))
            until = dt.date.fromisoformat(str(ch[1])) if ch[1] is not None else None
        except ValueError as exc:
            raise _ParseFailure(Diagnostic("E008", f"invalid date in `in force`: {exc}", self.s(meta),
                                           "dates are written YYYY-MM-DD and must exist in the calendar"))
        return ("in_force", A.InForce(start, until, self.s(meta)))

    def import_decl(self, meta, ch):
        return A.Import(ch[0], self.s(meta))

    def define_decl(self, meta, ch):
        params = ch[1]
        return A.Define(str(ch[0]), params, ch[2], self.s(meta))

    def params(self, meta, ch):
        return tuple(str(c) for c in ch if c is not None)

    def severity_clause(self, meta, ch):
        return ("severity", str(ch[0]), self.s(meta))

    def cite_clause(self, meta, ch):
        return ("cite", unquote(ch[0]), self.s(meta))

    def basis_clause(self, meta, ch):
        return ("basis", (str(ch[0]), unquote(ch[1]) if ch[1] is not None else None), self.s(meta))

    def foreach_clause(self, meta, ch):
        return ("foreach", A.ForEach(str(ch[0]), ch[1], self.s(meta)), self.s(meta))

    def window_clause(self, meta, ch):
        return ("window", A.Window(tuple(ch[:-1]), ch[-1], self.s(meta)), self.s(meta))

    def when_clause(self, meta, ch):
        return ("when", ch[0], self.s(meta))

    def unless_clause(self, meta, ch):
        return ("unless", ch[0], self.s(meta))

    def require_clause(self, meta, ch):
        req = A.Require(ch[0], str(ch[1]), str(ch[2]) if ch[2] is not None else None,
                        self.s(meta), self.t(ch[1]))
        return ("require", req, self.s(meta))

    def overrides_clause(self, meta, ch):
        return ("overrides", tuple(A.RuleRef(str(c), self.t(c)) for c in ch), self.s(meta))

    def covers_clause(self, meta, ch):
        return ("covers", tuple(A.RuleRef(str(c), self.t(c)) for c in ch), self.s(meta))

    def covers_all(self, meta, ch):
        refs = tuple(A.RuleRef(str(c), self.t(c)) for c in ch[1:] if c is not None)
        return ("covers_all", refs, self.s(meta))

    def say_clause(self, meta, ch):
        return ("say", ch[0], self.s(meta))

    def remedy_clause(self, meta, ch):
        return ("remedy", ch[0], self.s(meta))

    def outcome_clause(self, meta, ch):
        return ("outcome", str(ch[0]), self.s(meta))

    def rule_decl(self, meta, ch):
        kind, rid, title, *clauses = ch
        kw: dict = {}
        spans: dict = {}
        requires: list[A.Require] = []
        dups: list[Diagnostic] = []
        for key, value, span in clauses:
            if key == "require":
                requires.append(value)
                continue
            if key in spans:
                dups.append(Diagnostic("E105", f"`{_CLAUSE_WORD.get(key, key)}` given twice in rule {rid}",
                                       span, "keep one; a rule has at most one of each clause "
                                       "except `require`"))
                continue
            spans[key] = span
            if key == "basis":
                kw["basis"], kw["basis_refs"] = value
            elif key == "covers_all":
                kw["covers"] = None
                kw["covers_except"] = value
                spans["covers"] = span
                kw["_covers_all"] = True
            else:
                kw[key] = value
        covers_all = kw.pop("_covers_all", False)
        if not covers_all and "covers" not in kw:
            kw["covers"] = ()
        rule = A.Rule(str(kind), str(rid), title, self.s(meta), self.t(rid),
                      requires=tuple(requires), clause_spans=spans, **kw)
        if dups:
            self.dups.extend(dups)
        return rule

    dups: list


_CLAUSE_WORD = {"foreach": "for each", "in_force": "in force", "covers_all": "covers"}


def parse_template(text: str, tok: Token | None, file: str) -> A.Template:
    """Split a message into literal text and `{expression}` placeholders (`{{`/`}}` escape)."""
    parts: list[str | A.Placeholder] = []
    line = tok.line if tok is not None else 1
    col = (tok.column + 1) if tok is not None else 1  # +1 for the opening quote
    span = Span(file, line, col - 1, tok.end_line or line, tok.end_column or col) if tok is not None \
        else Span(file, 1, 1, 1, 1)
    buf = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "{" and text.startswith("{{", i):
            buf.append("{")
            i += 2
            continue
        if c == "}" and text.startswith("}}", i):
            buf.append("}")
            i += 2
            continue
        if c == "{":
            end = text.find("}", i)
            pspan = Span(file, line, col + i, line, col + (end + 1 if end >= 0 else len(text)))
            if end < 0:
                raise _ParseFailure(Diagnostic("E010", "unclosed `{` in message", pspan,
                                               "close the placeholder with `}` or write `{{` for a literal brace"))
            if buf:
                parts.append("".join(buf))
                buf = []
            source = text[i + 1:end]
            parts.append(A.Placeholder(parse_expression(source, file, line - 1, col + i), source, pspan))
            i = end + 1
            continue
        buf.append(c)
        i += 1
    if buf:
        parts.append("".join(buf))
    return A.Template(tuple(parts), text, span)


def parse_expression(source: str, file: str = "<expr>", line_offset: int = 0,
                     col_offset: int = 0) -> A.Expr:
    try:
        tree = _lark().parse(source, start="expr")
    except UnexpectedInput as exc:
        diag = _friendly(exc, source, file)
        sp = diag.span
        raise _ParseFailure(Diagnostic(
            "E011", f"invalid placeholder `{{{source}}}`: {diag.message}",
            Span(file, sp.line + line_offset, sp.column + col_offset, sp.end_line + line_offset,
                 sp.end_column + col_offset), diag.hint))
    tr = _ToAst(file, line_offset, col_offset)
    tr.dups = []
    try:
        return tr.transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, _ParseFailure):
            raise exc.orig_exc
        raise


def parse(text: str, file: str = "<policy>") -> tuple[A.PolicyFile | None, list[Diagnostic]]:
    """Parse one policy file. Returns the AST (None on a syntax error) and diagnostics."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_POLICY_BYTES:
        return None, [Diagnostic("E009", f"policy file larger than {MAX_POLICY_BYTES // 1024} KiB",
                                 Span(file, 1, 1, 1, 1), "split the pack into several files")]
    comments: list[A.Comment] = []

    def keep_comment(tok: Token) -> Token:
        comments.append(A.Comment(tok.line, tok.column, str(tok)))
        return tok

    try:
        parser = _lark()
        parser.lexer_conf.callbacks["COMMENT"] = keep_comment
        try:
            tree = parser.parse(text, start="start")
        finally:
            parser.lexer_conf.callbacks.pop("COMMENT", None)
    except UnexpectedInput as exc:
        return None, [_friendly(exc, text, file)]
    tr = _ToAst(file)
    tr.dups = []
    try:
        items = tr.transform(tree).children
    except VisitError as exc:
        if isinstance(exc.orig_exc, _ParseFailure):
            return None, [exc.orig_exc.diag]
        raise
    except _ParseFailure as exc:
        return None, [exc.diag]
    diags = list(tr.dups)
    policy = None
    for it in items:
        if isinstance(it, A.Policy):
            if policy is not None:
                diags.append(Diagnostic("E110", "a file declares at most one `policy`", it.span,
                                        "put the second policy in a file of its own"))
            else:
                policy = it
    pf = A.PolicyFile(
        path=file,
        policy=policy,
        imports=tuple(i for i in items if isinstance(i, A.Import)),
        defines=tuple(i for i in items if isinstance(i, A.Define)),
        rules=tuple(i for i in items if isinstance(i, A.Rule)),
        comments=tuple(comments),
        items=tuple(items),
    )
    return pf, diags


# ---- friendly syntax errors --------------------------------------------------------
_CLAUSE_KEYWORDS = {"SEVERITY", "severity", "cite", "basis", "in", "for", "window", "when", "unless",
                    "require", "overrides", "covers", "say", "remedy", "outcome"}
_EXPR_START = {"NAME", "SOME", "NOT", "LPAR", "NUMBER", "PARAM"}


def _friendly(exc: UnexpectedInput, text: str, file: str) -> Diagnostic:
    line, col = exc.line, exc.column
    if line in (None, -1) or col in (None, -1):  # end of input
        lines = text.splitlines() or [""]
        line, col = len(lines), len(lines[-1]) + 1
    span = Span(file, line, col, line, col + 1)
    if isinstance(exc, UnexpectedCharacters):
        ch = text[exc.pos_in_stream] if exc.pos_in_stream < len(text) else ""
        if ch in FULL_WIDTH:
            return Diagnostic("E004", f"full-width character `{ch}` is not allowed here", span,
                              f"replace `{ch}` with the ASCII `{FULL_WIDTH[ch]}` (switch the input "
                              "method to half-width); Chinese text belongs inside \"quotes\"")
        if ch == '"':
            end = text.find("\n", exc.pos_in_stream)
            end_col = col + ((end if end >= 0 else len(text)) - exc.pos_in_stream)
            return Diagnostic("E002", "unclosed string", Span(file, line, col, line, end_col),
                              'close the string with `"` on the same line')
        if ch == "=":
            return Diagnostic("E003", "`=` is not a comparison", Span(file, line, col, line, col + 1),
                              "write `==` to compare values")
        return Diagnostic("E007", f"unexpected character `{ch}`", span,
                          "check for a stray symbol or a missing quote")
    if isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        expected = sorted(getattr(exc, "expected", []) or [])
        return Diagnostic("E006", "unexpected end of file", span,
                          "the last rule or expression is incomplete" +
                          (f"; expected {_describe(expected)}" if expected else ""))
    assert isinstance(exc, UnexpectedToken)
    tok = exc.token
    span = Span(file, tok.line, tok.column, tok.end_line or tok.line,
                tok.end_column or tok.column + max(1, len(str(tok))))
    expected = set(exc.expected or [])
    if tok.type == "EQUAL" or str(tok) == "=":
        return Diagnostic("E003", "`=` is not a comparison", span, "write `==` to compare values")
    if "WHEN" in expected and tok.type in _EXPR_START | {"RULE_ID"} and "REQUIRE" in expected:
        return Diagnostic("E005", f"expected a clause keyword, found `{tok}`", span,
                          "did you forget `when` before the condition?")
    return Diagnostic("E001", f"unexpected `{tok}`", span,
                      f"expected {_describe(sorted(expected))}" if expected else None)


_TERMINAL_WORDS = {
    "STRING": "a \"string\"", "NAME": "a name", "RULE_ID": "a rule id such as N1", "NUMBER": "a number",
    "DATE": "a date (YYYY-MM-DD)", "COLON": "`:`", "COMMA": "`,`", "LPAR": "`(`", "RPAR": "`)`",
    "LBRACE": "`{`", "RBRACE": "`}`", "LSQB": "`[`", "RSQB": "`]`", "DOT": "`.`", "SLASH": "`/`",
    "COMP_OP": "a comparison", "SEVERITY": "critical|high|medium|low", "DURATION": "a duration (30 days)",
    "RULE_KIND": "forbid|permit|boundary|tolerance", "OUTCOME": "violation|review",
    "BASIS": "sourced|inferred", "EQUAL": "`=`",
}


def _describe(expected: list[str]) -> str:
    words = []
    for e in expected:
        if e in _TERMINAL_WORDS:
            words.append(_TERMINAL_WORDS[e])
        elif e.isupper() and not e.startswith("__"):
            words.append(f"`{e.lower()}`")
    words = sorted(set(words))
    if len(words) > 8:
        words = words[:8] + ["…"]
    return ", ".join(words) if words else "something else"
