"""Visit lifecycle: every (from, to) pair of statuses against an explicit table of legal moves,
then what each move writes and publishes (services/safety/visits.py)."""

import itertools
from datetime import datetime, timedelta, timezone

import pytest

from services.safety import visits
from services.safety.lifecycle import (
    OPEN_STATUSES,
    OUTCOME_STATUSES,
    TERMINAL_STATUSES,
    IllegalTransition,
    VisitStatus,
    allowed_moves,
    next_status,
)
from services.safety.triage import RiskInput, triage_visit

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


# --- visits.py: what each move writes and publishes -------------------------------------------
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)


def a_visit(status="requested", **fields):
    return {"_id": "v-1", "case_id": "case-1", "reference": "HRW-2026-000001", "raised": True,
            "status": status, "priority": "medium", "due_by": NOW + timedelta(days=30), "rule": "medium.cir4",
            "risk": {"cir_max": 4, "flags": []}, "version": 3, "overdue_notified": False,
            "person": {"name": "Ada Jones", "address": {"line1": "12 Station Road"}, "phone": "+447700900123",
                       "preferred_contact": "phone", "access_needs": "hard of hearing"}, **fields}


def decision(cir, **flags):
    values = dict(smoker=False, oxygen_use=False, lives_alone=False, mobility_impaired=False,
                  previous_fire=False, blocked_exits=False, working_smoke_alarm="yes",
                  share_with_fire_service=True, visit_requested=True)
    values.update(flags)
    return triage_visit(RiskInput(cir={"living_room": cir}, **values), NOW)


@pytest.mark.parametrize(("status", "slot"), [
    ("requested", "case-1"), ("acknowledged", "case-1"), ("scheduled", "case-1"), ("no_access", "case-1"),
    ("completed", "v-1"), ("declined", "v-1"), ("cancelled", "v-1"), (None, "v-1"),
])
def test_a_case_holds_one_active_slot_until_its_visit_is_finished(status, slot):
    assert visits.active_slot("v-1", "case-1", status) == slot
    assert visits.is_active(a_visit(status)) is (slot == "case-1")


def test_an_assessment_that_raised_no_visit_is_not_active():
    assert visits.is_active({"raised": False, "status": None}) is False
    assert visits.is_active(None) is False


def test_an_outcome_move_publishes_the_outcome_but_never_the_notes():
    changes, data = visits.move(a_visit("scheduled", scheduled_for=NOW + timedelta(days=1)), "completed",
                                actor="fire_officer:k1", now=NOW, outcome="completed",
                                actions=["smoke_alarm_fitted"], notes="Door code 4411")
    assert changes["status"] == "completed" and changes["active_slot"] == "v-1"
    assert changes["notes"] == "Door code 4411" and changes["status_times.completed"] == NOW
    assert data == {"visit_id": "v-1", "reference": "HRW-2026-000001", "from": "scheduled", "status": "completed",
                    "priority": "medium", "due_by": (NOW + timedelta(days=30)).isoformat(),
                    "scheduled_for": (NOW + timedelta(days=1)).isoformat(), "outcome": "completed",
                    "actions": ["smoke_alarm_fitted"], "actor": "fire_officer:k1", "change": "status"}


def test_rebooking_after_no_access_does_not_repeat_the_old_outcome():
    changes, data = visits.move(a_visit("no_access", outcome="no_access", actions=[]), "scheduled",
                                actor="fire_officer:k1", now=NOW, scheduled_for=NOW + timedelta(days=2))
    assert data["status"] == "scheduled" and "outcome" not in data and "actions" not in data
    assert data["from"] == "no_access"
    assert changes["active_slot"] == "case-1"


def test_an_illegal_move_writes_nothing():
    with pytest.raises(IllegalTransition):
        visits.move(a_visit("requested"), "completed", actor="fire_officer:k1", now=NOW)


def test_a_more_urgent_decision_raises_priority_and_keeps_the_earlier_due_by():
    urgent = decision(7, smoker=True)
    assert visits.is_more_urgent(urgent, a_visit()) is True
    assert visits.is_more_urgent(decision(4), a_visit()) is False  # as urgent, not more
    assert visits.is_more_urgent(decision(7, smoker=True, share_with_fire_service=False), a_visit()) is False
    changes, data = visits.raise_priority(a_visit("acknowledged"), urgent, reference="HRW-2026-000002", now=NOW)
    assert (changes["priority"], changes["priority_rank"], changes["due_by"]) == ("very_high", 0, urgent.due_by)
    assert (data["status"], data["change"]) == ("acknowledged", "priority_raised")
    assert data["previous_priority"] == "medium"
    # a due_by already earlier than the new target stays
    early = a_visit(due_by=NOW + timedelta(hours=1))
    assert visits.raise_priority(early, urgent, reference="HRW-2026-000002", now=NOW)[0]["due_by"] == \
        NOW + timedelta(hours=1)


def test_a_raised_priority_is_the_verdict_for_the_duplicate_under_its_own_reference():
    urgent = decision(7, smoker=True)
    changes, data = visits.raise_priority(a_visit("scheduled"), urgent, reference="HRW-2026-000002", now=NOW)
    assert "reference" not in changes  # the visit keeps the reference of the referral that raised it
    assert data == {"visit_id": "v-1", "from": "scheduled", "status": "scheduled", "priority": "very_high",
                    "due_by": urgent.due_by.isoformat(), "previous_priority": "medium",
                    "change": "priority_raised", "reference": "HRW-2026-000002",
                    "case_reference": "HRW-2026-000001", "actor": "safety:triage", "rule": urgent.rule}


@pytest.mark.parametrize("status", ["requested", "acknowledged", "scheduled", "no_access"])
def test_a_privacy_request_cancels_an_active_visit_and_drops_the_person(status):
    changes, data = visits.privacy_changes(a_visit(status), "consent_withdrawn", actor="coordinator:k1", now=NOW)
    assert changes["person"] is None and changes["status"] == "cancelled" and changes["active_slot"] == "v-1"
    assert "notes" not in changes  # officers' own record stays unless the case is erased
    assert (data["status"], data["change"], data["actor"]) == ("cancelled", "consent_withdrawn", "coordinator:k1")
    assert data["from"] == status


@pytest.mark.parametrize("status", ["completed", "declined", "cancelled"])
def test_erasing_a_finished_visit_keeps_its_status_and_counts(status):
    changes, data = visits.privacy_changes(a_visit(status, notes="Ada's son was there"), "case_erased",
                                           actor="coordinator:k1", now=NOW)
    assert data is None
    assert changes == {"person": None, "notes": None, "person_removed": "case_erased", "person_removed_at": NOW}
