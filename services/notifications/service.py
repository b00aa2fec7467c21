"""Notifications service: onboarding messages on each person's own channel, with a delivery log.

The entrypoints only translate: events go to planning.py (which messages, for
whom, when), wake-ups to sending.py (send the one message that is due). Time
rides on the broker: a message that must wait has its wake-up come back when
it is due (see sending.py); a slow sweep of unsent messages only restores lost
wake-ups.
"""
from __future__ import annotations

from datetime import datetime

from nameko.timer import timer
from services.common.web import http

from services.common import outbox
from services.common import http as common_http
from services.common.auth import ApiKeys
from services.common.consumer import DeliveryRetry, consumes
from services.common.http import api, register_error
from services.common.logs import bind_context, configure_logging, get_logger
from services.common.mongo import MongoStore
from services.common.openapi import HEALTH_ROUTE, OPENAPI_ROUTE, Route, build_spec
from services.common.outbox import EventPublisher
from services.common.vocabulary import CASE_ERASED, CONSENT_WITHDRAWN, EMAIL_BOUNCED, SMS_STOP_RECEIVED

from . import letters
from .delivery import Channels, InboundSecret, SettingTimer
from .group import GroupDetails
from .inbound import InboundMessages, signed_json
from .planning import MESSAGE_SOURCES, MessagePlanner
from .records import NotificationRecords, note_disclosure
from .repository import NotificationRepository
from .schemas import (BounceOutcomeSchema, EmailBounceSchema, InboundOutcomeSchema, InboundSmsSchema,
                      LetterListSchema, LetterSchema, LettersQuerySchema,
                      NotificationLogSchema, NotificationsQuerySchema)
from .sending import NOTIFICATION_DUE, PRODUCER, MessageSender
from .session_routes import SESSION_ROUTES, SessionEntrypoints

configure_logging()
log = get_logger(__name__)
register_error(letters.UnknownLetter, 404, "not_found")
register_error(letters.AlreadyPosted, 409, "already_posted")
register_error(letters.NotReadyToPrint, 409, "not_ready_to_print")
COORDINATOR = ("coordinator",)

WEBHOOK_ERRORS = {400: "Invalid body (field errors under `fields`)",
                  401: "Signature missing or wrong: nothing was recorded",
                  413: "Body larger than 64 KiB", 415: "Body is not application/json"}
ROUTES = [
    HEALTH_ROUTE,
    OPENAPI_ROUTE,
    Route("GET", "/notifications", "The delivery log of one case: every message, its status and "
                                   "attempts", roles=("coordinator",),
          query=NotificationsQuerySchema, response=NotificationLogSchema),
    Route("GET", "/letters", "Letters to print (a letter is ready_to_print until a coordinator marks it "
                             "posted, then sent), oldest first, each with its full printable text",
          roles=COORDINATOR, query=LettersQuerySchema, response=LetterListSchema),
    Route("POST", "/letters/{notification_id}/posted", "Mark a printed letter posted (who, when): it is sent "
                                                       "now. No body. 409 already_posted; 409 not_ready_to_print "
                                                       "for a letter not written yet, failed or suppressed",
          roles=COORDINATOR, response=LetterSchema, errors=(401, 403, 404, 409)),
    Route("POST", "/inbound/sms", "The SMS provider's webhook: a text to our number. Signed: `X-Signature: "
                                  "sha256=<hex HMAC-SHA256 of the raw body with SMS_INBOUND_SECRET>`. STOP "
                                  "(STOPALL, UNSUBSCRIBE) withdraws consent to contact and is confirmed once; "
                                  "anything else becomes a task for the coordinator; an unknown number is "
                                  "recorded as unmatched. The same message_id again changes nothing.",
          request=InboundSmsSchema, response=InboundOutcomeSchema,
          extra_responses=WEBHOOK_ERRORS),
    Route("POST", "/inbound/email-bounce", "The mail provider's bounce webhook, signed as /inbound/sms. A hard "
                                           "bounce of one of our emails marks the address failing for the "
                                           "person and sends that message again, once, by text (else letter); "
                                           "later messages skip the address. A soft bounce is only recorded.",
          request=EmailBounceSchema, response=BounceOutcomeSchema, extra_responses=WEBHOOK_ERRORS),
    *SESSION_ROUTES,
]
OPENAPI = build_spec("referral-hub notifications",
                     "Onboarding messages to the person, the referrer, the coordinator and the "
                     "fire service team, and their delivery log.", ROUTES)


