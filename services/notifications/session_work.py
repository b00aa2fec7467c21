"""What coordinators and invited people do with group sessions, and the messages that follow.

Rules come from sessions.py, storage from session_repository.py. Messages go through the
same planning and sending as every other message (planning.MessagePlanner,
sending.MessageSender): the person's channel, quiet hours, do-not-contact and consent
withdrawal apply unchanged.

Nothing polls. Each message to an invited person is a `session_message_due` wake-up in the
outbox of the invitation, written with the invitation itself (the invitation at once, the
reminder for the day before); the wake-up handler waits on the broker (NotDueYet) until it is
due, checks the message still says something true (sessions.message_applies) and plans it.
A cancellation or a move is one event in the session's own write (`session_cancelled`,
`session_changed`), whose handler tells each person invited.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Callable

from marshmallow import ValidationError

from services.common.consumer import NotDueYet
from services.common.envelope import new_event, utcnow
from services.common.logs import bind_context, get_logger
from services.common.vocabulary import SESSION_ATTENDANCE_RECORDED, SESSION_REPLY_RECORDED

from . import sessions as rules
from . import supporters
from .messages import UK, person_message, supporter_message

log = get_logger(__name__)

PRODUCER = "notifications"
# Internal: published on the notifications exchange, consumed only by this service.
SESSION_MESSAGE_DUE = "session_message_due"
SESSION_CANCELLED = "session_cancelled"
SESSION_CHANGED = "session_changed"
SESSION_EVENT_CASE = ""  # events about a whole session belong to no one case
SESSION_CANCELLED_REASON = "session_cancelled"  # a pending invitation suppressed by a cancellation
SUPPORTER_REMOVED_REASON = "supporter_removed"  # a pending message to a supporter since removed


class UnknownInvitation(LookupError):
    """The reply link names an invitation that is no longer held (erased)."""


def message_due(invitation: dict, message: str, due_at: datetime, correlation_id: str,
                starts_at: datetime | None = None) -> dict:
    """The wake-up that brings one session message to the sender at `due_at`."""
    return new_event(SESSION_MESSAGE_DUE, case_id=invitation["case_id"], correlation_id=correlation_id,
                     producer=PRODUCER,
                     data={"invitation_id": invitation["_id"], "message": message, "due_at": due_at.isoformat(),
                           "starts_at": starts_at.isoformat() if starts_at else None})


def session_event(event_type: str, session: dict, correlation_id: str, **data) -> dict:
    return new_event(event_type, case_id=SESSION_EVENT_CASE, correlation_id=correlation_id, producer=PRODUCER,
                     data={"session_id": session["_id"], **data})


def case_event(event_type: str, invitation: dict, session: dict, correlation_id: str, **data) -> dict:
    """What goes on the case's timeline: the session's kind and start, never its place."""
    if invitation.get("supporter_id"):
        data["supporter_id"] = invitation["supporter_id"]
    return new_event(event_type, case_id=invitation["case_id"], correlation_id=correlation_id,
                     producer=PRODUCER,
                     data={"session_id": session["_id"], "kind": session["kind"],
                           "starts_at": rules.as_utc(session["starts_at"]).isoformat(), **data})


# Session messages are planned under a uuid made from what makes them once (uuid5): the same for a
# redelivered wake-up, and shaped like every other event id (the Message-ID a bounce names starts with it).
SESSION_MESSAGES = uuid.UUID("5c3f1a52-7d0e-4b7a-9a55-2f6f3c1e9d41")


def session_message_id(invitation: dict, message: str, session: dict) -> str:
    """The event id a session message is planned under: one message per invitation and key."""
    return str(uuid.uuid5(SESSION_MESSAGES, f"{invitation['_id']}:{rules.message_key(message, invitation, session)}"))


def planned_message_id(invitation: dict, message: str, session: dict) -> str:
    """The stored message's id (planning.notification_id): to the supporter at a supporters' session."""
    audience = "supporter" if invitation.get("supporter_id") else "person"
    return f"{session_message_id(invitation, message, session)}:{rules.TEMPLATES[message]}:{audience}"


class SessionWork:
    """`store` a SessionRepository; `planner`/`sender` the service's MessagePlanner/MessageSender;
    `links` a ReplyLinks (link/read)."""

    def __init__(self, store, planner, sender, links, clock: Callable[[], datetime] = utcnow):
        self.store = store
        self.planner = planner
        self.sender = sender
        self.links = links
        self.clock = clock

    # -- coordinators: sessions -------------------------------------------------------
    def create(self, fields: dict, actor: str) -> dict:
        session = rules.new_session(fields, session_id=str(uuid.uuid4()), actor=actor, now=self.clock())
        self.store.create(session)
        log.info("session_created", session_id=session["_id"], kind=session["kind"])
        return session

    def listing(self, start: date | None, end: date | None) -> list[dict]:
        start, end = rules.query_window(start, end, self.clock().astimezone(UK).date())
        found = [s for s in self.store.in_months(rules.months_between(start, end)) if rules.in_window(s, start, end)]
        return sorted(found, key=lambda s: s["starts_at"])

    def upcoming(self) -> list[dict]:
        """The next members' sessions, as the invitation on acceptance lists them."""
        now = self.clock()
        today = now.astimezone(UK).date()
        months = rules.months_between(today, today + rules.DEFAULT_QUERY)
        return rules.upcoming_listing(self.store.in_months(months), now)

    def change(self, session_id: str, fields: dict, actor: str, correlation_id: str) -> dict:
        session = self.store.existing(session_id)
        change = rules.change_session(session, fields, self.clock())
        events = []
        if change.told:  # those invited hear of it (and get new reminders) from the event's handler
            events.append(session_event(SESSION_CHANGED, session, correlation_id, version=session["version"] + 1,
                                        moved=change.moved))
        changed = self.store.change(session, fields["version"], {**change.changes, "changed_by": actor}, events)
        log.info("session_changed", session_id=session_id, moved=change.moved, fields=sorted(change.changes))
        return changed

    def cancel(self, session_id: str, version: int, reason: str, actor: str, correlation_id: str) -> dict:
        session = self.store.existing(session_id)
        changes = rules.cancel_session(session, reason, actor, self.clock())
        cancelled = self.store.change(session, version, changes,
                                      [session_event(SESSION_CANCELLED, session, correlation_id)])
        log.info("session_cancelled", session_id=session_id)
        return cancelled

    # -- coordinators: invitations, replies, attendance ----------------------------------
    def invite(self, session_id: str, case_ids: list[str] | None, actor: str, correlation_id: str) -> dict:
        """Invite these members (None: every accepted member), or at a supporters' session their
        active supporters; each once, however often asked."""
        session = self.store.existing(session_id)
        now = self.clock()
        rules.require_open(session, now, "take invitations")
        if case_ids is None:
            case_ids = self.store.members_with(rules.MEMBER_STATUSES)
        else:
            self._require_members(case_ids)
        invitees = [{"case_id": case_id} for case_id in case_ids]
        if session["audience"] == "supporters":
            invitees = [{"case_id": s["case_id"], "supporter_id": s["_id"]} for case_id in case_ids
                        for s in self.store.supporters_of(case_id) if s["status"] == supporters.ACTIVE]
        invited, already, cases = [], [], set()
        reminder = rules.reminder_due(rules.as_utc(session["starts_at"]), now)
        for who in invitees:
            invitation = {"_id": rules.invitation_id(session_id, rules.invitee(who)), "session_id": session_id,
                          **who, "invited_at": now, "invited_by": actor}
            wake_ups = [message_due(invitation, rules.INVITATION, now, correlation_id)]
            if reminder is not None:
                wake_ups.append(message_due(invitation, rules.REMINDER, reminder, correlation_id,
                                            starts_at=rules.as_utc(session["starts_at"])))
            if self.store.invite(invitation, wake_ups):
                invited.append(rules.invitee(who))
                cases.add(who["case_id"])
            else:
                already.append(rules.invitee(who))
        log.info("session_invitations", session_id=session_id, invited=len(invited), already=len(already))
        # `cases`: whose records changed (the audit trail's entries), not part of the response
        return {"session_id": session_id, "invitees": session["audience"], "invited": invited,
                "already_invited": already, "cases": sorted(cases)}

    def _require_members(self, case_ids: list[str]) -> None:
        """ValidationError naming the cases that are not accepted members."""
        problems = []
        for case_id in case_ids:
            member = self.store.member(case_id)
            if member is None:
                problems.append(f"{case_id}: no accepted case with this id")
            elif member["status"] not in rules.MEMBER_STATUSES:
                problems.append(f"{case_id}: the case is {member['status']}, not an accepted member")
        if problems:
            raise ValidationError({"case_ids": problems})

    def reply_for(self, session_id: str, who: dict, answer: str, actor: str, correlation_id: str) -> dict:
        """The coordinator records what someone invited said (on the phone, at the door);
        `who` is {"case_id": ...} for a member, {"supporter_id": ...} for a supporter."""
        (field, invitee_id), = who.items()
        invitation = self.store.invitation(rules.invitation_id(session_id, invitee_id))
        if invitation is None:
            self.store.existing(session_id)  # 404 for a session that is not there
            raise ValidationError({field: ["not invited to this session"]})
        return self.reply(invitation, answer, f"coordinator:{actor}", correlation_id)

    def reply(self, invitation: dict, answer: str, via: str, correlation_id: str) -> dict:
        """Record yes or no; a yes takes a seat first (SessionFull when none is left), a no frees one.

        A seat is taken before the answer is written and freed after, so at every moment the
        seats taken are at least the yeses recorded: the capacity is never passed.
        """
        session = self.store.existing(invitation["session_id"])
        now = self.clock()
        rules.require_open(session, now, "take replies")
        bind_context(case_id=invitation["case_id"])
        if answer == "yes":
            self.store.take_seat(session["_id"], rules.invitee(invitation))
        event = case_event(SESSION_REPLY_RECORDED, invitation, session, correlation_id, answer=answer,
                           via="link" if via == "link" else "coordinator")
        changed = self.store.record_answer(invitation["_id"], answer, via, now, [event])
        if answer == "no":
            self.store.release_seat(session["_id"], rules.invitee(invitation))
        log.info("session_reply_recorded" if changed else "session_reply_unchanged", session_id=session["_id"],
                 answer=answer, via="link" if via == "link" else "coordinator")
        return {"session_id": session["_id"], "case_id": invitation["case_id"],
                "supporter_id": invitation.get("supporter_id"), "answer": answer, "changed": changed}

    def record_attendance(self, session_id: str, attended: list[str], absent: list[str], actor: str,
                          correlation_id: str) -> dict:
        """Who came: case ids at a members' session, supporter ids at a supporters' session; someone
        who came without an invitation is recorded too (and never messaged)."""
        session = self.store.existing(session_id)
        now = self.clock()
        rules.require_started(session, now)
        marks = rules.attendance_marks(attended, absent)
        invitations = {i: self.store.invitation(rules.invitation_id(session_id, i)) for i in marks}
        walk_ins = {i: self._walk_in(session, i) for i, invitation in invitations.items() if invitation is None}
        problems = {field: [f"{i}: {walk_ins[i]}" for i in ids if isinstance(walk_ins.get(i), str)]
                    for field, ids in (("attended", attended), ("absent", absent))}
        if any(problems.values()):
            raise ValidationError({field: found for field, found in problems.items() if found})
        changed, cases = [], set()
        for invitee_id, mark in marks.items():
            invitation = invitations[invitee_id]
            if invitation is None:
                invitation = {"_id": rules.invitation_id(session_id, invitee_id), "session_id": session_id,
                              **walk_ins[invitee_id], "invited_at": None, "invited_by": None}
                self.store.invite(invitation, [])
            event = case_event(SESSION_ATTENDANCE_RECORDED, invitation, session, correlation_id,
                               attended=mark == rules.ATTENDED)
            if self.store.record_attendance(invitation["_id"], mark, actor, now, [event]):
                changed.append(invitee_id)
                cases.add(invitation["case_id"])
        counts = {rules.ATTENDED: 0, rules.ABSENT: 0}
        for invitation in self.store.invitations_of_session(session_id):
            if invitation.get("attendance") in counts:
                counts[invitation["attendance"]] += 1
        self.store.mark_finished(session_id, counts)
        log.info("session_attendance_recorded", session_id=session_id, changed=len(changed), **counts)
        return {"session_id": session_id, "changed": changed, "counts": counts, "cases": sorted(cases)}

    def _walk_in(self, session: dict, invitee_id: str) -> dict | str:
        """Who came uninvited ({case_id[, supporter_id]}), or why they cannot be recorded."""
        if session["audience"] == "supporters":
            supporter = self.store.supporter(invitee_id)
            if supporter is None or supporter["status"] != supporters.ACTIVE:
                return "no supporter with this id"
            return {"case_id": supporter["case_id"], "supporter_id": invitee_id}
        member = self.store.member(invitee_id)
        if member is None or member["status"] not in rules.MEMBER_STATUSES:
            return "not an accepted member"
        return {"case_id": invitee_id}

    def detail(self, session_id: str) -> tuple[dict, list[dict]]:
        session = self.store.existing(session_id)
        invitations = sorted(self.store.invitations_of_session(session_id),
                             key=lambda i: (i.get("invited_at") is None, i.get("invited_at") or i["created_at"]))
        return session, invitations

    def history(self, case_id: str) -> list[dict]:
        """A member's invitations, answers and attendance, oldest session first."""
        invitations = self.store.invitations_of_case(case_id)
        sessions = self.store.of_ids([i["session_id"] for i in invitations])
        now = self.clock()
        entries = [rules.history_entry(i, sessions.get(i["session_id"]), now) for i in invitations]
        return sorted(entries, key=lambda e: e.get("starts_at") or now)

    # -- the reply link -----------------------------------------------------------------------
    def invitation_of_link(self, token: str) -> tuple[dict, dict]:
        """(invitation, session) a reply link names, or ForgedLink / ExpiredLink / UnknownInvitation."""
        invitation = self.store.invitation(self.links.read(token, self.clock()))
        if invitation is None:
            raise UnknownInvitation("the invitation is no longer held")
        return invitation, self.store.existing(invitation["session_id"])

    # -- messages to those invited ---------------------------------------------------------------
    def wake_up(self, data: dict, correlation_id: str) -> str:
        """A `session_message_due` wake-up: raises NotDueYet until due, then tells the person."""
        due_at = datetime.fromisoformat(data["due_at"])
        if due_at > self.clock():
            raise NotDueYet(due_at)
        invitation = self.store.invitation(data["invitation_id"])
        if invitation is None:
            log.info("session_message_stale", reason="invitation_gone", message=data["message"])
            return "stale"
        session = self.store.existing(invitation["session_id"])
        starts_at = datetime.fromisoformat(data["starts_at"]) if data.get("starts_at") else None
        return self.tell(invitation, session, data["message"], correlation_id, starts_at)

    def tell(self, invitation: dict, session: dict, message: str, correlation_id: str,
             starts_at: datetime | None = None) -> str:
        """Plan (and, when it may go now, send) one session message to the person invited."""
        now = self.clock()
        bind_context(case_id=invitation["case_id"], session_id=session["_id"])
        if not rules.message_applies(message, session, invitation, starts_at, now):
            log.info("session_message_stale", message=message)
            return "stale"
        contacts = self.planner.store.contacts_for(invitation["case_id"])
        if contacts is None:
            raise LookupError("no contact record for this case yet")  # retried with backoff
        if contacts.get("erased_at"):
            return "erased"
        link = (self.links.link(invitation["_id"], rules.as_utc(session["starts_at"]))
                if message != rules.CANCELLATION else None)
        context = rules.message_context(message, session, invitation, link)
        today, template = now.astimezone(UK).date(), rules.TEMPLATES[message]
        if invitation.get("supporter_id"):
            supporter = self.store.supporter(invitation["supporter_id"])
            if supporter is None or supporter["status"] != supporters.ACTIVE:
                return "stale"  # removed since: nothing more goes to them
            planned = supporter_message(contacts, supporter, today, template, **context)
        else:
            planned = person_message(contacts, self.planner.group, today, template, **context)
        if not rules.worth_sending(message, planned.channel):
            log.info("session_message_not_by_letter", message=message)
            return "not_by_letter"
        envelope = {"event_id": session_message_id(invitation, message, session), "case_id": invitation["case_id"],
                    "correlation_id": correlation_id}
        outcome = "planned"
        for doc in self.planner.plan_message(envelope, planned):
            outcome = self.sender.send_claimed(doc)
        return outcome

    def tell_cancelled(self, session_id: str, correlation_id: str) -> int:
        """Everyone invited hears once; an invitation that had not gone yet is held back instead."""
        session = self.store.existing(session_id)
        told = 0
        for invitation in self.store.invitations_of_session(session_id):
            if invitation.get("invited_at") is None:
                continue  # came without an invitation
            unsent = planned_message_id(invitation, rules.INVITATION, session)
            if self.planner.store.suppress(unsent, SESSION_CANCELLED_REASON):
                continue  # they never heard of it: nothing to call off
            told += self.tell(invitation, session, rules.CANCELLATION, correlation_id) != "stale"
        return told

    def tell_changed(self, session_id: str, moved: bool, correlation_id: str) -> int:
        """Those invited who have not said no hear the new time or place; a move brings new reminders."""
        session = self.store.existing(session_id)
        now, told = self.clock(), 0
        reminder = rules.reminder_due(rules.as_utc(session["starts_at"]), now) if moved else None
        for invitation in self.store.invitations_of_session(session_id):
            if invitation.get("invited_at") is None:
                continue
            if reminder is not None:
                self.store.add_wake_ups(invitation["_id"], [message_due(
                    invitation, rules.REMINDER, reminder, correlation_id, starts_at=rules.as_utc(session["starts_at"]))])
            told += self.tell(invitation, session, rules.CHANGED, correlation_id) != "stale"
        return told

    # -- what the service learns from other services -----------------------------------------------
    def note_case_status(self, case_id: str, status: str, at: datetime, erased: bool) -> bool:
        if erased:
            return False
        return self.store.note_member_status(case_id, status, at)

    def holdings(self, case_id: str) -> dict:
        """For subject access: the person's (and their supporters') invitations, answers and
        attendance with each session, and the supporters on the case."""
        return {"invitations": self.history(case_id), "membership": self.store.member(case_id),
                "supporters": [supporters.supporter_view(s) for s in self.store.supporters_of(case_id)]}

    # -- supporters -------------------------------------------------------------------------------
    def add_supporter(self, fields: dict, actor: str) -> dict:
        contacts = self.planner.store.contacts_for(fields["case_id"])
        if contacts is None or contacts.get("erased_at"):
            raise ValidationError({"case_id": ["no case with this id"]})
        supporter = supporters.new_supporter(fields, supporter_id=str(uuid.uuid4()), actor=actor, now=self.clock())
        self.store.add_supporter(supporter)
        log.info("supporter_added", case_id=supporter["case_id"], supporter_id=supporter["_id"])
        return supporter

    def remove_supporter(self, supporter_id: str, reason: str, actor: str) -> dict:
        """Their details go; nothing more is sent to them; a place they held at a session still to come
        is freed (what they did at past sessions stays, without them)."""
        supporter = self.store.supporter(supporter_id)
        if supporter is None:
            raise supporters.UnknownSupporter(f"no supporter {supporter_id}")
        if supporter["status"] == supporters.ACTIVE:
            self.store.remove_supporter(supporter_id, supporters.removal(actor, reason, self.clock()))
        withdrawn, messages = 0, self.planner.store.for_case(supporter["case_id"])
        for invitation in self.store.invitations_of_supporter(supporter_id, supporter["case_id"]):
            for doc in messages:
                if (doc.get("context") or {}).get("invitation_id") == invitation["_id"]:
                    self._forget_message(doc)
            withdrawn += self.store.withdraw_invitation(invitation, keep_past=True)
        log.info("supporter_removed", case_id=supporter["case_id"], supporter_id=supporter_id, withdrawn=withdrawn)
        return self.store.supporter(supporter_id)

    def _forget_message(self, doc: dict) -> None:
        """A message to a removed supporter: held back if it has not gone, and its address, text and
        any file of it (a letter, a drop-folder copy) gone."""
        self.planner.store.suppress(doc["_id"], SUPPORTER_REMOVED_REASON)
        path = self.planner.channels.holds_file(doc.get("receipt"))
        if path is not None and path.exists():
            path.unlink()
        self.planner.store.erase_message(doc["_id"])
