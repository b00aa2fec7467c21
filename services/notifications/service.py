"""Notifications service: onboarding messages on each person's own channel, with a delivery log."""
from __future__ import annotations

from datetime import timedelta

from nameko.timer import timer
from nameko.web.handlers import http

from services.common.auth import ApiKeys
from services.common.consumer import DeliveryRetry, consumes
from services.common.envelope import new_event, utcnow
from services.common.health import health_response
from services.common.http import BadRequest, api
from services.common.logs import bind_context, configure_logging, get_logger
from services.common.mongo import MongoStore

from services.common.outbox import EventPublisher

from .channels import PermanentDeliveryError, TransientDeliveryError
from .delivery import Channels
from .messages import PlannedMessage, load_group, plan_messages, render
from .repository import NotificationRepository

configure_logging()
log = get_logger(__name__)

PRODUCER = "notifications"
SEND_LEASE = timedelta(minutes=2)
GROUP = load_group()

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


def contacts_from_referral(data: dict) -> dict:
    consent = data.get("consent") or {}
    return {"reference": data["reference"], "level": data.get("level"), "cir_max": data.get("cir_max"),
            "person": {**data["person"], "do_not_contact": not consent.get("contact", True)},
            "referrer": data["referrer"]}


class NotificationsService:
    name = "notifications"

    store = MongoStore(NotificationRepository)
    api_keys = ApiKeys()
    events = EventPublisher()
    delivery = DeliveryRetry()
    channels = Channels()

    @http("GET", "/health")
    def health(self, request):
        return health_response(self.events.amqp_uri, self.store)

    @http("GET", "/notifications")
    @api(roles=("coordinator",))
    def delivery_log(self, request, principal):
        case_id = request.args.get("case_id")
        if not case_id:
            raise BadRequest("give the case_id query parameter")
        return {"items": [_log_entry(d) for d in self.store.for_case(case_id)]}

    @consumes(*MESSAGE_SOURCES)
    def plan_for_event(self, envelope):
        case_id, data = envelope["case_id"], envelope["data"]
        if envelope["event_type"] == "referral_received":
            self.store.remember_contacts(case_id, contacts_from_referral(data), envelope["event_id"])
        contacts = self.store.contacts_for(case_id)
        if contacts is None:
            raise LookupError("no contact record for this case yet")  # retried with backoff
        contacts = {**contacts, "referrer": contacts["referrers"][-1]
                    if envelope["event_type"] == "referral_received" else contacts["referrers"][0]}
        for message in plan_messages(envelope["event_type"], data, contacts, GROUP):
            self._plan(envelope, message)

    def _plan(self, envelope, message: PlannedMessage):
        notification_id = f"{envelope['event_id']}:{message.template}:{message.audience}"
        doc = {"_id": notification_id, "case_id": envelope["case_id"], "event_id": envelope["event_id"],
               "correlation_id": envelope["correlation_id"], "audience": message.audience,
               "template": message.template, "channel": message.channel, "to": message.to,
               "context": message.context, "status": "pending"}
        events = []
        if message.suppressed:
            doc.update(status="suppressed", last_error=message.suppressed)
        stored = self.store.plan(doc, events)
        log.info("notification_planned" if stored else "notification_already_planned",
                 notification_id=notification_id, template=message.template, audience=message.audience)

    @timer(interval=0.5)
    def send_due(self):
        for _ in range(20):
            doc = self.store.claim_due(SEND_LEASE)
            if doc is None:
                return
            self._send(doc)

    def _send(self, doc):
        bind_context(case_id=doc["case_id"], correlation_id=doc["correlation_id"],
                     notification_id=doc["_id"])
        attempts = doc["attempts"] + 1
        message = PlannedMessage(audience=doc["audience"], template=doc["template"],
                                 channel=doc["channel"], to=doc["to"], context=doc["context"])
        try:
            rendered = render(message, GROUP)
            receipt = self._deliver(doc, message, rendered)
        except TransientDeliveryError as exc:
            if attempts < self.channels.max_attempts:
                at = utcnow() + self.channels.backoff_for(attempts)
                self.store.retry_later(doc["_id"], attempts, at, _reason(exc))
                log.warning("notification_retry_scheduled", attempts=attempts, next_attempt_at=at.isoformat())
                return
            self._fail(doc, attempts, exc)
            return
        except Exception as exc:  # permanent: a refused address, a template bug
            self._fail(doc, attempts, exc)
            return
        event = self._event(doc, "notification_sent", {})
        self.store.finish(doc["_id"], {"status": "sent", "attempts": attempts, "sent_at": utcnow(),
                                       "receipt": receipt, "last_error": None}, [event])
        log.info("notification_sent", template=doc["template"], channel=doc["channel"], attempts=attempts)

    def _deliver(self, doc, message, rendered):
        to = message.to
        if message.channel == "email":
            return self.channels.email.send(to["email"], rendered.subject, rendered.text, rendered.html,
                                            message_id=doc["_id"].replace(":", "_"))
        if message.channel == "sms":
            return self.channels.sms.send(to["phone"], rendered.text, message_id=doc["_id"].replace(":", "_"))
        if message.channel == "letter":
            return self.channels.letter.send(to.get("name"), to.get("address"), rendered.text,
                                             doc["_id"].replace(":", "_"))
        raise PermanentDeliveryError(f"unknown channel {message.channel}")

    def _fail(self, doc, attempts, exc):
        event = self._event(doc, "notification_failed", {"reason": _reason(exc), "attempts": attempts})
        self.store.finish(doc["_id"], {"status": "failed", "attempts": attempts, "last_error": _reason(exc),
                                       "failed_at": utcnow()}, [event])
        log.error("notification_failed", template=doc["template"], attempts=attempts,
                  error=type(exc).__name__)

    @staticmethod
    def _event(doc, event_type, extra):
        return new_event(event_type, case_id=doc["case_id"], correlation_id=doc["correlation_id"],
                         producer=PRODUCER,
                         data={"notification_id": doc["_id"], "audience": doc["audience"],
                               "template": doc["template"], "channel": doc["channel"], **extra})

    @timer(interval=0.25)
    def relay_outbox(self):
        self.events.relay(self.store)


def _reason(exc) -> str:
    """The error's kind and message, for the log and the timeline (ids only, scrubbed later)."""
    return f"{type(exc).__name__}: {exc}"[:300]


def _log_entry(doc):
    return {"notification_id": doc["_id"], "case_id": doc["case_id"], "audience": doc["audience"],
            "template": doc["template"], "channel": doc["channel"], "status": doc["status"],
            "attempts": doc["attempts"], "created_at": doc["created_at"], "sent_at": doc.get("sent_at"),
            "last_error": doc.get("last_error")}
