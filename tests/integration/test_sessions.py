"""Group sessions over the real wire: HTTP, RabbitMQ, the Mongo-wire server and a real SMTP peer."""
from __future__ import annotations

from datetime import timedelta

import pytest
import requests

from services.notifications import sessions as rules
from tests.integration.notifications_peers import PERSON_EMAIL, body
from tests.integration.sessions_support import SessionDesk, later, iso, mail_to, session_body, settings
from tests.support import wait_until


@pytest.fixture
def desk(start_notifications, mailbox, tokens):
    return SessionDesk(start_notifications(**settings(mailbox)), tokens, mailbox)


# --- sessions -------------------------------------------------------------------------------

def test_a_coordinator_creates_a_session_and_partners_see_it_without_its_place(desk):
    created = desk.create(kind="face_to_face", starts_in=timedelta(days=10))
    assert (created["kind"], created["status"], created["version"], created["capacity"]) == (
        "face_to_face", "scheduled", 1, 10)
    assert created["venue"] == "Harrow Arts Centre, HA5 4EA" and created["seats_taken"] == 0
    listed = desk.call("GET", "/sessions").json()["items"]
    assert [s["session_id"] for s in listed] == [created["session_id"]]
    assert listed[0]["venue"] == "Harrow Arts Centre, HA5 4EA"
    partner = desk.call("GET", "/sessions", who="mind")
    assert partner.status_code == 200
    (seen,) = partner.json()["items"]
    assert seen["session_id"] == created["session_id"] and seen["starts_at"] == created["starts_at"]
    assert "venue" not in seen and "Harrow Arts Centre" not in partner.text and "capacity" not in seen
    assert desk.call("GET", "/sessions", who="fire_officer").status_code == 403
    assert desk.call("POST", "/sessions", who="mind", body=session_body()).status_code == 403
    assert desk.call("GET", f"/sessions/{created['session_id']}", who="mind").status_code == 403


def test_sessions_are_listed_by_london_day(desk):
    soon, later_one = desk.create(starts_in=timedelta(days=2)), desk.create(starts_in=timedelta(days=40))
    everything = [s["session_id"] for s in desk.call("GET", "/sessions").json()["items"]]
    assert everything == [soon["session_id"], later_one["session_id"]]
    day = soon["starts_at"][:10]
    only = desk.call("GET", "/sessions", params={"from": day, "to": day}).json()["items"]
    assert [s["session_id"] for s in only] == [soon["session_id"]]
    refused = desk.call("GET", "/sessions", params={"from": "2027-01-02", "to": "2027-01-01"})
    assert refused.status_code == 400 and "to" in refused.json()["fields"]


@pytest.mark.parametrize("changes, field", [
    ({"starts_at": "2026-12-03T18:30:00"}, "starts_at"),                      # no offset
    ({"kind": "hybrid", "joining_link": None}, "kind"),
    ({"venue": "the library"}, "venue"),                                       # an online session
    ({"capacity": 0}, "capacity"),
    ({"capacity": "10"}, "capacity"),
    ({"joining_link": "zoom somewhere"}, "joining_link"),
    ({"starts_at": "2020-01-01T10:00:00+00:00", "ends_at": "2020-01-01T11:00:00+00:00"}, "starts_at"),
    ({"audience": "everyone"}, "audience"),
    ({"colour": "blue"}, "colour"),
])
def test_a_session_that_makes_no_sense_is_refused_and_nothing_is_stored(desk, changes, field):
    response = desk.call("POST", "/sessions", body=session_body(**changes))
    assert response.status_code == 400, response.text
    assert field in response.json()["fields"]
    assert desk.service.db["sessions"].count_documents({}) == 0


def test_two_coordinators_cannot_overwrite_each_other(desk):
    created = desk.create()
    path = f"/sessions/{created['session_id']}"
    first = desk.call("PATCH", path, body={"version": 1, "capacity": 6})
    assert first.status_code == 200 and (first.json()["version"], first.json()["capacity"]) == (2, 6)
    second = desk.call("POST", path, body={"version": 1, "capacity": 20})  # read before the first change
    assert second.status_code == 409 and second.json()["error"] == "conflict"
    assert desk.detail(created["session_id"])["capacity"] == 6
    assert desk.call("PATCH", path, body={"capacity": 20}).status_code == 400  # no version: refused
    missing = desk.call("PATCH", "/sessions/no-such-session", body={"version": 1, "capacity": 3})
    assert missing.status_code == 404


# --- invitations and replies -----------------------------------------------------------------

def test_every_accepted_member_is_invited_once_on_their_channel_with_a_reply_link(desk, mailbox):
    ada = desk.member()
    in_progress = desk.member(status="in_progress", person__email="bo@example.org")
    not_yet = desk.member(status="received", person__email="cy@example.org")
    finished = desk.member(status="completed", person__email="di@example.org")
    created = desk.create(kind="face_to_face")
    result = desk.invite(created["session_id"], all_accepted=True)
    assert sorted(result["invited"]) == sorted([ada, in_progress]) and result["already_invited"] == []
    again = desk.invite(created["session_id"], case_ids=[ada])
    assert (again["invited"], again["already_invited"]) == ([], [ada])

    desk.sent(ada, "person_session_invitation")
    (invitation,) = wait_until(lambda: mail_to(mailbox, PERSON_EMAIL, "You're invited"), message="the email")
    text = body(invitation)
    assert "face-to-face session" in text and "Harrow Arts Centre, HA5 4EA" in text
    assert desk.reply_link(ada) in text
    assert not mail_to(mailbox, "cy@example.org", "You're invited")
    for case_id in (not_yet, finished):
        assert desk.messages(case_id, "person_session_invitation") == []

    refused = desk.call("POST", f"/sessions/{created['session_id']}/invitations", body={"case_ids": [not_yet]})
    assert refused.status_code == 400 and not_yet in refused.json()["fields"]["case_ids"][0]
    both = desk.call("POST", f"/sessions/{created['session_id']}/invitations",
                     body={"case_ids": [ada], "all_accepted": True})
    assert both.status_code == 400


