"""Notifications service: onboarding messages on each person's own channel, with a delivery log.

Events become planned messages (one per event, template and audience); a
timer sends what is due. What decides *when* a message goes:

- a person's message waits out quiet hours (letters excepted: writing a file
  at night disturbs nobody, and the coordinator posts it in office hours);
- the coordinator's new-referral alert waits for safety's triage of that
  referral (visit_requested / visit_not_requested), so it can say how urgent
  the home fire safety visit is; if triage has not arrived after
  NOTIFY_TRIAGE_WAIT_SECONDS the alert goes without it rather than not at all;
- a transient failure retries with exponential backoff.

Whether a message may still go is checked again just before sending
(consent withdrawn, case erased), since that can change while it waits.
"""
from __future__ import annotations

from datetime import datetime

from nameko.timer import timer
from services.common.web import http

from services.common import outbox
from services.common import http as common_http
from services.common.auth import ApiKeys
from services.common.consumer import DeliveryRetry, consumes
from services.common.envelope import new_event, utcnow
from services.common.http import api
from services.common.logs import bind_context, configure_logging, get_logger, scrub_text
from services.common.mongo import MongoStore
from services.common.openapi import HEALTH_ROUTE, OPENAPI_ROUTE, Route, build_spec
from services.common.outbox import EventPublisher
from services.common.vocabulary import CONSENT_SCOPES

from .channels import PermanentDeliveryError, TransientDeliveryError
from .delivery import Channels
from .group import GroupDetails
from .messages import (
    CASE_ERASED, CONSENT_WITHDRAWN, FIRE_SERVICE_WITHDRAWAL_NOTICE, UK, PlannedMessage, withdrawal_notice,
    fire_service_suppression, person_suppression, plan_messages, render, triage_context, triage_key,
    triage_of,
)
from .repository import PERSONAL_FIELDS, NotificationRepository
from .schemas import NotificationLogSchema, NotificationsQuerySchema

configure_logging()
log = get_logger(__name__)

PRODUCER = "notifications"

# Events that can cause messages (DOMAIN.md, onboarding sequence).
MESSAGE_SOURCES = (
    ("referrals", "referral_received"),
    ("referrals", "case_status_changed"),
    ("safety", "visit_requested"),
    ("safety", "visit_not_requested"),
    ("safety", "visit_status_changed"),
    ("safety", "visit_overdue"),
    ("safety", "fire_risk_without_consent"),
)

ROUTES = [
    HEALTH_ROUTE,
    OPENAPI_ROUTE,
    Route("GET", "/notifications", "The delivery log of one case: every message, its status and "
                                   "attempts", roles=("coordinator",),
          query=NotificationsQuerySchema, response=NotificationLogSchema),
]
OPENAPI = build_spec("referral-hub notifications",
                     "Onboarding messages to the person, the referrer, the coordinator and the "
                     "fire service team, and their delivery log.", ROUTES)


def contacts_from_referral(data: dict) -> dict:
    consent = data.get("consent") or {}
    return {"reference": data.get("case_reference") or data["reference"],
            "level": data.get("level"), "cir_max": data.get("cir_max"),
            "person": {**data["person"], "do_not_contact": not consent.get("contact", True)},
            # each referrer follows the reference of their own referral
            "referrer": {**data["referrer"], "reference": data["reference"]}}


