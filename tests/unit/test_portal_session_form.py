"""The coordinator's session forms: London time with its offset, the place the kind needs, plain-word
errors by the field, and the notifications service's refusals turned into words."""
from datetime import datetime, timezone

from werkzeug.datastructures import MultiDict

from services.portal import session_form as sf

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
SESSION = {"session_id": "s1", "kind": "online", "starts_at": "2026-12-03T18:30:00+00:00",
           "ends_at": "2026-12-03T20:00:00+00:00", "joining_link": "https://meet.example.org/a", "capacity": 10,
           "seats_taken": 2, "version": 3, "status": "scheduled", "audience": "members"}


def plan(**typed):
    fields = {"kind": "online", "date-day": "3", "date-month": "12", "date-year": "2026", "start-time": "18:30",
              "end-time": "20:00", "place": "https://meet.example.org/harrow", "places": "12",
              "audience": "members", **typed}
    return sf.plan_from_form(MultiDict({k: v for k, v in fields.items() if v is not None}), NOW)


def texts(result):
    return [(e["field"], e["text"]) for e in result[1]]


def test_a_session_is_planned_in_london_time_with_its_offset():
    body, errors = plan()
    assert errors == []
    assert body == {"kind": "online", "starts_at": "2026-12-03T18:30:00+00:00", "ends_at": "2026-12-03T20:00:00+00:00",
                    "joining_link": "https://meet.example.org/harrow", "capacity": 12, "audience": "members"}
    summer, _ = plan(**{"date-month": "7", "date-year": "2027", "start-time": "9.05", "end-time": "10:00"})
    assert summer["starts_at"] == "2027-07-03T09:05:00+01:00"       # BST


def test_each_kind_asks_for_its_own_place_and_sends_only_that():
    body, _ = plan(kind="face_to_face", place="Harrow Arts Centre")
    assert body["venue"] == "Harrow Arts Centre" and "joining_link" not in body
    assert texts(plan(kind="huddle", place="")) == [("place", "Enter the number to call, with any PIN")]
    assert texts(plan(place="zoom meeting 123")) == [("place", "Enter the joining link as a web address starting "
                                                              "with https://, like https://meet.example.org/harrow-group")]


def test_a_bad_plan_names_every_problem_in_plain_words():
    result = plan(kind=None, **{"date-day": "31", "date-month": "2", "start-time": "25:00", "end-time": "",
                                "places": "lots", "audience": None})
    assert texts(result) == [
        ("kind", "Select whether the session is face to face, online or a phone huddle"),
        ("date-day", "Enter a real date, like 27 11 2026"),
        ("start-time", "Enter the start time in 24-hour time, like 18:30"),
        ("end-time", "Enter the end time, like 20:00"),
        ("places", "Enter the number of places as a number from 1 to 500, like 12"),
        ("audience", "Select who the session is for")]
    assert result[0] is None


def test_a_plan_must_start_in_the_future_and_end_after_it_starts():
    assert texts(plan(**{"date-day": "20", "date-month": "11", "start-time": "11:00", "end-time": "13:00"})) == [
        ("date-day", "The session must start at a time that has not passed yet")]
    assert texts(plan(**{"end-time": "18:00"})) == [
        ("end-time", "The end time must be after the start time, like 20:00")]
    assert texts(plan(places="0"))[0][0] == "places" and texts(plan(places="501"))[0][0] == "places"


def test_a_change_sends_only_what_changed_against_the_version_read():
    same = MultiDict({**sf.change_values(SESSION), "version": "3"})
    assert same["new-start-time"] == "18:30" and same["new-place"] == "https://meet.example.org/a"
    assert texts(sf.change_from_form(same, SESSION, NOW))[0][0] == "new-date-day"    # nothing changed
    more = MultiDict({**same, "new-places": "14"})
    assert sf.change_from_form(more, SESSION, NOW) == ({"version": 3, "capacity": 14}, [])
    later = MultiDict({**same, "new-start-time": "19:00", "new-end-time": "20:30"})
    body, _ = sf.change_from_form(later, SESSION, NOW)
    assert body == {"version": 3, "starts_at": "2026-12-03T19:00:00+00:00", "ends_at": "2026-12-03T20:30:00+00:00"}


def test_a_cancellation_needs_a_reason():
    assert sf.cancel_from_form(MultiDict({"version": "3", "cancel-reason": " Venue flooded "})) == (
        {"version": 3, "reason": "Venue flooded"}, [])
    assert texts(sf.cancel_from_form(MultiDict({"version": "3", "cancel-reason": ""}))) == [
        ("cancel-reason", "Enter why the session is cancelled: everyone invited is told")]


def test_one_case_is_found_by_reference_or_id():
    assert sf.case_to_invite(MultiDict({"case": " hrw-2026-000123 "})) == ("HRW-2026-000123", [])
    assert sf.case_to_invite(MultiDict({"case": "0f6c1d3e-uuid"})) == ("0f6c1d3e-uuid", [])
    assert texts(sf.case_to_invite(MultiDict({"case": ""}))) == [
        ("case", "Enter the case's reference, like HRW-2026-000123")]


INVITED = [{"case_id": "c1", "answer": None}, {"case_id": "c2", "answer": "yes"}]


