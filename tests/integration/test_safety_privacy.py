"""Data minimisation, withdrawal of consent to share with LFB, and erasure."""
import json
from datetime import timedelta

import pytest
import requests

from services.common.envelope import utcnow
from tests.integration.safety_support import (
    SafetyEvents,
    auth,
    case_erased,
    case_status_changed,
    consent_withdrawn,
    referral_received,
    send,
    start_safety,
    wait_published,
)

PERSON_FIELDS = {"name", "address", "phone", "preferred_contact", "access_needs"}


@pytest.fixture
def safety(container_factory, service_config, rabbit_config, mongo_client, databases):
    events = SafetyEvents(rabbit_config["AMQP_URI"])
    container, url, config = start_safety(container_factory, service_config)
    yield container, url, config, events, mongo_client[databases["safety"]]
    events.close()


def everything_stored(db):
    """Every document of every collection of the safety database, as text."""
    return json.dumps({name: list(db[name].find()) for name in db.list_collection_names()}, default=str)


def post(url, path, token, body=None):
    headers = auth(token)
    kwargs = {}
    if body is not None:
        headers["Content-Type"] = "application/json"
        kwargs["data"] = json.dumps(body)
    response = requests.post(f"{url}{path}", headers=headers, timeout=10, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


def test_only_the_crew_minimum_reaches_the_safety_database_and_api(safety, tokens):
    container, url, config, events, db = safety
    # what a producer might add: narrative, date of birth, diagnoses, group attendance, email
    secrets = {
        "reason": "Narrative: lost her husband in 2019, anxious about the bins",
        "diagnoses": ["obsessive compulsive disorder"],
        "group_attendance": ["Harrow peer group 2026-10-14"],
        "clinical_notes": "on sertraline",
    }
    event = referral_received(
        "case-1", **secrets,
        person_changes={"date_of_birth": "1956-02-29", "email": "ada@example.org",
                        "diagnosis": "hoarding disorder", "nhs_number": "943 476 5919"})
    event["data"]["referrer"]["notes"] = "Sam knows her from the Tuesday group"
    send(container, config, event)
    visit_id = events.wait_for("visit_requested")[0]["data"]["visit_id"]
    officer = tokens["fire_officer"]
    post(url, f"/visits/{visit_id}/acknowledge", officer)
    wait_published(db)

    leaked = ["Narrative", "husband", "obsessive", "Harrow peer group", "sertraline", "1956",
              "ada@example.org", "hoarding disorder", "943 476 5919", "Tuesday group",
              "Sam Patel", "sam@example.org", "date_of_birth", "diagnos", "group_attendance"]
    responses = json.dumps([
        requests.get(f"{url}/visits", headers=auth(officer), timeout=10).json(),
        requests.get(f"{url}/visits/{visit_id}", headers=auth(officer), timeout=10).json(),
        requests.get(f"{url}/visits/{visit_id}", headers=auth(tokens["coordinator"]), timeout=10).json(),
    ])
    stored = everything_stored(db)
    published = json.dumps(events.drain())
    for text in leaked:
        assert text not in stored, f"{text!r} reached the safety database"
        assert text not in responses, f"{text!r} reached the safety API"
        assert text not in published, f"{text!r} reached safety's events"
    # and the crew still gets what it needs
    visit = json.loads(responses)[1]
    assert set(visit["person"]) == PERSON_FIELDS
    assert "Ada Jones" in stored and "HA1 2AB" in responses
    # safety's events never carry personal data at all
    assert "Ada" not in published and "Station Road" not in published and "+4477" not in published


def test_without_consent_nothing_personal_is_kept(safety):
    container, url, config, events, db = safety
    send(container, config, referral_received(
        "case-1", consent={"share_with_fire_service": False, "contact": True}))
    assert events.wait_for("visit_not_requested")[0]["data"]["reason"] == "no_consent"
    assert events.wait_for("fire_risk_without_consent")[0]["data"]["priority"] == "very_high"
    stored = everything_stored(db)
    for text in ("Ada", "Jones", "Station Road", "HA1 2AB", "+447700900123", "hard of hearing"):
        assert text not in stored


@pytest.mark.parametrize("scope", ["fire_service", "all"])
def test_consent_withdrawn_cancels_the_open_visit_and_removes_the_person(safety, tokens, scope):
    container, url, config, events, db = safety
    send(container, config, referral_received("case-1"))
    visit_id = events.wait_for("visit_requested")[0]["data"]["visit_id"]
    post(url, f"/visits/{visit_id}/acknowledge", tokens["fire_officer"])

    withdrawal = consent_withdrawn("case-1", scope)
    for _ in range(2):  # redelivered: one effect
        send(container, config, withdrawal, entrypoint="withdraw_consent")
    wait_published(db)

    changes = events.of_type("visit_status_changed", case_id="case-1")
    assert [e["data"]["status"] for e in changes] == ["acknowledged", "cancelled"]
    cancelled = changes[1]
    assert cancelled["data"]["visit_id"] == visit_id
    assert cancelled["data"]["change"] == "consent_withdrawn"
    assert {"priority", "due_by", "actor"} <= set(cancelled["data"])
    assert cancelled["correlation_id"] == withdrawal["correlation_id"]
    visit = requests.get(f"{url}/visits/{visit_id}", headers=auth(tokens["fire_officer"]), timeout=10).json()
    assert visit["status"] == "cancelled" and visit["person"] is None
    assert visit["priority"] == "very_high" and visit["risk"]["cir_max"] == 7
    for text in ("Ada", "Station Road", "+447700900123", "hard of hearing"):
        assert text not in everything_stored(db)
    # a cancelled visit is finished: no officer move on it
    response = requests.post(f"{url}/visits/{visit_id}/acknowledge", timeout=10,
                             headers=auth(tokens["fire_officer"]))
    assert response.status_code == 409


def test_a_case_cancelled_by_the_coordinator_cancels_the_open_visit_and_removes_the_person(safety, tokens):
    """Cancelled means consent withdrawn (DOMAIN.md): handled like consent_withdrawn, scope fire_service."""
    container, url, config, events, db = safety
    send(container, config, referral_received("case-1"))
    visit_id = events.wait_for("visit_requested")[0]["data"]["visit_id"]
    post(url, f"/visits/{visit_id}/acknowledge", tokens["fire_officer"])

    cancellation = case_status_changed("case-1", "cancelled")
    for _ in range(2):  # redelivered: one effect
        send(container, config, cancellation, entrypoint="cancel_case")
    wait_published(db)

    changes = events.of_type("visit_status_changed", case_id="case-1")
    assert [e["data"]["status"] for e in changes] == ["acknowledged", "cancelled"]
    cancelled = changes[1]
    assert cancelled["data"]["visit_id"] == visit_id
    assert (cancelled["data"]["change"], cancelled["data"]["actor"]) == ("consent_withdrawn", "coordinator:k1")
    assert cancelled["correlation_id"] == cancellation["correlation_id"]
    visit = requests.get(f"{url}/visits/{visit_id}", headers=auth(tokens["fire_officer"]), timeout=10).json()
    assert visit["status"] == "cancelled" and visit["person"] is None
    assert visit["priority"] == "very_high" and visit["risk"]["cir_max"] == 7
    for text in ("Ada", "Station Road", "+447700900123", "hard of hearing"):
        assert text not in everything_stored(db)


def test_a_referral_received_before_the_case_was_cancelled_raises_no_visit(safety):
    """The cancellation may be consumed before a referral it follows (separate queues)."""
    container, url, config, events, db = safety
    referral = referral_received("case-1", received_at=(utcnow() - timedelta(minutes=5)).isoformat())
    send(container, config, case_status_changed("case-1", "cancelled"), entrypoint="cancel_case")
    send(container, config, referral)
    assert events.wait_for("visit_not_requested")[0]["data"]["reason"] == "no_consent"
    assert db["assessments"].count_documents({"raised": True}) == 0
    assert "Station Road" not in everything_stored(db)


@pytest.mark.parametrize(("current", "to"), [
    ("received", "accepted"), ("received", "rejected"), ("accepted", "in_progress"),
    ("in_progress", "on_hold"), ("on_hold", "in_progress"), ("in_progress", "completed"),
])
def test_other_case_moves_change_nothing_here(safety, current, to):
    container, url, config, events, db = safety
    send(container, config, referral_received("case-1"))
    visit_id = events.wait_for("visit_requested")[0]["data"]["visit_id"]
    before = db["assessments"].find_one({"_id": visit_id})
    send(container, config, case_status_changed("case-1", to, current=current), entrypoint="cancel_case")
    wait_published(db)
    assert db["assessments"].find_one({"_id": visit_id}) == before
    assert db["privacy_requests"].count_documents({}) == 0
    assert events.of_type("visit_status_changed") == []


def test_withdrawing_contact_consent_changes_nothing_here(safety, tokens):
    container, url, config, events, db = safety
    send(container, config, referral_received("case-1"))
    visit_id = events.wait_for("visit_requested")[0]["data"]["visit_id"]
    before = db["assessments"].find_one({"_id": visit_id})
    send(container, config, consent_withdrawn("case-1", "contact"), entrypoint="withdraw_consent")
    wait_published(db)
    assert db["assessments"].find_one({"_id": visit_id}) == before
    assert events.of_type("visit_status_changed") == []


def test_a_withdrawal_consumed_before_its_referral_still_wins(safety):
    """consent_withdrawn and referral_received travel on different queues, so may arrive in either order."""
    container, url, config, events, db = safety
    referral = referral_received("case-1", received_at=(utcnow() - timedelta(minutes=5)).isoformat())
    send(container, config, consent_withdrawn("case-1", "fire_service"), entrypoint="withdraw_consent")
    send(container, config, referral)
    assert events.wait_for("visit_not_requested")[0]["data"]["reason"] == "no_consent"
    assert db["assessments"].count_documents({"raised": True}) == 0
    assert "Station Road" not in everything_stored(db)


def test_a_later_referral_with_consent_raises_a_visit_again(safety):
    container, url, config, events, db = safety
    send(container, config, consent_withdrawn("case-1", "fire_service",
                                              occurred_at=utcnow() - timedelta(days=1)),
         entrypoint="withdraw_consent")
    send(container, config, referral_received("case-1"))  # received now, with consent
    assert events.wait_for("visit_requested")[0]["case_id"] == "case-1"
    assert db["assessments"].find_one({"raised": True})["person"]["name"] == "Ada Jones"


def test_case_erased_cancels_the_open_visit_and_erases_every_assessment(safety, tokens):
    container, url, config, events, db = safety
    officer = tokens["fire_officer"]
    # a first visit, completed with notes; then a second referral raises a new one
    send(container, config, referral_received("case-1"))
    first = events.wait_for("visit_requested")[0]["data"]["visit_id"]
    post(url, f"/visits/{first}/acknowledge", officer)
    post(url, f"/visits/{first}/schedule", officer,
         {"scheduled_for": (utcnow() + timedelta(days=1)).replace(microsecond=0).isoformat()})
    post(url, f"/visits/{first}/outcome", officer,
         {"outcome": "completed", "actions": ["smoke_alarm_fitted"], "notes": "Ada's son Tom was there"})
    send(container, config, referral_received("case-1", duplicate_of="case-1"))
    second = events.wait_for("visit_requested", count=2)[1]["data"]["visit_id"]
    other_person = {"given_name": "Bea", "phone": "+447700900999", "access_needs": None,
                    "address": {"line1": "3 Elm Close", "line2": "", "town": "Harrow", "postcode": "HA3 0AA"}}
    send(container, config, referral_received("case-2", person_changes=other_person))  # untouched

    erasure = case_erased("case-1")
    for _ in range(2):  # redelivered: one effect
        send(container, config, erasure, entrypoint="erase_case")
    wait_published(db)

    stored = everything_stored(db)
    for text in ("Ada", "Tom", "Station Road", "+447700900123", "hard of hearing"):
        assert text not in stored
    erased = {d["_id"]: d for d in db["assessments"].find({"case_id": "case-1"})}
    assert erased[first]["status"] == "completed" and erased[second]["status"] == "cancelled"
    for doc in erased.values():
        assert doc["person"] is None and doc.get("notes") is None
        # anonymised counts stay
        assert doc["priority"] == "very_high" and doc["due_by"] and doc["risk"]["cir_max"] == 7
    assert erased[first]["actions"] == ["smoke_alarm_fitted"]
    cancelled = events.of_type("visit_status_changed", case_id="case-1", status="cancelled")
    assert [(e["data"]["visit_id"], e["data"]["change"]) for e in cancelled] == [(second, "case_erased")]
    assert db["assessments"].find_one({"case_id": "case-2"})["person"]["name"] == "Bea Jones"

    # a referral for the erased case arriving late raises nothing and keeps nothing personal
    send(container, config, referral_received("case-1", received_at=(utcnow() - timedelta(days=2)).isoformat()))
    wait_published(db)
    assert db["assessments"].count_documents({"case_id": "case-1", "raised": True}) == 2
    assert "Station Road" not in everything_stored(db)
