"""Referral intake rules: what a case and its events hold."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from difflib import SequenceMatcher

from .lifecycle import cir_level

REFERENCE_PREFIX = "HRW"
PRIORITY_URGENCY = {"very_high": 4, "high": 3, "medium": 2, "low": 1}


def cir_max(referral: dict) -> int:
    return max(referral["hoarding"]["clutter_image_rating"].values())


def referral_record(referral: dict, *, referral_id: str, reference: str, agency: str,
                    received_at: datetime, key_id: str) -> dict:
    """The referral as received, kept in full inside the referrals service only."""
    hoarding = {**referral["hoarding"],
                # who rated and when: the referrer on the day, unless the form says otherwise
                "rated_by": referral["hoarding"].get("rated_by") or referral["referrer"]["name"],
                "rated_on": referral["hoarding"].get("rated_on") or received_at.date().isoformat()}
    # the agency comes from the key when the form leaves it out: messages name it
    referral = {**referral, "hoarding": hoarding, "referrer": {**referral["referrer"], "agency": agency}}
    return {
        "referral_id": referral_id, "reference": reference, "agency": agency,
        "external_ref": referral.get("external_ref"), "referrer": referral["referrer"],
        "received_at": received_at, "submitted_by_key": key_id,
        "hoarding": referral["hoarding"], "fire_risk": referral["fire_risk"],
        "requested": referral["requested"], "consent": referral["consent"],
        "reason": referral.get("reason"),
    }


REFERRER, COORDINATOR = "referrer", "coordinator"  # who gave a rating
RECENT_RATINGS = timedelta(days=183)  # "the last six months"


def rating_entry(record: dict) -> dict:
    """One Clutter Image Rating, kept with who rated and when (the outcome measure over time)."""
    hoarding = record["hoarding"]
    return {"ratings": hoarding["clutter_image_rating"], "rated_by": hoarding["rated_by"],
            "rated_on": hoarding["rated_on"], "reference": record["reference"], "rater_role": REFERRER,
            "recorded_at": record["received_at"]}


def coordinator_rating(ratings: dict, *, rated_on: date, actor: str, reference: str, recorded_at: datetime) -> dict:
    return {"ratings": ratings, "rated_by": actor, "rated_on": rated_on.isoformat(), "reference": reference,
            "rater_role": COORDINATOR, "recorded_at": recorded_at}


def rating_levels(ratings: list[dict], today: date) -> dict:
    """The case's level, safety first, from every rating it holds.

    A coordinator's own rating wins (their latest); otherwise the highest rating
    of the last six months, or the latest when none is that recent. So a later,
    lower rating from another agency never lowers the level of a case.
    """
    def day(rating):
        return date.fromisoformat(str(rating["rated_on"])[:10])

    own = [r for r in ratings if r.get("rater_role") == COORDINATOR]
    if own:
        chosen = [max(own, key=day)]
    else:
        chosen = [r for r in ratings if today - day(r) <= RECENT_RATINGS] or [max(ratings, key=day)]
    highest = max(max(r["ratings"].values()) for r in chosen)
    return {"cir_max": highest, "level": cir_level(highest)}


def cir_trend(ratings: list[dict]) -> dict:
    """Each room's ratings over time, oldest first: the group's outcome measure."""
    trend: dict[str, list] = {}
    for rating in sorted(ratings, key=lambda r: str(r["rated_on"])):
        for room, score in rating["ratings"].items():
            trend.setdefault(room, []).append({"rated_on": str(rating["rated_on"])[:10], "score": score,
                                               "rater_role": rating.get("rater_role", REFERRER)})
    return trend


def room_progress(trend: dict) -> dict:
    """Each room's first and latest rating and how many it has (cir_trend): the numbers a progress
    message may carry."""
    return {room: {"first_score": points[0]["score"], "first_rated_on": points[0]["rated_on"],
                   "latest_score": points[-1]["score"], "latest_rated_on": points[-1]["rated_on"],
                   "ratings": len(points)}
            for room, points in trend.items() if points}


def progress_updates(opted_in: bool, *, at: datetime, actor: str) -> dict:
    """Whether the person wants their progress in a message, and who recorded it when."""
    return {"opted_in": opted_in, "at": at, "by": actor}


def postcode_district(postcode: str) -> str:
    """The postcode's district (HA1 of HA1 2AB): neighbouring streets share it."""
    compact = "".join(str(postcode).split()).upper()
    return compact[:-3] if len(compact) > 3 else compact


def _name(person: dict) -> str:
    return " ".join(f"{person.get('given_name', '')} {person.get('family_name', '')}".casefold().split())


def possibly_same_person(person: dict, other: dict, threshold: float = 0.85) -> bool:
    """A near match a coordinator should look at: the same date of birth, a name that
    differs by a letter or two ("Derek Low" / "Derek Lowe"), the same postcode district.
    Exact matches never get here: they share a person key and one case."""
    if str(person.get("date_of_birth"))[:10] != str(other.get("date_of_birth"))[:10]:
        return False
    if postcode_district(person["address"]["postcode"]) != \
            postcode_district((other.get("address") or {}).get("postcode", "")):
        return False
    return SequenceMatcher(None, _name(person), _name(other)).ratio() >= threshold


