"""planning.py over an in-memory repository: what is stored, and the wake-up stored with it."""
from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest

from services.common.envelope import load_envelope
from services.notifications.messages import UK
from services.notifications.planning import MessagePlanner
from services.notifications.quiet_hours import QuietHours
from services.notifications.sending import NOTIFICATION_DUE, MessageSender
from tests.integration.notifications_peers import REFERENCE, follow_up, referral_received, visit_requested
from tests.unit.notifications_fakes import GROUP, START, Clock, FakeChannels, InMemoryNotifications


def planner(**channel_settings):
    store, clock = InMemoryNotifications(), Clock()
    return MessagePlanner(store, FakeChannels(**channel_settings), GROUP, clock), store, clock


def loaded(event):
    return load_envelope(event)


def wake_ups(store, doc):
    return [datetime.fromisoformat(e["data"]["due_at"])
            for e in store.events_of(NOTIFICATION_DUE, doc["_id"])]


def test_what_may_go_now_is_claimed_for_the_planner_and_what_waits_gets_one_wake_up():
    plan, store, channels = planner(triage_wait_seconds=60)
    claimed = plan.plan_for_event(loaded(referral_received()))
    receipt, welcome, alert = (store.by_template(t) for t in
                               ("referrer_receipt", "person_welcome", "coordinator_alert"))
    assert sorted(d["_id"] for d in claimed) == sorted([receipt["_id"], welcome["_id"]])
    for doc in (receipt, welcome):  # sent by this worker at once: a lease, and no wake-up round trip
        assert (doc["status"], doc["lease_until"]) == ("sending", START + plan.channels.send_lease)
        assert doc["lease_token"] and wake_ups(store, doc) == []
    # the coordinator alert waits for triage, at most the triage wait
    assert (alert["awaiting_triage"], alert["next_attempt_at"]) == (REFERENCE, START + timedelta(seconds=60))
    assert wake_ups(store, alert) == [START + timedelta(seconds=60)]
    (event,) = store.events_of(NOTIFICATION_DUE, alert["_id"])
    assert event["data"] == {"notification_id": alert["_id"], "due_at": alert["next_attempt_at"].isoformat()}
    assert event["case_id"] == alert["case_id"] and event["producer"] == "notifications"


def test_a_redelivered_event_plans_and_wakes_nothing_twice():
    plan, store, _ = planner()
    referral = loaded(referral_received())
    assert len(plan.plan_for_event(referral)) == 2
    assert plan.plan_for_event(referral) == []  # redelivered: nothing claimed twice
    assert len(store.messages) == 3
    assert len(store.events_of(NOTIFICATION_DUE)) == 1  # the alert waiting for triage


def test_quiet_hours_put_the_persons_wake_up_at_their_end_but_not_a_letters():
    # 10:00 UTC on 25 November is 10:00 in London: inside 09:00-11:00
    quiet = QuietHours(time(9, 0), time(11, 0))
    end = datetime(2026, 11, 25, 11, 0, tzinfo=UK)
    plan, store, _ = planner(quiet_hours=quiet)
    plan.plan_for_event(loaded(referral_received()))
    welcome = store.by_template("person_welcome")
    assert welcome["next_attempt_at"] == end and wake_ups(store, welcome) == [end]
    assert store.by_template("referrer_receipt")["status"] == "sending"  # professionals: at once

    plan.plan_for_event(loaded(referral_received(person__preferred_contact="letter")))
    (letter,) = [d for d in store.messages.values() if d["channel"] == "letter"]
    assert letter["status"] == "sending" and wake_ups(store, letter) == []


def test_a_booked_visit_waits_out_quiet_hours_for_the_person_only():
    quiet = QuietHours(time(9, 0), time(11, 0))
    plan, store, _ = planner(quiet_hours=quiet)
    referral = loaded(referral_received(person__preferred_contact="sms"))
    plan.plan_for_event(referral)
    plan.plan_for_event(loaded(follow_up("visit_status_changed", referral, "safety", visit_id="v-1",
                                         reference=REFERENCE, status="scheduled", **{"from": "acknowledged"},
                                         scheduled_for="2026-12-02T10:00:00+00:00")))
    booked = store.by_template("person_visit_booked")
    end = datetime(2026, 11, 25, 11, 0, tzinfo=UK)
    assert (booked["channel"], booked["status"], booked["next_attempt_at"]) == ("sms", "pending", end)
    assert wake_ups(store, booked) == [end]
    assert store.by_template("referrer_update")["status"] == "sending"


def test_a_low_risk_verdict_signposts_only_a_person_who_asked_for_a_visit():
    plan, store, _ = planner()
    for asked in (False, True):
        referral = loaded(referral_received(requested__home_fire_safety_visit=asked))
        plan.plan_for_event(referral)
        plan.plan_for_event(loaded(follow_up("visit_not_requested", referral, "safety", reference=REFERENCE,
                                             reason="low_risk", priority="low")))
        signposts = [d for d in store.messages.values()
                     if d["case_id"] == referral["case_id"] and d["template"] == "person_fire_safety_signpost"]
        assert len(signposts) == int(asked)


