"""The reports (referrals/reports.py): each from plain rows, with answers worked out by hand."""
import csv
import io
from datetime import date, datetime, timedelta, timezone

import pytest

from services.referrals import reports
from services.referrals.reports import ContactRow, Period, RatingRow, ReferralRow, VisitRow

UTC = timezone.utc
AUTUMN = Period(date(2026, 8, 1), date(2026, 10, 31))


def at(text):
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_a_period_runs_forwards():
    with pytest.raises(ValueError):
        Period(date(2026, 10, 2), date(2026, 10, 1))
    assert date(2026, 10, 1) in Period(date(2026, 10, 1), date(2026, 10, 1))


# -- referrals-by-agency -------------------------------------------------------------
def test_referrals_are_counted_per_agency_per_month_within_the_period():
    rows = [ReferralRow("mind", date(2026, 9, 3)), ReferralRow("mind", date(2026, 9, 30)),
            ReferralRow("rethink", date(2026, 9, 12)), ReferralRow("mind", date(2026, 10, 1)),
            ReferralRow("gp", date(2026, 7, 31)), ReferralRow("gp", date(2026, 11, 1))]  # both outside
    table = reports.referrals_by_agency(rows, AUTUMN)
    assert table.rows == [{"month": "2026-09", "agency": "mind", "referrals": 2},
                          {"month": "2026-09", "agency": "rethink", "referrals": 1},
                          {"month": "2026-10", "agency": "mind", "referrals": 1}]


def test_a_referral_late_on_the_last_night_of_a_month_counts_in_london_time():
    # 23:30 UTC on 30 September is 00:30 on 1 October in London (BST)
    [row] = reports.referral_rows([{"referrals": [{"agency": "gp", "received_at": at("2026-09-30T23:30:00")}]}])
    assert row.received_on == date(2026, 10, 1)


# -- first-contact -------------------------------------------------------------------
def test_first_contact_is_counted_in_working_days_in_england():
    cases = [
        ContactRow(date(2026, 9, 7), date(2026, 9, 14), closed=False),    # Mon -> Mon: 5, kept
        ContactRow(date(2026, 9, 7), date(2026, 9, 15), closed=False),    # 6: broken
        ContactRow(date(2026, 8, 27), date(2026, 9, 4), closed=False),    # Thu -> Fri over the bank holiday: 5
        ContactRow(date(2026, 9, 11), date(2026, 9, 11), closed=False),   # the same day: 0
        ContactRow(date(2026, 9, 21), None, closed=False),                 # awaiting, past promise by 20 Oct
        ContactRow(date(2026, 10, 19), None, closed=False),                # awaiting, promise until 26 Oct
        ContactRow(date(2026, 9, 22), None, closed=True),                  # rejected before any contact
        ContactRow(date(2026, 11, 2), date(2026, 11, 3), closed=False),   # outside the period
    ]
    table = reports.first_contact(cases, AUTUMN, promise_days=5, today=date(2026, 10, 20))
    by_month = {row["month"]: row for row in table.rows}
    assert by_month["2026-08"] == {"month": "2026-08", "cases": 1, "contacted": 1, "within_promise": 1,
                                   "within_promise_pct": 100.0, "median_working_days": 5,
                                   "awaiting_contact": 0, "awaiting_past_promise": 0, "closed_before_contact": 0}
    assert by_month["2026-09"] == {"month": "2026-09", "cases": 5, "contacted": 3, "within_promise": 2,
                                   "within_promise_pct": 66.7, "median_working_days": 5,
                                   "awaiting_contact": 1, "awaiting_past_promise": 1, "closed_before_contact": 1}
    assert by_month["2026-10"]["awaiting_past_promise"] == 0
    assert by_month["2026-10"]["median_working_days"] is None
    assert set(by_month) == {"2026-08", "2026-09", "2026-10"}


