"""The small page behind a reply link: GET shows the question, POST records the answer.

A GET never changes anything: mail clients and link scanners open links before people do.
Each page is plain HTML with two buttons, works without JavaScript, and says in plain words
what happened; a link that is forged, expired or no longer held changes nothing and says so.
"""
from __future__ import annotations

from dataclasses import dataclass

from werkzeug.wrappers import Response

from .messages import environment
from .sessions import KIND_WORDS, when_words

# The page carries a token in its address: no referrer leaves it, no other site frames it,
# nothing but its own form and inline style runs.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Robots-Tag": "noindex, nofollow",
}


@dataclass(frozen=True)
class Page:
    status: int
    heading: str
    lines: tuple[str, ...] = ()
    ask: bool = False
    answer: str | None = None
    error: str | None = None


def _about(session: dict) -> str:
    return f"our {KIND_WORDS[session['kind']]} on {when_words(session['starts_at'], session['ends_at'])}"


def question(session: dict, invitation: dict, error: str | None = None) -> Page:
    return Page(400 if error else 200, "Can you come?",
                (f"You are invited to {_about(session)}.",), ask=True, answer=invitation.get("answer"),
                error=error)


def thanks(session: dict, answer: str) -> Page:
    if answer == "yes":
        return Page(200, "Thank you, see you there", (
            f"We have noted that you will come to {_about(session)}.",
            "How to get there or join is in the message we sent you. We will remind you the day before.",
            "If you cannot come after all, open the link again and choose No."))
    return Page(200, "Thank you for letting us know", (
        f"We have noted that you cannot come to {_about(session)}.",
        "We hope to see you another time. If you change your mind, open the link again and choose Yes."))


def full(session: dict) -> Page:
    return Page(409, "Sorry, this session is full", (
        f"Every place at {_about(session)} has been taken.",
        "We are sorry. We will let you know about the next one, or call us and we will find you a place "
        "soon."))


def cancelled(session: dict) -> Page:
    return Page(410, "This session was cancelled", (
        f"We are sorry: {_about(session)} is not going ahead. We will let you know about the next one.",))


def closed() -> Page:
    return Page(410, "This link has closed", (
        "Replies close when a session starts, so this link no longer works.",
        "If you would like to come to a session, please call us."))


def not_right() -> Page:
    return Page(400, "This link does not work", (
        "Please check that the whole link was copied from the message, or call us to give your answer.",))


def no_longer_held() -> Page:
    return Page(404, "This link no longer works", ("We no longer hold this invitation.",))


def too_many() -> Page:
    return Page(429, "Please try again later", ("Too many links that do not work came from here.",))


def broken() -> Page:
    return Page(500, "Something went wrong", ("Your answer was not saved. Please try again, or call us.",))


def response(page: Page, group: dict) -> Response:
    body = environment().get_template("_reply_page.html").render(
        heading=page.heading, lines=page.lines, ask=page.ask, answer=page.answer, error=page.error, group=group)
    return Response(body, status=page.status, mimetype="text/html", headers=PAGE_HEADERS)
