"""Quiet hours: when a message to the person may go, in UK time, across midnight and clock changes."""
from datetime import datetime, time, timezone
from zoneinfo import ZoneInfo

import pytest

from services.notifications.quiet_hours import first_instant_at, parse_quiet_hours


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


NIGHT = "20:00-09:00"


@pytest.mark.parametrize("spec, moment, expected", [
    # winter (GMT = UTC)
    (NIGHT, "2026-11-25T12:00", "2026-11-25T12:00"),
    (NIGHT, "2026-11-25T19:59:59", "2026-11-25T19:59:59"),
    (NIGHT, "2026-11-25T20:00", "2026-11-26T09:00"),       # the start is quiet
    (NIGHT, "2026-11-25T23:59", "2026-11-26T09:00"),
    (NIGHT, "2026-11-26T00:00", "2026-11-26T09:00"),       # after midnight: the same night
    (NIGHT, "2026-11-26T03:00", "2026-11-26T09:00"),
    (NIGHT, "2026-11-26T08:59:59", "2026-11-26T09:00"),
    (NIGHT, "2026-11-26T09:00", "2026-11-26T09:00"),       # the end is allowed
    (NIGHT, "2026-12-31T22:00", "2027-01-01T09:00"),       # across the year
    # summer (BST = UTC+1): the window is UK time, not UTC
    (NIGHT, "2026-07-01T18:59", "2026-07-01T18:59"),       # 19:59 BST
    (NIGHT, "2026-07-01T19:00", "2026-07-02T08:00"),       # 20:00 BST
    (NIGHT, "2026-07-02T07:30", "2026-07-02T08:00"),       # 08:30 BST
    (NIGHT, "2026-07-02T08:00", "2026-07-02T08:00"),       # 09:00 BST
    # clocks go forward in the night of Sat 28 / Sun 29 March 2026: a shorter night
    (NIGHT, "2026-03-28T22:00", "2026-03-29T08:00"),       # 22:00 GMT -> 09:00 BST
    (NIGHT, "2026-03-29T00:59", "2026-03-29T08:00"),       # just before the jump
    (NIGHT, "2026-03-29T01:00", "2026-03-29T08:00"),       # 02:00 BST, just after
    (NIGHT, "2026-03-29T18:59", "2026-03-29T18:59"),       # 19:59 BST on the Sunday
    # clocks go back in the night of Sat 24 / Sun 25 October 2026: a longer night
    (NIGHT, "2026-10-24T19:00", "2026-10-25T09:00"),       # 20:00 BST -> 09:00 GMT
    (NIGHT, "2026-10-25T00:30", "2026-10-25T09:00"),       # 01:30 BST, first time round
    (NIGHT, "2026-10-25T01:30", "2026-10-25T09:00"),       # 01:30 GMT, second time round
    (NIGHT, "2026-10-25T19:59", "2026-10-25T19:59"),       # 19:59 GMT on the Sunday
    # a window within one day
    ("12:00-14:00", "2026-11-25T11:59", "2026-11-25T11:59"),
    ("12:00-14:00", "2026-11-25T12:00", "2026-11-25T14:00"),
    ("12:00-14:00", "2026-11-25T14:00", "2026-11-25T14:00"),
    ("12:00-14:00", "2026-11-25T23:00", "2026-11-25T23:00"),
    # a window ending in the hour the clocks skip: it ends at the jump (02:00 BST)
    ("00:30-01:30", "2026-03-29T00:45", "2026-03-29T01:00"),
    # a window ending in the hour the clocks repeat: it ends the first time 01:30 comes round
    ("20:00-01:30", "2026-10-24T23:50", "2026-10-25T00:30"),  # 00:50 BST -> 01:30 BST
    ("20:00-01:30", "2026-10-25T01:10", "2026-10-25T01:10"),  # 01:10 GMT: that night is over
    # a window starting in the skipped hour starts at the jump
    ("01:30-06:00", "2026-03-29T00:59", "2026-03-29T00:59"),  # 00:59 GMT
    ("01:30-06:00", "2026-03-29T01:00", "2026-03-29T05:00"),  # 02:00 BST -> 06:00 BST
])
def test_next_allowed_time(spec, moment, expected):
    assert parse_quiet_hours(spec).next_allowed(utc(moment)) == utc(expected)


def test_local_times_are_accepted_and_answered_in_utc():
    quiet = parse_quiet_hours(NIGHT)
    moment = datetime(2026, 7, 1, 22, 0, tzinfo=ZoneInfo("Europe/London"))
    assert quiet.next_allowed(moment) == utc("2026-07-02T08:00")
    assert quiet.next_allowed(moment).tzinfo == timezone.utc


@pytest.mark.parametrize("spec", [None, "", "  ", "off", "OFF", "none"])
def test_no_quiet_hours(spec):
    assert parse_quiet_hours(spec) is None


@pytest.mark.parametrize("spec", ["20:00", "25:00-09:00", "20:00-9:00", "20:60-09:00",
                                  "09:00-09:00", "evening", "20:00-09:00-10:00", "20:00:60-09:00",
                                  "20:00:5-09:00", "09:00:00-09:00"])
def test_bad_quiet_hours_are_refused(spec):
    with pytest.raises(ValueError):
        parse_quiet_hours(spec)


@pytest.mark.parametrize("moment, expected", [
    ("2026-11-25T20:00:29", "2026-11-25T20:00:29"),
    ("2026-11-25T20:00:30", "2026-11-26T09:00:15"),
    ("2026-11-26T09:00:14", "2026-11-26T09:00:15"),
])
def test_seconds_make_a_window_precise_to_the_second(moment, expected):
    assert parse_quiet_hours("20:00:30-09:00:15").next_allowed(utc(moment)) == utc(expected)


def test_spaces_around_the_dash_are_fine():
    quiet = parse_quiet_hours(" 21:30 - 08:15 ")
    assert (quiet.start, quiet.end) == (time(21, 30), time(8, 15))


def test_naive_moments_are_refused():
    with pytest.raises(ValueError):
        parse_quiet_hours(NIGHT).next_allowed(datetime(2026, 11, 25, 21, 0))


@pytest.mark.parametrize("day, wall, expected", [
    ("2026-11-25", time(9, 0), "2026-11-25T09:00"),
    ("2026-07-01", time(9, 0), "2026-07-01T08:00"),
    ("2026-03-29", time(1, 30), "2026-03-29T01:00"),   # skipped: the jump
    ("2026-10-25", time(1, 30), "2026-10-25T00:30"),   # repeated: the first time
])
def test_first_instant_at(day, wall, expected):
    from datetime import date
    assert first_instant_at(date.fromisoformat(day), wall) == utc(expected)
