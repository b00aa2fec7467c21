"""The notifications service's group-session entrypoints: routes, reply pages and event handlers.

A mixin of NotificationsService (like records.NotificationRecords): each entrypoint loads its
input, calls SessionWork (session_work.py), and returns.
"""
from __future__ import annotations

from nameko.timer import timer

from services.common import outbox
from services.common.consumer import consumes
from services.common.envelope import utcnow
from services.common.http import api, correlation_id_of, read_json, register_error
from services.common.logs import bind_context, clear_context, get_logger
from services.common.mongo import MongoStore, storable
from services.common.openapi import Route
from services.common.vocabulary import CASE_ERASED, CASE_STATUS_CHANGED
from services.common.web import http

from . import reply_page
from .reply_links import ExpiredLink, ForgedLink, ReplyLinks
from .session_repository import SessionRepository
from .session_schemas import (
    AttendanceHistorySchema, AttendanceQuerySchema, AttendanceResultSchema, AttendanceSchema, CancelSchema,
    InvitationResultSchema, InvitationsSchema, NewSessionSchema, PublicSessionSchema, ReplyResultSchema,
    NewSupporterSchema, RemovalSchema, ReplySchema, SessionChangeSchema, SessionDetailSchema, SessionListSchema,
    SessionSchema, SessionsQuerySchema, SupporterListSchema, SupporterSchema, SupportersQuerySchema,
)
from .session_work import (
    PRODUCER, SESSION_CANCELLED, SESSION_CHANGED, SESSION_MESSAGE_DUE, SessionWork, UnknownInvitation,
)
from .supporters import UnknownSupporter, supporter_view
from .sessions import (
    SessionClosed, SessionFull, StaleSession, UnknownSession, coordinator_view, invitation_view, public_view,
    require_open,
)

log = get_logger(__name__)
register_error(UnknownSession, 404, "not_found")
register_error(StaleSession, 409, "conflict")
register_error(SessionClosed, 409, "session_closed")
register_error(SessionFull, 409, "session_full")
register_error(UnknownSupporter, 404, "not_found")

