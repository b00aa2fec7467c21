"""A member's own progress in a message, if they opted in (issue 13), over the real wire:
referrals (HTTP) records the opt-in and the rating, its cir_rating_recorded crosses RabbitMQ,
and notifications writes to the person (SMTP)."""
from __future__ import annotations

from datetime import date, timedelta

from nameko.testing.services import entrypoint_waiter

from tests.integration.notifications_peers import body, smtp, subject
from tests.support import referral, wait_until

PERSON = "ada@example.org"  # tests.support.referral(): Ada, by email
PROGRESS_SUBJECTS = ("Good news about your home", "How things are going at home")


def started(api, start_notifications, mailbox):
    """Both services, and a referral rated 7 in the living room in September, once Ada was welcomed."""
    notifications = start_notifications(**smtp(mailbox))
    first_rated = date.today() - timedelta(days=70)
    created = api.refer(referral({"hoarding.rated_on": first_rated.isoformat()}))
    assert created.status_code == 201, created.text
    case_id = created.json()["case_id"]
    wait_until(lambda: mailbox.to(PERSON), message="the welcome")
    return notifications, case_id, first_rated


def opt(api, case_id, opted_in):
    return api.call("POST", f"/cases/{case_id}/progress-updates", "coordinator", {"opted_in": opted_in})


def rate(api, notifications, case_id, ratings):
    """Record a rating and wait until notifications has handled its event."""
    def is_rating(worker_ctx, result, exc_info):
        return worker_ctx.args[0]["event_type"] == "cir_rating_recorded" and exc_info is None
    with entrypoint_waiter(notifications.container, "plan_for_event", callback=is_rating, timeout=20):
        response = api.call("POST", f"/cases/{case_id}/cir-ratings", "coordinator",
                            {"ratings": ratings, "rated_on": date.today().isoformat()})
        assert response.status_code == 201, response.text
    return response.json()


def test_an_opted_in_member_hears_their_progress(api, start_notifications, mailbox):
    notifications, case_id, first_rated = started(api, start_notifications, mailbox)

    response = opt(api, case_id, True)
    assert response.status_code == 200, response.text
    choice = response.json()["progress_updates"]
    assert choice["opted_in"] is True and choice["by"].startswith("coordinator") and choice["at"]
    assert response.json()["timeline"][-1]["type"] == "progress_updates_changed"

    rate(api, notifications, case_id, {"living_room": 5, "kitchen": 5, "bedroom": 7})
    message = wait_until(lambda: [m for m in mailbox.to(PERSON) if subject(m) == "Good news about your home"],
                         message="the progress message")[0]
    text = body(message)
    assert f"Your living room went from 7 to 5 since {first_rated:%B}. Well done!" in text
    assert f"Your kitchen is at 5, the same as in {first_rated:%B}." in text
    assert f"Your bedroom went from 6 to 7 since {first_rated:%B}." in text
    assert "Jones" not in text and "Sam Patel" not in text
    sent = notifications.wait_status(case_id, "person_progress", "sent")
    assert (sent["audience"], sent["channel"]) == ("person", "email")


def test_no_message_without_an_opt_in(api, start_notifications, mailbox):
    notifications, case_id, _ = started(api, start_notifications, mailbox)
    rate(api, notifications, case_id, {"living_room": 5})  # never asked

    assert opt(api, case_id, True).status_code == 200
    response = opt(api, case_id, False)  # changed their mind
    assert response.json()["progress_updates"]["opted_in"] is False
    rate(api, notifications, case_id, {"living_room": 4})

    assert notifications.doc(case_id, "person_progress") is None
    assert not [m for m in mailbox.to(PERSON) if subject(m) in PROGRESS_SUBJECTS]


def test_a_bad_choice_is_refused_and_changes_nothing(api, start_notifications, mailbox):
    created = api.refer()
    case_id = created.json()["case_id"]
    for bad in ({}, {"opted_in": "yes"}, {"opted_in": True, "extra": 1}, {"opted_in": None}):
        response = api.call("POST", f"/cases/{case_id}/progress-updates", "coordinator", bad)
        assert response.status_code == 400, bad
    assert api.case(case_id).get("progress_updates") is None
    assert api.call("POST", f"/cases/{case_id}/progress-updates", "mind", {"opted_in": True}).status_code == 403

    assert api.call("POST", f"/cases/{case_id}/erasure", "coordinator", {"reason": "asked"}).status_code == 200
    assert opt(api, case_id, True).status_code == 409
