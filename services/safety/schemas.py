"""Every marshmallow schema of the safety HTTP API (API.md, Safety service).

Load side (request bodies and the list query) rejects unknown fields; dump side
(responses) is also what filters a stored visit down to what a crew may see, so
a field that is not declared here never leaves the service.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, pre_dump, validate, validates

from services.common.fields import UtcDateTime

from services.common.envelope import utcnow

from .lifecycle import OUTCOME_STATUSES, VisitStatus
from .triage import RISK_FLAGS, VISIT_PRIORITIES
from .visits import is_overdue

VISIT_STATUSES = tuple(status.value for status in VisitStatus)
OUTCOMES = tuple(sorted(status.value for status in OUTCOME_STATUSES))
NOTES_MAX = 2000
MAX_PER_PAGE = 100
# A booking further ahead than this is almost certainly a typo in the year.
SCHEDULE_HORIZON = timedelta(days=366)

# What a crew can record having done on a visit (LFB HFSV practice).
ACTION_CODES = (
    "smoke_alarm_fitted",
    "smoke_alarm_tested",
    "heat_alarm_fitted",
    "deaf_alerter_fitted",
    "fire_safety_advice_given",
    "escape_plan_agreed",
    "clutter_reduction_advice_given",
    "smoking_safety_advice_given",
    "oxygen_safety_advice_given",
    "fire_retardant_bedding_supplied",
    "fire_retardant_throw_supplied",
    "misting_system_assessment_requested",
    "safeguarding_referral_made",
    "partner_agency_referral_made",
    "leaflet_left",
)




def _one_of(choices, **kwargs: Any) -> fields.String:
    return fields.String(validate=validate.OneOf(choices, error="must be one of: {choices}"), **kwargs)


# --- request schemas -----------------------------------------------------------


class _StrictSchema(Schema):
    class Meta:
        unknown = RAISE  # a misspelt field must fail loudly, not vanish


class VisitsQuerySchema(_StrictSchema):
    """``GET /visits`` query string (values arrive as strings, so numbers are not strict)."""

    status = _one_of(VISIT_STATUSES)
    priority = _one_of(VISIT_PRIORITIES)
    open = fields.Boolean(
        truthy={"true"}, falsy={"false"},
        metadata={"description": "true: only visits awaiting the fire service (requested, acknowledged, "
                                 "scheduled); false: only the others"})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000,
                                                                 error="must be from {min} to {max}"))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PER_PAGE,
                                                                      error="must be from {min} to {max}"))


class AcknowledgeRequestSchema(_StrictSchema):
    """``POST /visits/{visit_id}/acknowledge``: no fields; the body may be omitted."""


class ScheduleRequestSchema(_StrictSchema):
    """``POST /visits/{visit_id}/schedule``."""

    # AwareDateTime without a default zone: a time without an offset is ambiguous, so refused
    scheduled_for = fields.AwareDateTime(required=True, metadata={"example": "2026-12-01T10:00:00+00:00"})

    @validates("scheduled_for")
    def _in_the_future(self, value: datetime, **kwargs: Any) -> None:
        now = utcnow()
        if value < now:
            raise ValidationError("must not be in the past")
        if value > now + SCHEDULE_HORIZON:
            raise ValidationError("must be within a year from now")


class OutcomeRequestSchema(_StrictSchema):
    """``POST /visits/{visit_id}/outcome``. Notes stay in the safety service: never in an event."""

    outcome = _one_of(OUTCOMES, required=True)
    actions = fields.List(_one_of(ACTION_CODES), load_default=list)
    notes = fields.String(load_default=None, allow_none=True,
                          validate=validate.Length(max=NOTES_MAX, error="must be at most {max} characters"))

    @validates("actions")
    def _no_repeats(self, value: list[str], **kwargs: Any) -> None:
        if len(set(value)) != len(value):
            raise ValidationError("must not repeat an action")


# --- response schemas (dump side) ----------------------------------------------


class _ResponseSchema(Schema):
    class Meta:
        # Not RAISE: that would publish additionalProperties=false, and API.md lets responses gain fields.
        unknown = EXCLUDE


class CrewAddressSchema(_ResponseSchema):
    line1 = fields.String(required=True)
    line2 = fields.String(allow_none=True)
    town = fields.String(required=True)
    postcode = fields.String(required=True)


class CrewPersonSchema(_ResponseSchema):
    """The minimum a crew needs to find and reach the person (DOMAIN.md)."""

    name = fields.String(required=True)
    address = fields.Nested(CrewAddressSchema, required=True)
    phone = fields.String(required=True, allow_none=True)
    preferred_contact = fields.String(required=True, allow_none=True)
    access_needs = fields.String(required=True, allow_none=True)


class VisitRiskSchema(_ResponseSchema):
    cir_max = fields.Integer(required=True, validate=validate.Range(min=1, max=9))
    flags = fields.List(_one_of(sorted(RISK_FLAGS)), required=True)


class VisitSchema(_ResponseSchema):
    """A visit as an officer or coordinator sees it.

    `person` is null once consent to share is withdrawn or the case is erased.
    """

    visit_id = fields.String(required=True, attribute="_id")
    case_id = fields.String(required=True)
    reference = fields.String(required=True, metadata={"example": "HRW-2026-000123"})
    priority = _one_of(VISIT_PRIORITIES, required=True)
    status = _one_of(VISIT_STATUSES, required=True)
    due_by = UtcDateTime(required=True)
    overdue = fields.Boolean(required=True, metadata={
        "description": "Announced overdue, or still awaiting the fire service past due_by"})
    rule = fields.String(required=True, metadata={"description": "The triage rule that set the priority"})
    person = fields.Nested(CrewPersonSchema, required=True, allow_none=True)
    risk = fields.Nested(VisitRiskSchema, required=True)
    scheduled_for = UtcDateTime(required=True, allow_none=True)
    outcome = _one_of(OUTCOMES, required=True, allow_none=True,
                      metadata={"description": "The last outcome recorded (a no_access stays after rebooking)"})
    actions = fields.List(_one_of(ACTION_CODES), required=True)
    notes = fields.String(required=True, allow_none=True,
                          metadata={"description": "Officers' notes; kept in the safety service only"})
    created_at = UtcDateTime(required=True)
    updated_at = UtcDateTime(required=True)

    @pre_dump
    def _flag_overdue(self, visit: dict, **kwargs: Any) -> dict:
        return {**visit, "overdue": is_overdue(visit, utcnow())}


class VisitListSchema(_ResponseSchema):
    """One page: open visits first, most urgent first (priority, then due_by); then the others,
    most recently changed first."""

    items = fields.List(fields.Nested(VisitSchema), required=True)
    total = fields.Integer(required=True, metadata={"description": "Visits matching the query, on every page"})
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
