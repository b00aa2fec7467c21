"""Reports over the real wire: a seeded autumn of referrals, moves, visits and ratings.

The right answers are worked out by hand in this file (the tables beside each seed), never with
services/referrals/reports.py. Referrals, moves and ratings go in over HTTP and visits as safety's
events over the broker; only the times a test cannot wait for (when a referral arrived, when first
contact was made) are then set in the database, as if those requests had come on those days.
"""
import csv
import io
from datetime import datetime, timezone

import pytest
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_waiter

from services.common.envelope import new_event
from tests.support import referral

AUTUMN = {"from": "2026-08-01", "to": "2026-10-31"}

# given name, agency, when the referral arrived (UTC), what the coordinator did
SEED = [
    ("Ann", "mind", "2026-09-01T10:00:00", "contacted 2026-09-08"),   # Tue -> Tue: 5 working days, kept
    ("Bob", "mind", "2026-09-02T10:00:00", "contacted 2026-09-10"),   # Wed -> Thu: 6, broken
    ("Cat", "mind", "2026-08-27T10:00:00", "contacted 2026-09-04"),   # Thu -> Fri over the 31 Aug bank holiday: 5
    ("Dan", "mind", "2026-09-04T10:00:00", "rejected"),
    ("Eve", "mind", "2026-09-07T10:00:00", "accepted"),
    ("Fay", "rethink", "2026-09-08T10:00:00", None),
    ("Jo", "mind", "2026-09-09T10:00:00", None),
    ("Gus", "rethink", "2026-09-30T23:30:00", None),                  # 00:30 on 1 October in London
    ("Hal", "gp", "2026-10-05T10:00:00", None),                       # referred by a coordinator for the GP
    ("Ida", "mind", "2026-07-31T10:00:00", None),                     # before the period
]


def utc(text):
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


@pytest.fixture
def admin(api, key_store):
    api.tokens["admin"] = key_store.create("admin")[1]
    return "admin"


@pytest.fixture
def seeded(api):
    cases = {}
    for name, agency, received, done in SEED:
        body = referral({"person.given_name": name, "referrer.agency": agency, "hoarding.rated_on": received[:10]})
        who = {"mind": "mind", "rethink": "rethink"}.get(agency, "coordinator")
        created = api.refer(body, who=who).json()
        case_id = cases[name] = created["case_id"]
        stored = api.cases.find_one({"_id": case_id})
        for record in stored["referrals"]:
            record["received_at"] = utc(received)
        api.cases.update_one({"_id": case_id}, {"$set": {"referrals": stored["referrals"],
                                                          "created_at": utc(received)}})
        if done == "rejected":
            assert api.move(case_id, "rejected").status_code == 200
        elif done == "accepted":
            assert api.move(case_id, "accepted").status_code == 200
        elif done:
            assert api.move(case_id, "accepted").status_code == 200
            assert api.move(case_id, "in_progress", "first call made").status_code == 200
            contacted = utc(done.split()[1] + "T11:00:00")
            timeline = api.cases.find_one({"_id": case_id})["timeline"]
            for entry in timeline:
                if entry["type"] == "case_status_changed":
                    entry["at"] = contacted
            api.cases.update_one({"_id": case_id}, {"$set": {"timeline": timeline}})
    return cases


def report(api, name, who="coordinator", **params):
    return api.call("GET", f"/reports/{name}", who, params={**AUTUMN, **params})


def test_referrals_by_agency_per_month_exact_in_json_and_small_counts_hidden_in_csv(api, seeded, admin):
    response = report(api, "referrals-by-agency")
    assert response.status_code == 200
    body = response.json()
    assert (body["report"], body["from"], body["to"], body["suppressed"]) == (
        "referrals-by-agency", "2026-08-01", "2026-10-31", False)
    assert body["rows"] == [
        {"month": "2026-08", "agency": "mind", "referrals": 1},      # Cat
        {"month": "2026-09", "agency": "mind", "referrals": 5},      # Ann, Bob, Dan, Eve, Jo
        {"month": "2026-09", "agency": "rethink", "referrals": 1},   # Fay
        {"month": "2026-10", "agency": "gp", "referrals": 1},        # Hal
        {"month": "2026-10", "agency": "rethink", "referrals": 1},   # Gus, late on 30 September UTC
    ]
    exported = report(api, "referrals-by-agency", who=admin, format="csv")
    assert exported.status_code == 200
    assert exported.headers["Content-Type"].startswith("text/csv")
    assert 'filename="referrals-by-agency_2026-08-01_2026-10-31.csv"' in exported.headers["Content-Disposition"]
    assert list(csv.reader(io.StringIO(exported.text))) == [
        ["month", "agency", "referrals"],
        ["2026-08", "mind", "<5"], ["2026-09", "mind", "5"], ["2026-09", "rethink", "<5"],
        ["2026-10", "gp", "<5"], ["2026-10", "rethink", "<5"]]


