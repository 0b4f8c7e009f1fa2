"""The intermediate representation: typed, names resolved, definitions inlined.

Nothing here is backend-specific: no Python callables, only data. Unknown (an absent
fact) behaves like SQL NULL, so each node has a direct SQL reading; see docs/language.md.

Every expression node declares, once, which of its fields are sub-expressions (`CHILDREN`:
each names an expression, an optional expression or a tuple of them), and a comprehension
the variable it binds and the list it ranges over (`BINDS`). Traversal (`children`, `walk`,
`map_children`), the fields a rule reads, printing and analysis are generic over these.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from .errors import Span
from .types import T

DEFAULT_KIND = "interaction"  # the kind of a record without `record_kind`


@dataclass(frozen=True, slots=True)
class Const:
    CHILDREN: ClassVar = ()
    value: Any  # bool | int | Decimal | str | date | Duration | None
    type: T


@dataclass(frozen=True, slots=True)
class Duration:
    amount: int
    unit: str  # days | weeks | months | years

    def __str__(self) -> str:
        return f"{self.amount} {self.unit}"


@dataclass(frozen=True, slots=True)
class Calendar:
    """A working-day calendar (the value of a `calendar` parameter for one jurisdiction: its
    versions and those it inherits, merged): the days it covers (`[from, until)` spans), its
    public holidays and its make-up working days (调休上班)."""

    spans: tuple[tuple[dt.date, dt.date], ...]
    holidays: frozenset
    makeup_workdays: frozenset

    def covers(self, day: dt.date) -> bool:
        return any(a <= day < b for a, b in self.spans)

    def __str__(self) -> str:
        if not self.spans:
            return "calendar (empty)"
        return f"calendar {self.spans[0][0]}..{self.spans[-1][1]}"


@dataclass(frozen=True, slots=True)
class Field:
    CHILDREN: ClassVar = ("base",)
    base: Expr | None  # None: the record itself
    name: str
    type: T
    path: str  # schema path, e.g. "meals[].total_cny" or "official.rank"


@dataclass(frozen=True, slots=True)
class Var:
    CHILDREN: ClassVar = ()
    name: str
    type: T


@dataclass(frozen=True, slots=True)
class ParamRef:
    CHILDREN: ClassVar = ()
    name: str
    type: T


@dataclass(frozen=True, slots=True)
class WindowRef:
    """The records sharing the rule's window keys within its date range (current included)."""

    CHILDREN: ClassVar = ()
    type: T


@dataclass(frozen=True, slots=True)
class Not:
    CHILDREN: ClassVar = ("operand",)
    operand: Expr
    type: T


@dataclass(frozen=True, slots=True)
class And:
    CHILDREN: ClassVar = ("items",)
    items: tuple[Expr, ...]
    type: T


@dataclass(frozen=True, slots=True)
class Or:
    CHILDREN: ClassVar = ("items",)
    items: tuple[Expr, ...]
    type: T


@dataclass(frozen=True, slots=True)
class Cmp:
    CHILDREN: ClassVar = ("left", "right")
    op: str  # == != < <= > >=
    left: Expr
    right: Expr
    type: T


@dataclass(frozen=True, slots=True)
class Arith:
    CHILDREN: ClassVar = ("left", "right")
    op: str  # + - * / %
    left: Expr
    right: Expr
    type: T
    span: Span  # for the "division by zero" diagnostic at run time


@dataclass(frozen=True, slots=True)
class Neg:
    CHILDREN: ClassVar = ("operand",)
    operand: Expr
    type: T


@dataclass(frozen=True, slots=True)
class InSet:
    CHILDREN: ClassVar = ("item", "options")
    item: Expr
    options: tuple[Expr, ...]
    negated: bool
    type: T


@dataclass(frozen=True, slots=True)
class IsKnown:
    CHILDREN: ClassVar = ("operand",)
    operand: Expr
    negated: bool
    type: T


@dataclass(frozen=True, slots=True)
class If:
    CHILDREN: ClassVar = ("cond", "then", "otherwise")
    cond: Expr
    then: Expr
    otherwise: Expr
    type: T


