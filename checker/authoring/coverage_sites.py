"""The sites of a rule that coverage watches, and what can be known of them statically.

A site is an IR node labelled with its source text (`_Labels` pairs the IR with the AST, so a
definition's expansion is named as the author wrote it); enum sites (`x in {a, b}`, `x == a`)
and threshold sites (a fact compared with a constant or a parameter); which facts the record
schema lets be absent (`Nullable`), so whether a rule can be undecidable at all
(`may_be_unknown`), and which threshold points cannot be reached (`_impossible`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from decimal import Decimal

from checker.authoring.coverage_model import ORDERED_KINDS, Site
from policy_dsl import ast as A
from policy_dsl import ir
from policy_dsl.unparse import unparse


# ---- sites: IR nodes labelled with their source text -----------------------------------------
class _Labels:
    """Maps IR nodes (by identity) to the AST text and position they came from, by walking the
    AST and the IR side by side (definitions are followed into their bodies)."""

    def __init__(self, defines: Mapping[str, A.Define]):
        self.defines = defines
        self.out: dict[int, tuple[A.Expr, str]] = {}

    def pair(self, a: A.Expr | None, e: ir.Expr | None, depth: int = 0) -> None:
        if a is None or e is None or depth > 64:
            return
        d = depth + 1
        if isinstance(e, ir.Var):
            return
        if isinstance(a, A.Call) and a.fn in self.defines:
            self.out.setdefault(id(e), (a, a.span.file))
            self.pair(self.defines[a.fn].body, e, d)
            return
        if isinstance(a, A.Name) and a.id in self.defines and self.defines[a.id].params is None:
            self.out.setdefault(id(e), (a, a.span.file))
            self.pair(self.defines[a.id].body, e, d)
            return
        self.out.setdefault(id(e), (a, a.span.file))
        if isinstance(a, A.Compare) and isinstance(e, ir.Cmp):
            self.pair(a.left, e.left, d)
            self.pair(a.right, e.right, d)
        elif isinstance(a, A.Member) and isinstance(e, ir.InSet):
            self.pair(a.item, e.item, d)
            for ao, eo in zip(a.options, e.options):
                self.pair(ao, eo, d)
        elif isinstance(a, A.BoolOp) and isinstance(e, (ir.And, ir.Or)) and len(a.items) == len(e.items):
            for ai, ei in zip(a.items, e.items):
                self.pair(ai, ei, d)
        elif isinstance(a, A.Not) and isinstance(e, ir.Not) or isinstance(a, A.Neg) and isinstance(e, ir.Neg) or isinstance(a, A.IsKnown) and isinstance(e, ir.IsKnown):
            self.pair(a.operand, e.operand, d)
        elif isinstance(a, A.Arith) and isinstance(e, ir.Arith):
            self.pair(a.left, e.left, d)
            self.pair(a.right, e.right, d)
        elif isinstance(a, A.If) and isinstance(e, ir.If):
            self.pair(a.cond, e.cond, d)
            self.pair(a.then, e.then, d)
            self.pair(a.otherwise, e.otherwise, d)
        elif isinstance(a, A.Quant) and isinstance(e, ir.Quant):
            self.pair(a.coll, e.coll, d)
            self.pair(a.body, e.body, d)
        elif isinstance(a, A.Aggregate) and isinstance(e, ir.Agg):
            self.pair(a.coll, e.coll, d)
            self.pair(a.where, e.where, d)
            self.pair(a.value, e.value, d)
        elif isinstance(a, A.Call) and isinstance(e, ir.Builtin):
            for aa, ea in zip(a.args, e.args):
                self.pair(aa, ea, d)
        elif isinstance(a, A.Attr) and isinstance(e, ir.Field):
            self.pair(a.base, e.base, d)
        elif isinstance(a, A.Index) and isinstance(e, ir.IndexExpr):
            self.pair(a.base, e.base, d)
            self.pair(a.index, e.index, d)

    def site(self, e: ir.Expr, fallback_file: str, fallback_line: int) -> Site:
        hit = self.out.get(id(e))
        if hit is None:
            return Site(describe(e), fallback_file, fallback_line)
        a, file = hit
        return Site(unparse(a), file, a.span.line)

    def text(self, e: ir.Expr) -> str:
        hit = self.out.get(id(e))
        return unparse(hit[0]) if hit is not None else describe(e)


def describe(e: ir.Expr) -> str:
    """Readable text for an IR expression without source (definitions appear expanded)."""
    if isinstance(e, ir.Const):
        v = e.value
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, Decimal):
            return format(v, "f")
        if isinstance(v, (dt.date, dt.datetime)):
            return v.isoformat()
        return str(v)
    if isinstance(e, ir.Field):
        return f"{describe(e.base)}.{e.name}" if e.base is not None else e.name
    if isinstance(e, ir.Var):
        return e.name
    if isinstance(e, ir.ParamRef):
        return f"param.{e.name}"
    if isinstance(e, ir.WindowRef):
        return "window"
    if isinstance(e, ir.Cmp):
        return f"{describe(e.left)} {e.op} {describe(e.right)}"
    if isinstance(e, ir.Arith):
        return f"({describe(e.left)} {e.op} {describe(e.right)})"
    if isinstance(e, ir.Neg):
        return f"-{describe(e.operand)}"
    if isinstance(e, ir.Builtin):
        return f"{e.fn}({', '.join(describe(a) for a in e.args)})"
    if isinstance(e, ir.InSet):
        return f"{describe(e.item)} {'not in' if e.negated else 'in'} {{{', '.join(describe(o) for o in e.options)}}}"
    if isinstance(e, ir.Agg):
        return f"{e.kind}({e.var} in {describe(e.coll)} …)"
    if isinstance(e, ir.If):
        return f"if {describe(e.cond)} then {describe(e.then)} else {describe(e.otherwise)}"
    if isinstance(e, ir.IndexExpr):
        return f"{describe(e.base)}[{describe(e.index)}]"
    return type(e).__name__.lower()


# ---- static facts about expressions ---------------------------------------------------------------
def fixed(e: ir.Expr) -> bool:
    """True when an expression does not depend on the record: constants, parameters, arithmetic."""
    if isinstance(e, (ir.Const, ir.ParamRef)):
        return True
    if isinstance(e, (ir.Arith, ir.Neg, ir.Builtin)):
        return all(fixed(c) for c in ir.children(e))
    return False


def _enum_values(e: ir.Expr) -> tuple[ir.Expr, tuple[str, ...]] | None:
    """(the enum-valued expression, the values named) for `x in {a, b}` / `x == a` / `x != a`."""
    if isinstance(e, ir.InSet) and e.item.type.kind == "enum" and not fixed(e.item):
        vals = tuple(str(o.value) for o in e.options if isinstance(o, ir.Const) and o.value is not None)
        return (e.item, vals) if vals else None
    if isinstance(e, ir.Cmp) and e.op in ("==", "!="):
        for x, c in ((e.left, e.right), (e.right, e.left)):
            if (x.type.kind == "enum" and not fixed(x) and isinstance(c, ir.Const)
                    and isinstance(c.value, str)):
                return x, (c.value,)
    return None


def _threshold(e: ir.Expr) -> tuple[ir.Expr, ir.Expr, bool] | None:
    """(fact side, threshold side, flipped) for a comparison of a fact with a constant/param."""
    if not isinstance(e, ir.Cmp):
        return None
    if e.left.type.kind not in ORDERED_KINDS or e.right.type.kind not in ORDERED_KINDS:
        return None
    lf, rf = fixed(e.left), fixed(e.right)
    if rf and not lf:
        return e.left, e.right, False
    if lf and not rf:
        return e.right, e.left, True
    return None


class Nullable:
    """Which schema paths may be absent (not required, or null allowed) along the way."""

    def __init__(self, schema: dict):
        self.schema = schema
        self.defs = schema.get("$defs", {})
        self._cache: dict[str, bool] = {}

    def _deref(self, node: dict) -> tuple[dict, bool]:
        nullable = False
        while True:
            if "$ref" in node:
                node = self.defs.get(node["$ref"].rsplit("/", 1)[-1], {})
                continue
            if "anyOf" in node:
                alts = node["anyOf"]
                nullable = nullable or any(a.get("type") == "null" for a in alts)
                node = next((a for a in alts if a.get("type") != "null"), {})
                continue
            types = node.get("type")
            if isinstance(types, list) and "null" in types:
                nullable = True
            return node, nullable

    def minimum(self, path: str) -> int | float | None:
        """The schema's `minimum` for a path, if it declares one."""
        node = self.schema
        for part in path.split("."):
            name = part.removesuffix("[]")
            props = node.get("properties", {})
            if name not in props:
                return None
            node, _ = self._deref(props[name])
            if part.endswith("[]"):
                node, _ = self._deref(node.get("items", {}))
        return node.get("minimum")

    def __call__(self, path: str) -> bool:
        hit = self._cache.get(path)
        if hit is not None:
            return hit
        node, out = self.schema, False
        for part in path.split("."):
            name = part.removesuffix("[]")
            if not name:
                continue
            props = node.get("properties", {})
            if name not in props:
                out = True
                break
            if name not in node.get("required", []):
                out = True
            node, null = self._deref(props[name])
            out = out or null
            if part.endswith("[]"):
                node, _ = self._deref(node.get("items", {}))
        self._cache[path] = out
        return out


