"""What comes back from the person: their texts to our number, and mail that bounced. The rules, no nameko.

The SMS provider posts each text it receives to `POST /inbound/sms`, signed with the
shared secret SMS_INBOUND_SECRET: `X-Signature: sha256=<hex>`, the HMAC-SHA256 of the
raw body. A text is kept once per provider message id, and what it means is decided
then, in the same single-document write as the events it causes:

- from a number that is no case's mobile: recorded as unmatched (no number, no text), nothing else;
- "STOP" (STOPALL, UNSUBSCRIBE; any case, spaces trimmed): `sms_stop_received` for every case
  of that number. Referrals withdraws consent to contact, as a coordinator would; this service
  stops at once, and sends the one confirmation (to the newest case's number, unless all its
  cases had already withdrawn);
- anything else: `person_replied` on the newest case of that number, a task for the
  coordinator. The text is kept here only, on the inbound record of that case (owner-only
  storage, erased with the case), and read with the case's messages; never logged, never
  carried by an event.

The mail provider posts bounces to `POST /inbound/email-bounce`, signed the same way, naming
the message (our notification id) and the address. A hard bounce of a message we sent to that
address causes `email_bounced` (once per message): the address is marked failing for the
person, the message goes again once on another channel they gave (planning.py), and the
coordinator's timeline hears of it. A soft bounce is only recorded (the mail server may yet
take it); one that names a message we do not know, or another address, is recorded as
unmatched.
"""
from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Callable

from services.common.auth import Unauthenticated
from services.common.envelope import new_event, utcnow
from services.common.http import parse_json, read_json_bytes
from services.common.logs import get_logger
from services.common.vocabulary import CONTACT_SCOPES, EMAIL_BOUNCED, PERSON_REPLIED, SMS_STOP_RECEIVED, uk_mobile

from .messages import AUDIENCES
from .sending import PRODUCER

log = get_logger(__name__)

SIGNATURE_HEADER = "X-Signature"
_SCHEME = "sha256="
STOP_WORDS = frozenset({"STOP", "STOPALL", "STOP ALL", "UNSUBSCRIBE"})

# what an inbound text or bounce turned out to be
STOP, REPLY, UNMATCHED = "stop", "reply", "unmatched"
HARD_BOUNCE, SOFT_BOUNCE = "hard_bounce", "soft_bounce"


def signature_ok(secret: str | None, body: bytes, header: str | None) -> bool:
    """The body was signed with our secret; compared in constant time. No secret: nothing is."""
    if not secret or not header or not header.startswith(_SCHEME):
        return False
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header[len(_SCHEME):].strip().lower())


def signed_json(request, secret: str | None):
    """The body of a provider's webhook, once its signature is right (401 and nothing read if not)."""
    raw = read_json_bytes(request)
    if not signature_ok(secret, raw, request.headers.get(SIGNATURE_HEADER)):
        raise Unauthenticated(f"{SIGNATURE_HEADER} is missing or does not sign this body")
    return parse_json(raw)


def sign(secret: str, body: bytes) -> str:
    """The X-Signature value for a body (what the provider sends; tests and tools use it)."""
    return _SCHEME + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def is_stop(text: str) -> bool:
    return " ".join(text.split()).upper() in STOP_WORDS


def notification_id_of(reported: str) -> str:
    """Our notification id from what a bounce names: the id itself, or the Message-ID we sent
    (`<{id with ':' as '_'}@domain>`, sending.MessageSender._deliver)."""
    if ":" in reported:
        return reported
    local = reported.strip().strip("<>").split("@")[0]
    event_id, rest = local[:36], local[37:]  # event ids are uuid4s: 36 characters
    for audience in AUDIENCES:
        template, found, copy = rest.rpartition(f"_{audience}")
        if found and template and (copy == "" or (copy[:1] == "_" and copy[1:].isdigit())):
            return f"{event_id}:{template}:{audience}" + (f":{copy[1:]}" if copy else "")
    return reported


