"""What the person texts back: the signature, STOP, and a reply, over an in-memory repository."""
from __future__ import annotations

from datetime import time

import pytest

from services.common.envelope import load_envelope
from services.notifications.inbound import (
    HARD_BOUNCE, REPLY, SOFT_BOUNCE, STOP, UNMATCHED, InboundMessages, is_stop, notification_id_of, sign, signature_ok,
)
from services.notifications.messages import STOP_CONFIRMATION
from services.notifications.planning import MessagePlanner
from services.notifications.quiet_hours import QuietHours
from services.notifications.sending import MessageSender
from tests.integration.notifications_peers import PERSON_EMAIL, REFERENCE, follow_up, referral_received
from tests.unit.notifications_fakes import GROUP, Clock, FakeChannels, InMemoryNotifications

SECRET = "s3cret-shared-with-the-provider"
BODY = b'{"from": "+447700900123", "text": "STOP", "message_id": "SM1"}'


# --- the signature ----------------------------------------------------------------------------

def test_a_body_signed_with_our_secret_is_accepted():
    assert signature_ok(SECRET, BODY, sign(SECRET, BODY))
    assert signature_ok(SECRET, BODY, sign(SECRET, BODY).upper().replace("SHA256=", "sha256="))


@pytest.mark.parametrize("secret, header", [
    (SECRET, None),                                  # missing
    (SECRET, ""),
    (SECRET, sign("another secret", BODY)),          # someone else's secret
    (SECRET, sign(SECRET, BODY + b" ")),             # another body
    (SECRET, sign(SECRET, BODY).removeprefix("sha256=")),  # no scheme
    (SECRET, "sha1=" + sign(SECRET, BODY)[7:]),
    (None, sign("", BODY)),                          # no secret configured: nothing is signed
    ("", sign("", BODY)),
])
def test_anything_else_is_refused(secret, header):
    assert not signature_ok(secret, BODY, header)


# --- STOP ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["STOP", "stop", "  Stop\n", "STOPALL", "stopall", "Stop all", "UNSUBSCRIBE",
                                  "unsubscribe "])
def test_stop_words(text):
    assert is_stop(text)


@pytest.mark.parametrize("text", ["", "STOPP", "please stop the visit", "Don't stop", "stop.", "UNSUB"])
def test_other_texts_are_not_stop(text):
    assert not is_stop(text)


# --- receiving a text -----------------------------------------------------------------------------

def known_person(store, phone="07700 900123", **changes):
    planner = MessagePlanner(store, FakeChannels(), GROUP, Clock())
    referral = load_envelope(referral_received(person__phone=phone, **changes))
    planner.plan_for_event(referral)
    return referral["case_id"]


def text(store, body, sender="+447700900123", message_id="SM1"):
    return InboundMessages(store, Clock()).receive_sms({"sender": sender, "text": body, "message_id": message_id},
                                                       "corr-1")


def inbound_events(store):
    return [e for doc_id, e in store.outbox if doc_id.startswith("sms:")]


def test_an_unknown_number_is_recorded_as_unmatched_and_nothing_else():
    store = InMemoryNotifications()
    known_person(store)
    assert text(store, "hello", sender="+447700900999") == UNMATCHED
    assert text(store, "STOP", sender="020 7946 0000", message_id="SM2") == UNMATCHED  # not a mobile
    assert inbound_events(store) == []
    for doc in store.inbound_docs.values():  # neither the number nor the words of a stranger
        assert (doc["outcome"], doc["text"], doc["case_id"], doc["case_ids"]) == (UNMATCHED, None, None, [])
        assert "+447700900999" not in str(doc)


def test_stop_from_a_known_number_asks_every_case_of_it_to_withdraw_and_confirms_once():
    store = InMemoryNotifications()
    older = known_person(store, phone="07700 900123")
    newer = known_person(store, phone="+44 7700 900123")  # the same mobile, written another way
    assert text(store, " stop ") == STOP
    events = inbound_events(store)
    assert sorted(e["case_id"] for e in events) == sorted([older, newer])
    assert {e["event_type"] for e in events} == {"sms_stop_received"}
    confirming = [e["case_id"] for e in events if e["data"]["confirm"]]
    assert confirming == [newer]
    assert all(e["data"] == {"inbound_id": "sms:SM1", "confirm": e["case_id"] == newer} for e in events)
    assert store.inbound_docs["sms:SM1"]["text"] is None  # nothing to keep of a STOP


def test_the_same_message_again_changes_nothing():
    store = InMemoryNotifications()
    known_person(store)
    assert text(store, "STOP") == STOP
    assert text(store, "STOP") == STOP
    assert len(inbound_events(store)) == 1


def test_a_number_that_stopped_already_gets_no_second_confirmation():
    store = InMemoryNotifications()
    case_id = known_person(store)
    store.cases[case_id]["withdrawn"] = ["contact"]
    text(store, "STOP")
    (event,) = inbound_events(store)
    assert event["data"]["confirm"] is False


