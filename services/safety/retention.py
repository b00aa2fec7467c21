"""Finished visits lose the person's details (name, address, phone, notes) a configured time after the outcome."""
from __future__ import annotations

from datetime import date, datetime

from services.common.retention import FORGET, RetentionPolicy, RetentionSchedule, add_months, as_day, due_verdict, mark

from .repository import StaleVisit

VISIT = "visit"
FINISHED = frozenset({"completed", "no_access", "declined", "cancelled"})
MAX_ATTEMPTS = 5


def note_finished(db, envelope: dict, schedule: RetentionSchedule) -> bool:
    data = envelope["data"]
    if data.get("status") not in FINISHED or not data.get("visit_id"):
        return False
    finished_at = envelope["occurred_at"]
    mark(db, VISIT, data["visit_id"],
         add_months(as_day(finished_at), schedule.finished_visit_months), finished_at=finished_at)
    return True


class VisitRetention(RetentionPolicy):
    service = "safety"
    kinds = (VISIT,)

    def decide(self, marker: dict, today: date):
        doc = self.store.get_assessment(marker["target_id"])
        if doc is None or doc.get("status") not in FINISHED or doc.get("person") is None:
            return FORGET, None  # gone, reopened, or already without the person
        return due_verdict(as_day(marker["finished_at"]), self.schedule.finished_visit_months, today)

    def act(self, marker: dict, now: datetime) -> None:
        for _ in range(MAX_ATTEMPTS):
            doc = self.store.get_assessment(marker["target_id"])
            try:
                self.store.change_visit(doc["_id"], doc.get("version"),
                                        {"person": None, "notes": None, "person_removed": "retention",
                                         "person_removed_at": now}, [])
                break
            except StaleVisit:
                continue
        else:
            raise StaleVisit(marker["target_id"])
        self.note("visit_scrubbed_by_retention", doc["case_id"], now)
