"""Folding and memoisation in the closure backend: the optimised closures compute exactly what
the plain ones (and the tracing evaluator) compute, value and type, on every input."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy_dsl import ir
from policy_dsl import types as ty
from policy_dsl.backends import python as backend
from policy_dsl.backends.python import _key, _memo_plan, compile_elem, compile_expr
from policy_dsl.errors import Span
from policy_dsl.explain import Tracer
from policy_dsl.load import load

RULES = Path(__file__).resolve().parents[2] / "rules"
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
SETTINGS = settings(max_examples=300, deadline=None, derandomize=True)


@pytest.fixture(scope="module")
def dq1() -> ir.Expr:
    result = load([RULES])
    assert result.ok
    rule = next(r for r in result.program.rules if r.id == "DQ1")
    return rule.when


def _field(*names: str, t: ty.T) -> ir.Field:
    e: ir.Field | None = None
    for i, n in enumerate(names):
        e = ir.Field(e, n, t if i == len(names) - 1 else ty.ANY, ".".join(names[:i + 1]))
    assert e is not None
    return e


def _range_sum(value: ir.Expr, t: ty.T) -> ir.Agg:
    """`sum(i in range(0, 2): value)`: heavy, so memoised when `value` reads scalars only."""
    coll = ir.Builtin("range", (ir.Const(0, ty.INT), ir.Const(2, ty.INT)), ty.list_of(ty.INT))
    return ir.Agg("sum", "i", coll, None, value, t)


def test_key_tells_apart_what_closures_tell_apart() -> None:
    assert _key(1) != _key(True)
    assert _key(Decimal("1.0")) != _key(Decimal("1.00"))
    assert _key(Decimal("1.0")) == _key(Decimal("1.0"))
    assert _key("a") == "a" and _key(None) is None
    assert _key(dt.date(2024, 1, 1)) == _key(dt.date(2024, 1, 1))
    unkeyable = _key(dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    assert _key([1]) is unkeyable and _key({}) is unkeyable


def test_dq1_is_one_memo_on_the_uscc(dq1: ir.Expr) -> None:
    plan = _memo_plan(dq1)
    memos = [inputs for inputs in plan.values() if inputs]
    assert [[f.path for f in inputs] for inputs in memos] == [["enterprise.uscc"]]
    assert plan[id(dq1)] == memos[0]  # the whole condition: one lookup per record


def _uscc_strings() -> st.SearchStrategy[str]:
    valid = "91350100M000100Y43"
    mutated = st.builds(lambda i, c: valid[:i] + c + valid[i + 1:], st.integers(0, 17),
                        st.sampled_from(USCC_CHARS + "IOSVZ a"))
    return st.one_of(mutated, st.text(USCC_CHARS + "IOZ-", min_size=0, max_size=20),
                     st.just(valid), st.just("91350100M000100Y44"))


@SETTINGS
@given(st.lists(st.one_of(st.none(), _uscc_strings()), min_size=1, max_size=8))
def test_dq1_memoised_equals_plain_and_tracer(dq1: ir.Expr, usccs: list) -> None:
    fast, plain = compile_expr(dq1), compile_expr(dq1, optimise=False)
    for uscc in usccs + usccs:  # the second round comes from the memo
        r = {"enterprise": {"uscc": uscc}}
        want = Tracer(r, {}, {}, {}).value(dq1)
        got = fast(r, {}, {})
        assert type(got) is type(want) and got == want
        assert plain(r, {}, {}) == want


def test_memo_keeps_decimal_representation() -> None:
    e = _range_sum(_field("meal", "total", t=ty.MONEY), ty.MONEY)
    assert _memo_plan(e)[id(e)]  # memoised on meal.total
    fn, plain = compile_expr(e), compile_expr(e, optimise=False)
    for text, want in (("1.0", "2.0"), ("1.00", "2.00"), ("1.0", "2.0"), ("-0", "0"), ("5E+1", "100")):
        r = {"meal": {"total": Decimal(text)}}
        assert str(fn(r, {}, {})) == str(plain(r, {}, {})) == want


def test_memo_keys_parameters_and_types() -> None:
    total = ir.Arith("+", _field("n", t=ty.INT), ir.ParamRef("k", ty.INT), ty.INT, Span("x", 1, 1, 1, 2))
    e = _range_sum(total, ty.INT)
    fn = compile_expr(e)
    assert fn({"n": 1}, {"k": 1}, {}) == 4
    assert fn({"n": 1}, {"k": 2}, {}) == 6
    assert fn({"n": True}, {"k": 2}, {}) == 6 and type(fn({"n": True}, {"k": 2}, {})) is int
    assert fn({"n": None}, {"k": 2}, {}) is None
    assert fn({}, {"k": 2}, {}) is None


class _Reads(dict):
    """A record that counts the reads of its fields."""

    reads = 0

    def get(self, *args):
        _Reads.reads += 1
        return super().get(*args)


def test_memo_is_bounded(monkeypatch) -> None:
    """With room for 3 values, a 4th empties the memo: every value is computed again."""
    e = _range_sum(_field("n", t=ty.INT), ty.INT)

    def reads(limit: int, values: list[int]) -> int:
        monkeypatch.setattr(backend, "MEMO_LIMIT", limit)
        fn = compile_expr(e)
        _Reads.reads = 0
        for n in values:
            assert fn(_Reads(n=n), {}, {}) == 2 * n
        return _Reads.reads

    hit = reads(100, [1]) * 2 - reads(100, [1, 1])  # the reads a memoised value saves
    assert hit > 0
    cycle = [1, 2, 3, 4] * 2
    assert reads(3, cycle) == reads(100, cycle) + 4 * hit  # the 2nd round: all computed again
    assert reads(4, cycle) == reads(100, cycle)


def test_not_memoised_when_reading_variables_window_or_lists() -> None:
    elem = ir.Field(ir.Var("m", ty.ANY), "total", ty.MONEY, "meals[].total")
    assert not any(_memo_plan(_range_sum(elem, ty.MONEY)).values())
    window = ir.Agg("count", "r", ir.WindowRef(ty.list_of(ty.ANY)), None, None, ty.INT)
    assert not any(_memo_plan(window).values())
    listed = ir.Agg("count", "g", _field("gifts", t=ty.list_of(ty.ANY)), None, None, ty.INT)
    assert not any(_memo_plan(listed).values())


def test_constant_sub_expressions_are_folded() -> None:
    e = _range_sum(ir.Var("i", ty.INT), ty.INT)  # sum(i in range(0, 2): i): reads nothing
    plan = _memo_plan(e)
    assert plan[id(e)] == ()
    assert compile_expr(e)({}, {}, {}) == 1


@SETTINGS
@given(st.lists(st.one_of(st.none(), st.integers(-3, 20), st.booleans()), max_size=6),
       st.one_of(st.none(), st.integers(-2, 20)))
def test_element_closures_of_index_and_builtins(xs: list, i) -> None:
    """`xs[i]`, `char_at`, `index_of`, `coalesce` compiled on the element equal the general
    closures (and the tracer) on any element."""
    lst = ir.ListExpr(tuple(ir.Const(x, ty.INT) for x in xs), ty.list_of(ty.INT))
    var = ir.Var("i", ty.INT)
    s = ir.Const("0123456789ABC", ty.STRING)
    exprs = [
        ir.IndexExpr(lst, var, ty.INT),
        ir.Builtin("coalesce", (ir.IndexExpr(lst, var, ty.INT), ir.Const(7, ty.INT)), ty.INT),
        ir.Builtin("index_of", (s, ir.Builtin("char_at", (s, var), ty.STRING)), ty.INT),
        ir.Builtin("substr", (s, var, ir.Const(2, ty.INT)), ty.STRING),
        ir.Builtin("char_at", (ir.Builtin("upper", (s,), ty.STRING), var), ty.STRING),  # fn(…, x)
        ir.Builtin("max", (ir.IndexExpr(lst, var, ty.INT), var), ty.INT),
        ir.Builtin("abs", (var,), ty.INT),
        ir.Arith("*", ir.IndexExpr(lst, var, ty.INT), var, ty.INT, Span("x", 1, 1, 1, 2)),
    ]
    for e in exprs:
        q = compile_elem(e, "i")
        assert q is not None
        want = Tracer({}, {}, {"i": i}, {}).value(e)
        got = q({}, {}, i)
        assert type(got) is type(want) and got == want
        assert compile_expr(e)({}, {}, {"i": i}) == want
