"""Quiet hours: when messages to the person wait until morning.

Pure. A window such as "20:00-09:00" is UK wall-clock time (Europe/London)
and may cross midnight. Each night is one interval of real time, from the
first instant the clock shows the start to the first instant it shows the
end, so a clock change inside it lengthens or shortens that night rather
than opening a second quiet spell. A wall time the clocks skip (spring
forward) starts or ends at the moment the clocks jump.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

UK = ZoneInfo("Europe/London")
# HH:MM, with optional :SS (seconds make a short window for trying it out)
_CLOCK = r"([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?"
_SPEC = re.compile(rf"^\s*{_CLOCK}\s*-\s*{_CLOCK}\s*$")
_OFF = ("", "off", "none")


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time
    zone: ZoneInfo = UK

    @property
    def crosses_midnight(self) -> bool:
        return self.start > self.end

    def night_starting(self, day: date) -> tuple[datetime, datetime]:
        """The quiet interval (UTC, end excluded) whose start falls on `day`."""
        end_day = day + timedelta(days=1) if self.crosses_midnight else day
        return (first_instant_at(day, self.start, self.zone),
                first_instant_at(end_day, self.end, self.zone))

    def quiet_until(self, moment: datetime) -> datetime | None:
        """The end of the quiet interval holding `moment`, or None when it may be sent now."""
        if moment.tzinfo is None:
            raise ValueError("moment must be timezone-aware")
        local_day = moment.astimezone(self.zone).date()
        # the night that began yesterday may still be running
        for day in (local_day - timedelta(days=1), local_day):
            start, end = self.night_starting(day)
            if start <= moment < end:
                return end
        return None

    def next_allowed(self, moment: datetime) -> datetime:
        """`moment` itself when allowed, else the end of its quiet interval (UTC)."""
        until = self.quiet_until(moment)
        return moment.astimezone(timezone.utc) if until is None else until


def parse_quiet_hours(spec: str | None, zone: ZoneInfo = UK) -> QuietHours | None:
    """"HH:MM-HH:MM" (or HH:MM:SS) → QuietHours; empty, "off" or "none" → None (no quiet hours)."""
    if spec is None or str(spec).strip().lower() in _OFF:
        return None
    match = _SPEC.match(str(spec))
    if not match:
        raise ValueError(f"quiet hours must look like 20:00-09:00, not {spec!r}")
    h1, m1, s1, h2, m2, s2 = (int(g or 0) for g in match.groups())
    start, end = time(h1, m1, s1), time(h2, m2, s2)
    if start == end:
        raise ValueError("quiet hours must start and end at different times")
    return QuietHours(start, end, zone)


def first_instant_at(day: date, wall: time, zone: ZoneInfo = UK) -> datetime:
    """The first UTC instant at which the clock in `zone` shows `day` `wall` or later."""
    local = datetime.combine(day, wall)
    valid = []
    for fold in (0, 1):
        instant = local.replace(tzinfo=zone, fold=fold).astimezone(timezone.utc)
        if instant.astimezone(zone).replace(tzinfo=None) == local:
            valid.append(instant)
    if valid:
        return min(valid)  # an hour the clocks repeat: its first occurrence
    # skipped by the clocks: the answer is the jump itself, between the two readings
    low = local.replace(tzinfo=zone, fold=1).astimezone(timezone.utc)
    high = local.replace(tzinfo=zone, fold=0).astimezone(timezone.utc)
    low, high = min(low, high), max(low, high)
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).replace(tzinfo=None) >= local:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)
