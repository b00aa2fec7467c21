"""Storage of group sessions, invitations and membership, in the notifications service's database.

- `sessions`: one document per session, found by `_id` or by the London month it starts in
  (`month`, an indexed string equality). `version` guards coordinators' changes; `seats`
  (case id -> true) and `seats_taken` count the yeses, changed only by compare-and-set so the
  capacity is never passed.
- `invitations`: one per member per session (`_id` from both, sessions.invitation_id), holding
  the answer and the attendance; found by `case_id` or `session_id` (indexed).
- `members`: the latest case status per case (from case_status_changed), so coordinators can
  invite everyone accepted.
- `supporters`: family and friends on a case (supporters.py), found by `case_id` (indexed).

The wake-ups that send session messages ride in the outbox of the invitation (or session)
they belong to, written in the same single-document write as the change that causes them.
"""
from __future__ import annotations

from datetime import datetime

from marshmallow import ValidationError
from pymongo.errors import DuplicateKeyError

from services.common.envelope import utcnow
from services.common.mongo import Repository

from .sessions import SCHEDULED, SessionClosed, SessionFull, StaleSession, UnknownSession, seat_key

_HIDDEN = {"outbox": 0, "applied_events": 0}
SEAT_TRIES = 5  # a capacity changed under a yes is read again; more than this is a busy session


