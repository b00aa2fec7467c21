"""What the notifications service holds about a case, for subject access and the cross-service audit view.

Every message is given with the text the person (or referrer) received, rendered again from its
template and stored context (an erased message has neither: it shows as erased).
"""
from __future__ import annotations

from services.common.rpc import rpc

from services.common.records import KeptRecords
from services.common.gather import jsonable

from . import retention
from .messages import PlannedMessage, render

_INTERNAL = ("outbox", "applied_events", "outbox_pending", "outbox_waiting", "outbox_lease_until",
             "outbox_lease_owner", "lease_until", "lease_token")


def message_text(doc: dict, group: dict) -> dict | None:
    """Subject and text of a stored message as its channel carried it; None when erased."""
    if doc.get("erased_at") or doc.get("body_scrubbed_at") or not doc.get("to"):
        return None
    try:
        rendered = render(PlannedMessage(audience=doc["audience"], template=doc["template"],
                                         channel=doc["channel"], to=doc["to"], context=doc.get("context") or {}),
                          group)
    except Exception as exc:  # a template since removed: say so rather than drop the message
        return {"subject": None, "text": None, "problem": f"cannot render: {type(exc).__name__}"}
    return {"subject": rendered.subject, "text": rendered.text}


# a message to a referrer tells them about the person's case: a disclosure
DISCLOSING_AUDIENCES = frozenset({"referrer"})  # the crew's alert names nobody (DOMAIN.md)


def note_disclosure(audit, doc: dict | None, outcome: str) -> None:
    """A message that went to a referrer is a disclosure: audited."""
    if doc and outcome == "sent" and doc.get("audience") in DISCLOSING_AUDIENCES:
        audit.disclosed(f"message_disclosed_to_{doc['audience']}", doc["case_id"], doc.get("correlation_id"),
                        actor="system:notifications")


def holdings(store, group: dict, case_id: str) -> dict:
    messages = []
    for doc in store.for_case(case_id):
        entry = {k: v for k, v in doc.items() if k not in _INTERNAL}
        entry["rendered"] = message_text(doc, group)
        messages.append(entry)
    replies = [{k: v for k, v in doc.items() if k not in _INTERNAL} for doc in store.replies_for(case_id)]
    return jsonable({"contacts": store.contacts_for(case_id), "messages": messages, "replies": replies})


class NotificationRecords(KeptRecords):
    @rpc
    def subject_access(self, case_id):
        return {"holdings": {**holdings(self.store, self.group, case_id),
                             "sessions": jsonable(self._sessions().holdings(case_id))},
                "audit": jsonable(self.audit.for_case(case_id))}

    def retention_policy(self):
        return retention.BodyRetention(self.store, self.retention_schedule)
