"""Record loaders: every format, stdin, and every malformed input."""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest

from checker.input.records import (
    MAX_RECORD_BYTES,
    InputError,
    LoadedRecord,
    LoadWarning,
    detect_format,
    iter_records,
)

DATA = Path(__file__).parents[1] / "data"


def rec(i: str, **extra: object) -> dict:
    return {
        "id": i,
        "stage": "completed",
        "jurisdiction": "150300",
        "date": "2024-03-05",
        "official": {"id": "O-1"},
        **extra,
    }


def jsonl(path: Path, *lines: str | dict) -> Path:
    text = "\n".join(json.dumps(x, ensure_ascii=False) if isinstance(x, dict) else x for x in lines)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def load(*paths: str | Path, **kw: object) -> list[LoadedRecord]:
    return list(iter_records([str(p) for p in paths], **kw))


def summary(records: list[LoadedRecord]) -> list[tuple]:
    return [(r.location, r.record_id, r.valid, [e.code for e in r.errors]) for r in records]


# ---------------------------------------------------------------- formats


def test_jsonl() -> None:
    path = DATA / "batch.jsonl"
    records = load(path)
    assert summary(records) == [
        (f"{path}:1", "T-1", True, []),
        (f"{path}:3", "T-2", True, []),
        (f"{path}:5", "T-3", True, []),
    ]
    first = records[0]
    assert first.source == str(path) and first.line == 1
    assert first.data is not None
    assert first.data["meals"][0]["total_cny"] == Decimal("60.005")
    assert str(first.data["meals"][0]["total_cny"]) == "60.005"
    assert first.raw["meals"][0]["total_cny"] == 60.005
    second = records[1].data
    assert second is not None
    assert second["gifts"][0]["value_cny"] == Decimal("150.00")
    assert second["gifts"][0]["received_on"] == date(2024, 3, 5)
    assert isinstance(second["start_at"], datetime)


def test_json_array_and_object() -> None:
    array = DATA / "batch.json"
    one = DATA / "one.json"
    records = load(array, one)
    assert summary(records) == [
        (f"{array}#1", "T-1", True, []),
        (f"{array}#2", "T-2", True, []),
        (str(one), "T-1", False, ["duplicate_id"]),
    ]
    assert [r.line for r in records] == [1, 2, 1]
    assert records[1].data["meals"][0]["total_cny"] == Decimal("75.5")
    assert records[2].errors[0].message_en == (
        f"duplicate record id 'T-1'; first seen at {array}#1"
    )


def test_yaml_documents_and_lists() -> None:
    path = DATA / "batch.yaml"
    records = load(path)
    assert summary(records) == [
        (f"{path}:2", "Y-1", True, []),
        (f"{path}:12", "Y-2", True, []),
        (f"{path}:17", "Y-3", True, []),
    ]
    first = records[0]
    # Timestamps stay as written in raw; floats are read exactly.
    assert first.raw["date"] == "2024-03-05"
    assert first.raw["start_at"] == "2024-03-05T11:30:00+08:00"
    assert first.data["date"] == date(2024, 3, 5)
    assert first.data["official"]["is_leader"] is True
    assert str(first.data["meals"][0]["total_cny"]) == "60.005"


def test_yaml_naive_timestamp_is_reported_not_guessed(tmp_path: Path) -> None:
    path = tmp_path / "r.yml"
    path.write_text(
        "id: A\nstage: planned\njurisdiction: '150300'\ndate: 2024-3-5\n"
        "start_at: 2024-03-05 11:30:00\nofficial: {id: O}\n",
        encoding="utf-8",
    )
    [record] = load(path)
    assert [(e.path, e.code) for e in record.errors] == [
        ("$.date", "date"),
        ("$.start_at", "datetime"),
    ]


def test_csv() -> None:
    path = DATA / "batch.csv"
    records = load(path)
    assert summary(records) == [
        (f"{path}:2", "C-1", True, []),
        (f"{path}:3", "C-2", True, []),
        (f"{path}:5", "C-3", True, []),
    ]
    c1, c2, c3 = (r.data for r in records)
    assert c1["official"] == {"id": "O-1", "name": "张三", "is_leader": True}
    assert c1["participants"] == {"officials": 2}
    assert c1["meals"] == [{"total_cny": Decimal("60.005"), "diners": 2}]
    assert c1["interventions"] == [] and c1["recusal_recorded"] is False
    assert c1["jurisdiction"] == "150300"
    assert "meals" not in c2 and "is_leader" not in c2["official"]  # empty cell = absent
    assert c3["official"]["is_leader"] is False
    assert c3["interventions"] == ["leak_info"]
    assert c3["recusal_recorded"] is None


