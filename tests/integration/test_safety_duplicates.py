"""A second referral for a case with an open visit never raises a second visit.

Decided: if the new referral triages more urgent (and may raise a visit), the open
visit takes its priority, due_by (the earlier) and risk, and visit_status_changed
goes out with the status unchanged and `change: priority_raised`; otherwise
visit_not_requested with reason `visit_already_open` and the open visit's id.
"""
from datetime import datetime, timedelta

import pytest
import requests
from nameko.standalone.events import event_dispatcher

from services.common.envelope import utcnow
from services.safety.service import SafetyService
from tests.integration.test_safety_api import NO_FLAGS, in_a_week, post
from tests.integration.safety_support import (
    SafetyEvents,
    auth,
    referral_received,
    send,
    start_safety,
    wait_published,
)
from tests.support import wait_until

MEDIUM = dict(clutter_image_rating={"kitchen": 4}, fire_risk=NO_FLAGS)


@pytest.fixture
def safety(container_factory, service_config, rabbit_config):
    events = SafetyEvents(rabbit_config["AMQP_URI"])
    container, url, config = start_safety(container_factory, service_config)
    yield container, url, config, events
    events.close()


def move(url, visit_id, action, token, body=None):
    response = post(url, f"/visits/{visit_id}/{action}", token, body)
    assert response.status_code == 200, response.text


def visits_listed(url, tokens):
    return requests.get(f"{url}/visits", headers=auth(tokens["fire_officer"]), timeout=10).json()["items"]


def test_a_duplicate_no_more_urgent_is_recorded_but_raises_nothing(safety, tokens, mongo_client, databases):
    container, url, config, events = safety
    send(container, config, referral_received("case-1"))
    visit_id = events.wait_for("visit_requested")[0]["data"]["visit_id"]
    duplicate = referral_received("case-1", duplicate_of="case-1", reference="HRW-2026-000002", **MEDIUM)
    send(container, config, duplicate)

    not_requested = events.wait_for("visit_not_requested")[0]
    assert not_requested["data"]["reason"] == "visit_already_open"
    assert not_requested["data"]["visit_id"] == visit_id
    assert not_requested["data"]["reference"] == "HRW-2026-000002"
    assert [v["visit_id"] for v in visits_listed(url, tokens)] == [visit_id]
    db = mongo_client[databases["safety"]]
    assert db["assessments"].count_documents({"case_id": "case-1"}) == 2
    wait_published(db)
    assert len(events.of_type("visit_requested")) == 1


def test_a_more_urgent_duplicate_raises_the_open_visit(safety, tokens, mongo_client, databases):
    container, url, config, events = safety
    send(container, config, referral_received("case-1", **MEDIUM))
    visit_id = events.wait_for("visit_requested")[0]["data"]["visit_id"]
    move(url, visit_id, "acknowledge", tokens["fire_officer"])
    received = utcnow().replace(microsecond=0)
    duplicate = referral_received("case-1", duplicate_of="case-1", reference="HRW-2026-000002",
                                  received_at=received.isoformat())
    for _ in range(2):  # redelivered: one effect
        send(container, config, duplicate)
    wait_published(mongo_client[databases["safety"]])

    raised = events.of_type("visit_status_changed", change="priority_raised")
    assert len(raised) == 1
    data = raised[0]["data"]
    assert data["visit_id"] == visit_id
    assert data["status"] == "acknowledged"  # unchanged
    assert (data["priority"], data["previous_priority"]) == ("very_high", "medium")
    # the verdict for the duplicate, under its own reference; the visit's own as case_reference
    assert (data["reference"], data["case_reference"]) == ("HRW-2026-000002", "HRW-2026-000001")
    assert datetime.fromisoformat(data["due_by"]) == received + timedelta(hours=4)
    [visit] = visits_listed(url, tokens)
    assert (visit["visit_id"], visit["priority"], visit["status"]) == (visit_id, "very_high", "acknowledged")
    assert visit["rule"] == "very_high.cir7_with_hazard" and "smoker" in visit["risk"]["flags"]
    assert events.of_type("visit_not_requested") == []
    assert len(events.of_type("visit_requested")) == 1


