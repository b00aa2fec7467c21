"""Schemas and OpenAPI routes of what leaves the service as a whole: FHIR exports, reports, safeguarding packs."""
from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from services.common.openapi import Route

from . import fhir, reports, safeguarding
from .schemas import _Text

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


class _Day(fields.Date):
    default_error_messages = {"invalid": "must be a date as YYYY-MM-DD, e.g. 2026-11-30"}


class ReportQuerySchema(_Query):
    start = _Day(required=True, data_key="from", metadata={"description": "first day, inclusive (London)"})
    end = _Day(required=True, data_key="to", metadata={"description": "last day, inclusive (London)"})
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "csv"), error="must be json or csv"))

    @validates_schema
    def _in_order(self, data, **kwargs):
        if data["start"] > data["end"]:
            raise ValidationError("must not be after to", field_name="from")


class ReportColumnSchema(Schema):
    name = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(("label", "count", "rate", "value")),
                         metadata={"description": "a rate is a percentage; a value a median or mean"})
    description = fields.String(required=True)


class ReportSchema(Schema):
    report = fields.String(required=True, validate=validate.OneOf(reports.REPORTS))
    title = fields.String(required=True)
    from_ = fields.String(required=True, data_key="from", attribute="from")
    to = fields.String(required=True)
    suppressed = fields.Boolean(required=True, metadata={
        "description": "whether small-number disclosure control was applied (false in JSON, true in CSV)"})
    columns = fields.List(fields.Nested(ReportColumnSchema), required=True)
    rows = fields.List(fields.Dict(), required=True, metadata={"description": "one object a row, by column name"})
    notes = fields.List(fields.String(), required=True)


class SafeguardingPackRequestSchema(_Query):
    lawful_basis = fields.String(required=True, validate=validate.OneOf(
        tuple(safeguarding.LAWFUL_BASES), error="must be one of: {choices}"), metadata={
        "description": "consent: the person's consent as recorded with the referral (refused, 409, once withdrawn); "
                       "any other: the basis the coordinator relies on, recorded with who and when"})
    note = _Text(2000, required=True, metadata={"description": "why the coordinator is referring: goes in the pack "
                                                               "and on the timeline"})


class SafeguardingPackQuerySchema(_Query):
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "html", "text"),
                                                                        error="must be json, html or text"))


class SafeguardingPackSchema(Schema):
    pack_id = fields.String(required=True)
    produced_at = fields.String(required=True)
    case_reference = fields.String(required=True)
    concern = fields.String(required=True)
    lawful_basis = fields.Dict(required=True, metadata={
        "description": "{basis, explanation, recorded_by, recorded_at} (+ consent_obtained_by/on for consent)"})
    person = fields.Dict(required=True, metadata={"description": "{name, date_of_birth, address, phone} only"})
    clutter_image_rating = fields.Dict(required=True, metadata={"description": "{level, highest, latest, trend}"})
    fire_risk = fields.Dict(required=True, metadata={"description": "{flags: [words]}"})
    fire_safety_visit = fields.Dict(allow_none=True, metadata={"description": "{status, priority, as_of} or null"})
    referred_by = fields.Dict(required=True, metadata={"description": "{organisation, coordinator, reason}"})


REPORT_DESCRIPTION = (
    "Names: " + ", ".join(f"`{name}`" for name in reports.REPORTS) + ". Computed from the referrals service's own "
    "records and the events it has received. `format=json` gives exact figures, for coordinators and admins "
    "only; `format=csv` is the export to share: counts from 1 to 4 show as `<5` and rates, medians and means "
    "derived from them as `suppressed` (small-number disclosure control), and no totals are given. An unknown "
    "name is 404; a bad date, or `from` after `to`, is 400.")

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
    Route("GET", "/reports/{name}", "A report over a period, as JSON or as a CSV export",
          roles=("coordinator", "admin"), query=ReportQuerySchema, response=ReportSchema,
          media_types=("application/json", "text/csv"), errors=(400, 401, 403, 404),
          description=REPORT_DESCRIPTION),
    Route("POST", "/cases/{case_id}/safeguarding-pack", "An adult social care referral pack for a self-neglect "
          "concern (Care Act 2014 s.42), minimised, on a recorded lawful basis", roles=COORDINATOR,
          query=SafeguardingPackQuerySchema, request=SafeguardingPackRequestSchema, response=SafeguardingPackSchema,
          status=201, media_types=("application/json", "text/html", "text/plain"),
          errors=(400, 401, 403, 404, 409, 415),
          description="Holds the person's name, date of birth, address and phone, the Clutter Image Ratings and "
                      "their trend, the fire risk flags and the fire safety visit's status, and who is referring "
                      "and why; never the referral narrative, access needs, diagnoses or group attendance. "
                      "Refused (409) on `consent` when the person's consent is not on record, and for an erased "
                      "case. Each pack is audited (`safeguarding_pack_produced`), kept on the case "
                      "(`safeguarding_packs`: who, when, basis) and on the timeline (the note as its reason). "
                      "`?format=html` is a page that prints; `?format=text` plain text."),
]
