"""Rule dispatch (`policy_dsl.dispatch`, `policy_dsl.guards`): the possible values of a
condition given a few facts always include its actual value, and evaluating with dispatch
(rules skipped or decided from the record's key) gives exactly the results of evaluating every
rule, on the sample batch and on records mutated around it."""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checker.input.validate import default_validator
from policy_dsl import dispatch, ir
from policy_dsl import types as ty
from policy_dsl.dispatch import EVALUATE, Dispatch, choose_fields, refuting_fields
from policy_dsl.evaluate import Evaluator, RecordResult
from policy_dsl.guards import (
    EMPTY,
    KNOWN,
    guard_fields,
    list_fields,
    never_true,
    possible,
    record_path,
    residual,
)
from policy_dsl.load import load

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = settings(max_examples=200, deadline=None, derandomize=True)


@pytest.fixture(scope="module")
def ev() -> Evaluator:
    result = load([ROOT / "rules"])
    assert result.ok
    return Evaluator(result.program, result.params)


@pytest.fixture(scope="module")
def sample() -> list[dict]:
    validator = default_validator()
    out = []
    with open(ROOT / "fixtures" / "sample" / "batch.jsonl", "rb") as fh:
        for _, line in zip(range(400), fh, strict=False):
            try:
                data, _ = validator.validate(orjson.loads(line))
            except orjson.JSONDecodeError:  # the sample has malformed lines on purpose
                continue
            if data is not None:
                out.append(data)
    assert len(out) > 300
    return out


def _domain(t: ty.T) -> list:
    if t.kind == "enum":
        return [*t.values, None]
    if t.kind == "bool":
        return [True, False, None]
    if t.kind == "list":
        return [None, []]  # unknown, or empty
    return [None]  # other fields: only made unknown


def _atoms(ev: Evaluator) -> dict[tuple[str, ...], list]:
    """Every record field the rules test, with values worth trying."""
    out: dict[tuple[str, ...], list] = {}
    for c in ev.rules:
        if c.cond_ir is None:
            continue
        for node in ir.walk(c.cond_ir):
            path = record_path(node)
            if path is not None and len(path) <= 2 and path not in out \
                    and path[0] not in ("date", "jurisdiction"):
                out[path] = [v for v in _domain(node.type) if v is not KNOWN]
    return out


def _mutate(r: dict, changes: list[tuple[tuple[str, ...], object]]) -> dict:
    r = copy.deepcopy(r)
    for path, value in changes:
        parent = r
        for name in path[:-1]:
            nxt = parent.get(name)
            if not isinstance(nxt, dict):
                nxt = parent[name] = {}
            parent = nxt
        if value == "$delete":
            parent.pop(path[-1], None)
        else:
            parent[path[-1]] = value
    return r


def _summary(res: RecordResult) -> tuple:
    def one(f):
        return (f.rule_id, f.kind, f.outcome, f.severity, f.element, f.undecided, f.pending,
                f.suppressed_by, f.tolerated_by, f.covered, sorted(f.bindings), sorted(f.paths.items()),
                None if f.via is None else f.via.id, f.cond is None)
    return (res.outcome, [one(f) for f in res.findings], [one(f) for f in res.suppressed])


def _same_with_and_without_dispatch(ev: Evaluator, r: dict) -> None:
    fast = ev.evaluate(r)
    full = ev.evaluate(r, trace=True)
    assert _summary(fast) == _summary(full)
    # every status the dispatch claims is the closure's
    _, rules, _ = ev._plan(r["jurisdiction"], r["date"])
    key = ev.dispatch.key(r)
    if key is None:
        return
    p = ev._plan(r["jurisdiction"], r["date"])[0]
    for c in rules:
        _, known, cond, elem, *_ = ev.dispatch.step(c, key)
        v = {"$window": None} if c.windowed else {}
        items = [None] if c.coll is None else (c.coll(r, p, v) or [])
        for item in items:
            bound = v if item is None else {**v, c.var: item}
            want = c.cond(r, p, bound)
            if known is not EVALUATE:
                assert want == known, c.ir.id
                continue
            got = cond(r, p, bound)  # the residual condition
            assert type(got) is type(want) and got == want, c.ir.id
            if item is not None and elem is not None:
                assert elem(r, p, item) == want, c.ir.id


