"""The service with record kinds: the kinds it knows, a kind's schema (the page's form is
generated from it: `/?kind=complaint`), records of other kinds checked and kept in the ledger,
and lookups of an interaction's prior filing in the ledger."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

PACK = """policy t.reg "容错备案登记" / "Prior-filing register"

tolerance B15R "容错事前备案（登记）" / "Prior filing (register)"
  cite "许昌市容错事项事前备案办法"
  let filing = lookup(tolerance_filing, tolerance.prefiling_id)
  when filing.status in {approved, determined} and date_of(filing.approved_at) < date
  covers N8

forbid N8 "未经审批" / "Without approval"
  severity medium
  cite "测试"
  when approval.status == not_obtained
"""
FILING = {"record_kind": "tolerance_filing", "id": "XCRC-2025-017", "jurisdiction": "411000",
          "date": "2025-08-20", "unit": {"id": "U-411000-FGW", "name": "许昌市发展和改革委员会"},
          "status": "approved", "approved_at": "2025-08-22T16:00:00+08:00"}


def act(filing_id: str) -> dict:
    return {"id": "R-1", "stage": "planned", "jurisdiction": "411000", "date": "2025-09-01",
            "official": {"id": "O-0042"}, "approval": {"status": "not_obtained"},
            "tolerance": {"prefiling_id": filing_id}}


@pytest.fixture
def kinds_client(make_client, tmp_path: Path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "register.policy").write_text(PACK, encoding="utf-8")
    return make_client(rules=[rules])


def test_the_kinds_and_their_schemas(kinds_client):
    body = kinds_client.get("/v1/kinds").json()
    kinds = {k["kind"]: k for k in body["kinds"]}
    assert list(kinds) == ["interaction", "tolerance_filing", "complaint", "unit_rating",
                           "licensing_matter", "problem_item"]
    assert kinds["interaction"]["packs"] == ["t.reg"] and kinds["complaint"]["packs"] == []
    assert kinds["complaint"]["title"] == {"zh": "投诉举报线索", "en": "Complaint or lead"}
    schema = kinds_client.get("/v1/schema", params={"kind": "complaint"})
    assert schema.status_code == 200 and schema.json()["x-record-kind"] == "complaint"
    missing = kinds_client.get("/v1/schema", params={"kind": "complaints"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "unknown_kind"


def test_a_filing_in_the_ledger_tolerates_the_act(kinds_client):
    before = kinds_client.post("/v1/check", json=act("XCRC-2025-017")).json()["records"][0]
    assert before["outcome"] == "review"
    assert before["findings"][0]["missing"] == ["tolerance_filing[XCRC-2025-017]"]
    stored = kinds_client.post("/v1/records", json=FILING)
    assert stored.status_code == 201, stored.text
    after = kinds_client.post("/v1/check", json=act("XCRC-2025-017")).json()["records"][0]
    assert after["outcome"] == "tolerated"
    assert sorted(f["rule"] for f in after["findings"]) == ["B15R", "N8"]


def test_records_of_other_kinds_are_checked(kinds_client):
    complaint = {"record_kind": "complaint", "id": "DX-1", "jurisdiction": "621100", "date": "2025-09-26",
                 "handling": {"unit": {"id": "U-1", "name": "市政务服务管理局"}}}
    entry = kinds_client.post("/v1/check", json=complaint).json()["records"][0]
    assert (entry["record_kind"], entry["outcome"], entry["department"]) == ("complaint", "unlisted", "市政务服务管理局")
    wrong = kinds_client.post("/v1/check", json={**complaint, "official": {"id": "O-1"}}).json()["records"][0]
    assert wrong["outcome"] == "invalid"
    assert [e["path"] for e in wrong["errors"]] == ["$.official"]


def test_the_page_builds_its_form_from_the_kind(kinds_client):
    page = (Path(__file__).resolve().parents[3] / "checker" / "service" / "static" / "app.js").read_text(
        encoding="utf-8")
    assert 'new URLSearchParams(location.search).get("kind")' in page
    assert '"/v1/schema" + (KIND === "interaction" ? "" : "?kind="' in page


# ---- with the bundled packs (issue 16) -------------------------------------------------------
BUNDLED_FILING = {
    "record_kind": "tolerance_filing", "id": "XCRC-2025-117", "jurisdiction": "411000", "date": "2024-02-01",
    "as_of": "2024-02-05", "filed_at": "2024-02-01T10:00:00+08:00",
    "unit": {"id": "U-411000-FGW", "name": "许昌市发展和改革委员会"}, "officials": [{"id": "O-T002"}],
    "scope": {"category": "pilot", "description": "承诺制审批试点"}, "covered_matters": ["approval_procedure"],
    "planned_start_on": "2024-03-01",
    "decision_procedure": {"collective_decision": True, "legal_review": True, "risk_assessment": True},
    "status": "approved", "approver": {"body": "discipline_commission", "name": "许昌市纪委监委"},
    "approved_at": "2024-02-02T16:00:00+08:00"}


def bundled_act() -> dict:
    """The rule tests' office contact (complete facts, 2024-03-05, official O-T002) in Xuchang,
    at a chamber's public event without approval, claiming the filing."""
    import yaml

    base = Path(__file__).resolve().parents[3] / "rules" / "common" / "tests" / "bases" / "office.yaml"
    rec = yaml.safe_load(base.read_text(encoding="utf-8"))
    rec.update(id="R-16", jurisdiction="411000",
               interaction={**rec["interaction"], "kind": "public_business_event", "is_public_event": True,
                            "organiser": "chamber_association"},
               approval={**rec["approval"], "status": "not_obtained"},
               tolerance={"prefiling_id": "XCRC-2025-117", "prefiled_at": None, "scope": None, "approver": None,
                          "reform_or_pilot": True, "procedure_followed": True, "personal_or_unit_gain": False,
                          "collusion": False, "corrected_promptly": True})
    return rec


