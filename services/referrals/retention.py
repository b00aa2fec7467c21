"""Closed cases are erased (the same erasure a coordinator asks for) a configured time after closing."""
from __future__ import annotations

from datetime import date, datetime

from services.common.auth import Principal
from services.common.retention import FORGET, RetentionPolicy, RetentionSchedule, add_months, as_day, due_verdict, mark

from . import casework
from .lifecycle import TERMINAL_STATUSES

RETENTION = Principal(key_id="retention", role="system")
CASE = "case"


def note_closed(db, envelope: dict, schedule: RetentionSchedule) -> bool:
    """A case_status_changed into a closed status marks the case for erasure."""
    if envelope["data"].get("to") not in {s.value for s in TERMINAL_STATUSES}:
        return False
    closed_at = envelope["occurred_at"]
    mark(db, CASE, envelope["case_id"], add_months(as_day(closed_at), schedule.closed_case_months),
         closed_at=closed_at)
    return True


class CaseRetention(RetentionPolicy):
    service = "referrals"
    kinds = (CASE,)

    def decide(self, marker: dict, today: date):
        case = self.store.get(marker["target_id"])
        if case is None or case.get("erased_at") or case["status"] not in {s.value for s in TERMINAL_STATUSES}:
            return FORGET, None
        return due_verdict(as_day(marker["closed_at"]), self.schedule.closed_case_months, today)

    def act(self, marker: dict, now: datetime) -> None:
        case = self.store.get(marker["target_id"])
        correlation_id = f"retention-{now.date().isoformat()}"
        reason = f"retention: closed more than {self.schedule.closed_case_months} months ago"
        casework.erase(self.store, case, reason, RETENTION, correlation_id)
        self.note("case_erased_by_retention", case["_id"], now)
