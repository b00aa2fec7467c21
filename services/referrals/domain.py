"""Referral intake rules: what a case and its events hold."""
from __future__ import annotations

from datetime import datetime

from .lifecycle import cir_level

REFERENCE_PREFIX = "HRW"
PRIORITY_URGENCY = {"very_high": 4, "high": 3, "medium": 2, "low": 1}


def cir_max(referral: dict) -> int:
    return max(referral["hoarding"]["clutter_image_rating"].values())


def referral_record(referral: dict, *, referral_id: str, reference: str, agency: str,
                    received_at: datetime, key_id: str) -> dict:
    """The referral as received, kept in full inside the referrals service only."""
    return {
        "referral_id": referral_id, "reference": reference, "agency": agency,
        "external_ref": referral.get("external_ref"), "referrer": referral["referrer"],
        "received_at": received_at, "submitted_by_key": key_id,
        "hoarding": referral["hoarding"], "fire_risk": referral["fire_risk"],
        "requested": referral["requested"], "consent": referral["consent"],
        "reason": referral.get("reason"),
    }


def new_case(referral: dict, record: dict, *, case_id: str, person_key: str,
             timeline_entry: dict) -> dict:
    highest = cir_max(referral)
    return {
        "_id": case_id, "reference": record["reference"], "status": "received",
        "held_from": None, "level": cir_level(highest), "cir_max": highest,
        "person": referral["person"], "person_key": person_key,
        "consent": {**referral["consent"], "withdrawn": []},
        "referrals": [record], "visit": None, "urgency": 0,
        "timeline": [timeline_entry],
        "created_at": record["received_at"], "updated_at": record["received_at"],
    }


def referral_received_data(case: dict, record: dict, duplicate_of: str | None = None) -> dict:
    """What each consumer needs, no more: never the narrative or the date of birth.

    safety keeps the crew minimum (and only with consent); notifications keeps
    contact details; both ignore the rest.
    """
    person = case["person"]
    consent = record["consent"]
    return {
        "referral_id": record["referral_id"], "reference": record["reference"],
        "case_reference": case["reference"], "received_at": record["received_at"].isoformat(),
        "agency": record["agency"], "duplicate_of": duplicate_of,
        "level": case["level"], "cir_max": case["cir_max"],
        "clutter_image_rating": record["hoarding"]["clutter_image_rating"],
        "fire_risk": record["fire_risk"], "requested": record["requested"],
        "consent": {"share_with_fire_service": consent["share_with_fire_service"],
                    "contact": consent.get("contact", True)},
        "person": {k: person.get(k) for k in ("given_name", "family_name", "address", "phone",
                                              "email", "preferred_contact", "access_needs")},
        "referrer": {k: record["referrer"].get(k) for k in ("name", "email", "phone", "agency")},
    }
