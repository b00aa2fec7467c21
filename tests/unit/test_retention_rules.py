"""Retention's pure rules: dates, the days a run asks for, due or not yet."""
from datetime import date

from services.common.retention import (ACT, MAX_CATCH_UP_DAYS, NOT_YET, RetentionSchedule, add_months, days_to_ask,
                                       due_verdict)


def test_months_keep_the_day_or_take_the_months_last():
    assert add_months(date(2026, 11, 29), 24) == date(2028, 11, 29)
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2027, 8, 31), 6) == date(2028, 2, 29)
    assert add_months(date(2026, 12, 15), 1) == date(2027, 1, 15)


def test_due_or_not_yet_with_the_day_it_comes():
    assert due_verdict(date(2026, 1, 10), 12, date(2027, 1, 9)) == (NOT_YET, date(2027, 1, 10))
    assert due_verdict(date(2026, 1, 10), 12, date(2027, 1, 10)) == (ACT, date(2027, 1, 10))


def test_a_run_asks_for_each_day_since_the_last_one():
    assert days_to_ask(date(2026, 3, 1), date(2026, 3, 3)) == [date(2026, 3, 2), date(2026, 3, 3)]
    assert days_to_ask(date(2026, 3, 3), date(2026, 3, 3)) == []
    first = days_to_ask(None, date(2026, 3, 3))
    assert len(first) == MAX_CATCH_UP_DAYS + 1 and first[-1] == date(2026, 3, 3)


def test_the_schedule_comes_from_config_with_the_documented_defaults():
    assert RetentionSchedule.from_config({}) == RetentionSchedule(24, 12, 6, 30)
    assert RetentionSchedule.from_config({"RETENTION_CLOSED_CASE_MONTHS": "36"}).closed_case_months == 36
