"""Driving the notifications service's group sessions over the real wire, for the session tests."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import requests
from nameko.testing.services import entrypoint_waiter

from services.common.envelope import new_event, utcnow
from tests.integration.notifications_peers import referral_received, smtp
from tests.support import wait_until

SECRET = "reply-links-test-secret-of-at-least-32-characters"
REPLY_LINK = re.compile(r"https?://\S+/r/[A-Za-z0-9_.-]+")


def iso(moment: datetime) -> str:
    return moment.isoformat()


def later(**delta) -> datetime:
    return (utcnow() + timedelta(**delta)).replace(microsecond=0)


def session_body(kind="online", starts_in=timedelta(days=3), length=timedelta(minutes=90), **changes) -> dict:
    starts_at = (utcnow() + starts_in).replace(microsecond=0)
    place = {"online": {"joining_link": "https://zoom.example.net/j/8811"},
             "face_to_face": {"venue": "Harrow Arts Centre, HA5 4EA"},
             "huddle": {"dial_in": "020 7946 0555, PIN 4321"}}.get(kind, {})
    fields = {"kind": kind, "starts_at": iso(starts_at), "ends_at": iso(starts_at + length), "capacity": 10,
              "audience": "members", **place, **changes}
    return {k: v for k, v in fields.items() if v is not None}


class SessionDesk:
    """The running notifications service as a coordinator, a partner and an invited person use it."""

    def __init__(self, service, tokens, mailbox=None):
        self.service, self.tokens, self.mailbox = service, tokens, mailbox
        self.url = service.url

    # -- HTTP -------------------------------------------------------------------------------
    def call(self, method, path, who="coordinator", body=None, **kwargs):
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        if body is not None:
            headers["Content-Type"] = "application/json"
            kwargs["data"] = json.dumps(body)
        return requests.request(method, f"{self.url}{path}", headers=headers, timeout=15, **kwargs)

    def create(self, **changes) -> dict:
        response = self.call("POST", "/sessions", body=session_body(**changes))
        assert response.status_code == 201, response.text
        return response.json()

    def invite(self, session_id, **body) -> dict:
        response = self.call("POST", f"/sessions/{session_id}/invitations", body=body)
        assert response.status_code == 200, response.text
        return response.json()

    def detail(self, session_id) -> dict:
        return self.call("GET", f"/sessions/{session_id}").json()

    def answers(self, session_id) -> dict:
        return {i["case_id"]: i["answer"] for i in self.detail(session_id)["invitations"]}

    # -- members ---------------------------------------------------------------------------------
    def member(self, status="accepted", **referral_changes) -> str:
        """A person known to the service (their referral) whose case has reached `status`."""
        referral = referral_received(**referral_changes)
        self.service.publish(referral)
        self.move(referral, status)
        return referral["case_id"]

    def move(self, referral, status):
        event = new_event("case_status_changed", case_id=referral["case_id"],
                          correlation_id=referral["correlation_id"], producer="referrals",
                          data={"from": "received", "to": status, "reason": "met them", "actor": "coordinator:k1"})
        container = self.service.container
        with entrypoint_waiter(container, "note_membership", timeout=10), \
                entrypoint_waiter(container, "plan_for_event", timeout=10):
            self.service._dispatch("referrals", "case_status_changed", event)

    # -- messages ------------------------------------------------------------------------------
    def messages(self, case_id, template) -> list[dict]:
        return list(self.service.db["notifications"].find({"case_id": case_id, "template": template}))

    def sent(self, case_id, template, count=1) -> list[dict]:
        return wait_until(lambda: (docs := [d for d in self.messages(case_id, template) if d["status"] == "sent"])
                          and len(docs) >= count and docs, message=f"{count} {template} sent")

    def reply_link(self, case_id, template="person_session_invitation") -> str:
        (doc,) = self.sent(case_id, template)
        return doc["context"]["reply_link"]


def mail_to(mailbox, address, subject_starts):
    return [m for m in mailbox.to(address) if str(m["Subject"]).strip().startswith(subject_starts)]


def settings(mailbox, **more):
    return {**smtp(mailbox), "REPLY_LINK_SECRET": SECRET, **more}


def wake_up(desk, invitation_case, session, message, due_at, starts_at=None):
    """A `session_message_due` wake-up as the broker brings it back, handled before returning."""
    from services.notifications import sessions as rules
    from services.notifications.session_work import message_due

    invitation = {"_id": rules.invitation_id(session["session_id"], invitation_case), "case_id": invitation_case}
    event = message_due(invitation, message, due_at, "corr-wake", starts_at=starts_at)
    with entrypoint_waiter(desk.service.container, "send_session_message", timeout=10):
        desk.service._dispatch("notifications", "session_message_due", event)