def test_first_contact_in_working_days_against_the_promise(api, seeded):
    rows = {row["month"]: row for row in report(api, "first-contact").json()["rows"]}
    assert rows == {
        "2026-08": {"month": "2026-08", "cases": 1, "contacted": 1, "within_promise": 1, "within_promise_pct": 100.0,
                    "median_working_days": 5, "awaiting_contact": 0, "awaiting_past_promise": 0,
                    "closed_before_contact": 0},
        # Ann 5, Bob 6 contacted; Eve, Fay, Jo waiting (long past 5 working days); Dan rejected
        "2026-09": {"month": "2026-09", "cases": 6, "contacted": 2, "within_promise": 1, "within_promise_pct": 50.0,
                    "median_working_days": 5.5, "awaiting_contact": 3, "awaiting_past_promise": 3,
                    "closed_before_contact": 1},
        "2026-10": {"month": "2026-10", "cases": 2, "contacted": 0, "within_promise": 0, "within_promise_pct": None,
                    "median_working_days": None, "awaiting_contact": 2, "awaiting_past_promise": 2,
                    "closed_before_contact": 0},
    }


def test_home_fire_safety_visits_per_priority_from_the_visit_events(api, seeded):
    def visit_event(kind, name, when, **data):
        event = new_event(kind, case_id=seeded[name], correlation_id="seed", producer="safety",
                          data={"visit_id": f"v-{name}", "reference": "HRW-x", **data})
        event["occurred_at"] = utc(when).isoformat()
        return event

    def changed(name, when, status, priority, due_by, change="status", **data):
        return visit_event("visit_status_changed", name, when, status=status, priority=priority,
                           due_by=utc(due_by).isoformat(), change=change, **data)

    def requested(name, when, priority, due_by):
        return visit_event("visit_requested", name, when, priority=priority, due_by=utc(due_by).isoformat())

    events = [
        # very high (4 hours): Ann visited after 3 hours, Bob after 7
        requested("Ann", "2026-09-01T10:00:00", "very_high", "2026-09-01T14:00:00"),
        changed("Ann", "2026-09-01T16:00:00", "completed", "very_high", "2026-09-01T14:00:00",
                scheduled_for="2026-09-01T13:00:00+00:00", outcome="completed"),
        requested("Bob", "2026-09-02T10:00:00", "very_high", "2026-09-02T14:00:00"),
        changed("Bob", "2026-09-02T18:00:00", "completed", "very_high", "2026-09-02T14:00:00",
                scheduled_for="2026-09-02T17:00:00+00:00", outcome="completed"),
        # high (7 days): Cat no access; Fay raised from medium, visited 72 hours after her request
        requested("Cat", "2026-08-27T10:00:00", "high", "2026-09-03T10:00:00"),
        changed("Cat", "2026-08-29T10:00:00", "no_access", "high", "2026-09-03T10:00:00"),
        requested("Fay", "2026-09-08T10:00:00", "medium", "2026-10-08T10:00:00"),
        changed("Fay", "2026-09-09T10:00:00", "requested", "high", "2026-09-16T10:00:00", change="priority_raised"),
        changed("Fay", "2026-09-12T10:00:00", "completed", "high", "2026-09-16T10:00:00",
                scheduled_for="2026-09-11T10:00:00+00:00"),
        # medium (1 month): Eve booked, never visited, long overdue
        requested("Eve", "2026-09-07T10:00:00", "medium", "2026-10-07T10:00:00"),
        changed("Eve", "2026-09-10T10:00:00", "scheduled", "medium", "2026-10-07T10:00:00",
                scheduled_for="2026-10-20T10:00:00+00:00"),
        # before the period
        requested("Ida", "2026-07-31T10:00:00", "high", "2026-08-07T10:00:00"),
    ]
    dispatch = event_dispatcher(api.config)
    for event in events:
        with entrypoint_waiter(api.container, "record_on_timeline", timeout=10):
            dispatch("safety", event["event_type"], event)
    rows = {row["priority"]: row for row in report(api, "hfsv").json()["rows"]}
    assert rows["very_high"] == {"priority": "very_high", "target": "4 hours", "requested": 2, "completed": 2,
                                 "completion_pct": 100.0, "within_target": 1, "within_target_pct": 50.0,
                                 "median_hours_to_visit": 5.0, "no_access": 0, "declined": 0, "cancelled": 0,
                                 "open": 0, "open_overdue": 0}
    assert rows["high"] == {"priority": "high", "target": "7 days", "requested": 2, "completed": 1,
                            "completion_pct": 50.0, "within_target": 1, "within_target_pct": 100.0,
                            "median_hours_to_visit": 72.0, "no_access": 1, "declined": 0, "cancelled": 0,
                            "open": 0, "open_overdue": 0}
    assert rows["medium"] == {"priority": "medium", "target": "1 month", "requested": 1, "completed": 0,
                              "completion_pct": 0.0, "within_target": 0, "within_target_pct": None,
                              "median_hours_to_visit": None, "no_access": 0, "declined": 0, "cancelled": 0,
                              "open": 1, "open_overdue": 1}
    exported = list(csv.DictReader(io.StringIO(report(api, "hfsv", format="csv").text)))
    assert [(r["priority"], r["requested"], r["completion_pct"], r["median_hours_to_visit"]) for r in exported] == [
        ("very_high", "<5", "suppressed", "suppressed"), ("high", "<5", "suppressed", "suppressed"),
        ("medium", "<5", "suppressed", "")]


