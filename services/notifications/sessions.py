"""Group sessions, invitations, replies and attendance: the rules, with no I/O.

Sessions belong to the notifications service (README, "Group sessions"): it is the
service that contacts members and already holds their contact details and wishes.

- A session is face to face (a venue), online (a joining link) or a phone huddle (a dial-in
  number); it has a start and an end (instants, shown in London time), a capacity and an
  audience (members, or supporters: family and friends). Its status is scheduled,
  cancelled or finished (attendance recorded, or its end has passed).
- Coordinators change a session only against the version they read, so two of them never
  overwrite each other silently.
- One invitation per member per session. The person answers yes or no with a signed link
  or through the coordinator; a yes takes a seat, and no more seats than the capacity are
  ever taken (`seats` on the session document, one single-document write).
- The day before, at 10:00 London time, those who said yes or did not answer get a
  reminder. A cancelled session tells everyone invited; a moved session (new time or place)
  tells everyone who has not said no.

The place of a session (venue, link, dial-in) goes only into messages to those invited and
to coordinators, never into what other roles read.
"""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from marshmallow import ValidationError

from .messages import UK, clock_words, long_date

KINDS = ("face_to_face", "online", "huddle")
PLACE_FIELD = {"face_to_face": "venue", "online": "joining_link", "huddle": "dial_in"}
PLACE_FIELDS = tuple(PLACE_FIELD.values())
KIND_WORDS = {"face_to_face": "face-to-face session", "online": "online session", "huddle": "phone huddle"}
LISTED_AS = {"face_to_face": "face to face", "online": "online", "huddle": "phone huddle"}
SESSION_AUDIENCES = ("members", "supporters")
SCHEDULED, CANCELLED, FINISHED = "scheduled", "cancelled", "finished"
STATUSES = (SCHEDULED, CANCELLED, FINISHED)
ANSWERS = ("yes", "no")
ATTENDED, ABSENT = "attended", "absent"

# The case statuses whose person is a member of the group: invited with `all_accepted`.
MEMBER_STATUSES = frozenset({"accepted", "in_progress"})
LONGEST_SESSION = timedelta(hours=12)
REMINDER_TIME = time(10, 0)  # London time, the day before: well outside quiet hours
LONGEST_QUERY = timedelta(days=731)
DEFAULT_QUERY = timedelta(days=365)
NEXT_SESSIONS_LISTED = 6  # in the "you're invited to the group" message on acceptance

# What a session-message wake-up asks for (`session_message_due`, see session_work.py).
INVITATION, REMINDER, CHANGED, CANCELLATION = "invitation", "reminder", "changed", "cancellation"
SESSION_MESSAGES = (INVITATION, REMINDER, CHANGED, CANCELLATION)
TEMPLATES = {INVITATION: "person_session_invitation", REMINDER: "person_session_reminder",
             CHANGED: "person_session_changed", CANCELLATION: "person_session_cancelled"}


class UnknownSession(LookupError):
    """No session with this id (404)."""


class StaleSession(Exception):
    """The session changed since the coordinator read it (409)."""


class SessionClosed(Exception):
    """The session is cancelled, started or finished: this cannot be done now (409)."""


class SessionFull(Exception):
    """A yes beyond the capacity (409 for a coordinator; a kind page for the person)."""


def as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:  # read back from a client without tz_aware: stored as UTC
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def london(moment: datetime) -> datetime:
    return as_utc(moment).astimezone(UK)


def month_key(moment: datetime) -> str:
    """The London month a session starts in ("2026-12"): what GET /sessions finds it by."""
    return f"{london(moment):%Y-%m}"


def months_between(first: date, last: date) -> list[str]:
    months, year, month = [], first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def query_window(start: date | None, end: date | None, today: date) -> tuple[date, date]:
    """The London days GET /sessions covers: from today for a year unless asked otherwise."""
    start = start or today
    end = end or start + DEFAULT_QUERY
    if end < start:
        raise ValidationError({"to": ["must be on or after from"]})
    if end - start > LONGEST_QUERY:
        raise ValidationError({"to": ["ask for at most two years at a time"]})
    return start, end