def newest_first(cases: list[dict]) -> list[dict]:
    return sorted(cases, key=lambda c: c.get("created_at") or datetime.min, reverse=True)


class InboundMessages:
    """Records what the person sent us and the events it causes.

    `store` is a NotificationRepository (or a fake with its verbs).
    """

    def __init__(self, store, clock: Callable[[], datetime] = utcnow):
        self.store = store
        self.clock = clock

    def receive_sms(self, sms: dict, correlation_id: str) -> str:
        """Take one text from the provider (InboundSmsSchema: sender, text, message_id); returns its outcome."""
        inbound_id = f"sms:{sms['message_id']}"
        known = self.store.inbound(inbound_id)
        if known is not None:  # the provider sent it again: it was decided the first time
            return known["outcome"]
        mobile = uk_mobile(sms["sender"])
        cases = newest_first(self.store.cases_for_mobile(mobile)) if mobile else []
        doc = {"_id": inbound_id, "channel": "sms", "received_at": self.clock(),
               "case_ids": [c["_id"] for c in cases], "case_id": None, "text": None}

        def event(event_type, case, **data):
            return new_event(event_type, case_id=case["_id"], correlation_id=correlation_id,
                             producer=PRODUCER, data={"inbound_id": inbound_id, **data})

        if not cases:
            doc["outcome"], events = UNMATCHED, []
        elif is_stop(sms["text"]):
            # one confirmation, and none for a number that had stopped already
            confirm = not all(CONTACT_SCOPES & set(c.get("withdrawn") or ()) for c in cases)
            doc["outcome"] = STOP
            events = [event(SMS_STOP_RECEIVED, case, confirm=confirm and i == 0)
                      for i, case in enumerate(cases)]
        else:
            newest = cases[0]
            doc.update(outcome=REPLY, case_id=newest["_id"], text=sms["text"])
            events = [event(PERSON_REPLIED, newest, channel="sms")]
        if not self.store.record_inbound(doc, events):
            return self.store.inbound(inbound_id)["outcome"]  # the same text, at the same moment
        log.info("inbound_sms_received", outcome=doc["outcome"], cases=len(cases),
                 case_id=doc["case_id"] or (cases[0]["_id"] if cases else None))
        return doc["outcome"]

    def receive_bounce(self, bounce: dict, correlation_id: str) -> str:
        """Take one bounce from the mail provider ({"email", "kind", "notification_id"}); returns its outcome."""
        kind = HARD_BOUNCE if bounce["kind"] == "hard" else SOFT_BOUNCE
        notification_id = notification_id_of(bounce["notification_id"])
        inbound_id = f"bounce:{notification_id}" + ("" if kind == HARD_BOUNCE else ":soft")
        known = self.store.inbound(inbound_id)
        if known is not None:
            return known["outcome"]
        message = self.store.get(notification_id)
        sent_to = ((message or {}).get("to") or {}).get("email") if (message or {}).get("channel") == "email" else None
        doc = {"_id": inbound_id, "channel": "email", "received_at": self.clock(), "case_ids": [],
               "case_id": None, "text": None, "notification_id": notification_id}
        events = []
        if not sent_to or sent_to.lower() != bounce["email"].lower():
            doc["outcome"] = UNMATCHED  # not ours, or an address we did not send it to: nothing to act on
        else:
            doc.update(outcome=kind, case_ids=[message["case_id"]])
            if kind == HARD_BOUNCE:
                events = [new_event(EMAIL_BOUNCED, case_id=message["case_id"], correlation_id=correlation_id,
                                    producer=PRODUCER,
                                    data={"inbound_id": inbound_id, "notification_id": message["_id"],
                                          "audience": message["audience"], "template": message["template"]})]
        if not self.store.record_inbound(doc, events):
            return self.store.inbound(inbound_id)["outcome"]
        log.info("email_bounce_received", outcome=doc["outcome"], notification_id=notification_id,
                 case_id=message["case_id"] if doc["case_ids"] else None)
        return doc["outcome"]
