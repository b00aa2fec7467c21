"""Referrals service: intake from partner agencies, cases and their timeline."""
from __future__ import annotations

import hashlib
import json
import uuid

from nameko.timer import timer
from nameko.web.handlers import http

from services.common.auth import ApiKeys, Forbidden
from services.common.consumer import DeliveryRetry, consumes
from services.common.envelope import utcnow
from services.common.health import health_response
from services.common.http import Conflict, NotFound, api, read_json, register_error
from services.common.logs import bind_context, configure_logging, get_logger
from services.common.mongo import MongoStore, storable
from services.common.outbox import EventPublisher

from . import domain
from .events import TIMELINE_SOURCES, referral_event, summarise, timeline_entry
from .lifecycle import OPEN_STATUSES, IllegalTransition, next_status
from .repository import CaseRepository, StaleCase
from .schemas import CasesQuerySchema, ReferralSchema, TransitionRequestSchema, person_key

configure_logging()
log = get_logger(__name__)
register_error(IllegalTransition, 409, "illegal_transition")
register_error(StaleCase, 409, "conflict")


class ReferralsService:
    name = "referrals"

    store = MongoStore(CaseRepository)
    api_keys = ApiKeys()
    events = EventPublisher()
    delivery = DeliveryRetry()

    # -- HTTP ---------------------------------------------------------------
    @http("GET", "/health")
    def health(self, request):
        return health_response(self.events.amqp_uri, self.store)

    @http("POST", "/referrals")
    @api(roles=("partner", "coordinator"))
    def create_referral(self, request, principal):
        body = read_json(request)
        referral = storable(ReferralSchema().load(body))
        agency = self._agency_for(principal, referral)
        key = request.headers.get("Idempotency-Key")
        if not key:
            return 201, self._store_referral(referral, agency, principal, request.correlation_id,
                                              ids=self._new_ids())
        scoped_key = f"{principal.agency or principal.key_id}:{key}"
        body_hash = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        ids = self._new_ids()
        existing = self.store.claim_idempotency_key(scoped_key, body_hash, ids)
        if existing is None:
            response = self._store_referral(referral, agency, principal, request.correlation_id, ids)
            self.store.complete_idempotency_key(scoped_key, response)
            return 201, response
        if existing["body_hash"] != body_hash:
            raise Conflict("this Idempotency-Key was used with a different body")
        return 200, self._replay(existing, scoped_key)

    @http("GET", "/referrals/<string:reference>")
    @api(roles=("partner", "coordinator"))
    def referral_status(self, request, principal, reference):
        case = self.store.find_by_reference(reference)
        record = next((r for r in (case or {}).get("referrals", []) if r["reference"] == reference), None)
        # another agency's referral looks exactly like a missing one
        if record is None or (principal.role == "partner" and record["agency"] != principal.agency):
            raise NotFound(f"no referral {reference}")
        visit = case.get("visit")
        return {"reference": reference, "status": case["status"], "updated_at": case["updated_at"],
                "visit": {"status": visit["status"]} if visit else None}

    @http("GET", "/cases")
    @api(roles=("coordinator",))
    def list_cases(self, request, principal):
        query = CasesQuerySchema().load(request.args.to_dict())
        docs, total = self.store.list_cases(**query)
        return {"items": [_case_summary(d) for d in docs], "total": total,
                "page": query["page"], "per_page": query["per_page"]}

    @http("GET", "/cases/<string:case_id>")
    @api(roles=("coordinator",))
    def get_case(self, request, principal, case_id):
        bind_context(case_id=case_id)
        return _case_detail(self._case(case_id))

    @http("POST", "/cases/<string:case_id>/transitions")
    @api(roles=("coordinator",))
    def transition_case(self, request, principal, case_id):
        bind_context(case_id=case_id)
        move = TransitionRequestSchema().load(read_json(request))
        case = self._case(case_id)
        current = case["status"]
        target = next_status(current, move["to"], case.get("held_from"))
        data = {"from": current, "to": target.value, "reason": move["reason"], "actor": principal.actor}
        event = referral_event("case_status_changed", case, request.correlation_id, data)
        self.store.change_status(
            case_id, case["version"],
            {"status": target.value,
             "held_from": current if target.value == "on_hold" else None},
            timeline_entry(event, f"Case moved from {current} to {target.value}"), [event])
        log.info("case_status_changed", case_id=case_id, from_status=current, to_status=target.value)
        return _case_detail(self._case(case_id))

    # -- events -------------------------------------------------------------
    @consumes(*TIMELINE_SOURCES)
    def record_on_timeline(self, envelope):
        changes = _projection(envelope)
        applied = self.store.record_event(envelope["case_id"], envelope["event_id"],
                                          timeline_entry(envelope, summarise(envelope)), changes)
        log.info("timeline_recorded" if applied else "timeline_duplicate_ignored")

    @timer(interval=0.25)
    def relay_outbox(self):
        self.events.relay(self.store)

    # -- helpers ------------------------------------------------------------
    def _case(self, case_id):
        case = self.store.get(case_id)
        if case is None:
            raise NotFound(f"no case {case_id}")
        return case

    @staticmethod
    def _new_ids():
        return {"case_id": str(uuid.uuid4()), "referral_id": str(uuid.uuid4())}

    @staticmethod
    def _agency_for(principal, referral):
        claimed = referral["referrer"].get("agency")
        if principal.role == "partner":
            if claimed and claimed != principal.agency:
                raise Forbidden(f"this key belongs to {principal.agency}; it cannot refer for {claimed}")
            return principal.agency
        return claimed or "coordinator"

    def _replay(self, existing, scoped_key):
        if existing.get("response"):
            return existing["response"]
        # the first request stored its referral but not its response (crash) — rebuild it
        case = self.store.find_by_referral_id(existing["ids"]["referral_id"])
        if case is None:
            raise Conflict("a request with this Idempotency-Key is still being processed; retry shortly")
        record = next(r for r in case["referrals"] if r["referral_id"] == existing["ids"]["referral_id"])
        response = _created(case["_id"], record)
        self.store.complete_idempotency_key(scoped_key, response)
        return response

    def _store_referral(self, referral, agency, principal, correlation_id, ids):
        received_at = utcnow()
        reference = self.store.next_reference(domain.REFERENCE_PREFIX, received_at.year)
        record = domain.referral_record(referral, referral_id=ids["referral_id"], reference=reference,
                                        agency=agency, received_at=received_at, key_id=principal.key_id)
        key = person_key(referral["person"])
        for _ in range(3):  # a concurrent move on the open case: read again
            open_case = self.store.find_open_case_for(key, OPEN_STATUSES)
            if open_case is None:
                break
            case = self.store.get(open_case["_id"])
            bind_context(case_id=case["_id"])
            event = referral_event("referral_received", case, correlation_id,
                                   domain.referral_received_data(case, record, duplicate_of=case["_id"]))
            try:
                self.store.add_referral(case["_id"], case["version"], record,
                                        {**timeline_entry(event, f"Another referral ({reference}) "
                                                                 f"from {agency} for the same person"),
                                         "type": "duplicate_referral"}, [event])
            except StaleCase:
                continue
            log.info("duplicate_referral_linked", reference=reference)
            return _created(case["_id"], record)
        case_id = ids["case_id"]
        bind_context(case_id=case_id)
        case = {"_id": case_id, "reference": reference}
        case_stub = domain.new_case(referral, record, case_id=case_id, person_key=key, timeline_entry={})
        event = referral_event("referral_received", case, correlation_id,
                               domain.referral_received_data(case_stub, record))
        case_stub["timeline"] = [timeline_entry(event, f"Referral {reference} received from {agency}")]
        self.store.open_case(case_stub, [event])
        log.info("referral_received", reference=reference, level=case_stub["level"])
        return _created(case_id, record)