COORDINATOR = ("coordinator",)
CHANGE_ERRORS = (400, 401, 403, 404, 409, 413, 415)
SESSION_ROUTES = [
    Route("GET", "/sessions", "Group sessions from one London day to another (from today for a year). "
                              "Coordinators see each session's place, capacity and version; partners "
                              "see only when and what kind",
          roles=("coordinator", "partner"), query=SessionsQuerySchema, response=SessionListSchema),
    Route("POST", "/sessions", "Create a session: face_to_face with a venue, online with a joining_link, "
                               "huddle with a dial_in; times ISO-8601 with their offset",
          roles=COORDINATOR, request=NewSessionSchema, response=SessionSchema, status=201,
          errors=(400, 401, 403, 413, 415)),
    Route("GET", "/sessions/attendance", "A member's invitations, answers and attendance, oldest first",
          roles=COORDINATOR, query=AttendanceQuerySchema, response=AttendanceHistorySchema),
    Route("GET", "/sessions/{session_id}", "One session with everyone invited and their answers",
          roles=COORDINATOR, response=SessionDetailSchema, errors=(401, 403, 404)),
    Route("PATCH", "/sessions/{session_id}", "Change the time, place or capacity against the version read "
                                             "(409 when someone changed it meanwhile); those invited who "
                                             "have not said no are told of a new time or place",
          roles=COORDINATOR, request=SessionChangeSchema, response=SessionSchema, errors=CHANGE_ERRORS),
    Route("POST", "/sessions/{session_id}", "The same as PATCH, for clients that only POST",
          roles=COORDINATOR, request=SessionChangeSchema, response=SessionSchema, errors=CHANGE_ERRORS),
    Route("POST", "/sessions/{session_id}/cancel", "Cancel the session; everyone invited is told, once",
          roles=COORDINATOR, request=CancelSchema, response=SessionSchema, errors=CHANGE_ERRORS),
    Route("POST", "/sessions/{session_id}/invitations",
          "Invite members (`case_ids`) or every accepted member (`all_accepted: true`) on their own "
          "channel, with a yes/no reply link and a reminder the day before; each member once. At a "
          "supporters' session the same names whose supporters are invited",
          roles=COORDINATOR, request=InvitationsSchema, response=InvitationResultSchema, errors=CHANGE_ERRORS),
    Route("POST", "/sessions/{session_id}/replies",
          "Record a member's (or a supporter's) answer for them; a yes beyond the capacity is 409 "
          "`session_full`",
          roles=COORDINATOR, request=ReplySchema, response=ReplyResultSchema, errors=CHANGE_ERRORS),
    Route("POST", "/sessions/{session_id}/attendance",
          "After the session starts: who came and who did not (each goes on the case's timeline)",
          roles=COORDINATOR, request=AttendanceSchema, response=AttendanceResultSchema, errors=CHANGE_ERRORS),
    Route("POST", "/supporters", "Add a family member or friend who supports a member, with the person's "
                                 "consent (who obtained it, when) and their own contact details and choice of "
                                 "channel; they are invited to sessions for supporters",
          roles=COORDINATOR, request=NewSupporterSchema, response=SupporterSchema, status=201,
          errors=(400, 401, 403, 413, 415)),
    Route("GET", "/supporters", "A case's supporters (removed ones without their details)",
          roles=COORDINATOR, query=SupportersQuerySchema, response=SupporterListSchema),
    Route("POST", "/supporters/{supporter_id}/removal",
          "Remove a supporter: their details go, nothing more is sent to them, a place they held is freed",
          roles=COORDINATOR, request=RemovalSchema, response=SupporterSchema, errors=CHANGE_ERRORS),
    Route("GET", "/r/{token}", "The reply link's page (HTML): the question and two buttons; changes nothing",
          extra_responses={400: "A link that is not right", 404: "An invitation no longer held",
                           410: "Replies have closed, or the session was cancelled"}),
    Route("POST", "/r/{token}", "Records the answer (form field `answer`: yes or no) and says so (HTML)",
          extra_responses={400: "A link that is not right, or no answer", 409: "The session is full",
                           410: "Replies have closed, or the session was cancelled"}),
]