def test_first_contact_is_the_first_move_to_in_progress_from_facts_or_an_older_summary():
    received = at("2026-09-07T09:00:00")
    cases = [{"status": "in_progress", "referrals": [{"received_at": received}], "timeline": [
        {"type": "case_status_changed", "at": at("2026-09-08T10:00:00"), "facts": {"from": "received", "to": "accepted"}},
        {"type": "case_status_changed", "at": at("2026-09-10T10:00:00"), "facts": {"to": "in_progress"}},
        {"type": "case_status_changed", "at": at("2026-09-21T10:00:00"), "facts": {"to": "in_progress"}}]},
        {"status": "completed", "referrals": [{"received_at": received}], "timeline": [
            {"type": "case_status_changed", "at": at("2026-09-09T10:00:00"),
             "summary": "Case moved from accepted to in_progress"}]},
        {"status": "rejected", "referrals": [{"received_at": received}], "timeline": [
            {"type": "case_status_changed", "at": at("2026-09-09T10:00:00"),
             "summary": "Case moved from received to rejected"}]}]
    rows = reports.contact_rows(cases)
    assert [(r.contacted_on, r.closed) for r in rows] == [
        (date(2026, 9, 10), False), (date(2026, 9, 9), True), (None, True)]


# -- hfsv ----------------------------------------------------------------------------------
def visit(priority, requested, status, due_hours, visited_after_hours=None):
    requested_at = at(requested)
    return VisitRow(priority=priority, requested_at=requested_at, due_by=requested_at + timedelta(hours=due_hours),
                    status=status, visited_at=requested_at + timedelta(hours=visited_after_hours)
                    if visited_after_hours is not None else None)


def test_visits_are_counted_per_priority_against_their_due_time():
    visits = [
        visit("very_high", "2026-09-01T10:00:00", "completed", 4, 3),
        visit("very_high", "2026-09-02T10:00:00", "completed", 4, 6),
        visit("very_high", "2026-09-03T10:00:00", "scheduled", 4),         # open and overdue
        visit("high", "2026-09-01T10:00:00", "completed", 168, 100),
        visit("high", "2026-09-05T10:00:00", "no_access", 168),
        visit("high", "2026-10-30T10:00:00", "requested", 168),           # open, not yet due
        visit("medium", "2026-09-01T10:00:00", "declined", 720),
        visit("medium", "2026-12-01T10:00:00", "completed", 720, 10),     # outside the period
    ]
    table = reports.hfsv(visits, AUTUMN, now=at("2026-10-31T12:00:00"))
    rows = {row["priority"]: row for row in table.rows}
    assert rows["very_high"] == {"priority": "very_high", "target": "4 hours", "requested": 3, "completed": 2,
                                 "completion_pct": 66.7, "within_target": 1, "within_target_pct": 50.0,
                                 "median_hours_to_visit": 4.5, "no_access": 0, "declined": 0, "cancelled": 0,
                                 "open": 1, "open_overdue": 1}
    assert (rows["high"]["requested"], rows["high"]["completed"], rows["high"]["no_access"],
            rows["high"]["open"], rows["high"]["open_overdue"]) == (3, 1, 1, 1, 0)
    assert rows["high"]["median_hours_to_visit"] == 100.0
    assert (rows["medium"]["requested"], rows["medium"]["declined"], rows["medium"]["completion_pct"]) == (1, 1, 0.0)
    assert list(rows) == ["very_high", "high", "medium"]


def entry(kind, when, **facts):
    return {"type": kind, "at": at(when), "facts": facts}