def test_clutter_ratings_from_first_to_latest(api, seeded):
    # every referral rated living room 7, kitchen 5, bedroom 6 on the day it arrived
    for name, rated_on, ratings in (("Ann", "2026-10-01", {"living_room": 5, "kitchen": 5, "bedroom": 4}),
                                    ("Bob", "2026-10-02", {"living_room": 8}),
                                    ("Cat", "2026-09-20", {"kitchen": 3}),
                                    ("Cat", "2026-10-20", {"kitchen": 2}),
                                    ("Ida", "2026-10-01", {"living_room": 1})):   # Ida's first is before the period
        response = api.call("POST", f"/cases/{seeded[name]}/cir-ratings", "coordinator",
                            {"ratings": ratings, "rated_on": rated_on})
        assert response.status_code == 201
    rows = {row["room"]: row for row in report(api, "cir-change").json()["rows"]}
    assert rows == {
        "bedroom": {"room": "bedroom", "cases": 1, "mean_first": 6.0, "mean_latest": 4.0, "mean_change": -2.0,
                    "improved": 1, "unchanged": 0, "worse": 0},                       # Ann 6 -> 4
        "kitchen": {"room": "kitchen", "cases": 2, "mean_first": 5.0, "mean_latest": 3.5, "mean_change": -1.5,
                    "improved": 1, "unchanged": 1, "worse": 0},                       # Ann 5 -> 5, Cat 5 -> 2
        "living_room": {"room": "living_room", "cases": 2, "mean_first": 7.0, "mean_latest": 6.5,
                        "mean_change": -0.5, "improved": 1, "unchanged": 0, "worse": 1},  # Ann 7 -> 5, Bob 7 -> 8
        "highest (any room)": {"room": "highest (any room)", "cases": 3, "mean_first": 7.0, "mean_latest": 5.0,
                               "mean_change": -2.0, "improved": 2, "unchanged": 0, "worse": 1},  # 7->5, 7->8, 7->2
    }


