"""The HTTP API against the real app (FastAPI's TestClient): every endpoint, limits, bad input,
the ledger behind cross-record rules, and the decision log."""

from __future__ import annotations

import json
import re
from pathlib import Path

import orjson
import pytest

from checker.store.audit_verify import verify
from checker.store.ledger import Ledger
from checker.run.check import run_check
from checker.input.validate import load_schema

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

STATIC = Path(__file__).resolve().parents[2] / "checker" / "service" / "static"


def cli_report(tmp_path: Path, name: str, data: bytes, lang: str = "zh", history=()) -> dict:
    """What `qinqing check FILE -f json` says about the same bytes in a .json file (the file's
    name read as `<request>`)."""
    src = tmp_path / name
    src.write_bytes(data)
    out = tmp_path / (name + ".report.json")
    run_check(files=[str(src)], rules=None, jurisdiction=None, fmt="json", output=out, lang=lang,
              explain=False, history=list(history), input_format=None, encoding="utf-8", jobs=1,
              failing=("invalid",), log=None, mask=None)
    return json.loads(out.read_text(encoding="utf-8").replace(str(src), "<request>"))


def without_source(entry: dict) -> dict:
    return {k: v for k, v in entry.items() if k != "source"}


def error_of(response) -> dict:
    assert response.headers["content-type"].startswith("application/json")
    return response.json()["error"]


# ---- service endpoints -------------------------------------------------------------------
def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["ledger_records"] == 0
    assert re.fullmatch(r"[0-9a-f]{64}", body["policy"]["content_hash"])


def test_schema_is_the_record_schema(client):
    r = client.get("/v1/schema")
    assert r.status_code == 200
    assert r.json() == load_schema()


def test_openapi_lists_every_endpoint(client):
    doc = client.get("/openapi.json").json()
    assert set(doc["paths"]) == {"/v1/check", "/v1/records", "/v1/rules", "/v1/schema", "/v1/kinds", "/healthz"}
    assert "requestBody" in doc["paths"]["/v1/check"]["post"]
    params = {p["name"] for p in doc["paths"]["/v1/check"]["post"]["parameters"]}
    assert params == {"explain", "lang"}
    assert "409" in doc["paths"]["/v1/records"]["post"]["responses"]


def test_docs_and_page_are_served_without_anything_from_elsewhere(client):
    for path in ("/", "/docs"):
        r = client.get(path)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in r.headers["content-security-policy"]
        refs = re.findall(r'(?:src|href)="([^"]*)"', r.text)
        assert refs and all(ref.startswith(("/", "data:", "#")) for ref in refs), refs
    for asset in sorted(STATIC.iterdir()):
        text = asset.read_text(encoding="utf-8")
        assert not re.search(r"https?://", text), f"{asset.name} names an outside address"
        r = client.get(f"/static/{asset.name}")
        assert r.status_code == 200
        assert r.headers["x-content-type-options"] == "nosniff"


def test_page_assets(client):
    page = client.get("/").text
    assert '<script src="/static/app.js">' in page
    assert "政商交往事前自查" in page
    assert client.get("/static/app.js").headers["content-type"].startswith(
        ("application/javascript", "text/javascript"))
    css = client.get("/static/app.css")
    assert css.headers["content-type"].startswith("text/css")
    assert "@media print" in css.text


# ---- POST /v1/check ----------------------------------------------------------------------
def test_check_one_record_gives_the_cli_report(client, planned_meal, tmp_path):
    r = client.post("/v1/check", json=planned_meal)
    assert r.status_code == 200
    report = r.json()
    assert list(report) == ["policy", "records", "summary"]
    [entry] = report["records"]
    assert entry["outcome"] == "violation"
    assert entry["source"] == {"file": "<request>", "line": 1, "location": "<request>"}
    b1 = next(f for f in entry["findings"] if f["rule"] == "B1")
    assert b1["outcome"] == "violation"
    assert "128.00" in b1["message"] and "60" in b1["message"]
    assert b1["citation"] and b1["remedy"]
    assert report["summary"]["violation"] == 1 and report["summary"]["records"] == 1
    assert r.headers["x-qinqing-history-records"] == "0"

    cli = cli_report(tmp_path, "one.json", orjson.dumps(planned_meal))
    assert report["policy"] == cli["policy"]
    assert without_source(entry) == without_source(cli["records"][0])
    assert report["summary"] == cli["summary"]