def test_a_visit_is_followed_through_its_events_on_the_timeline():
    entries = [
        entry("visit_status_changed", "2026-09-03T09:00:00", visit_id="v1", status="completed", change="status",
              priority="high", due_by="2026-09-05T10:00:00+00:00", scheduled_for="2026-09-02T14:00:00+00:00"),
        entry("visit_requested", "2026-09-01T10:00:00", visit_id="v1", priority="medium",
              due_by="2026-10-01T10:00:00+00:00"),
        entry("visit_status_changed", "2026-09-01T12:00:00", visit_id="v1", status="requested",
              change="priority_raised", priority="high", due_by="2026-09-05T10:00:00+00:00"),
        entry("visit_requested", "2026-09-01T11:00:00", visit_id="v2", priority="very_high",
              due_by="2026-09-01T15:00:00+00:00"),
        entry("visit_status_changed", "2026-09-01T13:00:00", visit_id="v2", status="completed", change="status",
              priority="very_high", due_by="2026-09-01T15:00:00+00:00"),
        {"type": "visit_requested", "at": at("2026-08-01T10:00:00")},  # written before entries kept facts
    ]
    rows = sorted(reports.visit_rows(entries), key=lambda v: v.requested_at)
    assert rows == [
        VisitRow("high", at("2026-09-01T10:00:00"), at("2026-09-05T10:00:00"), "completed", at("2026-09-02T14:00:00")),
        VisitRow("very_high", at("2026-09-01T11:00:00"), at("2026-09-01T15:00:00"), "completed",
                 at("2026-09-01T13:00:00")),
    ]


# -- cir-change ---------------------------------------------------------------------------
def test_ratings_change_from_first_to_latest_per_room_and_case():
    ratings = [
        RatingRow("a", date(2026, 9, 1), {"kitchen": 7, "bedroom": 5}),
        RatingRow("a", date(2026, 10, 1), {"kitchen": 4, "bedroom": 6}),
        RatingRow("a", date(2026, 9, 15), {"kitchen": 6}),
        RatingRow("b", date(2026, 9, 2), {"kitchen": 8}),
        RatingRow("b", date(2026, 9, 20), {"kitchen": 8}),
        RatingRow("c", date(2026, 9, 2), {"bedroom": 9}),                 # once only: no change to show
        RatingRow("c", date(2026, 12, 2), {"bedroom": 2}),                # outside the period
    ]
    rows = {row["room"]: row for row in reports.cir_change(ratings, AUTUMN).rows}
    assert rows["kitchen"] == {"room": "kitchen", "cases": 2, "mean_first": 7.5, "mean_latest": 6.0,
                               "mean_change": -1.5, "improved": 1, "unchanged": 1, "worse": 0}
    assert rows["bedroom"] == {"room": "bedroom", "cases": 1, "mean_first": 5.0, "mean_latest": 6.0,
                               "mean_change": 1.0, "improved": 0, "unchanged": 0, "worse": 1}
    # highest room: a 7 -> 6, b 8 -> 8
    assert rows[reports.HIGHEST]["mean_change"] == -0.5 and rows[reports.HIGHEST]["cases"] == 2
    assert list(rows)[-1] == reports.HIGHEST


# -- disclosure control ----------------------------------------------------------------------
def test_small_counts_and_what_is_derived_from_them_are_suppressed_in_an_export():
    rows = [ReferralRow("mind", date(2026, 9, d)) for d in range(1, 6)] + \
        [ReferralRow("gp", date(2026, 9, 1))]
    table = reports.disclosed(reports.referrals_by_agency(rows, AUTUMN))
    assert table.suppressed
    assert [row["referrals"] for row in table.rows] == ["<5", 5]  # gp, mind

    contact = reports.first_contact(
        [ContactRow(date(2026, 9, 7), date(2026, 9, 8), closed=False) for _ in range(6)] +
        [ContactRow(date(2026, 10, 5), date(2026, 10, 6), closed=False) for _ in range(3)],
        AUTUMN, promise_days=5, today=date(2026, 10, 20))
    september, october = reports.disclosed(contact).rows
    assert (september["contacted"], september["within_promise_pct"], september["median_working_days"]) == (6, 100.0, 1)
    assert september["awaiting_contact"] == 0  # nothing to protect
    assert (october["contacted"], october["within_promise_pct"], october["median_working_days"]) == (
        "<5", "suppressed", "suppressed")


