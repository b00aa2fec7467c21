"""The fire officer's pages: the worklist of open visits, and one visit with its forms.

Each calls the safety API as the person. Every form on a visit carries the time the
officer's page was last changed (`seen`); when the visit changed since, or the service
answers 409, nothing is sent or changed and the officer sees the visit as it is now.
"""
from __future__ import annotations

from services.common.logs import get_logger

from . import visit_form, web
from .dependencies import ApiError

log = get_logger(__name__)

PER_PAGE = 25
STATUS_FILTER = (("", "All open visits"), ("requested", "New requests"), ("acknowledged", "Acknowledged, not booked"),
                 ("scheduled", "Booked"))
CONFLICT_TITLE = "Someone else has just updated this visit — here is what it says now"


def worklist(services, page):
    status = page.request.args.get("status", "")
    status = status if status in dict(STATUS_FILTER) else ""
    page_number = web.page_number(page.request.args)
    params = {"open": "true", "page": page_number, "per_page": PER_PAGE, **({"status": status} if status else {})}
    listing = _safety(services, page, "GET", "/visits", params=params)
    last_page = max(1, -(-listing["total"] // PER_PAGE))
    return page.render("visits.html", listing=listing, chosen=status, status_filter=STATUS_FILTER,
                       page_number=page_number, last_page=last_page)


def one_visit(services, page, visit_id: str):
    visit = _read(services, page, visit_id)
    if visit is None:
        return _not_found(page)
    return _visit_page(page, visit)


def acknowledge(services, page, visit_id: str):
    return _act(services, page, visit_id, "acknowledge", lambda form: ({}, []))


def schedule(services, page, visit_id: str):
    def body(form):
        when, errors = visit_form.booking_from_form(form)
        return ({"scheduled_for": when} if when else None), errors
    return _act(services, page, visit_id, "schedule", body)


def outcome(services, page, visit_id: str):
    return _act(services, page, visit_id, "outcome", visit_form.outcome_from_form)


def calendar_file(services, page, visit_id: str):
    try:
        response = services.as_person(page).request("safety", "GET", f"/visits/{visit_id}.ics")
    except ApiError as exc:
        if exc.status == 404:
            return page.render("problem.html", status=404, title="This visit is not booked",
                               message="A calendar file is only there for a booked visit.",
                               link=(f"/visits/{visit_id}", "Back to the visit"))
        raise
    return page.send_file(response.content, "text/calendar", f"visit-{visit_id}.ics")


def _act(services, page, visit_id, action, body_from_form):
    form = page.request.form
    visit = _read(services, page, visit_id)
    if visit is None:
        return _not_found(page)
    if form.get("seen") != visit["updated_at"]:
        log.info("visit_form_stale", action=action)
        return _visit_page(page, visit, conflict=True)
    body, errors = body_from_form(form)
    if errors:
        log.info("visit_form_refused", action=action, fields=sorted(e["field"] for e in errors))
        return _visit_page(page, visit, errors=errors, form_values=_kept(form), status=400)
    try:
        _safety(services, page, "POST", f"/visits/{visit_id}/{action}", json=body)
    except ApiError as exc:
        if exc.status == 409:
            log.info("visit_move_conflict", action=action, error=exc.body.get("error"))
            return _visit_page(page, _read(services, page, visit_id), conflict=True)
        if exc.status == 400 and action == "schedule":
            errors = visit_form.booking_errors_from_api(exc.body.get("fields", {}))
            return _visit_page(page, visit, errors=errors, form_values=_kept(form), status=400)
        raise
    log.info("visit_moved", action=action)
    return page.redirect(f"/visits/{visit_id}?done={action}")


def _visit_page(page, visit, *, conflict=False, errors=None, form_values=None, status=None):
    done = page.request.args.get("done") if page.request.method == "GET" else None
    return page.render("visit.html", status=status or (409 if conflict else 200), visit=visit,
                       conflict=conflict, conflict_title=CONFLICT_TITLE, errors=errors or [],
                       error_for={e["field"]: e["text"] for e in (errors or [])},
                       values=form_values or {}, done=done,
                       outcomes=visit_form.OUTCOMES, actions=visit_form.ACTIONS)


def _kept(form) -> dict:
    values = {key: form.get(key) for key in form.keys()}
    values["actions"] = form.getlist("actions")
    return values


def _read(services, page, visit_id):
    return services.as_person(page).find("safety", f"/visits/{visit_id}")


def _not_found(page):
    return page.render("problem.html", status=404, title="Visit not found",
                       message="There is no visit with that address. It may have been mistyped.",
                       link=("/visits", "See the open visits"))


def _safety(services, page, method, path, **kwargs):
    return services.as_person(page).call("safety", method, path, **kwargs)
