"""Visit lifecycle: every (from, to) pair of statuses against an explicit table of legal moves."""

import itertools

import pytest

from services.safety.lifecycle import (
    OPEN_STATUSES,
    OUTCOME_STATUSES,
    TERMINAL_STATUSES,
    IllegalTransition,
    VisitStatus,
    allowed_moves,
    next_status,
)

STATUSES = ["requested", "acknowledged", "scheduled", "completed", "no_access", "declined", "cancelled"]

# Written out by hand so a change to the module's table shows up here.
LEGAL_MOVES = {
    ("requested", "acknowledged"),
    ("requested", "cancelled"),
    ("acknowledged", "scheduled"),
    ("acknowledged", "declined"),  # phoned to book, the person said no
    ("acknowledged", "cancelled"),
    ("scheduled", "scheduled"),  # rebooked before the visit
    ("scheduled", "completed"),
    ("scheduled", "no_access"),
    ("scheduled", "declined"),
    ("scheduled", "cancelled"),
    ("no_access", "scheduled"),  # access arranged, visit rebooked
    ("no_access", "cancelled"),
}


def test_statuses_are_the_domain_statuses():
    assert [status.value for status in VisitStatus] == STATUSES


@pytest.mark.parametrize(("current", "to"), list(itertools.product(STATUSES, STATUSES)))
def test_every_move(current, to):
    if (current, to) in LEGAL_MOVES:
        assert next_status(current, to) is VisitStatus(to)
    else:
        with pytest.raises(IllegalTransition) as raised:
            next_status(current, to)
        assert (raised.value.current, raised.value.requested) == (current, to)
        assert str(raised.value) == f"cannot move a visit from '{current}' to '{to}'"


@pytest.mark.parametrize("current", STATUSES)
def test_allowed_moves_match_the_table(current):
    assert allowed_moves(current) == {to for (frm, to) in LEGAL_MOVES if frm == current}


def test_accepts_enum_members_as_well_as_strings():
    assert next_status(VisitStatus.REQUESTED, VisitStatus.ACKNOWLEDGED) is VisitStatus.ACKNOWLEDGED
    with pytest.raises(IllegalTransition, match="cannot move a visit from 'completed' to 'scheduled'"):
        next_status(VisitStatus.COMPLETED, VisitStatus.SCHEDULED)


@pytest.mark.parametrize(
    ("current", "to"),
    [("requested", "booked"), ("pending", "acknowledged"), ("", "cancelled"), ("Requested", "acknowledged")],
)
def test_unknown_statuses_are_illegal(current, to):
    with pytest.raises(IllegalTransition) as raised:
        next_status(current, to)
    assert str(raised.value) == f"cannot move a visit from '{current}' to '{to}'"


def test_allowed_moves_rejects_an_unknown_status():
    with pytest.raises(ValueError):
        allowed_moves("pending")


def test_open_statuses():
    assert OPEN_STATUSES == {"requested", "acknowledged", "scheduled"}


def test_terminal_statuses():
    assert TERMINAL_STATUSES == {"completed", "declined", "cancelled"}


def test_outcome_statuses():
    assert OUTCOME_STATUSES == {"completed", "no_access", "declined"}


@pytest.mark.parametrize("current", ["requested", "acknowledged", "scheduled"])
def test_every_open_visit_can_be_cancelled(current):
    assert next_status(current, "cancelled") is VisitStatus.CANCELLED


@pytest.mark.parametrize("current", ["completed", "declined", "cancelled"])
def test_terminal_visits_cannot_move(current):
    assert allowed_moves(current) == frozenset()
