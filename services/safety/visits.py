"""What happens to a visit, as plain functions over its stored document. No I/O.

An assessment document is written for every referral_received; it is a visit
(`raised: True`) when triage raised one. Each function returns the `$set`
changes and the data of the event they cause, so the service can write both in
one single-document update (outbox).
"""
from __future__ import annotations

from datetime import datetime

from services.common.vocabulary import CASE_ERASED

from .events import visit_status_data
from .lifecycle import OPEN_STATUSES, TERMINAL_STATUSES, VisitStatus, next_status
from .triage import PRIORITIES, TriageDecision

PRIORITY_RANK = {priority: rank for rank, priority in enumerate(PRIORITIES)}  # very_high = 0

# Why an assessment raised no visit, beyond triage's own reasons.
REASON_VISIT_ALREADY_OPEN = "visit_already_open"
REASON_CASE_ERASED = CASE_ERASED


def is_active(visit: dict | None) -> bool:
    """Raised and not finished: the one visit a case may have at a time.

    no_access counts: the crew may rebook it, so a new referral must not raise a second one.
    """
    return bool(visit and visit.get("raised") and visit.get("status")
                and VisitStatus(visit["status"]) not in TERMINAL_STATUSES)


def is_open(visit: dict | None) -> bool:
    """Awaiting the fire service: the statuses checked against due_by."""
    return bool(visit and visit.get("raised") and visit.get("status") in OPEN_STATUSES)


def is_overdue(visit: dict, now: datetime) -> bool:
    """Announced overdue, or open and past due_by (the wake-up may be a moment behind)."""
    return bool(visit.get("overdue_notified")) or (is_open(visit) and visit["due_by"] <= now)


def active_slot(visit_id: str, case_id: str, status: str | None) -> str:
    """Value of the uniquely indexed `active_slot`: the case id while the visit is active.

    A unique index on it allows one active visit per case without a partial index
    (FerretDB v1 has none); a finished visit or a mere assessment holds its own id.
    """
    if status and VisitStatus(status) not in TERMINAL_STATUSES:
        return case_id
    return visit_id


def crew_person(person: dict) -> dict:
    """The minimum a crew needs from referral_received's person (DOMAIN.md)."""
    return {"name": f"{person['given_name']} {person['family_name']}".strip(),
            "address": person["address"], "phone": person.get("phone"),
            "preferred_contact": person.get("preferred_contact"),
            "access_needs": person.get("access_needs")}


def is_more_urgent(decision: TriageDecision, visit: dict) -> bool:
    return decision.visit and PRIORITY_RANK[decision.priority] < PRIORITY_RANK[visit["priority"]]


def move(visit: dict, to: str, *, actor: str, now: datetime, **fields) -> tuple[dict, dict]:
    """An officer's (or a privacy request's) status move: (changes, visit_status_changed data).

    Raises lifecycle.IllegalTransition when the move is not allowed.
    """
    status = next_status(visit["status"], to).value
    changes = {"status": status, "active_slot": active_slot(visit["_id"], visit["case_id"], status),
               f"status_times.{status}": now, **fields}
    return changes, visit_status_data({**visit, **changes}, previous_status=visit["status"], actor=actor,
                                      change="status")


def raise_priority(visit: dict, decision: TriageDecision, *, reference: str,
                   now: datetime) -> tuple[dict, dict]:
    """A more urgent duplicate referral makes the open visit more urgent; its status is unchanged.

    The event is also the triage verdict for the duplicate referral: its data's
    `reference` is that referral's own (`reference`), and `case_reference` the
    visit's, so each referrer hears about their own referral.
    """
    due_by = min(visit["due_by"], decision.due_by)
    changes = {"priority": decision.priority, "priority_rank": PRIORITY_RANK[decision.priority],
               "due_by": due_by, "rule": decision.rule,
               "risk": {"cir_max": decision.cir_max, "flags": list(decision.flags)},
               "priority_raised_at": now}
    data = visit_status_data({**visit, **changes}, previous_status=visit["status"], actor="safety:triage",
                             change="priority_raised",
                             previous_priority=visit["priority"], rule=decision.rule,
                             reference=reference, case_reference=visit["reference"])
    return changes, data


def privacy_changes(doc: dict, kind: str, *, actor: str, now: datetime) -> tuple[dict, dict | None]:
    """Consent to share withdrawn or case erased: cancel an active visit and drop the person.

    Erasure also drops the officers' notes (free text may name the person);
    priority, status, dates and risk flags stay as anonymised counts.
    Returns (changes, visit_status_changed data or None).
    """
    changes: dict = {"person": None, "person_removed": kind, "person_removed_at": now}
    if kind == REASON_CASE_ERASED:
        changes["notes"] = None
    data = None
    if is_active(doc):
        cancel, data = move(doc, VisitStatus.CANCELLED.value, actor=actor, now=now,
                            cancelled_because=kind)
        changes.update(cancel)
        data["change"] = kind
    return changes, data
