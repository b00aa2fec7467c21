"""The case lifecycle (DOMAIN.md "Case lifecycle", FHIR Task status codes): pure rules, no I/O.

    received ──> accepted ──> in_progress ──> completed
        └──> rejected
    on_hold:   from any of received / accepted / in_progress, and back to that same state only
    cancelled: from any open state, on_hold included (consent withdrawn)

A case on hold remembers where it came from (``held_from``); the caller stores
it next to the status and passes it back in.
"""

from __future__ import annotations

from enum import StrEnum


class CaseStatus(StrEnum):
    RECEIVED = "received"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    IN_PROGRESS = "in_progress"
    ON_HOLD = "on_hold"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


TERMINAL_STATUSES = frozenset({CaseStatus.REJECTED, CaseStatus.COMPLETED, CaseStatus.CANCELLED})
OPEN_STATUSES = frozenset(CaseStatus) - TERMINAL_STATUSES
# States a case can be put on hold from, and so the only states it can return to.
HOLDABLE_STATUSES = OPEN_STATUSES - {CaseStatus.ON_HOLD}

# Statuses the referrer hears about in the closed-loop update (DOMAIN.md message 5).
REFERRER_VISIBLE = frozenset({CaseStatus.ACCEPTED, CaseStatus.REJECTED, CaseStatus.COMPLETED, CaseStatus.CANCELLED})

# Forward moves only; on_hold and cancelled are added by allowed_moves because they hang off every open state.
_FORWARD_MOVES: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.RECEIVED: frozenset({CaseStatus.ACCEPTED, CaseStatus.REJECTED}),
    CaseStatus.ACCEPTED: frozenset({CaseStatus.IN_PROGRESS}),
    CaseStatus.IN_PROGRESS: frozenset({CaseStatus.COMPLETED}),
}


class IllegalTransition(Exception):
    """The requested move is not in the lifecycle (the HTTP layer maps it to 409)."""

    def __init__(self, current: CaseStatus, requested: CaseStatus):
        self.current = current
        self.requested = requested
        super().__init__(f"cannot move a case from '{current.value}' to '{requested.value}'")


def _status(value: CaseStatus | str, name: str) -> CaseStatus:
    try:
        return CaseStatus(value)
    except ValueError:
        raise ValueError(f"{name}: {value!r} is not a case status") from None


def allowed_moves(current: CaseStatus | str, held_from: CaseStatus | str | None = None) -> frozenset[CaseStatus]:
    """Every status a case in ``current`` may move to next.

    ``held_from`` is read only when ``current`` is on_hold (a stale value on any
    other status is ignored); for an on-hold case it is required, because a case
    on hold without a state to return to means its record is broken.
    """
    current = _status(current, "current")
    if current in TERMINAL_STATUSES:
        return frozenset()
    if current is CaseStatus.ON_HOLD:
        if held_from is None:
            raise ValueError("a case on hold needs held_from: the status it was put on hold from")
        held_from = _status(held_from, "held_from")
        if held_from not in HOLDABLE_STATUSES:
            raise ValueError(f"held_from: a case cannot be on hold from '{held_from.value}'")
        return frozenset({held_from, CaseStatus.CANCELLED})
    return _FORWARD_MOVES[current] | {CaseStatus.ON_HOLD, CaseStatus.CANCELLED}


_LIFECYCLE_ORDER = tuple(CaseStatus)


def next_statuses(case: dict) -> list[str]:
    """The statuses a stored case may move to next, in lifecycle order (what a coordinator is offered)."""
    moves = allowed_moves(case["status"], case.get("held_from"))
    return [status.value for status in _LIFECYCLE_ORDER if status in moves]


def next_status(
    current: CaseStatus | str, to: CaseStatus | str, held_from: CaseStatus | str | None = None
) -> CaseStatus:
    """The status after moving ``current`` to ``to``; raises IllegalTransition if the lifecycle forbids it.

    Unknown status names raise ValueError (a bad request, not a 409).
    """
    current, to = _status(current, "current"), _status(to, "to")
    if to not in allowed_moves(current, held_from):
        raise IllegalTransition(current, to)
    return to


def cir_level(cir_max: int, level_2_from: int = 4, level_3_from: int = 7) -> int:
    """Hoarding protocol level 1..3 from the highest Clutter Image Rating (DOMAIN.md CIR table).

    Defaults are the London multi-agency protocol (1-3 -> 1, 4-6 -> 2, 7-9 -> 3);
    boroughs differ, so the thresholds are parameters.
    """
    for name, value in (("cir_max", cir_max), ("level_2_from", level_2_from), ("level_3_from", level_3_from)):
        # bool is an int subclass; True must not pass as a rating of 1.
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be a whole number, got {value!r}")
    if not 1 <= cir_max <= 9:
        raise ValueError(f"cir_max must be from 1 to 9, got {cir_max}")
    # Each level must be reachable by some rating, or the protocol table is misconfigured.
    if not 1 < level_2_from < level_3_from <= 9:
        raise ValueError(
            f"thresholds must satisfy 1 < level_2_from < level_3_from <= 9, got {level_2_from} and {level_3_from}"
        )
    if cir_max >= level_3_from:
        return 3
    if cir_max >= level_2_from:
        return 2
    return 1
