"""Pages over nameko's HTTP entrypoints: templates, cookies, the signed-in person and CSRF.

Every form carries a CSRF token that must equal the browser's `refhub_csrf`
cookie (double submit; the cookie is HttpOnly and SameSite=Lax, so another
site can neither read nor send it on a cross-site POST). The session cookie
holds the person's session token (people.py); the portal presents it to the
services as the Bearer token, so the services decide what the person may see.
"""
from __future__ import annotations

import functools
import hmac
import secrets
from pathlib import Path

import jinja2
from werkzeug.wrappers import Response

from services.common.http import correlation_id_of
from services.common.logs import bind_context, clear_context, get_logger

from . import display, figures, safeguarding_form
from .referral_form import field_id

log = get_logger(__name__)

SESSION_COOKIE = "refhub_session"
CSRF_COOKIE = "refhub_csrf"
CSRF_FIELD = "csrf_token"
GROUP_NAME = "Harrow Hoarding Peer Support"

_HERE = Path(__file__).parent
TEMPLATES = jinja2.Environment(
    loader=jinja2.ChoiceLoader([
        jinja2.FileSystemLoader(str(_HERE / "templates")),
        jinja2.PrefixLoader({"govuk_frontend_jinja": jinja2.PackageLoader("govuk_frontend_jinja")}),
    ]),
    autoescape=True, trim_blocks=True, lstrip_blocks=True, undefined=jinja2.ChainableUndefined,
)
TEMPLATES.filters["london_time"] = display.london_time
TEMPLATES.filters["field_id"] = field_id
TEMPLATES.filters.update(long_date=figures.long_date, long_moment=figures.long_moment)
TEMPLATES.globals.update(case_status=display.case_status, visit_status=display.visit_status,
                         priority=display.priority, risk_flag=display.risk_flag, contact_way=display.contact_way,
                         needs_action=display.needs_action, message=display.message, group_name=GROUP_NAME,
                         room_chart=figures.room_chart, room_name=figures.room_name,
                         lawful_bases=safeguarding_form.offered)


class PageRequest:
    """What a page handler gets: the werkzeug request, the signed-in person (or None), a CSRF token."""

    def __init__(self, request, person_session, csrf_token, secure_cookies):
        self.request = request
        self.session = person_session
        self.person = (person_session or {}).get("person")
        self.csrf_token = csrf_token
        self.secure_cookies = secure_cookies
        self.correlation_id = request.correlation_id
        self.set_cookies: list[tuple] = []

    @property
    def session_token(self) -> str | None:
        return self.request.cookies.get(SESSION_COOKIE)

    def render(self, template: str, status: int = 200, **context) -> Response:
        html = TEMPLATES.get_template(template).render(
            person=self.person, csrf_token=self.csrf_token, csrf_field=CSRF_FIELD, path=self.request.path,
            **context)
        return self._finish(Response(html, status=status, mimetype="text/html"))

    def send_file(self, content: bytes, mimetype: str, filename: str) -> Response:
        return self._finish(Response(content, mimetype=mimetype, headers={
            "Content-Disposition": f'attachment; filename="{filename}"'}))

    def redirect(self, location: str) -> Response:
        return self._finish(Response("", status=303, headers={"Location": location}))

    def sign_in_as(self, token: str) -> None:
        self.set_cookies.append((SESSION_COOKIE, token))

    def sign_out(self) -> None:
        self.set_cookies.append((SESSION_COOKIE, None))

    def _finish(self, response: Response) -> Response:
        if self.request.cookies.get(CSRF_COOKIE) != self.csrf_token:
            self.set_cookies.append((CSRF_COOKIE, self.csrf_token))
        for name, value in self.set_cookies:
            if value is None:
                response.delete_cookie(name, path="/", httponly=True, samesite="Lax")
            else:
                # no Max-Age: the server ends the session after inactivity (account_rules.SESSION_IDLE)
                response.set_cookie(name, value, path="/", httponly=True, samesite="Lax",
                                    secure=self.secure_cookies)
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "form-action 'self'; frame-ancestors 'none'")
        response.headers["Referrer-Policy"] = "no-referrer"  # set-password links must not leak
        response.headers["X-Correlation-ID"] = self.correlation_id
        return response


def page(*, signed_in: bool = True, roles=None):
    """Wrap a nameko @http method of the portal: correlation id, session, CSRF on POST, error pages.

    The method gets `(self, page_request, **path_args)` and returns a Response.
    """
    def decorator(fn):
        @functools.wraps(fn)
        def endpoint(self, request, *args, **kwargs):
            clear_context()
            request.correlation_id = correlation_id_of(request)
            bind_context(correlation_id=request.correlation_id)
            token = request.cookies.get(SESSION_COOKIE)
            person_session = self.people.session(token) if token else None
            csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
            page_request = PageRequest(request, person_session, csrf, self.settings.secure_cookies)
            page_request.people = self.people   # names for "who did this" on a page
            if person_session:
                bind_context(role=person_session["role"], person_id=person_session["person_id"])
            try:
                if request.method == "POST" and not _csrf_ok(request):
                    log.warning("csrf_refused", path=request.path)
                    response = page_request.render("problem.html", status=400, title="This form has expired",
                                                   message="For your security, forms expire. Go back, reload "
                                                           "the page and try again. Nothing was saved.")
                elif signed_in and person_session is None:
                    if token:
                        page_request.sign_out()  # an expired session: drop the cookie
                    response = page_request.redirect("/sign-in")
                elif roles and person_session["role"] not in roles:
                    log.info("page_refused_for_role", path=request.path)
                    response = page_request.render("problem.html", status=403, title="You cannot use this page",
                                                   message="Your account does not give access to this page.")
                else:
                    response = fn(self, page_request, *args, **kwargs)
            except Exception:
                log.exception("page_failed", path=request.path)
                response = page_request.render("problem.html", status=500, title="Sorry, something went wrong",
                                               message="Nothing you sent was lost on our side: try again in "
                                                       "a few minutes.")
            log.info("page_request", method=request.method, path=_loggable(request.path),
                     status=response.status_code)
            return response
        return endpoint
    return decorator


def page_number(args) -> int:
    """`?page=` of a paged list: 1 when absent, not a number or below 1."""
    try:
        return max(1, int(args.get("page", "1")))
    except ValueError:
        return 1


def _csrf_ok(request) -> bool:
    cookie, sent = request.cookies.get(CSRF_COOKIE, ""), request.form.get(CSRF_FIELD, "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), sent.encode())


def _loggable(path: str) -> str:
    # a set-password path carries a secret: log only that it was one
    return "/set-password/<token>" if path.startswith("/set-password/") else path