def test_attendance_per_session_and_per_month_from_the_session_events(api, seeded):
    def attended(name, session_id, kind, starts_at, came, recorded_at, supporter_id=None):
        data = {"session_id": session_id, "kind": kind, "starts_at": utc(starts_at).isoformat(), "attended": came}
        if supporter_id:
            data["supporter_id"] = supporter_id
        event = new_event("session_attendance_recorded", case_id=seeded[name], correlation_id="seed",
                          producer="notifications", data=data)
        event["occurred_at"] = utc(recorded_at).isoformat()
        return event

    events = [
        # S1, online, Thu 3 Sep 18:30 London (17:30 UTC): Ann came; Bob first marked as came, then
        # corrected to did not come (the later record counts); Cat did not come
        attended("Ann", "s1", "online", "2026-09-03T17:30:00", True, "2026-09-03T20:00:00"),
        attended("Bob", "s1", "online", "2026-09-03T17:30:00", True, "2026-09-03T20:00:00"),
        attended("Bob", "s1", "online", "2026-09-03T17:30:00", False, "2026-09-04T09:00:00"),
        attended("Cat", "s1", "online", "2026-09-03T17:30:00", False, "2026-09-03T20:00:00"),
        # S2, face to face, Sat 10 Oct 11:00 London: Ann, her supporter and Eve came
        attended("Ann", "s2", "face_to_face", "2026-10-10T10:00:00", True, "2026-10-10T14:00:00"),
        attended("Ann", "s2", "face_to_face", "2026-10-10T10:00:00", True, "2026-10-10T14:00:00", "sup-1"),
        attended("Eve", "s2", "face_to_face", "2026-10-10T10:00:00", True, "2026-10-10T14:00:00"),
        # S3 is after the period
        attended("Ann", "s3", "huddle", "2026-11-05T18:00:00", True, "2026-11-05T20:00:00"),
    ]
    dispatch = event_dispatcher(api.config)
    for event in events:
        with entrypoint_waiter(api.container, "record_on_timeline", timeout=10):
            dispatch("notifications", event["event_type"], event)
    rows = report(api, "attendance").json()["rows"]
    assert rows == [
        {"month": "2026-09", "session": "2026-09-03 18:30", "kind": "online", "came": 1, "did_not_come": 2,
         "attendance_rate": 33.3, "people_who_came": None},
        {"month": "2026-10", "session": "2026-10-10 11:00", "kind": "face to face", "came": 3, "did_not_come": 0,
         "attendance_rate": 100.0, "people_who_came": None},
        {"month": "2026-09", "session": "month total (1 session)", "kind": "all", "came": 1, "did_not_come": 2,
         "attendance_rate": 33.3, "people_who_came": 1},
        {"month": "2026-10", "session": "month total (1 session)", "kind": "all", "came": 3, "did_not_come": 0,
         "attendance_rate": 100.0, "people_who_came": 3},
    ]
    exported = list(csv.DictReader(io.StringIO(report(api, "attendance", format="csv").text)))
    assert [(r["came"], r["did_not_come"], r["attendance_rate"]) for r in exported][:2] == [
        ("<5", "<5", "suppressed"), ("<5", "0", "suppressed")]


def test_reports_refuse_what_they_cannot_answer(api, admin):
    assert report(api, "no-such-report").status_code == 404
    assert "referrals-by-agency" in report(api, "no-such-report").json()["message"]
    bad_date = api.call("GET", "/reports/hfsv", "coordinator", params={"from": "2026-13-01", "to": "2026-10-31"})
    assert bad_date.status_code == 400
    assert bad_date.json()["fields"] == {"from": ["must be a date as YYYY-MM-DD, e.g. 2026-11-30"]}
    backwards = api.call("GET", "/reports/hfsv", "coordinator", params={"from": "2026-11-01", "to": "2026-10-31"})
    assert backwards.status_code == 400 and backwards.json()["fields"] == {"from": ["must not be after to"]}
    missing = api.call("GET", "/reports/hfsv", "coordinator", params={"from": "2026-11-01"})
    assert missing.status_code == 400 and set(missing.json()["fields"]) == {"to"}
    assert report(api, "hfsv", format="xlsx").json()["fields"] == {"format": ["must be json or csv"]}
    assert report(api, "hfsv", who="mind").status_code == 403
    assert report(api, "hfsv", who=admin).status_code == 200
    spec = api.call("GET", "/openapi.json", "coordinator").json()["paths"]["/reports/{name}"]["get"]
    assert set(spec["responses"]["200"]["content"]) == {"application/json", "text/csv"}
    assert "<5" in spec["description"]