class NotificationsService(common_http.ServiceHttp):
    name = "notifications"
    openapi_document = OPENAPI

    store = MongoStore(NotificationRepository)
    api_keys = ApiKeys()
    events = EventPublisher()
    delivery = DeliveryRetry()
    channels = Channels()
    group = GroupDetails()

    # -- HTTP ---------------------------------------------------------------


    @http("GET", "/notifications")
    @api(roles=("coordinator",))
    def delivery_log(self, request, principal):
        query = NotificationsQuerySchema().load(request.args.to_dict())
        bind_context(case_id=query["case_id"])
        return NotificationLogSchema().dump(
            {"items": [_log_entry(d) for d in self.store.for_case(query["case_id"])]})

    # -- events -------------------------------------------------------------
    @consumes(*MESSAGE_SOURCES)
    def plan_for_event(self, envelope):
        case_id, data, event_type = envelope["case_id"], envelope["data"], envelope["event_type"]
        known = self.store.contacts_for(case_id)
        if known is not None and known.get("erased_at"):
            notice = withdrawal_notice(data, self.group) if event_type == "visit_status_changed" else None
            if notice is not None:
                self._plan(envelope, notice)
            log.info("event_for_erased_case_ignored", withdrawal_notice=notice is not None)
            return
        if event_type == "referral_received":
            self.store.remember_contacts(case_id, contacts_from_referral(data), envelope["event_id"])
        triage = triage_of(event_type, data)
        if triage:  # raises while the contacts are not there yet: retried with backoff
            self.store.record_triage(case_id, *triage, envelope["event_id"])
        if event_type == "visit_status_changed":
            self._track_visit_booking(case_id, data, envelope["event_id"])
        contacts = self.store.contacts_for(case_id)
        if contacts is None:
            raise LookupError("no contact record for this case yet")  # retried with backoff
        today = envelope["occurred_at"].astimezone(UK).date()
        for message, copy in _plans_for_every_referrer(event_type, data, contacts, self.group, today,
                                                       envelope["event_id"]):
            self._plan(envelope, message, copy)
        self._settle_races(case_id, event_type, data, triage)

    def _track_visit_booking(self, case_id, data, event_id):
        """Which event tells the referrer a visit is booked: the first scheduling of the visit.

        Safety's visit_status_changed does not say the status it came from, so a rebooking
        (scheduled -> scheduled) looks like a booking. The first one records its event id per
        visit, and only that event (or its redelivery) plans "visit booked"; a no_access
        clears it, so a visit rebooked after the crew could not get in is news again.
        """
        visit_id = data.get("visit_id")
        if not visit_id or data.get("change") == "priority_raised":
            return
        if data.get("status") == "scheduled":
            self.store.record_visit_booked_told(case_id, visit_id, event_id)
        elif data.get("status") == "no_access":
            self.store.forget_visit_booked_told(case_id, visit_id)

    def _settle_races(self, case_id, event_type, data, triage):
        """Whichever of a referral and its triage is handled second releases the held alert;
        an erasure that landed while we planned still erases what we just stored."""
        latest = self.store.contacts_for(case_id) or {}
        if latest.get("erased_at"):
            self.store.erase_case(case_id)
            return
        reference = triage[0] if triage else (data.get("reference") if event_type == "referral_received"
                                              else None)
        if reference and triage_key(reference) in (latest.get("triage") or {}):
            if self.store.release_held_alerts(case_id, reference):
                log.info("coordinator_alert_released")

    def _plan(self, envelope, message: PlannedMessage, copy: int = 0):
        # at most once per (event, template, audience), and per referrer when a case has several
        notification_id = f"{envelope['event_id']}:{message.template}:{message.audience}" + \
            (f":{copy}" if copy else "")
        now = utcnow()
        doc = {"_id": notification_id, "case_id": envelope["case_id"], "event_id": envelope["event_id"],
               "correlation_id": envelope["correlation_id"], "audience": message.audience,
               "template": message.template, "channel": message.channel, "to": message.to,
               "context": message.context, "status": "pending", "next_attempt_at": now}
        if message.suppressed:
            doc.update(status="suppressed", suppressed_reason=message.suppressed, next_attempt_at=None)
        elif message.awaiting_triage:
            doc.update(awaiting_triage=message.awaiting_triage,
                       next_attempt_at=now + self.channels.triage_wait)
        else:
            doc["next_attempt_at"] = self._allowed_at(doc, now)
        stored = self.store.plan(doc)
        log.info("notification_planned" if stored else "notification_already_planned",
                 notification_id=notification_id, template=message.template, audience=message.audience,
                 status=doc["status"], suppressed_reason=message.suppressed,
                 next_attempt_at=doc["next_attempt_at"].isoformat() if doc["next_attempt_at"] else None)

    @consumes(("referrals", "consent_withdrawn"))
    def withdraw_consent(self, envelope):
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
        if scope in ("contact", "all"):
            suppressed += self.store.suppress_pending(case_id, CONSENT_WITHDRAWN, "person")
        if scope in ("fire_service", "all"):
            # "request withdrawn" names nobody and stops a crew calling: it still goes
            suppressed += self.store.suppress_pending(case_id, CONSENT_WITHDRAWN, "fire_service",
                                                      keep=(FIRE_SERVICE_WITHDRAWAL_NOTICE,))
        log.info("consent_withdrawal_applied", scope=scope, suppressed=suppressed)

    @consumes(("referrals", "case_erased"))
    def erase_case(self, envelope):
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

    # -- sending ------------------------------------------------------------
    @timer(interval=0.5)
    def send_due(self):
        for _ in range(20):
            doc = self.store.claim_due(self.channels.send_lease)
            if doc is None:
                return
            try:
                self._send(doc)
            except Exception:  # the lease runs out and another tick tries again
                log.exception("notification_send_crashed", notification_id=doc["_id"])

    def _send(self, doc):
        bind_context(case_id=doc["case_id"], correlation_id=doc["correlation_id"],
                     notification_id=doc["_id"])
        contacts = self.store.contacts_for(doc["case_id"]) or {}
        reason = _suppression(doc, contacts)
        if reason:
            changes = {"status": "suppressed", "suppressed_reason": reason, "next_attempt_at": None}
            if reason == CASE_ERASED:
                changes.update(PERSONAL_FIELDS)
            self.store.finish(doc, changes)
            log.info("notification_suppressed", suppressed_reason=reason)
            return
        now = utcnow()
        allowed = self._allowed_at(doc, now)
        if allowed > now:  # quiet hours began while it waited: not an attempt
            self.store.retry_later(doc, allowed, {})
            log.info("notification_deferred_quiet_hours", next_attempt_at=allowed.isoformat())
            return
        context = doc["context"]
        changes = {}
        if doc.get("awaiting_triage"):
            # sent after the wait, or released by triage: say what is known now
            triage = (contacts.get("triage") or {}).get(triage_key(doc["awaiting_triage"]))
            context = {**context, **triage_context(triage)}
            changes.update(context=context, awaiting_triage=None)
        attempts = doc["attempts"] + 1
        round_attempts = doc.get("round_attempts", doc["attempts"]) + 1
        changes.update(attempts=attempts, round_attempts=round_attempts)
        message = PlannedMessage(audience=doc["audience"], template=doc["template"],
                                 channel=doc["channel"], to=doc["to"], context=context)
        try:
            rendered = render(message, self.group)
            receipt = self._deliver(doc, message, rendered)
        except TransientDeliveryError as exc:
            if round_attempts < self.channels.max_attempts:
                at = self._allowed_at(doc, utcnow() + self.channels.backoff_for(round_attempts))
                self.store.retry_later(doc, at, {**changes, "last_error": _reason(exc)})
                log.warning("notification_retry_scheduled", attempts=attempts,
                            next_attempt_at=at.isoformat(), error=type(exc).__name__)
                return
            self._fail(doc, changes, exc)
            return
        except Exception as exc:  # permanent: a refused address, a template bug
            self._fail(doc, changes, exc)
            return
        event = self._event(doc, "notification_sent", {})
        self.store.finish(doc, {**changes, "status": "sent", "sent_at": utcnow(), "receipt": receipt,
                                "last_error": None, "next_attempt_at": None}, [event])
        log.info("notification_sent", template=doc["template"], channel=doc["channel"], attempts=attempts)

    def _allowed_at(self, doc, moment: datetime) -> datetime:
        """When a message planned for `moment` may go: quiet hours hold the person's."""
        quiet = self.channels.quiet_hours
        if quiet is None or doc["audience"] != "person" or doc["channel"] == "letter":
            return moment
        return quiet.next_allowed(moment)

    def _deliver(self, doc, message, rendered):
        to, message_id = message.to, doc["_id"].replace(":", "_")
        if message.channel == "email":
            return self.channels.email.send(to["email"], rendered.subject, rendered.text, rendered.html,
                                            message_id=message_id)
        if message.channel == "sms":
            return self.channels.sms.send(to["phone"], rendered.text, message_id=message_id)
        if message.channel == "letter":
            return self.channels.letter.send(to.get("name"), to.get("address"), rendered.text, message_id)
        raise PermanentDeliveryError(f"unknown channel {message.channel}")

    def _fail(self, doc, changes, exc):
        reason = _reason(exc)
        event = self._event(doc, "notification_failed", {"reason": reason, "attempts": changes["attempts"]})
        self.store.finish(doc, {**changes, "status": "failed", "last_error": reason,
                                "failed_at": utcnow(), "next_attempt_at": None}, [event])
        log.error("notification_failed", template=doc["template"], attempts=changes["attempts"],
                  error=type(exc).__name__)

    @staticmethod
    def _event(doc, event_type, extra):
        return new_event(event_type, case_id=doc["case_id"], correlation_id=doc["correlation_id"],
                         producer=PRODUCER,
                         data={"notification_id": doc["_id"], "audience": doc["audience"],
                               "template": doc["template"], "channel": doc["channel"], **extra})

    @timer(interval=outbox.SWEEP_SECONDS)
    def relay_outbox(self):
        self.events.relay(self.store)


