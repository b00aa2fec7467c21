"""Admin views over what is held and who saw it: the audit trail of a case across services, and
subject access. A mixin of ReferralsService (entrypoints only translate; sar.py and gather.py work).

Each service keeps its own audit chain (services/common/audit.py); the referrals service, which owns
audit, gathers the other two over nameko RPC with a deadline and names a service that did not answer.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from marshmallow import Schema, fields, validate
from nameko.dependency_providers import Config
from werkzeug.wrappers import Response

from services.common.consumer import consumes
from services.common.records import KeptRecords
from services.common.rpc import ServiceRpc, rpc
from services.common.vocabulary import CASE_STATUS_CHANGED
from services.common.gather import DEFAULT_TIMEOUT_SECONDS, gather, jsonable
from services.common.http import NotFound, api
from services.common.logs import bind_context
from services.common.openapi import Route
from services.common.web import http

from . import retention, sar

ADMIN = ("admin",)


class AuditQuerySchema(Schema):
    case_id = fields.String(required=True, validate=validate.Length(min=1, max=100))


class AuditEntrySchema(Schema):
    at = fields.String(metadata={"description": "UTC ISO-8601"})
    actor = fields.String(metadata={"description": "the key or signed-in person: ids only"})
    role = fields.String(allow_none=True)
    agency = fields.String(allow_none=True)
    action = fields.String(metadata={"description": "e.g. case_read, visit_list_read, visit_disclosed_to_fire_service"})
    case_id = fields.String()
    correlation_id = fields.String(allow_none=True)
    service = fields.String(metadata={"description": "whose chain holds the entry"})
    client = fields.String(allow_none=True, metadata={"description": "the client address"})


class AuditListSchema(Schema):
    items = fields.List(fields.Nested(AuditEntrySchema))
    incomplete = fields.List(fields.String(), metadata={
        "description": "services that did not answer in time (their entries are missing)"})


class SubjectAccessQuerySchema(Schema):
    reference = fields.String(required=True, metadata={"example": "HRW-2026-000123"})
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "html"]),
                           metadata={"description": "html: one readable page with the JSON embedded"})


class SubjectAccessSchema(Schema):
    subject_access_request = fields.Dict()
    complete = fields.Boolean()
    incomplete = fields.List(fields.String(), metadata={"description": "e.g. 'safety did not answer within 5 seconds'"})
    services = fields.Dict(metadata={"description": "referrals, safety, notifications: what each holds (null if it did not answer)"})
    audit = fields.List(fields.Nested(AuditEntrySchema))


ROUTES = [
    Route("GET", "/audit", "Who read, changed or disclosed a case, from every service's audit chain "
                           "(gathered over the broker; `incomplete` names a service that did not answer)",
          roles=ADMIN, query=AuditQuerySchema, response=AuditListSchema, errors=(400, 401, 403)),
    Route("GET", "/subject-access", "Subject access export: everything every service holds about the person "
                                    "of a referral, and every audit entry (itself audited)",
          roles=ADMIN, query=SubjectAccessQuerySchema, response=SubjectAccessSchema, errors=(400, 401, 403, 404)),
]


@dataclass(frozen=True)
class Operator:
    """Someone acting through the CLI (on the machine, so an admin)."""
    actor: str
    role: str = "admin"
    agency: str | None = None


class CaseRecords(KeptRecords):
    safety_rpc = ServiceRpc("safety")
    notifications_rpc = ServiceRpc("notifications")
    settings = Config()

    def _peers(self) -> dict:
        return {"safety": self.safety_rpc, "notifications": self.notifications_rpc}

    def _gather_timeout(self) -> float:
        return float(self.settings.get("GATHER_TIMEOUT_SECONDS") or os.environ.get("GATHER_TIMEOUT_SECONDS")
                     or DEFAULT_TIMEOUT_SECONDS)

    def _audit_items(self, case_id: str) -> dict:
        answers, missing = gather(self._peers(), "audit_for_case", case_id, timeout=self._gather_timeout())
        items = jsonable(self.audit.for_case(case_id))
        for entries in answers.values():
            items.extend(entries)
        items.sort(key=lambda e: (e.get("at") or "", e.get("service") or ""))
        return {"items": items, "incomplete": [missing[s] for s in sorted(missing)]}

    def _subject_access(self, reference: str, principal, request=None) -> dict:
        case = self.store.find_by_reference(reference)
        if case is None:
            raise NotFound(f"no referral {reference}")
        bind_context(case_id=case["_id"])
        # recorded first: the export shows it, and an export that fails later was still asked for
        self.audit.read(principal, request, "subject_access_export", case["_id"])
        answers, missing = gather(self._peers(), "subject_access", case["_id"], timeout=self._gather_timeout())
        case = self.store.get(case["_id"])
        case = {**case, "timeline": self.store.timeline_of(case)}  # other services' events live beside the case
        return sar.assemble(reference, case, principal.actor,
                            self.audit.for_case(case["_id"]), answers, missing)

    @http("GET", "/audit")
    @api(roles=ADMIN)
    def case_audit(self, request, principal):
        query = AuditQuerySchema().load(request.args.to_dict())
        bind_context(case_id=query["case_id"])
        return AuditListSchema().dump(self._audit_items(query["case_id"]))

    @http("GET", "/subject-access")
    @api(roles=ADMIN)
    def subject_access_export(self, request, principal):
        query = SubjectAccessQuerySchema().load(request.args.to_dict())
        document = self._subject_access(query["reference"], principal, request)
        if query["format"] == "html":
            return Response(sar.render_html(document), mimetype="text/html")
        return document

    @rpc
    def audit_for_case(self, case_id):
        """The CLI's `refhub audit --case`: every service's entries (this one gathers)."""
        return self._audit_items(case_id)

    @rpc
    def subject_access(self, reference, actor):
        """The CLI's `refhub sar export`: the document, with the operator recorded as the reader."""
        return self._subject_access(reference, Operator(actor=str(actor)))

    def retention_policy(self):
        return retention.CaseRetention(self.store, self.retention_schedule)

    @consumes(("referrals", CASE_STATUS_CHANGED))
    def note_for_retention(self, envelope):
        retention.note_closed(self.store.db, envelope, self.retention_schedule)
