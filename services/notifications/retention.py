"""Sent and failed messages lose their addresses and text (the delivery log's bodies) after a configured time.

The day a message's body is due is kept on the message itself (`body_due_on`), written by the same
write that finishes it: nothing else is written and no event is read when a message goes. The
daily run asks the messages for `body_due_on == day` (top-level string equality: an index on
MongoDB and on the embedded engine), and still reads `retention_due` markers of kind message_body
written before the day was kept on the message.
"""
from __future__ import annotations

from datetime import date, datetime

from services.common.retention import (
    FORGET, NOT_YET, RetentionPolicy, add_months, as_day, due_verdict,
)

from .repository import BODY_DUE, PERSONAL_FIELDS

BODY = "message_body"
FINISHED = frozenset({"sent", "failed", "suppressed"})


def body_due_on(finished_at: datetime, months: int) -> str:
    """The day a message finished at `finished_at` is due for scrubbing, as stored (ISO)."""
    return add_months(as_day(finished_at), months).isoformat()


class BodyRetention(RetentionPolicy):
    service = "notifications"
    kinds = (BODY,)

    def due(self, db, day: date) -> list[dict]:
        on_messages = [{"_id": None, "kind": BODY, "target_id": doc["_id"], "on_message": True}
                       for doc in db["notifications"].find({BODY_DUE: day.isoformat()}, {"_id": 1})]
        return super().due(db, day) + on_messages

    def settle(self, db, marker: dict, verdict: str, due: date | None) -> None:
        if not marker.get("on_message"):
            return super().settle(db, marker, verdict, due)
        change = {"$set": {BODY_DUE: due.isoformat()}} if verdict == NOT_YET else {"$unset": {BODY_DUE: ""}}
        db["notifications"].update_one({"_id": marker["target_id"]}, change)

    def decide(self, marker: dict, today: date):
        doc = self.store.get(marker["target_id"])
        if doc is None or doc.get("status") not in FINISHED or doc.get("erased_at") or doc.get("body_scrubbed_at"):
            return FORGET, None
        # the schedule as it is today decides, from when the message finished
        finished = marker.get("finished_at") or doc.get("sent_at") or doc.get("failed_at") or doc.get("updated_at")
        return due_verdict(as_day(finished), self.schedule.delivery_body_months, today)

    def act(self, marker: dict, now: datetime) -> None:
        doc = self.store.get(marker["target_id"])
        self.store.notifications.update_one({"_id": doc["_id"]},
                                            {"$set": {**PERSONAL_FIELDS, "body_scrubbed_at": now, "updated_at": now}})
        self.note("message_body_scrubbed_by_retention", doc["case_id"], now)