def test_any_other_text_is_a_task_on_the_newest_case_and_kept_only_here():
    store = InMemoryNotifications()
    known_person(store)
    newer = known_person(store)
    words = "Can you call me after 3? My daughter will be here"
    assert text(store, words) == REPLY
    (event,) = inbound_events(store)
    assert (event["event_type"], event["case_id"]) == ("person_replied", newer)
    assert event["data"] == {"inbound_id": "sms:SM1", "channel": "sms"}  # never the words
    assert [r["text"] for r in store.replies_for(newer)] == [words]
    store.erase_case(newer)
    assert [r["text"] for r in store.replies_for(newer)] == [None]


# --- the STOP handled here: no more messages, and one confirmation ---------------------------------

def stop_event(store, case_id):
    (event,) = [e for e in inbound_events(store) if e["case_id"] == case_id] or [None]
    return load_envelope(event)


def test_stop_suppresses_what_waits_and_confirms_once_even_in_quiet_hours():
    store, clock = InMemoryNotifications(), Clock()
    quiet = QuietHours(time(9, 0), time(11, 0))  # it is 10:00 in London
    channels = FakeChannels(quiet_hours=quiet)
    planner = MessagePlanner(store, channels, GROUP, clock)
    referral = load_envelope(referral_received(person__preferred_contact="sms"))
    planner.plan_for_event(referral)
    assert store.by_template("person_welcome")["status"] == "pending"  # waiting out quiet hours
    text(store, "STOP")
    envelope = stop_event(store, referral["case_id"])
    sender = MessageSender(store, channels, GROUP, clock)
    for doc in planner.stop_by_sms(envelope):
        assert sender.send_claimed(doc, planner.latest_contacts) == "sent"
    assert store.by_template("person_welcome")["suppressed_reason"] == "consent_withdrawn"
    confirmation = store.by_template(STOP_CONFIRMATION)
    assert (confirmation["status"], confirmation["channel"], confirmation["to"]) == (
        "sent", "sms", {"phone": "+447700900123"})
    ((phone, words), _), = channels.sms.sent
    assert phone == "+447700900123"
    assert words == f"You won't get any more messages from us. If you change your mind, call {GROUP['coordinator']['phone']}.\n"
    # redelivered: nothing twice
    assert planner.stop_by_sms(envelope) == []
    assert len(channels.sms.sent) == 1
    assert store.cases[referral["case_id"]]["withdrawn"] == ["contact"]


def test_a_withdrawal_arriving_later_does_not_stop_the_confirmation():
    store, clock = InMemoryNotifications(), Clock()
    channels = FakeChannels(quiet_hours=None)
    planner = MessagePlanner(store, channels, GROUP, clock)
    case_id = known_person(store)
    text(store, "STOP")
    store.cases[case_id]["withdrawn"] = ["contact"]  # referrals' consent_withdrawn came first
    for doc in planner.stop_by_sms(stop_event(store, case_id)):
        MessageSender(store, channels, GROUP, clock).send_claimed(doc)
    assert store.by_template(STOP_CONFIRMATION)["status"] == "sent"


def test_no_confirmation_for_an_erased_case():
    store, clock = InMemoryNotifications(), Clock()
    planner = MessagePlanner(store, FakeChannels(), GROUP, clock)
    case_id = known_person(store)
    text(store, "STOP")
    envelope = stop_event(store, case_id)
    store.erase_contacts(case_id, "erasure-1")
    assert planner.stop_by_sms(envelope) == []
    assert [d for d in store.messages.values() if d["template"] == STOP_CONFIRMATION] == []


# --- email bounces ------------------------------------------------------------------------------------

@pytest.mark.parametrize("notification_id", [
    "9b1d2c3e-0000-4000-8000-000000000001:person_welcome:person",
    "9b1d2c3e-0000-4000-8000-000000000001:referrer_update:referrer:1",
    "9b1d2c3e-0000-4000-8000-000000000001:coordinator_person_replied:coordinator",
    "9b1d2c3e-0000-4000-8000-000000000001:fire_service_request_withdrawn:fire_service",
])
def test_a_bounce_may_name_the_message_id_we_sent(notification_id):
    message_id = "<" + notification_id.replace(":", "_") + "@harrow-peer.example.org>"
    assert notification_id_of(message_id) == notification_id
    assert notification_id_of(notification_id) == notification_id


def welcomed(store, clock=None, **changes):
    """A referral whose welcome went by email; returns (case id, the welcome)."""
    clock = clock or Clock()
    planner = MessagePlanner(store, FakeChannels(), GROUP, clock)
    referral = load_envelope(referral_received(**changes))
    for doc in planner.plan_for_event(referral):
        MessageSender(store, FakeChannels(), GROUP, clock).send_claimed(doc)
    return referral["case_id"], store.by_template_of(referral["case_id"], "person_welcome")


def bounce(store, doc, email=PERSON_EMAIL, kind="hard"):
    return InboundMessages(store, Clock()).receive_bounce(
        {"email": email, "kind": kind, "notification_id": doc["_id"]}, "corr-2")


