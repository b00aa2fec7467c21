"""Sent and failed messages lose their addresses and text (the delivery log's bodies) after a configured time."""
from __future__ import annotations

from datetime import date, datetime

from services.common.retention import FORGET, RetentionPolicy, RetentionSchedule, add_months, as_day, due_verdict, mark

from .repository import PERSONAL_FIELDS

BODY = "message_body"
FINISHED = frozenset({"sent", "failed", "suppressed"})


def note_finished(db, envelope: dict, schedule: RetentionSchedule) -> bool:
    notification_id = envelope["data"].get("notification_id")
    if not notification_id:
        return False
    finished_at = envelope["occurred_at"]
    mark(db, BODY, notification_id, add_months(as_day(finished_at), schedule.delivery_body_months),
         finished_at=finished_at)
    return True


class BodyRetention(RetentionPolicy):
    service = "notifications"
    kinds = (BODY,)

    def decide(self, marker: dict, today: date):
        doc = self.store.get(marker["target_id"])
        if doc is None or doc.get("status") not in FINISHED or doc.get("erased_at") or doc.get("body_scrubbed_at"):
            return FORGET, None
        return due_verdict(as_day(marker["finished_at"]), self.schedule.delivery_body_months, today)

    def act(self, marker: dict, now: datetime) -> None:
        doc = self.store.get(marker["target_id"])
        self.store.notifications.update_one({"_id": doc["_id"]},
                                            {"$set": {**PERSONAL_FIELDS, "body_scrubbed_at": now, "updated_at": now}})
        self.note("message_body_scrubbed_by_retention", doc["case_id"], now)
