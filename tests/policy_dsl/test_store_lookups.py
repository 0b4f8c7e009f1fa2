"""Lookups read the records a run knows (`$store`), which differ from run to run: a value that
depends on them is never kept from one evaluation for another (memoisation, caches)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from checker.schema import bundled_schemas
from policy_dsl.evaluate import Evaluator
from policy_dsl.load import load
from policy_dsl.store import MemoryStore

PACK = """policy t.s "备案" / "Filings"
forbid N8 "备案人员不含本人" / "Not among the filing's officials"
  severity low
  cite "t"
  when not (some o in lookup(tolerance_filing, tolerance.prefiling_id).officials: o.id == official.id)
forbid N9 "同一单位备案两件以上" / "Two filings of one unit"
  severity low
  cite "t"
  when count(f in records(f in tolerance_filing where f.unit.id == official.unit_id)) >= 2
"""


def filing(i: str, official: str, unit: str = "U-1") -> dict:
    return {"record_kind": "tolerance_filing", "id": i, "jurisdiction": "150302", "date": dt.date(2025, 8, 1),
            "unit": {"id": unit}, "officials": [{"id": official}]}


def test_the_same_record_against_two_stores(tmp_path: Path) -> None:
    (tmp_path / "t.policy").write_text(PACK, encoding="utf-8")
    result = load([tmp_path], bundled_schemas())
    assert result.ok
    ev = Evaluator(result.program, result.params)
    act = {"id": "A", "stage": "completed", "jurisdiction": "150302", "date": dt.date(2025, 9, 1),
           "official": {"id": "O-1", "unit_id": "U-1"}, "tolerance": {"prefiling_id": "F-1"}}
    first = ev.evaluate(act, store=MemoryStore([filing("F-1", "O-1")]))
    assert first.outcome == "unlisted"
    second = ev.evaluate(act, store=MemoryStore([filing("F-1", "O-2"), filing("F-2", "O-3")]))
    assert sorted(f.rule.id for f in second.findings) == ["N8", "N9"]
    third = ev.evaluate(act)  # no records known: unknown, never false
    assert sorted((f.rule.id, f.outcome) for f in third.findings) == [("N8", "review"), ("N9", "review")]
