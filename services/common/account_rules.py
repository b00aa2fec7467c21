"""Pure rules for people's accounts: what a password must be, and how repeated failures slow down then lock.

No I/O and no clock of their own: every function takes `now`, so they are table-testable.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

PASSWORD_MIN = 12          # NCSC: length beats composition rules
PASSWORD_MAX = 256
# A short list of what people pick first; a real deployment can extend it.
COMMON_PASSWORDS = frozenset({
    "password1234", "passwordpassword", "123456789012", "qwertyuiopas", "letmeinletmein",
    "iloveyou1234", "harrowharrow", "welcome12345", "changeme1234", "password123!",
})

FREE_FAILURES = 3                          # mistakes anyone makes: no wait
SLOW_DOWN_STEP = timedelta(seconds=30)     # then wait 30 s, 60 s, ... after each failure
LOCK_AFTER = 6                             # the 6th failure in a row locks the account
LOCK_FOR = timedelta(minutes=15)

SET_PASSWORD_LINK_VALID = timedelta(hours=72)
SESSION_IDLE = timedelta(minutes=30)       # signed out after 30 minutes without a page
SESSION_MAX = timedelta(hours=12)          # and after a working day whatever happens


def password_problem(password: str, email: str = "") -> str | None:
    """What is wrong with a new password, in plain words; None when it will do."""
    if len(password) < PASSWORD_MIN:
        return f"Enter a password that is at least {PASSWORD_MIN} characters long"
    if len(password) > PASSWORD_MAX:
        return f"Enter a password that is at most {PASSWORD_MAX} characters long"
    if len(set(password)) < 4:
        return "Enter a password that is harder to guess: use a few different words"
    lowered = password.lower()
    local = email.split("@")[0].lower()
    if lowered in COMMON_PASSWORDS or (len(local) >= 4 and local in lowered):
        return "Enter a password that is harder to guess: do not use your email address or a common password"
    return None


@dataclass(frozen=True)
class Attempts:
    """Failed sign-ins in a row for one account."""
    failures: int = 0
    last_failed_at: datetime | None = None
    locked_until: datetime | None = None


@dataclass(frozen=True)
class Gate:
    allowed: bool
    reason: str | None = None        # "wait" (slowed down) or "locked"
    until: datetime | None = None


def sign_in_gate(attempts: Attempts, now: datetime) -> Gate:
    """May this account try a password now?"""
    if attempts.locked_until is not None and now < attempts.locked_until:
        return Gate(False, "locked", attempts.locked_until)
    if attempts.failures >= FREE_FAILURES and attempts.last_failed_at is not None \
            and (attempts.locked_until is None or attempts.locked_until <= attempts.last_failed_at):
        wait_until = attempts.last_failed_at + SLOW_DOWN_STEP * 2 ** (attempts.failures - FREE_FAILURES)
        if now < wait_until:
            return Gate(False, "wait", wait_until)
    return Gate(True)


def after_failure(attempts: Attempts, now: datetime) -> Attempts:
    """The state after one more wrong password; a lock that has run out starts the count again."""
    if attempts.locked_until is not None and now >= attempts.locked_until:
        attempts = Attempts()
    failures = attempts.failures + 1
    locked_until = now + LOCK_FOR if failures >= LOCK_AFTER else None
    return replace(attempts, failures=failures, last_failed_at=now, locked_until=locked_until)


def session_expires_at(started_at: datetime, now: datetime) -> datetime:
    """Idle timeout from now, never past the session's maximum age."""
    return min(now + SESSION_IDLE, started_at + SESSION_MAX)
