"""The analysis finds exactly the planted problems, and its encoding agrees with the evaluator."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from pathlib import Path

import pytest
import z3

from checker.input.validate import default_validator
from checker.schema import bundled_schemas, record_schema
from policy_dsl.analysis.analyze import Analyzer, analyze, list_usage
from policy_dsl.analysis.encode import Encoder
from policy_dsl.analysis.model import EnumIds, SymRecord, datetime_seconds, schema_index
from policy_dsl.analysis.results import Options
from policy_dsl.evaluate import CompiledRule
from policy_dsl.load import load

VALIDATE = default_validator().validate  # a JSON record → the normalised record

PACKS = Path(__file__).parent / "packs"
ROOT = Path(__file__).resolve().parents[3]
DAY = dt.date(2026, 3, 1)


def _load(*paths):
    res = load([str(p) for p in paths], bundled_schemas())
    assert res.ok, res.errors
    return res


@pytest.fixture(scope="module")
def conflict():
    res = _load(PACKS / "conflict")
    return analyze(res.program, res.params, Options("000000", DAY), VALIDATE)


@pytest.fixture(scope="module")
def gap():
    res = _load(PACKS / "gap")
    return analyze(res.program, res.params, Options("000000", DAY), VALIDATE)


@pytest.fixture(scope="module")
def dead():
    res = _load(PACKS / "dead")
    return analyze(res.program, res.params, Options("000000", DAY), VALIDATE)


def _kinds(a):
    return sorted((i.kind, i.rules, i.field_name, i.value) for i in a.issues)


def test_conflict_pack_finds_exactly_the_planted_conflicts(conflict):
    assert _kinds(conflict) == [("conflict", ("P1", "N8"), None, None),
                                ("conflict", ("P3", "N2"), None, None)]
    assert conflict.undecided == []
    assert conflict.checked["conflict_pairs"] == 3  # P1/N8 and P3/N2, and P2/N6 (disjoint)


def test_gap_pack_finds_exactly_the_planted_gaps(gap):
    assert _kinds(gap) == [("gap", (), "interaction.kind", "public_business_event"),
                           ("gap", (), "interaction.kind", "training_lecture"),
                           ("gap", (), "meals[].reason", "celebration")]
    assert gap.undecided == []


def test_dead_pack_finds_exactly_the_planted_dead_rules(dead):
    assert _kinds(dead) == [("dead_rule", ("D1",), None, None), ("dead_rule", ("D2",), None, None),
                            ("dead_rule", ("D3",), None, None),
                            ("require_implied", ("P3", "B2"), None, None),
                            ("require_never_met", ("P5", "B1"), None, None)]
    by = {i.rules: i for i in dead.issues}
    assert by[("D1",)].detail[0][1] == "cannot hold together: `m.total_cny > 100`; `m.total_cny < 50`"
    assert by[("D1",)].detail[0][0] == "以下条件不能同时成立：`m.total_cny > 100`; `m.total_cny < 50`"
    assert by[("D2",)].detail[0][1] == "cannot hold together: `venue.type == private_club`; `venue.type == hotel`"
    assert "its `unless` always holds when its `when` does" in by[("D3",)].message[1]
    assert by[("D3",)].message[0].startswith("D3 为死规则：unless 在 when 成立时总成立")
    assert by[("P3", "B2")].message[1] == ("P3's `require m.alcohol == none` (else B2) is always met when P3 "
                                           "applies: it is implied by the condition")


def test_counterexamples_validate_and_reproduce(conflict, gap):
    res_c, res_g = _load(PACKS / "conflict"), _load(PACKS / "gap")
    for analysis, res in ((conflict, res_c), (gap, res_g)):
        an = Analyzer(res.program, res.params, Options("000000", DAY), VALIDATE)
        for issue in analysis.issues:
            data, errors = default_validator().validate(issue.record)
            assert data is not None, errors
            out = an.evaluate_raw(issue.record)
            if issue.kind == "conflict":
                assert issue.claim == {"conflict": "/".join(issue.rules), "outcome": "violation"}
                assert any(f.kind == "conflict" and f.conflict == issue.rules for f in out.findings)
            else:
                assert out.outcome == "unlisted" and out.findings == []


def test_counterexamples_are_small(conflict):
    rec = {i.rules: i.record for i in conflict.issues}[("P3", "N2")]
    assert set(rec) == {"id", "stage", "jurisdiction", "date", "official", "meals", "enterprise"}
    assert rec["meals"][0]["payer"] == "enterprise"
    assert rec["enterprise"] == {"is_management_service_object": True}


def test_override_between_rules_is_not_a_conflict(tmp_path):
    src = (PACKS / "conflict" / "conflict.policy").read_text("utf-8")
    src = src.replace("  overrides P0, P2\n", "  overrides P0, P1, P2\n")
    src = src.replace('  say "工作餐" / "Work meal"', '  overrides N2\n  say "工作餐" / "Work meal"')
    (tmp_path / "p.policy").write_text(src, "utf-8")
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "000000.yaml").write_bytes((PACKS / "conflict/params/000000.yaml").read_bytes())
    res = _load(tmp_path)
    a = analyze(res.program, res.params, Options("000000", DAY), VALIDATE, gaps=False, dead=False)
    assert a.issues == []


def test_rules_out_of_force_are_not_analysed():
    res = _load(PACKS / "conflict")
    a = analyze(res.program, res.params, Options("000000", dt.date(2012, 12, 31)), VALIDATE)
    assert a.rules == 0 and a.packs == []
    # With nothing in force, every value is a gap (14 kinds, 7 meal reasons, 11 gift forms).
    assert {i.kind for i in a.issues} == {"gap"} and len(a.issues) == 14 + 7 + 11


def test_bounded_lists_are_stated(tmp_path):
    (tmp_path / "p.policy").write_text('''policy t.agg "t" / "t"
  version "1"
  source "test"
  applies to all
forbid N9 "多次" / "many"
  severity low
  cite "t"
  when count(m in meals where m.payer == enterprise) > 5
''', "utf-8")
    res = _load(tmp_path / "p.policy")
    usage = list_usage(res.program.rules)
    assert usage == {"meals": (1, True)}
    a = analyze(res.program, res.params, Options("000000", DAY, list_bound=3), VALIDATE, conflicts=False, gaps=False)
    # Dead within 3 meals, but not dead: the answer is stated with its bound.
    assert [i.kind for i in a.issues] == ["dead_rule"]
    assert a.issues[0].bound == "lists meals bounded to 3 elements"


# ---- the encoding agrees with the evaluator, record by record ----------------------------------
def _get(obj, cpath):
    for k in cpath.split("."):
        if obj is None:
            return None
        if k.isdigit():
            obj = obj[int(k)] if isinstance(obj, list) and int(k) < len(obj) else None
        else:
            obj = obj.get(k) if isinstance(obj, dict) else None
    return obj


def _pin(sym: SymRecord, record: dict) -> list | None:
    cons = []
    for cpath, lst in sym.lists.items():
        v = _get(record, cpath)
        if v is not None and len(v) > lst.bound:
            return None
        cons.append(lst.known == (v is not None))
        if v is not None:
            cons.append(lst.length == len(v))
    for cpath, known in sym.objects.items():
        cons.append(known == (_get(record, cpath) is not None))
    for cpath, leaf in sym.leaves.items():
        v = _get(record, cpath)
        if cpath.split(".")[-1].isdigit():
            if v is not None:
                cons.append(leaf.value == sym.const(v, leaf.info.kind))
            continue  # scalar list elements: present by the list's length
        cons.append(leaf.known == (v is not None))
        if v is not None:
            kind = leaf.info.kind
            cons.append(leaf.value == (z3.IntVal(datetime_seconds(v)) if kind == "datetime" else sym.const(v, kind)))
    return cons


_MONEY = ["0", "25", "49.99", "50", "59.99", "60", "60.01", "100", "100.01", "240", "768.00"]


def _random_record(rng: random.Random, n: int) -> dict:
    idx = schema_index(record_schema())
    rec: dict = {"id": f"R{n}", "stage": rng.choice(["planned", "completed"]), "jurisdiction": "000000",
                 "date": DAY.isoformat(), "official": {"id": "O-1"}}

    def value(info):
        if rng.random() < 0.15:
            return None
        if info.kind == "enum":
            return rng.choice(info.values)
        if info.kind == "bool":
            return rng.random() < 0.5
        if info.kind == "int":
            return rng.choice([0, 1, 2, 3, 5, 6, 10, 11, 12]) if not info.minimum else rng.choice([1, 2, 4, 5, 6, 11])
        if info.kind == "money":
            return rng.choice(_MONEY)
        if info.kind == "date":
            return (DAY - dt.timedelta(days=rng.choice([0, 1, 29, 30, 31, 400]))).isoformat()
        if info.kind == "datetime":
            return f"2026-02-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:00:00+08:00"
        return None

    def obj(prefix: str) -> dict:
        out = {}
        for path, info in idx.items():
            if not path.startswith(prefix) or "." in path[len(prefix):] or info.kind in ("object",):
                continue
            name = path[len(prefix):]
            if info.kind == "list":
                elem = idx.get(path + "[]")
                if rng.random() < 0.1:
                    continue
                k = rng.choice([0, 1, 2])
                if elem is not None and elem.kind == "object":
                    out[name] = [obj(path + "[].") for _ in range(k)]
                elif elem is not None:
                    out[name] = [rng.choice(elem.values) for _ in range(k)]
                continue
            if info.kind == "string":
                continue
            v = value(info)
            if v is not None:
                out[name] = v
        return out

    for top in ("interaction", "venue", "transport", "enterprise", "approval", "tolerance", "lodging", "costs"):
        if rng.random() < 0.9:
            rec[top] = obj(top + ".")
    for lst in ("meals", "gifts", "enforcement_actions", "interventions"):
        if rng.random() < 0.9:
            elem = idx[lst + "[]"]
            k = rng.choice([0, 1, 2])
            rec[lst] = [obj(lst + "[].") for _ in range(k)] if elem.kind == "object" else \
                [rng.choice(elem.values) for _ in range(k)]
    return rec


def _agreement(paths, n_records=200):
    res = _load(*paths)
    an = Analyzer(res.program, res.params, Options("000000", DAY), VALIDATE)
    validator = default_validator()
    rng = random.Random(20261122)
    records = []
    for i in range(n_records * 3):
        data, _ = validator.validate(_random_record(rng, i))
        if data is not None:
            records.append(data)
        if len(records) >= n_records:
            break
    assert len(records) >= n_records // 2
    compared = 0
    for rule in an.active:
        if rule.record_kind != "interaction":  # the random records here are interactions
            continue
        compiled = CompiledRule(rule, an.evaluator.closures)
        sym = SymRecord({"id": "CX", "jurisdiction": "000000", "date": DAY}, {}, 2, EnumIds(), an.index, an.required)
        enc = Encoder(sym, an.pvalues)
        known, inst = an._instances(enc, rule)
        conds = [(present, an._cond(enc, rule, env)) for present, env in inst]
        if enc.approx:
            continue
        s = z3.Solver()
        s.add(sym.constraints)
        for r in records:
            pins = _pin(sym, r)
            if pins is None:
                continue
            s.push()
            s.add(pins)
            assert s.check() == z3.sat
            m = s.model()
            s.pop()
            p = an.pvalues
            window = {"$window": an._window(compiled, r, p)} if rule.window else {}
            if rule.foreach is None:
                expected = [compiled.cond(r, p, window)]
            else:
                items = compiled.coll(r, p, window)
                if items is None:
                    assert z3.is_false(m.eval(known, model_completion=True))
                    continue
                expected = [compiled.cond(r, p, {**window, compiled.var: x}) for x in items]
            for (present, (t, f)), want in zip(conds, expected):
                assert z3.is_true(m.eval(present, model_completion=True))
                got = True if z3.is_true(m.eval(t, model_completion=True)) else \
                    False if z3.is_true(m.eval(f, model_completion=True)) else None
                assert got == want, (rule.id, r)
                compared += 1
    return compared


def test_encoding_agrees_with_evaluator_on_test_packs():
    assert _agreement([PACKS / "conflict"]) > 200
    assert _agreement([PACKS / "dead"]) > 200
    assert _agreement([ROOT / "tests/checker/data/minipolicy"]) > 50


def test_encoding_agrees_with_evaluator_on_bundled_rules():
    res = load([str(ROOT / "rules")], bundled_schemas())
    if not res.ok:
        pytest.skip("bundled rules do not load yet")
    assert _agreement([ROOT / "rules"], 150) > 0


def test_decimal_text_and_datetimes():
    from policy_dsl.analysis.model import decimal_text, seconds_datetime

    assert decimal_text(z3.RealVal("6001/100")) == "60.01"
    assert decimal_text(z3.RealVal("1/3")) == "0.333333"
    when = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert seconds_datetime(datetime_seconds(when)) == when
    assert Decimal(decimal_text(z3.IntVal(7))) == 7


def test_bundled_rules_analyse_cleanly():
    """The bundled packs: every reported record is confirmed; nothing is undecided except the
    stated list bounds and the cross-record rule B11 (facts of the current rules/)."""
    res = load([str(ROOT / "rules")], bundled_schemas())
    if not res.ok:
        pytest.skip("bundled rules do not load yet")
    a = analyze(res.program, res.params, Options("150300", DAY), VALIDATE)
    an = Analyzer(res.program, res.params, Options("150300", DAY), VALIDATE)
    for issue in a.issues:
        if issue.record is not None:
            out = an.evaluate_raw(issue.record)
            assert out is not None and (out.outcome == "unlisted" if issue.kind == "gap" else True)
    assert {u.kind for u in a.undecided} <= {"gap", "dead_rule"}
    assert all("bounded" in u.reason[1] or "cross-record" in u.reason[1] for u in a.undecided)
