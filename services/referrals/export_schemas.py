"""Schemas and OpenAPI routes of what leaves the service as a whole: FHIR exports, reports, safeguarding packs."""
from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from services.common.openapi import Route

from . import fhir

COORDINATOR, ADMIN = ("coordinator",), ("admin",)


class _Query(Schema):
    class Meta:
        unknown = RAISE


class FhirExportQuerySchema(_Query):
    type = fields.String(required=True, validate=validate.OneOf(fhir.EXPORT_TYPES, error="must be one of: {choices}"),
                         metadata={"description": "which resource each line holds"})


class FhirBundleSchema(Schema):
    """A FHIR R4 Bundle (type collection); its entries are FHIR resources, documented by HL7."""
    resourceType = fields.String(required=True, metadata={"example": "Bundle"})
    type = fields.String(required=True, metadata={"example": "collection"})
    timestamp = fields.String()
    entry = fields.List(fields.Dict(), required=True, metadata={
        "description": "{fullUrl: urn:uuid:<id>, resource}: each referral's ServiceRequest (its person as a "
                       "contained Patient), then the case's Task (focus: the first ServiceRequest)"})


ROUTES = [
    Route("GET", "/cases/{case_id}/fhir", "The case as HL7 FHIR R4: a collection Bundle of each referral's "
          "ServiceRequest and the Task tracking the case (audited as a read)", roles=COORDINATOR,
          response=FhirBundleSchema, media_types=("application/fhir+json",), errors=(401, 403, 404)),
    Route("GET", "/exports/fhir", "Bulk FHIR R4 export of every case, streamed as NDJSON: one resource a line",
          roles=ADMIN, query=FhirExportQuerySchema, media_types=("application/fhir+ndjson",),
          errors=(400, 401, 403),
          description="`type=ServiceRequest`: each referral (the person as a contained Patient); `type=Task`: "
                      "each case. References are relative (`ServiceRequest/<id>`). An erased case exports its "
                      "references, agencies, dates and statuses, nothing personal. Every case whose personal "
                      "data is exported gets an audit entry (`fhir_bulk_export`)."),
]