def test_a_rate_is_suppressed_when_its_numerator_is_small_too():
    visits = [visit("high", f"2026-09-{d:02d}T10:00:00", "completed", 168, 200 if d < 4 else 10)
              for d in range(1, 8)]
    [_, high, _] = reports.disclosed(reports.hfsv(visits, AUTUMN, now=at("2026-10-31T00:00:00"))).rows
    assert (high["completed"], high["completion_pct"]) == (7, 100.0)
    # 4 of 7 on time: the 57.1% would give the 4 away
    assert (high["within_target"], high["within_target_pct"]) == ("<5", "suppressed")
    assert high["median_hours_to_visit"] == 10.0


def test_a_csv_export_has_the_columns_as_its_header_and_empty_cells_for_no_figure():
    table = reports.disclosed(reports.first_contact([ContactRow(date(2026, 9, 7), None, closed=False)], AUTUMN,
                                                    promise_days=5, today=date(2026, 9, 8)))
    lines = list(csv.reader(io.StringIO(table.as_csv())))
    assert lines[0] == [c.name for c in table.columns]
    assert lines[1] == ["2026-09", "<5", "0", "0", "", "", "<5", "0", "0"]


# -- what the timeline keeps for the reports ------------------------------------------------
def test_a_timeline_entry_keeps_only_the_non_personal_facts_of_its_event():
    from services.common.envelope import new_event
    from services.referrals.events import timeline_entry

    moved = new_event("case_status_changed", case_id="c1", correlation_id="c", producer="referrals",
                      data={"from": "accepted", "to": "in_progress", "reason": "called Ada at home", "actor": "k"})
    assert timeline_entry(moved, "moved")["facts"] == {"from": "accepted", "to": "in_progress"}
    booked = new_event("visit_status_changed", case_id="c1", correlation_id="c", producer="safety",
                       data={"visit_id": "v1", "status": "scheduled", "priority": "high", "actor": "officer:k",
                             "due_by": "2026-09-05T10:00:00+00:00", "scheduled_for": None, "change": "status"})
    assert timeline_entry(booked, "booked")["facts"] == {"visit_id": "v1", "status": "scheduled", "priority": "high",
                                                         "due_by": "2026-09-05T10:00:00+00:00", "change": "status"}
    received = new_event("referral_received", case_id="c1", correlation_id="c", producer="referrals",
                         data={"person": {"given_name": "Ada"}, "agency": "mind"})
    assert "facts" not in timeline_entry(received, "received")


# -- attendance ---------------------------------------------------------------------------------
def test_attendance_counts_the_latest_record_per_person_and_each_person_once_a_month():
    from services.referrals.reports import AttendanceRow

    def row(session, who, came, recorded, starts="2026-09-03T17:30:00", kind="online"):
        return AttendanceRow(session, kind, at(starts), who, came, at(recorded))
    rows = [row("s1", "a", True, "2026-09-03T20:00:00"), row("s1", "b", True, "2026-09-03T20:00:00"),
            row("s1", "b", False, "2026-09-04T08:00:00"),            # corrected: did not come
            row("s2", "a", True, "2026-09-20T20:00:00", starts="2026-09-20T09:00:00", kind="huddle"),
            row("s3", "a", True, "2026-07-01T20:00:00", starts="2026-07-01T09:00:00")]   # before the period
    table = reports.attendance(rows, AUTUMN)
    sessions = [r for r in table.rows if r["kind"] != "all"]
    assert [(r["session"], r["came"], r["did_not_come"]) for r in sessions] == [
        ("2026-09-03 18:30", 1, 1), ("2026-09-20 10:00", 1, 0)]
    [month] = [r for r in table.rows if r["kind"] == "all"]
    assert (month["came"], month["did_not_come"], month["people_who_came"], month["attendance_rate"]) == (
        2, 1, 1, 66.7)
