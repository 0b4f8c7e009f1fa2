"""Text → AST. Lark LALR parser with positions, plus friendly parse errors."""

from __future__ import annotations

import datetime as dt
import re
from contextvars import ContextVar
from decimal import Decimal
from functools import lru_cache
from importlib import resources

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)

from . import ast as A
from .errors import Diagnostic, Span, did_you_mean

MAX_POLICY_BYTES = 2 * 1024 * 1024

# Full-width punctuation that Chinese input methods produce, with the ASCII it stands for.
FULL_WIDTH = {
    "，": ",", "：": ":", "“": '"', "”": '"', "（": "(", "）": ")", "＝": "=", "！": "!",
    "；": ";", "。": ".", "【": "[", "】": "]", "｛": "{", "｝": "}", "＜": "<", "＞": ">",
    "‘": "'", "’": "'", "、": ",",
}


# Comments are collected by a lexer callback into the list of the parse in progress
# (a context variable, so concurrent parses in threads do not mix their comments).
_COMMENTS: ContextVar[list | None] = ContextVar("qinqing_policy_comments", default=None)


def _keep_comment(tok: Token) -> Token:
    sink = _COMMENTS.get()
    if sink is not None:
        sink.append(A.Comment(tok.line or 1, tok.column or 1, str(tok)))
    return tok


@lru_cache(maxsize=1)
def _lark() -> Lark:
    grammar = resources.files("policy_dsl").joinpath("grammar.lark").read_text("utf-8")
    return Lark(grammar, parser="lalr", start=["start", "expr"], propagate_positions=True,
                maybe_placeholders=True, lexer_callbacks={"COMMENT": _keep_comment})


def _span(file: str, meta) -> Span:
    return Span(file, meta.line, meta.column, meta.end_line, meta.end_column)


def _tok_span(file: str, tok: Token) -> Span:
    line, col = tok.line or 1, tok.column or 1
    return Span(file, line, col, tok.end_line or line, tok.end_column or col + len(tok))


_ESCAPES = {"n": "\n", "t": "\t"}


def unquote(tok: str) -> str:
    return _unquote_cols(tok)[0]


def _unquote_cols(tok: str) -> tuple[str, list[int]]:
    """The text of a string literal and, for each of its characters, its offset in the
    literal's body (after the opening quote), so placeholders keep their true columns."""
    body = tok[1:-1]
    out: list[str] = []
    cols: list[int] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            out.append(_ESCAPES.get(body[i + 1], body[i + 1]))
            cols.append(i)
            i += 2
            continue
        out.append(c)
        cols.append(i)
        i += 1
    cols.append(len(body))  # one past the end
    return "".join(out), cols


MAX_NESTING = 100  # levels of an expression; later stages recurse over expressions


def _too_deep(span: Span) -> Diagnostic:
    return Diagnostic("E012", "expression nested too deeply", span,
                      f"at most {MAX_NESTING} levels: give parts of it names with `define`")


def _deepest_bracket(text: str, file: str) -> Span:
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


def _depth(e) -> int:
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


def _expressions(items) -> list:
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


