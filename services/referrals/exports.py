"""What exports and reports read from the referrals service's own database: cases and timeline_events.

Never another service's database: safety's and notifications' facts arrive as events, and the
timeline keeps the few non-personal facts of each (`facts`, events.py). The functions take the
repository and read in batches, so a bulk export holds one batch of cases in memory at a time.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from services.common.working_days import london_date

from . import reports
from .attention import FIRST_CONTACT_WORKING_DAYS

BATCH = 100
# what an export or a report never needs of a case
SKIPPED = {"outbox": 0, "applied_events": 0}


def exported_case_ids(store) -> tuple[list[str], list[str]]:
    """Every case id, oldest first, and those of them that still hold personal data (not erased)."""
    cases = sorted(store.cases.find({}, {"_id": 1, "erased_at": 1, "created_at": 1}),
                   key=lambda c: (c.get("created_at") is None, c.get("created_at") or 0, c["_id"]))
    return [c["_id"] for c in cases], [c["_id"] for c in cases if not c.get("erased_at")]


def cases_in(store, case_ids: list[str], projection: dict | None = None) -> Iterator[dict]:
    """The cases with these ids, in that order, read BATCH at a time (`_id $in`: an index everywhere)."""
    for start in range(0, len(case_ids), BATCH):
        ids = case_ids[start:start + BATCH]
        found = {c["_id"]: c for c in store.cases.find({"_id": {"$in": ids}}, projection or SKIPPED)}
        yield from (found[i] for i in ids if i in found)


def timeline_events_of_types(store, types: Iterable[str]) -> list[dict]:
    """Other services' events on every case's timeline, of these types (an indexed `type $in`)."""
    return list(store.timeline_events.find({"type": {"$in": list(types)}}))


# what the reports read of each case: no person, no narrative
REPORT_FIELDS = {"status": 1, "created_at": 1, "referrals.agency": 1, "referrals.received_at": 1,
                 "timeline.type": 1, "timeline.at": 1, "timeline.facts": 1, "timeline.summary": 1,
                 "cir_ratings.rated_on": 1, "cir_ratings.ratings": 1}
VISIT_EVENTS = ("visit_requested", "visit_status_changed")


def report(store, name: str, period: reports.Period, *, now: datetime,
           promise_days: int = FIRST_CONTACT_WORKING_DAYS) -> reports.Table:
    """Read what the named report needs and compute it (reports.py); KeyError for an unknown name."""
    def cases():
        return store.cases.find({}, REPORT_FIELDS)

    if name == "referrals-by-agency":
        return reports.referrals_by_agency(reports.referral_rows(cases()), period)
    if name == "first-contact":
        return reports.first_contact(reports.contact_rows(cases()), period, promise_days=promise_days,
                                     today=london_date(now))
    if name == "hfsv":
        return reports.hfsv(reports.visit_rows(timeline_events_of_types(store, VISIT_EVENTS)), period, now=now)
    if name == "cir-change":
        return reports.cir_change(reports.rating_rows(cases()), period)
    if name == "attendance":
        return reports.attendance(reports.attendance_rows(
            timeline_events_of_types(store, ("session_attendance_recorded",))), period)
    raise KeyError(name)
