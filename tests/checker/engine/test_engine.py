"""The engine: windows over projections, two passes equal one, outcomes and summary."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

import pytest
import yaml

from checker.engine.engine import Engine, Options, Summary, invalid_entry
from checker.engine.policy import load_policy
from checker.engine.windows import WindowIndex, _path_tree, project, window_paths
from checker.input.records import LoadedRecord
from checker.input.validate import RecordError, default_validator

ROOT = Path(__file__).resolve().parents[3]
MINI = Path(__file__).parents[1] / "data" / "minipolicy"
FIXTURES = ROOT / "fixtures" / "records"


@pytest.fixture(scope="module")
def policy():
    return load_policy([MINI])


def raw_planned() -> dict:
    return yaml.safe_load((FIXTURES / "planned_meal.yaml").read_text(encoding="utf-8"))


def item(raw: dict, line: int = 1) -> LoadedRecord:
    data, errors = default_validator().validate(raw)
    return LoadedRecord("t.jsonl", line, f"t.jsonl:{line}", raw.get("id"), raw, data, errors)


def meal_record(rid: str, day: str, payer: str = "enterprise", official: str = "O-1",
                uscc: str = "91150302MA0NK4C71M") -> dict:
    r = raw_planned()
    r.update(id=rid, date=day, stage="completed")
    for k in ("start_at", "end_at", "declared_at"):
        r.pop(k, None)
    r["official"]["id"] = official
    r["enterprise"]["uscc"] = uscc
    r["meals"][0]["payer"] = payer
    return r


# ---- projections -----------------------------------------------------------------------
def test_window_paths_name_what_window_rules_read_from_window_records(policy):
    # B11: `window same official.id, enterprise.uscc …
    #       when enterprise.uscc is known and count(r in window where some m in r.meals: …payer…)`
    assert window_paths(policy.evaluator.window_rules) == {
        "id", "date", "jurisdiction", "meals", "meals[].payer"}


def test_bundled_window_rules_are_projected():
    paths = window_paths(load_policy(None, cache=True).evaluator.window_rules)
    assert paths is not None and "meals[].total_cny" not in paths


def test_projection_keeps_named_branches_and_list_lengths():
    tree = _path_tree({"id", "meals", "meals[].payer", "official.id", "official"})
    rec = {"id": "R", "meals": [{"payer": "enterprise", "total_cny": 1}, {"diners": 3}],
           "official": {"id": "O", "name": "张三"}, "venue": {"type": "hotel"}}
    assert project(rec, tree) == {"id": "R", "meals": [{"payer": "enterprise"}, {}],
                                  "official": {"id": "O"}}


def test_projections_are_stored_exactly():
    from decimal import Decimal

    from checker.engine.tagged import dumps as encode_projection
    from checker.engine.tagged import loads as decode_projection

    value = {"id": "R", "date": dt.date(2026, 1, 31), "meals": [{"total_cny": Decimal("768.00")}],
             "at": dt.datetime(2026, 1, 31, 18, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))),
             "n": 3, "ok": True, "none": None, "s": "$d"}
    back = decode_projection(encode_projection(value))
    assert back == value and str(back["meals"][0]["total_cny"]) == "768.00"
    assert type(back["date"]) is dt.date


def test_projection_leaf_keeps_whole_value():
    assert project({"interventions": ["leak_info"], "x": 1}, _path_tree({"interventions"})) == {
        "interventions": ["leak_info"]}


# ---- the window index ------------------------------------------------------------------
def test_window_counts_the_record_itself_once(policy):
    engine = Engine(policy)
    index = engine.new_index()
    items = [item(meal_record(f"R{i}", f"2026-11-{10 + i:02d}"), i) for i in range(3)]
    engine.index_items(items, index)
    c = policy.evaluator.window_rules[0]
    rec = items[2].data
    params = policy.evaluator.params.values_for(rec["jurisdiction"], rec["date"])
    found = index.lookup(c, rec, params, seq=2)
    assert [r["id"] for r in found] == ["R0", "R1", "R2"]
    assert found[2] is rec  # the record itself, whole; the others are projections
    assert "total_cny" not in found[0]["meals"][0]


def test_window_for_a_record_outside_the_batch_appends_it(policy):
    engine = Engine(policy)
    index = engine.new_index()
    engine.index_items([item(meal_record("R0", "2026-11-10"))], index)
    planned = item(meal_record("P", "2026-11-12")).data
    c = policy.evaluator.window_rules[0]
    params = policy.evaluator.params.values_for("150300", planned["date"])
    assert [r["id"] for r in index.lookup(c, planned, params)] == ["R0", "P"]


def test_window_respects_days_and_keys(policy):
    engine = Engine(policy)
    index = engine.new_index()
    recs = [meal_record("OLD", "2026-10-01"), meal_record("OTHER", "2026-11-10", official="O-2"),
            meal_record("IN", "2026-11-03"), meal_record("LATER", "2026-12-30"),
            meal_record("ME", "2026-12-03")]
    engine.index_items([item(r) for r in recs], index)
    me = item(recs[-1]).data
    c = policy.evaluator.window_rules[0]
    params = policy.evaluator.params.values_for("150300", me["date"])
    assert [r["id"] for r in index.lookup(c, me, params, seq=4)] == ["IN", "ME"]


def test_history_feeds_windows_and_comes_first(policy):
    engine = Engine(policy)
    hist = [item(meal_record(f"H{i}", f"2026-11-{20 + i}")).data for i in range(2)]
    entries = list(engine.check([item(meal_record("NOW", "2026-11-25"))], history=hist))
    assert [e["id"] for e in entries] == ["NOW"]
    b11 = [f for f in entries[0]["findings"] if f["rule"] == "B11"]
    assert b11 and b11[0]["outcome"] == "review"
    assert b11[0]["message"] == "30日内第3次接受同一企业付费用餐"


def test_no_window_finding_without_history(policy):
    engine = Engine(policy)
    entries = list(engine.check([item(meal_record("NOW", "2026-11-25"))]))
    assert not [f for f in entries[0]["findings"] if f["rule"] == "B11"]


def test_two_passes_equal_one_pass(policy):
    recs = [meal_record(f"R{i:03d}", (dt.date(2026, 1, 1) + dt.timedelta(days=(i * 7) % 90)).isoformat(),
                        official=f"O-{i % 3}", payer=("enterprise", "official_self")[i % 4 == 0])
            for i in range(60)]
    engine = Engine(policy, Options(lang="en"))
    one = list(engine.check([item(r, i) for i, r in enumerate(recs)]))
    index = engine.new_index()
    engine.index_items((item(r, i) for i, r in enumerate(recs)), index)
    two = list(engine.entries((item(r, i) for i, r in enumerate(recs)), index))
    assert one == two
    assert any(f["rule"] == "B11" for e in one for f in e["findings"])


def test_invalid_records_stay_out_of_windows(policy):
    engine = Engine(policy)
    bad = meal_record("BAD", "2026-11-20")
    bad["participants"] = {"officials": "two"}
    recs = [meal_record("A", "2026-11-19"), bad, meal_record("C", "2026-11-21")]
    entries = list(engine.check([item(r) for r in recs]))
    assert [e["outcome"] for e in entries][1] == "invalid"
    assert not [f for f in entries[2]["findings"] if f["rule"] == "B11"]


# ---- entries and summary ------------------------------------------------------------------
def test_entry_shape_and_summary(policy):
    summary = Summary()
    engine = Engine(policy)
    entries = list(engine.check([item(raw_planned())], summary=summary))
    e = entries[0]
    assert list(e) == ["id", "outcome", "jurisdiction", "date", "department", "source", "findings", "errors"]
    assert e["outcome"] == "violation" and e["department"] == "市场监督管理局"
    b1 = e["findings"][0]
    assert (b1["rule"], b1["via"], b1["element"]) == ("B1", "P3", "meals[0]")
    assert b1["message"] == "人均128.00元，超过标准60.00元（假定值，待核实本地标准）"
    assert b1["remedy"] == "补交差额68.00元/人"
    assert summary.to_dict() == {"records": 1, "violation": 1, "review": 0, "tolerated": 0,
                                 "compliant": 0, "unlisted": 0, "invalid": 0}


def test_english_messages(policy):
    e = next(Engine(policy, Options(lang="en")).check([item(raw_planned())]))
    assert e["findings"][0]["message"] == "128.00 CNY per person, above the cap of 60.00 CNY (assumed; verify the local standard)"


def test_review_names_missing_facts_as_questions(policy):
    r = raw_planned()
    del r["meals"][0]["diners"]
    e = next(Engine(policy).check([item(r)]))
    f = e["findings"][0]
    assert e["outcome"] == "review" and f["missing"] == ["meals[0].diners"]
    assert f["suggestion"]["questions"] == ["用餐·用餐人数（meals[0].diners）"]


def test_review_remedy_is_dropped_when_it_would_render_unknowns(policy):
    r = raw_planned()
    del r["meals"][0]["diners"]
    f = next(Engine(policy).check([item(r)]))["findings"][0]
    assert f["remedy"] is None


def test_invalid_entry_with_default_jurisdiction():
    raw = {"id": "X", "date": "2026-01-01", "official": {"department": "财政局"}}
    it = LoadedRecord("a.jsonl", 3, "a.jsonl:3", "X", raw, None,
                      [RecordError("$.stage", "required", "缺少必填字段 stage", "missing required field stage")])
    e = invalid_entry(it, "en", "150300")
    assert e == {"id": "X", "outcome": "invalid", "jurisdiction": "150300", "date": "2026-01-01",
                 "department": "财政局", "source": {"file": "a.jsonl", "line": 3, "location": "a.jsonl:3"},
                 "findings": [], "errors": [{"path": "$.stage", "code": "required",
                                             "message": "missing required field stage"}]}


def test_explain_lists_rules_values_and_parameters(policy):
    e = next(Engine(policy, Options(explain=True)).check([item(raw_planned())]))
    x = e["explanation"]
    p3 = next(r for r in x["rules"] if r["rule"] == "P3")
    assert p3["status"] == "applies"
    assert p3["requires"] == [{"boundary": "B1", "status": "breached"}, {"boundary": "B2", "status": "met"}]
    assert p3["element"] == "meals[0]"
    assert p3["values"]["meals[0].reason"] == "consultation_work_meal"  # the concrete path, not `m.reason`
    assert x["parameters"][0]["name"] == "meal_cap_per_person_cny"
    assert x["parameters"][0]["value"] == "60"


def test_window_index_without_projection_keeps_records(policy):
    index = WindowIndex(policy.evaluator.window_rules,
                        lambda r: policy.evaluator.params.values_for(r["jurisdiction"], r["date"]), None)
    rec = item(meal_record("A", "2026-11-01")).data
    index.add(rec, 0)
    other = copy.deepcopy(rec)
    other["id"] = "B"
    c = policy.evaluator.window_rules[0]
    found = index.lookup(c, other, index.params_for(other))
    assert found[0] == rec  # the whole record, decoded exactly (dates, decimals, datetimes)


# ---- the compiled-policy cache ------------------------------------------------------------
def test_policy_cache_round_trip(tmp_path, monkeypatch):
    from checker.engine import policy_cache

    monkeypatch.setenv("QINQING_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("QINQING_NO_CACHE", raising=False)
    fresh = load_policy([MINI])
    first = load_policy([MINI], cache=True)  # miss: compiles and writes
    files = list(tmp_path.glob("policy-*.json"))
    assert len(files) == 1
    cached = load_policy([MINI], cache=True)  # hit: no parser involved
    assert type(cached.result).__name__ == "CachedResult"
    assert cached.result.program == fresh.result.program
    assert cached.content_hash == fresh.content_hash == first.content_hash
    recs = [item(raw_planned()), item(meal_record("A", "2026-12-01"))]
    for lang in ("zh", "en"):
        want = list(Engine(fresh, Options(lang=lang, explain=True)).check(recs))
        assert list(Engine(cached, Options(lang=lang, explain=True)).check(recs)) == want
    assert policy_cache.cache_key([MINI]) in files[0].name


def test_policy_cache_refuses_anything_but_ir_data(tmp_path, monkeypatch):
    import orjson

    from checker.engine import policy_cache

    monkeypatch.setenv("QINQING_CACHE_DIR", str(tmp_path))
    key = policy_cache.cache_key([MINI])
    evil = {"format": policy_cache.FORMAT, "table": [{"$c": "os.system", "f": {"command": "true"}}],
            "root": {"program": {"$r": 0}, "params": None}}
    (tmp_path / f"policy-{key}.json").write_bytes(orjson.dumps(evil))
    assert policy_cache.read(key) is None
    (tmp_path / f"policy-{key}.json").write_bytes(b"\x80garbage")
    assert policy_cache.read(key) is None
    policy = load_policy([MINI], cache=True)  # falls back to compiling, and repairs the cache
    assert policy.result.ok and policy_cache.read(key) is not None


def test_policy_cache_key_follows_content(tmp_path):
    import shutil

    from checker.engine import policy_cache

    pack = tmp_path / "pack"
    shutil.copytree(MINI, pack)
    before = policy_cache.cache_key([pack])
    p = pack / "params" / "000000.yaml"
    p.write_text(p.read_text(encoding="utf-8").replace("value: 60", "value: 61"), encoding="utf-8")
    assert policy_cache.cache_key([pack]) != before
    assert policy_cache.cache_key([tmp_path / "missing"]) is None


def test_policy_cache_can_be_disabled(tmp_path, monkeypatch):
    monkeypatch.setenv("QINQING_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("QINQING_NO_CACHE", "1")
    load_policy([MINI], cache=True)
    assert list(tmp_path.iterdir()) == []


# ---- epochs: per-date lookups cached per interval ---------------------------------------------
def test_what_is_in_force_is_worked_out_once_per_interval_as_it_would_be_per_day(policy):
    from policy_dsl.evaluate import covers_jurisdiction

    ev = policy.evaluator
    packs = {p.name: p for p in ev.program.packs}
    day = dt.date(2009, 12, 25)
    while day < dt.date(2011, 1, 10):
        for code in ("150300", "000000"):
            got = ev.in_force(code, day)
            assert got.params == ev.params.values_for(code, day)
            want = [r.id for r in ev.program.rules if r.in_force(day) and packs[r.pack].in_force(day)
                    and covers_jurisdiction(packs[r.pack].applies_to, code)]
            assert [c.ir.id for c in [*got.rules, *got.tolerances]] == \
                [rid for rid in want if ev.by_id[rid] in (*got.rules, *got.tolerances)]
            assert {c.ir.id for c in [*got.rules, *got.tolerances]} == \
                {rid for rid in want if ev.by_id[rid].ir.when is not None or ev.by_id[rid].ir.kind == "tolerance"}
        day += dt.timedelta(days=3)


# ---- byte ranges for --jobs --------------------------------------------------------------------
def test_jsonl_ranges_cover_the_file_at_line_ends(tmp_path):
    import random

    from checker.run.parallel import jsonl_ranges

    rnd = random.Random(7)
    for trial in range(200):
        lines = [b"x" * rnd.randint(0, 50) for _ in range(rnd.randint(0, 80))]
        data = b"\n".join(lines) + (b"\n" if trial % 2 else b"")
        f = tmp_path / f"{trial}.jsonl"
        f.write_bytes(data)
        target, block = rnd.randint(1, 300), rnd.randint(1, 64)
        pos, line = 0, 1
        for start, end, first in jsonl_ranges(str(f), target, block):
            assert (start, first) == (pos, line) and end > start
            assert data[end - 1:end] == b"\n" or end == len(data)
            assert end - start >= target or end == len(data)
            line += data[start:end].count(b"\n")
            pos = end
        assert pos == len(data)


# ---- what would make it compliant ----------------------------------------------------------
def test_suggestion_rounds_long_decimals_in_the_direction_that_complies(policy):
    r = raw_planned()
    r["meals"][0]["total_cny"] = "1000.00"
    r["meals"][0]["diners"] = 7  # 142.857142… per person
    f = next(Engine(policy).check([item(r)]))["findings"][0]
    assert f["rule"] == "B1"
    assert "per_person_cny(m) 为 142.86，需不超过 60.00（减少 82.86）" in f["suggestion"]["text"]
    assert f["suggestion"]["changes"][0]["change"].startswith("-82.857142857")


def test_suggestions_never_ask_to_change_who_or_where(policy):
    from checker.findings.suggest import _actionable
    from policy_dsl import ir
    from policy_dsl import types as ty

    class T:
        def path_of(self, e):
            return None

    assert not _actionable(ir.ParamRef("meal_cap_per_person_cny", ty.MONEY), T())
    for path in ("official.organ_type", "jurisdiction", "enterprise.kind"):
        field = ir.Field(None, path.split(".")[-1], ty.STRING, path)
        assert not _actionable(field, T()), path
    assert _actionable(ir.Field(None, "alcohol", ty.STRING, "meals[].alcohol"), T())


def test_the_lookup_store_keeps_only_what_the_kinds_present_can_look_up():
    """Interactions look up prior filings (B15); only the filings' rules look interactions up
    (TF8): a batch of interactions keeps none of them, a batch with a filing keeps them all,
    also those read before the filing (they are read again)."""
    engine = Engine(load_policy(), Options())  # the bundled packs
    assert engine.ev.store_needs["interaction"] == {"tolerance_filing"}
    assert "interaction" in engine.ev.store_needs["tolerance_filing"]
    meals = [{"id": f"I-{i}", "date": dt.date(2024, 3, 5)} for i in range(3)]
    filing = {"id": "RC-1", "record_kind": "tolerance_filing", "date": dt.date(2024, 2, 1)}
    reads = []

    def batch(records):
        def read():
            reads.append(1)
            return iter(records)
        return read

    assert len(engine.new_store(lambda: [], batch(meals))) == 0 and len(reads) == 1
    reads.clear()
    store = engine.new_store(lambda: [], batch([*meals, filing]))
    assert len(reads) == 2  # the interactions went by before the filing said they are needed
    assert store.get("I-0", "interaction") is meals[0] and store.get("RC-1", "tolerance_filing") is filing and len(store) == 4
    reads.clear()
    store = engine.new_store(lambda: [filing], batch(meals))  # the filing in the history
    assert len(store) == 4 and store.get("RC-1", "tolerance_filing") is filing
    assert store.get("RC-1", "interaction") is None  # a lookup of another kind does not find it
