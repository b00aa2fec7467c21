"""The safety service's decisions: what a referral, a privacy request, a visit's due time or an
officer's move does to the visits, over the repository's verbs.

No nameko and no broker here: the service class loads events and requests and
calls these; tests call them with an in-memory repository. Every change is
written with the events it causes in one single-document write (outbox), and
every write that can race (another replica, an officer, a duplicate referral)
is conditional on what was read, then read again.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from services.common.envelope import utcnow
from services.common.logs import get_logger
from services.common.vocabulary import (
    CASE_ERASED,
    CONSENT_WITHDRAWN,
    FIRE_RISK_WITHOUT_CONSENT,
    FIRE_SERVICE_SCOPES,
    VISIT_NOT_REQUESTED,
    VISIT_OVERDUE,
    VISIT_REQUESTED,
    VISIT_STATUS_CHANGED,
)

from . import visits
from .events import (
    CASE_CANCELLED,
    VISIT_DUE,
    iso,
    risk_input,
    safety_event,
    visit_due_data,
    visit_overdue_data,
)
from .lifecycle import OPEN_STATUSES
from .repository import ActiveVisitExists, StaleVisit, VisitRepository
from .triage import TriageDecision, TriageRules, triage_visit

log = get_logger(__name__)

# Re-reads after a conditional write lost a race, before the event goes back for a delayed retry.
MAX_ATTEMPTS = 5
# Visit ids derive from the referral_received event, so a redelivery names the same visit.
VISIT_ID_NAMESPACE = uuid.UUID("6f1c1f52-5d0e-4c43-9a43-3a4f0c2f5e11")

# What an assessment came to, beyond triage's reasons (logged; tests read them).
ALREADY_ASSESSED = "already_assessed"
PRIORITY_RAISED = "open_visit_priority_raised"


class UnknownVisit(Exception):
    """No raised visit has this id (an assessment that raised none is not a visit)."""

    def __init__(self, visit_id: str):
        super().__init__(f"no visit {visit_id}")


def visit_id_for(event_id: str) -> str:
    return str(uuid.uuid5(VISIT_ID_NAMESPACE, event_id))


@dataclass(frozen=True)
class Assessed:
    result: str
    decision: TriageDecision | None = None


class Assessment:
    """The safety decisions over one worker's repository."""

    def __init__(self, store: VisitRepository, rules: TriageRules | None = None,
                 clock: Callable[[], datetime] = utcnow):
        self.store = store
        self.rules = rules
        self.clock = clock

    # -- referrals ----------------------------------------------------------
    def assess_referral(self, envelope: dict, referral: dict) -> Assessed:
        """Triage one referral_received into a visit, a raised priority, or a reason for none."""
        case_id = envelope["case_id"]
        if self.store.get_assessment(visit_id_for(envelope["event_id"])) is not None:
            return Assessed(ALREADY_ASSESSED)
        # A withdrawal or erasure may be consumed before the referral it follows (separate queues).
        privacy = self.store.privacy_requests_for(case_id)
        erased = any(r["kind"] == CASE_ERASED for r in privacy)
        withdrawn = any(r["kind"] == CONSENT_WITHDRAWN and r["occurred_at"] >= referral["received_at"]
                        for r in privacy)
        decision = triage_visit(risk_input(referral, consent_withdrawn=erased or withdrawn),
                                referral["received_at"], self.rules)
        for _ in range(MAX_ATTEMPTS):
            try:
                result = self._record_assessment(envelope, referral, decision, erased=erased)
                break
            except (ActiveVisitExists, StaleVisit):
                # another referral of this case raised or changed its visit meanwhile: look again
                log.info("visit_changed_meanwhile_reassessing")
        else:
            raise ActiveVisitExists(case_id)
        # A withdrawal consumed while this referral was being assessed is applied now.
        self.apply_privacy_requests(case_id)
        return Assessed(result, decision)

    def _record_assessment(self, envelope, referral, decision, *, erased) -> str:
        case_id, event_id = envelope["case_id"], envelope["event_id"]
        correlation_id = envelope["correlation_id"]
        visit_id = visit_id_for(event_id)
        now = self.clock()

        def event(event_type, **data):
            return safety_event(event_type, case_id=case_id, correlation_id=correlation_id,
                                data={"reference": referral["reference"], **data})

        assessment = {
            "_id": visit_id, "source_event_id": event_id, "case_id": case_id,
            "correlation_id": correlation_id, "reference": referral["reference"],
            "referral_id": referral["referral_id"], "received_at": referral["received_at"],
            "duplicate_of": referral["duplicate_of"], "raised": False, "status": None,
            "priority": decision.priority, "priority_rank": visits.PRIORITY_RANK[decision.priority],
            "rule": decision.rule, "reason": decision.reason, "due_by": None,
            "risk": {"cir_max": decision.cir_max, "flags": list(decision.flags)},
            "fire_risk_without_consent": decision.fire_risk_without_consent,
            "person": None, "active_slot": visit_id,
        }
        events = []
        active = None if erased else self.store.active_visit(case_id)
        if erased:
            # the case no longer exists anywhere: keep the anonymised assessment, say nothing
            assessment["reason"] = result = visits.REASON_CASE_ERASED
        elif active is not None:
            # One visit per case: a duplicate referral never raises a second one.
            assessment.update(reason=visits.REASON_VISIT_ALREADY_OPEN, open_visit_id=active["_id"])
            already_raised = event_id in active.get("applied_events", ())
            if already_raised or visits.is_more_urgent(decision, active):
                if not already_raised:
                    self._raise_priority(active, decision, referral["reference"], envelope, now)
                assessment["raised_priority_of"] = active["_id"]
                result = PRIORITY_RAISED
            else:
                events.append(event(VISIT_NOT_REQUESTED, reason=visits.REASON_VISIT_ALREADY_OPEN,
                                    visit_id=active["_id"], priority=decision.priority, rule=decision.rule))
                result = visits.REASON_VISIT_ALREADY_OPEN
        elif decision.visit:
            assessment.update(raised=True, status="requested", due_by=decision.due_by,
                              overdue_notified=False, active_slot=case_id,
                              person=visits.crew_person(referral["person"]),
                              scheduled_for=None, outcome=None, actions=[], notes=None)
            events.append(event(VISIT_REQUESTED, visit_id=visit_id, priority=decision.priority,
                                due_by=iso(decision.due_by), rule=decision.rule))
            events.append(self._wake_up(case_id, correlation_id, visit_id, decision.due_by))
            result = VISIT_REQUESTED
        else:
            events.append(event(VISIT_NOT_REQUESTED, reason=decision.reason,
                                priority=decision.priority, rule=decision.rule))
            if decision.fire_risk_without_consent:
                events.append(event(FIRE_RISK_WITHOUT_CONSENT, priority=decision.priority,
                                    cir_max=decision.cir_max, rule=decision.rule))
            result = decision.reason
        if not self.store.record_assessment(assessment, events):
            result = ALREADY_ASSESSED
        return result

    def _raise_priority(self, active, decision, reference, envelope, now) -> None:
        """The open visit takes the duplicate's priority; a sooner due_by gets its own wake-up."""
        changes, data = visits.raise_priority(active, decision, reference=reference, now=now)
        events = [safety_event(VISIT_STATUS_CHANGED, case_id=envelope["case_id"],
                               correlation_id=envelope["correlation_id"], data=data)]
        if changes["due_by"] < active["due_by"]:
            events.append(self._wake_up(envelope["case_id"], active.get("correlation_id") or active["_id"],
                                        active["_id"], changes["due_by"]))
        # StaleVisit if an officer moved it meanwhile: the caller reads it again
        self.store.change_visit(active["_id"], active["version"], changes, events,
                                applied_event=envelope["event_id"])

    @staticmethod
    def _wake_up(case_id, correlation_id, visit_id, due_by) -> dict:
        """safety's note to itself to look at the visit at due_by (carried by the broker, not polled)."""
        return safety_event(VISIT_DUE, case_id=case_id, correlation_id=correlation_id,
                            data=visit_due_data(visit_id, due_by))

    # -- privacy requests ---------------------------------------------------
    def withdraw_consent(self, envelope: dict, scope: str, actor: str | None) -> int | None:
        """consent_withdrawn: None when the scope is not sharing with the fire service (not ours)."""
        if scope not in FIRE_SERVICE_SCOPES:
            return None
        return self.record_privacy_request(envelope, CONSENT_WITHDRAWN, actor)

    def cancel_case(self, envelope: dict, to: str, actor: str | None) -> int | None:
        """A case the coordinator cancelled: consent withdrawn (DOMAIN.md), so treated as
        consent_withdrawn with scope fire_service. None for any other case move."""
        if to != CASE_CANCELLED:
            return None
        return self.record_privacy_request(envelope, CONSENT_WITHDRAWN, actor)

    def erase_case(self, envelope: dict, actor: str | None) -> int:
        applied = self.record_privacy_request(envelope, CASE_ERASED, actor)
        self.store.erase_parked_events(envelope["case_id"])
        return applied

    def record_privacy_request(self, envelope: dict, kind: str, actor: str | None) -> int:
        """Keep the request (once per event id), then apply every request of the case; returns
        how many (request, assessment) pairs were newly applied."""
        self.store.record_privacy_request({
            "_id": envelope["event_id"], "case_id": envelope["case_id"], "kind": kind,
            "occurred_at": envelope["occurred_at"], "actor": actor or "referrals",
            "correlation_id": envelope["correlation_id"],
            "source_event_type": envelope["event_type"]})  # e.g. a cancelled case's consent_withdrawn
        return self.apply_privacy_requests(envelope["case_id"])

    def apply_privacy_requests(self, case_id: str) -> int:
        """Apply every withdrawal/erasure of the case to every assessment of it, once each."""
        requests = self.store.privacy_requests_for(case_id)
        if not requests:
            return 0
        applied = 0
        for doc in self.store.assessments_of_case(case_id):
            for request in requests:
                applied += self._apply_privacy_request(request, doc["_id"])
        return applied

    def _apply_privacy_request(self, request: dict, assessment_id: str) -> bool:
        for _ in range(MAX_ATTEMPTS):
            doc = self.store.get_assessment(assessment_id)
            if request["_id"] in doc.get("applied_events", ()):
                return False
            received_at = doc.get("received_at")
            if request["kind"] == CONSENT_WITHDRAWN and received_at and received_at > request["occurred_at"]:
                return False  # a later referral gave consent to share again
            changes, data = visits.privacy_changes(doc, request["kind"], actor=request["actor"],
                                                   now=self.clock())
            events = [safety_event(VISIT_STATUS_CHANGED, case_id=doc["case_id"],
                                   correlation_id=request["correlation_id"], data=data)] if data else []
            try:
                self.store.change_visit(assessment_id, doc.get("version"), changes, events,
                                        applied_event=request["_id"])
            except StaleVisit:
                continue  # an officer moved it meanwhile: read it again
            if data:
                log.info("visit_cancelled", visit_id=assessment_id, because=request["kind"])
            return True
        raise StaleVisit(assessment_id)

    # -- officers -----------------------------------------------------------
    def visit(self, visit_id: str) -> dict:
        visit = self.store.get_visit(visit_id)
        if visit is None:
            raise UnknownVisit(visit_id)
        return visit

    def move_visit(self, visit_id: str, to: str, *, actor: str, correlation_id: str, **fields) -> dict:
        """An officer's move: the new status and its visit_status_changed in one conditional write.

        IllegalTransition for a move the lifecycle does not allow, StaleVisit when
        someone else moved it since it was read; returns the visit as it is now.
        """
        visit = self.visit(visit_id)
        changes, data = visits.move(visit, to, actor=actor, now=self.clock(), **fields)
        event = safety_event(VISIT_STATUS_CHANGED, case_id=visit["case_id"],
                             correlation_id=correlation_id, data=data)
        self.store.change_visit(visit_id, visit["version"], changes, [event])
        log.info("visit_status_changed", visit_id=visit_id, from_status=visit["status"],
                 to_status=data["status"])
        return self.visit(visit_id)

    # -- due times ----------------------------------------------------------
    def announce_if_overdue(self, visit_id: str, due_by: datetime) -> datetime | None:
        """A visit's wake-up: the time to wait until, or None when nothing is left to wait for.

        Before due_by nothing is read (the wake-up just waits on the broker). Once
        due, a visit still open and not yet announced is marked overdue with its
        visit_overdue in one write that only one replica's can match.
        """
        now = self.clock()
        if due_by > now:
            return due_by
        for _ in range(MAX_ATTEMPTS):
            visit = self.store.get_visit(visit_id)
            if visit is None or not visits.is_open(visit) or visit.get("overdue_notified"):
                return None  # finished, cancelled, erased or already announced
            if visit["due_by"] > now:
                return visit["due_by"]
            if self._claim_overdue(visit, now):
                return None
            # another replica announced it, or an officer moved it: read it again
        raise StaleVisit(visit_id)

    def sweep_overdue(self) -> int:
        """The safety net for a lost wake-up: open visits only, one equality query per open status."""
        now = self.clock()
        announced = 0
        for status in sorted(OPEN_STATUSES):
            for visit in self.store.visits_with_status(status):
                if visit.get("raised") and not visit.get("overdue_notified") and visit["due_by"] <= now:
                    announced += self._claim_overdue(visit, now)
        return announced

    def _claim_overdue(self, visit: dict, now: datetime) -> bool:
        event = safety_event(VISIT_OVERDUE, case_id=visit["case_id"],
                             correlation_id=visit.get("correlation_id") or visit["_id"],
                             data=visit_overdue_data(visit))
        if not self.store.claim_overdue(visit, event, now):
            return False
        log.info("visit_overdue", case_id=visit["case_id"], visit_id=visit["_id"], priority=visit["priority"])
        return True
