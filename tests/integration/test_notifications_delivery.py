"""The notifications service on the real broker and database, sending to real local peers:
an SMTP server (aiosmtpd), an HTTP server standing in for the SMS provider, a letters folder.
The peers, the event builders and the event tap live in notifications_peers.py
and conftest.py beside this file.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests

from services.common.envelope import utcnow
from tests.integration.notifications_peers import (
    COORDINATOR, FIRE_TEAM, PERSON_EMAIL, REFERENCE, REFERRER_EMAIL, body, follow_up, referral_received, refhub,
    smtp, subject, visit_requested,
)
from tests.support import wait_until



# --- the onboarding messages over email ------------------------------------------

def test_a_referral_emails_the_receipt_the_welcome_and_after_triage_the_alert(
        start_notifications, mailbox, tap):
    service = start_notifications(**smtp(mailbox))
    referral = referral_received()
    case_id = referral["case_id"]
    service.publish(referral)

    wait_until(lambda: mailbox.to(REFERRER_EMAIL) and mailbox.to(PERSON_EMAIL),
               message="the receipt and the welcome")
    receipt = mailbox.one_to(REFERRER_EMAIL)
    assert subject(receipt) == f"Thank you for your referral ({REFERENCE})"
    assert receipt["From"] == "Harrow Peer Support <group@harrow-peer.example.org>"
    assert "Dear Sam Patel" in body(receipt) and REFERENCE in body(receipt)
    assert receipt.get_body(("html",)) is not None
    welcome = mailbox.one_to(PERSON_EMAIL)
    assert subject(welcome) == "Welcome to the Harrow Peer Support Group"
    assert "Dear Ada" in body(welcome)
    assert "Sam Patel at Mind in Harrow" in body(welcome)
    assert "diagnosis" in body(welcome)

    # the coordinator alert waits for safety's triage of this referral
    alert_doc = service.doc(case_id, "coordinator_alert")
    assert (alert_doc["status"], alert_doc["awaiting_triage"]) == ("pending", REFERENCE)
    assert mailbox.to(COORDINATOR) == []
    service.publish(visit_requested(referral, priority="very_high"))

    alert = wait_until(lambda: mailbox.to(COORDINATOR), message="the coordinator alert")[0]
    assert subject(alert) == f"New referral {REFERENCE}: level 3, fire safety visit priority very high"
    assert "Home fire safety visit: asked for, very high priority" in body(alert)
    assert "Highest Clutter Image Rating: 8" in body(alert)

    fire = wait_until(lambda: mailbox.to(FIRE_TEAM), message="the fire service alert")[0]
    text = subject(fire) + body(fire) + fire.get_body(("html",)).get_content()
    for personal in ("Ada", "Jones", "Station Road", "HA1", "07700", "hard of hearing", PERSON_EMAIL):
        assert personal not in text, personal
    assert REFERENCE in text and "very high" in text

    for message in mailbox.to(REFERRER_EMAIL) + mailbox.to(PERSON_EMAIL) + [alert, fire]:
        assert "hoarder" not in message.as_string().lower()

    sent = tap.wait_for("notification_sent", count=4)
    assert sorted((e["data"]["audience"], e["data"]["template"], e["data"]["channel"]) for e in sent) == [
        ("coordinator", "coordinator_alert", "email"), ("fire_service", "fire_service_alert", "email"),
        ("person", "person_welcome", "email"), ("referrer", "referrer_receipt", "email")]
    assert {e["case_id"] for e in sent} == {case_id}
    assert {e["correlation_id"] for e in sent} == {referral["correlation_id"]}
    docs = wait_until(lambda: service.settled(case_id), message="all sent")
    assert {(d["template"], d["status"], d["attempts"]) for d in docs} == {
        ("referrer_receipt", "sent", 1), ("person_welcome", "sent", 1),
        ("coordinator_alert", "sent", 1), ("fire_service_alert", "sent", 1)}
    # the Message-ID is the notification's own, so a re-send after a crash is recognisable
    welcome_id = service.doc(case_id, "person_welcome")["_id"].replace(":", "_")
    assert welcome["Message-ID"] == f"<{welcome_id}@harrow-peer.example.org>"


def test_triage_that_arrives_first_is_used_at_once(start_notifications, mailbox):
    """Safety may be quicker than us: the alert then goes without waiting."""
    service = start_notifications(**smtp(mailbox), NOTIFY_TRIAGE_WAIT_SECONDS=600)
    referral = referral_received()
    service.publish(referral)
    # a second referral for the case whose triage comes before its own referral_received
    second = referral_received(case_id=referral["case_id"], reference="HRW-2026-000124",
                               duplicate_of=referral["case_id"], referrer__email="jo@rethink.example.org",
                               referrer__name="Jo Reed", referrer__agency="rethink")
    service.publish(follow_up("visit_not_requested", referral, "safety", reason="no_consent",
                              priority="very_high", rule="r", reference="HRW-2026-000124"))
    service.publish(second)
    alert = wait_until(lambda: [m for m in mailbox.to(COORDINATOR) if "000124" in subject(m)],
                       message="the second alert")[0]
    assert subject(alert) == "Another referral for an open case HRW-2026-000124: level 3"
    assert "not asked for (no consent); fire risk very high" in body(alert)
    receipt = wait_until(lambda: mailbox.to("jo@rethink.example.org"), message="the second receipt")[0]
    assert "HRW-2026-000124" in subject(receipt) and "Dear Jo Reed" in body(receipt)
    assert len(wait_until(lambda: mailbox.to(PERSON_EMAIL), message="the welcome")) == 1  # not twice
    assert mailbox.to(COORDINATOR) == [alert]  # the first is still waiting for its triage


def test_the_alert_goes_without_triage_when_it_does_not_come(start_notifications, mailbox):
    service = start_notifications(**smtp(mailbox), NOTIFY_TRIAGE_WAIT_SECONDS=0.5)
    service.publish(referral_received())
    alert = wait_until(lambda: mailbox.to(COORDINATOR), message="the coordinator alert")[0]
    assert subject(alert) == f"New referral {REFERENCE}: level 3"
    assert "the fire risk check is not in yet" in body(alert)


# --- SMS and letters ----------------------------------------------------------------

def test_welcome_by_sms_for_preferred_contact_sms(start_notifications, mailbox, sms_provider):
    service = start_notifications(**smtp(mailbox), SMS_ENDPOINT=sms_provider.url,
                                  SMS_API_KEY="test-key", SMS_SENDER="HarrowPeer")
    referral = referral_received(person__preferred_contact="sms")
    service.publish(referral)
    wait_until(lambda: sms_provider.requests, message="the welcome text")
    doc = service.wait_status(referral["case_id"], "person_welcome", "sent")
    (request,) = sms_provider.requests
    assert request["json"]["to"] == "+447700900123"
    assert request["json"]["from"] == "HarrowPeer"
    assert request["json"]["text"].startswith("Hello Ada, a warm welcome to the Harrow Peer Support Group.")
    assert "Reply STOP" in request["json"]["text"]
    assert request["headers"]["Authorization"] == "Bearer test-key"
    assert request["headers"]["Idempotency-Key"] == doc["_id"].replace(":", "_")
    assert (doc["channel"], doc["receipt"]) == ("sms", "sms-1")
    assert mailbox.to(PERSON_EMAIL) == []  # only on the channel they chose
    wait_until(lambda: mailbox.to(REFERRER_EMAIL), message="the receipt by email")


def test_letter_for_preferred_contact_letter(start_notifications, mailbox, tmp_path):
    service = start_notifications(**smtp(mailbox), NOTIFY_TRIAGE_WAIT_SECONDS=0.2)
    # 23:30 UTC on 1 July is already 2 July in London: the letter is dated in UK time
    referral = referral_received(person__preferred_contact="letter",
                                 occurred_at=datetime(2026, 7, 1, 23, 30, tzinfo=timezone.utc))
    service.publish(referral)
    doc = service.wait_status(referral["case_id"], "person_welcome", "ready_to_print")  # until posted
    letter = Path(doc["receipt"])
    assert letter.parent == tmp_path / "letters"
    text = letter.read_text(encoding="utf-8")
    assert "Ada Jones\n12 Station Road\nHarrow\nHA1 2AB\n" in text
    assert "2 July 2026" in text
    assert "Dear Ada" in text
    assert mailbox.to(PERSON_EMAIL) == []


# --- at most once, retries, failures ------------------------------------------------

def test_a_redelivered_referral_sends_nothing_twice(start_notifications, mailbox, tap):
    service = start_notifications(**smtp(mailbox))
    referral = referral_received()
    for _ in range(2):  # RabbitMQ redelivers: the same event_id twice
        service.publish(referral)
    triage = visit_requested(referral)
    for _ in range(2):
        service.publish(triage)
    docs = wait_until(lambda: service.settled(referral["case_id"]), message="all sent")
    assert len(docs) == 4
    tap.wait_for("notification_sent", count=4)
    assert len(mailbox.received) == 4
    for address in (REFERRER_EMAIL, PERSON_EMAIL, COORDINATOR, FIRE_TEAM):
        assert len(mailbox.to(address)) == 1, address
    assert len(tap.of("notification_sent")) == 4


def test_a_message_claimed_by_a_sender_that_died_goes_once_its_lease_ends(start_notifications,
                                                                          mailbox):
    """No wake-up is coming for these: the safety-net sweep finds the expired lease."""
    service = start_notifications(**smtp(mailbox), NOTIFY_TRIAGE_WAIT_SECONDS=0.2,
                                  NOTIFY_SWEEP_SECONDS=0.3)
    referral = referral_received()
    service.publish(referral)
    wait_until(lambda: service.settled(referral["case_id"]), message="all sent")
    assert len(mailbox.to(PERSON_EMAIL)) == 1
    # two more welcomes left mid-send by a process that died: one lease still running
    welcome = service.doc(referral["case_id"], "person_welcome")
    ids = {}
    for state, lease in (("running", timedelta(minutes=5)), ("expired", timedelta(seconds=-1))):
        ids[state] = f"{welcome['event_id']}-{state}:person_welcome:person"
        service.db["notifications"].insert_one({
            **{k: v for k, v in welcome.items() if k not in ("_id", "outbox", "receipt")},
            "_id": ids[state], "status": "sending", "attempts": 1, "round_attempts": 1,
            "lease_until": utcnow() + lease, "lease_token": "dead", "sent_at": None,
            "outbox": {}, "outbox_pending": 0})
    wait_until(lambda: service.db["notifications"].find_one({"_id": ids["expired"], "status": "sent"}),
               message="the expired lease to be taken over")
    assert len(mailbox.to(PERSON_EMAIL)) == 2
    running = service.db["notifications"].find_one({"_id": ids["running"]})
    assert running["status"] == "sending"  # not sent while its sender may still be at it


def test_a_transient_failure_is_retried_then_sent(start_notifications, mailbox, sms_provider):
    service = start_notifications(**smtp(mailbox), SMS_ENDPOINT=sms_provider.url, SMS_API_KEY="k",
                                  NOTIFY_BACKOFF_SECONDS=0.3)
    sms_provider.statuses = [503, 200]
    referral = referral_received(person__preferred_contact="sms")
    service.publish(referral)
    doc = service.wait_status(referral["case_id"], "person_welcome", "sent")
    assert doc["attempts"] == 2
    assert doc["last_error"] is None
    first, second = sms_provider.requests
    assert first["headers"]["Idempotency-Key"] == second["headers"]["Idempotency-Key"]
    # the retry waited for the backoff
    assert (doc["sent_at"] - doc["created_at"]).total_seconds() >= 0.3


def test_exhausted_retries_fail_with_an_event_and_the_cli_sends_it_again(
        start_notifications, mailbox, sms_provider, tap, databases):
    service = start_notifications(**smtp(mailbox), SMS_ENDPOINT=sms_provider.url, SMS_API_KEY="k",
                                  NOTIFY_MAX_ATTEMPTS=3, NOTIFY_BACKOFF_SECONDS=0.1)
    sms_provider.statuses = [503]
    referral = referral_received(person__preferred_contact="sms")
    service.publish(referral)
    doc = service.wait_status(referral["case_id"], "person_welcome", "failed")
    assert doc["attempts"] == 3 and len(sms_provider.requests) == 3
    assert "503" in doc["last_error"] and "7700" not in doc["last_error"]
    (failed,) = tap.wait_for("notification_failed")
    assert failed["data"]["notification_id"] == doc["_id"]
    assert (failed["data"]["audience"], failed["data"]["template"], failed["data"]["channel"],
            failed["data"]["attempts"]) == ("person", "person_welcome", "sms", 3)
    assert "503" in failed["data"]["reason"] and "7700" not in failed["data"]["reason"]
    assert failed["case_id"] == referral["case_id"]

    sms_provider.statuses = [200]
    result = refhub("notifications", "retry", doc["_id"], databases=databases, config=service.config)
    assert result.returncode == 0, result.stderr
    doc = service.wait_status(referral["case_id"], "person_welcome", "sent")
    assert doc["attempts"] == 4 and len(sms_provider.requests) == 4
    (sent,) = tap.wait_for("notification_sent", notification_id=doc["_id"])
    assert sent["data"]["channel"] == "sms"

    # only a failed message can be retried, and the CLI says why not
    again = refhub("notifications", "retry", doc["_id"], databases=databases, config=service.config)
    assert again.returncode == 2 and "is sent" in again.stderr
    missing = refhub("notifications", "retry", "no-such-id", databases=databases, config=service.config)
    assert missing.returncode == 2 and "no notification" in missing.stderr


def test_a_refused_address_fails_at_once(start_notifications, mailbox, tap):
    mailbox.refuse[REFERRER_EMAIL] = ["550 5.1.1 Mailbox unavailable", None]
    service = start_notifications(**smtp(mailbox))
    referral = referral_received()
    service.publish(referral)
    doc = service.wait_status(referral["case_id"], "referrer_receipt", "failed")
    assert doc["attempts"] == 1
    assert "550" in doc["last_error"] and REFERRER_EMAIL not in doc["last_error"]
    tap.wait_for("notification_failed", template="referrer_receipt")


def test_a_busy_mail_server_is_retried(start_notifications, mailbox):
    mailbox.refuse[PERSON_EMAIL] = ["451 4.3.0 Try again later", 2]
    service = start_notifications(**smtp(mailbox))
    referral = referral_received()
    service.publish(referral)
    doc = service.wait_status(referral["case_id"], "person_welcome", "sent")
    assert doc["attempts"] == 3
    assert len(mailbox.to(PERSON_EMAIL)) == 1


def test_the_delivery_log_shows_each_message(start_notifications, mailbox, tokens):
    service = start_notifications(**smtp(mailbox), NOTIFY_TRIAGE_WAIT_SECONDS=0.2)
    referral = referral_received()
    service.publish(referral)
    wait_until(lambda: service.settled(referral["case_id"]), message="all sent")
    response = requests.get(f"{service.url}/notifications", params={"case_id": referral["case_id"]},
                            headers={"Authorization": f"Bearer {tokens['coordinator']}"}, timeout=10)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert {(i["audience"], i["template"], i["channel"], i["status"], i["attempts"]) for i in items} == {
        ("referrer", "referrer_receipt", "email", "sent", 1),
        ("coordinator", "coordinator_alert", "email", "sent", 1),
        ("person", "person_welcome", "email", "sent", 1)}
    for item in items:
        assert {"notification_id", "case_id", "audience", "template", "channel", "status", "attempts",
                "created_at"} <= set(item)
        assert item["case_id"] == referral["case_id"]
    assert "ada" not in response.text.lower() and "station road" not in response.text.lower()


def test_every_agency_that_referred_the_person_hears_when_the_case_is_accepted(start_notifications, mailbox):
    service = start_notifications(**smtp(mailbox), QUIET_HOURS="off")
    first = referral_received()
    service.publish(first)
    second_referrer = "keeper@rethink.example.org"
    second = referral_received(case_id=first["case_id"], reference="HRW-2026-000124",
                               duplicate_of=first["case_id"], referral_id="r-2",
                               referrer__email=second_referrer, referrer__agency="rethink")
    service.publish(second)
    wait_until(lambda: mailbox.to(second_referrer), message="the second referrer's receipt")

    service.publish(follow_up("case_status_changed", first, "referrals", **{
        "from": "received", "to": "accepted", "reason": "spoke to Ada", "actor": "coordinator:k1"}))
    updates = wait_until(lambda: len(mailbox.to(REFERRER_EMAIL)) >= 2 and len(mailbox.to(second_referrer)) >= 2
                         and (mailbox.to(REFERRER_EMAIL)[-1], mailbox.to(second_referrer)[-1]),
                         message="an update to each referrer")
    assert REFERENCE in body(updates[0])
    assert "HRW-2026-000124" in body(updates[1])  # each follows their own reference
    assert len(mailbox.to(PERSON_EMAIL)) == 2  # one welcome and one invitation, not one per referrer