def test_sample_batch_same_results(ev: Evaluator, sample: list[dict]) -> None:
    for r in sample:
        _same_with_and_without_dispatch(ev, r)


def test_dispatch_skips_and_decides_rules(ev: Evaluator, sample: list[dict]) -> None:
    """The bundled packs key on `interaction.kind` among others, and most records skip rules."""
    paths = [p for p, _ in ev.dispatch.fields]
    assert ("interaction", "kind") in paths
    skipped = 0
    for r in sample:
        _, rules, _ = ev._plan(r["jurisdiction"], r["date"])
        steps = ev.dispatch.plan(rules, r)
        assert steps is not None
        kept = {s[0] for s in steps}
        assert [s[0] for s in steps] == [c for c in rules if c in kept]
        skipped += len(rules) - len(steps)
    assert skipped > 5 * len(sample)


@st.composite
def _changes(draw, atoms: dict):
    paths = sorted(atoms)
    out = []
    for _ in range(draw(st.integers(1, 6))):
        path = draw(st.sampled_from(paths))
        choice = draw(st.integers(0, 9))
        if choice == 0 and len(path) == 2:
            out.append((path[:1], None))  # the whole object unknown
        elif choice == 1:
            out.append((path, "$delete"))
        else:
            out.append((path, draw(st.sampled_from(atoms[path]))))
    return out


def test_mutated_records_same_results(ev: Evaluator, sample: list[dict]) -> None:
    atoms = _atoms(ev)

    @SETTINGS
    @given(st.integers(0, len(sample) - 1), _changes(atoms))
    def check(i: int, changes) -> None:
        _same_with_and_without_dispatch(ev, _mutate(sample[i], changes))

    check()


def test_possible_contains_the_actual_value(ev: Evaluator, sample: list[dict]) -> None:
    """Soundness on the real conditions: whatever subset of a record's tested fields is
    given as facts (value, or only KNOWN), the condition's value is among the possible ones."""
    atoms = _atoms(ev)

    @SETTINGS
    @given(st.integers(0, len(sample) - 1), _changes(atoms), st.randoms(use_true_random=False))
    def check(i: int, changes, rnd) -> None:
        r = _mutate(sample[i], changes)
        p = ev._plan(r["jurisdiction"], r["date"])[0]
        for c in ev.rules:
            if c.cond_ir is None:
                continue
            facts = {}
            for path, by_value in guard_fields(c.cond_ir):
                if rnd.random() < 0.3:
                    continue
                x = r
                for name in path:
                    x = x.get(name) if isinstance(x, dict) else None
                facts[path] = x if by_value or x is None else KNOWN
            for path in list_fields(c.cond_ir):
                if rnd.random() < 0.3:
                    continue
                x = r
                for name in path:
                    x = x.get(name) if isinstance(x, dict) else None
                facts[path] = None if x is None else EMPTY if x == [] else KNOWN
            s = possible(c.cond_ir, facts)
            v = {"$window": None} if c.windowed else {}
            items = [None] if c.coll is None else (c.coll(r, p, v) or [])
            for item in items:
                actual = c.cond(r, p, v if item is None else {**v, c.var: item})
                assert s is None or actual in s, (c.ir.id, facts, actual, s)

    check()


# ---- the abstract values on small expressions ------------------------------------------
KIND = ty.T("enum", "k", ("a", "b", "c"))
F = ir.Field(None, "k", KIND, "k")
G = ir.Field(None, "g", ty.BOOL, "g")


def _eq(field: ir.Expr, value, op: str = "==") -> ir.Cmp:
    return ir.Cmp(op, field, ir.Const(value, KIND), ty.BOOL)