@dataclass(frozen=True, slots=True)
class Quant:
    CHILDREN: ClassVar = ("coll", "body")
    BINDS: ClassVar = ("var", "coll")  # `var` ranges over the elements of `coll` in the others
    kind: str  # some | all
    var: str
    coll: Expr
    body: Expr
    type: T


@dataclass(frozen=True, slots=True)
class Agg:
    CHILDREN: ClassVar = ("coll", "where", "value")
    BINDS: ClassVar = ("var", "coll")  # `var` ranges over the elements of `coll` in the others
    kind: str  # count | sum
    var: str
    coll: Expr
    where: Expr | None
    value: Expr | None
    type: T


@dataclass(frozen=True, slots=True)
class ListExpr:
    CHILDREN: ClassVar = ("items",)
    items: tuple[Expr, ...]
    type: T


@dataclass(frozen=True, slots=True)
class IndexExpr:
    CHILDREN: ClassVar = ("base", "index")
    base: Expr
    index: Expr
    type: T


@dataclass(frozen=True, slots=True)
class Builtin:
    CHILDREN: ClassVar = ("args",)
    fn: str
    args: tuple[Expr, ...]
    type: T


@dataclass(frozen=True, slots=True)
class Lookup:
    """`lookup(KIND, id)`: the record of kind `kind` with this id, from the records the run
    knows (the batch, `--history`, the ledger; `$store` in the bindings); unknown when it is
    not among them or has another kind. SQL: a left join on (record_kind, id)."""

    CHILDREN: ClassVar = ("id",)
    kind: str
    id: Expr
    type: T


@dataclass(frozen=True, slots=True)
class Related:
    """`records(x in KIND where x.a == e1 and … and rest)`: the records of `kind` the run knows
    whose key paths equal this record's key values, and for which `where` holds, in (date, id)
    order. `keys` are the equality conjuncts: a record whose key path is unknown is not a
    candidate; an unknown key value of this record makes the result unknown. `where` (the other
    conjuncts, `var` bound to a candidate) is Kleene: unknown for a candidate makes the result
    unknown. SQL: a correlated sub-select on (record_kind, key columns) with the filter."""

    CHILDREN: ClassVar = ("values", "where")
    kind: str
    var: str
    paths: tuple[str, ...]  # key paths in the other records ("unit.id")
    values: tuple[Expr, ...]  # this record's key values, one per path
    where: Expr | None
    type: T


Expr = (Const | Field | Var | ParamRef | WindowRef | Not | And | Or | Cmp | Arith | Neg |
        InSet | IsKnown | If | Quant | Agg | ListExpr | IndexExpr | Builtin | Lookup | Related)


# ---- rules -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Message:
    """Literal text and placeholder expressions, in order."""

    parts: tuple[str | Expr, ...]
    sources: tuple[str, ...]  # the placeholder source texts, for `--explain`


@dataclass(frozen=True, slots=True)
class Bilingual:
    zh: Message
    en: Message


@dataclass(frozen=True, slots=True)
class RequireIR:
    cond: Expr
    boundary: str  # id of the boundary rule whose finding a failure produces
    severity: str  # effective severity (override or the boundary's own)
    span: Span
    evidence: tuple[tuple[str, Expr], ...] = ()  # values shown with its finding


@dataclass(frozen=True, slots=True)
class Witness:
    """A top-level `some x in L: body` of the condition; `x` is usable in messages."""

    var: str
    coll: Expr
    body: Expr


@dataclass(frozen=True, slots=True)
class WindowIR:
    keys: tuple[Expr, ...]
    days: int  # the window covers [date - days, date], both ends inclusive
    width: Expr | None = None  # a width from a parameter (a duration or a number of days):
    # the window covers [date - width, date]; `days` is then 0 and unused


