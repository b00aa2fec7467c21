"""How values read on a page: London time with the date, statuses in plain words."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")

CASE_STATUS = {  # what a referrer needs to know, in the group's words
    "received": ("Received", "grey", "The group has your referral and will call them within 5 working days."),
    "accepted": ("Accepted", "green", "The group has accepted the referral and invited them to a session."),
    "rejected": ("Not accepted", "red", "The group could not accept this referral; the coordinator will explain why."),
    "in_progress": ("In progress", "blue", "They are being supported by the group."),
    "on_hold": ("On hold", "yellow", "Support is paused for now."),
    "completed": ("Completed", "green", "Support has finished."),
    "cancelled": ("Cancelled", "grey", "The referral was withdrawn or cancelled."),
}
VISIT_STATUS = {
    None: ("No visit asked for", "grey"),
    "requested": ("Visit requested", "blue"),
    "acknowledged": ("Fire service has it", "blue"),
    "scheduled": ("Visit booked", "green"),
    "completed": ("Visit done", "green"),
    "no_access": ("No access at the visit", "red"),
    "declined": ("Visit declined", "orange"),
    "cancelled": ("Visit cancelled", "grey"),
}


def london_time(value) -> str:
    """``"2026-11-30T14:05:00Z"`` -> ``"Mon 30 Nov, 14:05"`` (London time, GMT or BST as it was)."""
    if not value:
        return ""
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    local = when.astimezone(LONDON)
    return f"{local:%a} {local.day} {local:%b}, {local:%H:%M}"


def case_status(status: str) -> dict:
    label, colour, meaning = CASE_STATUS.get(status, (status.replace("_", " ").capitalize(), "grey", ""))
    return {"label": label, "colour": colour, "meaning": meaning}


def visit_status(status: str | None) -> dict:
    label, colour = VISIT_STATUS.get(status, ((status or "").replace("_", " ").capitalize(), "grey"))
    return {"label": label, "colour": colour}


PRIORITY = {  # most urgent first, as the safety service orders them
    "very_high": ("Very high", "red"),
    "high": ("High", "orange"),
    "medium": ("Medium", "yellow"),
    "low": ("Low", "grey"),
}
RISK_FLAG = {
    "smoker": "Smokes at home",
    "oxygen_use": "Uses medical oxygen",
    "lives_alone": "Lives alone",
    "mobility_impaired": "Would find it hard to get out quickly",
    "previous_fire": "Has had a fire before",
    "blocked_exits": "Exits blocked by belongings",
    "no_working_smoke_alarm": "No working smoke alarm",
    "smoke_alarm_unknown": "Not known if the smoke alarm works",
}
CONTACT = {"phone": "Phone call", "sms": "Text message", "email": "Email", "letter": "Letter"}


def priority(value: str) -> dict:
    label, colour = PRIORITY.get(value, (str(value).replace("_", " ").capitalize(), "grey"))
    return {"label": label, "colour": colour}


def risk_flag(value: str) -> str:
    return RISK_FLAG.get(value, value.replace("_", " ").capitalize())


def contact_way(value: str | None) -> str:
    return CONTACT.get(value, "Not said") if value else "Not said"
