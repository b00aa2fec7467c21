"""Notifications storage: what we know to contact per case, and every message with its attempts.

`contacts` (one per case): the minimum to reach the person and the referrer,
consent withdrawals, and safety's triage per referral reference.
`notifications` (one per event, template and audience): the planned message,
its status (pending, sending, sent, failed, suppressed) and attempts.
`inbound` (one per provider message id): what the person sent us (inbound.py); a reply's
text is kept with its case, and erased with it.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pymongo
from pymongo import ReturnDocument

from services.common.envelope import utcnow
from services.common.idempotency import apply_once, apply_once_returning, insert_once
from services.common.mongo import Repository
from services.common.vocabulary import uk_mobile

from .letters import READY_TO_PRINT
from .messages import CASE_ERASED, FIRE_SERVICE_WITHDRAWAL_NOTICE, triage_key

# Messages that have not reached anyone: planned, or a letter written but not yet posted.
NOT_GONE = ("pending", READY_TO_PRINT)
# Fields of a notification that hold personal data; erasure empties them.
PERSONAL_FIELDS = {"to": {}, "context": {}, "receipt": None, "last_error": None}
# The day a sent or failed message's body is due for scrubbing, kept on the message (retention.py).
BODY_DUE = "body_due_on"


class NotificationRepository(Repository):
    outbox_collections = ("notifications", "inbound")

    @property
    def notifications(self):
        return self.db["notifications"]

    @property
    def contacts(self):
        return self.db["contacts"]

    @property
    def inbound_messages(self):
        return self.db["inbound"]

    def ensure_indexes(self) -> None:
        self.notifications.create_index([("case_id", 1), ("created_at", 1)])
        self.notifications.create_index("status")  # the sweep's unsent messages, on a real MongoDB
        self.contacts.create_index("mobiles")  # whose number a text came from
        self.inbound_messages.create_index("case_id")
        self.notifications.create_index(BODY_DUE)  # the daily retention run asks for one day
        self.migrate_once("contacts.mobiles", self._backfill_mobiles)  # contacts stored before texts were read
        self.migrate_once(f"notifications.{BODY_DUE}", self._backfill_body_due)

    def _backfill_body_due(self) -> None:
        """Messages finished before their due day was kept on them (a retention marker was written
        from their event instead, and the last such events may not have been read): due tomorrow, when
        the daily run works out their real day from the schedule and puts them off to it."""
        tomorrow = (utcnow() + timedelta(days=1)).date().isoformat()
        fields = {BODY_DUE: 1, "body_scrubbed_at": 1, "erased_at": 1}
        for status in ("sent", "failed"):  # by plain equality, as every read of the messages is
            for doc in list(self.notifications.find({"status": status}, fields)):
                if not (doc.get(BODY_DUE) or doc.get("body_scrubbed_at") or doc.get("erased_at")):
                    self.notifications.update_one({"_id": doc["_id"]}, {"$set": {BODY_DUE: tomorrow}})

    def _backfill_mobiles(self) -> None:
        # read them all first: a cursor left open holds a read on the store while we write (tools/mongowire)
        for doc in list(self.contacts.find({"mobiles": {"$exists": False}}, {"person.phone": 1})):
            mobile = uk_mobile((doc.get("person") or {}).get("phone"))
            self.contacts.update_one({"_id": doc["_id"]}, {"$set": {"mobiles": [mobile] if mobile else []}})

    # -- contacts ------------------------------------------------------------
    def remember_contacts(self, case_id: str, contacts: dict, event_id: str) -> dict | None:
        """The first referral creates the record (returned: no need to read it back); a later one
        adds its referrer, once (None: read the record for what it holds now).

        A later referral saying "do not contact" wins: the stricter wish holds.
        """
        mobile = uk_mobile(contacts["person"].get("phone"))
        record = {"_id": case_id, **contacts, "referrers": [contacts["referrer"]],
                  "mobiles": [mobile] if mobile else [], "withdrawn": [], "triage": {}, "erased_at": None,
                  "applied_events": [event_id], "created_at": utcnow()}
        if insert_once(self.contacts, record):
            return record
        update = {"$push": {"referrers": contacts["referrer"]},
                  "$set": {f"visit_asked.{key}": asked for key, asked in contacts["visit_asked"].items()}}
        if mobile:  # a later referral may give a newer number: a STOP from it counts too
            update["$addToSet"] = {"mobiles": mobile}
        if contacts["person"].get("do_not_contact"):
            update["$set"]["person.do_not_contact"] = True
        apply_once(self.contacts, {"_id": case_id}, update, event_id)
        return None

    def contacts_for(self, case_id: str) -> dict | None:
        return self.contacts.find_one({"_id": case_id})

    def record_triage(self, case_id: str, reference: str, triage: dict, event_id: str) -> dict | None:
        """The contact record with the triage in it; None when this event recorded it before."""
        return apply_once_returning(self.contacts, {"_id": case_id},
                                    {"$set": {f"triage.{triage_key(reference)}": triage}}, event_id)

    def record_visit_booked_told(self, case_id: str, visit_id: str, event_id: str) -> None:
        """The first event booking this visit is the one that tells the referrer (kept if set)."""
        key = f"visit_booked_told.{triage_key(visit_id)}"
        self.contacts.update_one({"_id": case_id, key: {"$exists": False}}, {"$set": {key: event_id}})

    def forget_visit_booked_told(self, case_id: str, visit_id: str) -> None:
        self.contacts.update_one({"_id": case_id},
                                 {"$unset": {f"visit_booked_told.{triage_key(visit_id)}": ""}})

    def cases_for_mobile(self, mobile: str) -> list[dict]:
        """The cases (not erased: a tombstone keeps no number) whose person has this mobile."""
        return list(self.contacts.find({"mobiles": mobile}, {"_id": 1, "withdrawn": 1, "created_at": 1}))

    def record_failing_email(self, case_id: str, email: str, event_id: str) -> bool:
        """An address of the person's bounced for good: later messages skip it (messages.person_route)."""
        return apply_once(self.contacts, {"_id": case_id}, {"$addToSet": {"failing_emails": email.lower()}}, event_id)

    def _of_case(self, case_id: str, statuses, fields: dict) -> list[dict]:
        """A case's messages in one of `statuses`, read by the case alone (its index: a case has a
        handful of messages) and sifted here. With the status in the query as well, the embedded
        engine used the status index instead: every message waiting for the end of quiet hours, of
        every case (1,400 of an evening's burst), read for each triage."""
        projection = {**fields, "status": 1} if 0 not in fields.values() else fields
        return [doc for doc in self.notifications.find({"case_id": case_id}, projection) if doc["status"] in statuses]

    def reroute_pending(self, case_id: str, email: str, channel: str, to: dict) -> int:
        """Person messages still waiting to go to a failing address go on another channel instead."""
        rerouted = 0
        for doc in self._of_case(case_id, ("pending",), {"audience": 1, "channel": 1, "to": 1}):
            if doc["audience"] == "person" and doc["channel"] == "email" \
                    and (doc.get("to") or {}).get("email", "").lower() == email:
                rerouted += self.notifications.update_one(
                    {"_id": doc["_id"], "status": "pending"},
                    {"$set": {"channel": channel, "to": to, "updated_at": utcnow()}}).modified_count
        return rerouted

    def record_withdrawal(self, case_id: str, scope: str, event_id: str) -> bool:
        return apply_once(self.contacts, {"_id": case_id}, {"$addToSet": {"withdrawn": scope}}, event_id)

    def erase_contacts(self, case_id: str, event_id: str) -> None:
        """Keep only a tombstone, so later (or redelivered) events for the case message nobody."""
        old = self.contacts.find_one({"_id": case_id}, {"applied_events": 1}) or {}
        applied = [e for e in old.get("applied_events", []) if e != event_id] + [event_id]
        self.contacts.replace_one({"_id": case_id},
                                  {"_id": case_id, "erased_at": utcnow(), "applied_events": applied},
                                  upsert=True)

    # -- messages --------------------------------------------------------------
    def plan(self, notification: dict, events: list[dict] = ()) -> bool:
        """Store a planned message once per (event, template, audience)."""
        now = utcnow()
        return self.insert_with_events("notifications", {
            "attempts": 0, "round_attempts": 0, "last_error": None, "sent_at": None,
            "lease_until": None, "lease_token": None, "suppressed_reason": None,
            "awaiting_triage": None, "created_at": now, "updated_at": now, "next_attempt_at": now,
            **notification}, events, once=True)

    def claim(self, doc: dict, lease: timedelta, now: datetime) -> dict | None:
        """Take this one message for this sender, if it is still as `doc` saw it and due.

        Compare-and-set by `_id`: of two replicas (or two copies of a wake-up)
        only one matches. The lease token makes `finish` a no-op for a sender
        whose lease ran out and whose message another sender has since claimed.
        """
        if doc["status"] == "pending":
            match = {"status": "pending", "next_attempt_at": {"$lte": now}}
        else:  # a sender died mid-send: its lease has run out
            match = {"status": "sending", "lease_token": doc["lease_token"], "lease_until": {"$lt": now}}
        return self.notifications.find_one_and_update(
            {"_id": doc["_id"], **match},
            {"$set": {"status": "sending", "lease_until": now + lease,
                      "lease_token": uuid.uuid4().hex, "updated_at": now}},
            return_document=ReturnDocument.AFTER)  # FerretDB v1: no projection here

    def finish(self, doc: dict, changes: dict, events: list[dict] = ()) -> bool:
        result = self.update_with_events(
            "notifications", {"_id": doc["_id"], "status": "sending", "lease_token": doc["lease_token"]},
            {"$set": {**changes, "lease_until": None, "lease_token": None, "updated_at": utcnow()}}, events)
        return result.modified_count == 1

    def unsent(self) -> list[dict]:
        """Messages not yet gone, for the safety-net sweep: plain equality, never the history."""
        fields = {"case_id": 1, "correlation_id": 1, "status": 1, "next_attempt_at": 1,
                  "lease_until": 1, "woken_at": 1}
        return [doc for status in ("pending", "sending")
                for doc in self.notifications.find({"status": status}, fields)]

    def rewake(self, doc: dict, now: datetime, events: list[dict]) -> bool:
        """A fresh wake-up for a message whose own was lost (unchanged since the sweep read it)."""
        result = self.update_with_events(
            "notifications", {"_id": doc["_id"], "status": doc["status"]},
            {"$set": {"woken_at": now}}, events)
        return result.modified_count == 1

    def held_alerts(self, case_id: str, reference: str) -> list[dict]:
        """Pending coordinator alerts of the case waiting for the triage of `reference`."""
        return [doc for doc in self._of_case(case_id, ("pending",), {"outbox": 0})
                if doc.get("awaiting_triage") == reference]

    def release(self, doc: dict, now: datetime, lease: timedelta) -> dict | None:
        """Triage arrived: a held alert goes now, claimed for the worker that saw the triage (as a
        message due when planned is); None when it was released or suppressed before."""
        return self.notifications.find_one_and_update(
            {"_id": doc["_id"], "status": "pending", "awaiting_triage": doc["awaiting_triage"]},
            {"$set": {"status": "sending", "lease_until": now + lease, "lease_token": uuid.uuid4().hex,
                      "next_attempt_at": now, "updated_at": now}},
            return_document=ReturnDocument.AFTER)

    def suppress_pending(self, case_id: str, reason: str, audience: str | None = None,
                         keep: tuple[str, ...] = ()) -> int:
        """Messages not yet gone (to this audience, bar the `keep` templates) are recorded as
        suppressed; a letter not yet posted has not gone either. Read by case and status, written
        one by one by `_id`."""
        suppressed = 0
        for doc in self._of_case(case_id, NOT_GONE, {"audience": 1, "template": 1}):
            if (audience and doc["audience"] != audience) or doc["template"] in keep:
                continue
            suppressed += self.suppress(doc["_id"], reason, doc["status"])
        return suppressed

    def suppress(self, notification_id: str, reason: str, status: str | None = None) -> int:
        """One message not yet gone (`status`: as read; None: whichever of NOT_GONE it is) is recorded
        as suppressed (1), or it had gone or was taken meanwhile (0)."""
        result = self.notifications.update_one(
            {"_id": notification_id, "status": status or {"$in": list(NOT_GONE)}},
            {"$set": {"status": "suppressed", "suppressed_reason": reason,
                      "next_attempt_at": None, "updated_at": utcnow()}})
        return result.modified_count

    def erase_case(self, case_id: str) -> list[str]:
        """Anonymise every message of the case (template, audience, status and dates stay).

        Returns the receipts that were files (letters, drop-folder messages) for
        the caller to delete.
        """
        # the crew's "request withdrawn" notice names nobody and must still go
        self.suppress_pending(case_id, CASE_ERASED, keep=(FIRE_SERVICE_WITHDRAWAL_NOTICE,))
        receipts = []
        for doc in self.notifications.find({"case_id": case_id}, {"receipt": 1, "template": 1}):
            if isinstance(doc.get("receipt"), str):
                receipts.append(doc["receipt"])
            if doc["template"] != FIRE_SERVICE_WITHDRAWAL_NOTICE:
                self.erase_message(doc["_id"])
        # what the person texted us goes too
        self.inbound_messages.update_many({"case_id": case_id, "text": {"$ne": None}},
                                          {"$set": {"text": None, "erased_at": utcnow()}})
        # a parked event of this case still holds the referral's contact details
        self.erase_parked_events(case_id)
        return receipts

    def erase_message(self, notification_id: str) -> None:
        """One message loses its address and text (template, audience, status and dates stay)."""
        self.notifications.update_one({"_id": notification_id},
                                      {"$set": {**PERSONAL_FIELDS, "erased_at": utcnow(), "updated_at": utcnow()}})

    # -- letters to print ----------------------------------------------------------------
    def letters(self, status: str) -> list[dict]:
        """Letters with this status (ready_to_print, sent), oldest first: an equality on the indexed status."""
        return sorted(self.notifications.find({"status": status, "channel": "letter"}, {"outbox": 0}),
                      key=lambda doc: (doc["created_at"], doc["_id"]))

    def mark_posted(self, doc: dict, changes: dict, events: list[dict]) -> bool:
        """The letter is posted, with its notification_sent, only if it still waits to be (one write)."""
        result = self.update_with_events(
            "notifications", {"_id": doc["_id"], "status": READY_TO_PRINT},
            {"$set": {**changes, "updated_at": utcnow()}}, events)
        return result.modified_count == 1

    def get(self, notification_id: str) -> dict | None:
        return self.notifications.find_one({"_id": notification_id}, {"outbox": 0})

    def for_case(self, case_id: str) -> list[dict]:
        return list(self.notifications.find({"case_id": case_id}, {"outbox": 0})
                    .sort("created_at", pymongo.ASCENDING))

    # -- what the person sent us -------------------------------------------------
    def inbound(self, inbound_id: str) -> dict | None:
        return self.inbound_messages.find_one({"_id": inbound_id}, {"outbox": 0})

    def record_inbound(self, doc: dict, events: list[dict]) -> bool:
        """Keep an inbound message once per provider id, with the events it causes."""
        return self.insert_with_events("inbound", doc, events, once=True)

    def replies_for(self, case_id: str) -> list[dict]:
        """The person's texts on this case, oldest first."""
        return sorted(self.inbound_messages.find({"case_id": case_id}, {"outbox": 0}),
                      key=lambda d: d["received_at"])