def test_gbk_csv_needs_the_encoding_option() -> None:
    path = DATA / "batch_gbk.csv"
    with pytest.raises(InputError) as info:
        load(path)
    assert info.value.path == str(path)
    assert info.value.message_zh == (
        f"{path} 第 2 行不是有效的 UTF-8 文本；如文件为 GBK 编码（如 Excel 导出的 CSV），"
        "请使用 --encoding gbk"
    )
    assert info.value.message("en") == (
        f"{path} is not valid UTF-8 text (line 2); if it is GBK-encoded "
        "(as CSV files saved by Excel often are), use --encoding gbk"
    )
    gbk = load(path, encoding="gbk")
    utf8 = load(DATA / "batch.csv")
    assert [r.data for r in gbk] == [r.data for r in utf8]


def test_xlsx(tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "申报"
    sheet.append(
        [
            "id",
            "stage",
            "jurisdiction",
            "date",
            "start_at",
            "official.id",
            "meals",
            "recusal_recorded",
        ]
    )
    sheet.append(
        [
            "X-1",
            "completed",
            150300,
            datetime(2024, 3, 5),
            datetime(2024, 3, 5, 11, 30),
            "O-1",
            '[{"total_cny": 72.5}]',
            True,
        ]
    )
    sheet.append([None] * 8)
    sheet.append(["X-2", "planned", "150300", "2024-03-06", None, "O-2", None, "false"])
    sheet.append(["X-3", "plan", "150300", "2024-03-06", None, None, None, None])
    path = tmp_path / "book.xlsx"
    book.save(path)
    warnings: list[LoadWarning] = []
    records = load(path, warnings=warnings)
    assert summary(records) == [
        (f"{path}!申报:row 2", "X-1", True, []),
        (f"{path}!申报:row 4", "X-2", True, []),
        (f"{path}!申报:row 5", "X-3", False, ["enum", "required"]),
    ]
    x1 = records[0].data
    assert x1["jurisdiction"] == "150300"
    assert x1["date"] == date(2024, 3, 5)
    assert x1["start_at"].isoformat() == "2024-03-05T11:30:00+08:00"
    assert x1["meals"][0]["total_cny"] == Decimal("72.5")
    assert x1["recusal_recorded"] is True
    assert records[1].data["recusal_recorded"] is False
    assert warnings == [
        LoadWarning(
            str(path),
            f"{path}!申报：列 'date' 的 Excel 日期单元格已读作 YYYY-MM-DD（如 2024-03-05）",
            f"{path}!申报: column 'date': Excel date cells read as YYYY-MM-DD (e.g. 2024-03-05)",
        ),
        LoadWarning(
            str(path),
            f"{path}：Excel 日期时间单元格不带时区，按北京时间（+08:00）读取",
            f"{path}: Excel date-time cells carry no offset; read as Asia/Shanghai (+08:00)",
        ),
    ]


def test_xlsx_that_is_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "fake.xlsx"
    path.write_text("id,stage\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load(path)
    assert info.value.message_zh.startswith(f"{path} 不是有效的 .xlsx 文件：")
    assert info.value.message_en.startswith(f"{path} is not a valid .xlsx file: ")


def test_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = "\n".join(json.dumps(rec(f"S-{i}")) for i in range(3)) + "\n"
    monkeypatch.setattr(sys, "stdin", SimpleNamespace(buffer=io.BytesIO(lines.encode())))
    records = load("-")
    assert summary(records) == [
        ("<stdin>:1", "S-0", True, []),
        ("<stdin>:2", "S-1", True, []),
        ("<stdin>:3", "S-2", True, []),
    ]
    assert records[0].source == "<stdin>"
    doc = "id: S-9\nstage: planned\njurisdiction: '150300'\ndate: '2024-03-05'\nofficial: {id: O}\n"
    monkeypatch.setattr(sys, "stdin", SimpleNamespace(buffer=io.BytesIO(doc.encode())))
    assert summary(load("-", input_format="yaml")) == [("<stdin>:1", "S-9", True, [])]


def test_detect_format() -> None:
    assert detect_format("a.NDJSON") == "jsonl"
    assert detect_format("a.yml") == "yaml"
    assert detect_format("a.txt", "JSONL") == "jsonl"
    assert detect_format("-") == "sniff"  # told from the first bytes (sources.sniff_format)
    with pytest.raises(InputError) as info:
        detect_format("a.txt")
    assert info.value.message_zh == (
        "无法根据扩展名判断 a.txt 的格式；请使用 --input-format（jsonl、json、yaml、csv、xlsx、parquet）"
    )
    assert info.value.message_en == (
        "cannot tell the format of a.txt from its extension; "
        "use --input-format (jsonl, json, yaml, csv, xlsx, parquet)"
    )
    with pytest.raises(InputError) as info:
        detect_format("a.json", "toml")
    assert info.value.message_en == (
        "unsupported input format 'toml'; choose one of jsonl, json, yaml, csv, xlsx, parquet"
    )


# ---------------------------------------------------------------- malformed input


def test_bad_json_line_becomes_an_invalid_record(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "b.jsonl", rec("A"), '{"id": "B", "stage": "plan', rec("C"))
    records = load(path)
    assert summary(records) == [
        (f"{path}:1", "A", True, []),
        (f"{path}:2", None, False, ["json"]),
        (f"{path}:3", "C", True, []),
    ]
    bad = records[1]
    assert bad.errors[0].path == "$"
    assert bad.errors[0].message_zh == "JSON 格式错误（第 27 列）：数据意外结束（缺少括号、引号或值）"
    assert bad.errors[0].message_en == "invalid JSON at column 27: unexpected end of data"
    assert bad.raw == '{"id": "B", "stage": "plan'
    assert bad.data is None and not bad.valid


def test_invalid_records_keep_their_id_and_raw(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "b.jsonl", rec("A", stage="done"), "[1, 2]", rec(7))  # type: ignore[arg-type]
    records = load(path)
    assert summary(records) == [
        (f"{path}:1", "A", False, ["enum"]),
        (f"{path}:2", None, False, ["type"]),
        (f"{path}:3", "7", False, ["type"]),
    ]
    assert records[0].raw["stage"] == "done"


def test_a_10_mb_line_is_not_parsed(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    big = json.dumps(rec("BIG", x_blob="x" * (10 << 20)))
    path.write_text(
        json.dumps(rec("A")) + "\n" + big + "\n" + json.dumps(rec("B")) + "\n", encoding="utf-8"
    )
    records = load(path)
    assert summary(records) == [
        (f"{path}:1", "A", True, []),
        (f"{path}:2", None, False, ["too_large"]),
        (f"{path}:3", "B", True, []),
    ]
    error = records[1].errors[0]
    assert error.message_zh == "该行超过 1 MiB 上限（10.0 MiB），未解析"
    assert error.message_en == "the line exceeds the 1 MiB limit (10.0 MiB); not parsed"
    assert records[1].raw is None


def test_a_line_at_the_limit_is_parsed(tmp_path: Path) -> None:
    body = json.dumps(rec("A", x_pad=""))
    body = body.replace('"x_pad": ""', '"x_pad": "' + "p" * (MAX_RECORD_BYTES - len(body)) + '"')
    assert len(body.encode()) == MAX_RECORD_BYTES
    path = tmp_path / "edge.jsonl"
    path.write_text(body + "\r\n", encoding="utf-8")
    assert summary(load(path)) == [(f"{path}:1", "A", True, [])]


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    a = jsonl(tmp_path / "a.jsonl", rec("A"), rec("B"))
    b = jsonl(tmp_path / "b.jsonl", rec("C"), rec("B"), rec("A", stage="bad"))
    records = load(a, b)
    assert summary(records)[2:] == [
        (f"{b}:1", "C", True, []),
        (f"{b}:2", "B", False, ["duplicate_id"]),
        (f"{b}:3", "A", False, ["enum", "duplicate_id"]),
    ]
    dup = records[3].errors[0]
    assert dup.path == "$.id"
    assert dup.message_zh == f"记录编号 'B' 重复，首次出现在 {a}:2"
    assert dup.message_en == f"duplicate record id 'B'; first seen at {a}:2"


def test_many_ids_are_tracked_exactly(tmp_path: Path) -> None:
    path = tmp_path / "many.jsonl"
    lines = [json.dumps(rec(f"R-{i}")) for i in range(5000)] + [json.dumps(rec("R-1234"))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    records = load(path)
    assert [r.line for r in records if not r.valid] == [5001]
    assert (
        records[-1].errors[0].message_en
        == f"duplicate record id 'R-1234'; first seen at {path}:1235"
    )


def test_utf8_bom(tmp_path: Path) -> None:
    a = tmp_path / "bom.jsonl"
    a.write_bytes(b"\xef\xbb\xbf" + json.dumps(rec("A")).encode() + b"\n")
    c = tmp_path / "bom.csv"
    c.write_bytes(
        b"\xef\xbb\xbfid,stage,jurisdiction,date,official.id\nB,planned,150300,2024-03-05,O\n"
    )
    y = tmp_path / "bom.yaml"
    y.write_bytes(
        b"\xef\xbb\xbfid: C\nstage: planned\njurisdiction: '150300'\ndate: '2024-03-05'\nofficial: {id: O}\n"
    )
    j = tmp_path / "bom.json"
    j.write_bytes(b"\xef\xbb\xbf" + json.dumps(rec("D")).encode())
    assert [(r.record_id, r.valid) for r in load(a, c, y, j)] == [
        ("A", True),
        ("B", True),
        ("C", True),
        ("D", True),
    ]


def test_empty_files_yield_nothing(tmp_path: Path) -> None:
    paths = []
    for name in ("e.jsonl", "e.json", "e.yaml", "e.csv"):
        (tmp_path / name).write_text("" if name != "e.jsonl" else "\n\n", encoding="utf-8")
        paths.append(tmp_path / name)
    warnings: list[LoadWarning] = []
    assert load(*paths, warnings=warnings) == []
    assert [w.message("en") for w in warnings] == [f"{p} contains no records" for p in paths]
    assert warnings[0].message_zh == f"{paths[0]} 中没有记录"


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "blob.jsonl"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(InputError) as info:
        load(path)
    assert info.value.message_zh == f"{path} 看起来是二进制文件，不是 JSONL 文本"
    assert info.value.message_en == f"{path} looks like a binary file, not JSONL text"


def test_a_workbook_under_a_text_extension(tmp_path: Path) -> None:
    path = tmp_path / "book.csv"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("x", "y")
    with pytest.raises(InputError) as info:
        load(path)
    assert info.value.message_en == (
        f"{path} looks like an Excel (.xlsx) or ZIP file, not CSV text; "
        "for Excel use the .xlsx extension or --input-format xlsx"
    )


def test_missing_file_and_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(InputError) as info:
        load(missing)
    assert (info.value.message_zh, info.value.message_en) == (
        f"找不到文件 {missing}",
        f"file not found: {missing}",
    )
    folder = tmp_path / "dir.jsonl"
    folder.mkdir()
    with pytest.raises(InputError) as info:
        load(folder)
    assert (info.value.message_zh, info.value.message_en) == (
        f"{folder} 是目录，不是文件；请列出其中的记录文件，例如 {folder}/*.jsonl",
        f"{folder} is a folder, not a file; name the record files in it, e.g. {folder}/*.jsonl",
    )
    assert str(info.value) == f"{folder} is a folder, not a file; name the record files in it, e.g. {folder}/*.jsonl"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads anything")
def test_unreadable_file(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "locked.jsonl", rec("A"))
    path.chmod(0)
    with pytest.raises(InputError) as info:
        load(path)
    assert info.value.message_en == f"permission denied: {path}"


def test_input_errors_come_before_any_record_of_that_file(tmp_path: Path) -> None:
    good = jsonl(tmp_path / "good.jsonl", rec("A"))
    it = iter_records([str(good), str(tmp_path / "missing.jsonl")])
    assert next(it).record_id == "A"
    with pytest.raises(InputError):
        next(it)


def test_invalid_utf8_after_the_first_64_kib(tmp_path: Path) -> None:
    path = tmp_path / "late.jsonl"
    good = [json.dumps(rec(f"R-{i}")) for i in range(1000)]
    path.write_bytes(("\n".join(good) + "\n").encode() + '{"id": "坏"}\n'.encode("gbk"))
    it = iter_records([str(path)])
    assert sum(1 for _ in zip(range(1000), it)) == 1000
    with pytest.raises(InputError) as info:
        next(it)
    assert info.value.message_en.startswith(f"{path} is not valid UTF-8 text (line 1001)")


def test_unknown_and_unsupported_encodings(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "a.jsonl", rec("A"))
    with pytest.raises(InputError) as info:
        load(path, encoding="klingon")
    assert info.value.message_en == "unknown character encoding 'klingon'"
    with pytest.raises(InputError) as info:
        load(path, encoding="utf-16")
    assert info.value.message_zh == "不支持字符编码 'utf-16'；请先转换为 UTF-8"


def test_gbk_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "gbk.jsonl"
    path.write_bytes(
        json.dumps(rec("甲", official={"id": "O", "name": "张三"}), ensure_ascii=False).encode(
            "gbk"
        )
    )
    [record] = load(path, encoding="gbk")
    assert record.valid and record.data["official"]["name"] == "张三"


def test_json_errors(tmp_path: Path) -> None:
    lines = tmp_path / "lines.json"
    lines.write_text(json.dumps(rec("A")) + "\n" + json.dumps(rec("B")) + "\n", encoding="utf-8")
    broken = tmp_path / "broken.json"
    broken.write_text('[\n  {"id": "A"},\n  {"id": \n', encoding="utf-8")
    scalar = tmp_path / "scalar.json"
    scalar.write_text("42", encoding="utf-8")
    records = load(lines, broken, scalar)
    assert [(r.location, [e.code for e in r.errors]) for r in records] == [
        (f"{lines}:2", ["json"]),
        (f"{broken}:4", ["json"]),
        (str(scalar), ["json"]),
    ]
    assert records[0].errors[0].message_en == (
        "invalid JSON at line 2, column 1: unexpected content after document; "
        "for one record per line use .jsonl or --input-format jsonl"
    )
    assert (
        records[1].errors[0].message_zh == "JSON 格式错误（第 4 行第 1 列）：数据意外结束（缺少括号、引号或值）"
    )
    assert records[2].errors[0].message_en == (
        "the top level of a JSON file must be a record object or an array of records"
    )


def test_yaml_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "id: A\nstage: planned\njurisdiction: '150300'\ndate: '2024-03-05'\nofficial: {id: O}\n"
        "---\nid: [unclosed\n---\nid: C\n",
        encoding="utf-8",
    )
    records = load(path)
    assert summary(records) == [(f"{path}:1", "A", True, []), (f"{path}:8", None, False, ["yaml"])]
    assert records[1].errors[0].message_en == (
        "invalid YAML at line 8, column 1: expected ',' or ']', but got '<document start>'; "
        "the rest of the file was not read"
    )


def good_yaml(i: str) -> str:
    return f"id: {i}\nstage: planned\njurisdiction: '150300'\ndate: '2024-03-05'\nofficial: {{id: O}}\n"


def test_yaml_alias_bomb(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.write_text("\n".join(lines) + "\n---\n" + good_yaml("B"), encoding="utf-8")
    records = load(path)
    assert summary(records) == [(f"{path}:1", None, False, ["yaml"]), (f"{path}:14", "B", True, [])]
    assert records[0].errors[0].message_en == (
        "the YAML document is too large once aliases are expanded (1234567901245 nodes); not read"
    )


def test_csv_problems(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text(
        "id,stage,jurisdiction,date,official.id,meals\n"
        "A,planned,150300,2024-03-05,O,[{bad json\n"
        "B,planned,150300,2024-03-05,O,,surplus\n"
        'C,planned,150300,2024-03-05,O,"' + "m" * (MAX_RECORD_BYTES + 10) + '"\n'
        "D,planned,150300,2024-03-05,O,\n",
        encoding="utf-8",
    )
    records = load(path)
    assert summary(records) == [
        (f"{path}:2", "A", False, ["json"]),
        (f"{path}:3", "B", False, ["csv"]),
        (f"{path}:4", None, False, ["too_large"]),
        (f"{path}:5", "D", True, []),
    ]
    assert records[0].errors[0].path == "$.meals"
    assert records[0].errors[0].message_en.startswith("column 'meals' must hold JSON: ")
    assert records[1].errors[0].message_en == (
        "column 7 has no header; its value 'surplus' belongs to no field"
    )


def test_csv_duplicate_header_and_conflicts(tmp_path: Path) -> None:
    dup = tmp_path / "dup.csv"
    dup.write_text("id,id\nA,B\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load(dup)
    assert info.value.message_en == f"{dup}: column 'id' appears twice in the header"
    conflict = tmp_path / "conflict.csv"
    conflict.write_text(
        'id,stage,jurisdiction,date,official,official.id\nA,planned,150300,2024-03-05,"""x""",O\n'
        'B,planned,150300,2024-03-05,"{""name"": ""张三""}",O\n',
        encoding="utf-8",
    )
    records = load(conflict)
    assert summary(records) == [
        (f"{conflict}:2", "A", False, ["column_conflict"]),
        (f"{conflict}:3", "B", True, []),
    ]
    assert records[1].data["official"] == {"name": "张三", "id": "O"}


def test_unknown_csv_columns_are_a_warning_with_a_did_you_mean(tmp_path: Path) -> None:
    path = tmp_path / "u.csv"
    path.write_text(
        "id,stage,jurisdiction,date,official.id,official.rnk\nA,planned,150300,2024-03-05,O,staff\n"
    )
    warnings: list[LoadWarning] = []
    [record] = load(path, warnings=warnings)
    assert record.valid and record.data["official"] == {"id": "O"}  # the column is ignored
    assert [w.message_en for w in warnings] == [
        f"{path}: unknown column 'official.rnk' ignored (its values are not checked); "
        "did you mean 'official.rank'?"
    ]


def test_money_digits(tmp_path: Path) -> None:
    path = tmp_path / "digits.jsonl"
    path.write_text(
        '{"id": "A", "stage": "planned", "jurisdiction": "150300", "date": "2024-03-05", '
        '"official": {"id": "O"}, "meals": [{"total_cny": 60.005, "official_paid_cny": 72.00}, '
        '{"total_cny": "0.10000000000000000555", "official_paid_cny": 1234567890123.45}]}\n',
        encoding="utf-8",
    )
    [record] = load(path)
    first, second = record.data["meals"]
    assert str(first["total_cny"]) == "60.005"
    assert first["official_paid_cny"] == Decimal("72.00")
    assert str(second["total_cny"]) == "0.10000000000000000555"  # strings keep every digit
    assert str(second["official_paid_cny"]) == "1234567890123.45"


def test_the_fixture_batch_matches_its_expectations() -> None:
    import yaml

    root = Path(__file__).parents[3] / "fixtures" / "records"
    if not (root / "malformed.jsonl").exists():
        pytest.skip("fixtures not present")
    expected = yaml.safe_load((root / "malformed.expected.yaml").read_text(encoding="utf-8"))
    records = load(root / "malformed.jsonl")
    assert len(records) == len(expected)
    for record, exp in zip(records, expected, strict=True):
        assert record.line == exp["line"]
        assert record.record_id == exp["id"]
        if exp["expect"] in ("ok", "review"):
            assert record.valid, record.errors
        elif exp["expect"] == "duplicate_id":
            assert [e.code for e in record.errors] == ["duplicate_id"]
        else:
            assert not record.valid
            if "path" in exp:
                assert "$." + exp["path"] in [e.path for e in record.errors]


def test_copies_of_bundled_fixtures_load(tmp_path: Path) -> None:
    src = DATA / "batch.jsonl"
    dst = tmp_path / "copy.ndjson"
    shutil.copy(src, dst)
    assert [r.record_id for r in load(dst)] == ["T-1", "T-2", "T-3"]


def test_yaml_anchors_and_merge_keys_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "anchors.yaml"
    path.write_text(
        "- &base {id: A, stage: planned, jurisdiction: '150300', date: '2024-03-05', official: {id: O}}\n"
        "- {<<: *base, id: B}\n",
        encoding="utf-8",
    )
    assert summary(load(path)) == [(f"{path}:1", "A", True, []), (f"{path}:2", "B", True, [])]


# ---------------------------------------------------------------- the JSONL fast path


def _typed_same(a: object, b: object) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_typed_same(a[k], b[k]) for k in a)  # type: ignore[attr-defined]
    if isinstance(a, list):
        return len(a) == len(b) and all(_typed_same(x, y) for x, y in zip(a, b, strict=True))  # type: ignore[arg-type]
    return a == b and str(a) == str(b)


def _without_fast_path(monkeypatch: pytest.MonkeyPatch, *paths: Path, **kw: object) -> list[LoadedRecord]:
    from checker.input import records

    with monkeypatch.context() as m:
        m.setattr(records, "decoder_for", lambda validator: None)
        return load(*paths, **kw)


def _fast_share(records: list[LoadedRecord]) -> float:
    valid = [r for r in records if r.valid]
    return sum(r._text is not None for r in valid) / max(1, len(valid))


@pytest.mark.parametrize(
    "path",
    [
        Path(__file__).parents[3] / "fixtures" / "sample" / "batch.jsonl",
        Path(__file__).parents[3] / "fixtures" / "records" / "malformed.jsonl",
        Path(__file__).parents[3] / "fixtures" / "records" / "history_O-0042.jsonl",
        DATA / "batch.jsonl",
    ],
    ids=lambda p: p.name,
)
def test_the_fast_path_changes_no_record(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = load(path)
    share = _fast_share(fast)
    slow = _without_fast_path(monkeypatch, path)
    assert _fast_share(slow) == 0
    assert len(fast) == len(slow)
    for a, b in zip(fast, slow, strict=True):
        assert (a.source, a.line, a.location, a.record_id, a.errors) == (
            b.source, b.line, b.location, b.record_id, b.errors)
        assert _typed_same(a.data, b.data), a.location
        assert _typed_same(a.raw, b.raw), a.location
        assert a == b
    assert share >= 0.99


def test_a_fast_path_record_parses_its_line_only_when_asked(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "a.jsonl", rec("A", meals=[{"total_cny": 60.0}]))
    [record] = load(path)
    assert record.valid and record.data["meals"][0]["total_cny"] == Decimal("60.0")
    assert record._text is not None and record._raw is None
    assert record.raw == {**rec("A"), "meals": [{"total_cny": 60.0}]}
    assert record._text is None
    assert record.raw is record.raw
    record.raw = {"replaced": True}
    assert record.raw == {"replaced": True}
    assert "raw={'replaced': True}" in repr(record)


def test_fast_path_with_bom_crlf_blank_lines_and_duplicates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "mixed.jsonl"
    lines = [json.dumps(rec("A")), "", "   ", json.dumps(rec("B", x_note="ok")), json.dumps(rec("A")),
             '{"id": "C", "stage": "planned"', json.dumps(rec("D", official={"id": "O", "rank": "处级"}))]
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n")
    fast = load(path)
    assert summary(fast) == [
        (f"{path}:1", "A", True, []),
        (f"{path}:4", "B", True, []),
        (f"{path}:5", "A", False, ["duplicate_id"]),
        (f"{path}:6", None, False, ["json"]),
        (f"{path}:7", "D", False, ["enum"]),
    ]
    assert [r._text is not None for r in fast] == [True, True, True, False, False]
    assert fast[2].errors[0].message_en == f"duplicate record id 'A'; first seen at {path}:1"
    assert fast[2].raw == rec("A") and fast[1].data["x_note"] == "ok"
    assert fast == _without_fast_path(monkeypatch, path)


def test_fast_path_only_for_utf8(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "a.jsonl", rec("A"))
    [utf8] = load(path)
    [gbk] = load(path, encoding="gbk")
    assert utf8._text is not None and gbk._text is None
    assert utf8 == gbk


def test_fast_path_with_filled_jurisdiction(tmp_path: Path) -> None:
    from checker.input.validate import default_validator
    from checker.run.check import FillingValidator

    lacking = rec("A")
    del lacking["jurisdiction"]
    path = jsonl(tmp_path / "a.jsonl", lacking, rec("B", jurisdiction=None), rec("C"))
    records = load(path, validator=FillingValidator(default_validator(), "150304"))
    assert [(r.record_id, r.valid, r.data["jurisdiction"]) for r in records] == [  # type: ignore[index]
        ("A", True, "150304"),
        ("B", True, "150304"),
        ("C", True, "150300"),
    ]
    assert [r._text is not None for r in records] == [False, False, True]
    assert "jurisdiction" not in records[0].raw and records[1].raw["jurisdiction"] is None


def test_yaml_key_on_stays_text_and_yes_stays_true() -> None:
    """The record kinds have fields named `on` (transfer.on, feedback.on, measures[].on): YAML 1.1
    would read that key as the boolean true; yes/no and true/false stay booleans."""
    import yaml

    from checker.input.documents import _yaml_loader

    doc = yaml.load("feedback: {given: yes, on: 2025-10-10}\nescalation: {mode: none, off: no}\n",
                    Loader=_yaml_loader())
    assert doc == {"feedback": {"given": True, "on": "2025-10-10"}, "escalation": {"mode": "none", "off": False}}
