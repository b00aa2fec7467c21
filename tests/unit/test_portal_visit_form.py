"""The officer's booking and outcome forms: London time with the right offset, plain-word errors."""
from werkzeug.datastructures import MultiDict

from services.portal.visit_form import booking_from_form, outcome_from_form


def booking(day, month, year, time):
    return booking_from_form(MultiDict({"visit-date-day": day, "visit-date-month": month,
                                        "visit-date-year": year, "visit-time": time}))


def test_a_booking_is_sent_in_london_time_with_its_offset():
    assert booking("1", "12", "2026", "14:30") == ("2026-12-01T14:30:00+00:00", [])   # GMT
    assert booking("1", "7", "2027", "9.05") == ("2027-07-01T09:05:00+01:00", [])     # BST


def test_bad_bookings_are_named_in_plain_words():
    assert [e["text"] for e in booking("", "", "", "")[1]] == [
        "Enter the date of the visit", "Enter the time of the visit"]
    assert [e["text"] for e in booking("30", "2", "2027", "25:00")[1]] == [
        "The date of the visit must be a real date, like 1 12 2026",
        "Enter the time of the visit in 24-hour time, like 14:30"]
    assert booking("3", "", "2027", "10:00")[1][0] == {
        "field": "visit-date-month", "href": "#visit-date-month", "text": "The date of the visit must include a month"}


def test_an_outcome_needs_what_happened_and_keeps_only_known_actions():
    body, errors = outcome_from_form(MultiDict([("outcome", "no_access"), ("actions", "leaflet_left"),
                                                ("actions", "made_up"), ("notes", "  ")]))
    assert (body, errors) == ({"outcome": "no_access", "actions": ["leaflet_left"], "notes": None}, [])
    assert outcome_from_form(MultiDict())[1][0]["text"] == "Select what happened at the visit"
    assert outcome_from_form(MultiDict({"outcome": "completed", "notes": "x" * 2001}))[1][0]["field"] == "notes"
