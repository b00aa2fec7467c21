"""How the services' figures read on a page: a report as a table and a chart, a room's Clutter Image
Ratings as a line. Pure: the JSON as the referrals API gives it in, words and charts (charts.py) out.

The table is each chart's text alternative: it holds every figure the chart draws.
"""
from __future__ import annotations

import re
from datetime import date, datetime

from markupsafe import Markup

from . import charts
from .case_form import ROOMS
from .display import LONDON, priority

# GET /reports/{name} of the referrals service: name -> (what a coordinator calls it, what it shows)
REPORTS = {
    "referrals-by-agency": ("Referrals by agency", "Referrals received each month, per referring agency"),
    "first-contact": ("First contact", "How soon the group first spoke to each person, against its promise"),
    "hfsv": ("Home Fire Safety Visits", "Visits asked for, done, and done in time, per priority"),
    "cir-change": ("Change in clutter ratings", "Each room's first and latest Clutter Image Rating"),
    "attendance": ("Attendance", "Who came to each session, and how many different people came each month"),
}
HEADINGS = {  # report -> column -> heading; a column not here is headed by the API's own description
    "referrals-by-agency": {"month": "Month", "agency": "Referring agency", "referrals": "Referrals"},
    "first-contact": {"month": "Month referred", "cases": "Cases opened", "contacted": "First contact made",
                      "within_promise": "Within the promise", "within_promise_pct": "Within the promise (%)",
                      "median_working_days": "Median working days to first contact",
                      "awaiting_contact": "Still waiting", "awaiting_past_promise": "Still waiting, past the promise",
                      "closed_before_contact": "Closed before contact"},
    "hfsv": {"priority": "Priority", "target": "Target time", "requested": "Asked for", "completed": "Done",
             "completion_pct": "Done (%)", "within_target": "Done in time", "within_target_pct": "Done in time (%)",
             "median_hours_to_visit": "Median hours to the visit", "no_access": "No access",
             "declined": "Declined", "cancelled": "Cancelled", "open": "Still open",
             "open_overdue": "Still open, overdue"},
    "cir-change": {"room": "Room", "cases": "Cases rated twice or more", "mean_first": "Mean first rating",
                   "mean_latest": "Mean latest rating", "mean_change": "Mean change",
                   "improved": "Less cluttered", "unchanged": "No change", "worse": "More cluttered"},
    "attendance": {"month": "Month", "session": "Session", "kind": "Kind", "came": "Came",
                   "did_not_come": "Did not come", "attendance_rate": "Came (%)",
                   "people_who_came": "Different people who came"},
}
AGENCY = {"mind": "Mind", "rethink": "Rethink", "gp": "GP", "housing": "Housing",
          "adult_social_care": "Adult social care", "self_referral": "Self-referral",
          "coordinator": "The group's coordinator"}
ROOM = {**dict(ROOMS), "highest (any room)": "Highest room"}  # cir-change's row for each rating's highest room
NO_FIGURE = Markup('<span aria-hidden="true">–</span><span class="govuk-visually-hidden">no figure</span>')
RATING_RANGE = (1, 9)
_SESSION_START = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$")  # the attendance report's session, London time


# --- a report ------------------------------------------------------------------------------------

def report_table(report: dict) -> dict:
    """{"headings": [(text, numeric)], "rows": [[(text, numeric)]]} in the API's column order."""
    name, columns = report["report"], report["columns"]
    headings = [(HEADINGS.get(name, {}).get(c["name"]) or c["description"].capitalize(), c["kind"] != "label")
                for c in columns]
    rows = [[(_cell(c, row.get(c["name"])), c["kind"] != "label") for c in columns] for row in report["rows"]]
    return {"headings": headings, "rows": rows}


