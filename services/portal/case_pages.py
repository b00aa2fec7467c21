"""The coordinator's pages: Today (the cases that need them, then every case), a case with its
actions, and the letters waiting to be printed.

Each calls the services' APIs as the person, so the referrals and notifications services decide
what a coordinator may see and do. An action that cannot be undone (withdrawing consent, erasing)
is asked twice: the first POST shows what will happen, the second (with `confirm=yes`) does it.
A 409 from the service means someone else changed the case first: nothing was changed, and the
coordinator sees the case as it is now.
"""
from __future__ import annotations

from datetime import datetime

from services.common.logs import bind_context, get_logger

from . import case_form, safeguarding_form, session_form
from .dependencies import ApiError
from .display import LONDON, actor_name, actor_person_id
from .web import page_number as page_number_of

log = get_logger(__name__)

PER_PAGE = 25
QUEUE_SIZE = 50           # the "needs you" list shows this many; the count says how many there are
CONFLICT_TITLE = "Someone else has just updated this case — here is what it says now"
STATUS_FILTER = (("", "Any status"), ("received", "Received"), ("accepted", "Accepted"),
                 ("in_progress", "In progress"), ("on_hold", "On hold"), ("completed", "Completed"),
                 ("rejected", "Not accepted"), ("cancelled", "Cancelled"))
LEVEL_FILTER = (("", "Any level"), ("3", "Level 3"), ("2", "Level 2"), ("1", "Level 1"))
DONE = {"move": "The case has moved.", "rating": "The clutter rating is recorded.",
        "consent": "The withdrawal is recorded. Other services are being told.",
        "erase": "Their personal data is erased.", "attention": "Marked as dealt with.",
        "progress": "Their choice about progress messages is recorded.",
        "supporter-added": "The supporter is added.", "supporter-removed": "The supporter is removed."}