class SessionRepository(Repository):
    outbox_collections = ("sessions", "invitations")

    @property
    def sessions(self):
        return self.db["sessions"]

    @property
    def invitations(self):
        return self.db["invitations"]

    @property
    def members(self):
        return self.db["members"]

    @property
    def supporters(self):
        return self.db["supporters"]

    def ensure_indexes(self) -> None:
        self.sessions.create_index("month")
        self.invitations.create_index("case_id")
        self.invitations.create_index("session_id")
        self.members.create_index("status")
        self.supporters.create_index("case_id")
        self.migrate_once("members.from_acceptance_invitations", self._backfill_members)

    def _backfill_members(self) -> None:
        """Cases accepted before sessions were recorded: their acceptance invitation says so."""
        # read them all first: a cursor left open holds a read on the store while we write
        invited = list(self.db["notifications"].find({"template": "person_invitation"},
                                                     {"case_id": 1, "created_at": 1}))
        for doc in invited:
            self.note_member_status(doc["case_id"], "accepted", doc.get("created_at") or utcnow())

    # -- sessions ------------------------------------------------------------------
    def create(self, session: dict, events: list[dict] = ()) -> None:
        self.insert_with_events("sessions", session, list(events))

    def get(self, session_id: str) -> dict | None:
        return self.sessions.find_one({"_id": session_id}, _HIDDEN)

    def existing(self, session_id: str) -> dict:
        session = self.get(session_id)
        if session is None:
            raise UnknownSession(f"no session {session_id}")
        return session

    def in_months(self, months: list[str]) -> list[dict]:
        """Sessions starting in these London months (an indexed equality on each)."""
        return list(self.sessions.find({"month": {"$in": months}}, {**_HIDDEN, "seats": 0}))

    def of_ids(self, session_ids: list[str]) -> dict[str, dict]:
        if not session_ids:
            return {}
        return {s["_id"]: s for s in self.sessions.find({"_id": {"$in": sorted(set(session_ids))}},
                                                       {**_HIDDEN, "seats": 0})}

    def change(self, session: dict, version: int, changes: dict, events: list[dict] = ()) -> dict:
        """Write a coordinator's change only if the session is still at `version`; the new document.

        A lower capacity is written only if the yeses already given still fit.
        """
        doc_filter = {"_id": session["_id"], "version": version}
        if "capacity" in changes:
            doc_filter["seats_taken"] = {"$lte": changes["capacity"]}
        result = self.update_with_events(
            "sessions", doc_filter, {"$set": {**changes, "updated_at": utcnow()}, "$inc": {"version": 1}},
            list(events))
        if not result.matched_count:
            now = self.existing(session["_id"])
            if now["version"] != version:
                raise StaleSession(f"the session changed since version {version} (it is at version "
                                   f"{now['version']}): read it again and make your change on that")
            taken = now.get("seats_taken", 0)
            raise ValidationError({"capacity": [f"{taken} people have said yes: the capacity cannot go "
                                                f"below {taken}"]})
        return self.existing(session["_id"])

    def mark_finished(self, session_id: str, counts: dict) -> None:
        """Attendance recorded: the session is over (not a coordinator's edit: no new version)."""
        self.sessions.update_one({"_id": session_id, "status": SCHEDULED},
                                 {"$set": {"status": "finished", "updated_at": utcnow()}})
        self.sessions.update_one({"_id": session_id},
                                 {"$set": {"attendance_counts": counts, "updated_at": utcnow()}})

    # -- seats -----------------------------------------------------------------------
    def take_seat(self, session_id: str, case_id: str) -> None:
        """A yes: one seat for this case, never more seats than the capacity (SessionFull)."""
        seat = seat_key(case_id)
        key = f"seats.{seat}"
        for _ in range(SEAT_TRIES):
            session = self.existing(session_id)
            if session["status"] != SCHEDULED:
                raise SessionClosed(f"the session is {session['status']}")
            if seat in (session.get("seats") or {}):
                return  # they had said yes already
            if session.get("seats_taken", 0) >= session["capacity"]:
                raise SessionFull("every place has been taken")
            taken = self.sessions.update_one(
                {"_id": session_id, "status": SCHEDULED, "capacity": session["capacity"],
                 "seats_taken": {"$lt": session["capacity"]}, key: {"$exists": False}},
                {"$set": {key: True}, "$inc": {"seats_taken": 1}})
            if taken.modified_count:
                return
        raise SessionFull("the session is too busy to take the answer now")  # read again next time

    def release_seat(self, session_id: str, case_id: str) -> bool:
        """A no (or an erasure) frees the place of this invitee (a case, or a supporter)."""
        key = f"seats.{seat_key(case_id)}"
        result = self.sessions.update_one({"_id": session_id, key: {"$exists": True}},
                                          {"$unset": {key: ""}, "$inc": {"seats_taken": -1}})
        return result.modified_count == 1

    # -- invitations ------------------------------------------------------------------
    def invite(self, invitation: dict, events: list[dict]) -> bool:
        """Store an invitation and its wake-ups; False when this member was invited before."""
        now = utcnow()
        return self.insert_with_events("invitations", {
            "answer": None, "answered_at": None, "answered_via": None, "attendance": None,
            "created_at": now, "updated_at": now, **invitation}, events, once=True)

    def invitation(self, invitation_id: str) -> dict | None:
        return self.invitations.find_one({"_id": invitation_id}, _HIDDEN)

    def invitations_of_session(self, session_id: str) -> list[dict]:
        return list(self.invitations.find({"session_id": session_id}, _HIDDEN))

    def invitations_of_case(self, case_id: str) -> list[dict]:
        return list(self.invitations.find({"case_id": case_id}, _HIDDEN))

    def record_answer(self, invitation_id: str, answer: str, via: str, now: datetime,
                      events: list[dict]) -> bool:
        """The answer and its event in one write; False when it was already this answer."""
        result = self.update_with_events(
            "invitations", {"_id": invitation_id, "answer": {"$ne": answer}},
            {"$set": {"answer": answer, "answered_at": now, "answered_via": via, "updated_at": now}}, events)
        return result.modified_count == 1

    def record_attendance(self, invitation_id: str, mark: str, by: str, now: datetime,
                          events: list[dict]) -> bool:
        result = self.update_with_events(
            "invitations", {"_id": invitation_id, "attendance": {"$ne": mark}},
            {"$set": {"attendance": mark, "attendance_recorded_at": now, "attendance_recorded_by": by,
                      "updated_at": now}}, events)
        return result.modified_count == 1

    def add_wake_ups(self, invitation_id: str, events: list[dict]) -> None:
        self.update_with_events("invitations", {"_id": invitation_id}, {"$set": {"updated_at": utcnow()}},
                                events)

    # -- members ------------------------------------------------------------------------
    def note_member_status(self, case_id: str, status: str, at: datetime) -> bool:
        """The case's status as of `at`; an older event arriving late changes nothing."""
        try:
            result = self.members.update_one({"_id": case_id, "status_at": {"$lt": at}},
                                             {"$set": {"status": status, "status_at": at}}, upsert=True)
        except DuplicateKeyError:
            return False  # the record holds a newer status
        return bool(result.modified_count or result.upserted_id)

    def member(self, case_id: str) -> dict | None:
        return self.members.find_one({"_id": case_id})

    def members_with(self, statuses) -> list[str]:
        return sorted(doc["_id"] for status in sorted(statuses)
                      for doc in self.members.find({"status": status}, {"_id": 1}))

    # -- supporters ---------------------------------------------------------------------------
    def add_supporter(self, supporter: dict) -> None:
        self.supporters.insert_one(supporter)

    def supporter(self, supporter_id: str) -> dict | None:
        return self.supporters.find_one({"_id": supporter_id})

    def supporters_of(self, case_id: str) -> list[dict]:
        return sorted(self.supporters.find({"case_id": case_id}), key=lambda s: s["added_at"])

    def remove_supporter(self, supporter_id: str, changes: dict) -> bool:
        result = self.supporters.update_one({"_id": supporter_id, "status": "active"}, {"$set": changes})
        return result.modified_count == 1

    def invitations_of_supporter(self, supporter_id: str, case_id: str) -> list[dict]:
        return [i for i in self.invitations_of_case(case_id) if i.get("supporter_id") == supporter_id]

    # -- erasure ---------------------------------------------------------------------------
    def withdraw_invitation(self, invitation: dict, keep_past: bool = False) -> int:
        """An invitation goes (erasure, a supporter removed): a place at a session still to come is
        freed; a past session keeps how many said yes, without saying who. `keep_past`: an
        invitation to a session that has ended stays (what happened), only its place is forgotten."""
        holder = invitation.get("supporter_id") or invitation["case_id"]
        session = self.get(invitation["session_id"])
        if session is not None and session["status"] == SCHEDULED and session["ends_at"] > utcnow():
            self.release_seat(session["_id"], holder)
        else:
            self.sessions.update_one({"_id": invitation["session_id"]}, {"$unset": {f"seats.{seat_key(holder)}": ""}})
            if keep_past:
                return 0
        return self.invitations.delete_one({"_id": invitation["_id"]}).deleted_count

    def erase_case(self, case_id: str) -> int:
        """The case's invitations, answers and attendance go (its supporters' too, and the
        supporters themselves); a session keeps its counts."""
        erased = sum(self.withdraw_invitation(invitation) for invitation in self.invitations_of_case(case_id))
        self.members.delete_one({"_id": case_id})
        self.supporters.delete_many({"case_id": case_id})
        return erased