def floor_of(e: ir.Expr, schema: Nullable) -> int | float | None:
    """A lower bound every valid record respects: lengths and counts are at least 0, and a
    field with a schema `minimum` at least that."""
    if isinstance(e, ir.Builtin) and e.fn == "length":
        return 0
    if isinstance(e, ir.Agg) and e.kind == "count":
        return 0
    if isinstance(e, ir.Field):
        return schema.minimum(e.path)
    return None


def _impossible(fact: ir.Expr, limit: ir.Expr, flipped: bool, schema: Nullable) -> tuple[str, ...]:
    low = floor_of(fact, schema)
    if low is None or not isinstance(limit, ir.Const) or not isinstance(limit.value, (int, Decimal)):
        return ()
    if limit.value < low:
        return ("below", "at")
    if limit.value == low:
        return ("below",)
    return ()


def _guards(e: ir.Expr, when_true: bool) -> set[str]:
    """Facts known to be present whenever `e` is true (`when_true`) or false."""
    if isinstance(e, ir.IsKnown):
        return {describe(e.operand)} if e.negated != when_true else set()
    if isinstance(e, ir.Not):
        return _guards(e.operand, not when_true)
    if isinstance(e, ir.And) and when_true or isinstance(e, ir.Or) and not when_true:
        return set().union(*(_guards(i, when_true) for i in e.items))
    return set()


