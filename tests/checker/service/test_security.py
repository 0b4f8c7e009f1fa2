"""Issue 17's findings against the API, each reproduced and now refused or answered 4xx:
access (1), look-alike ids (2), the log's bounded lines and full disk (5), inputs that
crashed (6), reads behind a waiting write (7), leaks (8)."""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import stat
import threading
import time
from pathlib import Path

import pytest

from checker.store.ledger import Ledger
from checker.store.tokens import add_token

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def err(r) -> dict:
    return r.json()["error"]


# ---- 1. access ----------------------------------------------------------------------------
def test_cross_site_text_plain_post_is_refused(make_client, history_records):
    client = make_client(csrf=False)
    r = client.post("/v1/records", content=json.dumps(history_records),
                    headers={"content-type": "text/plain", "origin": "https://evil.example"})
    assert r.status_code == 415 and err(r)["code"] == "json_only"
    r = client.post("/v1/records", json=history_records,
                    headers={"origin": "https://evil.example"})
    assert r.status_code == 403 and err(r)["code"] == "cross_origin"
    assert err(r)["message_en"] == ("cross-site request refused: only this service's own page "
                                    "may send it")
    r = client.post("/v1/records", json=history_records)  # no CSRF token
    assert r.status_code == 403 and err(r)["code"] == "csrf"
    assert client.get("/healthz").json()["ledger_records"] == 0


def test_dns_rebinding_host_is_refused(client, planned_meal):
    r = client.post("/v1/check", json=planned_meal, headers={"host": "evil.example:8080"})
    assert r.status_code == 421 and err(r)["code"] == "host_not_allowed"
    assert client.get("/", headers={"host": "evil.example"}).status_code == 421
    assert client.get("/", headers={"host": "localhost:8080"}).status_code == 200


def test_page_carries_the_csrf_token_and_same_origin_passes(make_client, planned_meal):
    client = make_client(csrf=False)
    page = client.get("/").text
    token = client.app.state.csrf
    assert f'<meta name="qinqing-csrf" content="{token}">' in page
    r = client.post("/v1/check", json=planned_meal,
                    headers={"x-qinqing-csrf": token, "origin": "http://127.0.0.1:8080"})
    assert r.status_code == 200


def tokens_client(make_client, tmp_path, **kw):
    ledger = tmp_path / "ledger.sqlite3"
    with Ledger(ledger) as store:
        staff = add_token(store, "desk", "staff")[1]
        own = add_token(store, "zhang", "official", "O-0042")[1]
    client = make_client(csrf=False, host="0.0.0.0", **kw)
    return client, staff, own


def test_tokens_roles_and_reading_only_ones_own(make_client, tmp_path, planned_meal,
                                                history_records):
    client, staff, own = tokens_client(make_client, tmp_path)
    assert client.post("/v1/check", json=planned_meal).status_code == 401
    r = client.post("/v1/check", json=planned_meal, headers={"authorization": "Bearer qq_nope"})
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    bearer = lambda s: {"authorization": f"Bearer {s}"}  # noqa: E731
    assert client.post("/v1/records", json=history_records, headers=bearer(staff)).status_code == 201
    # an official's token: its own records only, no writing, and no 409 to learn ids by
    r = client.post("/v1/check", json=planned_meal, headers=bearer(own))
    assert r.status_code == 200 and r.headers["x-qinqing-history-records"] == "4"
    other = {**planned_meal, "official": {"id": "O-9999"}}
    r = client.post("/v1/check", json=other, headers=bearer(own))
    assert r.status_code == 403 and err(r)["code"] == "not_your_records"
    r = client.post("/v1/records", json=history_records[:1], headers=bearer(own))
    assert r.status_code == 403 and err(r)["code"] == "forbidden"
    # the log names who acted
    lines = [json.loads(x) for x in (tmp_path / "decisions.jsonl").read_text().splitlines()]
    assert lines[-1]["actor"] == "token:zhang" and lines[-1]["history_records"] == 4
    assert lines[-1]["ledger_seq"] == 4 and len(lines[-1]["history_hash"]) == 64


