"""Safety service: LFB Home Fire Safety Visit triage, requests and outcomes.

Entrypoints only: each loads its input, calls the assessment (assessment.py) or
the list (listing.py), and returns. A visit's due time rides on the broker:
raising a visit writes a `visit_due` wake-up that waits in fixed-delay queues
until due_by; a slow sweep of the open visits only catches a lost one.
"""
from __future__ import annotations

from nameko.timer import timer
from werkzeug.wrappers import Response
from services.common.web import http

from services.common import outbox
from services.common import http as common_http
from services.common.auth import ApiKeys
from services.common.envelope import utcnow
from services.common.consumer import DeliveryRetry, NotDueYet, consumes
from services.common.http import api, read_json, register_error
from services.common.logs import bind_context, configure_logging, get_logger
from services.common.mongo import MongoStore
from services.common.outbox import EventPublisher
from services.common.vocabulary import CASE_ERASED, CASE_STATUS_CHANGED, CONSENT_WITHDRAWN, REFERRAL_RECEIVED

from .assessment import Assessment, UnknownVisit
from .calendar import NotBooked, visit_calendar
from .records import DISCLOSED_TO_FIRE_SERVICE
from .contract import OPENAPI
from .events import VISIT_DUE, CaseErased, CaseStatusChanged, ConsentWithdrawn, ReferralForSafety, VisitDue
from .extensions import TriageRulesFile, configured_timer
from .lifecycle import IllegalTransition
from .listing import visit_page
from .records import SafetyRecords
from .repository import StaleVisit, VisitRepository
from .schemas import (
    AcknowledgeRequestSchema,
    OutcomeRequestSchema,
    ScheduleRequestSchema,
    VisitListSchema,
    VisitSchema,
    VisitsQuerySchema,
)

configure_logging()
log = get_logger(__name__)
register_error(IllegalTransition, 409, "illegal_transition")
register_error(StaleVisit, 409, "conflict")
register_error(UnknownVisit, 404, "not_found")
register_error(NotBooked, 404, "not_booked")


