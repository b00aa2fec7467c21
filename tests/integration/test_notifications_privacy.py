"""The person's wishes over the wire: do-not-contact, withdrawn consent, quiet hours, erasure."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import requests

from services.common.envelope import utcnow
from tests.integration.notifications_peers import COORDINATOR, PERSON_EMAIL, REFERRER_EMAIL, follow_up, referral_received, smtp, subject, visit_requested
from tests.support import wait_until

UK = ZoneInfo("Europe/London")


def quiet_now() -> tuple[str, datetime]:
    """Quiet hours around this moment, and the UTC instant they end."""
    now = datetime.now(UK).replace(second=0, microsecond=0)
    start, end = now - timedelta(hours=2), now + timedelta(hours=2)
    return f"{start:%H:%M}-{end:%H:%M}", end


def withdrawn(after, scope):
    return follow_up("consent_withdrawn", after, "referrals", scope=scope, reason="changed their mind",
                     actor="coordinator:k1")


def test_do_not_contact_records_the_welcome_as_suppressed(start_notifications, mailbox, tokens):
    service = start_notifications(**smtp(mailbox), NOTIFY_TRIAGE_WAIT_SECONDS=0.2)
    referral = referral_received(consent__contact=False)
    service.publish(referral)
    docs = wait_until(lambda: service.settled(referral["case_id"]), message="all settled")
    statuses = {d["template"]: (d["status"], d.get("suppressed_reason")) for d in docs}
    assert statuses == {"referrer_receipt": ("sent", None), "coordinator_alert": ("sent", None),
                        "person_welcome": ("suppressed", "do_not_contact")}
    assert mailbox.to(PERSON_EMAIL) == []
    log = requests.get(f"{service.url}/notifications", params={"case_id": referral["case_id"]},
                       headers={"Authorization": f"Bearer {tokens['coordinator']}"}, timeout=10).json()
    (welcome,) = [i for i in log["items"] if i["template"] == "person_welcome"]
    assert (welcome["status"], welcome["attempts"], welcome["suppressed_reason"]) == (
        "suppressed", 0, "do_not_contact")


def test_quiet_hours_defer_the_person_but_not_the_professionals(start_notifications, mailbox):
    spec, end = quiet_now()
    service = start_notifications(**smtp(mailbox), QUIET_HOURS=spec, NOTIFY_TRIAGE_WAIT_SECONDS=0.2)
    referral = referral_received()
    service.publish(referral)
    wait_until(lambda: mailbox.to(REFERRER_EMAIL) and mailbox.to(COORDINATOR),
               message="the receipt and the alert, quiet hours or not")
    welcome = service.doc(referral["case_id"], "person_welcome")
    assert welcome["status"] == "pending" and welcome["attempts"] == 0
    assert welcome["next_attempt_at"] == end.astimezone(welcome["next_attempt_at"].tzinfo)
    # still held after the timer has been round several times
    service.wait_status(referral["case_id"], "referrer_receipt", "sent")
    wait_until(lambda: service.db["notifications"].count_documents(
        {"case_id": referral["case_id"], "status": "sent"}) == 2, message="two sent")
    assert mailbox.to(PERSON_EMAIL) == []
    assert service.doc(referral["case_id"], "person_welcome")["status"] == "pending"


def test_a_message_due_in_quiet_hours_is_put_back_not_sent(start_notifications, mailbox):
    """The coordinator retried it, or it was planned before quiet hours began: checked again at send.

    Its due time is moved without a wake-up, so the sweep (as for a lost wake-up) wakes it.
    """
    spec, end = quiet_now()
    service = start_notifications(**smtp(mailbox), QUIET_HOURS=spec, NOTIFY_TRIAGE_WAIT_SECONDS=0.2,
                                  NOTIFY_SWEEP_SECONDS=0.3, NOTIFY_SWEEP_MARGIN_SECONDS=0)
    referral = referral_received()
    service.publish(referral)
    service.wait_status(referral["case_id"], "referrer_receipt", "sent")
    service.db["notifications"].update_one({"case_id": referral["case_id"], "template": "person_welcome"},
                                           {"$set": {"next_attempt_at": utcnow()}})
    welcome = wait_until(lambda: (d := service.doc(referral["case_id"], "person_welcome"))
                         and d["next_attempt_at"] > utcnow() and d, message="the welcome put back")
    assert welcome["status"] == "pending" and welcome["attempts"] == 0
    assert welcome["next_attempt_at"] == end.astimezone(welcome["next_attempt_at"].tzinfo)
    assert mailbox.to(PERSON_EMAIL) == []


def test_letters_are_not_held_by_quiet_hours(start_notifications, mailbox):
    spec, _ = quiet_now()
    service = start_notifications(**smtp(mailbox), QUIET_HOURS=spec, NOTIFY_TRIAGE_WAIT_SECONDS=0.2)
    referral = referral_received(person__preferred_contact="letter")
    service.publish(referral)
    assert service.wait_status(referral["case_id"], "person_welcome", "ready_to_print")["channel"] == "letter"


def test_withdrawn_contact_consent_suppresses_what_waits_and_what_comes(start_notifications, mailbox,
                                                                       tap):
    spec, _ = quiet_now()  # holds the welcome, so the withdrawal finds it pending
    service = start_notifications(**smtp(mailbox), QUIET_HOURS=spec, NOTIFY_TRIAGE_WAIT_SECONDS=0.2)
    referral = referral_received()
    case_id = referral["case_id"]
    service.publish(referral)
    assert service.doc(case_id, "person_welcome")["status"] == "pending"

    withdrawal = withdrawn(referral, "contact")
    service.publish(withdrawal)
    welcome = service.doc(case_id, "person_welcome")
    assert (welcome["status"], welcome["suppressed_reason"]) == ("suppressed", "consent_withdrawn")

    service.publish(follow_up("case_status_changed", referral, "referrals", **{
        "from": "received", "to": "accepted", "reason": "", "actor": "coordinator:k1"}))
    invitation = service.doc(case_id, "person_invitation")
    assert (invitation["status"], invitation["suppressed_reason"]) == ("suppressed", "consent_withdrawn")
    service.wait_status(case_id, "referrer_update", "sent")  # the referrer still hears
    wait_until(lambda: service.settled(case_id), message="all settled")
    assert mailbox.to(PERSON_EMAIL) == []
    assert {e["data"]["template"] for e in tap.wait_for("notification_sent", count=3)} == {
        "referrer_receipt", "coordinator_alert", "referrer_update"}

    service.publish(withdrawal)  # redelivered: no harm
    service.publish(withdrawn(referral, "contact"))  # withdrawn again: still once
    assert service.db["contacts"].find_one({"_id": case_id})["withdrawn"] == ["contact"]


def test_withdrawn_fire_service_consent_leaves_the_person_alone(start_notifications, mailbox):
    service = start_notifications(**smtp(mailbox), NOTIFY_TRIAGE_WAIT_SECONDS=0.2)
    referral = referral_received()
    service.publish(referral)
    service.publish(withdrawn(referral, "fire_service"))
    service.publish(visit_requested(referral))
    docs = wait_until(lambda: service.settled(referral["case_id"]), message="all settled")
    statuses = {d["template"]: (d["status"], d.get("suppressed_reason")) for d in docs}
    assert statuses["person_welcome"] == ("sent", None)
    assert statuses["fire_service_alert"] == ("suppressed", "consent_withdrawn")


def test_erasure_keeps_only_anonymous_records(start_notifications, mailbox, tmp_path, tokens):
    service = start_notifications(**smtp(mailbox), NOTIFY_TRIAGE_WAIT_SECONDS=0.2)
    letter_referral = referral_received(person__preferred_contact="letter")
    case_id = letter_referral["case_id"]
    service.publish(letter_referral)
    letter = service.wait_status(case_id, "person_welcome", "ready_to_print")["receipt"]
    wait_until(lambda: service.settled(case_id), message="all settled")
    assert (tmp_path / "letters").exists() and len(list((tmp_path / "letters").iterdir())) == 1

    # an event of the case parked earlier still holds contact details
    service.db["dead_letters"].insert_one({
        "_id": "dl-1", "queue": "q", "payload": letter_referral, "error": "boom", "attempts": 3,
        "event_id": letter_referral["event_id"], "case_id": case_id, "replayed_at": None})

    service.publish(follow_up("case_erased", letter_referral, "referrals", actor="admin:k9"))

    parked = service.db["dead_letters"].find_one({"_id": "dl-1"})
    assert parked["payload"]["data"] == {} and parked["payload"]["event_id"] == letter_referral["event_id"]
    assert service.db["contacts"].find_one({"_id": case_id}).keys() == {"_id", "erased_at",
                                                                        "applied_events"}
    docs = list(service.db["notifications"].find({"case_id": case_id}))
    # the letter was never posted: it never will be
    assert {(d["template"], d["audience"], d["status"], d["suppressed_reason"]) for d in docs} == {
        ("referrer_receipt", "referrer", "sent", None), ("coordinator_alert", "coordinator", "sent", None),
        ("person_welcome", "person", "suppressed", "case_erased")}
    for doc in docs:
        assert doc["to"] == {} and doc["context"] == {} and doc["receipt"] is None
        assert doc["created_at"] and doc["erased_at"] and (doc["sent_at"] or doc["template"] == "person_welcome")
    stored = repr(docs) + repr(list(service.db["contacts"].find())) + repr(parked)
    for personal in ("Ada", "Jones", "Station Road", "HA1 2AB", "07700", PERSON_EMAIL, "Sam Patel",
                     REFERRER_EMAIL):
        assert personal not in stored, personal
    assert not list((tmp_path / "letters").iterdir()), letter

    # events after erasure message nobody, and the delivery log still counts what went
    service.publish(follow_up("case_status_changed", letter_referral, "referrals", **{
        "from": "received", "to": "cancelled", "reason": "erased", "actor": "admin:k9"}))
    assert service.db["notifications"].count_documents({"case_id": case_id}) == 3
    log = requests.get(f"{service.url}/notifications", params={"case_id": case_id},
                       headers={"Authorization": f"Bearer {tokens['coordinator']}"}, timeout=10).json()
    assert len(log["items"]) == 3 and {i["status"] for i in log["items"]} == {"sent", "suppressed"}
    # a redelivered referral does not bring the details back
    service.publish(letter_referral)
    assert service.db["contacts"].find_one({"_id": case_id}).keys() == {"_id", "erased_at",
                                                                        "applied_events"}


def test_erasure_suppresses_what_had_not_gone(start_notifications, mailbox):
    spec, _ = quiet_now()
    service = start_notifications(**smtp(mailbox), QUIET_HOURS=spec, NOTIFY_TRIAGE_WAIT_SECONDS=600)
    referral = referral_received()
    service.publish(referral)
    service.wait_status(referral["case_id"], "referrer_receipt", "sent")
    service.publish(follow_up("case_erased", referral, "referrals", actor="admin:k9"))
    docs = {d["template"]: d for d in service.db["notifications"].find({"case_id": referral["case_id"]})}
    assert (docs["person_welcome"]["status"], docs["person_welcome"]["suppressed_reason"]) == (
        "suppressed", "case_erased")
    assert (docs["coordinator_alert"]["status"], docs["coordinator_alert"]["suppressed_reason"]) == (
        "suppressed", "case_erased")
    assert all(d["to"] == {} and d["context"] == {} for d in docs.values())
    assert [subject(m) for _, m in mailbox.received] == ["Thank you for your referral (HRW-2026-000123)"]


def test_a_withdrawal_we_do_not_understand_is_parked_not_guessed(start_notifications, mailbox):
    spec, _ = quiet_now()
    service = start_notifications(**smtp(mailbox), QUIET_HOURS=spec)
    referral = referral_received()
    service.publish(referral)
    service.publish(withdrawn(referral, "everything"), wait=False)
    parked = wait_until(lambda: service.db["dead_letters"].find_one({"case_id": referral["case_id"]}),
                        message="the withdrawal to be parked")
    assert "unknown consent scope" in parked["error"]
    assert service.doc(referral["case_id"], "person_welcome")["status"] == "pending"
    assert service.db["contacts"].find_one({"_id": referral["case_id"]})["withdrawn"] == []
