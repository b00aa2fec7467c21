"""The safety assessment (services/safety/assessment.py) over an in-memory repository: what each
referral, privacy request, wake-up and officer move writes, and which events go with it."""
from datetime import datetime, timedelta, timezone

import pytest
from nameko.testing.services import worker_factory

from services.common.envelope import load_envelope, new_event
from services.safety.assessment import ALREADY_ASSESSED, PRIORITY_RAISED, Assessment, UnknownVisit, visit_id_for
from services.safety.events import ReferralForSafety
from services.safety.lifecycle import IllegalTransition
from services.safety.repository import StaleVisit
from services.safety.service import SafetyService
from services.safety.triage import default_rules
from tests.unit.safety_fakes import InMemoryVisits

RECEIVED = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)
NO_FLAGS = {"smoker": False, "oxygen_use": False, "lives_alone": False, "mobility_impaired": False,
            "previous_fire": False, "blocked_exits": False, "working_smoke_alarm": "yes"}
MEDIUM = dict(clutter_image_rating={"kitchen": 4}, fire_risk=NO_FLAGS)


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def store():
    return InMemoryVisits()


@pytest.fixture
def clock():
    return Clock(RECEIVED + timedelta(minutes=1))


@pytest.fixture
def safety(store, clock):
    return Assessment(store, default_rules(), clock)


def envelope(event_type, case_id="case-1", occurred_at=None, **data):
    return load_envelope(new_event(event_type, case_id=case_id, correlation_id="corr-1", producer="referrals",
                                   data=data, occurred_at=occurred_at))


def referral(case_id="case-1", received_at=RECEIVED, share=True, **changes):
    """A referral_received envelope and its data as safety loads it."""
    data = {"referral_id": "ref-1", "reference": "HRW-2026-000001", "received_at": received_at.isoformat(),
            "duplicate_of": None, "clutter_image_rating": {"living_room": 7},
            "fire_risk": {**NO_FLAGS, "smoker": True}, "requested": {"home_fire_safety_visit": True},
            "consent": {"share_with_fire_service": share},
            "person": {"given_name": "Ada", "family_name": "Jones", "email": "ada@example.org",
                       "address": {"line1": "12 Station Road", "town": "Harrow", "postcode": "HA1 2AB"},
                       "phone": "+447700900123", "preferred_contact": "phone", "access_needs": None}}
    data.update(changes)
    event = envelope("referral_received", case_id, **data)
    return event, ReferralForSafety().load(event["data"])


def raise_visit(safety, store, **changes):
    event, loaded = referral(**changes)
    assert safety.assess_referral(event, loaded).result == "visit_requested"
    return store.docs[visit_id_for(event["event_id"])]


# -- referrals ---------------------------------------------------------------
def test_a_raised_visit_is_stored_with_its_request_and_a_wake_up_for_its_due_time(safety, store):
    visit = raise_visit(safety, store)
    assert (visit["status"], visit["priority"], visit["due_by"]) == ("requested", "very_high",
                                                                     RECEIVED + timedelta(hours=4))
    assert set(visit["person"]) == {"name", "address", "phone", "preferred_contact", "access_needs"}
    assert [e["event_type"] for e in visit["outbox"]] == ["visit_requested", "visit_due"]
    assert visit["outbox"][1]["data"] == {"visit_id": visit["_id"], "due_by": visit["due_by"].isoformat()}
    assert visit["outbox"][1]["producer"] == "safety"


def test_a_redelivered_referral_changes_nothing(safety, store):
    event, loaded = referral()
    safety.assess_referral(event, loaded)
    written = list(store.written)
    assert safety.assess_referral(event, loaded).result == ALREADY_ASSESSED
    assert store.written == written and len(store.docs) == 1


@pytest.mark.parametrize(("changes", "reason", "alerts"), [
    (dict(clutter_image_rating={"bedroom": 2}, fire_risk=NO_FLAGS, requested={}), "low_risk", []),
    (dict(share=False), "no_consent", ["fire_risk_without_consent"]),
])
def test_no_visit_no_wake_up(safety, store, changes, reason, alerts):
    event, loaded = referral(**changes)
    assert safety.assess_referral(event, loaded).result == reason
    assert [e["event_type"] for e in store.written] == ["visit_not_requested"] + alerts
    assert store.written[0]["data"]["reason"] == reason
    assert store.docs[visit_id_for(event["event_id"])]["raised"] is False


def test_a_duplicate_no_more_urgent_gets_visit_already_open(safety, store):
    visit = raise_visit(safety, store)
    event, loaded = referral(reference="HRW-2026-000002", duplicate_of="case-1", **MEDIUM)
    assert safety.assess_referral(event, loaded).result == "visit_already_open"
    [verdict] = store.events("visit_not_requested")
    assert (verdict["data"]["visit_id"], verdict["data"]["reference"]) == (visit["_id"], "HRW-2026-000002")
    assert len(store.events("visit_due")) == 1


