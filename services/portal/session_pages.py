"""The coordinator's session pages: the group's sessions with a form to plan one, and one session
with who is invited, their answers, its changes, its cancellation and, once it has begun, who came.

Each calls the notifications service's session API as the person (README, "Group sessions"), so the
service decides what may be done; the rules of the forms are in session_form.py. A 409 `conflict`
means another coordinator changed the session first: nothing was changed, and the page shows the
session as it is now. Cancelling is asked twice: the first POST shows what will happen, the second
(with `confirm=yes`) does it.
"""
from __future__ import annotations

from datetime import timedelta

from services.common.envelope import utcnow
from services.common.logs import get_logger

from . import session_form
from .dependencies import ApiError
from .display import LONDON

log = get_logger(__name__)

CONFLICT_TITLE = "Someone else has just updated this session — here is what it says now"
LOOK_BACK = timedelta(days=365)   # the past sessions listed; with a year ahead, within the API's two years
LOOK_AHEAD = timedelta(days=365)
NAMES_LOOKED_UP = 100             # names shown for a session: one GET /cases?ids= (its page size at most)
DONE = {"plan": "The session is planned. Invite people to it below.",
        "invite": "The invitations are on their way.", "reply": "Their answer is recorded.",
        "change": "The session is changed. Those invited who have not said no are being told.",
        "cancel": "The session is cancelled. Everyone invited is being told.",
        "attendance": "Attendance is recorded on each person's case."}


# -- the list, and planning one ------------------------------------------------------------------
def listing(services, page, *, errors=None, values=None, status=200):
    now = utcnow()
    today = now.astimezone(LONDON).date()
    found = _notifications(services, page, "GET", "/sessions",
                           params={"from": (today - LOOK_BACK).isoformat(), "to": (today + LOOK_AHEAD).isoformat()})
    upcoming, past = session_form.split_by_time(found["items"], now)
    return page.render("sessions.html", status=status, upcoming=upcoming, past=past, now=now,
                       errors=errors or [], error_for=_error_for(errors), values=values or {"audience": "members"},
                       kinds=session_form.KINDS, audiences=session_form.AUDIENCES,
                       title="Sessions", **_words())


def plan(services, page):
    form = page.request.form
    body, errors = session_form.plan_from_form(form, utcnow())
    if not errors:
        try:
            created = _notifications(services, page, "POST", "/sessions", json=body)
        except ApiError as exc:
            if exc.status != 400:
                raise
            errors = session_form.errors_from_api(exc.status, exc.body, "kind")
        else:
            log.info("session_planned", session_id=created["session_id"], kind=created["kind"])
            return page.redirect(f"/sessions/{created['session_id']}?done=plan")
    log.info("session_plan_refused", fields=sorted(e["field"] for e in errors))
    return listing(services, page, errors=errors, values=_kept(form), status=400)


# -- one session --------------------------------------------------------------------------------
def one_session(services, page, session_id: str):
    session = _read(services, page, session_id)
    if session is None:
        return _not_found(page)
    done = page.request.args.get("done")
    return _session_page(services, page, session, done=DONE.get(done))


def invite(services, page, session_id: str):
    def body(form, session):
        if form.get("all") == "yes":
            return {"all_accepted": True}, []
        typed, errors = session_form.case_to_invite(form)
        if errors:
            return None, errors
        case_id = _case_id_of(services, page, typed)
        if case_id is None:
            return None, [session_form.error("case", f"No case has the reference or id {typed}: check it and "
                                                     "try again")]
        return {"case_ids": [case_id]}, []
    return _act(services, page, session_id, "invite", "invitations", body)


def reply(services, page, session_id: str):
    return _act(services, page, session_id, "reply", "replies",
                lambda form, session: session_form.reply_from_form(form, session, session["invitations"]))


def change(services, page, session_id: str):
    return _act(services, page, session_id, "change", "",
                lambda form, session: session_form.change_from_form(form, session, utcnow()), prefix="new-")


def cancel(services, page, session_id: str):
    return _act(services, page, session_id, "cancel", "cancel",
                lambda form, session: session_form.cancel_from_form(form), confirm=True)


def attendance(services, page, session_id: str):
    return _act(services, page, session_id, "attendance", "attendance",
                lambda form, session: session_form.attendance_from_form(form, session["invitations"]))


