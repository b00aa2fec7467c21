"""Group sessions over the real wire: HTTP, RabbitMQ, the Mongo-wire server and a real SMTP peer."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
import requests
from nameko.testing.services import entrypoint_waiter

from services.common.envelope import new_event, utcnow
from services.notifications import sessions as rules
from tests.integration.notifications_peers import PERSON_EMAIL, body
from tests.integration.sessions_support import (
    SessionDesk, iso, later, mail_to, session_body, settings, wake_up,
)
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


# --- reminders, changes, cancellations -----------------------------------------------------------

def test_the_reminder_waits_on_the_broker_for_the_day_before_and_skips_those_who_said_no(desk, mailbox, tap):
    ada = desk.member()
    bo = desk.member(person__email="bo@example.org")
    cy = desk.member(person__email="cy@example.org")
    created = desk.create()
    session_id, starts_at = created["session_id"], datetime.fromisoformat(created["starts_at"])
    desk.invite(session_id, all_accepted=True)
    reminders = tap.wait_for("session_message_due", count=3, message="reminder")
    assert {e["case_id"] for e in reminders} == {ada, bo, cy}
    assert {datetime.fromisoformat(e["data"]["due_at"]) for e in reminders} == {rules.reminder_at(starts_at)}
    desk.call("POST", f"/sessions/{session_id}/replies", body={"case_id": ada, "answer": "yes"})
    desk.call("POST", f"/sessions/{session_id}/replies", body={"case_id": bo, "answer": "no"})

    wake_up(desk, ada, created, "reminder", later(hours=1), starts_at)   # not due: back on the broker
    assert desk.messages(ada, "person_session_reminder") == []
    for case_id in (ada, bo, cy):
        wake_up(desk, case_id, created, "reminder", later(seconds=-1), starts_at)
    desk.sent(ada, "person_session_reminder")
    desk.sent(cy, "person_session_reminder")
    assert desk.messages(bo, "person_session_reminder") == []
    (to_ada,) = wait_until(lambda: mail_to(mailbox, PERSON_EMAIL, "Reminder"), message="Ada's reminder")
    assert "we look forward to seeing you" in body(to_ada) and "https://zoom.example.net/j/8811" in body(to_ada)
    (to_cy,) = mail_to(mailbox, "cy@example.org", "Reminder")
    assert "Can you come?" in body(to_cy) and desk.reply_link(cy, "person_session_reminder") in body(to_cy)
    wake_up(desk, ada, created, "reminder", later(seconds=-1), starts_at)  # a duplicate: one reminder
    assert len(desk.messages(ada, "person_session_reminder")) == 1


def test_a_moved_session_tells_those_still_coming_and_reminds_them_at_the_new_time(desk, mailbox, tap):
    ada, bo = desk.member(), desk.member(person__email="bo@example.org")
    created = desk.create()
    session_id, old_start = created["session_id"], datetime.fromisoformat(created["starts_at"])
    desk.invite(session_id, all_accepted=True)
    desk.sent(ada, "person_session_invitation")
    desk.call("POST", f"/sessions/{session_id}/replies", body={"case_id": bo, "answer": "no"})
    new_start = old_start + timedelta(days=1, hours=1)
    moved = desk.call("PATCH", f"/sessions/{session_id}",
                      body={"version": 1, "starts_at": iso(new_start), "ends_at": iso(new_start + timedelta(hours=1))})
    assert moved.status_code == 200 and moved.json()["version"] == 2
    (notice,) = desk.sent(ada, "person_session_changed")
    (mail,) = wait_until(lambda: mail_to(mailbox, PERSON_EMAIL, "Change of plan"), message="the change notice")
    assert rules.when_words(new_start, new_start + timedelta(hours=1)) in body(mail)
    assert desk.messages(bo, "person_session_changed") == []   # said no: not told
    wait_until(lambda: [e for e in tap.of("session_message_due") if e["data"]["message"] == "reminder"
                        and datetime.fromisoformat(e["data"]["due_at"]) == rules.reminder_at(new_start)],
               message="a reminder at the new time")
    wake_up(desk, ada, created, "reminder", later(seconds=-1), old_start)   # made for the old time: stale
    assert desk.messages(ada, "person_session_reminder") == []
    capacity_only = desk.call("PATCH", f"/sessions/{session_id}", body={"version": 2, "capacity": 4})
    assert capacity_only.status_code == 200
    assert len(desk.messages(ada, "person_session_changed")) == 1  # nobody is told of a capacity


def test_a_cancelled_session_tells_everyone_invited_once(desk, mailbox):
    ada, bo = desk.member(), desk.member(person__email="bo@example.org")
    created = desk.create()
    session_id = created["session_id"]
    desk.invite(session_id, all_accepted=True)
    link = desk.reply_link(ada)
    desk.sent(bo, "person_session_invitation")
    desk.call("POST", f"/sessions/{session_id}/replies", body={"case_id": bo, "answer": "no"})
    no_reason = desk.call("POST", f"/sessions/{session_id}/cancel", body={"version": 1})
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["fields"]
    cancelled = desk.call("POST", f"/sessions/{session_id}/cancel",
                          body={"version": 1, "reason": "The hall is closed for repairs."})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    for address in (PERSON_EMAIL, "bo@example.org"):
        (mail,) = wait_until(lambda a=address: mail_to(mailbox, a, "Cancelled"), message=f"{address} told")
        assert "The hall is closed for repairs." in body(mail) and "zoom.example.net" not in body(mail)
    assert len(desk.messages(ada, "person_session_cancelled")) == 1
    page = requests.get(link, timeout=10)
    assert page.status_code == 410 and "This session was cancelled" in page.text
    assert requests.post(link, data={"answer": "yes"}, timeout=10).status_code == 410
    for method, path, payload in [("POST", "/cancel", {"version": 2, "reason": "again"}),
                                  ("PATCH", "", {"version": 2, "capacity": 3}),
                                  ("POST", "/invitations", {"all_accepted": True})]:
        response = desk.call(method, f"/sessions/{session_id}{path}", body=payload)
        assert (response.status_code, response.json()["error"]) == (409, "session_closed"), path
    assert desk.answers(session_id) == {ada: None, bo: "no"}


def test_quiet_hours_hold_an_invitation_and_a_cancellation_holds_it_back_for_good(start_notifications, mailbox,
                                                                                   tokens):
    desk = SessionDesk(start_notifications(**settings(mailbox, QUIET_HOURS="00:00-23:59:59")), tokens, mailbox)
    ada = desk.member()
    created = desk.create()
    desk.invite(created["session_id"], case_ids=[ada])
    (held,) = wait_until(lambda: desk.messages(ada, "person_session_invitation"), message="the invitation")
    assert held["status"] == "pending" and held["next_attempt_at"] > utcnow()
    desk.call("POST", f"/sessions/{created['session_id']}/cancel", body={"version": 1, "reason": "no room"})
    wait_until(lambda: desk.messages(ada, "person_session_invitation")[0]["status"] == "suppressed",
               message="the invitation held back")
    (doc,) = desk.messages(ada, "person_session_invitation")
    assert doc["suppressed_reason"] == "session_cancelled"
    assert desk.messages(ada, "person_session_cancelled") == []  # they never heard of it
    assert mailbox.to(PERSON_EMAIL) == []


def test_do_not_contact_and_withdrawn_consent_hold_invitations_as_for_every_message(desk, mailbox):
    quiet = desk.member(consent__contact=False, person__email="quiet@example.org")
    withdrawn = desk.member(person__email="gone@example.org")
    desk.service.publish(new_event("consent_withdrawn", case_id=withdrawn, correlation_id="corr-w",
                                   producer="referrals", data={"scope": "contact", "actor": "coordinator:k1"}))
    created = desk.create()
    desk.invite(created["session_id"], all_accepted=True)
    for case_id, reason in ((quiet, "do_not_contact"), (withdrawn, "consent_withdrawn")):
        (doc,) = wait_until(lambda c=case_id: desk.messages(c, "person_session_invitation"), message="planned")
        assert (doc["status"], doc["suppressed_reason"]) == ("suppressed", reason)
    assert mailbox.to("quiet@example.org") == []
    assert mail_to(mailbox, "gone@example.org", "You're invited") == []  # the welcome went before


# --- attendance, history, erasure ----------------------------------------------------------------

def test_attendance_after_the_session_builds_each_members_history(desk, tap):
    ada, bo = desk.member(), desk.member(person__email="bo@example.org")
    walk_in = desk.member(person__email="cy@example.org")
    stranger = desk.member(status="received", person__email="di@example.org")
    created = desk.create(kind="huddle", starts_in=timedelta(seconds=3))
    session_id = created["session_id"]
    desk.invite(session_id, case_ids=[ada, bo])
    link = desk.reply_link(ada)
    too_soon = desk.call("POST", f"/sessions/{session_id}/attendance", body={"attended": [ada]})
    assert too_soon.status_code in (409,) and too_soon.json()["error"] == "session_closed"

    path = f"/sessions/{session_id}/attendance"
    wait_until(lambda: datetime.fromisoformat(created["starts_at"]) <= utcnow(), message="the session to start")
    refused = desk.call("POST", path, body={"attended": [ada, stranger], "absent": [bo]})
    assert refused.status_code == 400 and stranger in refused.json()["fields"]["attended"][0]
    both = desk.call("POST", path, body={"attended": [ada], "absent": [ada]})
    assert both.status_code == 400
    assert desk.answers(session_id) == {ada: None, bo: None}  # nothing recorded by the refusals

    recorded = desk.call("POST", path, body={"attended": [ada, walk_in], "absent": [bo]})
    assert recorded.status_code == 200, recorded.text
    assert sorted(recorded.json()["changed"]) == sorted([ada, walk_in, bo])
    assert recorded.json()["counts"] == {"attended": 2, "absent": 1}
    events = tap.wait_for("session_attendance_recorded", count=3)
    assert {(e["case_id"], e["data"]["attended"]) for e in events} == {(ada, True), (walk_in, True), (bo, False)}
    assert all(e["data"]["kind"] == "huddle" and "dial_in" not in e["data"] for e in events)
    again = desk.call("POST", path, body={"attended": [ada]})
    assert again.json()["changed"] == []
    assert len(tap.of("session_attendance_recorded")) == 3
    assert desk.detail(session_id)["status"] == "finished"
    assert requests.post(link, data={"answer": "yes"}, timeout=10).status_code == 410

    history = desk.call("GET", "/sessions/attendance", params={"case_id": ada}).json()
    (entry,) = history["items"]
    assert (entry["session_id"], entry["kind"], entry["attendance"]) == (session_id, "huddle", "attended")
    assert entry["starts_at"] == created["starts_at"]
    (came,) = desk.call("GET", "/sessions/attendance", params={"case_id": walk_in}).json()["items"]
    assert (came["attendance"], came["invited_at"]) == ("attended", None)
    assert desk.messages(walk_in, "person_session_invitation") == []
    assert desk.call("GET", "/sessions/attendance").status_code == 400
    assert desk.call("GET", "/sessions/attendance", who="mind", params={"case_id": ada}).status_code == 403


def test_erasure_takes_a_persons_invitations_and_frees_their_seat(desk):
    ada, bo = desk.member(), desk.member(person__email="bo@example.org")
    created = desk.create(capacity=1)
    session_id = created["session_id"]
    desk.invite(session_id, all_accepted=True)
    desk.call("POST", f"/sessions/{session_id}/replies", body={"case_id": ada, "answer": "yes"})
    link = desk.reply_link(ada)
    with entrypoint_waiter(desk.service.container, "erase_session_records", timeout=10):
        desk.service._dispatch("referrals", "case_erased", new_event(
            "case_erased", case_id=ada, correlation_id="corr-e", producer="referrals",
            data={"actor": "coordinator:k1", "reason": "asked"}))
    assert desk.answers(session_id) == {bo: None}
    detail = desk.detail(session_id)
    assert detail["seats_taken"] == 0
    assert ada not in str(desk.service.db["sessions"].find_one({"_id": session_id}))
    assert desk.call("GET", "/sessions/attendance", params={"case_id": ada}).json()["items"] == []
    assert desk.service.db["members"].find_one({"_id": ada}) is None
    page = requests.get(link, timeout=10)
    assert page.status_code == 404 and "no longer works" in page.text
    took = desk.call("POST", f"/sessions/{session_id}/replies", body={"case_id": bo, "answer": "yes"})
    assert took.status_code == 200


def test_the_invitation_on_acceptance_lists_the_next_sessions_from_the_records(desk, mailbox):
    online = desk.create(starts_in=timedelta(days=5))
    desk.create(kind="huddle", starts_in=timedelta(days=6))
    desk.create(starts_in=timedelta(days=4), audience="supporters")
    cancelled = desk.create(starts_in=timedelta(days=2))
    desk.call("POST", f"/sessions/{cancelled['session_id']}/cancel", body={"version": 1, "reason": "no room"})
    ada = desk.member()
    desk.sent(ada, "person_invitation")
    (mail,) = wait_until(lambda: mail_to(mailbox, PERSON_EMAIL, "You're warmly invited"), message="the invitation")
    text = body(mail)
    start = datetime.fromisoformat(online["starts_at"])
    listed = [line for line in text.splitlines() if line.startswith("- ") and re.search(r" 20\d\d, ", line)]
    assert len(listed) == 2, text
    assert listed[0].startswith(f"- {rules.long_date(rules.london(start))}") and listed[0].endswith(", online")
    assert listed[1].endswith(", phone huddle")
    assert "will let you know the dates" not in text


def test_openapi_documents_the_session_routes(desk):
    spec = requests.get(f"{desk.url}/openapi.json", timeout=10).json()
    paths = spec["paths"]
    assert set(paths["/sessions"]) == {"get", "post"}
    assert {"get", "patch", "post"} == set(paths["/sessions/{session_id}"])
    for path in ("/sessions/{session_id}/invitations", "/sessions/{session_id}/attendance",
                 "/sessions/{session_id}/replies", "/sessions/{session_id}/cancel"):
        operation = paths[path]["post"]
        assert "coordinator" in operation["description"] and "409" in operation["responses"], path
    assert "/sessions/attendance" in paths and set(paths["/r/{token}"]) == {"get", "post"}
    create = paths["/sessions"]["post"]
    ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert {"kind", "starts_at", "ends_at", "capacity"} <= set(schema["required"])
    assert schema["properties"]["kind"]["enum"] == ["face_to_face", "online", "huddle"]
    assert "201" in create["responses"]
    assert requests.patch(f"{desk.url}/sessions", timeout=10).status_code == 405


def test_yeses_arriving_together_never_pass_the_capacity(desk):
    from concurrent.futures import ThreadPoolExecutor

    members = [desk.member(person__email=f"m{n}@example.org") for n in range(5)]
    created = desk.create(capacity=2)
    desk.invite(created["session_id"], all_accepted=True)
    links = [desk.reply_link(case_id) for case_id in members]
    with ThreadPoolExecutor(max_workers=5) as pool:
        statuses = sorted(pool.map(lambda link: requests.post(link, data={"answer": "yes"}, timeout=30).status_code,
                                   links))
    assert statuses == [200, 200, 409, 409, 409]
    answers = desk.answers(created["session_id"])
    assert sorted(a for a in answers.values() if a) == ["yes", "yes"]
    assert desk.detail(created["session_id"])["seats_taken"] == 2
    log = desk.call("GET", "/notifications", params={"case_id": members[0]}).json()["items"]
    assert any(m["template"] == "person_session_invitation" and m["status"] == "sent" for m in log)


# --- supporters ----------------------------------------------------------------------------------

SUPPORTER = {"given_name": "Bea", "family_name": "Jones", "relationship": "daughter", "email": "bea@example.org",
             "preferred_contact": "email", "person_consent": {"obtained_by": "Alex Morgan", "obtained_on": "2026-11-20"}}


def add_supporter(desk, case_id, **changes):
    response = desk.call("POST", "/supporters", body={**SUPPORTER, "case_id": case_id, **changes})
    assert response.status_code == 201, response.text
    return response.json()


def test_a_supporter_is_added_with_the_persons_consent_and_listed_for_coordinators_only(desk):
    ada = desk.member()
    bea = add_supporter(desk, ada)
    assert (bea["case_id"], bea["status"], bea["relationship"]) == (ada, "active", "daughter")
    assert bea["person_consent"] == {"obtained_by": "Alex Morgan", "obtained_on": "2026-11-20"}
    (listed,) = desk.call("GET", "/supporters", params={"case_id": ada}).json()["items"]
    assert listed["supporter_id"] == bea["supporter_id"]
    assert desk.call("GET", "/supporters", who="mind", params={"case_id": ada}).status_code == 403
    for changes, field in [({"person_consent": None}, "person_consent"), ({"case_id": "no-such-case"}, "case_id"),
                           ({"email": None}, "preferred_contact"), ({"preferred_contact": "pigeon"},
                                                                     "preferred_contact")]:
        body = {**SUPPORTER, "case_id": ada, **changes}
        refused = desk.call("POST", "/supporters", body={k: v for k, v in body.items() if v is not None})
        assert refused.status_code == 400 and field in refused.json()["fields"], (changes, refused.text)
    assert len(desk.call("GET", "/supporters", params={"case_id": ada}).json()["items"]) == 1


def test_supporters_are_invited_to_supporters_sessions_and_answer_like_members(desk, mailbox, tap):
    ada, bo = desk.member(), desk.member(person__email="bo@example.org")
    bea = add_supporter(desk, ada)
    ben = add_supporter(desk, bo, given_name="Ben", email="ben@example.org")
    created = desk.create(audience="supporters", capacity=1)
    session_id = created["session_id"]
    result = desk.invite(session_id, all_accepted=True)
    assert result["invitees"] == "supporters"
    assert sorted(result["invited"]) == sorted([bea["supporter_id"], ben["supporter_id"]])
    (mail,) = wait_until(lambda: mail_to(mailbox, "bea@example.org", "You're invited"), message="Bea's invitation")
    assert "Dear Bea" in body(mail) and "Ada" not in body(mail)
    assert mail_to(mailbox, PERSON_EMAIL, "You're invited") == []  # the member is not invited to it
    (doc,) = desk.sent(ada, "person_session_invitation")
    assert doc["audience"] == "supporter"

    link = doc["context"]["reply_link"]
    assert requests.post(link, data={"answer": "yes"}, timeout=10).status_code == 200
    full = desk.call("POST", f"/sessions/{session_id}/replies", body={"supporter_id": ben["supporter_id"],
                                                                      "answer": "yes"})
    assert full.status_code == 409 and full.json()["error"] == "session_full"
    (event,) = tap.wait_for("session_reply_recorded")
    assert (event["case_id"], event["data"]["supporter_id"]) == (ada, bea["supporter_id"])
    invitations = {i["supporter_id"]: i for i in desk.detail(session_id)["invitations"]}
    assert invitations[bea["supporter_id"]]["answer"] == "yes" and invitations[bea["supporter_id"]]["case_id"] == ada


def test_a_removed_supporter_hears_nothing_more_and_frees_their_place(desk):
    ada = desk.member()
    bea = add_supporter(desk, ada)
    created = desk.create(audience="supporters", capacity=1)
    session_id = created["session_id"]
    desk.invite(session_id, case_ids=[ada])
    (doc,) = desk.sent(ada, "person_session_invitation")
    link = doc["context"]["reply_link"]
    requests.post(link, data={"answer": "yes"}, timeout=10)
    assert desk.detail(session_id)["seats_taken"] == 1
    removed = desk.call("POST", f"/supporters/{bea['supporter_id']}/removal", body={"reason": "she asked"})
    assert removed.status_code == 200
    assert (removed.json()["status"], removed.json()["given_name"], removed.json()["email"]) == ("removed", None, None)
    assert desk.detail(session_id)["seats_taken"] == 0 and desk.detail(session_id)["invitations"] == []
    assert requests.get(link, timeout=10).status_code == 404
    assert "bea@example.org" not in str(desk.service.db["supporters"].find_one({"_id": bea["supporter_id"]}))
    (message,) = desk.messages(ada, "person_session_invitation")
    assert "bea@example.org" not in str(message) and message["erased_at"] and message["status"] == "sent"
    assert desk.call("POST", "/supporters/no-such/removal", body={"reason": "x"}).status_code == 404


def test_supporters_attendance_and_erasure_with_the_persons_case(desk, tap):
    ada = desk.member()
    bea = add_supporter(desk, ada)
    created = desk.create(audience="supporters", starts_in=timedelta(seconds=3))
    session_id = created["session_id"]
    wait_until(lambda: datetime.fromisoformat(created["starts_at"]) <= utcnow(), message="the session to start")
    recorded = desk.call("POST", f"/sessions/{session_id}/attendance", body={"attended": [bea["supporter_id"]]})
    assert recorded.status_code == 200, recorded.text
    (event,) = tap.wait_for("session_attendance_recorded")
    assert (event["case_id"], event["data"]["supporter_id"], event["data"]["attended"]) == (
        ada, bea["supporter_id"], True)
    unknown = desk.call("POST", f"/sessions/{session_id}/attendance", body={"attended": [ada]})
    assert unknown.status_code == 400  # a member's case id is not a supporter at a supporters' session
    with entrypoint_waiter(desk.service.container, "erase_session_records", timeout=10):
        desk.service._dispatch("referrals", "case_erased", new_event(
            "case_erased", case_id=ada, correlation_id="corr-e", producer="referrals",
            data={"actor": "coordinator:k1", "reason": "asked"}))
    assert desk.call("GET", "/supporters", params={"case_id": ada}).json()["items"] == []
    assert desk.detail(session_id)["invitations"] == []