def test_an_answer_is_for_someone_invited():
    assert sf.reply_from_form(MultiDict({"invitee": "c1", "answer": "no"}), SESSION, INVITED) == (
        {"case_id": "c1", "answer": "no"}, [])
    assert [f for f, _ in texts(sf.reply_from_form(MultiDict({"invitee": "c9"}), SESSION, INVITED))] == [
        "invitee", "answer"]
    supporters = {**SESSION, "audience": "supporters"}
    invited = [{"case_id": "c1", "supporter_id": "p1"}]
    assert sf.reply_from_form(MultiDict({"invitee": "p1", "answer": "yes"}), supporters, invited)[0] == {
        "supporter_id": "p1", "answer": "yes"}


def test_attendance_ticks_who_came_and_everyone_else_invited_did_not():
    assert sf.attendance_from_form(MultiDict([("came", "c2")]), INVITED) == (
        {"attended": ["c2"], "absent": ["c1"]}, [])
    assert sf.attendance_from_form(MultiDict(), INVITED)[0] == {"attended": [], "absent": ["c1", "c2"]}
    assert texts(sf.attendance_from_form(MultiDict([("came", "c9")]), INVITED))[0][0] == "came"
    assert texts(sf.attendance_from_form(MultiDict(), []))[0][0] == "came"


def test_the_services_refusals_are_told_in_plain_words():
    full = sf.errors_from_api(409, {"error": "session_full"}, "reply")
    assert full == [sf.error("reply", sf.API_WORDS["session_full"])]
    below = sf.errors_from_api(400, {"fields": {"capacity": [
        "3 people have said yes: the capacity cannot go below that"]}}, "change", "new-")
    assert below == [sf.error("new-places", "3 people have said yes, so there must be at least 3 places")]
    stranger = sf.errors_from_api(400, {"fields": {"case_ids": ["c9: the case is received, not an accepted member"]}},
                                  "invite")
    assert stranger[0]["field"] == "invite" and "accepted" in stranger[0]["text"]
    past = sf.errors_from_api(400, {"fields": {"starts_at": ["must be in the future"]}}, "kind")
    assert past == [sf.error("date-day", "The session must start at a time that has not passed yet")]


def test_words_and_times_on_the_pages():
    assert sf.when_words(SESSION["starts_at"], SESSION["ends_at"]) == "Thu 3 Dec 2026, 18:30 to 20:00"
    assert sf.status_words(SESSION, NOW) == ("Planned", "blue")
    during = datetime(2026, 12, 3, 19, 0, tzinfo=timezone.utc)
    assert sf.status_words(SESSION, during) == ("Happening now", "orange")
    assert not sf.is_open(SESSION, during) and sf.has_started(SESSION, during)
    assert sf.is_open(SESSION, NOW) and not sf.has_started(SESSION, NOW)
    old = {**SESSION, "session_id": "s0", "starts_at": "2026-11-01T10:00:00+00:00",
           "ends_at": "2026-11-01T11:00:00+00:00"}
    assert sf.split_by_time([SESSION, old], NOW) == ([SESSION], [old])


def supporter(**typed):
    fields = {"supporter-given-name": "Jo", "supporter-family-name": "Jones", "supporter-relationship": "daughter",
              "supporter-phone": "07700 900456", "supporter-contact": "sms", "supporter-consent": "yes",
              "supporter-asked-by": "Alex Morgan", "supporter-asked-on-day": "19", "supporter-asked-on-month": "11",
              "supporter-asked-on-year": "2026", **typed}
    return sf.supporter_from_form(MultiDict({k: v for k, v in fields.items() if v is not None}), "case-1",
                                  NOW.date())


def test_a_supporter_is_added_with_the_persons_agreement_and_a_way_to_reach_them():
    assert supporter() == ({"case_id": "case-1", "given_name": "Jo", "family_name": "Jones",
                            "relationship": "daughter", "phone": "07700 900456", "preferred_contact": "sms",
                            "person_consent": {"obtained_by": "Alex Morgan", "obtained_on": "2026-11-19"}}, [])
    by_post, _ = supporter(**{"supporter-contact": "letter", "supporter-line1": "1 High St",
                              "supporter-town": "Harrow", "supporter-postcode": "HA1 1AA"})
    assert by_post["address"] == {"line1": "1 High St", "town": "Harrow", "postcode": "HA1 1AA"}


def test_a_supporter_form_names_what_is_missing():
    assert texts(supporter(**{"supporter-given-name": "", "supporter-contact": "email", "supporter-consent": None,
                              "supporter-asked-on-day": "21"})) == [
        ("supporter-given-name", "Enter the supporter's first name"),
        ("supporter-contact", "Enter their email address to reach them by email"),
        ("supporter-consent", "Confirm that they agreed to this supporter being involved"),
        ("supporter-asked-on-day", "The day they agreed cannot be in the future")]
    assert texts(supporter(**{"supporter-contact": "letter", "supporter-line1": "1 High St"}))[0] == (
        "supporter-town", "Enter the whole postal address: first line, town and postcode")
    assert texts(sf.removal_from_form(MultiDict({"removal-reason": " "}))) == [
        ("supporters", 'Enter why the supporter is removed, like "They asked us to"')]
