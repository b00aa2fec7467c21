"""Password and sign-in rules (pure)."""
from datetime import datetime, timedelta, timezone

import pytest

from services.common import account_rules as rules
from services.common.account_rules import Attempts, after_failure, password_problem, sign_in_gate

NOW = datetime(2026, 11, 30, 14, 5, tzinfo=timezone.utc)


@pytest.mark.parametrize("password, problem", [
    ("teal kettle harbour", None),
    ("short pass", "at least 12 characters"),
    ("a" * 257, "at most 256"),
    ("aaaaaaaaaaaabbbb", "harder to guess"),
    ("Password1234", "harder to guess"),
    ("sam.patel-rocks-2026", "harder to guess"),      # contains the email's local part
])
def test_password_problem(password, problem):
    found = password_problem(password, "sam.patel@example.org")
    assert (found is None) if problem is None else (problem in found)


def failures(count, at=NOW):
    state = Attempts()
    for _ in range(count):
        state = after_failure(state, at)
    return state


@pytest.mark.parametrize("count", [0, 1, 2])
def test_the_first_mistakes_cost_nothing(count):
    assert sign_in_gate(failures(count), NOW).allowed


def test_then_each_failure_doubles_the_wait():
    assert sign_in_gate(failures(3), NOW + timedelta(seconds=29)) == rules.Gate(False, "wait", NOW + timedelta(seconds=30))
    assert sign_in_gate(failures(3), NOW + timedelta(seconds=30)).allowed
    assert sign_in_gate(failures(4), NOW + timedelta(seconds=59)).reason == "wait"
    assert sign_in_gate(failures(4), NOW + timedelta(seconds=60)).allowed


def test_the_sixth_failure_locks_for_15_minutes_and_then_the_count_starts_again():
    locked = failures(6)
    assert locked.locked_until == NOW + timedelta(minutes=15)
    assert sign_in_gate(locked, NOW + timedelta(minutes=14)).reason == "locked"
    assert sign_in_gate(locked, NOW + timedelta(minutes=15)).allowed
    again = after_failure(locked, NOW + timedelta(minutes=16))
    assert again.failures == 1 and again.locked_until is None


def test_a_session_ends_after_idling_or_after_a_working_day():
    assert rules.session_expires_at(NOW, NOW) == NOW + timedelta(minutes=30)
    late = NOW + timedelta(hours=11, minutes=50)
    assert rules.session_expires_at(NOW, late) == NOW + timedelta(hours=12)
