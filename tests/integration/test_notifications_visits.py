"""What the crew, the coordinator and the referrer hear as a visit and a case move on:
a more urgent duplicate referral, a withdrawn request, rebookings, a case back from on hold."""
from __future__ import annotations

from tests.integration.notifications_peers import (
    COORDINATOR, FIRE_TEAM, PERSON_EMAIL, REFERENCE, REFERRER_EMAIL, body, follow_up, referral_received,
    smtp, subject, visit_requested,
)
from tests.support import wait_until

DUPLICATE = "HRW-2026-000124"
SECOND_REFERRER = "jo@rethink.example.org"
PERSONAL = ("Ada", "Jones", "Station Road", "HA1", "07700", "hard of hearing", PERSON_EMAIL, "Sam Patel")


def visit_status(after, visit_id, status, change="status", **data):
    return follow_up("visit_status_changed", after, "safety", visit_id=visit_id, reference=REFERENCE,
                     status=status, priority="high", due_by="2026-11-27T10:00:00+00:00",
                     actor="fire_service:k2", change=change, **data)


def alerted_visit(start_notifications, mailbox):
    """The service, a referral and its visit request, once the crew's first alert went out."""
    service = start_notifications(**smtp(mailbox), NOTIFY_TRIAGE_WAIT_SECONDS=0.2)
    referral = referral_received()
    service.publish(referral)
    requested = visit_requested(referral)
    service.publish(requested)
    service.wait_status(referral["case_id"], "fire_service_alert", "sent")
    # each message has its own wake-up, so the others may still be on their way
    wait_until(lambda: service.settled(referral["case_id"]), message="the first messages")
    return service, referral, requested


def fire_text(message):
    return subject(message) + body(message) + message.get_body(("html",)).get_content()


def test_a_more_urgent_duplicate_alerts_the_crew_again_and_releases_its_own_alert(
        start_notifications, mailbox):
    service = start_notifications(**smtp(mailbox), NOTIFY_TRIAGE_WAIT_SECONDS=600)
    first = referral_received()
    case_id = first["case_id"]
    service.publish(first)
    requested = visit_requested(first, priority="medium")
    service.publish(requested)
    wait_until(lambda: mailbox.to(FIRE_TEAM) and mailbox.to(COORDINATOR), message="the first alerts")

    second = referral_received(case_id=case_id, reference=DUPLICATE, duplicate_of=case_id,
                               referral_id="r-2", referrer__email=SECOND_REFERRER,
                               referrer__name="Jo Reed", referrer__agency="rethink")
    service.publish(second)
    wait_until(lambda: mailbox.to(SECOND_REFERRER), message="the second receipt")
    held = service.db["notifications"].find_one({"case_id": case_id, "template": "coordinator_alert",
                                                 "awaiting_triage": DUPLICATE})
    assert held["status"] == "pending"

    service.publish(follow_up(
        "visit_status_changed", first, "safety", visit_id=requested["data"]["visit_id"],
        status="requested", priority="very_high", due_by="2026-11-25T14:00:00+00:00",
        previous_priority="medium", change="priority_raised", reference=DUPLICATE,
        case_reference=REFERENCE, actor="safety:triage", rule="r"))

    raised = wait_until(lambda: len(mailbox.to(FIRE_TEAM)) == 2 and mailbox.to(FIRE_TEAM)[1],
                        message="the crew told the priority went up")
    assert subject(raised) == f"Home fire safety visit request {REFERENCE}: priority raised to very high"
    assert "very high (was medium)" in body(raised)
    for personal in PERSONAL + ("Jo Reed", DUPLICATE):
        assert personal not in fire_text(raised), personal

    # the duplicate's coordinator alert took it as its triage, without waiting out the 600s
    alert = wait_until(lambda: [m for m in mailbox.to(COORDINATOR) if DUPLICATE in subject(m)],
                       message="the duplicate's alert")[0]
    assert subject(alert) == (f"Another referral for an open case {DUPLICATE}: level 3, "
                              "fire safety visit priority very high")
    assert "this referral raised it to very high priority" in body(alert)

    wait_until(lambda: service.settled(case_id), message="all settled")
    # and no referrer hears of it
    assert len(mailbox.to(REFERRER_EMAIL)) == 1 and len(mailbox.to(SECOND_REFERRER)) == 1


def test_a_cancelled_visit_tells_the_crew_even_though_consent_to_share_was_withdrawn(
        start_notifications, mailbox):
    service, referral, requested = alerted_visit(start_notifications, mailbox)
    case_id = referral["case_id"]

    # referrals' withdrawal reaches us; safety cancels the visit and says so
    service.publish(follow_up("consent_withdrawn", referral, "referrals", scope="fire_service",
                              reason="changed their mind", actor="coordinator:k1"))
    service.publish(visit_status(referral, requested["data"]["visit_id"], "cancelled",
                                 change="consent_withdrawn"))

    notice = service.wait_status(case_id, "fire_service_request_withdrawn", "sent", "suppressed")
    assert (notice["status"], notice["audience"]) == ("sent", "fire_service")
    withdrawn = wait_until(lambda: len(mailbox.to(FIRE_TEAM)) == 2 and mailbox.to(FIRE_TEAM)[1],
                           message="the withdrawal notice")
    assert subject(withdrawn) == f"Home fire safety visit request {REFERENCE} withdrawn: please do not visit"
    for personal in PERSONAL + ("consent",):
        assert personal not in fire_text(withdrawn), personal
    assert len(mailbox.to(REFERRER_EMAIL)) == 1  # the receipt only: nothing for the referrer


