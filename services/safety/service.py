"""Safety service: LFB Home Fire Safety Visit triage, requests and outcomes."""
from __future__ import annotations

import uuid

from nameko.timer import timer
from nameko.web.handlers import http

from services.common import outbox
from services.common import http as common_http
from services.common.auth import ApiKeys
from services.common.consumer import DeliveryRetry, consumes
from services.common.envelope import utcnow
from services.common.http import NotFound, api, read_json, register_error
from services.common.logs import bind_context, configure_logging, get_logger
from services.common.mongo import MongoStore
from services.common.outbox import EventPublisher

from . import visits
from .contract import OPENAPI
from .events import (
    CASE_CANCELLED,
    FIRE_SERVICE_SCOPES,
    CaseErased,
    CaseStatusChanged,
    ConsentWithdrawn,
    ReferralForSafety,
    iso,
    risk_input,
    safety_event,
    visit_overdue_data,
)
from .extensions import TriageRulesFile, configured_timer
from .lifecycle import IllegalTransition
from .repository import ActiveVisitExists, StaleVisit, VisitRepository
from .schemas import (
    AcknowledgeRequestSchema,
    OutcomeRequestSchema,
    ScheduleRequestSchema,
    VisitListSchema,
    VisitSchema,
    VisitsQuerySchema,
)
from .triage import triage_visit

configure_logging()
log = get_logger(__name__)
register_error(IllegalTransition, 409, "illegal_transition")
register_error(StaleVisit, 409, "conflict")

CONSENT_WITHDRAWN = "consent_withdrawn"
# Optimistic-concurrency re-reads a consumer makes before handing the event back for a delayed retry.
MAX_ATTEMPTS = 5
# Visit ids derive from the referral_received event, so a redelivery names the same visit.
VISIT_ID_NAMESPACE = uuid.UUID("6f1c1f52-5d0e-4c43-9a43-3a4f0c2f5e11")


