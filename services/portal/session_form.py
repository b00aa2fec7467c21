"""The coordinator's session forms: what was typed, checked in plain words, turned into API bodies;
and the notifications service's refusals turned back into words next to the right field.

Pure: no I/O. Times are typed in London time (a date in three boxes and 24-hour clock times) and
sent as ISO-8601 with London's offset, so GMT/BST is decided here once. The notifications service
stays the judge of what is valid; this module checks first so that most mistakes are named by the
field, and translates the service's answers for the rest.

Each function returns `(body, [])` or `(None, errors)`; an error is `{"field", "href", "text"}`.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from .case_form import past_date, typed_date
from .display import LONDON
from .visit_form import clock, error

KINDS = (("face_to_face", "Face to face"), ("online", "Online"), ("huddle", "Phone huddle"))
KIND_WORDS = {"face_to_face": "face to face", "online": "online", "huddle": "phone huddle"}
AUDIENCES = (("members", "Members of the group"), ("supporters", "Supporters: family and friends"))
# kind -> (the API's field, its label, what to type when it is missing); one form field, `place`, for all
PLACES = {
    "face_to_face": ("venue", "Venue", "Enter where the session is, like Harrow Arts Centre, HA5 4EA"),
    "online": ("joining_link", "Joining link", "Enter the joining link, like https://meet.example.org/harrow-group"),
    "huddle": ("dial_in", "Dial-in number", "Enter the number to call, with any PIN"),
}
STATUS_WORDS = {"scheduled": ("Planned", "blue"), "cancelled": ("Cancelled", "grey"), "finished": ("Finished", "green")}
ANSWER_WORDS = {"yes": ("Yes", "green"), "no": ("No", "grey"), None: ("Not answered", "yellow")}
ATTENDANCE_WORDS = {"attended": "Came", "absent": "Did not come", None: "Not recorded"}
LONGEST = timedelta(hours=12)
PLACE_MAX = {"venue": 300, "joining_link": 500, "dial_in": 100}
CAPACITY_MAX = 500
REASON_MAX = 500
REFERENCE = re.compile(r"^HRW-\d{4}-\d{6}$", re.IGNORECASE)
_LINK = re.compile(r"^https?://[^\s/]+\.[^\s]+$", re.IGNORECASE)


# -- what a page shows --------------------------------------------------------------------
def when_words(starts_at, ends_at) -> str:
    """'Thu 3 Dec 2026, 18:30 to 20:00' in London time (the end's day too when it differs)."""
    start, end = _london(starts_at), _london(ends_at)
    words = f"{start:%a} {start.day} {start:%b %Y}, {start:%H:%M} to {end:%H:%M}"
    return words if end.date() == start.date() else f"{words} on {end:%a} {end.day} {end:%b}"


def status_words(session: dict, now: datetime) -> tuple[str, str]:
    """(label, tag colour): a planned session that has begun but not ended is happening now."""
    if session["status"] == "scheduled" and _london(session["starts_at"]) <= now < _london(session["ends_at"]):
        return "Happening now", "orange"
    return STATUS_WORDS.get(session["status"], (session["status"].capitalize(), "grey"))


def is_open(session: dict, now: datetime) -> bool:
    """Invitations, answers and changes are taken until the session starts (sessions.require_open)."""
    return session["status"] == "scheduled" and _london(session["starts_at"]) > now


def has_started(session: dict, now: datetime) -> bool:
    """Attendance is recorded once it has begun, never for a cancelled one (sessions.require_started)."""
    return session["status"] != "cancelled" and _london(session["starts_at"]) <= now


def split_by_time(sessions: list[dict], now: datetime) -> tuple[list[dict], list[dict]]:
    """(upcoming soonest first, past most recent first): past once its end has gone by."""
    upcoming = [s for s in sessions if _london(s["ends_at"]) > now]
    past = [s for s in sessions if _london(s["ends_at"]) <= now]
    return (sorted(upcoming, key=lambda s: _london(s["starts_at"])),
            sorted(past, key=lambda s: _london(s["starts_at"]), reverse=True))


def change_values(session: dict) -> dict:
    """The change form filled in with the session as it is (London time)."""
    start, end = _london(session["starts_at"]), _london(session["ends_at"])
    api_field = PLACES[session["kind"]][0]
    return {"new-date-day": str(start.day), "new-date-month": str(start.month), "new-date-year": str(start.year),
            "new-start-time": f"{start:%H:%M}", "new-end-time": f"{end:%H:%M}",
            "new-place": session.get(api_field) or "", "new-places": str(session["capacity"])}


# -- planning a session ------------------------------------------------------------------------
def plan_from_form(form, now: datetime) -> tuple[dict | None, list[dict]]:
    """A `POST /sessions` body from the "Plan a session" form."""
    errors = []
    kind = form.get("kind", "")
    if kind not in dict(KINDS):
        errors.append(error("kind", "Select whether the session is face to face, online or a phone huddle"))
    times, time_errors = _times(form, "", now)
    errors += time_errors
    place = {}
    if kind in PLACES:
        place, place_errors = _place(form, kind, "")
        errors += place_errors
    capacity, capacity_error = _places(form.get("places", ""), "places")
    errors += capacity_error
    audience = form.get("audience", "")
    if audience not in dict(AUDIENCES):
        errors.append(error("audience", "Select who the session is for"))
    if errors:
        return None, errors
    return {"kind": kind, **times, **place, "capacity": capacity, "audience": audience}, []


def change_from_form(form, session: dict, now: datetime) -> tuple[dict | None, list[dict]]:
    """A `PATCH /sessions/{id}` body with only what changed, against the version the page showed."""
    version = form.get("version", "")
    if not version.isdigit():
        return None, [error("change", "This form has expired: reload the page and try again")]
    times, errors = _times(form, "new-", now)
    place, place_errors = _place(form, session["kind"], "new-")
    capacity, capacity_error = _places(form.get("new-places", ""), "new-places")
    errors += place_errors + capacity_error
    if errors:
        return None, errors
    body = {}
    if (_london(times["starts_at"]), _london(times["ends_at"])) != (_london(session["starts_at"]),
                                                                   _london(session["ends_at"])):
        body.update(times)
    body.update({k: v for k, v in place.items() if v != session.get(k)})
    if capacity != session["capacity"]:
        body["capacity"] = capacity
    if not body:
        return None, [error("new-date-day", "Nothing has changed: change the date, a time, the "
                                            f"{PLACES[session['kind']][1].lower()} or the number of places")]
    return {"version": int(version), **body}, []


def cancel_from_form(form) -> tuple[dict | None, list[dict]]:
    """A `POST /sessions/{id}/cancel` body: the version read and the reason everyone invited is told."""
    reason, version = form.get("cancel-reason", "").strip(), form.get("version", "")
    if not version.isdigit():
        return None, [error("cancel-reason", "This form has expired: reload the page and try again")]
    if not reason:
        return None, [error("cancel-reason", "Enter why the session is cancelled: everyone invited is told")]
    if len(reason) > REASON_MAX:
        return None, [error("cancel-reason", f"The reason must be {REASON_MAX} characters or fewer")]
    return {"version": int(version), "reason": reason}, []


# -- invitations, answers, attendance ------------------------------------------------------
def invitee_of(invitation: dict) -> str:
    """Whom an invitation is for: the supporter at a supporters' session, else the member."""
    return invitation.get("supporter_id") or invitation["case_id"]


def case_to_invite(form) -> tuple[str | None, list[dict]]:
    """What was typed to find one case: a reference (made upper case) or a case id."""
    typed = " ".join(form.get("case", "").split())
    if not typed:
        return None, [error("case", "Enter the case's reference, like HRW-2026-000123")]
    if REFERENCE.match(typed):
        return typed.upper(), []
    if " " in typed or len(typed) > 200:
        return None, [error("case", "Enter a reference like HRW-2026-000123, or a case id")]
    return typed, []


def reply_from_form(form, session: dict, invitations: list[dict]) -> tuple[dict | None, list[dict]]:
    """A `POST /sessions/{id}/replies` body: someone invited and their yes or no."""
    who, answer = form.get("invitee", ""), form.get("answer", "")
    errors = []
    if who not in {invitee_of(i) for i in invitations}:
        errors.append(error("invitee", "Select who answered, from those invited"))
    if answer not in ("yes", "no"):
        errors.append(error("answer", "Select yes if they are coming, or no"))
    if errors:
        return None, errors
    key = "supporter_id" if session.get("audience") == "supporters" else "case_id"
    return {key: who, "answer": answer}, []


def attendance_from_form(form, invitations: list[dict]) -> tuple[dict | None, list[dict]]:
    """A `POST /sessions/{id}/attendance` body: those ticked came, everyone else invited did not."""
    invited = [invitee_of(i) for i in invitations]
    if not invited:
        return None, [error("came", "Nobody was invited, so there is no attendance to record")]
    came = set(form.getlist("came")) if hasattr(form, "getlist") else set(form.get("came") or [])
    if came - set(invited):
        return None, [error("came", "Someone ticked was not invited: reload the page and try again")]
    return {"attended": [i for i in invited if i in came], "absent": [i for i in invited if i not in came]}, []


# -- supporters on a case ------------------------------------------------------------------------
CONTACT_WAYS = (("email", "Email"), ("sms", "Text message"), ("phone", "Phone call"), ("letter", "Letter"))
SUPPORTER_TEXT = (  # form field, API field, label, longest, what to type when it is missing (None: optional)
    ("supporter-given-name", "given_name", "First name", 100, "Enter the supporter's first name"),
    ("supporter-family-name", "family_name", "Last name", 100, "Enter the supporter's last name"),
    ("supporter-relationship", "relationship", "Relationship to them", 60, None),
    ("supporter-phone", "phone", "Phone number", 32, None),
    ("supporter-email", "email", "Email address", 254, None),
)
SUPPORTER_ADDRESS = (("supporter-line1", "line1", 100), ("supporter-town", "town", 100),
                     ("supporter-postcode", "postcode", 10))
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def supporter_from_form(form, case_id: str, today) -> tuple[dict | None, list[dict]]:
    """A `POST /supporters` body: their name, how to reach them the way they chose, and the
    person's agreement (who asked, when)."""
    body, errors = {"case_id": case_id}, []
    for field, api_field, label, longest, missing in SUPPORTER_TEXT:
        typed = " ".join(form.get(field, "").split())
        if not typed:
            if missing:
                errors.append(error(field, missing))
        elif len(typed) > longest:
            errors.append(error(field, f"{label} must be {longest} characters or fewer"))
        else:
            body[api_field] = typed
    if "email" in body and not _EMAIL.match(body["email"]):
        errors.append(error("supporter-email", "Enter an email address like name@example.org"))
    if "phone" in body and len(body["phone"]) < 5:
        errors.append(error("supporter-phone", "Enter the whole phone number, like 07700 900123"))
    address = {api: " ".join(form.get(field, "").split()) for field, api, _ in SUPPORTER_ADDRESS}
    if any(address.values()):
        for field, api, longest in SUPPORTER_ADDRESS:
            if not address[api]:
                errors.append(error(field, "Enter the whole postal address: first line, town and postcode"))
                break
            if len(address[api]) > longest:
                errors.append(error(field, f"This must be {longest} characters or fewer"))
        body["address"] = address
    way = form.get("supporter-contact", "")
    needs = {"email": "email", "sms": "phone", "phone": "phone", "letter": "address"}
    if way not in needs:
        errors.append(error("supporter-contact", "Select how the supporter wants to hear from the group"))
    elif needs[way] not in body and not any(e["field"].startswith(f"supporter-{needs[way]}") for e in errors):
        errors.append(error("supporter-contact", {"email": "Enter their email address to reach them by email",
                                                  "phone": "Enter their phone number to reach them that way",
                                                  "address": "Enter their postal address to write to them"}[needs[way]]))
    body["preferred_contact"] = way
    if form.get("supporter-consent") != "yes":
        errors.append(error("supporter-consent", "Confirm that they agreed to this supporter being involved"))
    asked_by = " ".join(form.get("supporter-asked-by", "").split())
    if not asked_by or len(asked_by) > 200:
        errors.append(error("supporter-asked-by", "Enter who asked them, like Alex Morgan"))
    asked_on, date_error = past_date(form, "supporter-asked-on", "the day they agreed", today)
    if date_error:
        errors.append(date_error)
    if errors:
        return None, errors
    return {**body, "person_consent": {"obtained_by": asked_by, "obtained_on": asked_on.isoformat()}}, []


def supporter_defaults(person: dict | None, today) -> dict:
    """The add-a-supporter form as it starts: asked by the coordinator, today."""
    return {"supporter-asked-by": (person or {}).get("name") or "", "supporter-asked-on-day": str(today.day),
            "supporter-asked-on-month": str(today.month), "supporter-asked-on-year": str(today.year)}


def removal_from_form(form) -> tuple[dict | None, list[dict]]:
    reason = " ".join(form.get("removal-reason", "").split())
    if not reason:
        return None, [error("supporters", "Enter why the supporter is removed, like \"They asked us to\"")]
    if len(reason) > 300:
        return None, [error("supporters", "The reason must be 300 characters or fewer")]
    return {"reason": reason}, []


# -- the service's refusals in plain words ---------------------------------------------------
API_WORDS = {
    "session_full": "Every place is taken. Add places to the session, or record a no for someone first",
    "session_closed": "This cannot be done now: the session has started, finished or been cancelled",
}


def errors_from_api(status: int, body: dict, form_name: str, prefix: str = "") -> list[dict]:
    """A 400 or a 409 (other than a version conflict) from the notifications service, by the field."""
    if status == 409:
        return [error(form_name, API_WORDS.get(body.get("error"), "This cannot be done now: reload the page"))]
    found = []
    for field, messages in (body.get("fields") or {}).items():
        said = " ".join(str(m) for m in messages)
        found.append(_api_field(field, said, form_name, prefix))
    return found or [error(form_name, "Check what you entered: " + (body.get("message") or "it was refused"))]


def _api_field(field: str, said: str, form_name: str, prefix: str) -> dict:
    if field == "starts_at":
        return error(f"{prefix}date-day", "The session must start at a time that has not passed yet"
                     if "future" in said else "Check the date and start time")
    if field == "ends_at":
        return error(f"{prefix}end-time", "The session can last at most 12 hours" if "12" in said
                     else "The end time must be after the start time")
    if field == "capacity":
        taken = re.match(r"(\d+) people", said)
        return error(f"{prefix}places", f"{taken.group(1)} people have said yes, so there must be at least "
                                        f"{taken.group(1)} places" if taken else
                     f"Enter the number of places, from 1 to {CAPACITY_MAX}")
    for api_field, label, _ in PLACES.values():
        if field == api_field:
            return error(f"{prefix}place", f"Check the {label.lower()}: {said}")
    if field in ("case_ids", "case_id", "supporter_id", "attended", "absent"):
        if "not an accepted member" in said or "no accepted case" in said:
            return error(form_name, "They cannot be invited: only people whose referral has been accepted "
                                    "are members of the group")
        if "not invited" in said:
            return error(form_name, "They were not invited to this session: invite them first")
    return error(form_name, f"Check what you entered: {said}")


# -- helpers ------------------------------------------------------------------------------------
def _times(form, prefix: str, now: datetime) -> tuple[dict, list[dict]]:
    """starts_at and ends_at (ISO-8601, London offset) from a date and two clock times."""
    day, date_error = typed_date(form, f"{prefix}date", "the date of the session")
    errors = [date_error] if date_error else []
    start, start_error = _clock(form, f"{prefix}start-time", "start")
    end, end_error = _clock(form, f"{prefix}end-time", "end")
    errors += [e for e in (start_error, end_error) if e]
    if errors:
        return {}, errors
    starts_at = datetime(day.year, day.month, day.day, *start, tzinfo=LONDON)
    ends_at = datetime(day.year, day.month, day.day, *end, tzinfo=LONDON)
    if starts_at <= now:
        errors.append(error(f"{prefix}date-day", "The session must start at a time that has not passed yet"))
    elif day > (now.astimezone(LONDON) + timedelta(days=730)).date():
        errors.append(error(f"{prefix}date-day", "Plan sessions up to two years ahead"))
    if ends_at <= starts_at:
        errors.append(error(f"{prefix}end-time", "The end time must be after the start time, like 20:00"))
    if errors:
        return {}, errors
    return {"starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat()}, []


def _clock(form, field: str, which: str):
    typed = form.get(field, "").strip()
    if not typed:
        return None, error(field, f"Enter the {which} time, like {'18:30' if which == 'start' else '20:00'}")
    found = clock(typed)
    if found is None:
        return None, error(field, f"Enter the {which} time in 24-hour time, like "
                                  f"{'18:30' if which == 'start' else '20:00'}")
    return found, None


def _place(form, kind: str, prefix: str) -> tuple[dict, list[dict]]:
    """The venue, joining link or dial-in number, as the kind needs, from the one `place` field."""
    api_field, label, missing = PLACES[kind]
    field = f"{prefix}place"
    typed = form.get(field, "").strip()
    if not typed:
        return {}, [error(field, missing)]
    if len(typed) > PLACE_MAX[api_field]:
        return {}, [error(field, f"The {label.lower()} must be {PLACE_MAX[api_field]} characters or fewer")]
    if api_field == "joining_link" and not _LINK.match(typed):
        return {}, [error(field, "Enter the joining link as a web address starting with https://, like "
                                 "https://meet.example.org/harrow-group")]
    if api_field == "dial_in" and len(typed) < 3:
        return {}, [error(field, "Enter the whole number to call, with any PIN")]
    return {api_field: typed}, []


def _places(typed: str, field: str) -> tuple[int | None, list[dict]]:
    typed = typed.strip()
    if not typed:
        return None, [error(field, "Enter how many places there are, like 12")]
    if not typed.isdigit() or not 1 <= int(typed) <= CAPACITY_MAX:
        return None, [error(field, f"Enter the number of places as a number from 1 to {CAPACITY_MAX}, like 12")]
    return int(typed), []


def _london(value) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment.astimezone(LONDON)
