"""The embedded ledger: canonical JSON, transactional imports, history, CLI."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from checker.store.ledger import (
    Ledger,
    LedgerError,
    default_ledger_path,
    from_canonical_json,
    to_canonical_json,
)

CST = dt.timezone(dt.timedelta(hours=8))


def rec(rid: str, official: str = "O-0042", day: int = 5, **extra: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": rid,
        "stage": "completed",
        "jurisdiction": "150300",
        "date": dt.date(2024, 3, day),
        "official": {"id": official, "name": "张三"},
    }
    record.update(extra)
    return record


def full_record() -> dict[str, Any]:
    return rec(
        "R-1",
        start_at=dt.datetime(2024, 3, 5, 11, 30, tzinfo=CST),
        enterprise={"name": "某某科技有限公司", "uscc": "91150300MA0N000000"},
        meals=[
            {
                "type": "lunch",
                "total_cny": Decimal("75.00"),
                "diners": 5,
                "official_paid_cny": Decimal(30),
            }
        ],
        gifts=[{"value_cny": Decimal(150), "received_on": dt.date(2024, 9, 14)}],
    )


@pytest.fixture
def ledger(tmp_path: Path):
    with Ledger(tmp_path / "ledger.sqlite3") as opened:
        yield opened


# --------------------------------------------------------------------------- canonical JSON


def test_canonical_json_is_sorted_compact_and_exact() -> None:
    text = to_canonical_json(
        {"b": Decimal("75.00"), "a": dt.date(2024, 3, 5), "名": "张三", "n": Decimal("1E+2")}
    )
    assert text == '{"a":"2024-03-05","b":"75.00","n":"100","名":"张三"}'


def test_canonical_json_datetime_keeps_offset_and_rejects_naive() -> None:
    aware = dt.datetime(2024, 3, 5, 11, 30, tzinfo=CST)
    assert to_canonical_json({"t": aware}) == '{"t":"2024-03-05T11:30:00+08:00"}'
    with pytest.raises(ValueError, match="time zone"):
        to_canonical_json({"t": dt.datetime(2024, 3, 5, 11, 30)})


def test_canonical_json_rejects_non_finite() -> None:
    with pytest.raises(ValueError):
        to_canonical_json({"x": Decimal("NaN")})
    with pytest.raises(ValueError):
        to_canonical_json({"x": float("inf")})


def test_canonical_round_trip_restores_types() -> None:
    record = full_record()
    restored = from_canonical_json(to_canonical_json(record))
    assert restored["date"] == dt.date(2024, 3, 5)
    assert restored["start_at"] == dt.datetime(2024, 3, 5, 11, 30, tzinfo=CST)
    meal = restored["meals"][0]
    assert meal["total_cny"] == Decimal("75.00") and isinstance(meal["total_cny"], Decimal)
    assert restored["gifts"][0]["received_on"] == dt.date(2024, 9, 14)
    assert restored["official"] == {"id": "O-0042", "name": "张三"}
    # and the canonical text is a fixed point
    assert to_canonical_json(restored) == to_canonical_json(record)


def test_canonical_fallback_keeps_unparseable_strings(monkeypatch) -> None:
    import checker.store.canonical as canonical_mod

    monkeypatch.setattr(canonical_mod, "_validator", lambda: None)
    restored = from_canonical_json(
        '{"date":"not a date","x_cny":"abc","at":"x","y_at":"2024-01-01"}'
    )
    assert restored["date"] == "not a date"
    assert restored["x_cny"] == "abc"
    assert restored["y_at"] == "2024-01-01"  # naive: left as text


# --------------------------------------------------------------------------- opening


def test_default_path_is_in_user_data_dir() -> None:
    from platformdirs import user_data_dir

    assert default_ledger_path() == Path(user_data_dir("qinqing")) / "ledger.sqlite3"


def test_new_ledger_has_wal_full_sync_and_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "l.sqlite3"
    with Ledger(path) as ledger:
        conn = ledger._conn
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(2,)]
        assert ledger.count() == 0
    with Ledger(path) as again:  # reopening keeps one version row
        assert again._conn.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == 1


def test_missing_ledger_when_create_is_false(tmp_path: Path) -> None:
    with pytest.raises(LedgerError) as info:
        Ledger(tmp_path / "none.sqlite3", create=False)
    assert info.value.code == "ledger_missing"
    assert info.value.message("zh") == f"账本不存在：{tmp_path / 'none.sqlite3'}"
    assert info.value.message("en") == f"Ledger not found: {tmp_path / 'none.sqlite3'}"
    assert not (tmp_path / "none.sqlite3").exists()


def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "junk.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(LedgerError) as info:
        Ledger(path)
    assert info.value.code == "ledger_unreadable"
    assert info.value.message_zh.startswith(f"无法打开账本 {path}：")
    assert info.value.message_en.startswith(f"Cannot open ledger {path}: ")


def test_newer_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite3"
    Ledger(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE schema_version SET version = 9")
    conn.commit()
    conn.close()
    with pytest.raises(LedgerError) as info:
        Ledger(path)
    assert info.value.code == "ledger_newer"
    assert info.value.message_zh == f"账本 {path} 的格式版本为 9，本程序只支持 2"
    assert info.value.message_en == f"Ledger {path} has format version 9; this program supports 2"


# --------------------------------------------------------------------------- adding


def test_add_and_read_back(ledger: Ledger) -> None:
    assert ledger.add_records([full_record(), rec("R-2", day=6)], source="a.jsonl") == 2
    assert ledger.count() == 2
    got = ledger.get("R-1")
    assert got is not None
    assert got["meals"][0]["total_cny"] == Decimal("75.00")
    assert got["enterprise"]["uscc"] == "91150300MA0N000000"
    assert ledger.get("R-404") is None
    row = ledger._conn.execute(
        "SELECT official_id, enterprise_uscc, date, stage, jurisdiction, source, added_at"
        " FROM records WHERE id = 'R-1'"
    ).fetchone()
    assert row[:6] == (
        "O-0042",
        "91150300MA0N000000",
        "2024-03-05",
        "completed",
        "150300",
        "a.jsonl",
    )
    assert row[6].endswith("Z") and dt.datetime.fromisoformat(row[6]).tzinfo is not None


def test_empty_file_adds_nothing(ledger: Ledger) -> None:
    assert ledger.add_records([], source="empty.jsonl") == 0
    assert ledger.count() == 0


def test_duplicate_against_ledger_rejects_whole_file(ledger: Ledger) -> None:
    ledger.add_records([rec("R-1")], source="a.jsonl")
    with pytest.raises(LedgerError) as info:
        ledger.add_records([rec("R-2"), rec("R-1"), rec("R-3")], source="b.jsonl")
    err = info.value
    assert err.code == "duplicate_ids"
    assert err.duplicate_ids == ("R-1",)
    assert (
        err.message_zh == "b.jsonl：整个文件未导入（0 条记录写入）。账本中已有这些记录编号：R-1。"
    )
    assert err.message_en == (
        "b.jsonl: file rejected, no record added. Record ids already in the ledger: R-1."
    )
    assert ledger.count() == 1
    assert ledger.get("R-2") is None
    assert ledger._conn.execute("SELECT COUNT(*) FROM imports").fetchone()[0] == 1


def test_duplicate_within_file(ledger: Ledger) -> None:
    with pytest.raises(LedgerError) as info:
        ledger.add_records([rec("R-1"), rec("R-2"), rec("R-1"), rec("R-1")], source="a.jsonl")
    assert info.value.message_zh == (
        "a.jsonl：整个文件未导入（0 条记录写入）。文件内重复的记录编号：R-1。"
    )
    assert info.value.message_en == (
        "a.jsonl: file rejected, no record added. Record ids repeated within the file: R-1."
    )
    assert ledger.count() == 0


def test_many_duplicates_are_listed_up_to_ten(ledger: Ledger) -> None:
    ledger.add_records([rec(f"R-{i:02d}") for i in range(25)], source="a.jsonl")
    with pytest.raises(LedgerError) as info:
        ledger.add_records([rec(f"R-{i:02d}") for i in range(25)], source="a.jsonl")
    ids = "、".join(f"R-{i:02d}" for i in range(10))
    assert info.value.message_zh.endswith(f"账本中已有这些记录编号：{ids} …另有 15 个。")
    ids_en = ", ".join(f"R-{i:02d}" for i in range(10))
    assert info.value.message_en.endswith(
        f"Record ids already in the ledger: {ids_en} …and 15 more."
    )
    assert len(info.value.duplicate_ids) == 25
    assert ledger.count() == 25


def test_invalid_dicts_are_named(ledger: Ledger) -> None:
    bad_date = rec("R-2")
    bad_date["date"] = "2024-03-05"  # not normalised
    no_official = rec("R-3")
    del no_official["official"]
    with pytest.raises(LedgerError) as info:
        ledger.add_records([rec("R-1"), bad_date, no_official], source="x.json")
    err = info.value
    assert err.code == "invalid_records"
    assert err.message_zh == (
        "x.json：整个文件未导入（0 条记录写入）。"
        "无效记录：x.json#2 date 须为日期、x.json#3 缺少 official.id。"
    )
    assert err.message_en == (
        "x.json: file rejected, no record added. "
        "Invalid records: x.json#2 date must be a date, x.json#3 missing official.id."
    )
    assert ledger.count() == 0


@pytest.mark.parametrize(
    ("change", "zh", "en"),
    [
        ({"id": ""}, "缺少记录编号 id", "missing record id"),
        (
            {"stage": "done"},
            "stage 须为 planned 或 completed",
            "stage must be planned or completed",
        ),
        ({"jurisdiction": None}, "缺少 jurisdiction", "missing jurisdiction"),
        ({"official": {"id": ""}}, "缺少 official.id", "missing official.id"),
        (
            {"date": dt.datetime(2024, 3, 5, tzinfo=CST)},
            "date 须为日期",
            "date must be a date",
        ),
    ],
)
def test_structural_checks(ledger: Ledger, change: dict, zh: str, en: str) -> None:
    record = rec("R-1")
    record.update(change)
    with pytest.raises(LedgerError) as info:
        ledger.add_records([record], source="f")
    assert info.value.message_zh.endswith(f"无效记录：f#1 {zh}。")
    assert info.value.message_en.endswith(f"Invalid records: f#1 {en}.")


def test_unencodable_record_is_invalid(ledger: Ledger) -> None:
    with pytest.raises(LedgerError) as info:
        ledger.add_records([rec("R-1", start_at=dt.datetime(2024, 3, 5))], source="f")
    assert "f#1 无法编码：datetime without a time zone" in info.value.message_zh
    assert "f#1 cannot encode: datetime without a time zone" in info.value.message_en


def test_loaded_records_are_named_by_location(ledger: Ledger) -> None:
    error = SimpleNamespace(
        path="official.id", code="required", message_zh="缺少必填字段", message_en="required"
    )
    good = SimpleNamespace(
        source="a.jsonl",
        line=1,
        location="a.jsonl:1",
        record_id="R-1",
        raw={},
        data=rec("R-1"),
        errors=[],
        valid=True,
    )
    bad = SimpleNamespace(
        source="a.jsonl",
        line=2,
        location="a.jsonl:2",
        record_id="R-2",
        raw={},
        data=None,
        errors=[error],
        valid=False,
    )
    with pytest.raises(LedgerError) as info:
        ledger.add_records([good, bad], source="a.jsonl")
    assert info.value.message_zh.endswith("无效记录：a.jsonl:2 official.id: 缺少必填字段。")
    assert info.value.message_en.endswith("Invalid records: a.jsonl:2 official.id: required.")
    assert ledger.add_records([good], source="a.jsonl") == 1


def test_mixed_problems_report_everything(ledger: Ledger) -> None:
    ledger.add_records([rec("R-9")], source="old")
    bad = rec("R-3")
    bad["stage"] = None
    with pytest.raises(LedgerError) as info:
        ledger.add_records([rec("R-1"), rec("R-1"), bad, rec("R-9")], source="new")
    err = info.value
    assert err.code == "invalid_records"
    assert err.message_en == (
        "new: file rejected, no record added. Record ids already in the ledger: R-9. "
        "Record ids repeated within the file: R-1. "
        "Invalid records: new#3 stage must be planned or completed."
    )
    assert ledger.count() == 1


def test_error_while_streaming_rolls_back(ledger: Ledger) -> None:
    def records():
        yield rec("R-1")
        yield rec("R-2")
        raise OSError("disk went away")

    with pytest.raises(OSError, match="disk went away"):
        ledger.add_records(records(), source="a")
    assert ledger.count() == 0
    assert ledger.add_records([rec("R-1")], source="a") == 1  # usable afterwards


def test_imports_table_counts_each_file(ledger: Ledger) -> None:
    ledger.add_records([rec("R-1"), rec("R-2")], source="a")
    ledger.add_records([rec("R-3")], source="b")
    rows = ledger._conn.execute("SELECT source, record_count FROM imports ORDER BY id").fetchall()
    assert rows == [("a", 2), ("b", 1)]


def test_too_many_records(ledger: Ledger, monkeypatch) -> None:
    import checker.store.ledger as ledger_mod

    monkeypatch.setattr(ledger_mod, "MAX_RECORDS_PER_FILE", 3)
    with pytest.raises(LedgerError) as info:
        ledger.add_records([rec(f"R-{i}") for i in range(5)], source="big")
    assert info.value.code == "too_many_records"
    assert info.value.message_zh == "big：整个文件未导入：记录超过 3 条，请拆分文件"
    assert info.value.message_en == "big: file rejected: more than 3 records; split the file"
    assert ledger.count() == 0


# --------------------------------------------------------------------------- history


def test_history_orders_by_date_then_id_and_filters(ledger: Ledger) -> None:
    ledger.add_records(
        [
            rec("R-b", day=7),
            rec("R-a", day=7),
            rec("R-c", day=3),
            rec("R-x", official="O-1", day=4),
            rec("R-p", day=9, stage="planned"),
        ],
        source="a",
    )

    def ids(records: list[dict]) -> list[str]:
        return [r["id"] for r in records]

    assert ids(ledger.history("O-0042")) == ["R-c", "R-a", "R-b", "R-p"]
    assert ids(ledger.history("O-0042", until=dt.date(2024, 3, 7))) == ["R-c", "R-a", "R-b"]
    assert ids(ledger.history("O-0042", since=dt.date(2024, 3, 7))) == ["R-a", "R-b", "R-p"]
    assert ids(ledger.history("O-0042", since=dt.date(2024, 3, 4), until=dt.date(2024, 3, 6))) == []
    assert ids(ledger.history("O-0042", stage="completed")) == ["R-c", "R-a", "R-b"]
    assert ids(ledger.history("O-1")) == ["R-x"]
    assert ledger.history("O-404") == []
    assert isinstance(ledger.history("O-1")[0]["date"], dt.date)


def test_rows(ledger: Ledger) -> None:
    ledger.add_records([rec("R-2", day=6), rec("R-1", official="O-1")], source="a.jsonl")
    rows = list(ledger.rows())
    assert [r.id for r in rows] == ["R-1", "R-2"]
    assert rows[0].date == dt.date(2024, 3, 5) and rows[0].source == "a.jsonl"
    assert [r.id for r in ledger.rows("O-1")] == ["R-1"]


def test_two_connections_see_committed_data(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite3"
    with Ledger(path) as one, Ledger(path) as two:
        one.add_records([rec("R-1")], source="a")
        assert two.count() == 1
        with pytest.raises(LedgerError):
            two.add_records([rec("R-1")], source="b")


def test_canonical_json_stored_verbatim(ledger: Ledger) -> None:
    record = full_record()
    ledger.add_records([record], source="a")
    stored = ledger._conn.execute("SELECT record_json FROM records").fetchone()[0]
    assert stored == to_canonical_json(record)
    assert json.loads(stored)["meals"][0]["total_cny"] == "75.00"


def test_round_trip_uses_the_validator_when_available() -> None:
    pytest.importorskip("checker.input.validate")
    from checker.store.canonical import _validator

    validator = _validator()
    assert validator is not None
    text = to_canonical_json(full_record())
    data, errors = validator.validate(json.loads(text))
    assert errors == []
    assert from_canonical_json(text) == data


def test_round_trip_falls_back_when_the_validator_rejects(monkeypatch) -> None:
    import checker.store.canonical as canonical_mod

    class Refusing:
        def validate(self, raw):
            return None, ["changed schema"]

    monkeypatch.setattr(canonical_mod, "_validator", lambda: Refusing())
    restored = from_canonical_json(to_canonical_json(full_record()))
    assert restored["meals"][0]["total_cny"] == Decimal("75.00")
    assert restored["start_at"] == dt.datetime(2024, 3, 5, 11, 30, tzinfo=CST)


# --------------------------------------------------------------------------- CLI


@pytest.fixture(scope="module")
def cli_app():
    from checker.cli import _register_all, app

    _register_all()
    return app


def invoke(app, *args: str):
    from typer.testing import CliRunner

    return CliRunner().invoke(app, list(args))


def seeded(tmp_path: Path) -> Path:
    path = tmp_path / "l.sqlite3"
    with Ledger(path) as ledger:
        ledger.add_records([rec("R-2", day=6), rec("R-1", official="O-1")], source="a.jsonl")
    return path


def test_cli_count(tmp_path: Path, cli_app) -> None:
    path = seeded(tmp_path)
    result = invoke(cli_app, "ledger", "count", "--ledger", str(path))
    assert result.exit_code == 0
    assert result.stdout == "账本共有 2 条记录\n"
    result = invoke(cli_app, "ledger", "count", "--ledger", str(path), "--lang", "en")
    assert result.stdout == "The ledger holds 2 records\n"


def test_cli_count_missing_ledger(tmp_path: Path, cli_app) -> None:
    path = tmp_path / "none.sqlite3"
    result = invoke(cli_app, "ledger", "count", "--ledger", str(path))
    assert result.exit_code == 2
    assert result.stderr == f"账本不存在：{path}\n"
    assert not path.exists()


def test_cli_list(tmp_path: Path, cli_app) -> None:
    path = seeded(tmp_path)
    result = invoke(cli_app, "ledger", "list", "--ledger", str(path))
    assert result.exit_code == 0
    assert result.stdout == (
        "编号\t日期\t公职人员\t阶段\t地区\t来源文件\n"
        "R-1\t2024-03-05\tO-1\tcompleted\t150300\ta.jsonl\n"
        "R-2\t2024-03-06\tO-0042\tcompleted\t150300\ta.jsonl\n"
        "共 2 条记录\n"
    )
    result = invoke(
        cli_app, "ledger", "list", "--ledger", str(path), "--official", "O-1", "--lang", "en"
    )
    assert result.stdout == (
        "id\tdate\tofficial\tstage\tjurisdiction\tsource\n"
        "R-1\t2024-03-05\tO-1\tcompleted\t150300\ta.jsonl\n"
        "1 records\n"
    )
    result = invoke(cli_app, "ledger", "list", "--ledger", str(path), "--official", "O-9")
    assert result.stdout == "账本中没有记录\n"


def test_cli_list_json(tmp_path: Path, cli_app) -> None:
    path = seeded(tmp_path)
    result = invoke(cli_app, "ledger", "list", "--ledger", str(path), "--json")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["R-1", "R-2"]
    assert lines[0] == to_canonical_json(rec("R-1", official="O-1"))


# --------------------------------------------------------------------------- CLI: add


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in records),
        encoding="utf-8",
    )
    return path


def raw(rid: str, official: str = "O-0042", **extra: Any) -> dict[str, Any]:
    record = {
        "id": rid,
        "stage": "completed",
        "jurisdiction": "150300",
        "date": "2024-03-05",
        "official": {"id": official, "name": "张三"},
    }
    record.update(extra)
    return record


def test_cli_add_files(tmp_path: Path, cli_app) -> None:
    pytest.importorskip("checker.input.records")
    ledger = tmp_path / "l.sqlite3"
    a = write_jsonl(tmp_path / "a.jsonl", [raw("R-1"), raw("R-2", meals=[{"total_cny": "75.00"}])])
    b = write_jsonl(tmp_path / "b.jsonl", [raw("R-3")])
    result = invoke(cli_app, "ledger", "add", str(a), str(b), "--ledger", str(ledger))
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"已导入 {a}：2 条记录\n"
        f"已导入 {b}：1 条记录\n"
        f"共导入 3 条记录（2 个文件）；拒绝 0 个文件；无法读取 0 个文件。"
        f"账本 {ledger} 现有 3 条记录。\n"
    )
    with Ledger(ledger) as opened:
        assert opened.get("R-2")["meals"][0]["total_cny"] == Decimal("75.00")
        assert [r.source for r in opened.rows()] == [str(a), str(a), str(b)]


def test_cli_add_rejects_a_file_and_keeps_the_others(tmp_path: Path, cli_app) -> None:
    pytest.importorskip("checker.input.records")
    ledger = tmp_path / "l.sqlite3"
    a = write_jsonl(tmp_path / "a.jsonl", [raw("R-1")])
    dup = write_jsonl(tmp_path / "dup.jsonl", [raw("R-1"), raw("R-5")])
    c = write_jsonl(tmp_path / "c.jsonl", [raw("R-6")])
    result = invoke(
        cli_app, "ledger", "add", str(a), str(dup), str(c), "--ledger", str(ledger), "--lang", "en"
    )
    assert result.exit_code == 1
    assert result.stderr == (
        f"{dup}: file rejected, no record added.\n  Record ids already in the ledger: R-1\n"
    )
    assert result.stdout.splitlines()[-1] == (
        f"Added 2 records from 2 files; 1 files rejected; 0 files unreadable. "
        f"Ledger {ledger} now holds 2 records."
    )
    with Ledger(ledger) as opened:
        assert opened.get("R-5") is None and opened.count() == 2


def test_cli_add_invalid_record_names_file_and_line(tmp_path: Path, cli_app) -> None:
    pytest.importorskip("checker.input.records")
    ledger = tmp_path / "l.sqlite3"
    bad = raw("R-2")
    del bad["official"]
    f = write_jsonl(tmp_path / "f.jsonl", [raw("R-1"), bad])
    result = invoke(cli_app, "ledger", "add", str(f), "--ledger", str(ledger))
    assert result.exit_code == 1
    assert result.stderr == (
        f"{f}：整个文件未导入（0 条记录写入）。\n"
        "  无效记录：\n"
        f"    {f}:2 $.official: 缺少必填字段 'official'\n"
    )


def test_cli_add_unreadable_input(tmp_path: Path, cli_app) -> None:
    pytest.importorskip("checker.input.records")
    ledger = tmp_path / "l.sqlite3"
    good = write_jsonl(tmp_path / "good.jsonl", [raw("R-1")])
    missing = tmp_path / "missing.jsonl"
    result = invoke(cli_app, "ledger", "add", str(missing), str(good), "--ledger", str(ledger))
    assert result.exit_code == 2
    assert result.stderr == f"找不到文件 {missing}\n"
    assert f"已导入 {good}：1 条记录" in result.stdout
    assert "无法读取 1 个文件" in result.stdout
    folder = tmp_path / "folder.jsonl"
    folder.mkdir()
    result = invoke(cli_app, "ledger", "add", str(folder), "--ledger", str(ledger), "--lang", "en")
    assert result.exit_code == 2
    assert result.stderr == f"{folder} is a folder, not a file; name the record files in it, e.g. {folder}/*.jsonl\n"


def test_cli_add_bad_input_format(tmp_path: Path, cli_app) -> None:
    pytest.importorskip("checker.input.records")
    ledger = tmp_path / "l.sqlite3"
    good = write_jsonl(tmp_path / "good.jsonl", [raw("R-1")])
    result = invoke(
        cli_app, "ledger", "add", str(good), "--ledger", str(ledger), "--input-format", "toml"
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("不支持的输入格式 'toml'")
    with Ledger(ledger) as opened:
        assert opened.count() == 0


def test_cli_add_repeated_id_within_a_file(tmp_path: Path, cli_app) -> None:
    pytest.importorskip("checker.input.records")
    ledger = tmp_path / "l.sqlite3"
    f = write_jsonl(tmp_path / "f.jsonl", [raw("R-1"), raw("R-2"), raw("R-1")])
    result = invoke(cli_app, "ledger", "add", str(f), "--ledger", str(ledger))
    assert result.exit_code == 1
    assert result.stderr == (
        f"{f}：整个文件未导入（0 条记录写入）。\n  文件内重复的记录编号：R-1\n"
    )


def test_cli_add_yaml_and_stdin(tmp_path: Path, cli_app) -> None:
    pytest.importorskip("checker.input.records")
    from typer.testing import CliRunner

    ledger = tmp_path / "l.sqlite3"
    y = tmp_path / "one.yaml"
    y.write_text(
        "id: R-1\nstage: completed\njurisdiction: '150300'\ndate: 2024-03-05\n"
        "official: {id: O-1}\n",
        encoding="utf-8",
    )
    result = invoke(cli_app, "ledger", "add", str(y), "--ledger", str(ledger))
    assert result.exit_code == 0, result.output
    line = json.dumps(raw("R-2")) + "\n"
    result = CliRunner().invoke(
        cli_app, ["ledger", "add", "-", "--ledger", str(ledger)], input=line
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("已导入 <stdin>：1 条记录\n")
    with Ledger(ledger) as opened:
        assert [r.source for r in opened.rows()] == [str(y), "<stdin>"]


def test_loaded_record_errors_summarised(ledger: Ledger) -> None:
    errors = [
        SimpleNamespace(path="$.stage", code="enum", message_zh="取值不允许", message_en="bad"),
        SimpleNamespace(path="$.date", code="type", message_zh="应为日期", message_en="not a date"),
    ]
    bad = SimpleNamespace(location="f.csv:3", record_id="R-3", data=None, errors=errors)
    repeated = SimpleNamespace(
        location="f.csv:4",
        record_id="R-1",
        data=None,
        errors=[SimpleNamespace(path="$.id", code="duplicate_id", message_zh="", message_en="")],
    )
    with pytest.raises(LedgerError) as info:
        ledger.add_records([rec("R-1"), bad, repeated], source="f.csv")
    assert info.value.message_zh == (
        "f.csv：整个文件未导入（0 条记录写入）。文件内重复的记录编号：R-1。"
        "无效记录：f.csv:3 $.stage: 取值不允许（另有 1 处错误）。"
    )
    assert info.value.message_en.endswith(
        "Invalid records: f.csv:3 $.stage: bad (and 1 more errors)."
    )


# --------------------------------------------------------------------------- with the fixtures

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "records"


def test_fixture_records_round_trip_exactly() -> None:
    records_mod = pytest.importorskip("checker.input.records")
    paths = sorted(FIXTURES.glob("*.jsonl")) + sorted(FIXTURES.glob("*.yaml"))
    paths = [p for p in paths if not p.name.endswith(".expected.yaml")]
    valid = [r for p in paths for r in records_mod.iter_records([p]) if r.valid]
    assert len(valid) >= 6
    for loaded in valid:
        assert from_canonical_json(to_canonical_json(loaded.data)) == loaded.data, loaded.location


def test_fixture_history_via_cli(tmp_path: Path, cli_app) -> None:
    records_mod = pytest.importorskip("checker.input.records")
    history = FIXTURES / "history_O-0042.jsonl"
    ledger = tmp_path / "l.sqlite3"
    result = invoke(cli_app, "ledger", "add", str(history), "--ledger", str(ledger))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"已导入 {history}：4 条记录\n")
    loaded = [r.data for r in records_mod.iter_records([history])]
    with Ledger(ledger) as opened:
        got = opened.history("O-0042", until=dt.date(2026, 12, 3))
    assert got == sorted(loaded, key=lambda r: (r["date"], r["id"]))
    # importing the same file again is refused as a whole
    result = invoke(cli_app, "ledger", "add", str(history), "--ledger", str(ledger))
    assert result.exit_code == 1
    assert "账本中已有这些记录编号：R-2026-0042-01、" in result.stderr


def test_fixture_malformed_file_is_rejected_by_line(tmp_path: Path, cli_app) -> None:
    pytest.importorskip("checker.input.records")
    malformed = FIXTURES / "malformed.jsonl"
    ledger = tmp_path / "l.sqlite3"
    result = invoke(cli_app, "ledger", "add", str(malformed), "--ledger", str(ledger))
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[:4] == [
        f"{malformed}：整个文件未导入（0 条记录写入）。",
        "  文件内重复的记录编号：M-001",
        "  无效记录：",
        f"    {malformed}:2 $: JSON 格式错误（第 138 列）：数据意外结束（缺少括号、引号或值）",
    ]
    assert len(lines) == 3 + 10 + 1
    assert lines[-1] == "    …另有 4 个"  # more than ten bad lines
    with Ledger(ledger) as opened:
        assert opened.count() == 0


def test_rejection_describe_lists_one_problem_per_line(ledger: Ledger) -> None:
    ledger.add_records([rec("R-1")], source="a")
    bad = rec("R-3")
    bad["stage"] = None
    with pytest.raises(LedgerError) as info:
        ledger.add_records([rec("R-1"), rec("R-2"), rec("R-2"), bad], source="b")
    assert info.value.describe("zh") == (
        "b：整个文件未导入（0 条记录写入）。\n"
        "  账本中已有这些记录编号：R-1\n"
        "  文件内重复的记录编号：R-2\n"
        "  无效记录：\n"
        "    b#4 stage 须为 planned 或 completed"
    )
    assert info.value.describe("en") == (
        "b: file rejected, no record added.\n"
        "  Record ids already in the ledger: R-1\n"
        "  Record ids repeated within the file: R-2\n"
        "  Invalid records:\n"
        "    b#4 stage must be planned or completed"
    )
    other = LedgerError("ledger_busy", "忙", "busy")
    assert other.describe("zh") == "忙" and other.describe("en") == "busy"


def test_problems_kept_are_bounded(ledger: Ledger, monkeypatch) -> None:
    import checker.store.ledger_input as input_mod

    monkeypatch.setattr(input_mod, "MAX_KEPT", 20)
    ledger.add_records([rec(f"R-{i:03d}") for i in range(50)], source="a")
    with pytest.raises(LedgerError) as info:
        ledger.add_records([rec(f"R-{i:03d}") for i in range(50)], source="a")
    assert len(info.value.duplicate_ids) == 20
    assert info.value.message_en.endswith("…and 40 more.")


def test_database_error_while_writing_is_a_ledger_error(ledger: Ledger) -> None:
    # a trigger calling a failing function stands in for a failing disk
    def boom(rid: str) -> None:
        raise RuntimeError("disk I/O error")

    ledger._conn.create_function("boom", 1, boom)
    ledger._conn.execute(
        "CREATE TRIGGER fail BEFORE INSERT ON records WHEN NEW.id = 'R-2' "
        "BEGIN SELECT boom(NEW.id); END"
    )
    with pytest.raises(LedgerError) as info:
        ledger.add_records([rec("R-1"), rec("R-2")], source="a")
    assert info.value.code == "ledger_write_failed"
    assert info.value.message_zh == (
        f"写入账本 {ledger.path} 失败（a 未导入）：user-defined function raised exception"
    )
    assert info.value.message_en == (
        f"Writing to ledger {ledger.path} failed (a not added): "
        "user-defined function raised exception"
    )
    assert ledger.count() == 0
    assert ledger.add_records([rec("R-1")], source="b") == 1


def test_add_cli_prints_the_notes_of_a_spreadsheet(tmp_path: Path, cli_app) -> None:
    ledger = tmp_path / "l.sqlite3"
    sheet = tmp_path / "s.csv"
    sheet.write_text("id,stage,jurisdiction,date,official.id,备注\n"
                     "R-1,已完成,150300,2024-03-05,O-1,见附件\n", encoding="utf-8")
    result = invoke(cli_app, "ledger", "add", str(sheet), "--ledger", str(ledger))
    assert result.exit_code == 0, result.output
    assert result.stderr == (f"注意：{sheet}：未知列 '备注' 已忽略，其中的值不参与检查\n"
                             f"注意：{sheet}：列 'stage' 的标签已换为对应取值（如 '已完成' → completed）\n")
    assert result.stdout.startswith(f"已导入 {sheet}：1 条记录\n")
