"""Signing in and out, and setting a password from a one-time link."""
from __future__ import annotations

from services.common.logs import get_logger

from .display import london_time

log = get_logger(__name__)

HOME_FOR_ROLE = {"partner": "/referrals", "admin": "/users", "fire_officer": "/visits", "coordinator": "/"}


def home(page):
    return page.redirect(HOME_FOR_ROLE.get(page.person["role"], "/welcome"))


def sign_in_form(page, email: str = "", errors=None, status: int = 200):
    return page.render("sign_in.html", status=status, email=email, errors=errors or [])


def sign_in(people, page):
    form = page.request.form
    email, password = form.get("email", "").strip(), form.get("password", "")
    errors = []
    if not email:
        errors.append({"href": "#email", "text": "Enter your email address", "field": "email"})
    if not password:
        errors.append({"href": "#password", "text": "Enter your password", "field": "password"})
    if errors:
        return sign_in_form(page, email, errors, 400)
    result = people.sign_in(email, password)
    if result.person is None:
        # the same words whether the email is unknown or the password wrong (no account probing)
        text = {"wait": f"Too many tries. Wait until {london_time(result.until)} and try again",
                "locked": "Too many tries: this account is locked for 15 minutes. "
                          f"Try again after {london_time(result.until)}, or ask the coordinator to reset it"}
        log.info("sign_in_refused", reason=result.refused)
        message = text.get(result.refused, "Enter the email address and password of your account")
        return sign_in_form(page, email, [{"href": "#email", "text": message, "field": "email"}], 400)
    page.sign_in_as(people.start_session(result.person))
    log.info("signed_in", role=result.person["role"], person_id=result.person["person_id"])
    page.person = result.person
    return home(page)


def sign_out(people, page):
    people.end_session(page.session_token)
    page.sign_out()
    log.info("signed_out")
    return page.render("signed_out.html", title="You have signed out")


def set_password_form(people, page, token: str):
    holder = people.link_holder(token)
    if holder is None:
        return _link_problem(page)
    return page.render("set_password.html", holder=holder, errors=[])


def set_password(people, page, token: str):
    from services.common.people import AccountError

    form = page.request.form
    password, again = form.get("password", ""), form.get("password_again", "")
    holder = people.link_holder(token)
    if holder is None:
        return _link_problem(page)
    if password != again:
        errors = [{"href": "#password_again", "text": "Enter the same password twice", "field": "password_again"}]
        return page.render("set_password.html", status=400, holder=holder, errors=errors)
    try:
        person = people.set_password(token, password)
    except AccountError as exc:
        if str(exc) == "link":
            return _link_problem(page)
        errors = [{"href": "#password", "text": str(exc), "field": "password"}]
        return page.render("set_password.html", status=400, holder=holder, errors=errors)
    log.info("password_set", person_id=person["person_id"])
    return page.render("password_set.html", title="Your password is set")


def _link_problem(page):
    log.info("set_password_link_refused")
    return page.render("problem.html", status=404, title="This link has expired or was already used",
                       message="A link to set your password works once, for 72 hours. Ask the group's "
                               "coordinator or administrator for a new one. Nothing was changed.")
