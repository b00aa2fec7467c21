"""What the safety service publishes, and what it reads from referrals' events.

Readers are tolerant (unknown fields are dropped on load) so referrals can add
fields; dropping them is also what keeps the narrative, date of birth, email and
anything else a producer might add out of the safety database.
Published data never carries personal data or officers' notes: ids, statuses,
categories and times only.
"""
from __future__ import annotations

from datetime import datetime

from marshmallow import EXCLUDE, Schema, fields, validate

from services.common.envelope import new_event
from services.common.vocabulary import CONSENT_SCOPES

from .triage import RiskInput

PRODUCER = "safety"
# Internal wake-up: safety publishes it to itself when a visit is raised (or made due sooner),
# and its handler waits on the broker until due_by. Not part of the contract between services.
VISIT_DUE = "visit_due"
# A case moved to this status by the coordinator: consent withdrawn (DOMAIN.md, case lifecycle).
CASE_CANCELLED = "cancelled"


class _Tolerant(Schema):
    class Meta:
        unknown = EXCLUDE


class FireRiskView(_Tolerant):
    smoker = fields.Boolean(load_default=False)
    oxygen_use = fields.Boolean(load_default=False)
    lives_alone = fields.Boolean(load_default=False)
    mobility_impaired = fields.Boolean(load_default=False)
    previous_fire = fields.Boolean(load_default=False)
    blocked_exits = fields.Boolean(load_default=False)
    working_smoke_alarm = fields.String(load_default="unknown")


class AddressView(_Tolerant):
    line1 = fields.String(load_default="")
    line2 = fields.String(load_default="", allow_none=True)
    town = fields.String(load_default="")
    postcode = fields.String(load_default="")


class CrewPersonView(_Tolerant):
    """The minimum a crew needs (DOMAIN.md): nothing else is kept."""
    given_name = fields.String(required=True)
    family_name = fields.String(required=True)
    address = fields.Nested(AddressView, required=True)
    phone = fields.String(load_default=None, allow_none=True)
    preferred_contact = fields.String(load_default=None, allow_none=True)
    access_needs = fields.String(load_default=None, allow_none=True)


class ConsentView(_Tolerant):
    share_with_fire_service = fields.Boolean(load_default=False)


class RequestedView(_Tolerant):
    home_fire_safety_visit = fields.Boolean(load_default=False)


class ReferralForSafety(_Tolerant):
    """safety's view of referral_received's data (tolerant reader)."""
    referral_id = fields.String(required=True)
    reference = fields.String(required=True)
    received_at = fields.AwareDateTime(required=True)
    duplicate_of = fields.String(load_default=None, allow_none=True)
    clutter_image_rating = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    fire_risk = fields.Nested(FireRiskView, required=True)
    requested = fields.Nested(RequestedView, load_default=dict)
    consent = fields.Nested(ConsentView, required=True)
    person = fields.Nested(CrewPersonView, required=True)


class ConsentWithdrawn(_Tolerant):
    """consent_withdrawn's data; the free-text reason is not read."""
    scope = fields.String(required=True, validate=validate.OneOf(CONSENT_SCOPES))
    actor = fields.String(load_default=None, allow_none=True)


class CaseStatusChanged(_Tolerant):
    """case_status_changed's data; only `to` matters here (`cancelled`: consent withdrawn)."""
    to = fields.String(required=True)
    actor = fields.String(load_default=None, allow_none=True)


class CaseErased(_Tolerant):
    actor = fields.String(load_default=None, allow_none=True)


class VisitDue(_Tolerant):
    """visit_due's data: which visit to look at, and when."""
    visit_id = fields.String(required=True)
    due_by = fields.AwareDateTime(required=True)


def risk_input(referral: dict, *, consent_withdrawn: bool = False) -> RiskInput:
    share = referral["consent"]["share_with_fire_service"] and not consent_withdrawn
    return RiskInput(cir=referral["clutter_image_rating"], **referral["fire_risk"],
                     share_with_fire_service=share,
                     visit_requested=referral["requested"]["home_fire_safety_visit"])


def safety_event(event_type: str, *, case_id: str, correlation_id: str, data: dict) -> dict:
    return new_event(event_type, case_id=case_id, correlation_id=correlation_id,
                     producer=PRODUCER, data=data)


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def visit_status_data(visit: dict, *, previous_status: str, actor: str, change: str, **extra) -> dict:
    """visit_status_changed data from the visit as it is AFTER the change.

    referrals sets the case's whole visit from visit_id/status/priority/due_by,
    so those four are always present; `from` is the status it left (the same as
    `status` when only the priority changed); `change` says what happened
    (`status`, `priority_raised`, `consent_withdrawn`, `case_erased`).
    `reference` is the visit's own, except for `priority_raised`: there it is the
    duplicate referral's that raised it, with the visit's as `case_reference`.
    """
    data = {"visit_id": visit["_id"], "reference": visit["reference"], "from": previous_status,
            "status": visit["status"], "priority": visit["priority"], "due_by": iso(visit["due_by"]), "actor": actor,
            "change": change}
    if visit.get("scheduled_for"):
        data["scheduled_for"] = iso(visit["scheduled_for"])
    if visit.get("outcome") and visit.get("outcome") == visit["status"]:  # not a past no_access
        data["outcome"] = visit["outcome"]
        data["actions"] = list(visit.get("actions") or [])
    data.update(extra)
    return data


def visit_due_data(visit_id: str, due_by: datetime) -> dict:
    return {"visit_id": visit_id, "due_by": iso(due_by)}


def visit_overdue_data(visit: dict) -> dict:
    return {"visit_id": visit["_id"], "reference": visit["reference"], "status": visit["status"],
            "priority": visit["priority"], "due_by": iso(visit["due_by"])}