def test_a_suppressed_message_is_recorded_without_a_wake_up():
    plan, store, _ = planner()
    plan.plan_for_event(loaded(referral_received(consent__contact=False)))
    welcome = store.by_template("person_welcome")
    assert (welcome["status"], welcome["suppressed_reason"]) == ("suppressed", "do_not_contact")
    assert wake_ups(store, welcome) == []


def test_triage_releases_the_held_alert_claimed_for_the_worker_that_saw_it_once():
    plan, store, clock = planner(triage_wait_seconds=600)
    referral = referral_received()
    plan.plan_for_event(loaded(referral))
    alert = store.by_template("coordinator_alert")
    released_at = clock.advance(seconds=5)
    triage = loaded(visit_requested(referral))
    claimed = plan.plan_for_event(triage)
    alert = store.by_template("coordinator_alert")
    assert alert["_id"] in [d["_id"] for d in claimed]          # this worker sends it now
    assert (alert["status"], alert["next_attempt_at"], alert["lease_until"]) == (
        "sending", released_at, released_at + timedelta(seconds=120))
    assert alert["awaiting_triage"] == REFERENCE                 # the sender fills in the triage
    assert wake_ups(store, alert) == [START + timedelta(seconds=600)]  # no fresh wake-up round trip
    redelivered = plan.plan_for_event(triage)
    assert alert["_id"] not in [d["_id"] for d in redelivered]  # claimed already: released once


def test_triage_before_the_referral_plans_the_alert_at_once():
    plan, store, _ = planner(triage_wait_seconds=600)
    referral = referral_received()
    plan.plan_for_event(loaded(referral))  # contacts exist; now a second referral's triage comes first
    second = referral_received(case_id=referral["case_id"], reference="HRW-2026-000124",
                               duplicate_of=referral["case_id"], referrer__email="jo@rethink.example.org")
    plan.plan_for_event(loaded(follow_up("visit_not_requested", referral, "safety", reason="no_consent",
                                         priority="high", rule="r", reference="HRW-2026-000124")))
    plan.plan_for_event(loaded(second))
    (alert,) = [d for d in store.messages.values() if d["template"] == "coordinator_alert"
                and d["event_id"] == second["event_id"]]
    assert (alert["awaiting_triage"], alert["status"]) == (None, "sending") and wake_ups(store, alert) == []


def test_withdrawn_contact_consent_suppresses_the_persons_pending_messages():
    plan, store, _ = planner(quiet_hours=QuietHours(time(9, 0), time(11, 0)))
    referral = referral_received()
    plan.plan_for_event(loaded(referral))
    plan.withdraw_consent(loaded(follow_up("consent_withdrawn", referral, "referrals", scope="contact")))
    statuses = {d["template"]: (d["status"], d["suppressed_reason"]) for d in store.messages.values()}
    assert statuses["person_welcome"] == ("suppressed", "consent_withdrawn")
    assert statuses["referrer_receipt"] == ("sending", None)  # the professional's receipt still goes


def test_an_unknown_consent_scope_is_refused_not_guessed():
    plan, store, _ = planner()
    referral = referral_received()
    plan.plan_for_event(loaded(referral))
    with pytest.raises(ValueError, match="unknown consent scope"):
        plan.withdraw_consent(loaded(follow_up("consent_withdrawn", referral, "referrals", scope="some")))
    assert store.contacts_for(referral["case_id"])["withdrawn"] == []


def test_erasure_empties_the_messages_and_removes_their_files(tmp_path):
    plan, store, _ = planner()
    referral = referral_received(person__preferred_contact="letter")
    plan.plan_for_event(loaded(referral))
    letter = tmp_path / "letter.txt"
    letter.write_text("Dear Ada")
    welcome = store.by_template("person_welcome")
    store.messages[welcome["_id"]].update(status="sent", receipt=str(letter))
    plan.channels.files[str(letter)] = letter

    assert plan.erase_case(loaded(follow_up("case_erased", referral, "referrals"))) == 1
    assert not letter.exists()
    assert all(d["to"] == {} and d["context"] == {} for d in store.messages.values())
    # the receipt its planner was sending finds the case erased when it looks again, and goes nowhere
    receipt = store.by_template("referrer_receipt")
    assert MessageSender(store, plan.channels, GROUP, plan.clock).send(receipt) == "suppressed"
    assert plan.channels.email.sent == []
    assert store.contacts_for(referral["case_id"]).keys() == {"_id", "erased_at", "applied_events"}
    plan.plan_for_event(loaded(referral))  # a redelivered referral brings nothing back
    assert len(store.messages) == 3 and store.contacts_for(referral["case_id"]).get("person") is None