def test_possible_atoms() -> None:
    k = ("k",)
    assert possible(_eq(F, "a"), {k: "a"}) == {True}
    assert possible(_eq(F, "a"), {k: "b"}) == {False}
    assert possible(_eq(F, "a"), {k: None}) == {None}
    assert possible(_eq(F, "a", "!="), {k: "b"}) == {True}
    assert possible(_eq(F, "a"), {k: KNOWN}) == {True, False}
    assert possible(_eq(F, "a"), {}) == {True, False, None}
    assert possible(F, {}) is None
    inset = ir.InSet(F, (ir.Const("a", KIND), ir.Const("b", KIND)), True, ty.BOOL)
    assert possible(inset, {k: "c"}) == {True} and possible(inset, {k: "a"}) == {False}
    assert possible(inset, {k: None}) == {None}
    assert possible(ir.IsKnown(F, False, ty.BOOL), {k: None}) == {False}
    assert possible(ir.IsKnown(F, True, ty.BOOL), {k: KNOWN}) == {False}
    assert possible(ir.IsKnown(F, False, ty.BOOL), {}) == {True, False}


def test_possible_kleene() -> None:
    k, g = ("k",), ("g",)
    a_and_g = ir.And((_eq(F, "a"), G), ty.BOOL)
    assert possible(a_and_g, {k: "b"}) == {False}  # false and anything = false
    assert possible(a_and_g, {k: None, g: False}) == {False}
    assert possible(a_and_g, {k: None, g: True}) == {None}
    assert possible(a_and_g, {k: "a"}) == {True, False, None}
    a_or_g = ir.Or((_eq(F, "a"), G), ty.BOOL)
    assert possible(a_or_g, {k: "a"}) == {True}
    assert possible(a_or_g, {k: None, g: False}) == {None}
    assert possible(a_or_g, {k: "b", g: False}) == {False}
    assert possible(a_or_g, {k: "b", g: KNOWN}) == {True, False}
    assert possible(ir.Not(a_or_g, ty.BOOL), {k: "b", g: False}) == {True}
    assert never_true(a_and_g, {k: "c"}) and not never_true(a_and_g, {k: None})
    cond = ir.If(G, _eq(F, "a"), ir.Const(False, ty.BOOL), ty.BOOL)
    assert possible(cond, {g: False}) == {False} and possible(cond, {g: None}) == {None}
    assert possible(cond, {g: True, k: "a"}) == {True}


def test_possible_over_empty_and_unknown_lists() -> None:
    meals = ir.Field(None, "meals", ty.list_of(ty.ANY), "meals")
    m = ("meals",)
    some = ir.Quant("some", "x", meals, G, ty.BOOL)
    every = ir.Quant("all", "x", meals, G, ty.BOOL)
    count = ir.Agg("count", "x", meals, G, None, ty.INT)
    total = ir.Agg("sum", "x", meals, None, ir.Var("x", ty.MONEY), ty.MONEY)
    length = ir.Builtin("length", (meals,), ty.INT)
    assert possible(some, {m: EMPTY}) == {False} and possible(every, {m: EMPTY}) == {True}
    assert possible(some, {m: None}) == {None} and possible(some, {m: KNOWN}) is None
    assert possible(count, {m: EMPTY}) == {0}
    (zero,) = possible(total, {m: EMPTY})
    assert zero.__class__ is Decimal and zero == 0  # what the closure's sum starts from
    over = ir.Cmp(">", length, ir.Const(0, ty.INT), ty.BOOL)
    assert possible(over, {m: EMPTY}) == {False} and possible(over, {m: None}) == {None}
    assert possible(over, {m: KNOWN}) == {True, False, None}  # (length not tracked: any)
    assert possible(ir.IsKnown(meals, False, ty.BOOL), {m: EMPTY}) == {True}
    assert residual(ir.Or((over, G), ty.BOOL), {m: EMPTY}) == ir.Or((G,), ty.BOOL)


def test_for_each_rules_over_empty_lists_are_skipped(ev: Evaluator, sample: list[dict]) -> None:
    r = next(x for x in sample if x.get("gifts") == [] and x.get("meals"))
    _, rules, _ = ev._plan(r["jurisdiction"], r["date"])
    kept = {s[0].ir.id for s in ev.dispatch.plan(rules, r)}
    assert not kept & {"N1", "G1", "G2"}  # over gifts
    assert "P3" in kept or "P5" in kept or "N2" in kept  # over meals
    _same_with_and_without_dispatch(ev, r)


