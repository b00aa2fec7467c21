"""The admin's Users page: the same as `refhub users create|disable|reset`."""
from __future__ import annotations

from services.common.auth import AGENCIES
from services.common.logs import get_logger
from services.common.people import ROLES, AccountError, set_password_url

log = get_logger(__name__)


def list_page(people, page, status: int = 200, errors=None, link=None, values=None):
    return page.render("users.html", status=status, users=people.list(), roles=ROLES, agencies=AGENCIES,
                       errors=errors or [], link=link, values=values or {})


def act(people, settings, page):
    form = page.request.form
    action, email = form.get("action"), form.get("email", "")
    try:
        if action == "create":
            person, token = people.create(email, form.get("role", ""), form.get("agency") or None,
                                          form.get("name"))
        elif action == "reset":
            person, token = people.reset(email)
        elif action == "disable":
            person, token = people.disable(email), None
        else:
            raise AccountError("choose what to do")
    except AccountError as exc:
        errors = [{"href": "#email", "text": str(exc)[0].upper() + str(exc)[1:], "field": "email"}]
        return list_page(people, page, 400, errors, values=dict(form.items()))
    log.info("account_changed", action=action, person_id=person["person_id"], role=person["role"])
    link = {"email": person["email"], "url": set_password_url(settings.public_url, token)} if token else None
    return list_page(people, page, link=link)
