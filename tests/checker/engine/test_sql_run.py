"""The SQL engines stream a batch: records written in stored form as they are read, one file per
kind (each by its kind's own type), findings rows handed back in record order, and the engine's
files and connection released once the rows are consumed or abandoned."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

pytest.importorskip("duckdb")

from checker.engine.engine import Engine, Options  # noqa: E402
from checker.engine.policy import load_policy  # noqa: E402
from checker.engine.sql import Rows, SqlRun  # noqa: E402
from checker.input.records import iter_records  # noqa: E402
from policy_dsl.backends.sql import run  # noqa: E402
from policy_dsl.backends.sql.program import kinds_read  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "fixtures" / "sample" / "batch.jsonl"
KINDS = ROOT / "fixtures" / "kinds"


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(load_policy(None, cache=True), Options())


def records(engine: Engine, *paths: Path, limit: int = 150) -> list[tuple[int, dict]]:
    out = []
    for path in paths:
        items = [it.data for it in iter_records([path], validator=engine.policy.validator()) if it.data is not None]
        out += items[:limit]
    return list(enumerate(out))


def test_found_runs_its_callbacks_once_whether_consumed_or_abandoned() -> None:
    calls: list[str] = []
    found = run.Found(iter([(1,), (2,)]), lambda: calls.append("a")).then(lambda: calls.append("b"))
    assert list(found) == [(1,), (2,)] and calls == ["a", "b"]
    found.close()
    assert calls == ["a", "b"]
    unstarted = run.Found(iter([(1,)]), lambda: calls.append("c"))
    unstarted.close()
    assert calls == ["a", "b", "c"]


def test_records_are_written_one_file_per_kind_and_a_program_reads_its_kinds(engine: Engine) -> None:
    batch = records(engine, SAMPLE, KINDS / "complaint.jsonl", KINDS / "unit_rating.jsonl", limit=40)
    writer = run.RecordsWriter(engine.ev, kinds_read(engine.ev.program))
    try:
        for seq, r in batch:
            writer.add(seq, r)
        writer.close()
        assert writer.present == {"interaction", "complaint", "unit_rating"}
        assert set(writer.files) == {"interaction", "complaint", "unit_rating"}
        assert len(writer.seqs) == len(batch)
        sub = SqlRun(engine, "duckdb", 1)
        feeder = sub.feeder_for({"complaint"})
        inputs = feeder.inputs(writer)
        assert inputs.recs == [writer.files["complaint"].name]  # (no rule of it reads the others)
        assert inputs.n_epochs >= 1 and inputs.fallback == []
    finally:
        writer.discard()
    assert not Path(writer.folder).exists()


@pytest.mark.parametrize("consume", [True, False])
def test_a_duckdb_run_streams_and_leaves_nothing_behind(engine: Engine, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch, consume: bool) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    batch = records(engine, SAMPLE)
    sql = SqlRun(engine, "duckdb", 1)
    rows, fallback = sql.rows(iter(batch), [])
    assert fallback == []
    assert not list(tmp_path.glob("qinqing-sql-*"))  # (loaded: DuckDB holds the records)
    if consume:
        seqs = [row[Rows.AT["seq"]] for row in rows]
        assert seqs and seqs == sorted(seqs) and set(seqs) <= {s for s, _ in batch}
        with pytest.raises(StopIteration):
            next(rows)
    else:
        next(rows)
        rows.close()
    rows.close()  # (again: nothing more to release)
