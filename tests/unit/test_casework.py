"""The coordinator's case work, against an in-memory repository (no broker, no database)."""
import copy

import pytest

from services.common.auth import Principal
from services.common.http import Conflict
from services.referrals import casework
from services.referrals.lifecycle import IllegalTransition
from services.referrals.repository import StaleCase

COORDINATOR = Principal(key_id="k1", role="coordinator")


class InMemoryCases:
    """The verbs casework uses, with the real repository's version check."""

    def __init__(self, *cases):
        self.cases = {c["_id"]: copy.deepcopy(c) for c in cases}
        self.events, self.parked_erased = [], []

    def update_case(self, case_id, version, changes, timeline_entries, events):
        case = self.cases[case_id]
        if case["version"] != version:
            raise StaleCase(case_id)
        case.update(copy.deepcopy(changes))
        case["timeline"] = case.get("timeline", []) + list(timeline_entries)
        case["version"] += 1
        self.events.extend(events)

    def erase_parked_events(self, case_id):
        self.parked_erased.append(case_id)

    def forget_birth_date(self, case_id, person):
        self.forgotten_births = getattr(self, "forgotten_births", []) + [(case_id, person["date_of_birth"])]


def a_case(**changes):
    case = {"_id": "c1", "reference": "HRW-2026-000001", "status": "received", "version": 1,
            "held_from": None, "timeline": [],
            "person": {"given_name": "Ada", "family_name": "Jones", "date_of_birth": "1956-02-29",
                       "address": {"postcode": "HA1 2AB"}},
            "consent": {"referral": True, "share_with_fire_service": True, "contact": True},
            "referrals": [{"referral_id": "r1", "reference": "HRW-2026-000001", "agency": "mind",
                           "received_at": "2026-11-20T10:00:00+00:00"}],
            "cir_ratings": []}
    case.update(changes)
    return case


def test_a_move_writes_status_entry_and_event_in_one_versioned_update():
    store = InMemoryCases(a_case())
    casework.move(store, store.cases["c1"], "accepted", "spoke to Ada", COORDINATOR, "corr-1")
    case = store.cases["c1"]
    assert (case["status"], case["version"]) == ("accepted", 2)
    [entry] = case["timeline"]
    assert (entry["actor"], entry["reason"]) == (COORDINATOR.actor, "spoke to Ada")
    [event] = store.events
    assert event["event_type"] == "case_status_changed"
    assert (event["data"]["from"], event["data"]["to"]) == ("received", "accepted")
    assert event["correlation_id"] == "corr-1"


def test_an_illegal_move_changes_nothing():
    store = InMemoryCases(a_case(status="completed"))
    with pytest.raises(IllegalTransition):
        casework.move(store, store.cases["c1"], "in_progress", "reopen", COORDINATOR, "corr-1")
    assert store.cases["c1"]["version"] == 1 and store.events == []


def test_a_move_from_a_stale_read_loses():
    store = InMemoryCases(a_case())
    stale = copy.deepcopy(store.cases["c1"])
    casework.move(store, store.cases["c1"], "accepted", "first", COORDINATOR, "corr-1")
    with pytest.raises(StaleCase):
        casework.move(store, stale, "rejected", "second", COORDINATOR, "corr-2")
    assert store.cases["c1"]["status"] == "accepted" and len(store.events) == 1


def test_closing_a_case_frees_the_person_for_a_new_one():
    store = InMemoryCases(a_case(open=True, open_person_slot="person-key"))
    casework.move(store, store.cases["c1"], "rejected", "outside Harrow", COORDINATOR, "corr-1")
    assert store.cases["c1"]["open"] is False and store.cases["c1"]["open_person_slot"] == "c1"


@pytest.mark.parametrize("scope, off, cancelled", [
    ("contact", {"contact"}, False),
    ("fire_service", {"share_with_fire_service"}, False),
    ("all", {"referral", "share_with_fire_service", "contact"}, True),
])
def test_consent_withdrawal_turns_off_its_purposes(scope, off, cancelled):
    store = InMemoryCases(a_case())
    casework.withdraw_consent(store, store.cases["c1"], scope, "asked us to stop", COORDINATOR, "corr-1")
    consent = store.cases["c1"]["consent"]
    assert {k for k in ("referral", "share_with_fire_service", "contact") if consent[k] is False} == off
    assert consent["withdrawn"][0]["scope"] == scope
    assert (store.cases["c1"]["status"] == "cancelled") is cancelled
    assert [e["event_type"] for e in store.events] == \
        ["consent_withdrawn"] + (["case_status_changed"] if cancelled else [])


