"""The fire officer's forms on a visit: what was typed, checked in plain words, turned into API bodies.

A booking is typed in London time (a date in three boxes, GOV.UK's date input, and a time);
it is sent to the safety service as an ISO-8601 time with its offset, so GMT/BST is never guessed there.
"""
from __future__ import annotations

import re
from datetime import date, datetime

from .display import LONDON

OUTCOMES = (("completed", "Visit completed"), ("no_access", "No access: nobody answered or we could not get in"),
            ("declined", "They declined the visit"))
ACTIONS = (  # the safety API's action codes, in a crew's words
    ("smoke_alarm_fitted", "Smoke alarm fitted"),
    ("smoke_alarm_tested", "Smoke alarm tested"),
    ("heat_alarm_fitted", "Heat alarm fitted"),
    ("deaf_alerter_fitted", "Deaf alerter fitted"),
    ("fire_safety_advice_given", "Fire safety advice given"),
    ("escape_plan_agreed", "Escape plan agreed"),
    ("clutter_reduction_advice_given", "Advice on reducing clutter given"),
    ("smoking_safety_advice_given", "Smoking safety advice given"),
    ("oxygen_safety_advice_given", "Oxygen safety advice given"),
    ("fire_retardant_bedding_supplied", "Fire retardant bedding supplied"),
    ("fire_retardant_throw_supplied", "Fire retardant throw supplied"),
    ("misting_system_assessment_requested", "Misting system assessment requested"),
    ("safeguarding_referral_made", "Safeguarding referral made"),
    ("partner_agency_referral_made", "Referral to a partner agency made"),
    ("leaflet_left", "Leaflet left"),
)
NOTES_MAX = 2000
_TIME = re.compile(r"^\s*(\d{1,2})\s*[:.]\s*(\d{2})\s*$")


def error(field: str, text: str) -> dict:
    return {"field": field, "href": f"#{field}", "text": text}


def clock(typed: str) -> tuple[int, int] | None:
    """(hour, minute) from a 24-hour time like "14:30" or "9.05", or None when it is not one."""
    match = _TIME.match(typed)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        return None
    return int(match.group(1)), int(match.group(2))


def booking_from_form(form) -> tuple[str | None, list[dict]]:
    """(ISO-8601 time with London's offset, []) or (None, errors) for the schedule form."""
    parts = [form.get(f"visit-date-{part}", "").strip() for part in ("day", "month", "year")]
    typed_time = form.get("visit-time", "").strip()
    errors = []
    day_value = None
    if not all(parts):
        missing = [name for name, value in zip(("day", "month", "year"), parts) if not value]
        errors.append(error("visit-date-" + missing[0],
                            "Enter the date of the visit" if len(missing) == 3
                            else f"The date of the visit must include a {' and a '.join(missing)}"))
    else:
        try:
            day_value = date(int(parts[2]), int(parts[1]), int(parts[0]))
        except ValueError:
            errors.append(error("visit-date-day", "The date of the visit must be a real date, like 1 12 2026"))
    at = clock(typed_time)
    if not typed_time:
        errors.append(error("visit-time", "Enter the time of the visit"))
    elif at is None:
        errors.append(error("visit-time", "Enter the time of the visit in 24-hour time, like 14:30"))
    if errors:
        return None, errors
    local = datetime(day_value.year, day_value.month, day_value.day, *at, tzinfo=LONDON)
    return local.isoformat(), []


def booking_errors_from_api(fields: dict) -> list[dict]:
    """The safety service's 400 on scheduled_for, in plain words (what the portal cannot check itself)."""
    messages = " ".join(str(m) for m in (fields.get("scheduled_for") or []))
    if "past" in messages:
        return [error("visit-date-day", "The visit must be booked for a time that has not passed yet")]
    if "year" in messages:
        return [error("visit-date-day", "The visit must be booked within a year from today")]
    return [error("visit-date-day", "Check the date and time of the visit")]


def outcome_from_form(form) -> tuple[dict | None, list[dict]]:
    """(the outcome API body, []) or (None, errors)."""
    outcome = form.get("outcome", "")
    actions = [code for code in form.getlist("actions") if code in dict(ACTIONS)]
    notes = form.get("notes", "").strip()
    errors = []
    if outcome not in dict(OUTCOMES):
        errors.append(error("outcome", "Select what happened at the visit"))
    if len(notes) > NOTES_MAX:
        errors.append(error("notes", f"Notes must be {NOTES_MAX} characters or fewer"))
    if errors:
        return None, errors
    return {"outcome": outcome, "actions": list(dict.fromkeys(actions)), "notes": notes or None}, []