class SessionEntrypoints:
    """Needs the service's `store`, `channels`, `group`, `events`, `audit`, `api_keys`, `_planner`, `_sender`."""

    session_store = MongoStore(SessionRepository)
    reply_links = ReplyLinks()

    def _sessions(self) -> SessionWork:
        return SessionWork(self.session_store, self._planner(), self._sender(), self.reply_links)

    def next_sessions(self) -> list[dict]:
        """The group's next sessions, for the invitation on acceptance (messages.py)."""
        return SessionWork(self.session_store, None, None, None).upcoming()

    # -- coordinators ---------------------------------------------------------------
    @http("GET", "/sessions")
    @api(roles=("coordinator", "partner"))
    def list_sessions(self, request, principal):
        query = SessionsQuerySchema().load(request.args.to_dict())
        found, now = self._sessions().listing(query.get("from_"), query.get("to")), utcnow()
        if principal.role == "coordinator":
            return SessionListSchema().dump({"items": [coordinator_view(s, now) for s in found]})
        return {"items": PublicSessionSchema(many=True).dump([public_view(s, now) for s in found])}

    @http("POST", "/sessions")
    @api(roles=COORDINATOR)
    def create_session(self, request, principal):
        session = self._sessions().create(NewSessionSchema().load(read_json(request)), principal.actor)
        self.audit.changed(principal, request, "session_created", None)
        return 201, SessionSchema().dump(coordinator_view(session, utcnow()))

    @http("GET", "/sessions/attendance")
    @api(roles=COORDINATOR)
    def attendance_history(self, request, principal):
        case_id = AttendanceQuerySchema().load(request.args.to_dict())["case_id"]
        bind_context(case_id=case_id)
        items = self._sessions().history(case_id)
        self.audit.read(principal, request, "session_attendance_read", case_id)
        return AttendanceHistorySchema().dump({"case_id": case_id, "items": items})

    @http("GET", "/sessions/<string:session_id>")
    @api(roles=COORDINATOR)
    def get_session(self, request, principal, session_id):
        session, invitations = self._sessions().detail(session_id)
        self.audit.read(principal, request, "session_invitations_read", *(i["case_id"] for i in invitations))
        return SessionDetailSchema().dump({**coordinator_view(session, utcnow()),
                                           "invitations": [invitation_view(i) for i in invitations]})

    @http("PATCH,POST", "/sessions/<string:session_id>")
    @api(roles=COORDINATOR)
    def change_session(self, request, principal, session_id):
        fields = SessionChangeSchema().load(read_json(request))
        session = self._sessions().change(session_id, fields, principal.actor, request.correlation_id)
        self.audit.changed(principal, request, "session_changed", None)
        return SessionSchema().dump(coordinator_view(session, utcnow()))

    @http("POST", "/sessions/<string:session_id>/cancel")
    @api(roles=COORDINATOR)
    def cancel_session(self, request, principal, session_id):
        body = CancelSchema().load(read_json(request))
        session = self._sessions().cancel(session_id, body["version"], body["reason"], principal.actor,
                                          request.correlation_id)
        self.audit.changed(principal, request, "session_cancelled", None)
        return SessionSchema().dump(coordinator_view(session, utcnow()))

    @http("POST", "/sessions/<string:session_id>/invitations")
    @api(roles=COORDINATOR)
    def invite_to_session(self, request, principal, session_id):
        body = InvitationsSchema().load(read_json(request))
        result = self._sessions().invite(session_id, body.get("case_ids"), principal.actor, request.correlation_id)
        for case_id in result["cases"]:
            self.audit.changed(principal, request, "session_invitation_sent", case_id)
        return InvitationResultSchema().dump(result)

    @http("POST", "/sessions/<string:session_id>/replies")
    @api(roles=COORDINATOR)
    def record_reply(self, request, principal, session_id):
        body = ReplySchema().load(read_json(request))
        who = {k: body[k] for k in ("case_id", "supporter_id") if k in body}
        result = self._sessions().reply_for(session_id, who, body["answer"], principal.actor, request.correlation_id)
        self.audit.changed(principal, request, "session_reply_recorded", result["case_id"])
        return ReplyResultSchema().dump(result)

    @http("POST", "/sessions/<string:session_id>/attendance")
    @api(roles=COORDINATOR)
    def record_attendance(self, request, principal, session_id):
        body = AttendanceSchema().load(read_json(request))
        result = self._sessions().record_attendance(session_id, body["attended"], body["absent"], principal.actor,
                                                    request.correlation_id)
        for case_id in result["cases"]:
            self.audit.changed(principal, request, "session_attendance_recorded", case_id)
        return AttendanceResultSchema().dump(result)

    # -- supporters: family and friends on a case -----------------------------------------------
    @http("POST", "/supporters")
    @api(roles=COORDINATOR)
    def add_supporter(self, request, principal):
        fields = storable(NewSupporterSchema().load(read_json(request)))
        bind_context(case_id=fields["case_id"])
        supporter = self._sessions().add_supporter(fields, principal.actor)
        self.audit.changed(principal, request, "supporter_added", supporter["case_id"])
        return 201, SupporterSchema().dump(supporter_view(supporter))

    @http("GET", "/supporters")
    @api(roles=COORDINATOR)
    def list_supporters(self, request, principal):
        case_id = SupportersQuerySchema().load(request.args.to_dict())["case_id"]
        bind_context(case_id=case_id)
        found = self.session_store.supporters_of(case_id)
        self.audit.read(principal, request, "supporters_read", case_id)
        return SupporterListSchema().dump({"items": [supporter_view(s) for s in found]})

    @http("POST", "/supporters/<string:supporter_id>/removal")
    @api(roles=COORDINATOR)
    def remove_supporter(self, request, principal, supporter_id):
        reason = RemovalSchema().load(read_json(request))["reason"]
        supporter = self._sessions().remove_supporter(supporter_id, reason, principal.actor)
        self.audit.changed(principal, request, "supporter_removed", supporter["case_id"])
        return SupporterSchema().dump(supporter_view(supporter))

    # -- the person's reply link (no sign-in: the signed token is the key) --------------------
    @http("GET", "/r/<string:token>")
    def reply_page(self, request, token):
        return self._reply(request, token, None)

    @http("POST", "/r/<string:token>")
    def reply_answer(self, request, token):
        answer = request.form.get("answer")
        return self._reply(request, token, answer if answer in ("yes", "no") else "")

    def _reply(self, request, token, answer):
        """GET (answer None) shows the question; POST records a yes or no ("" when neither was chosen)."""
        clear_context()
        request.correlation_id = correlation_id_of(request)
        bind_context(correlation_id=request.correlation_id)
        throttle, address = self.api_keys.bad_tokens, request.remote_addr or "unknown"
        try:
            page = self._reply_outcome(token, answer, throttle, address, request)
        except Exception:
            log.exception("reply_page_failed")
            page = reply_page.broken()
        log.info("reply_link_answered" if answer else "reply_link_opened", method=request.method,
                 status=page.status)
        response = reply_page.response(page, self.group)
        response.headers["X-Correlation-ID"] = request.correlation_id
        return response

    def _reply_outcome(self, token, answer, throttle, address, request):
        if throttle.retry_after(address):
            return reply_page.too_many()
        work = self._sessions()
        try:
            invitation, session = work.invitation_of_link(token)
        except ForgedLink:
            throttle.failed(address)
            return reply_page.not_right()
        except ExpiredLink:
            return reply_page.closed()
        except (UnknownInvitation, UnknownSession):
            return reply_page.no_longer_held()
        bind_context(case_id=invitation["case_id"], session_id=session["_id"])
        if session["status"] == "cancelled":
            return reply_page.cancelled(session)
        try:
            require_open(session, utcnow(), "take replies")
        except SessionClosed:
            return reply_page.closed()
        if answer is None:
            return reply_page.question(session, invitation)
        if answer == "":
            return reply_page.question(session, invitation, error="Please choose Yes or No.")
        try:
            work.reply(invitation, answer, "link", request.correlation_id)
        except SessionFull:
            return reply_page.full(session)
        except SessionClosed:
            return reply_page.closed()
        return reply_page.thanks(session, answer)

    # -- events ------------------------------------------------------------------------------
    @consumes((PRODUCER, SESSION_MESSAGE_DUE))
    def send_session_message(self, envelope):
        """Invitations at once, reminders the day before: each waits on the broker until due."""
        outcome = self._sessions().wake_up(envelope["data"], envelope["correlation_id"])
        log.info("session_message_handled", message=envelope["data"]["message"], outcome=outcome)

    @consumes((PRODUCER, SESSION_CANCELLED))
    def tell_session_cancelled(self, envelope):
        told = self._sessions().tell_cancelled(envelope["data"]["session_id"], envelope["correlation_id"])
        log.info("session_cancellation_told", session_id=envelope["data"]["session_id"], told=told)

    @consumes((PRODUCER, SESSION_CHANGED))
    def tell_session_changed(self, envelope):
        data = envelope["data"]
        told = self._sessions().tell_changed(data["session_id"], bool(data.get("moved")), envelope["correlation_id"])
        log.info("session_change_told", session_id=data["session_id"], told=told)

    @consumes(("referrals", CASE_STATUS_CHANGED))
    def note_membership(self, envelope):
        """Who is a member (accepted, in progress), so coordinators can invite them all."""
        contacts = self.store.contacts_for(envelope["case_id"]) or {}
        noted = self._sessions().note_case_status(envelope["case_id"], envelope["data"].get("to"),
                                                  envelope["occurred_at"], bool(contacts.get("erased_at")))
        log.info("membership_noted" if noted else "membership_unchanged", status=envelope["data"].get("to"))

    @consumes(("referrals", CASE_ERASED))
    def erase_session_records(self, envelope):
        log.info("session_records_erased", invitations=self.session_store.erase_case(envelope["case_id"]))

    @timer(interval=outbox.SWEEP_SECONDS)
    def relay_session_outbox(self):
        self.events.relay(self.session_store)