def _may_be_zero(e: ir.Expr, schema: Callable[[str], bool]) -> bool:
    if isinstance(e, ir.Const):
        return not e.value
    if isinstance(e, ir.Field) and hasattr(schema, "minimum"):
        low = schema.minimum(e.path)
        return low is None or low <= 0
    return True


def may_be_unknown(e: ir.Expr | None, nullable: Callable[[str], bool], known: frozenset[str] = frozenset()
                   ) -> bool:
    """Whether an expression can evaluate to unknown for some schema-valid record.

    Guards are understood (`x is known and x > 3` is never unknown, in an `and`, an `or` and
    an `if`), a division only when its divisor can be zero. Lookups that go out of range
    (`char_at`, `xs[i]`) are assumed to stay in range: the question is whether a test can
    make the rule undecidable by leaving a fact out."""
    if e is None:
        return False
    mbu = may_be_unknown
    if isinstance(e, ir.Field):
        if describe(e) in known:
            return False
        return nullable(e.path) or mbu(e.base, nullable, known)
    if isinstance(e, (ir.Const, ir.Var, ir.ParamRef, ir.IsKnown)):
        return False
    if isinstance(e, ir.WindowRef):
        return True
    if isinstance(e, (ir.And, ir.Or)):
        k = known | set().union(*(_guards(i, isinstance(e, ir.And)) for i in e.items))
        return any(mbu(i, nullable, frozenset(k)) for i in e.items)
    if isinstance(e, ir.If):
        return (mbu(e.cond, nullable, known) or mbu(e.then, nullable, known | _guards(e.cond, True))
                or mbu(e.otherwise, nullable, known | _guards(e.cond, False)))
    if isinstance(e, ir.Arith) and e.op in ("/", "%") and _may_be_zero(e.right, nullable):
        return True
    if isinstance(e, ir.Builtin) and e.fn == "coalesce":
        return all(mbu(a, nullable, known) for a in e.args)
    return any(mbu(c, nullable, known) for c in ir.children(e))