def bounce_events(store):
    return [e for doc_id, e in store.outbox if doc_id.startswith("bounce:")]


def test_a_hard_bounce_of_our_email_to_that_address_is_announced_once():
    store = InMemoryNotifications()
    case_id, welcome = welcomed(store)
    assert welcome["channel"] == "email" and welcome["status"] == "sent"
    assert bounce(store, welcome, email=PERSON_EMAIL.upper()) == HARD_BOUNCE
    assert bounce(store, welcome) == HARD_BOUNCE  # the provider again
    (event,) = bounce_events(store)
    assert (event["event_type"], event["case_id"]) == ("email_bounced", case_id)
    assert event["data"] == {"inbound_id": f"bounce:{welcome['_id']}", "notification_id": welcome["_id"],
                             "audience": "person", "template": "person_welcome"}
    assert PERSON_EMAIL not in str(event)


def test_soft_bounces_and_bounces_that_are_not_ours_change_nothing():
    store = InMemoryNotifications()
    _, welcome = welcomed(store)
    assert bounce(store, welcome, kind="soft") == SOFT_BOUNCE
    assert bounce(store, welcome, email="someone.else@example.org") == UNMATCHED
    assert bounce(store, {"_id": "no-such-message"}) == UNMATCHED
    assert bounce_events(store) == []


def after_bounce(store, welcome, clock=None):
    clock = clock or Clock()
    bounce(store, welcome)
    (event,) = bounce_events(store)
    planner = MessagePlanner(store, FakeChannels(), GROUP, clock)
    sender = MessageSender(store, FakeChannels(), GROUP, clock)
    return [sender.send_claimed(doc) for doc in planner.after_bounce(load_envelope(event))], planner, event


def test_the_bounced_message_goes_again_by_text_once_and_later_ones_skip_the_address():
    store = InMemoryNotifications()
    case_id, welcome = welcomed(store)
    outcomes, planner, event = after_bounce(store, welcome)
    assert outcomes == ["sent"]
    again = [d for d in store.messages.values() if d["case_id"] == case_id and d["template"] == "person_welcome"
             and d["_id"] != welcome["_id"]]
    (again,) = again
    assert (again["channel"], again["to"], again["status"]) == ("sms", {"phone": "+447700900123"}, "sent")
    assert again["context"] == welcome["context"]
    assert store.cases[case_id]["failing_emails"] == [PERSON_EMAIL]
    assert planner.after_bounce(load_envelope(event)) == []  # redelivered: once
    # the next message to the person goes by text
    accepted = follow_up("case_status_changed", {"case_id": case_id, "correlation_id": "corr-4"}, "referrals",
                         to="accepted", reference=REFERENCE)
    planner.plan_for_event(load_envelope(accepted))
    assert store.by_template_of(case_id, "person_invitation")["channel"] == "sms"


def test_without_a_mobile_the_bounced_message_goes_by_letter_and_without_an_address_it_is_recorded():
    store = InMemoryNotifications()
    _, welcome = welcomed(store, person__phone="020 8123 4567")  # a landline takes no text
    after_bounce(store, welcome)
    (letter,) = [d for d in store.messages.values() if d["channel"] == "letter"]
    assert (letter["template"], letter["to"]["name"]) == ("person_welcome", "Ada Jones")

    store = InMemoryNotifications()
    _, welcome = welcomed(store, person__phone=None, person__address=None)
    after_bounce(store, welcome)
    (again,) = [d for d in store.messages.values() if d["_id"] != welcome["_id"] and d["audience"] == "person"]
    assert (again["status"], again["suppressed_reason"]) == ("suppressed", "no_contact_detail")


def test_what_still_waits_for_the_failing_address_goes_by_text_instead():
    store = InMemoryNotifications()
    case_id, welcome = welcomed(store)
    waiting = {**welcome, "_id": "later:person_invitation:person", "template": "person_invitation",
               "status": "pending"}
    store.messages[waiting["_id"]] = waiting
    after_bounce(store, welcome)
    assert (store.messages[waiting["_id"]]["channel"], store.messages[waiting["_id"]]["to"]) == (
        "sms", {"phone": "+447700900123"})


def test_a_bounced_referrer_email_only_reaches_the_timeline():
    store = InMemoryNotifications()
    case_id, _ = welcomed(store)
    receipt = store.by_template_of(case_id, "referrer_receipt")
    InboundMessages(store, Clock()).receive_bounce(
        {"email": receipt["to"]["email"], "kind": "hard", "notification_id": receipt["_id"]}, "corr-3")
    (event,) = bounce_events(store)
    assert event["data"]["audience"] == "referrer"
    before = dict(store.messages)
    assert MessagePlanner(store, FakeChannels(), GROUP, Clock()).after_bounce(load_envelope(event)) == []
    assert store.messages.keys() == before.keys() and "failing_emails" not in store.cases[case_id]