def in_window(session: dict, start: date, end: date) -> bool:
    return start <= london(session["starts_at"]).date() <= end


# --- a session's life --------------------------------------------------------------

def _check_times(starts_at: datetime, ends_at: datetime, now: datetime) -> None:
    if starts_at <= now:
        raise ValidationError({"starts_at": ["must be in the future"]})
    if ends_at <= starts_at:
        raise ValidationError({"ends_at": ["must be after starts_at"]})
    if ends_at - starts_at > LONGEST_SESSION:
        raise ValidationError({"ends_at": ["a session lasts at most 12 hours"]})


def _check_place(kind: str, given: dict) -> None:
    wanted = PLACE_FIELD[kind]
    errors = {field: [f"a {KIND_WORDS[kind]} has a {wanted}, not a {field}"]
              for field in PLACE_FIELDS if field != wanted and given.get(field) is not None}
    if errors:
        raise ValidationError(errors)


def new_session(fields: dict, *, session_id: str, actor: str, now: datetime) -> dict:
    """A session document from a validated POST /sessions body, or ValidationError."""
    kind = fields["kind"]
    starts_at, ends_at = as_utc(fields["starts_at"]), as_utc(fields["ends_at"])
    _check_times(starts_at, ends_at, now)
    _check_place(kind, fields)
    if not fields.get(PLACE_FIELD[kind]):
        raise ValidationError({PLACE_FIELD[kind]: [f"a {KIND_WORDS[kind]} needs a {PLACE_FIELD[kind]}"]})
    return {"_id": session_id, "kind": kind, "starts_at": starts_at, "ends_at": ends_at,
            "month": month_key(starts_at), PLACE_FIELD[kind]: fields[PLACE_FIELD[kind]],
            "capacity": fields["capacity"], "audience": fields["audience"], "status": SCHEDULED,
            "seats": {}, "seats_taken": 0, "version": 1, "created_by": actor, "created_at": now,
            "updated_at": now, "cancelled": None}


def status_at(session: dict, now: datetime) -> str:
    """Scheduled, cancelled or finished: a scheduled session whose end has passed is finished."""
    if session["status"] == SCHEDULED and as_utc(session["ends_at"]) <= now:
        return FINISHED
    return session["status"]


def require_open(session: dict, now: datetime, doing: str) -> None:
    """A session can be changed, invited to or answered only while it is scheduled and not begun."""
    status = status_at(session, now)
    if status != SCHEDULED:
        raise SessionClosed(f"the session is {status}: it cannot {doing}")
    if as_utc(session["starts_at"]) <= now:
        raise SessionClosed(f"the session has started: it cannot {doing}")


@dataclass(frozen=True)
class Change:
    changes: dict           # the $set for the session document
    moved: bool             # its time changed: reminders are made again
    told: bool              # its time or place changed: those invited are told


def change_session(session: dict, fields: dict, now: datetime) -> Change:
    """What a PATCH changes (time, place, capacity), or ValidationError / SessionClosed.

    Capacity below the seats already taken is refused by the write itself (the repository),
    so a yes arriving meanwhile is never pushed out.
    """
    require_open(session, now, "be changed")
    if "kind" in fields and fields["kind"] != session["kind"]:
        raise ValidationError({"kind": ["a session's kind cannot change: cancel it and create another"]})
    kind = session["kind"]
    _check_place(kind, fields)
    place = PLACE_FIELD[kind]
    starts_at = as_utc(fields.get("starts_at") or session["starts_at"])
    ends_at = as_utc(fields.get("ends_at") or session["ends_at"])
    moved = starts_at != as_utc(session["starts_at"]) or ends_at != as_utc(session["ends_at"])
    if moved:
        _check_times(starts_at, ends_at, now)
    changes = {}
    if moved:
        changes.update(starts_at=starts_at, ends_at=ends_at, month=month_key(starts_at))
    new_place = fields.get(place)
    if new_place is not None and new_place != session.get(place):
        changes[place] = new_place
    if fields.get("capacity") is not None and fields["capacity"] != session["capacity"]:
        changes["capacity"] = fields["capacity"]
    if not changes:
        raise ValidationError({"_schema": ["nothing to change: give starts_at, ends_at, "
                                           f"{place} or capacity with a new value"]})
    return Change(changes=changes, moved=moved, told=moved or place in changes)


