"""Hostile input never crashes a loader: each case is an invalid record with a clear message,
or a refused file (InputError) that names it; records in = records reported."""

from __future__ import annotations

import copy
import io
import json
import zipfile
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checker.input.records import InputError, iter_records

ROOT = Path(__file__).resolve().parents[3]
def _sample() -> list[dict]:
    out = []
    for line in (ROOT / "fixtures" / "sample" / "batch.jsonl").read_bytes().splitlines()[:300]:
        try:
            rec = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out


SAMPLE = _sample()
BASE = {"id": "H-1", "stage": "completed", "jurisdiction": "150300", "date": "2024-03-05",
        "official": {"id": "O-1"}}


def load(path: Path, **kw) -> list:
    return list(iter_records([str(path)], **kw))


def only(path: Path, **kw):
    (item,) = load(path, **kw)
    assert item.data is None
    return item


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_a_field_nested_990_levels_is_an_invalid_record(tmp_path: Path) -> None:
    f = tmp_path / "deep.jsonl"
    f.write_text(json.dumps(BASE)[:-1] + ', "x_deep": ' + nested(990) + "}\n", encoding="utf-8")
    item = only(f)
    (err,) = item.errors
    assert err.code == "too_deep" and err.path.startswith("$.x_deep")
    assert err.message_en == "nested more than 100 levels deep; not processed"
    assert err.message_zh == "嵌套层数超过 100 层上限，未处理"
    orjson.dumps(item.raw)  # writable in a report or log


def test_yaml_nested_past_the_parser_is_an_invalid_record(tmp_path: Path) -> None:
    f = tmp_path / "deep.yaml"
    f.write_text("id: H-1\nx_deep: " + nested(5000) + "\n", encoding="utf-8")
    (err,) = only(f).errors
    assert err.code == "too_deep" and "nested too deeply" in err.message_en


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_yaml_non_finite_numbers_are_invalid_records(tmp_path: Path, value: str) -> None:
    f = tmp_path / "nan.yaml"
    body = "\n".join(f"{k}: {json.dumps(v)}" for k, v in BASE.items())
    f.write_text(body + f"\nx_score: {value}\nmeals:\n  - total_cny: {value}\n", encoding="utf-8")
    item = only(f)
    codes = {e.path: e.code for e in item.errors}
    assert codes == {"$.meals[0].total_cny": "money"}
    assert "is not a finite number" in item.errors[0].message_en
    orjson.dumps(item.raw)
    f.write_text(body + f"\nx_score: {value}\n", encoding="utf-8")
    (err,) = only(f).errors
    assert (err.path, err.code) == ("$.x_score", "type")
    assert err.message_zh.endswith("不是有限的数字")


