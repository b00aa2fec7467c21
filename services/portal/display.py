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
    local = _moment(value).astimezone(LONDON)
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


NEEDS_ACTION = {  # reason (GET /cases needs_action) -> (badge, colour, what the coordinator should do)
    "fire_risk_no_consent": ("Fire risk, no consent to share", "red",
                             "A fire risk, but they did not agree to share with the fire service: talk to them."),
    "safeguarding": ("Safeguarding", "red", "A clutter rating of 7 or more: consider a safeguarding concern."),
    "visit_overdue": ("Visit overdue", "red", "The fire safety visit is past its due time."),
    "visit_due_soon": ("Visit due soon", "orange", "The fire safety visit is due within a day."),
    "visit_no_access": ("No access at visit", "orange", "The fire service could not get in: arrange access."),
    "visit_declined": ("Visit declined", "orange", "They declined the fire safety visit: talk it through."),
    "visit_cancelled": ("Visit cancelled", "grey", "The fire safety visit was cancelled."),
    "first_contact_due": ("First call due", "blue", "The group promised a call within 5 working days."),
    "do_not_contact": ("Do not contact", "purple", "They asked not to be contacted directly: plan another way."),
    "new_referral": ("New referral", "green", "Accept it or explain why not."),
}


def needs_action(item: dict, now: datetime | None = None) -> dict:
    """A reason as a badge: label, colour, what to do, and how long ("for 2 days", "overdue by 3 hours")."""
    import humanize

    now = now or datetime.now(timezone.utc)
    label, colour, advice = NEEDS_ACTION.get(item["reason"], (item["reason"].replace("_", " ").capitalize(),
                                                             "grey", ""))
    since, due_by = _moment(item.get("since")), _moment(item.get("due_by"))
    if due_by and due_by < now:
        if item["reason"] == "first_contact_due":
            label = "First call overdue"
        colour = "red"
        how_long = f"overdue by {humanize.naturaldelta(now - due_by)}"
    elif due_by:
        how_long = f"due in {humanize.naturaldelta(due_by - now)}, by {london_time(due_by)}"
    elif since:
        how_long = f"for {humanize.naturaldelta(now - since)}"
    else:
        how_long = ""
    return {"reason": item["reason"], "label": label, "colour": colour, "advice": advice, "how_long": how_long}


def _moment(value) -> datetime | None:
    if not value:
        return None
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


MESSAGE = {  # notification template -> what the message is, in a coordinator's words
    "referrer_receipt": "Receipt to the referrer",
    "referrer_update": "Update to the referrer",
    "person_welcome": "Welcome",
    "person_invitation": "Invitation to the group",
    "person_fire_safety_signpost": "Fire safety advice",
    "coordinator_alert": "New referral alert",
    "coordinator_fire_risk_without_consent": "Alert: fire risk without consent",
    "coordinator_visit_overdue": "Alert: visit overdue",
    "coordinator_visit_update": "Visit update",
    "fire_service_alert": "New visit request",
    "fire_service_priority_raised": "Visit priority raised",
    "fire_service_request_withdrawn": "Visit request withdrawn",
}
AUDIENCE = {"person": "Them", "referrer": "Referrer", "coordinator": "Coordinator", "fire_service": "Fire service"}
MESSAGE_STATUS = {"pending": ("Waiting to send", "blue"), "sent": ("Sent", "green"), "failed": ("Failed", "red"),
                  "suppressed": ("Not sent", "grey"), "ready_to_print": ("Ready to print", "yellow")}


def message(item: dict) -> dict:
    label, colour = MESSAGE_STATUS.get(item.get("status"), (str(item.get("status")), "grey"))
    return {"what": MESSAGE.get(item.get("template"), str(item.get("template", "")).replace("_", " ").capitalize()),
            "to": AUDIENCE.get(item.get("audience"), item.get("audience")),
            "channel": CONTACT.get(item.get("channel"), item.get("channel")), "status": label, "colour": colour}


ROLE = {"coordinator": "coordinator", "partner": "partner", "fire_officer": "fire officer", "admin": "administrator"}


def actor_person_id(actor) -> str | None:
    """The person in an actor string (`role[:agency]:person-<id>`), or None for an API key or the system."""
    last = str(actor or "").rsplit(":", 1)[-1]
    return last[len("person-"):] if last.startswith("person-") else None


def actor_name(actor, names: dict[str, str]) -> str:
    """Who did something, as a coordinator reads it: "Alex Morgan (coordinator)", "a partner system (Mind)"."""
    if not actor or actor == "system":
        return ""
    parts = str(actor).split(":")
    role = ROLE.get(parts[0], parts[0].replace("_", " "))
    person = actor_person_id(actor)
    if person:
        return f"{names.get(person, 'someone no longer listed')} ({role})"
    if len(parts) == 1:
        return str(actor)           # a name typed on a referral (the referrer's own rating)
    agency = f", {parts[1]}" if len(parts) == 3 else ""
    return f"an API key ({role}{agency})"