def cancel_session(session: dict, reason: str, actor: str, now: datetime) -> dict:
    require_open(session, now, "be cancelled")
    return {"status": CANCELLED, "cancelled": {"reason": reason, "by": actor, "at": now}}


def require_started(session: dict, now: datetime) -> None:
    """Attendance is recorded once a session has begun, never for a cancelled one."""
    if session["status"] == CANCELLED:
        raise SessionClosed("the session was cancelled: nobody attended it")
    if as_utc(session["starts_at"]) > now:
        raise SessionClosed("the session has not started yet: record attendance after it")


def attendance_marks(attended: list[str], absent: list[str]) -> dict[str, str]:
    """case id -> attended/absent, or ValidationError for an empty list or a case in both."""
    both = sorted(set(attended) & set(absent))
    if both:
        raise ValidationError({"absent": [f"a case cannot be both attended and absent: {', '.join(both)}"]})
    if not attended and not absent:
        raise ValidationError({"_schema": ["name at least one case in attended or absent"]})
    return {**{case_id: ATTENDED for case_id in attended}, **{case_id: ABSENT for case_id in absent}}


# --- invitations -----------------------------------------------------------------------

def invitation_id(session_id: str, case_id: str) -> str:
    """One invitation per member per session: the same id however often they are invited.

    Short (16 characters) because it travels in the reply link of a text message.
    """
    digest = hashlib.sha256(f"{session_id}\n{case_id}".encode()).digest()[:12]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def seat_key(invitee_id: str) -> str:
    # case (or supporter) ids are the keys of the session's `seats` map: no dots or dollars there
    return invitee_id.replace(".", "_").replace("$", "_")


def invitee(invitation: dict) -> str:
    """Who an invitation is for: the supporter at a supporters' session, else the member (case)."""
    return invitation.get("supporter_id") or invitation["case_id"]


def reminder_at(starts_at: datetime) -> datetime:
    """10:00 London time on the day before the session starts (GMT or BST, whichever applies)."""
    day_before = london(starts_at).date() - timedelta(days=1)
    return datetime.combine(day_before, REMINDER_TIME, tzinfo=UK).astimezone(timezone.utc)


def reminder_due(starts_at: datetime, now: datetime) -> datetime | None:
    """When to remind, or None when that time has passed (invited late: the invitation is enough)."""
    at = reminder_at(starts_at)
    return at if at > now else None


def message_applies(message: str, session: dict, invitation: dict, starts_at: datetime | None,
                    now: datetime) -> bool:
    """Whether a session message still says something true when its wake-up comes.

    A reminder or change notice made for a start time the session no longer has is stale (a
    newer one was made with the move); nobody who said no is reminded or told of a change.
    """
    if message == CANCELLATION:
        return session["status"] == CANCELLED
    if status_at(session, now) != SCHEDULED or as_utc(session["starts_at"]) <= now:
        return False
    if message == INVITATION:
        return True
    if invitation.get("answer") == "no":
        return False
    return starts_at is None or as_utc(starts_at) == as_utc(session["starts_at"])


def worth_sending(message: str, channel: str) -> bool:
    """A reminder the day before would reach no one in time by post: it goes by email or text only."""
    return not (message == REMINDER and channel == "letter")


