"""Text → AST: the Lark parse tree transformed into AST nodes with their spans (syntax errors: `syntax_errors.py`)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from lark import Token, Transformer, v_args
from lark.exceptions import (
    UnexpectedInput,
    VisitError,
)

from . import ast as A
from .errors import Diagnostic, Span
from .grammar import COMMENTS, lark_parser
from .limits import (
    MAX_NESTING,
    MAX_POLICY_BYTES,
    deepest_bracket,
    depth,
    expressions,
    size,
    too_deep,
)
from .syntax_errors import friendly


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
        return ("let", A.Let(str(ch[0]), ch[2], self.s(meta), self.t(ch[0]), ch[1]), self.s(meta))

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
        return A.Define(str(ch[0]), params, ch[3], self.s(meta), ch[2])

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
        tree = lark_parser().parse(source, start="expr")
    except UnexpectedInput as exc:
        diag = friendly(exc, source, file, expression=True)
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
            raise _ParseFailure(too_deep(Span(file, line_offset + 1, col_offset, line_offset + 1,
                                               col_offset + 1))) from None
        raise
    except RecursionError:
        raise _ParseFailure(too_deep(Span(file, line_offset + 1, col_offset, line_offset + 1,
                                           col_offset + 1))) from None
    if tr.dups:
        raise _ParseFailure(tr.dups[0])
    return out


def parse(text: str, file: str = "<policy>") -> tuple[A.PolicyFile | None, list[Diagnostic]]:
    """Parse one policy file. Returns the AST (None on a syntax error) and diagnostics."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_POLICY_BYTES:
        return None, [Diagnostic("E009", f"policy file larger than {size(MAX_POLICY_BYTES)}",
                                 Span(file, 1, 1, 1, 1), "split the pack into several files")]
    comments: list[A.Comment] = []
    token = COMMENTS.set(comments)
    try:
        tree = lark_parser().parse(text, start="start")
    except UnexpectedInput as exc:
        return None, [friendly(exc, text, file)]
    finally:
        COMMENTS.reset(token)
    tr = _ToAst(file)
    tr.dups = []
    try:
        items = tr.transform(tree).children
    except VisitError as exc:
        if isinstance(exc.orig_exc, _ParseFailure):
            return None, [exc.orig_exc.diag]
        if isinstance(exc.orig_exc, RecursionError):
            return None, [too_deep(deepest_bracket(text, file))]
        raise
    except _ParseFailure as exc:
        return None, [exc.diag]
    except RecursionError:
        return None, [too_deep(deepest_bracket(text, file))]
    deep = [e for e in expressions(items) if depth(e) > MAX_NESTING]
    if deep:
        return None, [too_deep(e.span) for e in deep]
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
