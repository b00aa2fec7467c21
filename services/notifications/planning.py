"""Planning messages from events, and what a person's wishes do to them: the rules, no nameko.

Events become planned messages (one per event, template and audience). What
decides *when* a planned message goes:

- a person's message waits out quiet hours (letters excepted);
- the coordinator's new-referral alert waits for safety's triage of that
  referral (visit_requested / visit_not_requested), so it can say how urgent
  the home fire safety visit is; if triage has not arrived after the triage
  wait the alert goes without it rather than not at all.

A message that may go now is stored already claimed by the worker that
planned it (status "sending" with a lease), and that worker sends it at once:
no wake-up round trip on the hot path; if the worker dies, the lease runs out
and the sweep wakes it. A message that must wait is stored with its
`notification_due` wake-up in the same write (sending.py takes it from
there); triage arriving releases a held alert, claimed for the worker that saw the triage
to send at once. Consent withdrawn and erasure suppress what has not gone; sending checks
again just before it sends.
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Callable

from services.common.envelope import utcnow
from services.common.logs import get_logger
from services.common.vocabulary import (
    CASE_STATUS_CHANGED, CIR_RATING_RECORDED, CONSENT_CONTACT, CONSENT_SCOPES, CONTACT_SCOPES,
    FIRE_RISK_WITHOUT_CONSENT, FIRE_SERVICE_SCOPES, PERSON_REPLIED, REFERRAL_RECEIVED, VISIT_NOT_REQUESTED,
    VISIT_OVERDUE, VISIT_REQUESTED, VISIT_STATUS_CHANGED,
)

from .messages import (
    CONSENT_WITHDRAWN, FIRE_SERVICE_WITHDRAWAL_NOTICE, NO_CONTACT_DETAIL, REPLIES, UK, PlannedMessage,
    person_route, person_suppression, plan_messages, triage_key, triage_of, withdrawal_notice,
)
from .sending import PRODUCER, allowed_at, wake_up_event

log = get_logger(__name__)

# Events that can cause messages (DOMAIN.md, onboarding sequence).
MESSAGE_SOURCES = (
    ("referrals", REFERRAL_RECEIVED),
    ("referrals", CASE_STATUS_CHANGED),
    ("referrals", CIR_RATING_RECORDED),  # the person's progress, if they opted in
    ("safety", VISIT_REQUESTED),
    ("safety", VISIT_NOT_REQUESTED),
    ("safety", VISIT_STATUS_CHANGED),
    ("safety", VISIT_OVERDUE),
    ("safety", FIRE_RISK_WITHOUT_CONSENT),
    (PRODUCER, PERSON_REPLIED),  # inbound.py; a STOP is planned by the handler that applies it
)


def contacts_from_referral(data: dict) -> dict:
    consent = data.get("consent") or {}
    asked = bool((data.get("requested") or {}).get("home_fire_safety_visit"))
    return {"reference": data.get("case_reference") or data["reference"],
            "level": data.get("level"), "cir_max": data.get("cir_max"),
            "person": {**data["person"], "do_not_contact": not consent.get("contact", True)},
            # each referrer follows the reference of their own referral
            "referrer": {**data["referrer"], "reference": data["reference"]},
            # per referral: did it ask for a fire safety visit (what "no visit needed" answers)
            "visit_asked": {triage_key(data["reference"]): asked}}


def notification_id(event_id: str, message: PlannedMessage, copy: int = 0) -> str:
    """At most once per (event, template, audience), and per referrer when a case has several."""
    return f"{event_id}:{message.template}:{message.audience}" + (f":{copy}" if copy else "")


def plans_for_every_referrer(event_type, data, contacts, group, today, event_id=None, next_sessions=None):
    """The event's messages, with referrer updates repeated for each agency that referred the person.

    A referral's own receipt reads its referrer from the event, so referral_received plans once.
    """
    referrers = contacts.get("referrers") or [{}]
    if event_type == REFERRAL_RECEIVED:
        referrers = referrers[:1]
    seen = set()
    for copy, referrer in enumerate(referrers):
        if referrer.get("email") in seen:
            continue  # the same person referred twice: one update is enough
        seen.add(referrer.get("email"))
        view = {**contacts, "referrer": referrer,
                "reference": (referrer.get("reference") if copy else None) or contacts["reference"]}
        for message in plan_messages(event_type, data, view, group, today=today, event_id=event_id,
                                     next_sessions=next_sessions):
            if copy == 0 or message.audience == "referrer":
                yield message, copy


class MessagePlanner:
    """Turns events into stored, scheduled messages.

    `store` is a NotificationRepository (or a fake with its verbs); `channels`
    gives `quiet_hours`, `triage_wait` and, for erasure, `holds_file`;
    `next_sessions` the group's next sessions, for the invitation on acceptance.
    """

    def __init__(self, store, channels, group: dict, clock: Callable[[], datetime] = utcnow,
                 next_sessions: Callable[[], list[dict]] | None = None):
        self.store = store
        self.channels = channels
        self.group = group
        self.clock = clock
        self.next_sessions = next_sessions

    def plan_for_event(self, envelope: dict) -> list[dict]:
        """Plan the event's messages; returns those claimed for this worker to send at once."""
        self.claimed: list[dict] = []
        self.latest_contacts: dict | None = None  # read after planning: what the claimed sends check
        case_id, data, event_type = envelope["case_id"], envelope["data"], envelope["event_type"]
        known = self.store.contacts_for(case_id)
        if known is not None and known.get("erased_at"):
            notice = withdrawal_notice(data, self.group) if event_type == VISIT_STATUS_CHANGED else None
            if notice is not None:
                self._plan(envelope, notice)
            log.info("event_for_erased_case_ignored", withdrawal_notice=notice is not None)
            return self.claimed
        # the record as this event's own writes left it: read again only when a write did not return it
        contacts, stale = known, False
        if event_type == REFERRAL_RECEIVED:
            created = self.store.remember_contacts(case_id, contacts_from_referral(data), envelope["event_id"])
            contacts, stale = (created, False) if created is not None else (contacts, True)
        triage = triage_of(event_type, data)
        if triage:  # raises while the contacts are not there yet: retried with backoff
            recorded = self.store.record_triage(case_id, *triage, envelope["event_id"])
            contacts, stale = (recorded, stale) if recorded is not None else (contacts, True)
        if event_type == VISIT_STATUS_CHANGED:
            stale = self._track_visit_booking(case_id, data, envelope["event_id"]) or stale
        if stale or contacts is None:
            contacts = self.store.contacts_for(case_id)
        if contacts is None:
            raise LookupError("no contact record for this case yet")  # retried with backoff
        today = envelope["occurred_at"].astimezone(UK).date()
        for message, copy in plans_for_every_referrer(event_type, data, contacts, self.group, today,
                                                      envelope["event_id"], self.next_sessions):
            self._plan(envelope, message, copy)
        self._settle_races(case_id, event_type, data, triage)
        return self.claimed

    def _track_visit_booking(self, case_id, data, event_id):
        """Which event tells the referrer a visit is booked: the first scheduling of the visit.

        Safety's visit_status_changed does not say the status it came from, so a rebooking
        (scheduled -> scheduled) looks like a booking. The first one records its event id per
        visit, and only that event (or its redelivery) plans "visit booked"; a no_access
        clears it, so a visit rebooked after the crew could not get in is news again.
        Returns whether it wrote the contact record.
        """
        visit_id = data.get("visit_id")
        if not visit_id or data.get("change") == "priority_raised":
            return False
        if data.get("status") == "scheduled":
            self.store.record_visit_booked_told(case_id, visit_id, event_id)
            return True
        if data.get("status") == "no_access":
            self.store.forget_visit_booked_told(case_id, visit_id)
            return True
        return False

    def _settle_races(self, case_id, event_type, data, triage):
        """Whichever of a referral and its triage is handled second releases the held alert;
        an erasure that landed while we planned still erases what we just stored."""
        latest = self.latest_contacts = self.store.contacts_for(case_id) or {}
        if latest.get("erased_at"):
            self.store.erase_case(case_id)
            return
        reference = triage[0] if triage else (data.get("reference") if event_type == REFERRAL_RECEIVED
                                              else None)
        if reference and triage_key(reference) in (latest.get("triage") or {}):
            released = self.release_held_alerts(case_id, reference)
            if released:
                log.info("coordinator_alert_released", released=released)

    def release_held_alerts(self, case_id: str, reference: str) -> int:
        """Triage is in: alerts held for it go now, claimed for this worker to send (no wake-up round
        trip; if the worker dies, the lease runs out and the sweep wakes them)."""
        now, released = self.clock(), 0
        for doc in self.store.held_alerts(case_id, reference):
            claimed = self.store.release(doc, now, self.channels.send_lease)
            if claimed is not None:
                self.claimed.append(claimed)
                released += 1
        return released

    def plan_message(self, envelope: dict, message: PlannedMessage) -> list[dict]:
        """One message outside an event's plan (a group session's invitation, reminder or news),
        stored and timed like every other; returns it when claimed for this worker to send now.

        `envelope` needs `event_id` (what makes the message once), `case_id` and `correlation_id`.
        """
        self.claimed = []
        self._plan(envelope, message)
        return self.claimed

    def _plan(self, envelope, message: PlannedMessage, copy: int = 0) -> None:
        now = self.clock()
        doc = {"_id": notification_id(envelope["event_id"], message, copy), "case_id": envelope["case_id"],
               "event_id": envelope["event_id"], "correlation_id": envelope["correlation_id"],
               "audience": message.audience, "template": message.template, "channel": message.channel,
               "to": message.to, "context": message.context, "status": "pending"}
        if message.suppressed:
            doc.update(status="suppressed", suppressed_reason=message.suppressed, next_attempt_at=None)
        elif message.awaiting_triage:
            doc.update(awaiting_triage=message.awaiting_triage, next_attempt_at=now + self.channels.triage_wait)
        else:
            doc["next_attempt_at"] = allowed_at(self.channels.quiet_hours, message.audience, message.channel,
                                                now, message.template)
        due_now = doc["status"] == "pending" and doc["next_attempt_at"] <= now
        if due_now:  # claimed at birth: this worker sends it (sending.MessageSender.send)
            doc.update(status="sending", lease_token=uuid.uuid4().hex, lease_until=now + self.channels.send_lease,
                       attempts=0, round_attempts=0, awaiting_triage=None)
        events = [wake_up_event(doc, doc["next_attempt_at"])] if doc["status"] == "pending" else []
        stored = self.store.plan(doc, events)
        if stored and due_now:
            self.claimed.append(doc)
        log.info("notification_planned" if stored else "notification_already_planned",
                 notification_id=doc["_id"], template=message.template, audience=message.audience,
                 status=doc["status"], suppressed_reason=message.suppressed,
                 next_attempt_at=doc["next_attempt_at"].isoformat() if doc["next_attempt_at"] else None)

    # -- the person's wishes ----------------------------------------------------------
    def withdraw_consent(self, envelope: dict) -> None:
        case_id, scope = envelope["case_id"], envelope["data"].get("scope")
        if scope not in CONSENT_SCOPES:  # parked for a person to look at, never guessed
            raise ValueError(f"unknown consent scope {scope!r}")
        contacts = self.store.contacts_for(case_id)
        if contacts is None:
            raise LookupError("no contact record for this case yet")  # retried with backoff
        if contacts.get("erased_at"):
            return
        self.store.record_withdrawal(case_id, scope, envelope["event_id"])
        # run again on a redelivery too: it is idempotent, and a crash may have come between
        suppressed = 0
        if scope in CONTACT_SCOPES:  # the answer to a STOP still goes
            suppressed += self.store.suppress_pending(case_id, CONSENT_WITHDRAWN, "person", keep=tuple(REPLIES))
        if scope in FIRE_SERVICE_SCOPES:
            # "request withdrawn" names nobody and stops a crew calling: it still goes
            suppressed += self.store.suppress_pending(case_id, CONSENT_WITHDRAWN, "fire_service",
                                                      keep=(FIRE_SERVICE_WITHDRAWAL_NOTICE,))
        log.info("consent_withdrawal_applied", scope=scope, suppressed=suppressed)

    def stop_by_sms(self, envelope: dict) -> list[dict]:
        """The person texted STOP: no more messages from now on (referrals records the withdrawal
        and announces it, which changes nothing more here), and the one confirmation.
        Returns the messages claimed for this worker to send at once."""
        self.withdraw_consent({**envelope, "data": {"scope": CONSENT_CONTACT}})
        return self.plan_for_event(envelope)

    def after_bounce(self, envelope: dict) -> list[dict]:
        """An email to the person bounced for good (inbound.py's email_bounced): the address is
        marked failing, what still waits for it goes another way, and the bounced message goes
        again, once, on another channel the person gave (a text, else a letter). A bounce of a
        professional's email only reaches the timeline. Returns the messages claimed to send now."""
        self.claimed, self.latest_contacts = [], None
        case_id, data = envelope["case_id"], envelope["data"]
        bounced = self.store.get(data["notification_id"])
        contacts = self.store.contacts_for(case_id)
        email = ((bounced or {}).get("to") or {}).get("email")
        if data.get("audience") != "person" or not email or not contacts or contacts.get("erased_at"):
            return self.claimed
        self.store.record_failing_email(case_id, email, envelope["event_id"])
        contacts = self.latest_contacts = self.store.contacts_for(case_id)
        route = person_route(contacts["person"], contacts.get("failing_emails") or ())
        if route is not None:
            self.store.reroute_pending(case_id, email.lower(), *route)
        channel, to = route or ("letter", {})
        self._plan(envelope, PlannedMessage("person", bounced["template"], channel, to, bounced["context"],
                                            person_suppression(contacts) or (None if route else NO_CONTACT_DETAIL)))
        log.info("email_bounce_applied", fallback=channel if route else None)
        return self.claimed

    def erase_case(self, envelope: dict) -> int:
        """Personal data goes from every message and file; returns the files removed."""
        case_id = envelope["case_id"]
        # the tombstone first: from now on nothing new is planned for this case
        self.store.erase_contacts(case_id, envelope["event_id"])
        removed = 0
        for receipt in self.store.erase_case(case_id):
            path = self.channels.holds_file(receipt)
            if path is not None and path.exists():
                path.unlink()
                removed += 1
        log.info("case_erased", files_removed=removed)
        return removed
