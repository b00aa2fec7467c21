"""The coordinator's forms on a case: what was typed, checked in plain words, turned into API bodies.

Each function returns `(body, [])` or `(None, errors)`; an error is `{"field", "href", "text"}` so
the page shows it in the error summary and by the field. Nothing is sent while there is an error.
"""
from __future__ import annotations

from datetime import date, datetime

from services.common.vocabulary import CONSENT_ALL, CONSENT_CONTACT, CONSENT_FIRE_SERVICE

from .display import LONDON
from .visit_form import error

REASON_MAX = 2000  # the referrals service's note limit
ROOMS = (("living_room", "Living room"), ("kitchen", "Kitchen"), ("bedroom", "Bedroom"), ("other", "Other room"))
MOVES = {  # the status a case moves to, in a coordinator's words
    "accepted": "Accept: the group will support them",
    "rejected": "Do not accept (the referrer is told why)",
    "in_progress": "First contact made: support has started",
    "completed": "Support has finished",
    "on_hold": "Put on hold",
    "received": "Back to received (off hold)",
    "cancelled": "Cancel the case",
}
CONSENT_SCOPES = (
    (CONSENT_FIRE_SERVICE, "Sharing with the London Fire Brigade",
     "Any fire safety visit is cancelled and the fire service no longer sees their details."),
    (CONSENT_CONTACT, "Being contacted by the group",
     "No more messages go to them. The case stays open."),
    (CONSENT_ALL, "Everything",
     "The case is cancelled, any fire safety visit is cancelled and no more messages go to them."),
)


def move_from_form(form, allowed: list[str]) -> tuple[dict | None, list[dict]]:
    to, reason = form.get("to", ""), form.get("move-reason", "").strip()
    errors = []
    if to not in allowed:
        errors.append(error("to", "Select what happens to the case next"))
    errors += _reason_errors("move-reason", reason, "Enter why the case is moving, for the timeline")
    return (None, errors) if errors else ({"to": to, "reason": reason}, [])


def rating_from_form(form, today: date | None = None) -> tuple[dict | None, list[dict]]:
    """Ratings typed per room (blank rooms left out, at least one) and the day they were rated."""
    today = today or datetime.now(LONDON).date()
    ratings, errors = {}, []
    for room, label in ROOMS:
        typed = form.get(f"rating-{room}", "").strip()
        if not typed:
            continue
        if not typed.isdigit() or not 1 <= int(typed) <= 9:
            errors.append(error(f"rating-{room}", f"{label}: enter a rating from 1 to 9, like 6"))
        else:
            ratings[room] = int(typed)
    if not ratings and not errors:
        errors.append(error("rating-living_room", "Enter a rating from 1 to 9 for at least one room"))
    rated_on, date_error = past_date(form, "rated-on", "the day the rating was made", today)
    if date_error:
        errors.append(date_error)
    if errors:
        return None, errors
    return {"ratings": ratings, "rated_on": rated_on.isoformat()}, []


def withdrawable(case: dict) -> list[tuple[str, str]]:
    """The agreements a coordinator can still record as withdrawn: given, and not withdrawn already."""
    consent = case.get("consent") or {}
    withdrawn = {w.get("scope") for w in consent.get("withdrawn") or []}
    if CONSENT_ALL in withdrawn or case.get("erased_at"):
        return []
    given = {CONSENT_FIRE_SERVICE: consent.get("share_with_fire_service") is True,
             CONSENT_CONTACT: consent.get("contact") is not False, CONSENT_ALL: True}
    return [(value, label) for value, label, _ in CONSENT_SCOPES if given[value] and value not in withdrawn]


def withdrawal_from_form(form, case: dict) -> tuple[dict | None, list[dict]]:
    scope, reason = form.get("scope", ""), form.get("consent-reason", "").strip()
    errors = []
    if scope not in {value for value, _, _ in CONSENT_SCOPES}:
        errors.append(error("scope", "Select which agreement they have withdrawn"))
    elif scope not in dict(withdrawable(case)):
        errors.append(error("scope", "They have already withdrawn this agreement"))
    errors += _reason_errors("consent-reason", reason, None)
    return (None, errors) if errors else ({"scope": scope, **({"reason": reason} if reason else {})}, [])


def erasure_from_form(form) -> tuple[dict | None, list[dict]]:
    reason = form.get("erase-reason", "").strip()
    errors = _reason_errors("erase-reason", reason, "Enter why their data is being erased, for example \"They asked us to\"")
    return (None, errors) if errors else ({"reason": reason}, [])


def progress_from_form(form) -> tuple[dict | None, list[dict]]:
    """Whether they want their own progress (clutter ratings) in a message: yes or no."""
    answer = form.get("progress", "")
    if answer not in ("yes", "no"):
        return None, [error("progress", "Select whether they want messages about their progress")]
    return {"opted_in": answer == "yes"}, []


def _reason_errors(field: str, reason: str, missing: str | None) -> list[dict]:
    if not reason and missing:
        return [error(field, missing)]
    if len(reason) > REASON_MAX:
        return [error(field, f"The reason must be {REASON_MAX} characters or fewer")]
    return []


def past_date(form, prefix: str, what: str, today: date) -> tuple[date | None, dict | None]:
    """A date typed in GOV.UK's three boxes that must not be after `today`."""
    day, problem = typed_date(form, prefix, what)
    if problem is None and day > today:
        return None, error(f"{prefix}-day", f"{what[0].upper()}{what[1:]} cannot be in the future")
    return day, problem


def typed_date(form, prefix: str, what: str) -> tuple[date | None, dict | None]:
    parts = [form.get(f"{prefix}-{part}", "").strip() for part in ("day", "month", "year")]
    if not all(parts):
        missing = [name for name, value in zip(("day", "month", "year"), parts) if not value]
        return None, error(f"{prefix}-{missing[0]}", f"Enter {what}" if len(missing) == 3
                           else f"The date must include a {' and a '.join(missing)}")
    try:
        return date(int(parts[2]), int(parts[1]), int(parts[0])), None
    except ValueError:
        return None, error(f"{prefix}-day", "Enter a real date, like 27 11 2026")