def test_the_reply_link_shows_on_get_and_records_on_post(desk, tap):
    ada = desk.member()
    created = desk.create()
    desk.invite(created["session_id"], case_ids=[ada])
    link = desk.reply_link(ada)

    for _ in range(2):  # a link scanner opening it changes nothing
        page = requests.get(link, timeout=10)
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
        assert "Can you come?" in page.text and 'value="yes"' in page.text and 'value="no"' in page.text
        assert "no-referrer" == page.headers["Referrer-Policy"]
        assert "https://zoom.example.net" not in page.text  # the place stays in the message
    assert requests.head(link, timeout=10).status_code == 200
    assert desk.answers(created["session_id"]) == {ada: None}
    assert tap.of("session_reply_recorded") == []

    no_choice = requests.post(link, data={}, timeout=10)
    assert no_choice.status_code == 400 and "Please choose Yes or No" in no_choice.text
    yes = requests.post(link, data={"answer": "yes"}, timeout=10)
    assert yes.status_code == 200 and "see you there" in yes.text
    assert desk.answers(created["session_id"]) == {ada: "yes"}
    assert desk.detail(created["session_id"])["seats_taken"] == 1
    (event,) = tap.wait_for("session_reply_recorded")
    assert event["case_id"] == ada and event["data"]["answer"] == "yes" and event["data"]["via"] == "link"
    assert "zoom" not in str(event["data"])
    assert requests.post(link, data={"answer": "yes"}, timeout=10).status_code == 200  # twice: one seat
    assert desk.detail(created["session_id"])["seats_taken"] == 1
    assert "You told us: yes" in requests.get(link, timeout=10).text

    no = requests.post(link, data={"answer": "no"}, timeout=10)
    assert no.status_code == 200 and "Thank you for letting us know" in no.text
    assert desk.answers(created["session_id"]) == {ada: "no"}
    assert desk.detail(created["session_id"])["seats_taken"] == 0


def test_a_forged_or_expired_link_is_refused_with_a_clear_page_and_changes_nothing(desk):
    from services.notifications.reply_links import SESSION_REPLY, sign
    from tests.integration.sessions_support import SECRET

    ada = desk.member()
    created = desk.create()
    desk.invite(created["session_id"], case_ids=[ada])
    link = desk.reply_link(ada)
    base, token = link.rsplit("/", 1)
    subject, expiry, signature = token.split(".")
    forged = f"{base}/{subject}.{int(expiry, 36) + 3600:x}.{signature}"
    expired = f"{base}/{sign(SECRET.encode(), SESSION_REPLY, subject, later(minutes=-1))}"
    for url, status, words in [(forged, 400, "This link does not work"), (expired, 410, "This link has closed"),
                               (f"{base}/nonsense", 400, "This link does not work")]:
        for method in ("GET", "POST"):
            page = requests.request(method, url, data={"answer": "yes"}, timeout=10)
            assert (page.status_code, words in page.text) == (status, True), (url, method)
            assert "<form" not in page.text
    assert desk.answers(created["session_id"]) == {ada: None}
    assert desk.detail(created["session_id"])["seats_taken"] == 0


def test_a_yes_beyond_capacity_is_told_kindly_the_session_is_full(desk):
    ada, bo = desk.member(), desk.member(person__email="bo@example.org")
    created = desk.create(capacity=1)
    session_id = created["session_id"]
    desk.invite(session_id, all_accepted=True)
    assert requests.post(desk.reply_link(ada), data={"answer": "yes"}, timeout=10).status_code == 200

    full = desk.call("POST", f"/sessions/{session_id}/replies", body={"case_id": bo, "answer": "yes"})
    assert full.status_code == 409 and full.json()["error"] == "session_full"
    page = requests.post(desk.reply_link(bo), data={"answer": "yes"}, timeout=10)
    assert page.status_code == 409 and "Sorry, this session is full" in page.text
    assert desk.answers(session_id) == {ada: "yes", bo: None}
    lower = desk.call("PATCH", f"/sessions/{session_id}", body={"version": 1, "capacity": 1})
    assert lower.status_code == 400  # the same capacity: nothing to change

    said_no = desk.call("POST", f"/sessions/{session_id}/replies", body={"case_id": ada, "answer": "no"})
    assert said_no.status_code == 200 and said_no.json()["changed"] is True
    took = desk.call("POST", f"/sessions/{session_id}/replies", body={"case_id": bo, "answer": "yes"})
    assert took.status_code == 200
    assert desk.answers(session_id) == {ada: "no", bo: "yes"}
    assert desk.detail(session_id)["seats_taken"] == 1
    raised = desk.call("PATCH", f"/sessions/{session_id}", body={"version": 1, "capacity": 2})
    assert raised.status_code == 200 and raised.json()["seats_taken"] == 1
    stranger = desk.call("POST", f"/sessions/{session_id}/replies", body={"case_id": "case-x", "answer": "yes"})
    assert stranger.status_code == 400 and "case_id" in stranger.json()["fields"]
