"""Reports for coordinators, partners and funders: pure functions from plain rows to a table.

One function per report (`REPORTS`), each taking plain rows and a `Period` and returning a
`Table` whose columns say what they hold: a `label`, a `count`, or a figure derived from counts
(`rate`, `value`) that names the counts it comes from (`base`). `disclosed` applies small-number
disclosure control to a table before it is exported: a count from 1 to 4 shows as "<5", and a
rate or value derived from such a count as "suppressed" (0 stays 0: nothing to protect).
Totals are never given, so a suppressed cell cannot be worked out by subtraction.

The rows come from the referrals service's own records (`*_rows` below read stored cases and
timeline entries): the referrals and their agencies, the case's own moves, the clutter ratings,
and the facts other services' events left on the timeline. Never another service's database.
"""
from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime, timezone
from statistics import mean, median

from services.common.working_days import LONDON, add_working_days, london_date, working_days_between

SMALL = range(1, 5)  # counts shown as "<5"
SMALL_COUNT, SUPPRESSED = "<5", "suppressed"
PRIORITIES = ("very_high", "high", "medium")  # `low` never raises a visit
TARGETS = {"very_high": "4 hours", "high": "7 days", "medium": "1 month"}  # LFB's (DOMAIN.md); due_by says it
VISIT_ENDINGS = ("completed", "no_access", "declined", "cancelled")
HIGHEST = "highest (any room)"


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    def __post_init__(self):
        if self.start > self.end:
            raise ValueError("from must not be after to")

    def __contains__(self, day: date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # label | count | rate | value
    description: str
    base: tuple[str, ...] = ()  # the counts a rate or value is derived from


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    columns: tuple[Column, ...]
    rows: list[dict]
    notes: tuple[str, ...] = ()
    suppressed: bool = False

    def as_json(self, period: Period) -> dict:
        return {"report": self.name, "title": self.title, "from": period.start.isoformat(),
                "to": period.end.isoformat(), "suppressed": self.suppressed,
                "columns": [{"name": c.name, "kind": c.kind, "description": c.description} for c in self.columns],
                "rows": self.rows, "notes": list(self.notes)}

    def as_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([c.name for c in self.columns])
        for row in self.rows:
            writer.writerow(["" if row.get(c.name) is None else row[c.name] for c in self.columns])
        return out.getvalue()


def disclosed(table: Table) -> Table:
    """The table with small-number disclosure control applied (what leaves as an export)."""
    counts = [c.name for c in table.columns if c.kind == "count"]
    derived = [c for c in table.columns if c.kind in ("rate", "value")]
    rows = []
    for row in table.rows:
        small = {name for name in counts if row.get(name) in SMALL}
        safe = dict(row)
        for name in small:
            safe[name] = SMALL_COUNT
        for column in derived:
            if small & set(column.base) and row.get(column.name) is not None:
                safe[column.name] = SUPPRESSED
        rows.append(safe)
    return replace(table, rows=rows, suppressed=True,
                   notes=(*table.notes, 'Counts from 1 to 4 are shown as "<5" and figures derived from them as '
                                        '"suppressed" (small-number disclosure control).'))


# --- the reports -------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReferralRow:
    agency: str
    received_on: date  # London date


def referrals_by_agency(referrals: list[ReferralRow], period: Period) -> Table:
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for row in referrals:
        if row.received_on in period:
            counts[(_month(row.received_on), row.agency)] += 1
    rows = [{"month": month, "agency": agency, "referrals": n} for (month, agency), n in sorted(counts.items())]
    return Table("referrals-by-agency", "Referrals received, per referring agency per month", (
        Column("month", "label", "calendar month received (London), YYYY-MM"),
        Column("agency", "label", "the referring agency"),
        Column("referrals", "count", "referrals received (a second referral of someone already referred counts)"),
    ), rows)


@dataclass(frozen=True)
class ContactRow:
    received_on: date  # the case's first referral, London date
    contacted_on: date | None  # the first move to in_progress (first contact made), London date
    closed: bool  # rejected, cancelled or completed


def first_contact(cases: list[ContactRow], period: Period, *, promise_days: int, today: date) -> Table:
    """Time from referral to first contact, in working days in England, against the group's promise."""
    months: dict[str, dict] = {}
    for case in (c for c in cases if c.received_on in period):
        month = months.setdefault(_month(case.received_on), {"cases": 0, "days": [], "awaiting": 0,
                                                              "awaiting_late": 0, "closed_first": 0})
        month["cases"] += 1
        if case.contacted_on is not None:
            month["days"].append(working_days_between(case.received_on, case.contacted_on))
        elif case.closed:
            month["closed_first"] += 1
        else:
            month["awaiting"] += 1
            month["awaiting_late"] += today > add_working_days(case.received_on, promise_days)
    rows = []
    for name, month in sorted(months.items()):
        days = month["days"]
        within = sum(d <= promise_days for d in days)
        rows.append({"month": name, "cases": month["cases"], "contacted": len(days), "within_promise": within,
                     "within_promise_pct": _pct(within, len(days)),
                     "median_working_days": median(days) if days else None,
                     "awaiting_contact": month["awaiting"], "awaiting_past_promise": month["awaiting_late"],
                     "closed_before_contact": month["closed_first"]})
    return Table("first-contact", f"First contact within {promise_days} working days of the referral", (
        Column("month", "label", "calendar month the case's first referral arrived (London), YYYY-MM"),
        Column("cases", "count", "cases opened"),
        Column("contacted", "count", "cases with first contact made (moved to in_progress)"),
        Column("within_promise", "count", f"contacted within {promise_days} working days"),
        Column("within_promise_pct", "rate", "within_promise as a percentage of contacted",
               ("within_promise", "contacted")),
        Column("median_working_days", "value", "median working days from referral to first contact",
               ("contacted",)),
        Column("awaiting_contact", "count", "open cases not yet contacted"),
        Column("awaiting_past_promise", "count", "of those, past the promise today"),
        Column("closed_before_contact", "count", "rejected, cancelled or closed before any contact"),
    ), rows, notes=(f"Working days are Monday to Friday less England's bank holidays; the day of the referral "
                    f"is day 0. The promise is {promise_days} working days.",))


@dataclass(frozen=True)
class VisitRow:
    priority: str  # the latest (a duplicate referral may raise it)
    requested_at: datetime
    due_by: datetime | None  # the latest target time safety set
    status: str
    visited_at: datetime | None  # completed: the booked time, else when the outcome was recorded


def hfsv(visits: list[VisitRow], period: Period, *, now: datetime) -> Table:
    """Home Fire Safety Visits requested in the period: completion and time to visit, per priority."""
    rows = []
    for priority in PRIORITIES:
        mine = [v for v in visits if v.priority == priority and london_date(v.requested_at) in period]
        done = [v for v in mine if v.status == "completed" and v.visited_at is not None]
        hours = [(v.visited_at - v.requested_at).total_seconds() / 3600 for v in done]
        on_time = sum(1 for v in done if v.due_by is not None and v.visited_at <= v.due_by)
        still_open = [v for v in mine if v.status not in VISIT_ENDINGS]
        rows.append({
            "priority": priority, "target": TARGETS[priority], "requested": len(mine), "completed": len(done),
            "completion_pct": _pct(len(done), len(mine)), "within_target": on_time,
            "within_target_pct": _pct(on_time, len(done)),
            "median_hours_to_visit": round(median(hours), 1) if hours else None,
            "no_access": sum(v.status == "no_access" for v in mine),
            "declined": sum(v.status == "declined" for v in mine),
            "cancelled": sum(v.status == "cancelled" for v in mine),
            "open": len(still_open),
            "open_overdue": sum(1 for v in still_open if v.due_by is not None and now > v.due_by)})
    return Table("hfsv", "Home Fire Safety Visits: requests, completion and time to visit per priority", (
        Column("priority", "label", "LFB priority (the latest, if a later referral raised it)"),
        Column("target", "label", "LFB's target time for the priority"),
        Column("requested", "count", "visits requested in the period"),
        Column("completed", "count", "visits completed"),
        Column("completion_pct", "rate", "completed as a percentage of requested", ("completed", "requested")),
        Column("within_target", "count", "completed by the visit's due time"),
        Column("within_target_pct", "rate", "within_target as a percentage of completed",
               ("within_target", "completed")),
        Column("median_hours_to_visit", "value", "median hours from request to the visit", ("completed",)),
        Column("no_access", "count", "ended with no access"),
        Column("declined", "count", "declined by the person"),
        Column("cancelled", "count", "cancelled (consent withdrawn, case erased)"),
        Column("open", "count", "still requested, acknowledged or scheduled"),
        Column("open_overdue", "count", "of those, past their due time now"),
    ), rows, notes=("A visit's time is when it was booked for (the time recorded with the outcome if it was "
                    "never booked); within target means by the due time the fire service set.",))


@dataclass(frozen=True)
class RatingRow:
    case_id: str
    rated_on: date
    ratings: dict  # room -> Clutter Image Rating 1..9


def cir_change(ratings: list[RatingRow], period: Period) -> Table:
    """Change from the first to the latest Clutter Image Rating in the period, per room and per case."""
    series: dict[tuple[str, str], list[tuple[date, int, int]]] = defaultdict(list)
    for order, row in enumerate(ratings):
        if row.rated_on not in period:
            continue
        for room, score in row.ratings.items():
            series[(room, row.case_id)].append((row.rated_on, order, score))
        series[(HIGHEST, row.case_id)].append((row.rated_on, order, max(row.ratings.values())))
    changes: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for (room, _case), scores in series.items():
        if len(scores) >= 2:
            scores.sort()
            changes[room].append((scores[0][2], scores[-1][2]))
    rooms = sorted((r for r in changes if r != HIGHEST)) + ([HIGHEST] if HIGHEST in changes else [])
    rows = []
    for room in rooms:
        pairs = changes[room]
        rows.append({"room": room, "cases": len(pairs),
                     "mean_first": round(mean(f for f, _ in pairs), 2),
                     "mean_latest": round(mean(latest for _, latest in pairs), 2),
                     "mean_change": round(mean(latest - f for f, latest in pairs), 2),
                     "improved": sum(latest < f for f, latest in pairs),
                     "unchanged": sum(latest == f for f, latest in pairs),
                     "worse": sum(latest > f for f, latest in pairs)})
    return Table("cir-change", "Clutter Image Rating: first to latest rating in the period", (
        Column("room", "label", f"the room rated, or '{HIGHEST}': each rating's highest room"),
        Column("cases", "count", "cases rated at least twice in the period"),
        Column("mean_first", "value", "mean of the first rating", ("cases",)),
        Column("mean_latest", "value", "mean of the latest rating", ("cases",)),
        Column("mean_change", "value", "mean of latest minus first (negative: less clutter)", ("cases",)),
        Column("improved", "count", "cases whose latest rating is lower"),
        Column("unchanged", "count", "cases whose latest rating is the same"),
        Column("worse", "count", "cases whose latest rating is higher"),
    ), rows, notes=("Ratings 1 (no clutter) to 9; referrers' and the coordinator's ratings alike.",))


@dataclass(frozen=True)
class AttendanceRow:
    session_id: str
    kind: str
    starts_at: datetime
    attendee: str        # the case, or the case's supporter: one person
    attended: bool
    recorded_at: datetime


SESSION_KINDS = {"face_to_face": "face to face", "online": "online", "huddle": "phone huddle"}


def attendance(rows: list[AttendanceRow], period: Period) -> Table:
    """Who came to each session in the period, and per month how many people came at least once.
    A person's attendance recorded twice for a session counts as the latest record."""
    latest: dict[tuple[str, str], AttendanceRow] = {}
    for row in sorted(rows, key=lambda r: _aware(r.recorded_at)):
        if london_date(row.starts_at) in period:
            latest[(row.session_id, row.attendee)] = row
    sessions: dict[str, dict] = {}
    months: dict[str, dict] = defaultdict(lambda: {"sessions": set(), "came": 0, "absent": 0, "people": set()})
    for row in latest.values():
        session = sessions.setdefault(row.session_id, {"starts_at": row.starts_at, "kind": row.kind, "came": 0,
                                                       "absent": 0})
        month = months[_month(london_date(row.starts_at))]
        month["sessions"].add(row.session_id)
        session["came" if row.attended else "absent"] += 1
        month["came" if row.attended else "absent"] += 1
        if row.attended:
            month["people"].add(row.attendee)
    out = []
    for session_id, session in sorted(sessions.items(), key=lambda kv: _aware(kv[1]["starts_at"])):
        local = _aware(session["starts_at"]).astimezone(LONDON)
        out.append({"month": _month(local.date()), "session": f"{local:%Y-%m-%d %H:%M}",
                    "kind": SESSION_KINDS.get(session["kind"], session["kind"]), "came": session["came"],
                    "did_not_come": session["absent"],
                    "attendance_rate": _pct(session["came"], session["came"] + session["absent"]),
                    "people_who_came": None})
    for name, month in sorted(months.items()):
        count = len(month["sessions"])
        out.append({"month": name, "session": f"month total ({count} session{'' if count == 1 else 's'})",
                    "kind": "all",
                    "came": month["came"], "did_not_come": month["absent"],
                    "attendance_rate": _pct(month["came"], month["came"] + month["absent"]),
                    "people_who_came": len(month["people"])})
    return Table("attendance", "Attendance at the group's sessions, per session and per month", (
        Column("month", "label", "calendar month of the session (London), YYYY-MM"),
        Column("session", "label", "the session's start (London), or the month's sessions together"),
        Column("kind", "label", "face to face, online or phone huddle"),
        Column("came", "count", "people recorded as having come (members and supporters)"),
        Column("did_not_come", "count", "people invited and recorded as not having come"),
        Column("attendance_rate", "rate", "came as a percentage of those recorded", ("came", "did_not_come")),
        Column("people_who_came", "count", "different people who came at least once that month"),
    ), out, notes=("Only sessions whose attendance was recorded are counted.",))


# --- rows from the service's own records ----------------------------------------------------------

_MOVE_SUMMARY = re.compile(r"^Case moved from (\w+) to (\w+)$")  # entries written before `facts`
CLOSED = ("rejected", "cancelled", "completed")


def referral_rows(cases) -> list[ReferralRow]:
    return [ReferralRow(agency=r["agency"], received_on=london_date(r["received_at"]))
            for case in cases for r in case.get("referrals", []) if r.get("received_at")]


def contact_rows(cases) -> list[ContactRow]:
    rows = []
    for case in cases:
        received = min((r["received_at"] for r in case.get("referrals", []) if r.get("received_at")),
                       default=case.get("created_at"))
        if received is None:
            continue
        contacted = min((e["at"] for e in case.get("timeline", []) if _moved_to(e) == "in_progress"), default=None)
        rows.append(ContactRow(received_on=london_date(received),
                               contacted_on=london_date(contacted) if contacted else None,
                               closed=case.get("status") in CLOSED))
    return rows


def _moved_to(entry: dict) -> str | None:
    if entry.get("type") != "case_status_changed":
        return None
    if entry.get("facts"):
        return entry["facts"].get("to")
    match = _MOVE_SUMMARY.match(entry.get("summary") or "")
    return match.group(2) if match else None


def visit_rows(entries) -> list[VisitRow]:
    """Each visit's story from the visit events on the timelines (their `facts`), oldest first."""
    visits: dict[str, dict] = {}
    for entry in sorted(entries, key=lambda e: _aware(e["at"])):
        facts = entry.get("facts") or {}
        visit_id = facts.get("visit_id")
        if not visit_id:
            continue  # a timeline entry from before visits kept their facts
        at = _aware(entry["at"])
        if entry["type"] == "visit_requested":
            visits[visit_id] = {"requested_at": at, "priority": facts.get("priority"), "status": "requested",
                                "due_by": _when(facts.get("due_by")), "visited_at": None}
            continue
        visit = visits.get(visit_id)
        if visit is None:
            continue
        visit["priority"] = facts.get("priority") or visit["priority"]
        visit["due_by"] = _when(facts.get("due_by")) or visit["due_by"]
        visit["status"] = facts.get("status") or visit["status"]
        if facts.get("status") == "completed" and facts.get("change", "status") == "status":
            visit["visited_at"] = _when(facts.get("scheduled_for")) or at
    return [VisitRow(**visit) for visit in visits.values()]


def attendance_rows(entries) -> list[AttendanceRow]:
    """Attendance from the session_attendance_recorded events on the timelines (their `facts`)."""
    rows = []
    for entry in entries:
        facts = entry.get("facts") or {}
        if entry.get("type") != "session_attendance_recorded" or not facts.get("session_id"):
            continue
        attendee = f"{entry['case_id']}:{facts['supporter_id']}" if facts.get("supporter_id") else entry["case_id"]
        rows.append(AttendanceRow(session_id=facts["session_id"], kind=facts.get("kind", ""),
                                  starts_at=_when(facts["starts_at"]), attendee=attendee,
                                  attended=bool(facts.get("attended")), recorded_at=_aware(entry["at"])))
    return rows


def rating_rows(cases) -> list[RatingRow]:
    return [RatingRow(case_id=case["_id"], rated_on=date.fromisoformat(str(r["rated_on"])[:10]),
                      ratings=r["ratings"])
            for case in cases for r in case.get("cir_ratings", []) if r.get("ratings")]


# --- helpers ---------------------------------------------------------------------------------------

def _month(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _when(value) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return _aware(moment)


REPORTS = ("referrals-by-agency", "first-contact", "hfsv", "cir-change", "attendance")