def _act(services, page, session_id, action, endpoint, body_from_form, *, confirm=False, prefix=""):
    form = page.request.form
    session = _read(services, page, session_id)
    if session is None:
        return _not_found(page)
    body, errors = body_from_form(form, session)
    if errors:
        log.info("session_form_refused", action=action, fields=sorted(e["field"] for e in errors))
        return _session_page(services, page, session, errors=errors, values=_kept(form), status=400)
    if confirm and form.get("confirm") != "yes":
        return page.render("session_confirm.html", session=session, body=body, title="Are you sure you want to "
                           "cancel this session?", **_words())
    path = f"/sessions/{session_id}" + (f"/{endpoint}" if endpoint else "")
    try:
        _notifications(services, page, "POST", path, json=body)
    except ApiError as exc:
        if exc.status == 409 and exc.body.get("error") == "conflict":
            log.info("session_action_conflict", action=action)
            return _session_page(services, page, _read(services, page, session_id), conflict=True, status=409)
        if exc.status in (400, 409):
            log.info("session_action_refused_by_service", action=action, error=exc.body.get("error"))
            errors = session_form.errors_from_api(exc.status, exc.body, action, prefix)
            return _session_page(services, page, session, errors=errors, values=_kept(form), status=exc.status)
        raise
    log.info("session_action_done", action=action)
    return page.redirect(f"/sessions/{session_id}?done={action}")


def _session_page(services, page, session, *, errors=None, values=None, conflict=False, done=None, status=200):
    now = utcnow()
    invitations = session["invitations"]
    names = _names(services, page, [i["case_id"] for i in invitations])
    return page.render("session.html", status=status, session=session, invitations=invitations, names=names,
                       now=now, is_open=session_form.is_open(session, now),
                       has_started=session_form.has_started(session, now),
                       errors=errors or [], error_for=_error_for(errors),
                       values={**session_form.change_values(session), **(values or {})},
                       conflict=conflict, conflict_title=CONFLICT_TITLE, done=done,
                       place=session_form.PLACES[session["kind"]],
                       title=CONFLICT_TITLE if conflict else _heading(session), **_words())


def _heading(session) -> str:
    start = session_form.when_words(session["starts_at"], session["ends_at"]).split(",")[0]
    return f"{session_form.KIND_WORDS[session['kind']].capitalize()} session on {start}"


def _words() -> dict:
    return {"when_words": session_form.when_words, "status_words": session_form.status_words,
            "kind_words": session_form.KIND_WORDS, "answer_words": session_form.ANSWER_WORDS,
            "attendance_words": session_form.ATTENDANCE_WORDS, "invitee_of": session_form.invitee_of,
            "heading": _heading}


# -- who is who -----------------------------------------------------------------------------------
def _names(services, page, case_ids: list[str]) -> dict[str, dict]:
    """case id -> {"reference", "name"} for those invited (their lines of the coordinator's list)."""
    wanted = sorted(set(case_ids))[:NAMES_LOOKED_UP]
    if not wanted:
        return {}
    listed = _referrals(services, page, "GET", "/cases", params={"ids": ",".join(wanted), "per_page": len(wanted)})
    return {c["case_id"]: c for c in listed["items"]}


def _case_id_of(services, page, typed: str) -> str | None:
    """The case id for a typed reference (found by search) or case id (read), or None."""
    if session_form.REFERENCE.match(typed):
        found = _referrals(services, page, "GET", "/cases", params={"q": typed, "per_page": 5})
        return next((c["case_id"] for c in found["items"] if c["reference"] == typed), None)
    case = services.as_person(page).find("referrals", f"/cases/{typed}")
    return case["case_id"] if case else None


# -- helpers ----------------------------------------------------------------------------------------
def _read(services, page, session_id):
    return services.as_person(page).find("notifications", f"/sessions/{session_id}")


def _not_found(page):
    return page.render("problem.html", status=404, title="Session not found",
                       message="There is no session with that address.", link=("/sessions", "See the sessions"))


def _notifications(services, page, method, path, **kwargs):
    return services.as_person(page).call("notifications", method, path, **kwargs)


def _referrals(services, page, method, path, **kwargs):
    return services.as_person(page).call("referrals", method, path, **kwargs)


def _error_for(errors) -> dict:
    return {e["field"]: e["text"] for e in (errors or [])}


def _kept(form) -> dict:
    return {key: (form.getlist(key) if key == "came" else form.get(key)) for key in form.keys()}
