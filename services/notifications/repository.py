"""Notifications storage: what we know to contact per case, and every message with its attempts."""
from __future__ import annotations

from datetime import datetime, timedelta

import pymongo
from pymongo import ReturnDocument

from services.common.envelope import utcnow
from services.common.idempotency import apply_once, insert_once
from services.common.mongo import Repository
from services.common.outbox import outbox_fields, with_outbox


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
        """First referral creates the record; a later one adds its referrer, once."""
        if insert_once(self.contacts, {"_id": case_id, **contacts, "referrers": [contacts["referrer"]],
                                       "applied_events": [event_id], "created_at": utcnow()}):
            return
        apply_once(self.contacts, {"_id": case_id}, {"$push": {"referrers": contacts["referrer"]}},
                   event_id)

    def contacts_for(self, case_id: str) -> dict | None:
        return self.contacts.find_one({"_id": case_id})

    def update_contacts(self, case_id: str, changes: dict, event_id: str) -> bool:
        return apply_once(self.contacts, {"_id": case_id}, {"$set": changes}, event_id)

    # -- messages --------------------------------------------------------------
    def plan(self, notification: dict, events: list[dict] = ()) -> bool:
        """Store a planned message once per (event, template, audience)."""
        now = utcnow()
        return insert_once(self.notifications, {
            "attempts": 0, "last_error": None, "sent_at": None, "lease_until": None,
            "created_at": now, "updated_at": now, "next_attempt_at": now,
            **notification, **outbox_fields(list(events))})

    def claim_due(self, lease: timedelta) -> dict | None:
        """Take one message that is due (or whose sender died mid-send) for this replica."""
        now = utcnow()
        return self.notifications.find_one_and_update(
            {"$or": [{"status": "pending", "next_attempt_at": {"$lte": now}},
                     {"status": "sending", "lease_until": {"$lt": now}}]},
            {"$set": {"status": "sending", "lease_until": now + lease, "updated_at": now}},
            sort=[("next_attempt_at", pymongo.ASCENDING)],
            return_document=ReturnDocument.AFTER)

    def finish(self, notification_id: str, changes: dict, events: list[dict] = ()) -> None:
        self.notifications.update_one(
            {"_id": notification_id, "status": "sending"},
            with_outbox({"$set": {**changes, "lease_until": None, "updated_at": utcnow()}},
                         list(events)))

    def retry_later(self, notification_id: str, attempts: int, at: datetime, error: str) -> None:
        self.finish(notification_id, {"status": "pending", "attempts": attempts,
                                      "next_attempt_at": at, "last_error": error})

    def requeue(self, notification_id: str) -> dict | None:
        """A coordinator's retry of a failed message."""
        return self.notifications.find_one_and_update(
            {"_id": notification_id, "status": "failed"},
            {"$set": {"status": "pending", "next_attempt_at": utcnow(), "attempts": 0,
                      "updated_at": utcnow()}},
            return_document=ReturnDocument.AFTER)

    def for_case(self, case_id: str) -> list[dict]:
        return list(self.notifications.find({"case_id": case_id}, {"outbox": 0})
                    .sort("created_at", pymongo.ASCENDING))
