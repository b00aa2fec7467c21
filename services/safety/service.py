"""Safety service: LFB Home Fire Safety Visit triage, requests and outcomes."""
from __future__ import annotations

import uuid

from nameko.timer import timer
from nameko.web.handlers import http

from services.common.auth import ApiKeys
from services.common.consumer import DeliveryRetry, consumes
from services.common.health import health_response
from services.common.http import NotFound, api, register_error
from services.common.logs import configure_logging, get_logger
from services.common.mongo import MongoStore
from services.common.outbox import EventPublisher

from .events import ReferralForSafety, iso, risk_input, safety_event
from .lifecycle import IllegalTransition
from .repository import PRIORITY_RANK, StaleVisit, VisitRepository
from .triage import load_rules, triage_visit

configure_logging()
log = get_logger(__name__)
register_error(IllegalTransition, 409, "illegal_transition")
register_error(StaleVisit, 409, "conflict")

RULES = load_rules()


class SafetyService:
    name = "safety"

    store = MongoStore(VisitRepository)
    api_keys = ApiKeys()
    events = EventPublisher()
    delivery = DeliveryRetry()

    @http("GET", "/health")
    def health(self, request):
        return health_response(self.events.amqp_uri, self.store)

    @http("GET", "/visits")
    @api(roles=("fire_officer", "coordinator"))
    def list_visits(self, request, principal):
        docs = self.store.list_visits(status=request.args.get("status"),
                                      priority=request.args.get("priority"))
        return {"items": [_visit_view(d) for d in docs]}

    @http("GET", "/visits/<string:visit_id>")
    @api(roles=("fire_officer", "coordinator"))
    def get_visit(self, request, principal, visit_id):
        doc = self.store.get_visit(visit_id)
        if doc is None:
            raise NotFound(f"no visit {visit_id}")
        return _visit_view(doc)

    @consumes(("referrals", "referral_received"))
    def assess_referral(self, envelope):
        referral = ReferralForSafety().load(envelope["data"])
        decision = triage_visit(risk_input(referral), referral["received_at"], RULES)
        case_id, correlation_id = envelope["case_id"], envelope["correlation_id"]
        visit_id = str(uuid.uuid4())
        assessment = {
            "_id": visit_id, "source_event_id": envelope["event_id"], "case_id": case_id,
            "reference": referral["reference"], "referral_id": referral["referral_id"],
            "raised": decision.visit, "priority": decision.priority,
            "priority_rank": PRIORITY_RANK[decision.priority], "rule": decision.rule,
            "reason": decision.reason, "due_by": decision.due_by,
            "risk": {"cir_max": decision.cir_max, "flags": list(decision.flags)},
            "fire_risk_without_consent": decision.fire_risk_without_consent,
        }
        events = []
        if decision.visit:
            person = referral["person"]
            assessment.update(status="requested", overdue_notified=False, person={
                "name": f"{person['given_name']} {person['family_name']}",
                "address": person["address"], "phone": person.get("phone"),
                "preferred_contact": person.get("preferred_contact"),
                "access_needs": person.get("access_needs")})
            events.append(safety_event("visit_requested", case_id=case_id, correlation_id=correlation_id,
                                       data={"visit_id": visit_id, "reference": referral["reference"],
                                             "priority": decision.priority, "due_by": iso(decision.due_by),
                                             "rule": decision.rule}))
        else:
            assessment["status"] = None
            events.append(safety_event("visit_not_requested", case_id=case_id,
                                       correlation_id=correlation_id,
                                       data={"reason": decision.reason, "priority": decision.priority,
                                             "rule": decision.rule, "reference": referral["reference"]}))
            if decision.fire_risk_without_consent:
                events.append(safety_event("fire_risk_without_consent", case_id=case_id,
                                           correlation_id=correlation_id,
                                           data={"priority": decision.priority, "cir_max": decision.cir_max,
                                                 "rule": decision.rule, "reference": referral["reference"]}))
        stored = self.store.record_assessment(assessment, events)
        log.info("referral_assessed" if stored else "referral_already_assessed",
                 priority=decision.priority, visit=decision.visit, rule=decision.rule)

    @timer(interval=0.25)
    def relay_outbox(self):
        self.events.relay(self.store)


def _visit_view(doc):
    """Only what a crew needs: never the narrative, diagnoses or group attendance."""
    return {"visit_id": doc["_id"], "case_id": doc["case_id"], "reference": doc["reference"],
            "priority": doc["priority"], "status": doc["status"], "due_by": doc["due_by"],
            "rule": doc["rule"], "person": doc.get("person"), "risk": doc["risk"],
            "created_at": doc["created_at"], "updated_at": doc["updated_at"]}