# -- Today --------------------------------------------------------------------------------
def today(services, page):
    args = page.request.args
    status = args.get("status", "") if args.get("status", "") in dict(STATUS_FILTER) else ""
    level = args.get("level", "") if args.get("level", "") in dict(LEVEL_FILTER) else ""
    q = " ".join(args.get("q", "").split())
    page_number = page_number_of(args)
    errors = []
    if q and len(q) < 2:
        errors.append({"field": "q", "href": "#q", "text": "Enter at least 2 characters to search"})
        q = ""
    filters = {k: v for k, v in (("status", status), ("level", level), ("q", q)) if v}
    queue = None if filters else _referrals(services, page, "GET", "/cases",
                                            params={"needs_action": "true", "per_page": QUEUE_SIZE})
    listing = _referrals(services, page, "GET", "/cases",
                         params={**filters, "page": page_number, "per_page": PER_PAGE})
    return page.render("today.html", status=400 if errors else 200, errors=errors, queue=queue,
                       listing=listing, filters=filters, q=q, chosen_status=status, chosen_level=level,
                       status_filter=STATUS_FILTER, level_filter=LEVEL_FILTER, page_number=page_number,
                       last_page=max(1, -(-listing["total"] // PER_PAGE)), now=_now())


# -- a case -------------------------------------------------------------------------------
def one_case(services, page, case_id: str):
    case = _read(services, page, case_id)
    return _not_found(page) if case is None else _case_page(services, page, case)


def move(services, page, case_id):
    return _act(services, page, case_id, "move", "transitions",
                lambda form, case: case_form.move_from_form(form, case.get("next_statuses", [])), seen=True)


def rate(services, page, case_id):
    return _act(services, page, case_id, "rating", "cir-ratings", lambda form, case: case_form.rating_from_form(form))


def withdraw_consent(services, page, case_id):
    return _act(services, page, case_id, "consent", "consent-withdrawal",
                case_form.withdrawal_from_form,
                confirm=True)


def erase(services, page, case_id):
    return _act(services, page, case_id, "erase", "erasure", lambda form, case: case_form.erasure_from_form(form),
                confirm=True)


def dealt_with(services, page, case_id):
    def body(form, case):
        reason = form.get("reason", "")
        if reason not in {item["reason"] for item in case.get("needs_action", [])}:
            return None, [{"field": "attention", "href": "#attention", "text": "This is no longer on the list"}]
        note = form.get("note", "").strip()
        return {"reason": reason, **({"note": note} if note else {})}, []
    return _act(services, page, case_id, "attention", "attention", body)


def progress_updates(services, page, case_id):
    return _act(services, page, case_id, "progress", "progress-updates",
                lambda form, case: case_form.progress_from_form(form))


def safeguarding_pack(services, page, case_id):
    """An adult social care referral pack: made by the referrals service (audited there), shown as a page
    that prints. Refused (409: consent no longer on record, data erased) shows the case with the reason."""
    def refused(case_now, body):
        return safeguarding_form.refused_in_words(case_now, body["lawful_basis"])

    def shown(pack):
        log.info("safeguarding_pack_shown")
        return page.render("safeguarding_pack.html", status=201, pack=pack, case_id=case_id,
                           title=f"Adult social care referral for case {pack['case_reference']}")
    return _act(services, page, case_id, "safeguarding", "safeguarding-pack",
                lambda form, case: safeguarding_form.pack_from_form(form), shown=shown, refused=refused)


def _act(services, page, case_id, action, endpoint, body_from_form, confirm=False, seen=False, shown=None,
         refused=None):
    """`seen`: the form carries the case's version as the page showed it; a case changed since (another
    coordinator moved it) is shown as it is now and nothing is sent. `shown(answer)`: the page after the
    service said yes (else back to the case). `refused(case_now, body)`: a 409 in words, shown by the form
    (else the case as it is now, under "someone else has just updated this case")."""
    bind_context(case_id=case_id)
    form = page.request.form
    case = _read(services, page, case_id)
    if case is None:
        return _not_found(page)
    if seen and form.get("seen") != str(case.get("version")):
        log.info("case_form_stale", action=action)
        return _case_page(services, page, case, conflict=True, status=409)
    body, errors = body_from_form(form, case)
    if errors:
        log.info("case_form_refused", action=action, fields=sorted(e["field"] for e in errors))
        return _case_page(services, page, case, errors=errors, values=_kept(form), open_form=action, status=400)
    if confirm and form.get("confirm") != "yes":
        return page.render("case_confirm.html", case=case, action=action, body=body,
                           scopes=case_form.CONSENT_SCOPES, title=_confirm_title(action, body))
    try:
        answer = _referrals(services, page, "POST", f"/cases/{case_id}/{endpoint}", json=body)
    except ApiError as exc:
        if exc.status == 409 and refused:
            log.info("case_action_refused_by_service", action=action, error=exc.body.get("error"))
            case_now = _read(services, page, case_id)
            errors = [{"field": action, "href": f"#{action}", "text": refused(case_now, body)}]
            return _case_page(services, page, case_now or case, errors=errors, values=_kept(form),
                              open_form=action, status=409)
        if exc.status == 409:
            log.info("case_action_conflict", action=action, error=exc.body.get("error"))
            return _case_page(services, page, _read(services, page, case_id), conflict=True, status=409)
        if exc.status == 400:
            log.info("case_action_refused_by_service", action=action, fields=sorted(exc.body.get("fields", {})))
            errors = [{"field": action, "href": f"#{action}", "text": "Check what you entered: "
                       + (exc.body.get("message") or "the service refused it")}]
            return _case_page(services, page, case, errors=errors, values=_kept(form), open_form=action,
                              status=400)
        raise
    log.info("case_action_done", action=action)
    return shown(answer) if shown else page.redirect(f"/cases/{case_id}?done={action}")


def _confirm_title(action, body) -> str:
    if action == "erase":
        return "Are you sure you want to erase their personal data?"
    scope = dict((value, label) for value, label, _ in case_form.CONSENT_SCOPES)[body["scope"]]
    return f"Are you sure they have withdrawn their agreement to: {scope.lower()}?"


def _case_page(services, page, case, *, errors=None, values=None, open_form=None, conflict=False, status=200):
    messages = _notifications(services, page, case["case_id"])
    done = page.request.args.get("done") if page.request.method == "GET" else None
    today = _now().astimezone(LONDON).date()
    values = {"rated-on-day": str(today.day), "rated-on-month": str(today.month), "rated-on-year": str(today.year),
              **session_form.supporter_defaults(page.person, today), **(values or {})}
    actors = [e.get("actor") for e in case.get("timeline", [])] + \
        [r.get("rated_by") for r in case.get("cir_ratings", [])] + \
        [w.get("actor") for w in (case.get("consent") or {}).get("withdrawn") or []]
    names = page.people.names(actor_person_id(a) for a in actors)
    supporters = _supporters(services, page, case["case_id"])
    return page.render("case.html", status=status, case=case, messages=messages, supporters=supporters,
                       contact_ways=session_form.CONTACT_WAYS,
                       errors=errors or [],
                       who=lambda actor: actor_name(actor, names),
                       error_for=_error_for(errors or []), values=values,
                       open_form=open_form, conflict=conflict, conflict_title=CONFLICT_TITLE,
                       done=DONE.get(done), moves=_moves(case), rooms=case_form.ROOMS,
                       withdrawable=case_form.withdrawable(case), now=_now(),
                       title=CONFLICT_TITLE if conflict else f"Case {case['reference']}")


def _moves(case) -> list[tuple[str, str]]:
    if case["status"] == "on_hold":
        return [(s, "Take it off hold" if s != "cancelled" else case_form.MOVES[s]) for s in case["next_statuses"]]
    return [(s, case_form.MOVES.get(s, s)) for s in case.get("next_statuses", [])]


def _notifications(services, page, case_id):
    """The case's messages and the person's replies ({"items", "replies"}), or None when the notifications
    service does not answer (the page says so)."""
    try:
        return services.as_person(page).call("notifications", "GET", "/notifications", params={"case_id": case_id})
    except (ApiError, OSError) as exc:
        log.warning("case_messages_unavailable", error=type(exc).__name__)
        return None


def _supporters(services, page, case_id):
    """The case's supporters (items), or None when the notifications service does not answer."""
    try:
        return services.as_person(page).call("notifications", "GET", "/supporters",
                                             params={"case_id": case_id})["items"]
    except (ApiError, OSError) as exc:
        log.warning("case_supporters_unavailable", error=type(exc).__name__)
        return None


# -- letters to print ---------------------------------------------------------------------
def letters(services, page):
    waiting = services.as_person(page).call("notifications", "GET", "/letters", params={"status": "ready_to_print"})
    done = page.request.args.get("done")
    return page.render("letters.html", letters=waiting["items"], total=waiting["total"],
                       posted=done == "posted", already=done == "already", title="Letters to print")


def letter_posted(services, page, notification_id: str):
    try:
        services.as_person(page).call("notifications", "POST", f"/letters/{notification_id}/posted")
    except ApiError as exc:
        if exc.status == 409:
            return page.redirect("/letters?done=already")
        if exc.status == 404:
            return page.render("problem.html", status=404, title="Letter not found",
                               message="There is no letter waiting with that address.",
                               link=("/letters", "See the letters to print"))
        raise
    log.info("letter_marked_posted")
    return page.redirect("/letters?done=posted")


# -- helpers --------------------------------------------------------------------------------
def _read(services, page, case_id):
    return services.as_person(page).find("referrals", f"/cases/{case_id}")


def _not_found(page):
    return page.render("problem.html", status=404, title="Case not found",
                       message="There is no case with that address. Search for it by its reference on Today.",
                       link=("/", "Go to Today"))


def _referrals(services, page, method, path, **kwargs):
    return services.as_person(page).call("referrals", method, path, **kwargs)


def _error_for(errors: list[dict]) -> dict:
    """Each error by its field; a date's error (on its day, month or year box) also by the date itself,
    which is where GOV.UK's date input shows it."""
    shown = {}
    for e in errors:
        shown[e["field"]] = e["text"]
        prefix, _, part = e["field"].rpartition("-")
        if prefix and part in ("day", "month", "year"):
            shown.setdefault(prefix, e["text"])
    return shown


def _kept(form) -> dict:
    return {key: form.get(key) for key in form.keys()}



def _now() -> datetime:
    from services.common.envelope import utcnow

    return utcnow()