# (the mixin is reached through its module so `nameko run services.safety.service` finds one service)
class SafetyService(common_http.ServiceHttp):
    name = "safety"
    openapi_document = OPENAPI

    store = MongoStore(VisitRepository)
    api_keys = ApiKeys()
    events = EventPublisher()
    delivery = DeliveryRetry()
    rules = TriageRulesFile()

    # -- HTTP ---------------------------------------------------------------


    @http("GET", "/visits")
    @api(roles=("fire_officer", "coordinator"))
    def list_visits(self, request, principal):
        query = VisitsQuerySchema().load(request.args.to_dict())
        return VisitListSchema().dump({"items": self.store.list_visits(**query)})

    @http("GET", "/visits/<string:visit_id>")
    @api(roles=("fire_officer", "coordinator"))
    def get_visit(self, request, principal, visit_id):
        return VisitSchema().dump(self._visit(visit_id))

    @http("POST", "/visits/<string:visit_id>/acknowledge")
    @api(roles=("fire_officer",))
    def acknowledge_visit(self, request, principal, visit_id):
        if request.content_length:  # the body is optional, but a body must be right
            AcknowledgeRequestSchema().load(read_json(request))
        return self._move(visit_id, "acknowledged", principal, request.correlation_id)

    @http("POST", "/visits/<string:visit_id>/schedule")
    @api(roles=("fire_officer",))
    def schedule_visit(self, request, principal, visit_id):
        booking = ScheduleRequestSchema().load(read_json(request))
        return self._move(visit_id, "scheduled", principal, request.correlation_id,
                          scheduled_for=booking["scheduled_for"])

    @http("POST", "/visits/<string:visit_id>/outcome")
    @api(roles=("fire_officer",))
    def record_outcome(self, request, principal, visit_id):
        outcome = OutcomeRequestSchema().load(read_json(request))
        notes = {"notes": outcome["notes"]} if outcome["notes"] is not None else {}  # keep earlier notes
        return self._move(visit_id, outcome["outcome"], principal, request.correlation_id,
                          outcome=outcome["outcome"], actions=outcome["actions"], **notes)

    # -- events -------------------------------------------------------------
    @consumes(("referrals", "referral_received"))
    def assess_referral(self, envelope):
        referral = ReferralForSafety().load(envelope["data"])
        case_id = envelope["case_id"]
        if self.store.assessment_for_event(envelope["event_id"]):
            log.info("referral_already_assessed")
            return
        # A withdrawal or erasure may be consumed before the referral it follows (separate queues).
        privacy = self.store.privacy_requests_for(case_id)
        erased = any(r["kind"] == visits.REASON_CASE_ERASED for r in privacy)
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
                continue
        else:
            raise ActiveVisitExists(case_id)
        # A withdrawal consumed while this referral was being assessed is applied now.
        self._apply_privacy_requests(case_id)
        log.info("referral_assessed", result=result, priority=decision.priority, rule=decision.rule)

    @consumes(("referrals", CONSENT_WITHDRAWN))
    def withdraw_consent(self, envelope):
        withdrawal = ConsentWithdrawn().load(envelope["data"])
        if withdrawal["scope"] not in FIRE_SERVICE_SCOPES:
            log.info("consent_withdrawal_ignored", scope=withdrawal["scope"])  # contact: not ours
            return
        self._record_privacy_request(envelope, CONSENT_WITHDRAWN, withdrawal["actor"])

    @consumes(("referrals", "case_status_changed"))
    def cancel_case(self, envelope):
        """A case the coordinator cancelled: consent withdrawn, so treated as consent_withdrawn
        with scope fire_service (open visit cancelled, person removed; once per event_id)."""
        change = CaseStatusChanged().load(envelope["data"])
        if change["to"] != CASE_CANCELLED:
            log.info("case_status_change_ignored", to_status=change["to"])
            return
        self._record_privacy_request(envelope, CONSENT_WITHDRAWN, change["actor"])

    @consumes(("referrals", "case_erased"))
    def erase_case(self, envelope):
        erasure = CaseErased().load(envelope["data"])
        self._record_privacy_request(envelope, visits.REASON_CASE_ERASED, erasure["actor"])
        self.store.erase_parked_events(envelope["case_id"])

    # -- timers -------------------------------------------------------------
    @configured_timer("OVERDUE_CHECK_SECONDS", default=60)
    def check_overdue(self):
        now = utcnow()
        for visit in self.store.overdue_candidates(now):
            event = safety_event("visit_overdue", case_id=visit["case_id"],
                                 correlation_id=visit.get("correlation_id") or visit["_id"],
                                 data=visit_overdue_data(visit))
            if self.store.claim_overdue(visit, event, now):
                log.info("visit_overdue", case_id=visit["case_id"], visit_id=visit["_id"],
                         priority=visit["priority"])

    @timer(interval=outbox.SWEEP_SECONDS)
    def relay_outbox(self):
        self.events.relay(self.store)

    # -- helpers ------------------------------------------------------------
    def _visit(self, visit_id):
        bind_context(visit_id=visit_id)
        visit = self.store.get_visit(visit_id)
        if visit is None:
            raise NotFound(f"no visit {visit_id}")
        bind_context(case_id=visit["case_id"])
        return visit

    def _move(self, visit_id, to, principal, correlation_id, **fields):
        """An officer's move: the new status and its visit_status_changed in one conditional write."""
        visit = self._visit(visit_id)
        changes, data = visits.move(visit, to, actor=principal.actor, now=utcnow(), **fields)
        event = safety_event("visit_status_changed", case_id=visit["case_id"],
                             correlation_id=correlation_id, data=data)
        self.store.change_visit(visit_id, visit["version"], changes, [event])  # StaleVisit -> 409
        log.info("visit_status_changed", from_status=visit["status"], to_status=data["status"])
        return VisitSchema().dump(self._visit(visit_id))

    def _record_assessment(self, envelope, referral, decision, *, erased):
        """Store one referral's assessment and the events it causes; returns what happened."""
        case_id, event_id = envelope["case_id"], envelope["event_id"]
        correlation_id = envelope["correlation_id"]
        visit_id = str(uuid.uuid5(VISIT_ID_NAMESPACE, event_id))

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
                    changes, data = visits.raise_priority(active, decision, reference=referral["reference"],
                                                          now=utcnow())
                    self.store.change_visit(
                        active["_id"], active["version"], changes,
                        [safety_event("visit_status_changed", case_id=case_id,
                                      correlation_id=correlation_id, data=data)],
                        applied_event=event_id)
                assessment["raised_priority_of"] = active["_id"]
                result = "open_visit_priority_raised"
            else:
                events.append(event("visit_not_requested", reason=visits.REASON_VISIT_ALREADY_OPEN,
                                     visit_id=active["_id"], priority=decision.priority,
                                     rule=decision.rule))
                result = visits.REASON_VISIT_ALREADY_OPEN
        elif decision.visit:
            assessment.update(raised=True, status="requested", due_by=decision.due_by,
                              overdue_notified=False, active_slot=case_id,
                              person=visits.crew_person(referral["person"]),
                              scheduled_for=None, outcome=None, actions=[], notes=None)
            events.append(event("visit_requested", visit_id=visit_id, priority=decision.priority,
                                due_by=iso(decision.due_by), rule=decision.rule))
            result = "visit_requested"
        else:
            events.append(event("visit_not_requested", reason=decision.reason,
                                priority=decision.priority, rule=decision.rule))
            if decision.fire_risk_without_consent:
                events.append(event("fire_risk_without_consent", priority=decision.priority,
                                    cir_max=decision.cir_max, rule=decision.rule))
            result = decision.reason
        if not self.store.record_assessment(assessment, events):
            result = "already_assessed"
        return result

    def _record_privacy_request(self, envelope, kind, actor):
        self.store.record_privacy_request({
            "_id": envelope["event_id"], "case_id": envelope["case_id"], "kind": kind,
            "occurred_at": envelope["occurred_at"], "actor": actor or "referrals",
            "correlation_id": envelope["correlation_id"],
            "source_event_type": envelope["event_type"]})  # e.g. a cancelled case's consent_withdrawn
        applied = self._apply_privacy_requests(envelope["case_id"])
        log.info("privacy_request_applied", kind=kind, source_event_type=envelope["event_type"],
                 assessments=applied)

    def _apply_privacy_requests(self, case_id) -> int:
        """Apply every withdrawal/erasure of the case to every assessment of it, once each."""
        requests = self.store.privacy_requests_for(case_id)
        if not requests:
            return 0
        applied = 0
        for doc in self.store.assessments_of_case(case_id):
            for request in requests:
                applied += self._apply_privacy_request(request, doc["_id"])
        return applied

    def _apply_privacy_request(self, request, assessment_id) -> bool:
        for _ in range(MAX_ATTEMPTS):
            doc = self.store.get_assessment(assessment_id)
            if request["_id"] in doc.get("applied_events", ()):
                return False
            received_at = doc.get("received_at")
            if request["kind"] == CONSENT_WITHDRAWN and received_at and received_at > request["occurred_at"]:
                return False  # a later referral gave consent to share again
            changes, data = visits.privacy_changes(doc, request["kind"], actor=request["actor"],
                                                   now=utcnow())
            events = [safety_event("visit_status_changed", case_id=doc["case_id"],
                                   correlation_id=request["correlation_id"], data=data)] if data else []
            try:
                self.store.change_visit(assessment_id, doc.get("version"), changes, events,
                                        applied_event=request["_id"])
                if data:
                    log.info("visit_cancelled", visit_id=assessment_id, because=request["kind"])
                return True
            except StaleVisit:
                continue  # an officer moved it meanwhile: read it again
        raise StaleVisit(assessment_id)
