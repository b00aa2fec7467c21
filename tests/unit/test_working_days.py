from datetime import date, datetime, timezone

import pytest

from services.common.working_days import (add_working_days, is_working_day, promise_due_by,
                                          working_days_between)


def test_weekends_and_english_bank_holidays_are_not_working_days():
    assert not is_working_day(date(2026, 12, 25))   # Christmas Day, a Friday
    assert not is_working_day(date(2026, 12, 28))   # Boxing Day substitute (26th is a Saturday)
    assert not is_working_day(date(2026, 12, 27))   # Sunday
    assert is_working_day(date(2026, 12, 29))
    assert not is_working_day(date(2027, 3, 26))    # Good Friday 2027
    assert is_working_day(date(2027, 3, 17))        # St Patrick's Day is a holiday in NI only


def test_five_working_days_skip_christmas():
    # referred Wednesday 23 Dec 2026: 24th, 29th, 30th, 31st, 4 Jan (1 Jan is New Year's Day)
    assert add_working_days(date(2026, 12, 23), 5) == date(2027, 1, 4)
    assert add_working_days(date(2026, 11, 30), 5) == date(2026, 12, 7)
    assert add_working_days(date(2026, 12, 5), 0) == date(2026, 12, 5)
    with pytest.raises(ValueError):
        add_working_days(date(2026, 12, 5), -1)


def test_working_days_between_counts_after_start_up_to_end():
    assert working_days_between(date(2026, 12, 23), date(2027, 1, 4)) == 5
    assert working_days_between(date(2026, 12, 4), date(2026, 12, 4)) == 0
    assert working_days_between(date(2026, 12, 7), date(2026, 12, 4)) == 0


def test_promise_is_broken_at_the_end_of_the_london_day():
    # 23:30 UTC on Sunday 28 Mar 2027 is 00:30 on Monday 29 Mar in London (BST)
    due = promise_due_by(datetime(2027, 3, 28, 23, 30, tzinfo=timezone.utc), 1)
    assert due == datetime(2027, 3, 30, 22, 59, 59, tzinfo=timezone.utc)
    # winter: London is UTC; Friday 4 Dec + 1 working day = Monday 7 Dec
    assert promise_due_by(datetime(2026, 12, 4, 15, 0, tzinfo=timezone.utc), 1) == \
        datetime(2026, 12, 7, 23, 59, 59, tzinfo=timezone.utc)
