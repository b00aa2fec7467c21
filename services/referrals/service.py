"""Referrals service: intake from partner agencies, cases and their timeline."""
from __future__ import annotations

import json

from nameko.timer import timer
from werkzeug.wrappers import Response
from services.common.web import http

from services.common import http as common_http
from services.common import outbox
from services.common.auth import ApiKeys, Forbidden
from services.common.consumer import DeliveryRetry, consumes
from services.common.envelope import utcnow
from services.common.http import NotFound, api, idempotency_key_of, read_json, register_error
from services.common.logs import bind_context, configure_logging, get_logger
from services.common.mongo import MongoStore, storable
from services.common.outbox import EventPublisher
from services.common.vocabulary import SMS_STOP_RECEIVED

from . import attention, casework, domain, exports, fhir, intake, reports, safeguarding
from .attention import NotDismissible, NotNeeded
from .contract import OPENAPI
from .export_schemas import (FhirExportQuerySchema, ReportQuerySchema, SafeguardingPackQuerySchema,
                             SafeguardingPackRequestSchema)
from .events import TIMELINE_SOURCES, summarise, timeline_entry
from .extensions import SafeguardingThreshold
from .lifecycle import IllegalTransition, next_statuses
from .records import CaseRecords
from .repository import CaseRepository, StaleCase
from .schemas import (AttentionDismissalSchema, CaseDetailSchema, CaseListSchema, CasesQuerySchema,
                      CirRatingRequestSchema, ConsentWithdrawalSchema, ErasureRequestSchema, ProgressUpdatesRequestSchema,
                      ReferralListSchema,
                      ReferralSchema,
                      ReferralsQuerySchema, ReferralStatusSchema, TransitionRequestSchema)

configure_logging()
log = get_logger(__name__)
# the two schemas of the busiest requests, built once: a schema copies its fields when made
# (a fifth of reading a case went on that); both keep nothing between calls
_REFERRAL = ReferralSchema()  # no fixed date: "not in the future" asks London's date at each load
_CASE_DETAIL = CaseDetailSchema()
register_error(IllegalTransition, 409, "illegal_transition")
register_error(StaleCase, 409, "conflict")
register_error(NotDismissible, 409, "not_dismissible")
register_error(NotNeeded, 409, "not_needed")


