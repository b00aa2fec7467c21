"""What the safety service publishes, and what it reads from referral_received."""
from __future__ import annotations

from datetime import datetime

from marshmallow import EXCLUDE, Schema, fields

from services.common.envelope import new_event

from .triage import RiskInput

PRODUCER = "safety"


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


class ReferralForSafety(_Tolerant):
    """safety's view of referral_received's data (tolerant reader)."""
    referral_id = fields.String(required=True)
    reference = fields.String(required=True)
    received_at = fields.AwareDateTime(required=True)
    duplicate_of = fields.String(load_default=None, allow_none=True)
    clutter_image_rating = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    fire_risk = fields.Nested(FireRiskView, required=True)
    requested = fields.Dict(load_default=dict)
    consent = fields.Dict(required=True)
    person = fields.Nested(CrewPersonView, required=True)


def risk_input(referral: dict) -> RiskInput:
    return RiskInput(cir=referral["clutter_image_rating"], **referral["fire_risk"],
                     share_with_fire_service=bool(referral["consent"].get("share_with_fire_service")),
                     visit_requested=bool(referral["requested"].get("home_fire_safety_visit")))


def safety_event(event_type: str, *, case_id: str, correlation_id: str, data: dict) -> dict:
    return new_event(event_type, case_id=case_id, correlation_id=correlation_id,
                     producer=PRODUCER, data=data)


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