@dataclass(frozen=True, slots=True)
class RuleIR:
    id: str
    kind: str  # forbid | permit | boundary | tolerance
    pack: str
    title: tuple[str, str]  # zh, en (titles are literal text)
    severity: str
    cite: str
    basis: str  # sourced | inferred
    basis_refs: str
    start: dt.date | None
    until: dt.date | None  # exclusive
    foreach: tuple[str, Expr] | None
    window: WindowIR | None
    when: Expr | None  # None: a boundary template, evaluated only through `require`
    unless: Expr | None
    requires: tuple[RequireIR, ...]
    overrides: tuple[str, ...]
    covers: tuple[str, ...] | None  # tolerance: None = all rules
    covers_except: tuple[str, ...]
    outcome: str  # what firing yields: violation | review
    say: Bilingual | None
    remedy: Bilingual | None
    witnesses: tuple[Witness, ...]
    evidence: tuple[tuple[str, Expr], ...]  # (label, expression) of `when`/`unless` facts
    span: Span
    record_kind: str = "interaction"  # the kind of record the rule judges

    def in_force(self, day: dt.date) -> bool:
        return (self.start is None or self.start <= day) and (self.until is None or day < self.until)


@dataclass(frozen=True, slots=True)
class PackIR:
    name: str
    title: tuple[str, str]
    version: str
    source: str
    start: dt.date | None
    until: dt.date | None
    applies_to: tuple[str, ...] | None  # None = every jurisdiction
    imports: tuple[str, ...]
    rules: tuple[RuleIR, ...]
    file: str
    kinds: tuple[str, ...] = ("interaction",)  # the record kinds its rules judge
    # (name, zh, en) of its titled definitions: how readers see a derived value
    titles: tuple[tuple[str, str, str], ...] = ()

    def in_force(self, day: dt.date) -> bool:
        return (self.start is None or self.start <= day) and (self.until is None or day < self.until)


@dataclass(frozen=True, slots=True)
class ProgramIR:
    packs: tuple[PackIR, ...]
    content_hash: str  # sha256 over the policy and parameter sources
    schemas: dict  # record kind → the JSON Schema its rules were checked against

    @property
    def rules(self) -> tuple[RuleIR, ...]:
        return tuple(r for p in self.packs for r in p.rules)

    @property
    def schema(self) -> dict:
        """The interaction schema (else the first kind's): what single-kind callers use."""
        return self.schemas.get(DEFAULT_KIND) or next(iter(self.schemas.values()), {})

    def schema_of(self, kind: str) -> dict | None:
        return self.schemas.get(kind)

    def define_titles(self) -> dict[str, tuple[str, str]]:
        """Titled definitions of every pack: name → (zh, en)."""
        return {n: (zh, en) for p in self.packs for n, zh, en in p.titles}


def children(e: Expr) -> tuple[Expr, ...]:
    """Direct sub-expressions of an IR node, in declaration order."""
    out: list[Expr] = []
    for name in e.CHILDREN:
        x = getattr(e, name)
        if x.__class__ is tuple:
            out.extend(x)
        elif x is not None:
            out.append(x)
    return tuple(out)


def map_children(e: Expr, fn: Callable[[Expr], Expr]) -> Expr:
    """`e` with `fn` applied to each direct sub-expression (the node itself when none changes)."""
    changes: dict[str, Any] = {}
    for name in e.CHILDREN:
        x = getattr(e, name)
        if x.__class__ is tuple:
            y: Any = tuple(fn(i) for i in x)
            if any(a is not b for a, b in zip(x, y)):
                changes[name] = y
        elif x is not None:
            y = fn(x)
            if y is not x:
                changes[name] = y
    return dataclasses.replace(e, **changes) if changes else e  # type: ignore[type-var]


def binding(e: Expr) -> tuple[str, Expr] | None:
    """(variable, list) of a comprehension node (`some`, `all`, `count`, `sum`), else None."""
    binds = getattr(e, "BINDS", None)
    if binds is None:
        return None
    return getattr(e, binds[0]), getattr(e, binds[1])


def walk(e: Expr) -> Iterator[Expr]:
    """Every node of an expression, depth first."""
    stack = [e]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(children(node)))


def rule_exprs(r: RuleIR):
    """Every expression of a rule (conditions, keys, messages, evidence)."""
    if r.foreach:
        yield r.foreach[1]
    if r.window:
        yield from r.window.keys
        if r.window.width is not None:
            yield r.window.width
    for x in (r.when, r.unless):
        if x is not None:
            yield x
    for q in r.requires:
        yield q.cond
    for w in r.witnesses:
        yield w.coll
        yield w.body
    for text in (r.say, r.remedy):
        if text is not None:
            for msg in (text.zh, text.en):
                yield from (p for p in msg.parts if not isinstance(p, str))
