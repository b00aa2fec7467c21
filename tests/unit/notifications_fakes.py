"""In-memory stand-ins for the notifications service's storage, channels and clock.

`InMemoryNotifications` subclasses the real repository and implements the
verbs planning.py and sending.py use over plain dicts, with the same
compare-and-set rules, and keeps every outbox event it was given per message.
"""
from __future__ import annotations

import copy
import uuid
from datetime import datetime, timedelta, timezone

from services.common.idempotency import DocumentMissing
from services.notifications.channels import TransientDeliveryError
from services.notifications.delivery import Channels
from services.common.vocabulary import uk_mobile
from services.notifications.messages import load_group, triage_key
from services.notifications.repository import NOT_GONE, PERSONAL_FIELDS, NotificationRepository

START = datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)
GROUP = load_group()


class Clock:
    def __init__(self, now: datetime = START):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now


class InMemoryNotifications(NotificationRepository):
    def __init__(self):
        super().__init__(db=None)
        self.messages: dict[str, dict] = {}
        self.cases: dict[str, dict] = {}
        self.outbox: list[tuple[str, dict]] = []   # (notification or inbound id, event), in write order
        self.reads = 0                              # messages read one by one (get)
        self.inbound_docs: dict[str, dict] = {}

    # -- what tests look at ----------------------------------------------------------
    def events_of(self, event_type: str, notification_id: str | None = None) -> list[dict]:
        return [e for doc_id, e in self.outbox if e["event_type"] == event_type
                and notification_id in (None, doc_id)]

    def by_template(self, template: str) -> dict:
        (doc,) = [d for d in self.messages.values() if d["template"] == template]
        return doc

    def by_template_of(self, case_id: str, template: str) -> dict:
        (doc,) = [d for d in self.messages.values() if d["case_id"] == case_id and d["template"] == template]
        return doc

    def _write_events(self, doc_id, events):
        self.outbox.extend((doc_id, e) for e in events)

    # -- contacts --------------------------------------------------------------------
    def remember_contacts(self, case_id, contacts, event_id):
        known = self.cases.get(case_id)
        mobile = uk_mobile(contacts["person"].get("phone"))
        if known is None:
            self.cases[case_id] = {"_id": case_id, **copy.deepcopy(contacts),
                                   "referrers": [contacts["referrer"]], "withdrawn": [], "triage": {},
                                   "mobiles": [mobile] if mobile else [], "created_at": START + timedelta(
                                       microseconds=len(self.cases)),
                                   "erased_at": None, "applied_events": [event_id]}
            return copy.deepcopy(self.cases[case_id])
        if event_id not in known["applied_events"]:
            known["applied_events"].append(event_id)
            known["referrers"].append(contacts["referrer"])
            known.setdefault("visit_asked", {}).update(contacts["visit_asked"])
            if mobile and mobile not in known["mobiles"]:
                known["mobiles"].append(mobile)
            if contacts["person"].get("do_not_contact"):
                known["person"]["do_not_contact"] = True

    def contacts_for(self, case_id):
        return copy.deepcopy(self.cases.get(case_id))

    def _apply_once(self, case_id, event_id, change) -> bool:
        known = self.cases.get(case_id)
        if known is None:
            raise DocumentMissing(case_id)
        if event_id in known["applied_events"]:
            return False
        known["applied_events"].append(event_id)
        change(known)
        return True

    def cases_for_mobile(self, mobile):
        return [copy.deepcopy(c) for c in self.cases.values() if mobile in c.get("mobiles", ())]

    def record_triage(self, case_id, reference, triage, event_id):
        applied = self._apply_once(case_id, event_id,
                                   lambda c: c["triage"].__setitem__(triage_key(reference), triage))
        return copy.deepcopy(self.cases[case_id]) if applied else None

    def record_failing_email(self, case_id, email, event_id):
        return self._apply_once(case_id, event_id, lambda c: email.lower() in c.setdefault("failing_emails", [])
                                or c["failing_emails"].append(email.lower()))

    def reroute_pending(self, case_id, email, channel, to):
        rerouted = 0
        for doc in self.messages.values():
            if (doc["case_id"], doc["status"], doc["audience"], doc["channel"]) == (case_id, "pending", "person", "email") \
                    and doc["to"].get("email", "").lower() == email:
                doc.update(channel=channel, to=copy.deepcopy(to))
                rerouted += 1
        return rerouted

    def record_withdrawal(self, case_id, scope, event_id):
        return self._apply_once(case_id, event_id,
                                lambda c: scope in c["withdrawn"] or c["withdrawn"].append(scope))

    def record_visit_booked_told(self, case_id, visit_id, event_id):
        self.cases[case_id].setdefault("visit_booked_told", {}).setdefault(triage_key(visit_id), event_id)

    def forget_visit_booked_told(self, case_id, visit_id):
        self.cases[case_id].get("visit_booked_told", {}).pop(triage_key(visit_id), None)

    def erase_contacts(self, case_id, event_id):
        applied = (self.cases.get(case_id) or {}).get("applied_events", [])
        self.cases[case_id] = {"_id": case_id, "erased_at": START,
                               "applied_events": [e for e in applied if e != event_id] + [event_id]}

    # -- messages --------------------------------------------------------------------
    def plan(self, notification, events=()):
        if notification["_id"] in self.messages:
            return False
        self.messages[notification["_id"]] = {
            "attempts": 0, "round_attempts": 0, "last_error": None, "sent_at": None, "lease_until": None,
            "lease_token": None, "suppressed_reason": None, "awaiting_triage": None, "created_at": START,
            **copy.deepcopy(notification)}
        self._write_events(notification["_id"], events)
        return True

    def get(self, notification_id):
        self.reads += 1
        return copy.deepcopy(self.messages.get(notification_id))

    def claim(self, doc, lease, now):
        stored = self.messages.get(doc["_id"])
        if stored is None:
            return None
        if doc["status"] == "pending":
            matches = stored["status"] == "pending" and stored["next_attempt_at"] <= now
        else:
            matches = (stored["status"] == "sending" and stored["lease_token"] == doc["lease_token"]
                       and stored["lease_until"] < now)
        if not matches:
            return None
        stored.update(status="sending", lease_until=now + lease, lease_token=uuid.uuid4().hex)
        return copy.deepcopy(stored)

    def finish(self, doc, changes, events=()):
        stored = self.messages[doc["_id"]]
        if stored["status"] != "sending" or stored["lease_token"] != doc["lease_token"]:
            return False
        stored.update({**copy.deepcopy(changes), "lease_until": None, "lease_token": None})
        self._write_events(doc["_id"], events)
        return True

    def unsent(self):
        return [copy.deepcopy(d) for d in self.messages.values() if d["status"] in ("pending", "sending")]

    def rewake(self, doc, now, events):
        stored = self.messages[doc["_id"]]
        if stored["status"] != doc["status"]:
            return False
        stored["woken_at"] = now
        self._write_events(doc["_id"], events)
        return True

    def held_alerts(self, case_id, reference):
        return [copy.deepcopy(d) for d in self.messages.values() if d["case_id"] == case_id
                and d["status"] == "pending" and d.get("awaiting_triage") == reference]

    def release(self, doc, now, lease):
        stored = self.messages[doc["_id"]]
        if stored["status"] != "pending" or stored.get("awaiting_triage") != doc["awaiting_triage"]:
            return None
        stored.update(status="sending", lease_until=now + lease, lease_token=uuid.uuid4().hex, next_attempt_at=now)
        return copy.deepcopy(stored)

    def suppress_pending(self, case_id, reason, audience=None, keep=()):
        suppressed = 0
        for doc in self.messages.values():
            if (doc["case_id"] == case_id and doc["status"] in NOT_GONE
                    and audience in (None, doc["audience"]) and doc["template"] not in keep):
                doc.update(status="suppressed", suppressed_reason=reason, next_attempt_at=None)
                suppressed += 1
        return suppressed

    def erase_case(self, case_id):
        self.suppress_pending(case_id, "case_erased", keep=("fire_service_request_withdrawn",))
        receipts = []
        for doc in self.messages.values():
            if doc["case_id"] != case_id:
                continue
            if isinstance(doc.get("receipt"), str):
                receipts.append(doc["receipt"])
            if doc["template"] != "fire_service_request_withdrawn":
                doc.update(copy.deepcopy(PERSONAL_FIELDS), erased_at=START)
        for doc in self.inbound_docs.values():
            if doc["case_id"] == case_id:
                doc.update(text=None, erased_at=START)
        return receipts

    # -- what the person sent us ------------------------------------------------------
    def inbound(self, inbound_id):
        return copy.deepcopy(self.inbound_docs.get(inbound_id))

    def record_inbound(self, doc, events):
        if doc["_id"] in self.inbound_docs:
            return False
        self.inbound_docs[doc["_id"]] = copy.deepcopy(doc)
        self._write_events(doc["_id"], events)
        return True

    def replies_for(self, case_id):
        return [copy.deepcopy(d) for d in self.inbound_docs.values() if d["case_id"] == case_id]


class Outbox:
    """A delivery adapter that keeps what it was given; `fail` transient failures come first."""

    def __init__(self, fail: int = 0):
        self.sent = []
        self.fail = fail

    def send(self, *args, **kwargs):
        if self.fail:
            self.fail -= 1
            raise TransientDeliveryError("421 try later")
        self.sent.append((args, kwargs))
        return f"<receipt-{len(self.sent)}>"


class FakeChannels:
    """The settings and adapters of delivery.Channels, without SMTP or files."""

    def __init__(self, quiet_hours=None, max_attempts=3, backoff_seconds=30, triage_wait_seconds=60,
                 email_failures=0):
        self.email, self.sms, self.letter = Outbox(email_failures), Outbox(), Outbox()
        self.quiet_hours = quiet_hours
        self.max_attempts = max_attempts
        self.backoff = backoff_seconds
        self.send_lease = timedelta(seconds=120)
        self.triage_wait = timedelta(seconds=triage_wait_seconds)
        self.sweep_margin = timedelta(seconds=60)
        self.files = {}

    backoff_for = Channels.backoff_for  # the real rule, over this fake's settings

    def holds_file(self, receipt):
        return self.files.get(receipt)