# (the mixin is reached through its module so `nameko run services.safety.service` finds one service)
class SafetyService(SafetyRecords, common_http.ServiceHttp):  # SafetyRecords: audit, subject access
    name = "safety"
    openapi_document = OPENAPI

    store = MongoStore(VisitRepository)
    api_keys = ApiKeys()
    events = EventPublisher()
    delivery = DeliveryRetry()
    rules = TriageRulesFile()

    @property
    def assessment(self) -> Assessment:
        return Assessment(self.store, self.rules)

    # -- HTTP ---------------------------------------------------------------
    @http("GET", "/visits")
    @api(roles=("fire_officer", "coordinator"))
    def list_visits(self, request, principal):
        query = VisitsQuerySchema().load(request.args.to_dict())
        page = visit_page(self.store, open_=query.get("open"), status=query.get("status"),
                          priority=query.get("priority"), page=query["page"], per_page=query["per_page"])
        # every person on the page is disclosed to the reader: one entry each
        self.audit.read(principal, request, "visit_list_read", *(v["case_id"] for v in page.items))
        return VisitListSchema().dump(page)

    @http("GET", "/visits/<string:visit_id>")
    @api(roles=("fire_officer", "coordinator"))
    def get_visit(self, request, principal, visit_id):
        bind_context(visit_id=visit_id)
        visit = self.assessment.visit(visit_id)
        self.audit.read(principal, request, "visit_read", visit["case_id"])
        return VisitSchema().dump(visit)

    @http("GET", "/visits/<string:visit_id>.ics")
    @api(roles=("fire_officer", "coordinator"))
    def visit_calendar_file(self, request, principal, visit_id):
        bind_context(visit_id=visit_id)
        visit = self.assessment.visit(visit_id)
        body = visit_calendar(visit, now=utcnow())     # NotBooked -> 404 before anything is disclosed
        self.audit.read(principal, request, "visit_calendar_read", visit["case_id"])
        return Response(body, mimetype="text/calendar", headers={
            "Content-Disposition": f'attachment; filename="visit-{visit["reference"]}.ics"',
            "Cache-Control": "no-store"})

    @http("POST", "/visits/<string:visit_id>/acknowledge")
    @api(roles=("fire_officer",))
    def acknowledge_visit(self, request, principal, visit_id):
        if request.content_length:  # the body is optional, but a body must be right
            AcknowledgeRequestSchema().load(read_json(request))
        return self._move(visit_id, "acknowledged", principal, request)

    @http("POST", "/visits/<string:visit_id>/schedule")
    @api(roles=("fire_officer",))
    def schedule_visit(self, request, principal, visit_id):
        booking = ScheduleRequestSchema().load(read_json(request))
        return self._move(visit_id, "scheduled", principal, request, scheduled_for=booking["scheduled_for"])

    @http("POST", "/visits/<string:visit_id>/outcome")
    @api(roles=("fire_officer",))
    def record_outcome(self, request, principal, visit_id):
        outcome = OutcomeRequestSchema().load(read_json(request))
        notes = {"notes": outcome["notes"]} if outcome["notes"] is not None else {}  # keep earlier notes
        return self._move(visit_id, outcome["outcome"], principal, request,
                          outcome=outcome["outcome"], actions=outcome["actions"], **notes)

    def _move(self, visit_id, to, principal, request, **fields):
        bind_context(visit_id=visit_id)
        visit = self.assessment.move_visit(visit_id, to, actor=principal.actor,
                                           correlation_id=request.correlation_id, **fields)
        self.audit.changed(principal, request, f"visit_{to}", visit["case_id"])
        return VisitSchema().dump(visit)

    # -- events -------------------------------------------------------------
    @consumes(("referrals", REFERRAL_RECEIVED))
    def assess_referral(self, envelope):
        assessed = self.assessment.assess_referral(envelope, ReferralForSafety().load(envelope["data"]))
        decision = assessed.decision
        if assessed.result in DISCLOSED_TO_FIRE_SERVICE:  # the crew may now read the person's details
            self.audit.disclosed("visit_disclosed_to_fire_service", envelope["case_id"], envelope["correlation_id"],
                                 actor="system:safety")
        log.info("referral_assessed", result=assessed.result, priority=decision and decision.priority,
                 rule=decision and decision.rule)

    @consumes(("referrals", CONSENT_WITHDRAWN))
    def withdraw_consent(self, envelope):
        withdrawal = ConsentWithdrawn().load(envelope["data"])
        applied = self.assessment.withdraw_consent(envelope, withdrawal["scope"], withdrawal["actor"])
        log.info("consent_withdrawal_handled", scope=withdrawal["scope"], assessments=applied)

    @consumes(("referrals", CASE_STATUS_CHANGED))
    def cancel_case(self, envelope):
        change = CaseStatusChanged().load(envelope["data"])
        applied = self.assessment.cancel_case(envelope, change["to"], change["actor"])
        log.info("case_status_change_handled", to_status=change["to"], assessments=applied)

    @consumes(("referrals", CASE_ERASED))
    def erase_case(self, envelope):
        erasure = CaseErased().load(envelope["data"])
        log.info("case_erasure_handled", assessments=self.assessment.erase_case(envelope, erasure["actor"]))

    @consumes(("safety", VISIT_DUE))
    def announce_overdue(self, envelope):
        """The visit's wake-up: it waits on the broker until due_by, then announces an open visit once."""
        wake_up = VisitDue().load(envelope["data"])
        bind_context(visit_id=wake_up["visit_id"])
        wait_until = self.assessment.announce_if_overdue(wake_up["visit_id"], wake_up["due_by"])
        if wait_until is not None:
            raise NotDueYet(wait_until)

    # -- timers -------------------------------------------------------------
    @configured_timer("OVERDUE_SWEEP_SECONDS", default=300)
    def sweep_overdue(self):
        announced = self.assessment.sweep_overdue()
        if announced:
            log.warning("overdue_sweep_found_lost_wake_ups", announced=announced)

    @timer(interval=outbox.SWEEP_SECONDS)
    def relay_outbox(self):
        self.events.relay(self.store)