def test_consent_cannot_be_withdrawn_from_an_erased_case():
    store = InMemoryCases(a_case(erased_at="2026-11-21"))
    with pytest.raises(Conflict):
        casework.withdraw_consent(store, store.cases["c1"], "all", None, COORDINATOR, "corr-1")
    assert store.events == []


def test_erasure_removes_the_person_and_every_free_text_reason():
    store = InMemoryCases(a_case(timeline=[{"type": "case_status_changed", "reason": "Ada is in hospital"}]))
    assert casework.erase(store, store.cases["c1"], "the person asked", COORDINATOR, "corr-1") is True
    case = store.cases["c1"]
    assert case["person"] == {"erased": True} and case["status"] == "cancelled"
    assert all(entry["reason"] is None for entry in case["timeline"])
    assert "Ada" not in repr(case)
    assert [e["event_type"] for e in store.events] == ["case_status_changed", "case_erased"]
    assert store.parked_erased == ["c1"]
    assert store.forgotten_births == [("c1", "1956-02-29")]  # no longer found by date of birth
    # a second request finds nothing left to do
    assert casework.erase(store, case, "again", COORDINATOR, "corr-2") is False
    assert len(store.events) == 2


# --- progress: the person's opt-in and the rating's event (issue 13) ---

def rated_case(**changes):
    return a_case(cir_ratings=[{"ratings": {"living_room": 7, "kitchen": 4}, "rated_by": None,
                                "rated_on": "2026-09-14", "reference": "HRW-2026-000001"}], **changes)


def test_opting_in_records_who_and_when_on_the_case_and_its_timeline():
    store = InMemoryCases(rated_case())
    casework.set_progress_updates(store, store.cases["c1"], True, COORDINATOR, "corr-1")
    case = store.cases["c1"]
    assert case["progress_updates"]["opted_in"] is True
    assert case["progress_updates"]["by"] == COORDINATOR.actor and case["progress_updates"]["at"]
    assert case["timeline"][-1]["type"] == "progress_updates_changed"
    assert store.events == []  # the choice rides on the next rating's event


def test_opting_in_on_an_erased_case_is_a_conflict():
    store = InMemoryCases(rated_case(erased_at="2026-11-01T00:00:00+00:00"))
    with pytest.raises(Conflict):
        casework.set_progress_updates(store, store.cases["c1"], True, COORDINATOR, "corr-1")
    assert store.cases["c1"]["version"] == 1


@pytest.mark.parametrize("opted_in", [True, False])
def test_a_rating_publishes_numbers_only_with_the_opt_in(opted_in):
    from datetime import date
    store = InMemoryCases(rated_case(progress_updates={"opted_in": opted_in, "at": "x", "by": "coordinator:k1"}))
    casework.record_rating(store, store.cases["c1"], {"living_room": 5, "bedroom": 3}, date(2026, 11, 20),
                           COORDINATOR, "corr-2")
    [event] = store.events
    assert event["event_type"] == "cir_rating_recorded"
    assert event["data"] == {"progress_updates_opted_in": opted_in, "rooms": {
        "living_room": {"first_score": 7, "first_rated_on": "2026-09-14",
                        "latest_score": 5, "latest_rated_on": "2026-11-20", "ratings": 2},
        "kitchen": {"first_score": 4, "first_rated_on": "2026-09-14",
                    "latest_score": 4, "latest_rated_on": "2026-09-14", "ratings": 1},
        "bedroom": {"first_score": 3, "first_rated_on": "2026-11-20",
                    "latest_score": 3, "latest_rated_on": "2026-11-20", "ratings": 1}}}
    assert "Ada" not in str(event) and "Jones" not in str(event)
    assert store.cases["c1"]["timeline"][-1]["event_id"] == event["event_id"]


def test_a_rating_without_an_opt_in_says_not_opted_in():
    from datetime import date
    store = InMemoryCases(rated_case())
    casework.record_rating(store, store.cases["c1"], {"kitchen": 2}, date(2026, 11, 20), COORDINATOR, "c")
    assert store.events[0]["data"]["progress_updates_opted_in"] is False