def test_check_matches_the_report_schema(client, planned_meal):
    schema_path = Path(__file__).resolve().parents[2] / "docs" / "report.schema.json"
    if not schema_path.exists():
        pytest.skip("docs/report.schema.json not there yet")
    import jsonschema

    report = client.post("/v1/check?explain=true", json=[planned_meal]).json()
    jsonschema.validate(report, json.loads(schema_path.read_text(encoding="utf-8")))


def test_check_english_and_explain(client, planned_meal):
    r = client.post("/v1/check?lang=en&explain=true", json=planned_meal)
    assert r.status_code == 200
    [entry] = r.json()["records"]
    b1 = next(f for f in entry["findings"] if f["rule"] == "B1")
    assert b1["title"] == "Work meal over the cost cap"
    assert "explanation" in entry and entry["explanation"]["rules"]
    plain = client.post("/v1/check", json=planned_meal).json()["records"][0]
    assert "explanation" not in plain


def test_check_a_list_invalid_records_and_duplicates_like_the_cli(client, planned_meal, tmp_path):
    second = {**planned_meal, "id": "P-2", "date": "2026-13-01"}
    batch = [planned_meal, second, dict(planned_meal), 5]
    data = orjson.dumps(batch)
    for lang in ("zh", "en"):
        r = client.post(f"/v1/check?lang={lang}", content=data,
                        headers={"content-type": "application/json"})
        assert r.status_code == 200
        entries = r.json()["records"]
        assert [e["outcome"] for e in entries] == ["violation", "invalid", "invalid", "invalid"]
        assert [e["source"]["location"] for e in entries] == [
            "<request>#1", "<request>#2", "<request>#3", "<request>#4"]
        cli = cli_report(tmp_path, f"batch-{lang}.json", data, lang)["records"]
        assert [e["errors"] for e in entries] == [e["errors"] for e in cli]
    dup = entries[2]["errors"][-1]
    assert dup["code"] == "duplicate_id"
    assert dup["message"] == "duplicate record id 'P-2026-0042-01'; first seen at <request>#1"
    assert r.json()["summary"]["invalid"] == 3


def test_empty_list_is_an_empty_report(client):
    r = client.post("/v1/check", json=[])
    assert r.status_code == 200
    assert r.json()["records"] == [] and r.json()["summary"]["records"] == 0


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_malformed_json_has_the_cli_message(client, tmp_path, lang):
    data = b'{"id": "a",\n "stage": '
    r = client.post(f"/v1/check?lang={lang}", content=data)
    assert r.status_code == 400
    err = error_of(r)
    assert err["code"] == "json"
    cli = cli_report(tmp_path, "bad.json", data, lang)["records"][0]["errors"][0]["message"]
    assert err["message"] == cli
    assert err["message_zh"].startswith("JSON 格式错误（第 2 行")
    assert err["message_en"].startswith("invalid JSON at line 2")


@pytest.mark.parametrize("body,status,code,zh,en", [
    (b"", 400, "empty_body", "请求正文为空；请提交一条记录（JSON 对象）或记录数组",
     "the request body is empty; send a record (a JSON object) or an array of records"),
    (b'{"id": "\xff"}', 400, "encoding", "请求正文不是有效的 UTF-8 文本",
     "the request body is not valid UTF-8 text"),
    (b'"a record"', 422, "json", "JSON 文件的顶层应为记录对象或记录数组",
     "the top level of a JSON file must be a record object or an array of records"),
])
def test_bad_bodies(client, body, status, code, zh, en):
    for path in ("/v1/check", "/v1/records"):
        r = client.post(path, content=body)
        assert r.status_code == status
        err = error_of(r)
        assert (err["code"], err["message_zh"], err["message_en"], err["message"]) == (code, zh, en, zh)