def referrer_view(case: dict, record: dict) -> dict:
    """What the agency behind `record` sees of its referral: its own journey, nothing before it.

    The referral that opened the case follows the case. A later one, linked to
    the person's open case, starts at "received" and sees only what happens
    after it arrived (a move of the case, a change to the visit), so referring
    someone never tells an agency that another one already knew them.
    """
    visit = case.get("visit")
    if case["referrals"][0]["referral_id"] == record["referral_id"]:
        return {"status": case["status"], "updated_at": case["updated_at"],
                "visit": {"status": visit["status"]} if visit else None}
    arrived = record["received_at"]
    moves = [e["at"] for e in case.get("timeline", []) if e["type"] == "case_status_changed" and e["at"] >= arrived]
    visit_news = visit and visit.get("changed_at") and visit["changed_at"] >= arrived
    return {"status": case["status"] if moves else "received",
            "updated_at": max([arrived, *moves, *([visit["changed_at"]] if visit_news else [])]),
            "visit": {"status": visit["status"]} if visit_news else None}


def new_case(referral: dict, record: dict, *, case_id: str, person_key: str) -> dict:
    rating = rating_entry(record)
    return {
        "_id": case_id, "reference": record["reference"], "status": "received",
        "held_from": None, **rating_levels([rating], record["received_at"].date()), "cir_ratings": [rating],
        "person": referral["person"], "person_key": person_key,
        "consent": {**referral["consent"], "withdrawn": []},
        "referrals": [record], "visit": None, "urgency": 0, "timeline": [],
        "open": True, "open_person_slot": person_key,
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


# Which consent flag each withdrawal scope turns off.
CONSENT_SCOPES = {"all": ("referral", "share_with_fire_service", "contact"),
                  "fire_service": ("share_with_fire_service",),
                  "contact": ("contact",)}


def consent_after_withdrawal(consent: dict, scope: str, *, at: datetime, actor: str, reason: str | None) -> dict:
    """Consent is per purpose; a withdrawal turns its purposes off and is kept on record."""
    changed = {**consent, **{flag: False for flag in CONSENT_SCOPES[scope]}}
    changed["withdrawn"] = [*consent.get("withdrawn", []),
                            {"scope": scope, "at": at, "actor": actor, "reason": reason}]
    return changed


def erased_case(case: dict, *, at: datetime) -> dict:
    """What remains of a case after erasure: anonymised counts and dates, no personal data."""
    return {
        "person": {"erased": True}, "person_key": None,
        "consent": {"erased": True, "withdrawn": [{"scope": w["scope"], "at": w["at"]}
                                                  for w in case.get("consent", {}).get("withdrawn", [])]},
        "referrals": [{"referral_id": r["referral_id"], "reference": r["reference"], "agency": r["agency"],
                       "received_at": r["received_at"], "erased": True} for r in case.get("referrals", [])],
        "cir_ratings": [{"ratings": r["ratings"], "rated_on": r["rated_on"], "reference": r["reference"],
                         "rater_role": r.get("rater_role", REFERRER), "recorded_at": r.get("recorded_at")}
                        for r in case.get("cir_ratings", [])],
        # when a coordinator dealt with what the case needed, and who; their note is free text: it goes
        "attention_dismissed": {reason: {"at": mark.get("at"), "actor": mark.get("actor")}
                                for reason, mark in (case.get("attention_dismissed") or {}).items()},
        "erased_at": at, "open_person_slot": case["_id"],
    }


def _when(value):
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def visit_projection(envelope: dict) -> dict | None:
    """What the case itself learns from safety's events (its `visit`, sort urgency and what the
    coordinator's queue reads: attention.facts_of)."""
    data = envelope["data"]
    if envelope["event_type"] == "visit_requested":
        return {"visit": {"visit_id": data["visit_id"], "status": "requested", "reference": data.get("reference"),
                          "priority": data["priority"], "due_by": _when(data.get("due_by")),
                          "changed_at": _when(envelope["occurred_at"])},
                "urgency": PRIORITY_URGENCY.get(data["priority"], 0)}
    if envelope["event_type"] == "fire_risk_without_consent":
        # high fire risk and no consent: the coordinator must act, so the case rises like a visit would
        return {"urgency": PRIORITY_URGENCY.get(data.get("priority"), 0) or PRIORITY_URGENCY["high"],
                "fire_risk_without_consent_at": _when(envelope["occurred_at"])}
    if envelope["event_type"] in ("person_replied", "email_bounced"):
        # a task for the coordinator's queue (attention.py): the newest one counts
        return {f"{envelope['event_type']}_at": _when(envelope["occurred_at"])}
    if envelope["event_type"] == "visit_overdue":
        # safety said the visit is overdue: the coordinator's queue shows it (attention.py)
        return {"visit_overdue": {"visit_id": data.get("visit_id"), "at": _when(envelope["occurred_at"])}}
    if envelope["event_type"] == "visit_status_changed":
        open_visit = data["status"] in ("requested", "acknowledged", "scheduled")
        return {"visit": {"visit_id": data["visit_id"], "status": data["status"],
                          "reference": data.get("case_reference") or data.get("reference"),
                          "priority": data.get("priority"), "due_by": _when(data.get("due_by")),
                          "changed_at": _when(envelope["occurred_at"])},
                # a visit that is over no longer makes the case urgent
                "urgency": PRIORITY_URGENCY.get(data.get("priority"), 0) if open_visit else 0}
    return None


def closing_changes(case_id: str, status: str, terminal_statuses) -> dict:
    """A closed case leaves the coordinator's open list and frees the person for a new case."""
    if status in terminal_statuses:
        return {"open": False, "open_person_slot": case_id}
    return {}