def _size(n: int) -> str:
    if n >= 1024 * 1024 and n % (1024 * 1024) == 0:
        return f"{n // (1024 * 1024)} MiB"
    if n >= 1024 and n % 1024 == 0:
        return f"{n // 1024} KiB"
    return f"{n} bytes"


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
        return A.DateLit(self._date_token(ch[0]), self.s(meta))

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

    def related(self, meta, ch):
        return A.Related(str(ch[0]), str(ch[1]), self.t(ch[1]), ch[2], self.s(meta))

    def member_list(self, meta, ch):
        return A.MemberList(ch[0], ch[1], False, self.s(meta))

    def not_member_list(self, meta, ch):
        return A.MemberList(ch[0], ch[1], True, self.s(meta))

    def scaled_duration(self, meta, ch):
        unit = str(ch[1])
        return A.ScaledDuration(ch[0], unit if unit.endswith("s") else unit + "s", self.s(meta))

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

    def strs(self, meta, ch):
        return list(ch)

    def _text(self, meta, ch):
        zh = self._templates(ch[0])
        en = self._templates(ch[1]) if len(ch) > 1 and ch[1] is not None else None
        return A.Text(zh, en, self.s(meta))

    def _templates(self, toks: list[Token]) -> A.Template:
        """Adjacent literals are one text: their templates joined."""
        if len(toks) == 1:
            return self._template(toks[0])
        parts: list = []
        for t in (self._template(tok) for tok in toks):
            for part in t.parts:
                if isinstance(part, str) and parts and isinstance(parts[-1], str):
                    parts[-1] += part
                else:
                    parts.append(part)
        first, last = _tok_span(self.file, toks[0]), _tok_span(self.file, toks[-1])
        raw = "".join(unquote(str(tok)) for tok in toks)
        return A.Template(tuple(parts), raw, Span(self.file, first.line, first.column, last.end_line,
                                                  last.end_column))

    def _template(self, tok: Token) -> A.Template:
        text, cols = _unquote_cols(str(tok))
        try:
            return parse_template(text, tok, self.file, cols)
        except _ParseFailure as exc:
            # Reported; the message is kept as plain text so checking can go on.
            self.dups.append(exc.diag)
            return A.Template((text,), text, _tok_span(self.file, tok))

    # ---- declarations
    def dotted(self, meta, ch):
        return ".".join(str(c) for c in ch)

    def policy_decl(self, meta, ch):
        name, title, *clauses = ch
        kw: dict = {"version": None, "source": None, "in_force": None, "applies_to": None, "judges": None}
        seen: set[str] = set()
        for key, value, span in clauses:
            if key in seen:
                self.dups.append(Diagnostic(
                    "E105", f"`{_CLAUSE_WORD.get(key, key)}` given twice in policy {name}", span,
                    "keep one; a pack header has at most one of each clause"))
                continue
            seen.add(key)
            kw[key] = value
        return A.Policy(name, title, span=self.s(meta), **kw)

    def version_clause(self, meta, ch):
        return ("version", unquote(ch[0]), self.s(meta))

    def source_clause(self, meta, ch):
        return ("source", _joined(ch[0]), self.s(meta))

    def judges_clause(self, meta, ch):
        return ("judges", tuple(A.KindRef(str(c), self.t(c)) for c in ch), self.s(meta))

    def let_clause(self, meta, ch):
        return ("let", A.Let(str(ch[0]), ch[1], self.s(meta), self.t(ch[0])), self.s(meta))

    def applies_clause(self, meta, ch):
        return ("applies_to", ch[0], self.s(meta))

    def applies_target(self, meta, ch):
        return tuple(unquote(c) for c in ch)

    def applies_all(self, meta, ch):
        return None

    def force_clause(self, meta, ch):
        start = self._date_token(ch[0])
        until = self._date_token(ch[1]) if ch[1] is not None else None
        if until is not None and until <= start and start != dt.date(1, 1, 1):
            self.dups.append(Diagnostic("E008", f"`until {until}` is not after `from {start}`",
                                           self.t(ch[1]), "`until` is exclusive: the first day no "
                                           "longer in force, after the `from` date"))
            until = None
        return ("in_force", A.InForce(start, until, self.s(meta)), self.s(meta))

    def _date_token(self, tok: Token) -> dt.date:
        try:
            return dt.date.fromisoformat(str(tok))
        except ValueError:
            # Reported, and parsing goes on (with a stand-in date) to find further errors.
            self.dups.append(Diagnostic("E008", f"invalid date `{tok}`", self.t(tok),
                                        "dates are written YYYY-MM-DD and must exist in the calendar"))
            return dt.date(1, 1, 1)

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
        return ("cite", _joined(ch[0]), self.s(meta))

    def basis_clause(self, meta, ch):
        return ("basis", (str(ch[0]), unquote(ch[1]) if ch[1] is not None else None), self.s(meta))

    def foreach_clause(self, meta, ch):
        return ("foreach", A.ForEach(str(ch[0]), ch[1], self.s(meta)), self.s(meta))

    def width_param(self, meta, ch):
        unit = str(ch[1]) if ch[1] is not None else None
        if unit is not None and not unit.endswith("s"):
            unit += "s"
        return A.WidthParam(str(ch[0]), unit, self.s(meta))

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
        lets: list[A.Let] = []
        dups: list[Diagnostic] = []
        for key, value, span in clauses:
            if key == "require":
                requires.append(value)
                continue
            if key == "let":
                lets.append(value)
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
                      requires=tuple(requires), lets=tuple(lets), clause_spans=spans, **kw)
        if dups:
            self.dups.extend(dups)
        return rule

    dups: list  # diagnostics found while building the AST (parsing goes on)


def _joined(toks: list[Token]) -> str:
    return "".join(unquote(str(t)) for t in toks)