def test_body_size_limit(make_client, planned_meal):
    client = make_client(max_body_bytes=4096)
    big = orjson.dumps([planned_meal] * 3)
    assert len(big) > 4096
    r = client.post("/v1/check?lang=en", content=big)
    assert r.status_code == 413
    err = error_of(r)
    assert err["code"] == "body_too_large"
    assert err["message"] == "the request body exceeds the 4096 B limit; send smaller batches"
    assert err["message_zh"] == "请求正文超过 4096 B 上限；请分批提交"

    def chunks():  # no Content-Length: counted while reading
        for i in range(0, len(big), 1000):
            yield big[i:i + 1000]

    r = client.post("/v1/records", content=chunks())
    assert r.status_code == 413 and error_of(r)["code"] == "body_too_large"
    assert client.get("/healthz").json()["ledger_records"] == 0


def test_default_body_limit_is_one_mib(client):
    r = client.post("/v1/check", content=b"[" + b" " * (1 << 20) + b"]")
    assert r.status_code == 413
    assert error_of(r)["message_zh"] == "请求正文超过 1 MiB 上限；请分批提交"


def test_record_count_limit(make_client, planned_meal):
    client = make_client(max_records=3)
    batch = [{**planned_meal, "id": f"R{i}"} for i in range(4)]
    for path in ("/v1/check", "/v1/records"):
        r = client.post(path, json=batch)
        assert r.status_code == 413
        err = error_of(r)
        assert err["code"] == "too_many_records"
        assert err["message_zh"] == "一次请求最多 3 条记录（收到 4 条）；请分批提交"
        assert err["message_en"] == "at most 3 records per request (got 4); send smaller batches"
    assert client.post("/v1/check", json=batch[:3]).status_code == 200


def test_bad_query_parameters(client, planned_meal):
    r = client.post("/v1/check?lang=fr", json=planned_meal)
    assert r.status_code == 422
    err = error_of(r)
    assert err["code"] == "invalid_parameter" and err["parameters"] == ["lang"]
    assert err["message_zh"].startswith("参数 lang 无效：")
    r = client.post("/v1/check?explain=perhaps&lang=en", json=planned_meal)
    assert r.status_code == 422
    assert error_of(r)["message"].startswith("invalid parameter explain: ")


def test_unknown_path_and_method_are_json(client):
    r = client.get("/v2/check?lang=en")
    assert r.status_code == 404
    assert error_of(r)["message"] == "Not found: /v2/check"
    assert error_of(r)["message_zh"] == "找不到 /v2/check"
    r = client.get("/v1/check")
    assert r.status_code == 405
    err = error_of(r)
    assert err["code"] == "method_not_allowed"
    assert err["message_zh"] == "/v1/check 不支持 GET 请求"
    assert err["message_en"] == "GET is not allowed on /v1/check"


def test_unexpected_failure_is_json(make_client, planned_meal, monkeypatch):
    client = make_client(raise_errors=False)
    service = client.app.state.service

    def broken(*args):
        raise RuntimeError("boom")

    monkeypatch.setattr(service, "check", broken)
    r = client.post("/v1/check", json=planned_meal)
    assert r.status_code == 500
    err = error_of(r)
    assert err["code"] == "internal_error"
    assert err["message_zh"] == "服务内部错误，请查看服务日志"
    assert "boom" not in r.text


# ---- the ledger: POST /v1/records and history in checks --------------------------------
def test_records_then_history_feeds_cross_record_rules(client, planned_meal, history_records):
    before = client.post("/v1/check", json=planned_meal).json()["records"][0]
    assert "B11" not in {f["rule"] for f in before["findings"]}

    r = client.post("/v1/records", json=history_records)
    assert r.status_code == 201
    body = r.json()
    assert body["added"] == 4 and body["ledger_records"] == 4
    assert body["ids"] == [h["id"] for h in history_records]
    assert body["message_zh"] == "已记入账本 4 条记录；账本现有 4 条记录"

    r = client.post("/v1/check", json=planned_meal)
    assert r.headers["x-qinqing-history-records"] == "4"
    after = r.json()["records"][0]
    b11 = next(f for f in after["findings"] if f["rule"] == "B11")
    assert b11["outcome"] == "review"
    assert "3" in b11["message"]  # the third firm-paid meal (rule text: rules/)
    # the history is not reported, and other officials' checks do not see it
    assert len(r.json()["records"]) == 1
    other = {**planned_meal, "official": {**planned_meal["official"], "id": "O-9999"}}
    r = client.post("/v1/check", json=other)
    assert r.headers["x-qinqing-history-records"] == "0"


