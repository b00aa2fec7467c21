"""Home Fire Safety Visit lifecycle: which status moves are legal. Pure, no I/O.

requested -> acknowledged -> scheduled -> completed | no_access | declined;
cancelled from any open state (consent withdrawn, case erased).

Beyond DOMAIN.md's diagram, decided here:
- acknowledged -> declined: the officer phoned to book and the person said no.
- scheduled -> scheduled: the officer rebooks the date before the visit.
- no_access -> scheduled: the coordinator arranged access, so the crew rebooks.
  no_access is therefore an outcome but not terminal; it is not "open" either
  (the crew attended, so it is not chased as overdue), and it can still be
  cancelled so a withdrawal of consent cannot leave it waiting to be rebooked.
"""

from __future__ import annotations

from enum import StrEnum


class VisitStatus(StrEnum):
    REQUESTED = "requested"
    ACKNOWLEDGED = "acknowledged"
    SCHEDULED = "scheduled"
    COMPLETED = "completed"
    NO_ACCESS = "no_access"
    DECLINED = "declined"
    CANCELLED = "cancelled"


# Awaiting the fire service: these are the statuses checked against due_by.
OPEN_STATUSES = frozenset({VisitStatus.REQUESTED, VisitStatus.ACKNOWLEDGED, VisitStatus.SCHEDULED})
# No move out of these.
TERMINAL_STATUSES = frozenset({VisitStatus.COMPLETED, VisitStatus.DECLINED, VisitStatus.CANCELLED})
# What an officer may record as the outcome of a visit.
OUTCOME_STATUSES = frozenset({VisitStatus.COMPLETED, VisitStatus.NO_ACCESS, VisitStatus.DECLINED})

_MOVES: dict[VisitStatus, frozenset[VisitStatus]] = {
    VisitStatus.REQUESTED: frozenset({VisitStatus.ACKNOWLEDGED, VisitStatus.CANCELLED}),
    VisitStatus.ACKNOWLEDGED: frozenset({VisitStatus.SCHEDULED, VisitStatus.DECLINED, VisitStatus.CANCELLED}),
    VisitStatus.SCHEDULED: frozenset(
        {
            VisitStatus.SCHEDULED,
            VisitStatus.COMPLETED,
            VisitStatus.NO_ACCESS,
            VisitStatus.DECLINED,
            VisitStatus.CANCELLED,
        }
    ),
    VisitStatus.NO_ACCESS: frozenset({VisitStatus.SCHEDULED, VisitStatus.CANCELLED}),
    VisitStatus.COMPLETED: frozenset(),
    VisitStatus.DECLINED: frozenset(),
    VisitStatus.CANCELLED: frozenset(),
}


class IllegalTransition(Exception):
    """A visit cannot move from its current status to the requested one."""

    def __init__(self, current: str, requested: str):
        self.current = str(current)
        self.requested = str(requested)
        super().__init__(f"cannot move a visit from '{self.current}' to '{self.requested}'")


def allowed_moves(current: str) -> frozenset[VisitStatus]:
    """Statuses a visit in `current` may move to; ValueError for an unknown status."""
    return _MOVES[VisitStatus(current)]


def next_status(current: str, to: str) -> VisitStatus:
    """The status after moving from `current` to `to`; IllegalTransition if the move is not allowed."""
    try:
        moves = allowed_moves(current)
        target = VisitStatus(to)
    except ValueError:
        raise IllegalTransition(current, to) from None
    if target not in moves:
        raise IllegalTransition(current, to)
    return target