_CLAUSE_WORD = {"foreach": "for each", "in_force": "in force", "covers_all": "covers",
                "applies_to": "applies to"}


def parse_template(text: str, tok: Token | None, file: str, cols: list[int] | None = None) -> A.Template:
    """Split a message into literal text and `{expression}` placeholders (`{{`/`}}` escape).

    `cols[i]` is the offset of character i of `text` in the literal's body (escapes make
    the two differ); without it the text is taken as written."""
    parts: list[str | A.Placeholder] = []
    line = (tok.line or 1) if tok is not None else 1
    col = ((tok.column or 1) + 1) if tok is not None else 1  # +1 for the opening quote
    span = Span(file, line, col - 1, tok.end_line or line, tok.end_column or col) if tok is not None \
        else Span(file, 1, 1, 1, 1)
    if cols is None:
        cols = list(range(len(text) + 1))

    def at(i: int) -> int:  # the file column of character i of the text
        return col + cols[min(i, len(text))]

    buf: list[str] = []
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
            pspan = Span(file, line, at(i), line, at(end + 1) if end >= 0 else at(len(text)))
            if end < 0:
                raise _ParseFailure(Diagnostic("E010", "unclosed `{` in message", pspan,
                                               "close the placeholder with `}` or write `{{` for a literal brace"))
            if buf:
                parts.append("".join(buf))
                buf = []
            source = text[i + 1:end]
            if not source.strip():
                raise _ParseFailure(Diagnostic("E011", "empty placeholder `{}`", pspan,
                                               "put an expression between the braces, e.g. `{m.total_cny}`, "
                                               "or write `{{}}` for literal braces"))
            parts.append(A.Placeholder(parse_expression(source, file, line - 1, at(i)), source, pspan))
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
        diag = _friendly(exc, source, file, expression=True)
        sp = diag.span
        raise _ParseFailure(Diagnostic(
            "E011", f"invalid placeholder `{{{source}}}`: {diag.message}",
            Span(file, sp.line + line_offset, sp.column + col_offset, sp.end_line + line_offset,
                 sp.end_column + col_offset), diag.hint))
    tr = _ToAst(file, line_offset, col_offset)
    tr.dups = []
    try:
        out = tr.transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, _ParseFailure):
            raise exc.orig_exc
        if isinstance(exc.orig_exc, RecursionError):
            raise _ParseFailure(_too_deep(Span(file, line_offset + 1, col_offset, line_offset + 1,
                                               col_offset + 1))) from None
        raise
    except RecursionError:
        raise _ParseFailure(_too_deep(Span(file, line_offset + 1, col_offset, line_offset + 1,
                                           col_offset + 1))) from None
    if tr.dups:
        raise _ParseFailure(tr.dups[0])
    return out


def parse(text: str, file: str = "<policy>") -> tuple[A.PolicyFile | None, list[Diagnostic]]:
    """Parse one policy file. Returns the AST (None on a syntax error) and diagnostics."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_POLICY_BYTES:
        return None, [Diagnostic("E009", f"policy file larger than {_size(MAX_POLICY_BYTES)}",
                                 Span(file, 1, 1, 1, 1), "split the pack into several files")]
    comments: list[A.Comment] = []
    token = _COMMENTS.set(comments)
    try:
        tree = _lark().parse(text, start="start")
    except UnexpectedInput as exc:
        return None, [_friendly(exc, text, file)]
    finally:
        _COMMENTS.reset(token)
    tr = _ToAst(file)
    tr.dups = []
    try:
        items = tr.transform(tree).children
    except VisitError as exc:
        if isinstance(exc.orig_exc, _ParseFailure):
            return None, [exc.orig_exc.diag]
        if isinstance(exc.orig_exc, RecursionError):
            return None, [_too_deep(_deepest_bracket(text, file))]
        raise
    except _ParseFailure as exc:
        return None, [exc.diag]
    except RecursionError:
        return None, [_too_deep(_deepest_bracket(text, file))]
    deep = [e for e in _expressions(items) if _depth(e) > MAX_NESTING]
    if deep:
        return None, [_too_deep(e.span) for e in deep]
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
        return _lark().parse(example, start="start")
    try:
        return exc.match_examples(parse_fn, _EXAMPLES, use_accepts=True)
    except (AssertionError, AttributeError, TypeError, UnexpectedInput):
        return None  # a parser state without example support


def _friendly(exc: UnexpectedInput, text: str, file: str, *, expression: bool = False) -> Diagnostic:
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
    for t in _lark().terminals:
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
