"""The Lark LALR parser of `grammar.lark`, built once; comments collected as a parse goes."""

from __future__ import annotations

from contextvars import ContextVar
from functools import lru_cache
from importlib import resources

from lark import Lark, Token

from . import ast as A

# Comments are collected by a lexer callback into the list of the parse in progress
# (a context variable, so concurrent parses in threads do not mix their comments).
COMMENTS: ContextVar[list | None] = ContextVar("qinqing_policy_comments", default=None)


def _keep_comment(tok: Token) -> Token:
    sink = COMMENTS.get()
    if sink is not None:
        sink.append(A.Comment(tok.line or 1, tok.column or 1, str(tok)))
    return tok


@lru_cache(maxsize=1)
def lark_parser() -> Lark:
    grammar = resources.files("policy_dsl").joinpath("grammar.lark").read_text("utf-8")
    return Lark(grammar, parser="lalr", start=["start", "expr"], propagate_positions=True,
                maybe_placeholders=True, lexer_callbacks={"COMMENT": _keep_comment})
