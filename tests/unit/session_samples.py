"""Sessions and invitations as the notifications service stores them, for unit tests."""
from __future__ import annotations

from datetime import date, datetime, timezone

from services.notifications import sessions as rules
from services.notifications.messages import person_message

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)
PLACES = {"face_to_face": "Harrow Arts Centre, 177 Uxbridge Road, HA5 4EA",
          "online": "https://zoom.example.net/j/8811",
          "huddle": "020 7946 0555, PIN 4321"}


def session(kind="online", starts_at="2026-12-03T18:30:00+00:00", ends_at="2026-12-03T20:00:00+00:00",
            capacity=12, audience="members", now=NOW, **changes) -> dict:
    fields = {"kind": kind, "starts_at": datetime.fromisoformat(starts_at),
              "ends_at": datetime.fromisoformat(ends_at), rules.PLACE_FIELD[kind]: PLACES[kind],
              "capacity": capacity, "audience": audience}
    return {**rules.new_session(fields, session_id=f"s-{kind}", actor="coordinator:k1", now=now), **changes}


def invitation(session_doc: dict, case_id="case-1", **changes) -> dict:
    return {"_id": rules.invitation_id(session_doc["_id"], case_id), "session_id": session_doc["_id"],
            "case_id": case_id, "invited_at": NOW, "answer": None, "attendance": None, **changes}


def session_plans(contacts: dict, group: dict, today: date):
    """One planned person message for every session message, kind and answer that reads differently."""
    for kind in rules.KINDS:
        doc = session(kind)
        for message in rules.SESSION_MESSAGES:
            answers = (None, "yes") if message in (rules.REMINDER, rules.CHANGED) else (None,)
            if message == rules.CANCELLATION:
                doc = {**doc, "status": rules.CANCELLED, "cancelled": {"reason": "The room is flooded."}}
            for answer in answers:
                context = rules.message_context(message, doc, invitation(doc, answer=answer),
                                                "https://hub.example.org/r/abc.def.ghi")
                yield person_message(contacts, group, today, rules.TEMPLATES[message], **context)