def test_history_leaves_out_records_of_the_batch(client, planned_meal, history_records):
    client.post("/v1/records", json=history_records)
    r = client.post("/v1/check", json=[history_records[1], planned_meal])
    assert r.headers["x-qinqing-history-records"] == "3"
    entries = r.json()["records"]
    b11 = next(f for f in entries[1]["findings"] if f["rule"] == "B11")
    alone = client.post("/v1/check", json=planned_meal).json()["records"][0]
    assert b11 == next(f for f in alone["findings"] if f["rule"] == "B11")  # counted once


def ledger_state(path: Path) -> tuple[int, list]:
    with Ledger(path, create=False) as ledger:
        return ledger.count(), [(row.id, row.source) for row in ledger.rows()]


def test_duplicate_id_leaves_the_ledger_unchanged(client, history_records, tmp_path):
    assert client.post("/v1/records", json=history_records[:2]).status_code == 201
    state = ledger_state(tmp_path / "ledger.sqlite3")
    batch = [history_records[2], history_records[3], history_records[0]]  # the last is there
    r = client.post("/v1/records?lang=en", json=batch)
    assert r.status_code == 409
    err = error_of(r)
    assert err["code"] == "duplicate_ids"
    assert err["duplicate_ids"] == [history_records[0]["id"]]
    assert err["message_en"] == ("<request>: file rejected, no record added. Record ids already "
                                 f"in the ledger: {history_records[0]['id']}.")
    assert err["message_zh"] == ("<request>：整个文件未导入（0 条记录写入）。账本中已有这些记录编号："
                                 f"{history_records[0]['id']}。")
    assert err["details"][0] == "<request>: file rejected, no record added."
    assert ledger_state(tmp_path / "ledger.sqlite3") == state
    assert client.get("/healthz").json()["ledger_records"] == 2


def test_duplicate_within_the_request_adds_nothing(client, history_records):
    r = client.post("/v1/records", json=[history_records[0], history_records[1], history_records[0]])
    assert r.status_code == 409
    err = error_of(r)
    assert err["duplicate_ids"] == [history_records[0]["id"]]
    assert "文件内重复的记录编号" in err["message_zh"]
    assert client.get("/healthz").json()["ledger_records"] == 0


def test_invalid_record_rejects_the_request(client, history_records):
    bad = {**history_records[1], "date": "2026-02-30"}
    r = client.post("/v1/records?lang=en", json=[history_records[0], bad])
    assert r.status_code == 422
    err = error_of(r)
    assert err["code"] == "invalid_records"
    assert err["message"].startswith("<request>: file rejected, no record added. Invalid records: "
                                     "<request>#2 $.date: ")
    assert client.get("/healthz").json()["ledger_records"] == 0


def test_empty_records_request(client):
    r = client.post("/v1/records", json=[])
    assert r.status_code == 422
    assert error_of(r)["message_zh"] == "请求中没有记录"


# ---- GET /v1/rules -------------------------------------------------------------------------
def test_rules_in_force(client):
    r = client.get("/v1/rules?jurisdiction=150300&date=2026-12-03")
    assert r.status_code == 200
    cat = r.json()
    assert cat["jurisdiction"] == "150300" and cat["date"] == "2026-12-03"
    rules = {x["id"]: x for x in cat["rules"]}
    assert {"N1", "P3", "B1", "B11", "B15"} <= set(rules)
    assert rules["B1"]["title"] == {"zh": "工作餐超标准", "en": "Work meal over the cost cap"}
    assert rules["B1"]["citation"]
    assert rules["B11"]["cross_record"] is True
    params = {p["name"]: p for p in cat["parameters"]}
    assert params["meal_cap_per_person_cny"]["value"] == "60"
    assert params["meal_cap_per_person_cny"]["profile"] == "150300"
    assert re.fullmatch(r"\d+ (days|weeks|months|years)", params["cooling_off"]["value"])
    assert {p["name"] for p in cat["packs"]} >= {"common.negative", "common.positive"}