def test_a_more_urgent_duplicate_raises_the_priority_and_brings_the_wake_up_forward(safety, store):
    medium = raise_visit(safety, store, **MEDIUM)
    event, loaded = referral(reference="HRW-2026-000002", duplicate_of="case-1")
    for _ in range(2):  # redelivered: one effect
        assert safety.assess_referral(event, loaded).result in (PRIORITY_RAISED, ALREADY_ASSESSED)
    [raised] = store.events("visit_status_changed")
    assert raised["data"]["from"] == raised["data"]["status"] == "requested"
    assert (raised["data"]["priority"], raised["data"]["previous_priority"]) == ("very_high", "medium")
    wake_ups = [e["data"]["due_by"] for e in store.events("visit_due")]
    assert wake_ups == [(RECEIVED + timedelta(days=30)).isoformat(), (RECEIVED + timedelta(hours=4)).isoformat()]
    assert store.docs[medium["_id"]]["due_by"] == RECEIVED + timedelta(hours=4)


def test_a_more_urgent_duplicate_due_later_keeps_the_earlier_wake_up(safety, store, clock):
    raise_visit(safety, store, received_at=RECEIVED - timedelta(days=29, hours=22), **MEDIUM)  # due in 2 h
    event, loaded = referral(reference="HRW-2026-000002", duplicate_of="case-1")           # due in 4 h
    assert safety.assess_referral(event, loaded).result == PRIORITY_RAISED
    assert len(store.events("visit_due")) == 1


def test_a_withdrawal_consumed_before_its_referral_stops_the_visit(safety, store):
    safety.withdraw_consent(envelope("consent_withdrawn", occurred_at=RECEIVED + timedelta(seconds=1),
                                     scope="fire_service"), "fire_service", "coordinator:k1")
    event, loaded = referral()
    assert safety.assess_referral(event, loaded).result == "no_consent"
    assert store.events("visit_due") == [] and store.events("visit_requested") == []


def test_an_erasure_consumed_before_its_referral_leaves_an_anonymous_assessment(safety, store):
    safety.erase_case(envelope("case_erased"), "coordinator:k1")
    event, loaded = referral()
    assert safety.assess_referral(event, loaded).result == "case_erased"
    assert store.written == [] and store.parked_erased == ["case-1"]
    assert store.docs[visit_id_for(event["event_id"])]["person"] is None


# -- privacy requests ----------------------------------------------------------
@pytest.mark.parametrize(("kind", "call"), [
    ("consent_withdrawn", lambda s, e: s.withdraw_consent(e, "all", "coordinator:k1")),
    ("consent_withdrawn", lambda s, e: s.cancel_case(e, "cancelled", "coordinator:k1")),
    ("case_erased", lambda s, e: s.erase_case(e, "coordinator:k1")),
])
def test_a_privacy_request_cancels_the_open_visit_once(safety, store, clock, kind, call):
    visit = raise_visit(safety, store)
    request = envelope("whatever", occurred_at=clock.now)
    assert call(safety, request) == 1
    assert call(safety, request) == 0  # redelivered
    [cancelled] = store.events("visit_status_changed")
    assert (cancelled["data"]["from"], cancelled["data"]["status"], cancelled["data"]["change"]) == (
        "requested", "cancelled", kind)
    assert store.docs[visit["_id"]]["person"] is None


def test_requests_that_are_not_ours_are_ignored(safety, store):
    raise_visit(safety, store)
    assert safety.withdraw_consent(envelope("consent_withdrawn"), "contact", "coordinator:k1") is None
    assert safety.cancel_case(envelope("case_status_changed"), "on_hold", "coordinator:k1") is None
    assert store.requests == {} and store.events("visit_status_changed") == []


# -- officers --------------------------------------------------------------------
def test_an_officer_move_carries_where_it_came_from(safety, store):
    visit = raise_visit(safety, store)
    moved = safety.move_visit(visit["_id"], "acknowledged", actor="fire_officer:k1", correlation_id="c-9")
    assert moved["status"] == "acknowledged" and "outbox" not in moved
    [event] = store.events("visit_status_changed")
    assert (event["data"]["from"], event["data"]["status"], event["correlation_id"]) == (
        "requested", "acknowledged", "c-9")
    with pytest.raises(IllegalTransition):
        safety.move_visit(visit["_id"], "completed", actor="fire_officer:k1", correlation_id="c-9")
    with pytest.raises(UnknownVisit):
        safety.move_visit("no-such-visit", "acknowledged", actor="fire_officer:k1", correlation_id="c-9")


# -- due times -------------------------------------------------------------------
def test_a_wake_up_before_due_waits_without_reading_anything(safety, store, clock):
    visit = raise_visit(safety, store)
    store.reads.clear()
    assert safety.announce_if_overdue(visit["_id"], visit["due_by"]) == visit["due_by"]
    assert store.reads == [] and store.events("visit_overdue") == []