def message_key(message: str, invitation: dict, session: dict) -> str:
    """What makes one session message once: per invitation, and per start time or version."""
    if message == REMINDER:
        return f"{message}-{int(as_utc(session['starts_at']).timestamp())}"
    if message == CHANGED:
        return f"{message}-v{session['version']}"
    return message


# --- words ---------------------------------------------------------------------------------

def when_words(starts_at: datetime, ends_at: datetime) -> str:
    """'Thursday 3 December 2026, 6:30pm to 8pm' in London time."""
    start, end = london(starts_at), london(ends_at)
    words = f"{long_date(start)}, {clock_words(start)} to {clock_words(end)}"
    if end.date() != start.date():
        words += f" on {long_date(end)}"
    return words


def short_date(moment: datetime) -> str:
    """'3 Dec' (London): how the case timeline names a session."""
    local = london(moment)
    return f"{local.day} {local:%b}"


def message_context(message: str, session: dict, invitation: dict, reply_link: str | None) -> dict:
    """What a session message may say: only what the person invited may see."""
    kind = session["kind"]
    context = {"invitation_id": invitation["_id"],  # not shown: which invitation the message belongs to
               "session_kind": KIND_WORDS[kind], "kind": kind,
               "when": when_words(session["starts_at"], session["ends_at"]),
               "place": session.get(PLACE_FIELD[kind]) or "", "answer": invitation.get("answer"),
               "reply_link": reply_link}
    if message == CANCELLATION:
        context.update(place="", reply_link=None, reason=(session.get("cancelled") or {}).get("reason") or "")
    return context


def upcoming_listing(sessions: list[dict], now: datetime) -> list[dict]:
    """The next members' sessions as the acceptance invitation lists them (no place: that comes
    with each session's own invitation)."""
    ahead = sorted((s for s in sessions if s["status"] == SCHEDULED and s["audience"] == "members"
                    and as_utc(s["starts_at"]) > now), key=lambda s: as_utc(s["starts_at"]))
    return [{"date": london(s["starts_at"]).date().isoformat(),
             "time": f"{clock_words(london(s['starts_at']))} to {clock_words(london(s['ends_at']))}",
             "kind": LISTED_AS[s["kind"]]} for s in ahead[:NEXT_SESSIONS_LISTED]]


# --- what people see -------------------------------------------------------------------------

def coordinator_view(session: dict, now: datetime) -> dict:
    view = public_view(session, now)
    view.update({PLACE_FIELD[session["kind"]]: session.get(PLACE_FIELD[session["kind"]]),
                 "capacity": session["capacity"], "seats_taken": session.get("seats_taken", 0),
                 "version": session["version"], "created_at": session["created_at"],
                 "updated_at": session["updated_at"], "cancelled": session.get("cancelled")})
    return view


def public_view(session: dict, now: datetime) -> dict:
    """What a partner sees: when and what kind, never where or how to join."""
    return {"session_id": session["_id"], "kind": session["kind"],
            "starts_at": london(session["starts_at"]), "ends_at": london(session["ends_at"]),
            "audience": session["audience"], "status": status_at(session, now)}


def invitation_view(invitation: dict) -> dict:
    return {"case_id": invitation["case_id"], "supporter_id": invitation.get("supporter_id"),
            "invited_at": invitation.get("invited_at"),
            "answer": invitation.get("answer"), "answered_at": invitation.get("answered_at"),
            "answered_via": invitation.get("answered_via"), "attendance": invitation.get("attendance")}


def history_entry(invitation: dict, session: dict | None, now: datetime) -> dict:
    entry = invitation_view(invitation)
    entry["session_id"] = invitation["session_id"]
    if session is not None:
        entry.update(kind=session["kind"], starts_at=london(session["starts_at"]),
                     ends_at=london(session["ends_at"]), status=status_at(session, now))
    return entry
