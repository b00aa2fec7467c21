"""Supporters on the case page: add a family member or friend (with the person's agreement), remove one.

Calls the notifications service's supporter API as the person; the form's rules are in
session_form.py. A refusal shows the case page again with the error by the field, nothing typed lost.
"""
from __future__ import annotations

from services.common.envelope import utcnow
from services.common.logs import bind_context, get_logger

from . import case_pages, session_form
from .dependencies import ApiError
from .display import LONDON

log = get_logger(__name__)

SUPPORTER_FIELDS = {"given_name": "supporter-given-name", "family_name": "supporter-family-name",
                    "relationship": "supporter-relationship", "phone": "supporter-phone",
                    "email": "supporter-email", "preferred_contact": "supporter-contact"}


def add(services, page, case_id: str):
    return _act(services, page, case_id, "supporter-added", lambda form: session_form.supporter_from_form(
        form, case_id, utcnow().astimezone(LONDON).date()), "/supporters")


def remove(services, page, case_id: str, supporter_id: str):
    return _act(services, page, case_id, "supporter-removed", session_form.removal_from_form,
                f"/supporters/{supporter_id}/removal", owner=supporter_id)


def _act(services, page, case_id, done, body_from_form, path, owner=None):
    bind_context(case_id=case_id)
    form = page.request.form
    case = case_pages._read(services, page, case_id)
    if case is None:
        return case_pages._not_found(page)
    body, errors = body_from_form(form)
    if not errors:
        try:
            _check_owner(services, page, case_id, owner)
            services.as_person(page).call("notifications", "POST", path, json=body)
        except ApiError as exc:
            if exc.status not in (400, 404):
                raise
            errors = _errors_from_api(exc)
        else:
            log.info("supporter_action_done", action=done)
            return page.redirect(f"/cases/{case_id}?done={done}#supporters")
    log.info("supporter_form_refused", action=done, fields=sorted(e["field"] for e in errors))
    values = {key: form.get(key) for key in form.keys()}
    return case_pages._case_page(services, page, case, errors=errors, values=values, status=400)


def _check_owner(services, page, case_id, supporter_id):
    """A removal names a supporter of this case (the address could have been edited)."""
    if supporter_id is None:
        return
    listed = case_pages._supporters(services, page, case_id) or []
    if supporter_id not in {s["supporter_id"] for s in listed}:
        raise ApiError(404, {"error": "not_found"})


def _errors_from_api(exc) -> list[dict]:
    if exc.status == 404:
        return [session_form.error("supporters", "That supporter is not on this case: reload the page")]
    found = []
    for field, messages in (exc.body.get("fields") or {}).items():
        said = " ".join(str(m) for m in messages)
        target = SUPPORTER_FIELDS.get(field.split(".")[0], "supporters")
        found.append(session_form.error(target, f"Check this: {said}"))
    return found or [session_form.error("supporters", "Check what you entered: " + (exc.body.get("message") or ""))]