# NotificationRecords: audit, subject access; SessionEntrypoints: group sessions (session_routes.py)
class NotificationsService(SessionEntrypoints, NotificationRecords, common_http.ServiceHttp):
    name = "notifications"
    openapi_document = OPENAPI

    store = MongoStore(NotificationRepository)
    api_keys = ApiKeys()
    events = EventPublisher()
    delivery = DeliveryRetry()
    channels = Channels()
    group = GroupDetails()
    inbound_secret = InboundSecret()

    # -- HTTP ---------------------------------------------------------------
    @http("GET", "/notifications")
    @api(roles=("coordinator",))
    def delivery_log(self, request, principal):
        query = NotificationsQuerySchema().load(request.args.to_dict())
        bind_context(case_id=query["case_id"])
        docs = self.store.for_case(query["case_id"])
        self.audit.read(principal, request, "notification_log_read", query["case_id"])
        return NotificationLogSchema().dump({"items": [_log_entry(d) for d in docs],
                                             "replies": [_reply(d) for d in self.store.replies_for(query["case_id"])]})

    @http("GET", "/letters")
    @api(roles=COORDINATOR)
    def letters_to_print(self, request, principal):
        query = LettersQuerySchema().load(request.args.to_dict())
        docs = self.store.letters(query["status"])
        # the letters are the person's name, address and message: each case shown is a read
        self.audit.read(principal, request, "letter_read", *(d["case_id"] for d in docs))
        items = [self._letter(d) for d in docs]
        return LetterListSchema().dump({"items": items, "total": len(items)})

    @http("POST", "/letters/<string:notification_id>/posted")
    @api(roles=COORDINATOR)
    def letter_posted(self, request, principal, notification_id):
        doc = self._sender().mark_posted(notification_id, principal.actor)
        self.audit.changed(principal, request, "letter_posted", doc["case_id"])
        note_disclosure(self.audit, doc, "sent")
        return LetterSchema().dump(self._letter(doc))

    def _letter(self, doc):
        return letters.item(doc, letters.text_of(self.channels.holds_file(doc.get("receipt"))))

    # -- events -------------------------------------------------------------
    def _planner(self) -> MessagePlanner:
        return MessagePlanner(self.store, self.channels, self.group, next_sessions=self.next_sessions)

    def _sender(self) -> MessageSender:
        return MessageSender(self.store, self.channels, self.group,
                             body_months=self.retention_schedule.delivery_body_months)

    @consumes(*MESSAGE_SOURCES)
    def plan_for_event(self, envelope):
        planner = self._planner()
        self._send_now(planner, planner.plan_for_event(envelope))

    def _send_now(self, planner, claimed):
        sender = self._sender()
        for doc in claimed:
            note_disclosure(self.audit, doc, sender.send_claimed(doc, planner.latest_contacts))

    @consumes(("referrals", CONSENT_WITHDRAWN))
    def withdraw_consent(self, envelope):
        self._planner().withdraw_consent(envelope)

    @consumes(("referrals", CASE_ERASED))
    def erase_case(self, envelope):
        self._planner().erase_case(envelope)

    # -- sending ------------------------------------------------------------
    @consumes((PRODUCER, NOTIFICATION_DUE))
    def send_notification(self, envelope):
        data = envelope["data"]
        outcome = self._sender().wake_up(data["notification_id"], datetime.fromisoformat(data["due_at"]))
        if outcome == "sent":
            note_disclosure(self.audit, self.store.get(data["notification_id"]), outcome)

    @SettingTimer.decorator("NOTIFY_SWEEP_SECONDS", 60.0)
    def sweep_unsent(self):
        self._sender().sweep()

    @timer(interval=outbox.SWEEP_SECONDS)
    def relay_outbox(self):
        self.events.relay(self.store)

    # -- what the person sends back -------------------------------------------------
    @http("POST", "/inbound/sms")
    @api(auth=False)  # the provider signs the body instead (inbound.signed_json)
    def inbound_sms(self, request, principal):
        sms = InboundSmsSchema().load(signed_json(request, self.inbound_secret))
        outcome = InboundMessages(self.store).receive_sms(sms, request.correlation_id)
        return InboundOutcomeSchema().dump({"message_id": sms["message_id"], "outcome": outcome})

    @consumes((PRODUCER, SMS_STOP_RECEIVED))
    def stop_by_sms(self, envelope):
        planner = self._planner()
        self._send_now(planner, planner.stop_by_sms(envelope))

    @http("POST", "/inbound/email-bounce")
    @api(auth=False)  # signed like /inbound/sms
    def inbound_email_bounce(self, request, principal):
        bounce = EmailBounceSchema().load(signed_json(request, self.inbound_secret))
        outcome = InboundMessages(self.store).receive_bounce(bounce, request.correlation_id)
        return BounceOutcomeSchema().dump({"notification_id": bounce["notification_id"], "outcome": outcome})

    @consumes((PRODUCER, EMAIL_BOUNCED))
    def fall_back_after_bounce(self, envelope):
        planner = self._planner()
        self._send_now(planner, planner.after_bounce(envelope))


def _reply(doc):
    return {"reply_id": doc["_id"], "channel": doc["channel"], "received_at": doc["received_at"],
            "text": doc.get("text")}


def _log_entry(doc):
    return {"notification_id": doc["_id"], "case_id": doc["case_id"], "audience": doc["audience"],
            "template": doc["template"], "channel": doc["channel"],
            # "sending" is a lease, not a state a coordinator needs to tell apart
            "status": "pending" if doc["status"] == "sending" else doc["status"],
            "attempts": doc["attempts"], "created_at": doc["created_at"],
            "next_attempt_at": doc.get("next_attempt_at"), "sent_at": doc.get("sent_at"),
            "suppressed_reason": doc.get("suppressed_reason"), "last_error": doc.get("last_error")}
