"""The case state machine (DOMAIN.md "Case lifecycle") and the CIR level table, checked against explicit tables."""

import itertools

import pytest

from services.referrals.lifecycle import (
    OPEN_STATUSES,
    REFERRER_VISIBLE,
    TERMINAL_STATUSES,
    CaseStatus,
    IllegalTransition,
    allowed_moves,
    cir_level,
    next_status,
)

RECEIVED = CaseStatus.RECEIVED
ACCEPTED = CaseStatus.ACCEPTED
REJECTED = CaseStatus.REJECTED
IN_PROGRESS = CaseStatus.IN_PROGRESS
ON_HOLD = CaseStatus.ON_HOLD
COMPLETED = CaseStatus.COMPLETED
CANCELLED = CaseStatus.CANCELLED

# Every legal move out of a status other than on_hold; any pair not listed must be refused.
LEGAL_MOVES = {
    (RECEIVED, ACCEPTED),
    (RECEIVED, REJECTED),
    (RECEIVED, ON_HOLD),
    (RECEIVED, CANCELLED),
    (ACCEPTED, IN_PROGRESS),
    (ACCEPTED, ON_HOLD),
    (ACCEPTED, CANCELLED),
    (IN_PROGRESS, COMPLETED),
    (IN_PROGRESS, ON_HOLD),
    (IN_PROGRESS, CANCELLED),
}

# Out of on_hold, keyed by (held_from, to): back where it came from, or cancelled.
LEGAL_MOVES_FROM_HOLD = {
    (RECEIVED, RECEIVED),
    (RECEIVED, CANCELLED),
    (ACCEPTED, ACCEPTED),
    (ACCEPTED, CANCELLED),
    (IN_PROGRESS, IN_PROGRESS),
    (IN_PROGRESS, CANCELLED),
}

NOT_ON_HOLD = [status for status in CaseStatus if status is not ON_HOLD]


def test_the_lifecycle_has_exactly_the_fhir_task_statuses():
    assert {status.value for status in CaseStatus} == {
        "received",
        "accepted",
        "rejected",
        "in_progress",
        "on_hold",
        "completed",
        "cancelled",
    }


def test_open_and_terminal_statuses_split_the_lifecycle():
    assert TERMINAL_STATUSES == {REJECTED, COMPLETED, CANCELLED}
    assert OPEN_STATUSES == {RECEIVED, ACCEPTED, IN_PROGRESS, ON_HOLD}


def test_referrer_hears_about_decisions_and_endings_only():
    # Closed loop (DOMAIN.md message 5): in_progress and on_hold are internal to the group.
    assert REFERRER_VISIBLE == {ACCEPTED, REJECTED, COMPLETED, CANCELLED}


@pytest.mark.parametrize(("current", "to"), list(itertools.product(NOT_ON_HOLD, CaseStatus)))
def test_every_move_outside_hold_follows_the_table(current, to):
    if (current, to) in LEGAL_MOVES:
        assert next_status(current, to) is to
    else:
        with pytest.raises(IllegalTransition) as refused:
            next_status(current, to)
        assert (refused.value.current, refused.value.requested) == (current, to)


@pytest.mark.parametrize(("held_from", "to"), list(itertools.product([RECEIVED, ACCEPTED, IN_PROGRESS], CaseStatus)))
def test_a_case_on_hold_returns_only_where_it_came_from_or_is_cancelled(held_from, to):
    if (held_from, to) in LEGAL_MOVES_FROM_HOLD:
        assert next_status(ON_HOLD, to, held_from=held_from) is to
    else:
        with pytest.raises(IllegalTransition):
            next_status(ON_HOLD, to, held_from=held_from)


@pytest.mark.parametrize("current", NOT_ON_HOLD)
def test_allowed_moves_lists_the_table_row(current):
    assert allowed_moves(current) == {to for (source, to) in LEGAL_MOVES if source is current}


