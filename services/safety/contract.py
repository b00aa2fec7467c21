"""The safety part of API.md as an OpenAPI document, from the marshmallow schemas."""
from services.common.openapi import HEALTH_ROUTE, OPENAPI_ROUTE, Route, build_spec

from .schemas import (
    OutcomeRequestSchema,
    ScheduleRequestSchema,
    VisitListSchema,
    VisitSchema,
    VisitsQuerySchema,
)

OFFICER_ERRORS = (401, 403, 404, 409)
ROUTES = [
    HEALTH_ROUTE,
    OPENAPI_ROUTE,
    Route("GET", "/visits",
          "Visits a page at a time: open ones first, most urgent first (priority, then due_by), "
          "then the others, most recently changed first; `open=true` for only the open ones",
          roles=("fire_officer", "coordinator"), query=VisitsQuerySchema, response=VisitListSchema),
    Route("GET", "/visits/{visit_id}", "One visit: only what a crew needs",
          roles=("fire_officer", "coordinator"), response=VisitSchema, errors=(401, 403, 404)),
    Route("GET", "/visits/{visit_id}.ics",
          "A booked (scheduled) visit as an iCalendar file (text/calendar, one VEVENT of an hour: the "
          "reference, the time and the address only); 404 `not_booked` when the visit has no booking",
          roles=("fire_officer", "coordinator"), errors=(401, 403, 404)),
    Route("POST", "/visits/{visit_id}/acknowledge", "The fire service has the request (no body needed)",
          roles=("fire_officer",), response=VisitSchema, errors=(400, 415) + OFFICER_ERRORS),
    Route("POST", "/visits/{visit_id}/schedule", "Book (or rebook) the visit",
          roles=("fire_officer",), request=ScheduleRequestSchema, response=VisitSchema,
          errors=(400, 413, 415) + OFFICER_ERRORS),
    Route("POST", "/visits/{visit_id}/outcome",
          "Record the outcome; notes stay in the safety service and are never sent on",
          roles=("fire_officer",), request=OutcomeRequestSchema, response=VisitSchema,
          errors=(400, 413, 415) + OFFICER_ERRORS),
]

OPENAPI = build_spec(
    "referral-hub safety", "LFB Home Fire Safety Visit requests for fire safety officers, and their outcomes.",
    ROUTES)
