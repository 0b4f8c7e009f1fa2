"""The window index: lookups by bisection equal a plain scan of the batch, whatever the hashes
share; projections and the bounded cache of decoded ones."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest
import yaml

from checker.engine import windows as eng
from checker.engine.engine import Engine
from checker.engine.policy import load_policy
from checker.engine.windows import _path_tree, project, projector
from checker.input.validate import default_validator

ROOT = Path(__file__).resolve().parents[3]
MINI = Path(__file__).parents[1] / "data" / "minipolicy"
DAYS = 30  # the mini policy's B11: `window same official.id, enterprise.uscc within 30 days`


@pytest.fixture(scope="module")
def policy():
    return load_policy([MINI])


def _record(rid: str, day: dt.date, official: str, uscc: str | None) -> dict:
    r = yaml.safe_load((ROOT / "fixtures" / "records" / "planned_meal.yaml").read_text(encoding="utf-8"))
    r.update(id=rid, date=day.isoformat(), stage="completed")
    for k in ("start_at", "end_at", "declared_at"):
        r.pop(k, None)
    r["official"]["id"] = official
    r["enterprise"]["uscc"] = uscc
    return r


def _batch(n: int, seed: int) -> list[dict]:
    rnd = random.Random(seed)
    usccs = ["91150302MA0NK4C71M", "91371003MAL5AQ160Y", None]
    out = []
    for i in range(n):
        day = dt.date(2026, 1, 1) + dt.timedelta(days=rnd.randrange(120))
        raw = _record(f"R{i}", day, f"O-{rnd.randrange(3)}", rnd.choice(usccs))
        data, errors = default_validator().validate(raw)
        assert data is not None, errors
        out.append(data)
    return out


def _scan(batch: list[dict], me: dict, seq: int | None) -> list[str] | None:
    """The window by definition: same keys, dated within the window, in (date, position) order,
    the record itself included once."""
    key = (me["official"]["id"], me["enterprise"].get("uscc"))
    if key[1] is None:
        return None
    lo, hi = me["date"] - dt.timedelta(days=DAYS), me["date"]
    found = sorted((r["date"], i, r["id"]) for i, r in enumerate(batch)
                   if (r["official"]["id"], r["enterprise"].get("uscc")) == key and lo <= r["date"] <= hi)
    ids = [rid for _d, _i, rid in found]
    if seq is None:
        ids.append(me["id"])
    return ids


def _lookups(policy, batch: list[dict], extra: list[dict]) -> list:
    engine = Engine(policy)
    index = engine.new_index()
    for seq, r in enumerate(batch):
        index.add(r, seq)
    c = policy.evaluator.window_rules[0]
    out = []
    for seq, r in [*enumerate(batch), *((None, r) for r in extra)]:
        found = index.lookup(c, r, policy.evaluator.params.values_for(r["jurisdiction"], r["date"]), seq)
        out.append(None if found is None else [x["id"] for x in found])
        if found is not None:
            assert sum(x is r for x in found) == 1  # the record itself, whole, once
    return out


def test_lookups_equal_a_scan_of_the_batch(policy):
    batch = _batch(300, seed=1)
    extra = [_record("PLANNED", dt.date(2026, 3, 1), "O-1", "91150302MA0NK4C71M")]
    extra = [default_validator().validate(r)[0] for r in extra]
    want = [_scan(batch, r, i) for i, r in enumerate(batch)] + [_scan(batch, r, None) for r in extra]
    assert _lookups(policy, batch, extra) == want
    assert any(w is not None and len(w) > 2 for w in want)


def test_lookups_tell_slots_apart_that_share_their_upper_hash_bits(policy, monkeypatch):
    real = eng._slot_hash
    monkeypatch.setattr(eng, "_slot_hash", lambda slot: (7, real(slot)[1]))
    batch = _batch(200, seed=2)
    assert _lookups(policy, batch, []) == [_scan(batch, r, i) for i, r in enumerate(batch)]


def test_decoded_projections_are_cached_within_a_bound(policy, monkeypatch):
    monkeypatch.setattr(eng, "DECODED_CACHE", 3)
    batch = _batch(200, seed=3)
    engine = Engine(policy)
    index = engine.new_index()
    for seq, r in enumerate(batch):
        index.add(r, seq)
    c = policy.evaluator.window_rules[0]
    for seq, r in enumerate(batch):
        params = policy.evaluator.params.values_for(r["jurisdiction"], r["date"])
        first = index.lookup(c, r, params, seq)
        again = index.lookup(c, r, params, seq)
        assert first == again
        assert len(index._decoded) <= 3
    assert [None if (w := index.lookup(c, r, {}, i)) is None else [x["id"] for x in w]
            for i, r in enumerate(batch)] == [_scan(batch, r, i) for i, r in enumerate(batch)]


def test_filing_after_lookups_refreezes_and_forgets_decoded(policy):
    batch = _batch(50, seed=4)
    engine = Engine(policy)
    index = engine.new_index()
    for seq, r in enumerate(batch[:40]):
        index.add(r, seq)
    c = policy.evaluator.window_rules[0]
    for seq, r in enumerate(batch[:40]):
        index.lookup(c, r, {}, seq)
    for seq, r in enumerate(batch[40:], 40):
        index.add(r, seq)
    got = [None if (w := index.lookup(c, r, {}, i)) is None else [x["id"] for x in w]
           for i, r in enumerate(batch)]
    assert got == [_scan(batch, r, i) for i, r in enumerate(batch)]


def test_projector_equals_project_on_nested_lists_and_leaves():
    tree = _path_tree({"id", "meals", "meals[].payer", "official", "official.id", "tags"})
    rec = {"id": "R", "meals": [{"payer": "enterprise", "total_cny": 1}, {"diners": 3}, "odd"],
           "official": {"id": "O", "name": "张三"}, "tags": [["a"], {"b": 1}], "venue": {"type": "x"},
           "nested": [[{"payer": "x"}]]}
    want = {"id": "R", "meals": [{"payer": "enterprise"}, {}, "odd"], "official": {"id": "O"},
            "tags": [["a"], {"b": 1}]}
    assert project(rec, tree) == projector(tree)(rec) == want
    assert projector(_path_tree({"meals[].payer"}))([{"meals": [[{"payer": 1, "x": 2}]]}]) == [
        {"meals": [[{"payer": 1}]]}]
    assert project(rec, {}) is rec


def test_window_records_come_back_as_their_projections(policy):
    batch = _batch(120, seed=5)
    engine = Engine(policy)
    index = engine.new_index()
    for seq, r in enumerate(batch):
        index.add(r, seq)
    by_id = {r["id"]: r for r in batch}
    c = policy.evaluator.window_rules[0]
    seen = 0
    for seq, r in enumerate(batch):
        for x in index.lookup(c, r, {}, seq) or ():
            if x is r:
                continue
            want = project(by_id[x["id"]], index.tree)
            assert x == want and list(x) == list(want) and type(x["date"]) is dt.date
            seen += 1
    assert seen


def test_a_date_that_is_not_a_plain_date_is_stored_with_the_projection(policy):
    engine = Engine(policy)
    index = engine.new_index()
    a, b = _batch(2, seed=6)
    b = {**b, "official": a["official"], "enterprise": a["enterprise"]}
    later = dt.datetime.combine(a["date"], dt.time(9)).replace(tzinfo=dt.UTC)
    index.file(index.slots(a), 0, {**a, "date": later})
    index.add(b, 1)
    c = policy.evaluator.window_rules[0]
    found = index.lookup(c, {**a, "date": a["date"] + dt.timedelta(days=1)}, {}, None)
    assert later in [x["date"] for x in found]


TWO_WINDOWS = """
policy t.win "窗口" / "Windows"
  version "0.1"
  source "test"
  in force from 2013-01-01
  applies to all