def test_every_duplicate_gets_a_verdict_under_its_own_reference(safety, tokens, mongo_client, databases):
    """Each referrer hears about their own referral: one verdict event per reference."""
    container, url, config, events = safety
    send(container, config, referral_received("case-1", **MEDIUM))
    visit_id = events.wait_for("visit_requested")[0]["data"]["visit_id"]
    # no more urgent: visit_not_requested; more urgent: the open visit's priority_raised
    send(container, config, referral_received("case-1", duplicate_of="case-1", reference="HRW-2026-000002",
                                              referral_id="ref-2", **MEDIUM))
    send(container, config, referral_received("case-1", duplicate_of="case-1", reference="HRW-2026-000003",
                                              referral_id="ref-3"))
    events.wait_for("visit_not_requested")
    events.wait_for("visit_status_changed", change="priority_raised")
    wait_published(mongo_client[databases["safety"]])

    verdicts = {}
    for event in events.drain():
        data = event["data"]
        if event["event_type"] in ("visit_requested", "visit_not_requested") or \
                data.get("change") == "priority_raised":
            verdicts.setdefault(data["reference"], []).append((event["event_type"], data.get("visit_id")))
    assert verdicts == {
        "HRW-2026-000001": [("visit_requested", visit_id)],
        "HRW-2026-000002": [("visit_not_requested", visit_id)],
        "HRW-2026-000003": [("visit_status_changed", visit_id)],
    }
    raised = events.of_type("visit_status_changed", change="priority_raised")[0]["data"]
    assert raised["case_reference"] == "HRW-2026-000001"


def test_concurrent_referrals_for_one_case_raise_one_visit(safety, tokens, mongo_client, databases,
                                                           container_factory):
    container, url, config, events = safety
    db = mongo_client[databases["safety"]]
    # queue them while the service is down, so the restarted service takes them all at once
    container.stop()
    dispatch = event_dispatcher(config)
    sent = [referral_received("case-1", duplicate_of=None if n == 0 else "case-1") for n in range(6)]
    for event in sent:
        dispatch("referrals", "referral_received", event)
    container_factory(SafetyService, config).start()

    wait_until(lambda: db["assessments"].count_documents({"case_id": "case-1"}) == len(sent),
               message="every referral to be assessed")
    wait_published(db)
    assert db["assessments"].count_documents({"case_id": "case-1", "raised": True}) == 1
    assert len(events.of_type("visit_requested")) == 1
    assert len(events.of_type("visit_not_requested", reason="visit_already_open")) == len(sent) - 1


def test_a_visit_waiting_for_access_is_still_the_open_one(safety, tokens):
    container, url, config, events = safety
    send(container, config, referral_received("case-1"))
    visit_id = events.wait_for("visit_requested")[0]["data"]["visit_id"]
    officer = tokens["fire_officer"]
    move(url, visit_id, "acknowledge", officer)
    move(url, visit_id, "schedule", officer, {"scheduled_for": in_a_week()})
    move(url, visit_id, "outcome", officer, {"outcome": "no_access"})
    send(container, config, referral_received("case-1", duplicate_of="case-1"))
    assert events.wait_for("visit_not_requested")[0]["data"]["visit_id"] == visit_id


def test_after_a_completed_visit_a_new_referral_raises_a_new_one(safety, tokens):
    container, url, config, events = safety
    send(container, config, referral_received("case-1"))
    first = events.wait_for("visit_requested")[0]["data"]["visit_id"]
    officer = tokens["fire_officer"]
    move(url, first, "acknowledge", officer)
    move(url, first, "schedule", officer, {"scheduled_for": in_a_week()})
    move(url, first, "outcome", officer, {"outcome": "completed"})
    send(container, config, referral_received("case-1", duplicate_of="case-1"))
    second = events.wait_for("visit_requested", count=2)[1]["data"]["visit_id"]
    assert second != first
    assert {v["status"] for v in visits_listed(url, tokens)} == {"completed", "requested"}
