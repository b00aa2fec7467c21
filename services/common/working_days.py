"""Working days in England: Monday to Friday, less England's bank holidays.

The group promises a first call within 5 working days of a referral; the bank holidays come
from the maintained `holidays` package (England subdivision of GB, substitute days included).
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

LONDON = ZoneInfo("Europe/London")


@lru_cache(maxsize=64)
def _bank_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year).keys())


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _bank_holidays(day.year)


def add_working_days(start: date, days: int) -> date:
    """The working day `days` working days after `start` (which itself need not be one)."""
    if days < 0:
        raise ValueError("days must not be negative")
    day = start
    while days:
        day += timedelta(days=1)
        if is_working_day(day):
            days -= 1
    return day


def working_days_between(start: date, end: date) -> int:
    """How many working days fall after `start` up to and including `end` (0 when end <= start)."""
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        count += is_working_day(day)
    return count


def london_date(moment: datetime) -> date:
    """The date in London at an aware (or naive UTC) moment."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    return moment.astimezone(LONDON).date()


def promise_due_by(received_at: datetime, days: int) -> datetime:
    """The end (23:59:59 London) of the `days`-th working day after the London date of `received_at`,
    as an aware UTC datetime: the moment a promise 'within N working days' is broken."""
    due_day = add_working_days(london_date(received_at), days)
    return datetime.combine(due_day, time(23, 59, 59), tzinfo=LONDON).astimezone(ZoneInfo("UTC"))