def test_rules_defaults_and_time(client):
    cat = client.get("/v1/rules").json()
    assert cat["jurisdiction"] == "000000"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", cat["date"])
    old = client.get("/v1/rules?date=2000-01-01").json()
    assert old["rules"] == []  # nothing was in force before 2013


@pytest.mark.parametrize("query,code,zh,en", [
    ("jurisdiction=1503", "invalid_jurisdiction", "jurisdiction 应为 6 位行政区划代码，而不是 '1503'",
     "jurisdiction must be a 6-digit area code, not '1503'"),
    ("date=2026-02-30", "invalid_date", "date 应为 YYYY-MM-DD 格式的日期，而不是 '2026-02-30'",
     "date must be a YYYY-MM-DD date, not '2026-02-30'"),
])
def test_rules_bad_parameters(client, query, code, zh, en):
    r = client.get(f"/v1/rules?{query}")
    assert r.status_code == 422
    err = error_of(r)
    assert (err["code"], err["message_zh"], err["message_en"]) == (code, zh, en)


# ---- the decision log ----------------------------------------------------------------------
def test_every_check_is_logged_and_chained(client, planned_meal, tmp_path):
    log = tmp_path / "decisions.jsonl"  # beside the ledger by default
    r1 = client.post("/v1/check", json=planned_meal)
    r2 = client.post("/v1/check", json=[planned_meal, {**planned_meal, "id": "X", "stage": "?"}])
    lines = [json.loads(x) for x in log.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 1 + 3  # the header, then one line per record checked
    assert [x["outcome"] for x in lines[1:]] == ["violation", "violation", "invalid"]
    assert lines[1]["official_name"] == "张三"
    assert lines[1]["policy_hash"] == r1.json()["policy"]["content_hash"]
    assert "B1" in lines[1]["rules"]
    assert r1.headers["x-qinqing-decision-hash"] == lines[1]["hash"]
    assert r2.headers["x-qinqing-decision-hash"] == lines[3]["hash"]
    report = verify(log, head=lines[3]["hash"])
    assert report.ok, report.problems


def test_log_path_and_mask(make_client, planned_meal, tmp_path):
    log = tmp_path / "elsewhere" / "log.jsonl"
    client = make_client(log=log, mask="name,official.id")
    client.post("/v1/check", json=planned_meal)
    line = json.loads(log.read_text(encoding="utf-8").splitlines()[1])
    assert line["official_name"].startswith("masked:")
    assert line["official_id"].startswith("masked:")
    assert line["enterprise_name"].startswith("masked:")
    assert "张三" not in log.read_text(encoding="utf-8")
    assert not (tmp_path / "decisions.jsonl").exists()


def test_unwritable_log_is_refused_at_start(tmp_path, shared_policy):
    from checker.service.app import ServiceConfig, create_app
    from checker.store.audit import AuditError

    (tmp_path / "dir.jsonl").mkdir()
    with pytest.raises(AuditError) as exc:
        create_app(ServiceConfig(ledger=tmp_path / "l.sqlite3", log=tmp_path / "dir.jsonl"))
    assert exc.value.code == "log_write_failed"
    assert exc.value.message_en.startswith(f"cannot write the decision log {tmp_path / 'dir.jsonl'}: ")


# ---- creating the app ------------------------------------------------------------------------
def test_bad_configuration_is_refused(tmp_path, shared_policy):
    from checker.store.audit import AuditError
    from checker.engine.policy import PolicyLoadError
    from checker.service.app import ServiceConfig, create_app

    with pytest.raises(AuditError) as exc:
        create_app(ServiceConfig(ledger=tmp_path / "l.sqlite3", mask="salary"))
    assert exc.value.message_en.startswith("Cannot mask field salary; choose from: ")
    bad = tmp_path / "bad.policy"
    bad.write_text("policy x.y \"x\" / \"x\"\n  version \"1\"\n  forbid\n", encoding="utf-8")
    with pytest.raises(PolicyLoadError):
        create_app(ServiceConfig(ledger=tmp_path / "l.sqlite3", rules=(bad,)))