boundary W1 "同一企业" / "Same firm"
  severity low
  cite "t"
  outcome review
  window same official.id, enterprise.uscc within 30 days
  when count(r in window where r.id != id) > 0

boundary W2 "同一官员" / "Same official"
  severity low
  cite "t"
  outcome review
  window same official.id within 10 days
  when count(r in window where r.id != id) > 1
"""


def test_several_window_rules_each_find_their_own_slot(tmp_path):
    (tmp_path / "w.policy").write_text(TWO_WINDOWS, encoding="utf-8")
    policy = load_policy([tmp_path / "w.policy"])
    w1, w2 = policy.evaluator.window_rules
    batch = _batch(150, seed=7)
    engine = Engine(policy)
    index = engine.new_index()
    for seq, r in enumerate(batch):
        index.add(r, seq)
    for seq, r in enumerate(batch):
        assert _ids(index.lookup(w1, r, {}, seq)) == _scan(batch, r, seq)
        day, official = r["date"], r["official"]["id"]
        want = [x["id"] for _d, _i, x in sorted((x["date"], i, x) for i, x in enumerate(batch)
                if x["official"]["id"] == official and day - dt.timedelta(days=10) <= x["date"] <= day)]
        assert _ids(index.lookup(w2, r, {}, seq)) == want
    assert index._own and len(index._own) == 2


def test_a_position_filed_twice_is_looked_up_by_its_keys(policy, monkeypatch):
    batch = _batch(60, seed=8)
    c = policy.evaluator.window_rules[0]

    def windows(twice: bool) -> list:
        index = Engine(policy).new_index()
        for seq, r in enumerate(batch):
            index.add(r, seq)
        if twice:
            index.add(batch[0], 0)
        got = [_ids(index.lookup(c, r, {}, seq)) for seq, r in enumerate(batch)]
        return got, index._own

    got, own = windows(twice=True)
    assert own == []
    monkeypatch.setattr(eng.WindowIndex, "_own_entries", lambda self: [])
    assert windows(twice=True)[0] == got  # the same windows as by keys and hashes
    other = default_validator().validate(_record("X", dt.date(2026, 2, 1), "O-1", None))[0]
    index = Engine(policy).new_index()
    index.add(batch[1], 0)
    assert index.lookup(c, other, {}, 10_000) is None  # not filed, a key unknown


def test_own_entries_give_the_windows_keys_give(policy, monkeypatch):
    batch = _batch(150, seed=9)
    c = policy.evaluator.window_rules[0]

    def windows() -> list:
        index = Engine(policy).new_index(history=batch[:20])
        for seq, r in enumerate(batch[20:]):
            index.add(r, seq)
        return [_ids(index.lookup(c, r, {}, seq)) for seq, r in enumerate(batch[20:])] + \
            [_ids(index.lookup(c, r, {}, seq - 20)) for seq, r in enumerate(batch[:20])]

    fast = windows()
    monkeypatch.setattr(eng.WindowIndex, "_own_entries", lambda self: [])
    assert windows() == fast


def _ids(found: list[dict] | None) -> list[str] | None:
    return None if found is None else [x["id"] for x in found]
