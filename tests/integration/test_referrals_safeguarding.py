"""The adult social care referral pack over the real wire: lawful basis, audit, timeline, minimised content."""
import pytest

from tests.support import referral

NOTE = "Clutter now to door height in the hall; she has agreed we raise it with adult social care."


@pytest.fixture
def audit(api, mongo_client, databases):
    return mongo_client[databases["referrals"]]["audit"]


def produce(api, case_id, body, **params):
    return api.call("POST", f"/cases/{case_id}/safeguarding-pack", "coordinator", body, params=params)


def test_a_pack_on_recorded_consent_is_minimised_audited_and_on_the_timeline(api, audit):
    case_id = api.refer().json()["case_id"]
    response = produce(api, case_id, {"lawful_basis": "consent", "note": NOTE})
    assert response.status_code == 201
    pack = response.json()
    assert pack["person"]["name"] == "Ada Jones" and pack["person"]["phone"] == "+447700900123"
    assert pack["lawful_basis"]["basis"] == "consent"
    assert pack["lawful_basis"]["recorded_by"].startswith("coordinator:")
    assert pack["referred_by"]["reason"] == NOTE
    for never in ("free text narrative", "hard of hearing", "ada@example.org", "MIND-2026-0042"):
        assert never not in response.text

    [entry] = list(audit.find({"action": "safeguarding_pack_produced"}))
    assert entry["case_id"] == case_id and entry["role"] == "coordinator"
    case = api.case(case_id)
    [line] = [e for e in case["timeline"] if e["type"] == "safeguarding_pack_produced"]
    assert line["summary"] == ("Adult social care referral pack produced (self-neglect concern; "
                               "lawful basis: consent)")
    assert line["reason"] == NOTE and line["actor"] == pack["lawful_basis"]["recorded_by"]
    [kept] = api.cases.find_one({"_id": case_id})["safeguarding_packs"]
    assert (kept["pack_id"], kept["lawful_basis"], kept["actor"]) == (
        pack["pack_id"], "consent", pack["lawful_basis"]["recorded_by"])


def test_without_consent_or_a_basis_no_pack_is_produced_and_nothing_is_recorded(api, audit):
    case_id = api.refer().json()["case_id"]
    api.call("POST", f"/cases/{case_id}/consent-withdrawal", "coordinator", {"scope": "all"})
    refused = produce(api, case_id, {"lawful_basis": "consent", "note": NOTE})
    assert refused.status_code == 409
    assert "consent is not on record" in refused.json()["message"]
    no_basis = produce(api, case_id, {"note": NOTE})
    assert no_basis.status_code == 400 and set(no_basis.json()["fields"]) == {"lawful_basis"}
    unknown = produce(api, case_id, {"lawful_basis": "because", "note": NOTE})
    assert unknown.status_code == 400
    no_note = produce(api, case_id, {"lawful_basis": "vital_interests", "note": "  "})
    assert no_note.status_code == 400 and set(no_note.json()["fields"]) == {"note"}
    assert audit.count_documents({"action": "safeguarding_pack_produced"}) == 0
    assert "safeguarding_packs" not in api.cases.find_one({"_id": case_id})

    # another basis, recorded now with who and when, is enough
    vital = produce(api, case_id, {"lawful_basis": "vital_interests", "note": NOTE})
    assert vital.status_code == 201
    assert "Art. 6(1)(d)" in vital.json()["lawful_basis"]["explanation"]
    assert audit.count_documents({"action": "safeguarding_pack_produced"}) == 1


def test_the_pack_prints_and_only_a_coordinator_produces_one(api, key_store):
    case_id = api.refer(referral({"consent.share_with_fire_service": False})).json()["case_id"]
    page = produce(api, case_id, {"lawful_basis": "public_task", "note": NOTE}, format="html")
    assert page.status_code == 201 and page.headers["Content-Type"].startswith("text/html")
    assert "<h1>Adult social care referral: self-neglect concern</h1>" in page.text
    text = produce(api, case_id, {"lawful_basis": "public_task", "note": NOTE}, format="text")
    assert text.headers["Content-Type"].startswith("text/plain")
    assert "Date of birth: 1956-02-29" in text.text
    api.tokens["admin"] = key_store.create("admin")[1]
    assert api.call("POST", f"/cases/{case_id}/safeguarding-pack", "admin",
                    {"lawful_basis": "consent", "note": NOTE}).status_code == 403
    assert api.call("POST", f"/cases/{case_id}/safeguarding-pack", "mind",
                    {"lawful_basis": "consent", "note": NOTE}).status_code == 403
    assert produce(api, "no-such-case", {"lawful_basis": "consent", "note": NOTE}).status_code == 404


def test_an_erased_case_has_no_pack_and_erasure_clears_the_note(api):
    case_id = api.refer().json()["case_id"]
    assert produce(api, case_id, {"lawful_basis": "consent", "note": NOTE}).status_code == 201
    api.call("POST", f"/cases/{case_id}/erasure", "coordinator", {"reason": "asked"})
    assert produce(api, case_id, {"lawful_basis": "vital_interests", "note": NOTE}).status_code == 409
    stored = api.cases.find_one({"_id": case_id})
    assert NOTE not in str(stored)
    assert stored["safeguarding_packs"][0]["lawful_basis"] == "consent"
