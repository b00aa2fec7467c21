"""Supporters: a family member or friend who supports a member of the group. The rules, no I/O.

A coordinator adds a supporter to a case with the person's consent (who obtained it, when),
and the supporter's own contact details and the way they want to hear from us. Supporters are
invited to the group's sessions for supporters, on their own channel, like members to theirs.
Removing a supporter (they or the person asked) drops their name and contact details; what
they did (invitations, answers, attendance) stays on the case without them.
Erasing the person's case erases their supporters too.
"""
from __future__ import annotations

from datetime import datetime

from marshmallow import ValidationError

from .messages import person_route

ACTIVE, REMOVED = "active", "removed"
CONTACT_FIELDS = ("given_name", "family_name", "relationship", "email", "phone", "address", "preferred_contact")


class UnknownSupporter(LookupError):
    """No supporter with this id (404)."""


def new_supporter(fields: dict, *, supporter_id: str, actor: str, now: datetime) -> dict:
    """A supporter document from a validated POST /supporters body, or ValidationError when the
    way they want to hear from us cannot reach them."""
    supporter = {"_id": supporter_id, "case_id": fields["case_id"], "status": ACTIVE,
                 **{k: fields.get(k) for k in CONTACT_FIELDS},
                 "person_consent": fields["person_consent"], "added_by": actor, "added_at": now}
    route = person_route(supporter)
    if route is None:
        raise ValidationError({"preferred_contact": [
            "we could not reach them that way: give an email for email, a UK mobile for text, or a postal "
            "address"]})
    if route[0] == "letter" and supporter["preferred_contact"] != "letter":
        raise ValidationError({"preferred_contact": [
            f"we could not reach them by {supporter['preferred_contact']}: give that detail, or choose letter"]})
    return supporter


def removal(actor: str, reason: str, now: datetime) -> dict:
    """What removing a supporter writes: their name and contact details go."""
    return {"status": REMOVED, "removed_by": actor, "removed_at": now, "removal_reason": reason,
            **{k: None for k in CONTACT_FIELDS}}


def supporter_view(supporter: dict) -> dict:
    return {"supporter_id": supporter["_id"], "case_id": supporter["case_id"], "status": supporter["status"],
            **{k: supporter.get(k) for k in CONTACT_FIELDS}, "person_consent": supporter.get("person_consent"),
            "added_at": supporter.get("added_at"), "removed_at": supporter.get("removed_at"),
            "removal_reason": supporter.get("removal_reason")}