def test_a_lone_surrogate_is_an_invalid_record(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    body = "\n".join(f"{k}: {json.dumps(v)}" for k, v in BASE.items())
    f.write_text(body + '\nx_note: "a\\ud800b"\n', encoding="utf-8")
    item = only(f)
    (err,) = item.errors
    assert (err.path, err.code) == ("$.x_note", "text")
    assert "lone surrogate \\ud800" in err.message_en and "单独的代理项" in err.message_zh
    assert item.raw["x_note"] == "a\\ud800b"
    orjson.dumps(item.raw)
    j = tmp_path / "s.jsonl"
    j.write_text(json.dumps({**BASE, "x_note": "a\ud800b"}) + "\n", encoding="utf-8")
    (err,) = only(j).errors
    assert err.code == "json" and "surrogate" in err.message_en


def _xlsx(sheet_xml: bytes, extra: dict | None = None) -> bytes:
    parts = {
        "[Content_Types].xml": b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
        "_rels/.rels": b'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": b'<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": b'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        "xl/worksheets/sheet1.xml": sheet_xml,
        **(extra or {}),
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return buf.getvalue()


SHEET = b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>{rows}</sheetData></worksheet>'


def test_an_xlsx_decompression_bomb_is_refused_fast(tmp_path: Path) -> None:
    row = b'<row><c t="inlineStr"><is><t>x</t></is></c></row>'
    f = tmp_path / "bomb.xlsx"
    f.write_bytes(_xlsx(SHEET.replace(b"{rows}", b"")))
    with zipfile.ZipFile(f, "a", zipfile.ZIP_DEFLATED, compresslevel=9) as z, \
            z.open("xl/worksheets/sheet2.xml", "w", force_zip64=True) as part:
        chunk = row * (1 << 15)
        for _ in range((300 << 20) // len(chunk) + 1):  # 300 MiB unzipped
            part.write(chunk)
    assert f.stat().st_size < 2 << 20  # a bomb: under 2 MB on disk
    with pytest.raises(InputError) as exc:
        load(f)
    assert "too large once unzipped" in exc.value.message_en
    assert "解压后过大" in exc.value.message_zh


def test_xlsx_with_a_dtd_is_refused_by_name(tmp_path: Path) -> None:
    xxe = (b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
           + SHEET[SHEET.index(b"<worksheet"):].replace(b"{rows}", b""))
    f = tmp_path / "xxe.xlsx"
    f.write_bytes(_xlsx(xxe))
    with pytest.raises(InputError) as exc:
        load(f)
    assert "declares an XML document type (DTD)" in exc.value.message_en
    assert "Internal" not in exc.value.message_en and "DTD" in exc.value.message_zh


def test_xlsx_rows_declared_wide_are_read_as_written(tmp_path: Path) -> None:
    header = b'<row r="1"><c r="A1" t="inlineStr"><is><t>id</t></is></c></row>'
    data = b'<row r="2"><c r="A2" t="inlineStr"><is><t>R-1</t></is></c></row>'
    sheet = SHEET.replace(b"<sheetData>", b'<dimension ref="A1:XFD1048576"/><sheetData>')
    f = tmp_path / "wide.xlsx"
    f.write_bytes(_xlsx(sheet.replace(b"{rows}", header + data)))
    (item,) = load(f)
    assert item.raw == {"id": "R-1"}


def test_stdin_sniffs_yaml_json_and_jsonl(tmp_path: Path, monkeypatch) -> None:
    from checker.input.sources import sniff_format

    assert sniff_format(b"id: R-1\nstage: planned\n") == "yaml"
    assert sniff_format(b"---\n- id: R-1\n") == "yaml"
    assert sniff_format(b'\xef\xbb\xbf{"id": "a"}\n{"id": "b"}\n') == "jsonl"
    assert sniff_format(b'{\n  "id": "a"\n}\n') == "json"
    assert sniff_format(b'[{"id": "a"}]') == "json"


# ---------------------------------------------------------------- fuzz

HOSTILE = st.sampled_from([
    float("nan"), float("inf"), "\ud800", "a\x00b", "\u2028", "\ufeff", 10**40, -(10**20), 1e308,
    "9" * 400, "", " ", "null", "true", "2024-02-30", "1990-12-31T23:59:60Z", [], {}, [[[]]],
    {"x": {"y": None}}, True, None, "企业", "＄", "x" * 5000,
])


@st.composite
def mutated(draw: st.DrawFn) -> dict:
    rec = copy.deepcopy(draw(st.sampled_from(SAMPLE)))
    for _ in range(draw(st.integers(0, 4))):
        keys = list(rec)
        action = draw(st.sampled_from(["set", "delete", "add", "deep"]))
        if action == "set" and keys:
            rec[draw(st.sampled_from(keys))] = draw(HOSTILE)
        elif action == "delete" and keys:
            del rec[draw(st.sampled_from(keys))]
        elif action == "add":
            rec[draw(st.sampled_from(["x_ext", "foo", "meals", "gifts", "date"]))] = draw(HOSTILE)
        else:
            v: object = draw(HOSTILE)
            for _ in range(draw(st.integers(90, 130))):
                v = [v]
            rec["x_deep"] = v
    return rec


def _write(records: list[dict], fmt: str, path: Path) -> int:
    """Write `records` in `fmt`; the number of records the file holds."""
    if fmt == "jsonl":
        lines = [json.dumps(r, ensure_ascii=True, allow_nan=True) for r in records]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    elif fmt == "json":
        path.write_text(json.dumps(records, allow_nan=True), encoding="utf-8")
        try:
            orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError:
            return 1  # one broken document: one invalid record
    elif fmt == "yaml":
        import yaml

        path.write_text(yaml.safe_dump(records, allow_unicode=False), encoding="utf-8")
    return len(records)


@pytest.mark.parametrize("fmt", ["jsonl", "json", "yaml"])
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(mutated(), min_size=1, max_size=4))
def test_every_loader_survives_mutated_real_records(tmp_path: Path, fmt: str,
                                                    records: list[dict]) -> None:
    f = tmp_path / f"fuzz.{fmt}"
    expected = _write(records, fmt, f)
    items = load(f)
    assert len(items) == expected
    for item in items:
        if item.data is None:
            orjson.dumps(item.raw, default=str)  # reports and logs can write every one
        for e in item.errors:
            assert e.message_zh and e.message_en and "Traceback" not in e.message_en


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(mutated(), min_size=1, max_size=4))
def test_csv_survives_mutated_real_records(tmp_path: Path, records: list[dict]) -> None:
    import csv

    f = tmp_path / "fuzz.csv"
    keys = sorted({k for r in records for k in r})
    with f.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(keys)
        for r in records:
            w.writerow([json.dumps(r[k], allow_nan=True) if isinstance(r.get(k), (dict, list))
                        else ("" if r.get(k) is None else str(r[k]).encode("utf-8", "replace")
                              .decode("utf-8").replace("\x00", "")) for k in keys])
    rows = [r for r in records if any(r.get(k) not in (None, "") for k in keys)]
    assert len(load(f)) == len(rows)
