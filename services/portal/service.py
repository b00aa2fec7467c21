"""Portal service: pages for people, calling the three services' APIs as the signed-in person (UI.md)."""
from __future__ import annotations

import mimetypes
from pathlib import Path

from nameko.web.handlers import http
from werkzeug.wrappers import Response

from services.common.health import database_answers
from services.common.http import json_response
from services.common.logs import configure_logging

from . import case_pages, referral_pages, report_pages, session_pages, signin, supporter_pages, users, visit_pages
from .dependencies import People, Services, Settings
from .web import page

configure_logging()

_HERE = Path(__file__).parent
STATIC_ROOTS = {
    "static": _HERE / "static",
    # GOV.UK Frontend's images (favicons, icons); its fonts are not used (we use the system font)
    "assets": _HERE / "node_modules" / "govuk-frontend" / "dist" / "govuk" / "assets",
}


class PortalService:
    name = "portal"

    people = People()
    services = Services()
    settings = Settings()

    @http("GET", "/health")
    def health(self, request):
        # the portal's only store is the auth database; the services report their own health
        ok = database_answers(self.people)
        return json_response({"status": "ok" if ok else "unavailable", "checks": {"database": ok}},
                             200 if ok else 503)

    @http("GET", "/static/<path:name>")
    def static(self, request, name):
        return _file(STATIC_ROOTS["static"], name)

    @http("GET", "/assets/<path:name>")
    def assets(self, request, name):
        return _file(STATIC_ROOTS["assets"], name)

    # -- signing in ---------------------------------------------------------
    @http("GET", "/")
    @page()
    def home(self, page_request):
        if page_request.person["role"] == "coordinator":
            return case_pages.today(self.services, page_request)
        return signin.home(page_request)

    @http("GET", "/welcome")
    @page()
    def welcome(self, page_request):
        return page_request.render("welcome.html", title="Signed in")

    @http("GET", "/sign-in")
    @page(signed_in=False)
    def sign_in_form(self, page_request):
        return signin.sign_in_form(page_request)

    @http("POST", "/sign-in")
    @page(signed_in=False)
    def sign_in(self, page_request):
        return signin.sign_in(self.people, page_request)

    @http("POST", "/sign-out")
    @page(signed_in=False)
    def sign_out(self, page_request):
        return signin.sign_out(self.people, page_request)

    @http("GET", "/set-password/<string:token>")
    @page(signed_in=False)
    def set_password_form(self, page_request, token):
        return signin.set_password_form(self.people, page_request, token)

    @http("POST", "/set-password/<string:token>")
    @page(signed_in=False)
    def set_password(self, page_request, token):
        return signin.set_password(self.people, page_request, token)

    # -- partners -------------------------------------------------------------
    @http("GET", "/referrals/new")
    @page()
    def refer_someone_form(self, page_request):
        return referral_pages.new_form(page_request)

    @http("POST", "/referrals/new")
    @page()
    def refer_someone(self, page_request):
        return referral_pages.submit(self.services, page_request)

    @http("GET", "/referrals")
    @page()
    def your_referrals(self, page_request):
        return referral_pages.your_referrals(self.services, page_request)

    @http("GET", "/referrals/<string:reference>")
    @page()
    def one_referral(self, page_request, reference):
        return referral_pages.one_referral(self.services, page_request, reference)

    # -- coordinators ------------------------------------------------------------
    @http("GET", "/cases/<string:case_id>")
    @page(roles=("coordinator",))
    def one_case(self, page_request, case_id):
        return case_pages.one_case(self.services, page_request, case_id)

    @http("POST", "/cases/<string:case_id>/move")
    @page(roles=("coordinator",))
    def move_case(self, page_request, case_id):
        return case_pages.move(self.services, page_request, case_id)

    @http("POST", "/cases/<string:case_id>/rating")
    @page(roles=("coordinator",))
    def rate_case(self, page_request, case_id):
        return case_pages.rate(self.services, page_request, case_id)

    @http("POST", "/cases/<string:case_id>/consent")
    @page(roles=("coordinator",))
    def withdraw_consent(self, page_request, case_id):
        return case_pages.withdraw_consent(self.services, page_request, case_id)

    @http("POST", "/cases/<string:case_id>/erase")
    @page(roles=("coordinator",))
    def erase_case(self, page_request, case_id):
        return case_pages.erase(self.services, page_request, case_id)

    @http("POST", "/cases/<string:case_id>/attention")
    @page(roles=("coordinator",))
    def dealt_with(self, page_request, case_id):
        return case_pages.dealt_with(self.services, page_request, case_id)

    @http("POST", "/cases/<string:case_id>/progress")
    @page(roles=("coordinator",))
    def progress_updates(self, page_request, case_id):
        return case_pages.progress_updates(self.services, page_request, case_id)

    @http("GET", "/letters")
    @page(roles=("coordinator",))
    def letters(self, page_request):
        return case_pages.letters(self.services, page_request)

    @http("POST", "/letters/<string:notification_id>/posted")
    @page(roles=("coordinator",))
    def letter_posted(self, page_request, notification_id):
        return case_pages.letter_posted(self.services, page_request, notification_id)

    @http("POST", "/cases/<string:case_id>/safeguarding-pack")
    @page(roles=("coordinator",))
    def safeguarding_pack(self, page_request, case_id):
        return case_pages.safeguarding_pack(self.services, page_request, case_id)

    # -- coordinators and admins ----------------------------------------------------
    @http("GET", "/reports")
    @page(roles=("coordinator", "admin"))
    def reports(self, page_request):
        return report_pages.reports_page(self.services, page_request)

    @http("GET", "/reports/<string:name>.csv")
    @page(roles=("coordinator", "admin"))
    def report_download(self, page_request, name):
        return report_pages.download(self.services, page_request, name)

    # -- fire officers ------------------------------------------------------------
    @http("GET", "/visits")
    @page(roles=("fire_officer",))
    def visits(self, page_request):
        return visit_pages.worklist(self.services, page_request)

    @http("GET", "/visits/<string:visit_id>")
    @page(roles=("fire_officer",))
    def one_visit(self, page_request, visit_id):
        return visit_pages.one_visit(self.services, page_request, visit_id)

    @http("POST", "/visits/<string:visit_id>/acknowledge")
    @page(roles=("fire_officer",))
    def acknowledge_visit(self, page_request, visit_id):
        return visit_pages.acknowledge(self.services, page_request, visit_id)

    @http("POST", "/visits/<string:visit_id>/schedule")
    @page(roles=("fire_officer",))
    def schedule_visit(self, page_request, visit_id):
        return visit_pages.schedule(self.services, page_request, visit_id)

    @http("POST", "/visits/<string:visit_id>/outcome")
    @page(roles=("fire_officer",))
    def record_outcome(self, page_request, visit_id):
        return visit_pages.outcome(self.services, page_request, visit_id)

    @http("GET", "/visits/<string:visit_id>.ics")
    @page(roles=("fire_officer",))
    def visit_calendar(self, page_request, visit_id):
        return visit_pages.calendar_file(self.services, page_request, visit_id)

    # -- admin ------------------------------------------------------------------
    @http("GET", "/users")
    @page(roles=("admin",))
    def users(self, page_request):
        return users.list_page(self.people, page_request)

    @http("POST", "/users")
    @page(roles=("admin",))
    def users_action(self, page_request):
        return users.act(self.people, self.settings, page_request)

    # -- coordinators: group sessions ------------------------------------------------------
    @http("GET", "/sessions")
    @page(roles=("coordinator",))
    def sessions(self, page_request):
        return session_pages.listing(self.services, page_request)

    @http("POST", "/sessions")
    @page(roles=("coordinator",))
    def plan_session(self, page_request):
        return session_pages.plan(self.services, page_request)

    @http("GET", "/sessions/<string:session_id>")
    @page(roles=("coordinator",))
    def one_session(self, page_request, session_id):
        return session_pages.one_session(self.services, page_request, session_id)

    @http("POST", "/sessions/<string:session_id>/invitations")
    @page(roles=("coordinator",))
    def invite_to_session(self, page_request, session_id):
        return session_pages.invite(self.services, page_request, session_id)

    @http("POST", "/sessions/<string:session_id>/replies")
    @page(roles=("coordinator",))
    def record_session_reply(self, page_request, session_id):
        return session_pages.reply(self.services, page_request, session_id)

    @http("POST", "/sessions/<string:session_id>/change")
    @page(roles=("coordinator",))
    def change_session(self, page_request, session_id):
        return session_pages.change(self.services, page_request, session_id)

    @http("POST", "/sessions/<string:session_id>/cancel")
    @page(roles=("coordinator",))
    def cancel_session(self, page_request, session_id):
        return session_pages.cancel(self.services, page_request, session_id)

    @http("POST", "/sessions/<string:session_id>/attendance")
    @page(roles=("coordinator",))
    def record_session_attendance(self, page_request, session_id):
        return session_pages.attendance(self.services, page_request, session_id)

    @http("POST", "/cases/<string:case_id>/supporters")
    @page(roles=("coordinator",))
    def add_supporter(self, page_request, case_id):
        return supporter_pages.add(self.services, page_request, case_id)

    @http("POST", "/cases/<string:case_id>/supporters/<string:supporter_id>/removal")
    @page(roles=("coordinator",))
    def remove_supporter(self, page_request, case_id, supporter_id):
        return supporter_pages.remove(self.services, page_request, case_id, supporter_id)


def _file(root: Path, name: str) -> Response:
    path = (root / name).resolve()
    if not path.is_file() or root.resolve() not in path.parents:
        return Response("Not found", status=404, mimetype="text/plain")
    mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return Response(path.read_bytes(), mimetype=mimetype, headers={"Cache-Control": "public, max-age=3600"})
