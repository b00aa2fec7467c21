"""What the referrals service publishes and consumes, and how events read on a timeline."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from services.common.envelope import new_event
from services.common.logs import scrub_text

PRODUCER = "referrals"

# Every event other services emit about a case lands on its timeline.
TIMELINE_SOURCES = (
    ("safety", "visit_requested"),
    ("safety", "visit_not_requested"),
    ("safety", "fire_risk_without_consent"),
    ("safety", "visit_status_changed"),
    ("safety", "visit_overdue"),
    ("notifications", "notification_sent"),
    ("notifications", "notification_failed"),
    ("notifications", "sms_stop_received"),
    ("notifications", "person_replied"),
    ("notifications", "email_bounced"),
    ("notifications", "session_reply_recorded"),
    ("notifications", "session_attendance_recorded"),
)

LONDON = ZoneInfo("Europe/London")  # where the coordinators read the timeline

AUDIENCE_WORDS = {"person": "the person", "referrer": "the referrer",
                  "coordinator": "the coordinator", "fire_service": "the LFB fire safety team",
                  "supporter": "a supporter of the person"}


def referral_event(event_type: str, case: dict, correlation_id: str, data: dict) -> dict:
    return new_event(event_type, case_id=case["_id"], correlation_id=correlation_id,
                     producer=PRODUCER, data=data)


# What a timeline entry keeps of its event's data for the reports (reports.py): codes, ids and times,
# never personal data. Other events keep none.
FACTS = {
    "case_status_changed": ("from", "to"),
    "visit_requested": ("visit_id", "priority", "due_by"),
    "visit_status_changed": ("visit_id", "change", "from", "status", "priority", "due_by", "scheduled_for",
                             "outcome"),
    # notifications' group sessions (kept from the first one received, for an attendance report)
    "session_attendance_recorded": ("session_id", "kind", "starts_at", "attended", "supporter_id"),
}


def timeline_entry(envelope: dict, summary: str, *, actor: str | None = None, reason: str | None = None) -> dict:
    """One line of a case's story; a coordinator's own moves keep who made them and why."""
    at = envelope["occurred_at"]
    entry = {"event_id": envelope["event_id"],
             "at": datetime.fromisoformat(at) if isinstance(at, str) else at,
             "type": envelope["event_type"], "summary": summary,
             "source": envelope["producer"], "correlation_id": envelope["correlation_id"],
             "actor": actor, "reason": reason}
    data = envelope.get("data") or {}
    facts = {key: data[key] for key in FACTS.get(envelope["event_type"], ()) if data.get(key) is not None}
    if facts:
        entry["facts"] = facts
    return entry


def summarise(envelope: dict) -> str:
    """One line for the coordinator: ids, categories and times, never personal data.

    Only free text from another service (a delivery failure's reason, which can echo an address)
    is scrubbed; log redaction on the whole line would also hide the due dates a coordinator needs.
    """
    return _summary(envelope)


def _summary(envelope: dict) -> str:
    data, kind = envelope.get("data") or {}, envelope["event_type"]
    if kind == "visit_requested":
        return (f"Home Fire Safety Visit requested ({_words(data.get('priority'))} priority, "
                f"due by {_when(data.get('due_by'))})")
    if kind == "visit_not_requested":
        return f"No Home Fire Safety Visit requested ({_words(data.get('reason'))})"
    if kind == "fire_risk_without_consent":
        return "High fire risk but no consent to share with LFB: coordinator to follow up"
    if kind == "visit_status_changed":
        if data.get("change") == "priority_raised":
            return (f"Home Fire Safety Visit priority raised from {_words(data.get('previous_priority'))} "
                    f"to {_words(data.get('priority'))} by referral {data.get('reference')}")
        return f"Home Fire Safety Visit {_words(data.get('status'))}"
    if kind == "visit_overdue":
        return f"Home Fire Safety Visit overdue (was due by {_when(data.get('due_by'))})"
    if kind == "notification_sent" and data.get("channel") == "letter":
        # a letter is sent when a coordinator marks it posted (notifications: ready_to_print until then)
        return (f"Letter '{data.get('template')}' to "
                f"{AUDIENCE_WORDS.get(data.get('audience'), data.get('audience'))} printed and posted")
    if kind == "notification_sent":
        return (f"Message '{data.get('template')}' sent to "
                f"{AUDIENCE_WORDS.get(data.get('audience'), data.get('audience'))} by {data.get('channel')}")
    if kind == "notification_failed":
        return (f"Message '{data.get('template')}' to "
                f"{AUDIENCE_WORDS.get(data.get('audience'), data.get('audience'))} failed: "
                f"{scrub_text(str(data.get('reason')))}")
    if kind == "sms_stop_received":
        return "The person texted STOP: no more messages to them (consent to contact withdrawn)"
    if kind == "person_replied":
        return ("The person replied by text — read it in the messages" if data.get("channel", "sms") == "sms"
                else "The person replied — read it in the messages")
    if kind == "email_bounced":
        who = AUDIENCE_WORDS.get(data.get("audience"), data.get("audience"))
        then = ("; their address is marked as failing and the message goes again another way they gave us"
                if data.get("audience") == "person" else "; please check the address")
        return f"Email '{data.get('template')}' to {who} bounced{then}"
    if kind in ("session_reply_recorded", "session_attendance_recorded"):
        return _session_summary(kind, data)
    return kind.replace("_", " ")


SESSION_WORDS = {"face_to_face": "face-to-face session", "online": "online session", "huddle": "phone huddle"}


def _session_summary(kind: str, data: dict) -> str:
    """"Came to the online session on 3 Dec": a group session, by its kind and London date."""
    session = f"the {SESSION_WORDS.get(data.get('kind'), 'group session')} on {_day(data.get('starts_at'))}"
    who = "A supporter " if data.get("supporter_id") else ""  # at a session for family and friends
    if kind == "session_attendance_recorded":
        line = f"came to {session}" if data.get("attended") else f"did not come to {session}"
    else:
        by = "with the reply link" if data.get("via") == "link" else "to the coordinator"
        line = f"said {'yes' if data.get('answer') == 'yes' else 'no'} to {session} ({by})"
    return who + line if who else line[0].upper() + line[1:]


def _day(value) -> str:
    """A session's day as a coordinator in London reads it: "3 Dec"."""
    local = _london(value)
    return f"{local.day} {local:%b}" if local else str(value)


def _words(code) -> str:
    return str(code).replace("_", " ") if code else "unknown"


def _when(value) -> str:
    """A due time as a coordinator in London reads it: "Mon 30 Nov, 15:45" (GMT or BST)."""
    local = _london(value)
    return f"{local:%a} {local.day} {local:%b}, {local:%H:%M}" if local else str(value)


def _london(value) -> datetime | None:
    """An ISO-8601 instant in London time (naive: taken as UTC); None when it is not one."""
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).astimezone(LONDON)
