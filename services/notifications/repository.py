"""Notifications storage: what we know to contact per case, and every message with its attempts.

`contacts` (one per case): the minimum to reach the person and the referrer,
consent withdrawals, and safety's triage per referral reference.
`notifications` (one per event, template and audience): the planned message,
its status (pending, sending, sent, failed, suppressed) and attempts.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pymongo
from pymongo import ReturnDocument

from services.common.envelope import utcnow
from services.common.idempotency import apply_once, insert_once
from services.common.mongo import Repository

from .messages import CASE_ERASED, FIRE_SERVICE_WITHDRAWAL_NOTICE, triage_key

# Fields of a notification that hold personal data; erasure empties them.
PERSONAL_FIELDS = {"to": {}, "context": {}, "receipt": None, "last_error": None}


class NotificationRepository(Repository):
    outbox_collections = ("notifications",)

    @property
    def notifications(self):
        return self.db["notifications"]

    @property
    def contacts(self):
        return self.db["contacts"]

    def ensure_indexes(self) -> None:
        self.notifications.create_index([("case_id", 1), ("created_at", 1)])
        self.notifications.create_index([("status", 1), ("next_attempt_at", 1)])
        self.notifications.create_index("outbox_pending")

    # -- contacts ------------------------------------------------------------
    def remember_contacts(self, case_id: str, contacts: dict, event_id: str) -> None:
        """The first referral creates the record; a later one adds its referrer, once.

        A later referral saying "do not contact" wins: the stricter wish holds.
        """
        if insert_once(self.contacts, {"_id": case_id, **contacts, "referrers": [contacts["referrer"]],
                                       "withdrawn": [], "triage": {}, "erased_at": None,
                                       "applied_events": [event_id], "created_at": utcnow()}):
            return
        update = {"$push": {"referrers": contacts["referrer"]}}
        if contacts["person"].get("do_not_contact"):
            update["$set"] = {"person.do_not_contact": True}
        apply_once(self.contacts, {"_id": case_id}, update, event_id)

    def contacts_for(self, case_id: str) -> dict | None:
        return self.contacts.find_one({"_id": case_id})

    def record_triage(self, case_id: str, reference: str, triage: dict, event_id: str) -> bool:
        return apply_once(self.contacts, {"_id": case_id},
                          {"$set": {f"triage.{triage_key(reference)}": triage}}, event_id)

    def record_visit_booked_told(self, case_id: str, visit_id: str, event_id: str) -> None:
        """The first event booking this visit is the one that tells the referrer (kept if set)."""
        key = f"visit_booked_told.{triage_key(visit_id)}"
        self.contacts.update_one({"_id": case_id, key: {"$exists": False}}, {"$set": {key: event_id}})

    def forget_visit_booked_told(self, case_id: str, visit_id: str) -> None:
        self.contacts.update_one({"_id": case_id},
                                 {"$unset": {f"visit_booked_told.{triage_key(visit_id)}": ""}})

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

    def claim_due(self, lease: timedelta) -> dict | None:
        """Take one message that is due (or whose sender died mid-send) for this replica.

        The lease token makes `finish` a no-op for a sender whose lease ran out
        and whose message another replica has since claimed.
        """
        now = utcnow()
        due = {"$or": [{"status": "pending", "next_attempt_at": {"$lte": now}},
                       {"status": "sending", "lease_until": {"$lt": now}}]}
        # a read first: claiming is a write, and most ticks find nothing due
        if self.notifications.find_one(due, {"_id": 1}) is None:
            return None
        return self.notifications.find_one_and_update(
            due,
            {"$set": {"status": "sending", "lease_until": now + lease,
                      "lease_token": uuid.uuid4().hex, "updated_at": now}},
            sort=[("next_attempt_at", pymongo.ASCENDING)],
            return_document=ReturnDocument.AFTER)

    def finish(self, doc: dict, changes: dict, events: list[dict] = ()) -> bool:
        result = self.update_with_events(
            "notifications", {"_id": doc["_id"], "status": "sending", "lease_token": doc["lease_token"]},
            {"$set": {**changes, "lease_until": None, "lease_token": None, "updated_at": utcnow()}}, events)
        return result.modified_count == 1

    def retry_later(self, doc: dict, at: datetime, changes: dict) -> bool:
        return self.finish(doc, {"status": "pending", "next_attempt_at": at, **changes})

    def release_held_alerts(self, case_id: str, reference: str) -> int:
        """Triage arrived: held coordinator alerts for this referral go now."""
        result = self.notifications.update_many(
            {"case_id": case_id, "status": "pending", "awaiting_triage": reference},
            {"$set": {"next_attempt_at": utcnow(), "updated_at": utcnow()}})
        return result.modified_count

    def suppress_pending(self, case_id: str, reason: str, audience: str | None = None,
                         keep: tuple[str, ...] = ()) -> int:
        """Messages not yet gone (to this audience, bar the `keep` templates) are recorded as
        suppressed."""
        query = {"case_id": case_id, "status": "pending"}
        if audience:
            query["audience"] = audience
        if keep:
            query["template"] = {"$nin": list(keep)}
        result = self.notifications.update_many(
            query,
            {"$set": {"status": "suppressed", "suppressed_reason": reason,
                      "next_attempt_at": None, "updated_at": utcnow()}})
        return result.modified_count

    def erase_case(self, case_id: str) -> list[str]:
        """Anonymise every message of the case (template, audience, status and dates stay).

        Returns the receipts that were files (letters, drop-folder messages) for
        the caller to delete.
        """
        receipts = [d["receipt"] for d in self.notifications.find(
            {"case_id": case_id, "receipt": {"$type": "string"}}, {"receipt": 1})]
        # the crew's "request withdrawn" notice names nobody and must still go
        self.suppress_pending(case_id, CASE_ERASED, keep=(FIRE_SERVICE_WITHDRAWAL_NOTICE,))
        self.notifications.update_many(
            {"case_id": case_id, "template": {"$ne": FIRE_SERVICE_WITHDRAWAL_NOTICE}},
            {"$set": {**PERSONAL_FIELDS, "erased_at": utcnow(), "updated_at": utcnow()}})
        # a parked event of this case still holds the referral's contact details
        self.erase_parked_events(case_id)
        return receipts

    def get(self, notification_id: str) -> dict | None:
        return self.notifications.find_one({"_id": notification_id}, {"outbox": 0})

    def for_case(self, case_id: str) -> list[dict]:
        return list(self.notifications.find({"case_id": case_id}, {"outbox": 0})
                    .sort("created_at", pymongo.ASCENDING))