class ReferralsService(CaseRecords, common_http.ServiceHttp):  # CaseRecords: /audit, subject access, audit
    name = "referrals"
    openapi_document = OPENAPI

    store = MongoStore(CaseRepository)
    api_keys = ApiKeys()
    events = EventPublisher()
    delivery = DeliveryRetry()
    safeguarding_threshold = SafeguardingThreshold()

    # -- HTTP ---------------------------------------------------------------


    @http("POST", "/referrals")
    @api(roles=("partner", "coordinator"))
    def create_referral(self, request, principal):
        body = read_json(request)
        referral = storable(_REFERRAL.load(body))
        status, created = intake.submit(self.store, referral, agency=_agency_for(principal, referral),
                                        principal=principal, correlation_id=request.correlation_id,
                                        idempotency_key=idempotency_key_of(request), raw_body=body)
        self.audit.changed(principal, request, "referral_submitted", created.get("case_id"))
        return status, created

    @http("GET", "/referrals")
    @api(roles=("partner", "coordinator"))
    def list_referrals(self, request, principal):
        query = ReferralsQuerySchema().load(request.args.to_dict())
        # a partner sees only its own agency's referrals; the filter is the service's, not the caller's
        agency = principal.agency if principal.role == "partner" else None
        rows, total = self.store.list_referrals(agency=agency, **query)
        items = [item for item in (self._referral_item(row) for row in rows) if item]
        return ReferralListSchema().dump({"items": items, "total": total, "page": query["page"],
                                          "per_page": query["per_page"]})

    def _referral_item(self, row):
        """A line of GET /referrals: the same view of the referral as GET /referrals/{reference}."""
        case = self.store.get(row["case_id"])
        record = next((r for r in (case or {}).get("referrals", []) if r["reference"] == row["reference"]), None)
        if record is None:
            return None
        view = domain.referrer_view(case, record)
        return {"reference": row["reference"], "received_at": record["received_at"], "status": view["status"],
                "visit_status": (view["visit"] or {}).get("status"), "updated_at": view["updated_at"]}

    @http("GET", "/referrals/<string:reference>")
    @api(roles=("partner", "coordinator"))
    def referral_status(self, request, principal, reference):
        case = self.store.find_by_reference(reference)
        record = next((r for r in (case or {}).get("referrals", []) if r["reference"] == reference), None)
        # another agency's referral looks exactly like a missing one
        if record is None or (principal.role == "partner" and record["agency"] != principal.agency):
            raise NotFound(f"no referral {reference}")
        self.audit.read(principal, request, "referral_status_read", case["_id"])
        return ReferralStatusSchema().dump({"reference": reference, **domain.referrer_view(case, record)})

    @http("GET", "/cases")
    @api(roles=("coordinator",))
    def list_cases(self, request, principal):
        query = CasesQuerySchema().load(request.args.to_dict())
        docs, total = self.store.list_cases(**query, threshold=self.safeguarding_threshold)
        # the list shows names and postcodes: each case on the page is a read of personal data
        self.audit.read(principal, request, "case_list_read", *(d["_id"] for d in docs))
        return CaseListSchema().dump({"items": [_case_summary(d) for d in docs], "total": total,
                                      "page": query["page"], "per_page": query["per_page"]})

    @http("GET", "/cases/<string:case_id>")
    @api(roles=("coordinator",))
    def get_case(self, request, principal, case_id):
        bind_context(case_id=case_id)
        detail = self._detail(case_id)
        self.audit.read(principal, request, "case_read", case_id)
        return detail

    @http("POST", "/cases/<string:case_id>/transitions")
    @api(roles=("coordinator",))
    def transition_case(self, request, principal, case_id):
        bind_context(case_id=case_id)
        move = TransitionRequestSchema().load(read_json(request))
        casework.move(self.store, self._case(case_id), move["to"], move["reason"], principal,
                      request.correlation_id)
        self.audit.changed(principal, request, "case_status_changed", case_id)
        return self._detail(case_id)

    @http("POST", "/cases/<string:case_id>/attention")
    @api(roles=("coordinator",))
    def dismiss_attention(self, request, principal, case_id):
        bind_context(case_id=case_id)
        mark = AttentionDismissalSchema().load(read_json(request))
        casework.dismiss_attention(self.store, self._case(case_id), mark["reason"], mark.get("note"), principal,
                                   request.correlation_id, threshold=self.safeguarding_threshold)
        self.audit.changed(principal, request, "attention_dismissed", case_id)
        return self._detail(case_id)

    @http("POST", "/cases/<string:case_id>/cir-ratings")
    @api(roles=("coordinator",))
    def record_rating(self, request, principal, case_id):
        bind_context(case_id=case_id)
        rating = CirRatingRequestSchema().load(read_json(request))
        casework.record_rating(self.store, self._case(case_id), rating["ratings"], rating["rated_on"], principal,
                               request.correlation_id)
        self.audit.changed(principal, request, "cir_rating_recorded", case_id)
        return 201, self._detail(case_id)

    @http("POST", "/cases/<string:case_id>/progress-updates")
    @api(roles=("coordinator",))
    def set_progress_updates(self, request, principal, case_id):
        bind_context(case_id=case_id)
        choice = ProgressUpdatesRequestSchema().load(read_json(request))
        casework.set_progress_updates(self.store, self._case(case_id), choice["opted_in"], principal,
                                      request.correlation_id)
        self.audit.changed(principal, request, "progress_updates_changed", case_id)
        return self._detail(case_id)

    @http("POST", "/cases/<string:case_id>/consent-withdrawal")
    @api(roles=("coordinator",))
    def withdraw_consent(self, request, principal, case_id):
        bind_context(case_id=case_id)
        withdrawal = ConsentWithdrawalSchema().load(read_json(request))
        casework.withdraw_consent(self.store, self._case(case_id), withdrawal["scope"], withdrawal.get("reason"),
                                  principal, request.correlation_id)
        self.audit.changed(principal, request, "consent_withdrawn", case_id)
        return self._detail(case_id)

    @http("POST", "/cases/<string:case_id>/erasure")
    @api(roles=("coordinator", "admin"))
    def erase_case(self, request, principal, case_id):
        bind_context(case_id=case_id)
        erasure = ErasureRequestSchema().load(read_json(request))
        casework.erase(self.store, self._case(case_id), erasure["reason"], principal, request.correlation_id)
        self.audit.changed(principal, request, "case_erased", case_id)
        return self._detail(case_id)

    # -- events -------------------------------------------------------------
    @consumes(*TIMELINE_SOURCES)
    def record_on_timeline(self, envelope):
        applied = self.store.record_event(envelope["case_id"], envelope["event_id"],
                                          timeline_entry(envelope, summarise(envelope)),
                                          domain.visit_projection(envelope))
        log.info("timeline_recorded" if applied else "timeline_duplicate_ignored")

    @consumes(("notifications", SMS_STOP_RECEIVED))
    def withdraw_contact_by_sms(self, envelope):
        withdrawn = casework.stop_by_sms(self.store, envelope["case_id"], envelope["correlation_id"])
        log.info("consent_withdrawn_by_sms" if withdrawn else "sms_stop_changed_nothing")

    @timer(interval=outbox.SWEEP_SECONDS)
    def relay_outbox(self):
        self.events.relay(self.store)
        self.store.refresh_stale_listings()

    # -- helpers ------------------------------------------------------------
    def _detail(self, case_id):
        case = self._case(case_id)
        return _CASE_DETAIL.dump({**case, "case_id": case["_id"], "timeline": self.store.timeline_of(case),
                                        "cir_trend": domain.cir_trend(case.get("cir_ratings", [])),
                                        "next_statuses": next_statuses(case),
                                        "needs_action": attention.needs_action(
                                            attention.facts_of(case), utcnow(), self.safeguarding_threshold)})

    def _case(self, case_id):
        case = self.store.get(case_id)
        if case is None:
            raise NotFound(f"no case {case_id}")
        return case

    # -- standards export: HL7 FHIR R4 (fhir.py maps, exports.py reads) -------------------
    @http("GET", "/cases/<string:case_id>/fhir")
    @api(roles=("coordinator",))
    def case_fhir(self, request, principal, case_id):
        bind_context(case_id=case_id)
        bundle = fhir.bundle(self._case(case_id))
        self.audit.read(principal, request, "case_fhir_read", case_id)
        return Response(json.dumps(bundle), mimetype="application/fhir+json")

    @http("GET", "/exports/fhir")
    @api(roles=("admin",))
    def fhir_bulk_export(self, request, principal):
        query = FhirExportQuerySchema().load(request.args.to_dict())
        case_ids, personal = exports.exported_case_ids(self.store)
        self.audit.read(principal, request, "fhir_bulk_export", *personal)  # before a line goes out
        log.info("fhir_bulk_export", resource_type=query["type"], cases=len(case_ids))
        return Response(fhir.ndjson(exports.cases_in(self.store, case_ids), query["type"]),
                        mimetype="application/fhir+ndjson")

    # -- reports (reports.py computes, exports.py reads) ---------------------------------
    @http("GET", "/reports/<string:name>")
    @api(roles=("coordinator", "admin"))
    def report(self, request, principal, name):
        if name not in reports.REPORTS:
            raise NotFound(f"no report {name}; reports: {', '.join(reports.REPORTS)}")
        query = ReportQuerySchema().load(request.args.to_dict())
        period = reports.Period(query["start"], query["end"])
        table = exports.report(self.store, name, period, now=utcnow())
        log.info("report_produced", report=name, output=query["format"], rows=len(table.rows))
        if query["format"] == "csv":
            filename = f"{name}_{period.start.isoformat()}_{period.end.isoformat()}.csv"
            return Response(reports.disclosed(table).as_csv(), mimetype="text/csv",
                            headers={"Content-Disposition": f'attachment; filename="{filename}"'})
        return table.as_json(period)

    # -- safeguarding: an adult social care referral pack (safeguarding.py) --------------------
    @http("POST", "/cases/<string:case_id>/safeguarding-pack")
    @api(roles=("coordinator",))
    def safeguarding_pack(self, request, principal, case_id):
        bind_context(case_id=case_id)
        query = SafeguardingPackQuerySchema().load(request.args.to_dict())
        asked = SafeguardingPackRequestSchema().load(read_json(request))
        document = safeguarding.produce(self.store, self.audit, self._case(case_id), asked["lawful_basis"],
                                        asked["note"], principal, request.correlation_id)
        if query["format"] == "json":
            return 201, document
        return Response(safeguarding.render(document, query["format"]), status=201,
                        mimetype="text/html" if query["format"] == "html" else "text/plain")


def _agency_for(principal, referral):
    claimed = referral["referrer"].get("agency")
    if principal.role == "partner":
        if claimed and claimed != principal.agency:
            raise Forbidden(f"this key belongs to {principal.agency}; it cannot refer for {claimed}")
        return principal.agency
    return claimed or "coordinator"


def _case_summary(doc):
    """A `case_list` document as GET /cases shows it (with its `needs_action`, computed at read time)."""
    visit = doc.get("visit") or {}
    return {"case_id": doc["_id"], "reference": doc["reference"], "status": doc["status"],
            "level": doc["level"], "cir_max": doc["cir_max"], "visit_status": visit.get("status"),
            "visit_priority": visit.get("priority"), "visit_due_by": visit.get("due_by"),
            "updated_at": doc["updated_at"], "name": doc.get("name", ""), "postcode": doc.get("postcode", ""),
            "received_at": doc.get("received_at") or doc.get("created_at"),
            "needs_action": doc.get("needs_action", [])}