def _created(case_id, record):
    return {"referral_id": record["referral_id"], "case_id": case_id,
            "reference": record["reference"], "status": "received"}


def _projection(envelope):
    """What the case itself learns from other services' events."""
    data = envelope["data"]
    if envelope["event_type"] == "visit_requested":
        return {"visit": {"visit_id": data["visit_id"], "status": "requested",
                          "priority": data["priority"], "due_by": data.get("due_by")},
                "urgency": domain.PRIORITY_URGENCY.get(data["priority"], 0)}
    if envelope["event_type"] == "visit_status_changed":
        return {"visit": {"visit_id": data["visit_id"], "status": data["status"],
                          "priority": data.get("priority"), "due_by": data.get("due_by")}}
    return None


def _case_summary(doc):
    visit = doc.get("visit") or {}
    return {"case_id": doc["_id"], "reference": doc["reference"], "status": doc["status"],
            "level": doc["level"], "cir_max": doc["cir_max"],
            "visit_status": visit.get("status"), "visit_priority": visit.get("priority"),
            "updated_at": doc["updated_at"]}


def _case_detail(doc):
    visit = doc.get("visit")
    timeline = sorted(doc.get("timeline", []), key=lambda e: e["at"])
    return {
        "case_id": doc["_id"], "reference": doc["reference"], "status": doc["status"],
        "level": doc["level"], "cir_max": doc["cir_max"], "person": doc["person"],
        "consent": doc.get("consent"),
        "visit": ({"visit_id": visit["visit_id"], "status": visit["status"],
                   "priority": visit["priority"], "due_by": visit.get("due_by")} if visit else None),
        "referrals": [{k: r.get(k) for k in ("referral_id", "reference", "agency", "external_ref",
                                             "received_at", "referrer", "reason", "requested")}
                      for r in doc.get("referrals", [])],
        "timeline": [{k: e.get(k) for k in ("at", "type", "summary", "source", "correlation_id")}
                     for e in timeline],
        "created_at": doc.get("created_at"), "updated_at": doc["updated_at"],
    }
