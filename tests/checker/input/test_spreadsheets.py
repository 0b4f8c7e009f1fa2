"""Spreadsheets as staff fill them in: headers by path or title, unknown columns (warned once,
or refused with strict columns), respelt values with one note per column, lists on extra rows
or on sheets of their own, and errors that name the sheet, row and column."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook

from checker.input.columns import ColumnMap
from checker.input.records import InputError, LoadedRecord, LoadWarning, iter_records
from checker.schema import record_schema

HEAD = "id,stage,jurisdiction,date,official.id"
BASE = "150300,2024-03-05,O-1"


def load(path: Path, **kw: object) -> tuple[list[LoadedRecord], list[LoadWarning]]:
    warnings: list[LoadWarning] = []
    return list(iter_records([str(path)], warnings=warnings, **kw)), warnings


def csv_file(tmp_path: Path, text: str, name: str = "b.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def book(path: Path, sheets: dict[str, list[list]]) -> Path:
    wb = Workbook()
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


def messages(records: list[LoadedRecord], lang: str = "zh") -> list[list[str]]:
    return [[e.describe(lang) for e in r.errors] for r in records]


# ---------------------------------------------------------------- headers


def test_headers_by_dotted_path_chinese_titles_or_english_titles(tmp_path: Path) -> None:
    dotted = csv_file(tmp_path, "id,stage,jurisdiction,date,official.id,official.rank,meals\n"
                      'A,planned,150300,2024-03-05,O-1,staff,"[{""payer"": ""enterprise""}]"\n', "d.csv")
    chinese = csv_file(tmp_path, "记录编号,阶段,行政区划,日期,公职人员·公职人员编号,公职人员·职级,用餐\n"
                       'A,planned,150300,2024-03-05,O-1,staff,"[{""payer"": ""enterprise""}]"\n', "z.csv")
    english = csv_file(tmp_path, "Record id,Stage,Jurisdiction,Date,Official › Official id,"
                       "official > rank,MEALS\n"
                       'A,planned,150300,2024-03-05,O-1,staff,"[{""payer"": ""enterprise""}]"\n', "e.csv")
    marked = csv_file(tmp_path, "记录编号*,阶段 *,行政区划,日期,公职人员.公职人员编号,职级（official.rank）,"
                      "用餐\n"
                      'A,planned,150300,2024-03-05,O-1,staff,"[{""payer"": ""enterprise""}]"\n', "m.csv")
    loaded = [load(p) for p in (dotted, chinese, english, marked)]
    assert all(w == [] for _r, w in loaded)
    datas = [r[0].data for r, _w in loaded]
    assert datas[0]["official"] == {"id": "O-1", "rank": "staff"}
    assert datas[0]["meals"] == [{"payer": "enterprise"}]
    assert datas[1] == datas[0] and datas[2] == datas[0] and datas[3] == datas[0]


def test_two_headers_for_one_field_refuse_the_file(tmp_path: Path) -> None:
    path = csv_file(tmp_path, f"{HEAD},official.rank,公职人员·职级\nA,planned,{BASE},staff,staff\n")
    with pytest.raises(InputError) as info:
        load(path)
    assert info.value.message_zh == (
        f"{path} 的表头中列 'official.rank' 与列 '公职人员·职级' 是同一字段（official.rank）")
    assert info.value.message_en == (
        f"{path}: columns 'official.rank' and '公职人员·职级' are the same field (official.rank)")


# ---------------------------------------------------------------- unknown columns


def test_unknown_columns_warned_once_per_file_and_ignored(tmp_path: Path) -> None:
    path = csv_file(tmp_path, f"{HEAD},备注,official.rnk,职级\n"
                    f"A,planned,{BASE},见附件,staff,staff\n"
                    f"B,planned,{BASE},,staff,staff\n"
                    f"C,planned,{BASE},另附,staff,staff\n")
    records, warnings = load(path)
    assert [r.valid for r in records] == [True, True, True]
    assert records[0].data["official"] == {"id": "O-1"}
    assert [w.message_zh for w in warnings] == [
        f"{path}：未知列 '备注' 已忽略，其中的值不参与检查",
        f"{path}：未知列 'official.rnk' 已忽略，其中的值不参与检查；是否为 'official.rank'？",
        f"{path}：未知列 '职级' 已忽略，其中的值不参与检查；是否为 '公职人员·职级'（official.rank）？",
    ]
    assert [w.message_en for w in warnings] == [
        f"{path}: unknown column '备注' ignored (its values are not checked)",
        f"{path}: unknown column 'official.rnk' ignored (its values are not checked); "
        "did you mean 'official.rank'?",
        f"{path}: unknown column '职级' ignored (its values are not checked); "
        "did you mean '公职人员·职级' (official.rank)?",
    ]


def test_extension_columns_are_not_unknown(tmp_path: Path) -> None:
    path = csv_file(tmp_path, f"{HEAD},x_source_system\nA,planned,{BASE},OA\n")
    [record], warnings = load(path)
    assert warnings == [] and record.valid and record.raw["x_source_system"] == "OA"


def test_strict_columns_refuse_the_file(tmp_path: Path) -> None:
    path = csv_file(tmp_path, f"{HEAD},备注,official.rnk\nA,planned,{BASE},x,staff\n")
    with pytest.raises(InputError) as info:
        load(path, strict_columns=True)
    assert info.value.message_zh == (
        f"{path}：未知列 '备注'、'official.rnk'（是否为 'official.rank'？）；"
        "使用了 --strict-columns，不读取此文件")
    assert info.value.message_en == (
        f"{path}: unknown columns '备注', 'official.rnk' (did you mean 'official.rank'?); "
        "not read because of --strict-columns")
    xlsx = book(tmp_path / "s.xlsx", {"记录": [["id", "stage", "jurisdiction", "date", "official.id"],
                                              ["A", "planned", "150300", "2024-03-05", "O"]],
                                     "Sheet2": [["总计", 3]]})
    records, warnings = load(xlsx)
    assert [r.valid for r in records] == [True]
    assert [w.message_en for w in warnings] == [
        f"{xlsx}: sheet 'Sheet2' is not a list of the record schema; ignored (its values are not "
        "checked)"]
    with pytest.raises(InputError) as info:
        load(xlsx, strict_columns=True)
    assert info.value.message_zh == (
        f"{xlsx}：工作表 'Sheet2' 不是记录模式中的列表；使用了 --strict-columns，不读取此文件")


# ---------------------------------------------------------------- values


def test_labels_yes_no_and_date_spellings_are_read_with_one_note_per_column(tmp_path: Path) -> None:
    path = csv_file(
        tmp_path,
        "id,stage,jurisdiction,date,official.id,official.rank,official.is_leader,"
        "venue.type,start_at,leisure.activities,interventions\n"
        "A,已完成,150300,2023/1/9,O,科员及以下,是,普通餐馆,2023/1/9 9:30,KTV、高尔夫,无\n"
        "B,Planned,150300,2023-1-9,O,section level,否,ordinary restaurant,"
        "2023-01-09 09:30:00+08:00,\"golf, yacht\",[]\n"
        "C,completed,150300,2023年1月9日,O,staff,Y,hotel,2023-01-09T09:30:00+08:00,[\"ktv\"],\n"
        "D,completed,150300,2023.1.9,O,staff,no,hotel,,,\n"
        "E,completed,150300,2023-01-09,O,staff,TRUE,hotel,,,\n")
    records, warnings = load(path)
    assert [r.valid for r in records] == [True] * 5
    a, b, c, d, e = (r.data for r in records)
    assert (a["stage"], b["stage"]) == ("completed", "planned")
    assert [x["official"]["rank"] for x in (a, b)] == ["staff", "section"]
    assert [x["official"]["is_leader"] for x in (a, b, c, d, e)] == [True, False, True, False, True]
    assert [x["venue"]["type"] for x in (a, b)] == ["ordinary_restaurant"] * 2
    assert {x["date"] for x in (a, b, c, d, e)} == {date(2023, 1, 9)}
    assert a["start_at"] == b["start_at"] == c["start_at"]
    assert a["start_at"].isoformat() == "2023-01-09T09:30:00+08:00"
    assert a["leisure"]["activities"] == ["ktv", "golf"]
    assert b["leisure"]["activities"] == ["golf", "yacht"]
    assert a["interventions"] == [] and b["interventions"] == []
    assert [w.message_zh for w in warnings] == [
        f"{path}：列 'stage' 的标签已换为对应取值（如 '已完成' → completed）",
        f"{path}：列 'date' 的日期已改写为 YYYY-MM-DD（如 '2023/1/9' → 2023-01-09）",
        f"{path}：列 'official.rank' 的标签已换为对应取值（如 '科员及以下' → staff）",
        f"{path}：列 'official.is_leader' 的 是/否 写法已读作布尔值（如 '是' → true）",
        f"{path}：列 'venue.type' 的标签已换为对应取值（如 '普通餐馆' → ordinary_restaurant）",
        f"{path}：列 'start_at' 的日期时间已改写为 RFC 3339，未写时区的按北京时间（+08:00）读取"
        "（如 '2023/1/9 9:30' → 2023-01-09T09:30:00+08:00）",
        f"{path}：列 'leisure.activities' 中分隔列出的多项已读作列表（如 'KTV、高尔夫' → [\"ktv\",\"golf\"]）",
        f"{path}：列 'interventions' 的 '无' 已读作空列表 []（没有）",
    ]
    assert [w.message_en for w in warnings] == [
        f"{path}: column 'stage': labels read as their values (e.g. '已完成' → completed)",
        f"{path}: column 'date': dates rewritten as YYYY-MM-DD (e.g. '2023/1/9' → 2023-01-09)",
        f"{path}: column 'official.rank': labels read as their values (e.g. '科员及以下' → staff)",
        f"{path}: column 'official.is_leader': yes/no spellings read as booleans (e.g. '是' → true)",
        f"{path}: column 'venue.type': labels read as their values "
        "(e.g. '普通餐馆' → ordinary_restaurant)",
        f"{path}: column 'start_at': date-times rewritten as RFC 3339, read as Beijing time "
        "(+08:00) where no offset is written (e.g. '2023/1/9 9:30' → 2023-01-09T09:30:00+08:00)",
        f"{path}: column 'leisure.activities': items separated by 、 , ; read as a list "
        "(e.g. 'KTV、高尔夫' → [\"ktv\",\"golf\"])",
        f"{path}: column 'interventions': '无' read as an empty list [] (there are none)",
    ]


def test_values_that_are_none_of_these_keep_their_errors(tmp_path: Path) -> None:
    raw = {"id": "A", "stage": "completed", "jurisdiction": "150300", "date": "2023/2/30",
           "official": {"id": "O", "is_leader": "也许"}, "venue": {"type": "普通饭馆"},
           "start_at": "2023/1/9 25:00"}
    jsonl = tmp_path / "v.jsonl"
    jsonl.write_text(json.dumps(raw, ensure_ascii=False) + "\n", encoding="utf-8")
    path = csv_file(tmp_path, "id,stage,jurisdiction,date,official.id,official.is_leader,"
                    "venue.type,start_at\nA,completed,150300,2023/2/30,O,也许,普通饭馆,2023/1/9 25:00\n")
    [from_csv], warnings = load(path)
    [from_json], _ = load(jsonl)
    assert warnings == []
    assert from_csv.errors == from_json.errors
    assert [e.describe("zh") for e in from_csv.errors][:2] == [
        "$.date: 取值 '2023/2/30' 格式不正确：应为 YYYY-MM-DD 格式的日期，如 2024-03-05",
        "$.official.is_leader: 应为布尔值（true/false），实际为字符串 '也许'",
    ]


def test_excel_cells_dates_and_labels(tmp_path: Path) -> None:
    path = book(tmp_path / "x.xlsx", {"记录": [
        ["记录编号", "阶段", "行政区划", "日期", "公职人员·公职人员编号", "公职人员·是否领导干部", "参与人数·公职人员人数"],
        [1001, "已完成", 150300, datetime(2023, 1, 9), "O", "否", 3],
        [1002, "计划中", 150300, datetime(2023, 1, 10), "O", True, 2.0],
    ]})
    records, warnings = load(path)
    assert [(r.record_id, r.valid) for r in records] == [("1001", True), ("1002", True)]
    assert records[0].data["date"] == date(2023, 1, 9)
    assert records[0].data["official"]["is_leader"] is False
    assert records[1].data["participants"]["officials"] == 2
    assert [w.message_zh for w in warnings] == [
        f"{path}!记录：列 '阶段' 的标签已换为对应取值（如 '已完成' → completed）",
        f"{path}!记录：列 '日期' 的 Excel 日期单元格已读作 YYYY-MM-DD（如 2023-01-09）",
        f"{path}!记录：列 '公职人员·是否领导干部' 的 是/否 写法已读作布尔值（如 '否' → false）",
    ]


# ---------------------------------------------------------------- lists on extra rows


EXTRA = ("id,stage,jurisdiction,date,official.id,用餐·付款方,用餐·总金额（元）,用餐·用餐人数,"
         "gifts.form,gifts.value_cny\n")


def test_lists_on_extra_rows(tmp_path: Path) -> None:
    path = csv_file(tmp_path, EXTRA
                    + f"A,completed,{BASE},企业,300,5,goods,150\n"
                    + ",,,,,本人自付,20,1,,\n"
                    + f"A,completed,{BASE},enterprise,60.5,2,cash,50\n"
                    + f"B,completed,{BASE},,,,,\n")
    records, _ = load(path)
    assert [(r.location, r.record_id, r.valid) for r in records] == [
        (f"{path}:2", "A", True), (f"{path}:5", "B", True)]
    a = records[0].data
    assert a["meals"] == [
        {"payer": "enterprise", "total_cny": Decimal("300"), "diners": 5},
        {"payer": "official_self", "total_cny": Decimal("20"), "diners": 1},
        {"payer": "enterprise", "total_cny": Decimal("60.5"), "diners": 2},
    ]
    assert a["gifts"] == [{"form": "goods", "value_cny": Decimal("150")},
                          {"form": "cash", "value_cny": Decimal("50")}]
    assert "meals" not in records[1].data


def test_errors_on_extra_rows_name_the_row_and_column(tmp_path: Path) -> None:
    path = csv_file(tmp_path, EXTRA
                    + f"A,completed,{BASE},企业,300,5,,\n"
                    + ",,,,,bogus,20,two,,\n")
    [record], _ = load(path)
    assert messages([record]) == [[
        "$.meals[1].payer: 取值 'bogus' 不在允许范围内；允许的取值：企业（enterprise）、本人自付（official_self）、"
        "本单位（own_unit）、接待方政府（host_government）、AA制分摊（aa_split）、多方混合支付（mixed）、"
        "不明（unknown）（第 3 行，列 '用餐·付款方'）",
        "$.meals[1].diners: 应为整数，实际为字符串 'two'（第 3 行，列 '用餐·用餐人数'）",
    ]]
    assert messages([record], "en")[0][1] == (
        "$.meals[1].diners: expected an integer, got a string 'two' (line 3, column '用餐·用餐人数')")


def test_rows_that_do_not_continue_a_record_are_records(tmp_path: Path) -> None:
    path = csv_file(tmp_path, EXTRA
                    + f"A,completed,{BASE},企业,300,5,,\n"
                    + "A,planned,150300,2024-03-05,O-1,企业,20,1,,\n"  # another stage: a record
                    + f"B,completed,{BASE},,,,,\n"
                    + "A,,,,,企业,20,1,,\n")  # not under A: a record of its own
    records, _ = load(path)
    assert [(r.location, r.record_id, r.valid) for r in records] == [
        (f"{path}:2", "A", True), (f"{path}:3", "A", False), (f"{path}:4", "B", True),
        (f"{path}:5", "A", False)]
    assert [e.code for e in records[1].errors] == ["duplicate_id"]
    assert messages(records[3:])[0][0] == (
        "$: 此行只填写了列表的列，像是续行（第 5 行）；续行须紧跟在同一记录的行之下，记录编号留空或与之相同，"
        "其余记录列留空或与之相同")
    assert messages(records[3:], "en")[0][0] == (
        "$: this row fills only list columns, like an extra row (line 5); an extra row must "
        "directly follow its record's rows, with the same or an empty record id and the other "
        "record columns empty or the same")
    assert [e.code for e in records[3].errors][-1] == "duplicate_id"


def test_a_list_given_twice_makes_the_record_invalid(tmp_path: Path) -> None:
    path = csv_file(tmp_path, f"{HEAD},meals,meals.payer\n"
                    f'A,completed,{BASE},"[{{""payer"": ""enterprise""}}]",enterprise\n'
                    f"B,completed,{BASE},无,\n")
    records, _ = load(path)
    assert [r.valid for r in records] == [False, True]
    assert messages(records)[0] == [
        "$.meals: 列表 用餐（meals） 以多种方式给出（其本列中的取值（JSON 或 无）、续行中的列）；请只用一种"]
    assert messages(records, "en")[0] == [
        "$.meals: the list Meals (meals) is given in more than one way (a value in its own column "
        "(JSON or none), columns on extra rows); use one"]
    assert records[1].data["meals"] == []


# ---------------------------------------------------------------- lists on their own sheets


def workbook_with_lists(tmp_path: Path) -> Path:
    return book(tmp_path / "lists.xlsx", {
        "记录": [["记录编号", "阶段", "行政区划", "日期", "公职人员·公职人员编号", "用餐"],
                 ["A", "已完成", "150300", "2024-03-05", "O"],
                 [1002, "已完成", "150300", "2024-03-05", "O", "无"],
                 ["C", "已完成", "150300", "2024-03-05", "O"]],
        "用餐": [["记录编号", "付款方", "总金额（元）", "用餐人数"],
               ["A", "企业", 300, 5],
               ["C", "本人", 20, 1],
               ["A", "本人自付", 20, 1],
               ["Z-9", "企业", 10, 1],
               [None, "企业", 10, 1]],
        "gifts": [["id", "form", "value_cny", "received_on"],
                  [1002, "现金", 200, datetime(2024, 3, 5)],
                  ["Z-9", "goods", 50, None]],
        "Sheet4": [],
    })


def test_lists_on_sheets_linked_by_record_id(tmp_path: Path) -> None:
    path = workbook_with_lists(tmp_path)
    records, warnings = load(path)
    assert [(r.location, r.record_id, r.valid) for r in records] == [
        (f"{path}!记录:row 2", "A", True),
        (f"{path}!记录:row 3", "1002", True),
        (f"{path}!记录:row 4", "C", False),
        (f"{path}!用餐:row 5", "Z-9", False),
        (f"{path}!用餐:row 6", None, False),
    ]
    a, b = records[0].data, records[1].data
    assert a["meals"] == [{"payer": "enterprise", "total_cny": Decimal("300"), "diners": 5},
                          {"payer": "official_self", "total_cny": Decimal("20"), "diners": 1}]
    assert b["meals"] == [] and b["gifts"] == [
        {"form": "cash", "value_cny": Decimal("200"), "received_on": date(2024, 3, 5)}]
    assert messages(records[2:]) == [
        ["$.meals[0].payer: 取值 '本人' 不在允许范围内；允许的取值：企业（enterprise）、本人自付（official_self）、"
         "本单位（own_unit）、接待方政府（host_government）、AA制分摊（aa_split）、多方混合支付（mixed）、"
         "不明（unknown）（工作表 '用餐' 第 3 行，列 '付款方'）"],
        ["$.id: 工作表 '用餐' 第 5 行的记录编号 'Z-9' 在工作表 '记录' 中没有对应的记录，未参与检查",
         "$.id: 工作表 'gifts' 第 3 行的记录编号 'Z-9' 在工作表 '记录' 中没有对应的记录，未参与检查"],
        ["$.id: 工作表 '用餐' 第 6 行没有填写记录编号，无法对应到记录，未参与检查"],
    ]
    assert messages(records[2:], "en") == [
        ["$.meals[0].payer: value '本人' is not allowed; allowed values: the enterprise (enterprise), "
         "the official personally (official_self), the official's own unit (own_unit), the host government "
         "(host_government), split between diners (AA) (aa_split), mixed payers (mixed), unknown "
         "(sheet '用餐', row 3, column '付款方')"],
        ["$.id: row 5 of sheet '用餐' names record id 'Z-9', which is not on sheet '记录'; not checked",
         "$.id: row 3 of sheet 'gifts' names record id 'Z-9', which is not on sheet '记录'; not checked"],
        ["$.id: row 6 of sheet '用餐' has no record id and cannot be linked to a record; not checked"],
    ]
    assert records[3].raw == {"id": "Z-9", "meals": [{"payer": "enterprise", "total_cny": 10,
                                                      "diners": 1}],
                              "gifts": [{"form": "goods", "value_cny": 50}]}
    assert [w.message_zh for w in warnings][:2] == [
        f"{path}!用餐：列 '付款方' 的标签已换为对应取值（如 '企业' → enterprise）",
        f"{path}!gifts：列 'form' 的标签已换为对应取值（如 '现金' → cash）",
    ]


def test_a_list_on_its_sheet_and_in_its_column_is_given_twice(tmp_path: Path) -> None:
    path = book(tmp_path / "twice.xlsx", {
        "Records": [["id", "stage", "jurisdiction", "date", "official.id", "meals"],
                    ["A", "completed", "150300", "2024-03-05", "O", "none"]],
        "Meals": [["Record id", "Payer"], ["A", "the enterprise"]]})
    [record], _ = load(path)
    assert messages([record], "en") == [[
        "$.meals: the list Meals (meals) is given in more than one way (a value in its own column "
        "(JSON or none), sheet 'Meals'); use one (sheet 'Meals', row 2)"]]


def test_a_list_sheet_without_a_record_id_column_refuses_the_file(tmp_path: Path) -> None:
    path = book(tmp_path / "noid.xlsx", {
        "记录": [["id", "stage", "jurisdiction", "date", "official.id"],
               ["A", "completed", "150300", "2024-03-05", "O"]],
        "礼品礼金": [["价值（元）"], [100]]})
    with pytest.raises(InputError) as info:
        load(path)
    assert info.value.message_zh == (
        f"{path}!礼品礼金：没有记录编号列（记录编号 或 id），其中的行无法对应到记录")
    assert info.value.message_en == (
        f"{path}!礼品礼金: the sheet has no record id column (记录编号 or id); its rows cannot be "
        "linked to records")


def test_column_map_reads_any_schema() -> None:
    cmap = ColumnMap(record_schema())
    assert [lst.dotted for lst in cmap.lists] == [
        "enterprise.pending_matters", "enterprise.relatives", "meals", "gifts"]
    assert [cmap.sheet_name(lst, "zh") for lst in cmap.lists] == ["待办事项", "亲属关联", "用餐", "礼品礼金"]
    schema = {"type": "object", "required": ["id"], "properties": {
        "id": {"type": "string", "title": "Case", "x-title-zh": "案号"},
        "steps": {"type": "array", "title": "Steps", "x-title-zh": "环节", "items": {
            "type": "object", "properties": {
                "on": {"$ref": "#/$defs/day", "title": "On", "x-title-zh": "日期"},
                "ok": {"type": ["boolean", "null"], "title": "Done", "x-title-zh": "已完成"}}}}},
        "$defs": {"day": {"type": "string", "format": "date"}}}
    other = ColumnMap(schema)
    assert [(f.dotted, f.kind, f.header("zh")) for f in other.fields] == [
        ("id", "string", "案号"), ("steps", "json", "环节"), ("steps.on", "date", "环节·日期"),
        ("steps.ok", "boolean", "环节·已完成")]
    assert other.resolve("环节·已完成").dotted == "steps.ok"
    assert other.sheet_list("环节").dotted == "steps"