def test_an_official_files_first_then_acts_under_the_bundled_packs(client):
    """A prior filing is filed through the service before acting; the act then names it."""
    filing = client.post("/v1/check", json=BUNDLED_FILING).json()["records"][0]
    assert (filing["record_kind"], filing["outcome"]) == ("tolerance_filing", "compliant")
    assert [f["rule"] for f in filing["findings"]] == ["TF0"]
    before = client.post("/v1/check", json=bundled_act()).json()["records"][0]
    assert before["outcome"] == "review"
    assert any(f["rule"] == "B15.filing" and f["missing"] == ["tolerance_filing[XCRC-2025-117]"]
               for f in before["findings"])
    assert client.post("/v1/records", json=BUNDLED_FILING).status_code == 201
    after = client.post("/v1/check", json=bundled_act()).json()["records"][0]
    assert after["outcome"] == "tolerated", [(f["rule"], f["outcome"], f.get("missing"), f.get("message")) for f in after["findings"]]
    assert {f["rule"]: f["outcome"] for f in after["findings"]}["B8"] == "tolerated"


def test_a_handling_unit_checks_a_complaints_status(client):
    complaint = {"record_kind": "complaint", "id": "XC-TS-1", "jurisdiction": "411000", "date": "2025-09-26",
                 "as_of": "2025-10-11", "category": "complaint", "important": False, "business_environment": False,
                 "complainant": {"kind": "enterprise", "reachable": True}, "transfer": {"transferred": False},
                 "handling": {"unit": {"id": "U-1", "name": "许昌市市场监督管理局"}, "deadline_working_days": 5,
                              "status": "open"},
                 "feedback": {"given": False}, "escalation": {"mode": "none"}, "supervision_letters": []}
    entry = client.post("/v1/check", json=complaint).json()["records"][0]
    assert entry["outcome"] == "violation" and [f["rule"] for f in entry["findings"]] == ["CP1"]
    assert entry["findings"][0]["message"] == "承办单位许昌市市场监督管理局应于2025-10-10前办结，2025-10-11仍未办结"
    pending = client.post("/v1/check", json={**complaint, "as_of": "2025-10-10"}).json()["records"][0]
    assert pending["outcome"] == "compliant"
