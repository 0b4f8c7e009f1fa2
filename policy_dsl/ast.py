"""The policy AST: frozen dataclasses, every node carries its source span."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from .errors import Span


# ---- expressions ------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Num:
    value: Decimal | int
    span: Span


@dataclass(frozen=True, slots=True)
class Str:
    value: str
    span: Span


@dataclass(frozen=True, slots=True)
class Bool:
    value: bool
    span: Span


@dataclass(frozen=True, slots=True)
class DateLit:
    value: dt.date
    span: Span


@dataclass(frozen=True, slots=True)
class DurationLit:
    amount: int
    unit: str  # days | weeks | months | years (normalised plural)
    span: Span


@dataclass(frozen=True, slots=True)
class Name:
    id: str
    span: Span


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class Attr:
    base: Expr
    name: str
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class Index:
    base: Expr
    index: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Call:
    fn: str
    args: tuple[Expr, ...]
    span: Span
    fn_span: Span


@dataclass(frozen=True, slots=True)
class Quant:
    """`some x in L: body`, `all x in L: body`."""

    kind: str  # some | all
    var: str
    coll: Expr
    body: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Aggregate:
    """`count(x in L where c)` and `sum(x in L where c: value)`."""

    kind: str  # count | sum
    var: str
    coll: Expr
    where: Expr | None
    value: Expr | None
    span: Span


@dataclass(frozen=True, slots=True)
class ListLit:
    items: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Member:
    item: Expr
    options: tuple[Expr, ...]
    negated: bool
    span: Span


@dataclass(frozen=True, slots=True)
class Compare:
    op: str
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Arith:
    op: str  # + - * / %
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Neg:
    operand: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class BoolOp:
    op: str  # and | or
    items: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class IsKnown:
    operand: Expr
    negated: bool  # True for `is missing`
    span: Span


@dataclass(frozen=True, slots=True)
class If:
    cond: Expr
    then: Expr
    otherwise: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class MemberList:
    """`x in L` / `x not in L` with a list (a set or table parameter, a field): membership."""

    item: Expr
    coll: Expr
    negated: bool
    span: Span


@dataclass(frozen=True, slots=True)
class ScaledDuration:
    """`n days` (also weeks, months, years) with `n` an expression: a duration."""

    amount: Expr
    unit: str  # days | weeks | months | years
    span: Span


@dataclass(frozen=True, slots=True)
class Related:
    """`records(x in KIND where condition)`: the records of another kind (or this one) that
    the run knows, related to this record by the keys `x.path == value` of the condition."""

    var: str
    kind: str
    kind_span: Span
    where: Expr
    span: Span


Expr = (Num | Str | Bool | DateLit | DurationLit | Name | Param | Attr | Index | Call | Quant |
        Aggregate | ListLit | Member | Compare | Arith | Neg | Not | BoolOp | IsKnown | If |
        MemberList | ScaledDuration | Related)


# ---- bilingual text with {placeholders} ---------------------------------------
@dataclass(frozen=True, slots=True)
class Placeholder:
    expr: Expr
    source: str  # the text between the braces
    span: Span


@dataclass(frozen=True, slots=True)
class Template:
    """A message: literal pieces and placeholders, in order."""

    parts: tuple[str | Placeholder, ...]
    raw: str
    span: Span


@dataclass(frozen=True, slots=True)
class Text:
    zh: Template
    en: Template | None
    span: Span


# ---- declarations ---------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class InForce:
    start: dt.date
    until: dt.date | None  # exclusive
    span: Span


@dataclass(frozen=True, slots=True)
class KindRef:
    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    title: Text
    version: str | None
    source: str | None
    in_force: InForce | None
    applies_to: tuple[str, ...] | None  # None = all jurisdictions
    span: Span
    judges: tuple[KindRef, ...] | None = None  # None = interaction records


@dataclass(frozen=True, slots=True)
class Import:
    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class Define:
    name: str
    params: tuple[str, ...] | None  # None: a constant/derived value, no parentheses
    body: Expr
    span: Span
    title: Text | None = None  # what readers see instead of the name (evidence, advice)


@dataclass(frozen=True, slots=True)
class ForEach:
    var: str
    coll: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class WidthParam:
    """A window width from a parameter: `within param.NAME` (a duration) or
    `within param.NAME days` (a number of days)."""

    name: str
    unit: str | None  # days | weeks, or None for a duration parameter
    span: Span


@dataclass(frozen=True, slots=True)
class Window:
    keys: tuple[Expr, ...]
    within: DurationLit | WidthParam
    span: Span


@dataclass(frozen=True, slots=True)
class Let:
    """`let name = expression`: a name for a value inside one rule."""

    name: str
    value: Expr
    span: Span
    name_span: Span
    title: Text | None = None  # what readers see instead of the name (evidence, advice)


@dataclass(frozen=True, slots=True)
class Require:
    cond: Expr
    boundary: str
    severity: str | None
    span: Span
    boundary_span: Span


@dataclass(frozen=True, slots=True)
class RuleRef:
    id: str
    span: Span


@dataclass(frozen=True, slots=True)
class Rule:
    kind: str  # forbid | permit | boundary | tolerance
    id: str
    title: Text
    span: Span
    id_span: Span
    severity: str | None = None
    cite: str | None = None
    basis: str | None = None  # sourced | inferred
    basis_refs: str | None = None
    in_force: InForce | None = None
    foreach: ForEach | None = None
    window: Window | None = None
    when: Expr | None = None
    unless: Expr | None = None
    requires: tuple[Require, ...] = ()
    overrides: tuple[RuleRef, ...] = ()
    covers: tuple[RuleRef, ...] | None = None
    covers_except: tuple[RuleRef, ...] = ()
    say: Text | None = None
    remedy: Text | None = None
    outcome: str | None = None  # violation | review (what firing yields)
    judges: tuple[KindRef, ...] | None = None  # the kind it judges (one of its pack's)
    lets: tuple[Let, ...] = ()
    clause_spans: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True, slots=True)
class Comment:
    line: int
    column: int
    text: str


@dataclass(frozen=True, slots=True)
class PolicyFile:
    path: str
    policy: Policy | None
    imports: tuple[Import, ...]
    defines: tuple[Define, ...]
    rules: tuple[Rule, ...]
    comments: tuple[Comment, ...] = ()
    items: tuple = ()  # declarations in source order (for the formatter)