@pytest.mark.parametrize("held_from", [RECEIVED, ACCEPTED, IN_PROGRESS])
def test_allowed_moves_from_hold_lists_the_way_back_and_cancel(held_from):
    assert allowed_moves(ON_HOLD, held_from=held_from) == {held_from, CANCELLED}


@pytest.mark.parametrize("status", sorted(TERMINAL_STATUSES))
def test_a_closed_case_goes_nowhere(status):
    assert allowed_moves(status) == frozenset()


def test_a_case_on_hold_without_its_previous_status_is_a_broken_record():
    # Guessing where to return would silently reopen or skip a step.
    with pytest.raises(ValueError, match="held_from"):
        next_status(ON_HOLD, ACCEPTED)
    with pytest.raises(ValueError, match="held_from"):
        allowed_moves(ON_HOLD)


@pytest.mark.parametrize("held_from", [ON_HOLD, COMPLETED, REJECTED, CANCELLED])
def test_a_case_cannot_have_been_held_from_a_state_that_cannot_be_held(held_from):
    with pytest.raises(ValueError, match="held_from"):
        next_status(ON_HOLD, CANCELLED, held_from=held_from)


def test_held_from_is_ignored_unless_the_case_is_on_hold():
    # A stale held_from left on the record after resuming must not change the rules.
    assert next_status(ACCEPTED, IN_PROGRESS, held_from=RECEIVED) is IN_PROGRESS
    with pytest.raises(IllegalTransition):
        next_status(ACCEPTED, RECEIVED, held_from=RECEIVED)


def test_statuses_may_be_given_as_their_wire_names():
    assert next_status("received", "accepted") is ACCEPTED
    assert next_status("on_hold", "in_progress", held_from="in_progress") is IN_PROGRESS


@pytest.mark.parametrize(("current", "to"), [("open", "accepted"), ("received", "closed"), ("RECEIVED", "accepted")])
def test_an_unknown_status_is_a_bad_request_not_an_illegal_move(current, to):
    with pytest.raises(ValueError, match="is not a case status") as raised:
        next_status(current, to)
    assert not isinstance(raised.value, IllegalTransition)


def test_illegal_transition_names_both_statuses():
    with pytest.raises(IllegalTransition, match=r"^cannot move a case from 'completed' to 'received'$"):
        next_status(COMPLETED, RECEIVED)


@pytest.mark.parametrize(
    ("cir_max", "level"),
    [(1, 1), (3, 1), (4, 2), (6, 2), (7, 3), (9, 3)],
)
def test_cir_level_follows_the_london_protocol_table(cir_max, level):
    assert cir_level(cir_max) == level


@pytest.mark.parametrize(
    ("cir_max", "level"),
    [(4, 1), (5, 2), (7, 2), (8, 3), (9, 3)],
)
def test_cir_level_thresholds_are_configurable(cir_max, level):
    # A borough whose protocol starts level 2 at CIR 5 and level 3 at CIR 8.
    assert cir_level(cir_max, level_2_from=5, level_3_from=8) == level


@pytest.mark.parametrize("cir_max", [0, 10, -1, 7.5, "7", True, None])
def test_cir_level_refuses_a_rating_off_the_scale(cir_max):
    with pytest.raises(ValueError, match="cir_max"):
        cir_level(cir_max)


@pytest.mark.parametrize(("level_2_from", "level_3_from"), [(4, 4), (7, 4), (1, 7), (5, 10), (4.0, 7)])
def test_cir_level_refuses_thresholds_that_leave_a_level_unreachable(level_2_from, level_3_from):
    with pytest.raises(ValueError):
        cir_level(5, level_2_from=level_2_from, level_3_from=level_3_from)


def test_next_statuses_are_offered_in_lifecycle_order():
    from services.referrals.lifecycle import next_statuses

    assert next_statuses({"status": "received"}) == ["accepted", "rejected", "on_hold", "cancelled"]
    assert next_statuses({"status": "on_hold", "held_from": "accepted"}) == ["accepted", "cancelled"]
    assert next_statuses({"status": "completed", "held_from": None}) == []
