"""Test helpers: bounded waiting and a valid referral body."""
from __future__ import annotations

import copy
import time

import eventlet


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.1, message: str = "condition"):
    """Poll `predicate` until it returns something truthy, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        eventlet.sleep(interval)


REFERRAL = {
    "external_ref": "MIND-2026-0042",
    "referrer": {"name": "Sam Patel", "email": "sam@example.org", "phone": "020 7946 0000",
                 "agency": "mind"},
    "person": {
        "given_name": "Ada", "family_name": "Jones", "date_of_birth": "1956-02-29",
        "address": {"line1": "12 Station Road", "line2": "", "town": "Harrow", "postcode": "HA1 2AB"},
        "phone": "07700 900123", "email": "ada@example.org",
        "preferred_contact": "email",
        "access_needs": "hard of hearing; prefers mornings",
    },
    "consent": {"referral": True, "share_with_fire_service": True,
                "obtained_by": "Sam Patel", "obtained_on": "2026-11-20"},
    "hoarding": {"clutter_image_rating": {"living_room": 7, "kitchen": 5, "bedroom": 6}},
    "fire_risk": {"smoker": True, "oxygen_use": False, "lives_alone": True,
                  "mobility_impaired": False, "previous_fire": False,
                  "blocked_exits": True, "working_smoke_alarm": "unknown"},
    "requested": {"peer_support": True, "home_fire_safety_visit": True},
    "reason": "free text narrative; never leaves the referrals service",
}


def referral(changes: dict | None = None) -> dict:
    """A valid referral body; `changes` maps dotted paths to new values."""
    body = copy.deepcopy(REFERRAL)
    for path, value in (changes or {}).items():
        target = body
        *parents, leaf = path.split(".")
        for key in parents:
            target = target[key]
        target[leaf] = value
    return body
