"""GET /visits: which visits, in which order, one page at a time.

Reads are one plain equality query per status (what the embedded engine answers
without decoding the whole collection, and an index on MongoDB), and only the
statuses asked for: the open list never reads closed history. Open visits come
first, most urgent first (priority, then due_by); the rest after them, most
recently changed first.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from .lifecycle import OPEN_STATUSES, VisitStatus
from .repository import VisitRepository

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class VisitPage:
    items: list[dict]
    total: int
    page: int
    per_page: int


def statuses_for(*, open_: bool | None, status: str | None) -> list[str]:
    """The statuses a query asks for, open ones first, in lifecycle order."""
    chosen = [s.value for s in VisitStatus]
    if open_ is not None:
        chosen = [s for s in chosen if (s in OPEN_STATUSES) is open_]
    if status:
        chosen = [s for s in chosen if s == status]
    return sorted(chosen, key=lambda s: s not in OPEN_STATUSES)  # stable: lifecycle order within each


def _urgency(visit: dict):
    return visit["priority_rank"], visit["due_by"], visit["_id"]


def _recency(visit: dict):
    return visit.get("updated_at") or _EPOCH, visit["_id"]


def visit_page(store: VisitRepository, *, open_: bool | None = None, status: str | None = None,
               priority: str | None = None, page: int = 1, per_page: int = 50) -> VisitPage:
    statuses = statuses_for(open_=open_, status=status)
    open_statuses = [s for s in statuses if s in OPEN_STATUSES]
    closed_statuses = [s for s in statuses if s not in OPEN_STATUSES]
    start = (page - 1) * per_page
    end = start + per_page

    ordered = sorted((v for s in open_statuses for v in store.visits_with_status(s, priority)), key=_urgency)
    total = len(ordered)
    if closed_statuses:
        if end <= len(ordered):
            # the page ends among the open visits: the closed ones are only counted
            total += sum(store.count_with_status(s, priority) for s in closed_statuses)
        else:
            closed = sorted((v for s in closed_statuses for v in store.visits_with_status(s, priority)),
                            key=_recency, reverse=True)
            ordered += closed
            total += len(closed)
    return VisitPage(items=ordered[start:end], total=total, page=page, per_page=per_page)
