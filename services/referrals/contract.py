"""The referrals part of API.md as an OpenAPI document, from the marshmallow schemas."""
from services.common.openapi import HEALTH_ROUTE, OPENAPI_ROUTE, Route, build_spec

from .export_schemas import ROUTES as EXPORT_ROUTES
from .records import ROUTES as RECORD_ROUTES
from .schemas import (AttentionDismissalSchema, CaseDetailSchema, CaseListSchema, CasesQuerySchema, CirRatingRequestSchema,
                      ConsentWithdrawalSchema, ErasureRequestSchema, ProgressUpdatesRequestSchema, ReferralCreatedSchema, ReferralListSchema,
                      ReferralSchema, ReferralsQuerySchema, ReferralStatusSchema, TransitionRequestSchema)

COORDINATOR = ("coordinator",)

ROUTES = [
    Route("POST", "/referrals", "Submit a referral (optional Idempotency-Key header)",
          roles=("partner", "coordinator"), request=ReferralSchema, response=ReferralCreatedSchema,
          status=201, errors=(400, 401, 403, 409, 413, 415),
          extra_responses={200: "Replay of an earlier request with the same Idempotency-Key"}),
    Route("GET", "/referrals", "The caller's referrals, newest first (a partner: its own agency's)",
          roles=("partner", "coordinator"), query=ReferralsQuerySchema, response=ReferralListSchema,
          errors=(400, 401, 403)),
    Route("GET", "/referrals/{reference}", "The referrer's closed-loop view of one referral",
          roles=("partner", "coordinator"), response=ReferralStatusSchema, errors=(401, 403, 404)),
    Route("GET", "/cases", "Cases, most urgent first, each with its needs_action; needs_action=true: only the "
          "cases that need the coordinator (the queue), most urgent first; q: search by reference, name or postcode",
          roles=COORDINATOR, query=CasesQuerySchema, response=CaseListSchema),
    Route("GET", "/cases/{case_id}", "One case with its whole timeline", roles=COORDINATOR,
          response=CaseDetailSchema, errors=(401, 403, 404)),
    Route("POST", "/cases/{case_id}/transitions", "Move a case through its lifecycle", roles=COORDINATOR,
          request=TransitionRequestSchema, response=CaseDetailSchema, errors=(400, 401, 403, 404, 409, 415)),
    Route("POST", "/cases/{case_id}/attention", "Mark one of the case's needs_action reasons as dealt with (who, "
          "when and a note go on the timeline); it stays dealt with until a newer one of that kind arrives. "
          "409 not_dismissible for a reason that clears by the case or visit moving (first_contact_due, "
          "new_referral, visit_due_soon, visit_overdue); 409 not_needed when the case does not need it now",
          roles=COORDINATOR, request=AttentionDismissalSchema, response=CaseDetailSchema,
          errors=(400, 401, 403, 404, 409, 415)),
    Route("POST", "/cases/{case_id}/cir-ratings", "Record the coordinator's own Clutter Image Rating; it sets "
          "the case's level", roles=COORDINATOR, request=CirRatingRequestSchema, response=CaseDetailSchema,
          status=201, errors=(400, 401, 403, 404, 409, 415)),
    Route("POST", "/cases/{case_id}/progress-updates", "Record whether the person wants a message with their "
          "progress after each Clutter Image Rating (who and when go on the case and its timeline); 409 for an "
          "erased case", roles=COORDINATOR, request=ProgressUpdatesRequestSchema, response=CaseDetailSchema,
          errors=(400, 401, 403, 404, 409, 415)),
    Route("POST", "/cases/{case_id}/consent-withdrawal", "Record a withdrawal of consent (all, fire_service, contact)",
          roles=COORDINATOR, request=ConsentWithdrawalSchema, response=CaseDetailSchema,
          errors=(400, 401, 403, 404, 409, 415)),
    Route("POST", "/cases/{case_id}/erasure", "Erase the person's data from every service",
          roles=("coordinator", "admin"), request=ErasureRequestSchema, response=CaseDetailSchema,
          errors=(400, 401, 403, 404, 409, 415)),
    *RECORD_ROUTES,
    *EXPORT_ROUTES,
    HEALTH_ROUTE,
    OPENAPI_ROUTE,
]

OPENAPI = build_spec(
    "referral-hub referrals", "Referrals from partner agencies, and the cases coordinators follow.", ROUTES)
