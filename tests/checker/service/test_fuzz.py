"""Hypothesis drives every API endpoint with mutated real records and hostile values: never a
500, never a traceback; every answer JSON (or the page), and every record sent to /v1/check
comes back as one report entry."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

HOSTILE = st.one_of(
    st.sampled_from(["0001-01-01", "9999-12-31", "1e400", "-0", "NaN", "\u202e", "\u200b",
                     "\ufeff", "../../etc/passwd", "", " ", "<script>", "=cmd|' /C calc'!A0",
                     "\u0000", "9" * 400, "张" * 3000]),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(), st.none(), st.text(max_size=40),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.none(), max_size=2),
)


def paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from paths(v, (*prefix, i))


def mutate(record: dict, where: int, value, drop: bool):
    record = json.loads(json.dumps(record))
    all_paths = [p for p in paths(record) if p]
    path = all_paths[where % len(all_paths)]
    node = record
    for step in path[:-1]:
        node = node[step]
    if drop and isinstance(node, dict):
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return record


@pytest.fixture(scope="module")
def fuzz_client(tmp_path_factory, shared_policy):
    import warnings

    from checker.service.app import ServiceConfig, create_app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    tmp = tmp_path_factory.mktemp("fuzz")
    app = create_app(ServiceConfig(ledger=tmp / "ledger.sqlite3", rate_per_minute=0))
    with TestClient(app, base_url="http://127.0.0.1:8080", raise_server_exceptions=False,
                    headers={"content-type": "application/json",
                             "x-qinqing-csrf": app.state.csrf}) as client:
        yield client


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(where=st.integers(min_value=0, max_value=10_000), value=HOSTILE, drop=st.booleans(),
       many=st.integers(min_value=1, max_value=3), stage=st.sampled_from(["planned", "completed"]))
def test_mutated_records_never_give_a_500(fuzz_client, planned_meal, history_records, where, value,
                                          drop, many, stage):
    base = history_records[where % len(history_records)] if stage == "completed" else planned_meal
    records = [mutate({**base, "id": f"F-{where}-{i}"}, where + i, value, drop)
               for i in range(many)]
    body = json.dumps(records, ensure_ascii=False).encode("utf-8", "surrogatepass")
    r = fuzz_client.post("/v1/check?explain=true", content=body)
    assert r.status_code < 500, r.text
    if r.status_code == 200:
        assert len(r.json()["records"]) == many
    assert fuzz_client.post("/v1/records", content=body).status_code < 500


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(jurisdiction=st.text(max_size=12), date=st.text(max_size=12),
       lang=st.sampled_from(["zh", "en", "fr", ""]), raw=st.binary(max_size=200))
def test_hostile_parameters_and_bodies(fuzz_client, jurisdiction, date, lang, raw):
    r = fuzz_client.get("/v1/rules", params={"jurisdiction": jurisdiction, "date": date,
                                             "lang": lang})
    assert r.status_code < 500, r.text
    for path in ("/v1/check", "/v1/records"):
        r = fuzz_client.post(f"{path}?lang={lang}", content=raw)
        assert r.status_code < 500, r.text
        assert r.headers["content-type"].startswith("application/json")
    for path in ("/healthz", "/v1/schema", "/openapi.json", "/", "/docs"):
        assert fuzz_client.get(path).status_code == 200