def test_revoked_token_stops_at_once(make_client, tmp_path, planned_meal):
    from checker.store.tokens import revoke_token

    client, staff, _ = tokens_client(make_client, tmp_path)
    auth = {"authorization": f"Bearer {staff}"}
    assert client.post("/v1/check", json=planned_meal, headers=auth).status_code == 200
    with Ledger(tmp_path / "ledger.sqlite3") as store:
        revoke_token(store, "desk")
    assert client.post("/v1/check", json=planned_meal, headers=auth).status_code == 401


def test_rate_limit(make_client, tmp_path, planned_meal):
    client, staff, _ = tokens_client(make_client, tmp_path, rate_per_minute=30)
    auth = {"authorization": f"Bearer {staff}"}
    codes = [client.post("/v1/check", json=planned_meal, headers=auth).status_code
             for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[-1] == 429
    r = client.post("/v1/check?lang=en", json=planned_meal, headers=auth)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1


def test_non_loopback_without_tokens_is_refused(tmp_path, shared_policy):
    from checker.service.app import ServiceConfig, create_app
    from checker.store.ledger import LedgerError

    with pytest.raises(LedgerError) as exc:
        create_app(ServiceConfig(ledger=tmp_path / "l.sqlite3", host="0.0.0.0"))
    assert exc.value.code == "no_tokens"


# ---- 2. look-alike ids ------------------------------------------------------------------------
@pytest.mark.parametrize("twist", ["\u200b", "\u202e", "\u2011"])
def test_look_alike_ids_are_refused(client, history_records, twist):
    client.post("/v1/records", json=history_records)
    copy = {**history_records[1], "id": history_records[1]["id"].replace("-", twist, 1)
            if twist == "\u2011" else history_records[1]["id"] + twist}
    r = client.post("/v1/records?lang=en", json=[copy])
    assert r.status_code == 422 and "look-alike ids" in err(r)["message"]
    assert client.get("/healthz").json()["ledger_records"] == 4
    r = client.post("/v1/check", json=copy)
    assert r.json()["records"][0]["outcome"] == "invalid"
    assert r.json()["records"][0]["errors"][-1]["code"] == "lookalike_id"


def test_nfc_and_nfd_spellings_are_one_id(client, history_records):
    composed = {**history_records[0], "id": "R-\u00e9"}
    decomposed = {**history_records[1], "id": "R-e\u0301"}
    assert client.post("/v1/records", json=[composed]).status_code == 201
    r = client.post("/v1/records", json=[decomposed])
    assert r.status_code == 409 and err(r)["duplicate_ids"] == ["R-\u00e9"]


# ---- 5. the log ------------------------------------------------------------------------------
def test_a_huge_name_does_not_make_a_huge_line(make_client, planned_meal, tmp_path):
    client = make_client(max_body_bytes=4 << 20)
    big = {**planned_meal, "official": {**planned_meal["official"], "name": "张" * 1_200_000}}
    assert client.post("/v1/check", json=big).status_code == 200
    text = (tmp_path / "decisions.jsonl").read_bytes()
    assert max(len(x) for x in text.splitlines()) < 4096
    assert json.loads(text.splitlines()[-1])["official_name"].startswith("sha256:")
    assert client.post("/v1/check", json=planned_meal).status_code == 200


def test_full_disk_answers_503_then_recovers(client, planned_meal, tmp_path, monkeypatch):
    import checker.store.audit as audit_mod

    log = tmp_path / "decisions.jsonl"
    assert client.post("/v1/check", json=planned_meal).status_code == 200
    before = log.read_bytes()
    real_write = os.write
    state = {"full": True}

    def write(fd, data):  # half a line, then ENOSPC
        if state["full"]:
            real_write(fd, bytes(data[: len(data) // 2]))
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(audit_mod.os, "write", write)
    r = client.post("/v1/check?lang=en", json=planned_meal)
    assert r.status_code == 503 and err(r)["code"] == "decision_log_full"
    assert str(tmp_path) not in r.text and "No space" not in r.text
    assert log.read_bytes() == before  # the half line was cut back: no line without a verdict
    state["full"] = False
    assert client.post("/v1/check", json=planned_meal).status_code == 200
    from checker.store.audit_verify import verify

    assert verify(log).ok


def test_torn_tail_is_moved_aside_at_start(make_client, planned_meal, tmp_path):
    client = make_client()
    client.post("/v1/check", json=planned_meal)
    log = tmp_path / "decisions.jsonl"
    with log.open("ab") as f:
        f.write(b'{"seq":2,"time":"20')  # a crash mid-write
    client2 = make_client()
    assert client2.app.state.service.recovered is not None
    assert client2.post("/v1/check", json=planned_meal).status_code == 200
    from checker.store.audit_verify import verify

    report = verify(log)
    assert report.ok and [n.kind for n in report.notices] == ["recovered_crash"]


# ---- 6. inputs that crashed -------------------------------------------------------------------
def test_year_one_and_deep_nesting_are_4xx_or_verdicts(client, planned_meal, history_records):
    client.post("/v1/records", json=history_records)
    r = client.post("/v1/check", json={**planned_meal, "date": "0001-01-01"})
    assert r.status_code == 200 and r.json()["records"][0]["outcome"] in ("unlisted", "invalid")
    deep = b'{"id": "x", "official": ' + b"[" * 990 + b"]" * 990 + b"}"
    r = client.post("/v1/check?lang=en", content=deep)
    assert r.status_code == 400 and err(r)["code"] == "too_deep"
    r = client.post("/v1/check", content=b"[" * 5000 + b"]" * 5000)
    assert r.status_code == 400 and err(r)["code"] == "too_deep"


def test_surrogates_and_non_finite_numbers(client, planned_meal):
    for path in ("/v1/check", "/v1/records"):  # a lone surrogate is not JSON text
        r = client.post(path, content=b'{"id": "\\ud800", "stage": "planned"}')
        assert r.status_code == 400 and err(r)["code"] == "json"
    r = client.post("/v1/check", content=b'{"id": "A", "meals": [{"total_cny": 1e400}]}')
    assert r.status_code in (200, 400)


# ---- 7. reads never wait behind a write -------------------------------------------------------
def test_a_waiting_write_does_not_block_checks(client, planned_meal, tmp_path):
    holder = sqlite3.connect(tmp_path / "ledger.sqlite3", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    done = threading.Event()

    def write() -> None:
        client.post("/v1/records", json=[{**planned_meal, "id": "W-1", "stage": "completed"}])
        done.set()

    t = threading.Thread(target=write)
    t.start()
    time.sleep(0.3)  # the write is now waiting for SQLite's lock
    started = time.monotonic()
    assert client.post("/v1/check", json=planned_meal).status_code == 200
    assert time.monotonic() - started < 3  # not behind the write's 5 s busy wait
    assert not done.is_set()
    holder.execute("ROLLBACK")
    holder.close()
    t.join(30)


# ---- 8. leaks --------------------------------------------------------------------------------
def test_no_store_and_private_files(client, planned_meal, tmp_path):
    r = client.post("/v1/check", json=planned_meal)
    assert r.headers["cache-control"] == "no-store"
    assert client.get("/").headers["cache-control"] == "no-store"
    for name in ("ledger.sqlite3", "decisions.jsonl"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    key = Path(os.environ["QINQING_KEY_FILE"])
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_ledger_errors_name_no_path(client, planned_meal, tmp_path, monkeypatch):
    from checker.store.ledger import LedgerError

    service = client.app.state.service

    def busy(*a, **k):
        raise LedgerError("ledger_busy", f"账本 {tmp_path} 正忙", f"Ledger {tmp_path} is busy")

    monkeypatch.setattr(service.ledger, "add_records", busy)
    r = client.post("/v1/records", json=[{**planned_meal, "stage": "completed"}])
    assert r.status_code == 503 and str(tmp_path) not in r.text