def _plans_for_every_referrer(event_type, data, contacts, group, today, event_id=None):
    """The event's messages, with referrer updates repeated for each agency that referred the person.

    A referral's own receipt reads its referrer from the event, so referral_received plans once.
    """
    referrers = contacts.get("referrers") or [{}]
    if event_type == "referral_received":
        referrers = referrers[:1]
    seen = set()
    for copy, referrer in enumerate(referrers):
        if referrer.get("email") in seen:
            continue  # the same person referred twice: one update is enough
        seen.add(referrer.get("email"))
        view = {**contacts, "referrer": referrer,
                "reference": (referrer.get("reference") if copy else None) or contacts["reference"]}
        for message in plan_messages(event_type, data, view, group, today=today, event_id=event_id):
            if copy == 0 or message.audience == "referrer":
                yield message, copy


def _suppression(doc, contacts: dict) -> str | None:
    """Why a message that was allowed when planned may no longer go."""
    if contacts.get("erased_at"):
        # the withdrawal notice names nobody and keeps a crew from calling: it still goes
        return None if doc["template"] == FIRE_SERVICE_WITHDRAWAL_NOTICE else CASE_ERASED
    if doc["audience"] == "person":
        return person_suppression(contacts)
    if doc["audience"] == "fire_service":
        return fire_service_suppression(contacts, doc["template"])
    return None


def _reason(exc) -> str:
    """The error's kind and message for the log and the timeline, scrubbed of contact details."""
    return scrub_text(f"{type(exc).__name__}: {exc}")[:300]


def _log_entry(doc):
    return {"notification_id": doc["_id"], "case_id": doc["case_id"], "audience": doc["audience"],
            "template": doc["template"], "channel": doc["channel"],
            # "sending" is a lease, not a state a coordinator needs to tell apart
            "status": "pending" if doc["status"] == "sending" else doc["status"],
            "attempts": doc["attempts"], "created_at": doc["created_at"],
            "next_attempt_at": doc.get("next_attempt_at"), "sent_at": doc.get("sent_at"),
            "suppressed_reason": doc.get("suppressed_reason"), "last_error": doc.get("last_error")}