def report_chart(report: dict) -> Markup | None:
    """The report's chart, or None when it has no rows (the page says there is nothing yet)."""
    rows = report["rows"]
    if not rows:
        return None
    name = report["report"]
    period = f"{long_date(report['from'])} to {long_date(report['to'])}"
    description = f"{REPORTS[name][1]}, {period}. The table below the chart gives every figure."
    chart = dict(chart_id=f"report-{name}", title=f"{REPORTS[name][0]}, {period}", description=description)
    if name == "referrals-by-agency":
        months = months_between(report["from"], report["to"])
        agencies = sorted({row["agency"] for row in rows}, key=lambda a: AGENCY.get(a, a))
        counts = {(row["month"], row["agency"]): row["referrals"] for row in rows}
        return charts.bar_chart([month_label(m, short=True) for m in months],
                                [charts.Series(AGENCY.get(a, a), [counts.get((m, a), 0) for m in months])
                                 for a in agencies], **chart)
    if name == "first-contact":
        months = months_between(report["from"], report["to"])
        by_month = {row["month"]: row for row in rows}

        def per_month(figure):
            return [figure(by_month[m]) if m in by_month else 0 for m in months]
        return charts.bar_chart([month_label(m, short=True) for m in months], [
            charts.Series("Within the promise", per_month(lambda r: r["within_promise"])),
            charts.Series("Later", per_month(lambda r: r["contacted"] - r["within_promise"])),
            charts.Series("Still waiting", per_month(lambda r: r["awaiting_contact"]))], **chart)
    if name == "hfsv":
        return charts.bar_chart([f"{priority(r['priority'])['label']}\n({r['target']})" for r in rows], [
            charts.Series("Asked for", [r["requested"] for r in rows]),
            charts.Series("Done", [r["completed"] for r in rows]),
            charts.Series("Done in time", [r["within_target"] for r in rows])], **chart)
    if name == "cir-change":
        return charts.bar_chart([room_name(r["room"]) for r in rows], [
            charts.Series("Mean first rating", [r["mean_first"] for r in rows]),
            charts.Series("Mean latest rating", [r["mean_latest"] for r in rows])], y_max=RATING_RANGE[1], **chart)
    if name == "attendance":
        months = months_between(report["from"], report["to"])
        totals = {row["month"]: row for row in rows if row.get("people_who_came") is not None}  # a month's row

        def per_month(column):
            return [totals[m][column] if m in totals else 0 for m in months]
        return charts.bar_chart([month_label(m, short=True) for m in months], [
            charts.Series("Came", per_month("came")), charts.Series("Did not come", per_month("did_not_come")),
            charts.Series("Different people who came", per_month("people_who_came"))], **chart)
    return None


def _cell(column: dict, value):
    if value is None or value == "":
        return NO_FIGURE
    kind, name = column["kind"], column["name"]
    if kind == "label":
        if name == "month":
            return month_label(value)
        if name == "agency":
            return AGENCY.get(value, value)
        if name == "priority":
            return priority(value)["label"]
        if name == "room":
            return room_name(value)
        if name == "session" and _SESSION_START.match(str(value)):
            day, time = str(value).split(" ")
            return f"{long_date(day)} at {time}"
        return str(value)[:1].upper() + str(value)[1:]
    if not isinstance(value, (int, float)):
        return str(value)  # "<5" or "suppressed" in an export: shown as it is
    shown = charts.number(value)
    return f"{shown}%" if kind == "rate" else shown


# --- a room's ratings -------------------------------------------------------------------------------

def room_name(room: str) -> str:
    return ROOM.get(room, room.replace("_", " ").capitalize())


def room_chart(room: str, points: list[dict], chart_id: str) -> Markup:
    """A small line of one room's ratings, first to latest (`cir_trend` of a case)."""
    label = room_name(room)
    said = ", ".join(f"{p['score']} on {long_date(p['rated_on'])}" for p in points)
    change = points[-1]["score"] - points[0]["score"] if len(points) > 1 else None
    trend = ("" if change is None else " No change." if change == 0
             else f" Better by {-change}." if change < 0 else f" Worse by {change}.")
    return charts.line_chart(
        [_short_day(p["rated_on"]) for p in points], [charts.Series(label, [p["score"] for p in points])],
        chart_id=chart_id, title=f"{label}: clutter ratings, first to latest",
        description=f"Ratings from 1 (clear) to 9 (full): {said}.{trend}",
        size=charts.Size(width=320, height=200, font=14), y_range=RATING_RANGE)


# --- dates -----------------------------------------------------------------------------------------

def months_between(start: str, end: str) -> list[str]:
    """"2025-12-01", "2026-02-10" -> ["2025-12", "2026-01", "2026-02"]."""
    first, last = date.fromisoformat(start[:10]), date.fromisoformat(end[:10])
    months, year, month = [], first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def month_label(month: str, short: bool = False) -> str:
    """"2026-11" -> "November 2026" (or "Nov\\n2026" under a chart's bar)."""
    day = date.fromisoformat(f"{month}-01")
    return f"{day:%b}\n{day.year}" if short else f"{day:%B} {day.year}"


def long_date(value: str) -> str:
    """"2026-11-05" -> "5 November 2026"."""
    day = date.fromisoformat(str(value)[:10])
    return f"{day.day} {day:%B} {day.year}"


def long_moment(value: str) -> str:
    """"2026-11-29T16:05:00+00:00" -> "29 November 2026 at 16:05" (London time)."""
    local = datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(LONDON)
    return f"{long_date(local.date().isoformat())} at {local:%H:%M}"


def _short_day(value: str) -> str:
    day = date.fromisoformat(str(value)[:10])
    return f"{day.day} {day:%b}\n{day.year}"