def test_refuting_fields_prefer_usually_false_atoms(monkeypatch) -> None:
    k, g = ("k",), ("g",)
    both = ir.And((_eq(F, "a", "!="), _eq(F, "b")), ty.BOOL)
    assert refuting_fields(both) == (frozenset({(k, True)}), True)
    either = ir.Or((_eq(F, "a"), ir.Cmp("==", G, ir.Const(True, ty.BOOL), ty.BOOL)), ty.BOOL)
    assert refuting_fields(either) == (frozenset({(k, True), (g, True)}), True)
    known = ir.IsKnown(F, False, ty.BOOL)
    assert refuting_fields(known) == (frozenset({(k, False)}), False)
    assert choose_fields([_eq(F, "a"), either]) == []  # small conditions: cheaper to evaluate
    monkeypatch.setattr(dispatch, "MIN_SCORE", 0)
    assert choose_fields([known]) == []  # `is known` is usually true: not worth a field
    assert choose_fields([either, both]) == [(g, True), (k, True)]
    n = ir.Field(None, "n", ty.INT, "n")
    assert refuting_fields(ir.Cmp("==", n, ir.Const(3, ty.INT), ty.BOOL)) is None


def test_odd_records_are_not_keyed(ev: Evaluator, sample: list[dict]) -> None:
    r = copy.deepcopy(sample[0])
    r["interaction"] = "not an object"
    assert ev.dispatch.key(r) is None
    r = copy.deepcopy(sample[0])
    r["interaction"]["kind"] = 3  # not a str/bool/None: keys could collide (3 == 3.0)
    assert ev.dispatch.key(r) is None
    d = Dispatch([])
    assert d.key({"date": dt.date(2024, 1, 1)}) == ()


def test_residual_folds_what_the_facts_decide() -> None:
    k = ("k",)
    a_and_g = ir.And((_eq(F, "a"), G), ty.BOOL)
    # `true and g`: a bare field may hold any value, so `and` (which makes it True/False/None) stays
    assert residual(a_and_g, {k: "a"}) == ir.And((G,), ty.BOOL)
    assert residual(a_and_g, {}) is a_and_g  # nothing decided: the same node
    g_eq = ir.Cmp("==", G, ir.Const(True, ty.BOOL), ty.BOOL)
    assert residual(ir.And((_eq(F, "a"), g_eq), ty.BOOL), {k: "a"}) is g_eq
    assert residual(ir.Or((_eq(F, "a"), g_eq), ty.BOOL), {k: "a"}) == ir.Const(True, ty.BOOL)
    unknown = residual(ir.Or((_eq(F, "a"), g_eq), ty.BOOL), {k: None})
    assert isinstance(unknown, ir.Or) and unknown.items == (ir.Const(None, ty.BOOL), g_eq)
    cond = ir.If(_eq(F, "b"), g_eq, ir.Const(False, ty.BOOL), ty.BOOL)
    assert residual(cond, {k: "b"}) is g_eq
    assert residual(cond, {k: "c"}) == ir.Const(False, ty.BOOL)
    some = ir.Quant("some", "m", ir.Field(None, "meals", ty.list_of(ty.ANY), "meals"),
                    ir.And((_eq(F, "a"), g_eq), ty.BOOL), ty.BOOL)
    folded = residual(some, {k: "a"})
    assert isinstance(folded, ir.Quant) and folded.body is g_eq


def test_window_not_looked_up_when_the_rest_is_false(ev: Evaluator, sample: list[dict]) -> None:
    """B11 (`enterprise.uscc is known and some m in meals: … and sum(r in window …) > …`): when
    no meal was paid by the firm the condition is False whatever the window holds."""
    calls: list[str] = []

    def window(c, r, p):
        calls.append(r["id"])
        return [r] * 5  # a busy window: the rule fires whenever the rest holds

    fast_calls = full_calls = 0
    for r in sample:
        before = len(calls)
        fast = ev.evaluate(r, window)
        fast_calls += len(calls) - before
        before = len(calls)
        full = ev.evaluate(r, window, trace=True)
        full_calls += len(calls) - before
        assert _summary(fast) == _summary(full)
    assert 0 < fast_calls < full_calls / 3