def test_a_due_wake_up_announces_an_open_visit_once(safety, store, clock):
    visit = raise_visit(safety, store)
    clock.now = visit["due_by"] + timedelta(seconds=1)
    for _ in range(3):  # duplicates of the wake-up, or another replica's
        assert safety.announce_if_overdue(visit["_id"], visit["due_by"]) is None
    [overdue] = store.events("visit_overdue")
    assert overdue["data"] == {"visit_id": visit["_id"], "reference": "HRW-2026-000001", "status": "requested",
                               "priority": "very_high", "due_by": visit["due_by"].isoformat()}
    assert overdue["correlation_id"] == "corr-1"
    assert store.docs[visit["_id"]]["overdue_notified_at"] == clock.now


@pytest.mark.parametrize("status", ["completed", "no_access", "declined", "cancelled"])
def test_a_visit_no_longer_awaiting_the_fire_service_is_not_announced(safety, store, clock, status):
    visit = raise_visit(safety, store)
    store.docs[visit["_id"]]["status"] = status
    clock.now = visit["due_by"] + timedelta(hours=1)
    assert safety.announce_if_overdue(visit["_id"], visit["due_by"]) is None
    assert store.events("visit_overdue") == []


def test_an_officer_move_between_read_and_claim_is_read_again(safety, store, clock):
    visit = raise_visit(safety, store)
    clock.now = visit["due_by"] + timedelta(minutes=1)
    claim = store.claim_overdue

    def officer_first(doc, event, now):  # the officer's write lands between our read and our claim
        if doc["version"] == 1:
            store.change_visit(doc["_id"], 1, {"status": "acknowledged"}, [])
        return claim(doc, event, now)

    store.claim_overdue = officer_first
    assert safety.announce_if_overdue(visit["_id"], visit["due_by"]) is None
    [overdue] = store.events("visit_overdue")
    assert overdue["data"]["status"] == "acknowledged"  # the visit as it is


def test_a_claim_that_keeps_losing_goes_back_for_a_retry(safety, store, clock):
    visit = raise_visit(safety, store)
    clock.now = visit["due_by"] + timedelta(minutes=1)
    store.claim_overdue = lambda doc, event, now: False
    with pytest.raises(StaleVisit):
        safety.announce_if_overdue(visit["_id"], visit["due_by"])


def test_the_sweep_reads_only_open_statuses_and_announces_only_what_is_due(safety, store, clock):
    late = raise_visit(safety, store)                                     # due in 4 hours
    raise_visit(safety, store, **dict(MEDIUM, case_id="case-2"))          # due in a month
    finished = raise_visit(safety, store, case_id="case-3")
    store.docs[finished["_id"]]["status"] = "completed"
    clock.now = RECEIVED + timedelta(days=1)
    store.reads.clear()

    assert safety.sweep_overdue() == 1
    assert sorted(store.reads) == [("visits_with_status", "acknowledged"), ("visits_with_status", "requested"),
                                   ("visits_with_status", "scheduled")]
    assert [e["data"]["visit_id"] for e in store.events("visit_overdue")] == [late["_id"]]
    assert safety.sweep_overdue() == 0


# -- the service class: translation only ------------------------------------------
class Deferrals:
    """Stands in for DeliveryRetry: records where a waiting message was sent."""

    def __init__(self):
        self.deferred = []

    def defer(self, queue, payload, due_at):
        self.deferred.append((queue, payload["event_id"], due_at))
        return 1000

    def retry_or_park(self, queue, payload, error, poison=False):
        raise AssertionError(f"{queue}: {error}")


def test_the_service_defers_a_wake_up_that_is_not_due_to_its_handler_queue(store):
    service = worker_factory(SafetyService, store=store, rules=default_rules(), delivery=Deferrals())
    future = datetime.now(timezone.utc) + timedelta(hours=3)
    wake_up = new_event("visit_due", case_id="case-1", correlation_id="corr-1", producer="safety",
                        data={"visit_id": "v-1", "due_by": future.isoformat()})
    service.announce_overdue(wake_up)
    assert service.delivery.deferred == [
        ("evt-safety-visit_due--safety.announce_overdue.v2", wake_up["event_id"], future)]
    assert store.reads == []  # waiting costs the database nothing


def test_the_service_hands_a_referral_to_the_assessment(store):
    service = worker_factory(SafetyService, store=store, rules=default_rules(), delivery=Deferrals())
    event = new_event("referral_received", case_id="case-1", correlation_id="corr-1", producer="referrals",
                      data=referral()[0]["data"])
    service.assess_referral(event)
    assert [e["event_type"] for e in store.written] == ["visit_requested", "visit_due"]