def test_a_withdrawal_of_consent_does_not_hold_back_a_pending_withdrawal_notice(
        start_notifications, mailbox):
    """Safety's cancellation may be handled before referrals' consent_withdrawn: the notice,
    still waiting for a busy mail server, must not be swept up with the fire-service alerts."""
    service = start_notifications(**smtp(mailbox), NOTIFY_TRIAGE_WAIT_SECONDS=0.2,
                                  NOTIFY_BACKOFF_SECONDS=1.5)
    referral = referral_received()
    case_id = referral["case_id"]
    service.publish(referral)
    wait_until(lambda: service.settled(case_id), message="the referral's messages")
    mailbox.refuse[FIRE_TEAM] = ["451 4.3.0 Try again later", 1]
    service.publish(visit_status(referral, "v-1", "cancelled", change="consent_withdrawn"))
    wait_until(lambda: (d := service.doc(case_id, "fire_service_request_withdrawn"))
               and d["status"] == "pending" and d["attempts"] == 1, message="the first attempt refused")

    service.publish(follow_up("consent_withdrawn", referral, "referrals", scope="all",
                              reason="changed their mind", actor="coordinator:k1"))
    assert service.doc(case_id, "fire_service_request_withdrawn")["status"] == "pending"
    notice = service.wait_status(case_id, "fire_service_request_withdrawn", "sent", "suppressed")
    assert (notice["status"], notice["attempts"]) == ("sent", 2)
    assert len(mailbox.to(FIRE_TEAM)) == 1


def test_the_referrer_hears_a_visit_is_booked_once_not_on_every_rebooking(start_notifications, mailbox):
    service = start_notifications(**smtp(mailbox), NOTIFY_TRIAGE_WAIT_SECONDS=0.2)
    referral = referral_received()
    case_id = referral["case_id"]
    service.publish(referral)
    booked = visit_status(referral, "v-1", "scheduled", scheduled_for="2026-11-30T10:00:00+00:00")
    service.publish(booked)
    service.publish(booked)  # redelivered
    service.publish(visit_status(referral, "v-1", "scheduled", scheduled_for="2026-12-02T10:00:00+00:00"))
    service.publish(visit_status(referral, "v-1", "scheduled", scheduled_for="2026-12-03T10:00:00+00:00"))
    wait_until(lambda: service.settled(case_id), message="all settled")
    updates = [m for m in mailbox.to(REFERRER_EMAIL) if "visit booked" in subject(m)]
    assert len(updates) == 1
    assert service.db["notifications"].count_documents(
        {"case_id": case_id, "template": "referrer_update"}) == 1

    # the crew could not get in, and rebooked: that booking is news again
    service.publish(visit_status(referral, "v-1", "no_access"))
    service.publish(visit_status(referral, "v-1", "scheduled", scheduled_for="2026-12-09T10:00:00+00:00"))
    wait_until(lambda: len([m for m in mailbox.to(REFERRER_EMAIL) if "visit booked" in subject(m)]) == 2,
               message="the rebooking after no access")
    service.publish(visit_status(referral, "v-1", "completed"))
    wait_until(lambda: [m for m in mailbox.to(REFERRER_EMAIL) if "visit done" in subject(m)],
               message="the visit done")


def test_back_from_on_hold_invites_and_tells_nobody_again(start_notifications, mailbox):
    service = start_notifications(**smtp(mailbox), NOTIFY_TRIAGE_WAIT_SECONDS=0.2, QUIET_HOURS="off")
    referral = referral_received()
    case_id = referral["case_id"]
    service.publish(referral)
    service.wait_status(case_id, "referrer_receipt", "sent")  # each message goes on its own wake-up

    def move(frm, to):
        service.publish(follow_up("case_status_changed", referral, "referrals", **{
            "from": frm, "to": to, "reason": "", "actor": "coordinator:k1", "reference": REFERENCE}))

    move("received", "accepted")
    move("accepted", "on_hold")
    move("on_hold", "accepted")
    wait_until(lambda: service.settled(case_id), message="all settled")
    assert [subject(m) for m in mailbox.to(REFERRER_EMAIL)] == [
        f"Thank you for your referral ({REFERENCE})", f"Referral {REFERENCE} accepted"]
    assert len(mailbox.to(PERSON_EMAIL)) == 2  # the welcome and one invitation
    assert service.db["notifications"].count_documents({"case_id": case_id,
                                                        "template": "person_invitation"}) == 1

    # a case closed while on hold is still news to the referrer
    move("accepted", "on_hold")
    move("on_hold", "cancelled")
    closed = wait_until(lambda: len(mailbox.to(REFERRER_EMAIL)) == 3 and mailbox.to(REFERRER_EMAIL)[2],
                        message="the closing update")
    assert subject(closed) == f"Referral {REFERENCE} closed"


def test_an_erased_case_still_tells_the_crew_not_to_call_and_nobody_else(start_notifications, mailbox):
    service, referral, requested = alerted_visit(start_notifications, mailbox)
    case_id = referral["case_id"]
    before = {who: len(mailbox.to(who)) for who in (REFERRER_EMAIL, PERSON_EMAIL, COORDINATOR)}

    service.publish(follow_up("case_erased", referral, "referrals", actor="coordinator:k1"))
    service.publish(visit_status(referral, requested["data"]["visit_id"], "cancelled", change="case_erased"))

    notice = service.wait_status(case_id, "fire_service_request_withdrawn", "sent", "suppressed")
    assert notice["status"] == "sent"
    withdrawn = wait_until(lambda: len(mailbox.to(FIRE_TEAM)) == 2 and mailbox.to(FIRE_TEAM)[1],
                           message="the withdrawal notice")
    for personal in PERSONAL:
        assert personal not in fire_text(withdrawn), personal
    assert {who: len(mailbox.to(who)) for who in before} == before  # nobody else hears anything
