"""The mail provider's bounce webhook over the real wire: a failing address falls back to a text."""
from __future__ import annotations

import json

import pytest
import requests

from services.notifications.inbound import sign
from tests.integration.notifications_peers import smtp
from tests.support import referral, wait_until

SECRET = "the-secret-we-share-with-the-providers"
PERSON_EMAIL = "ada@example.org"  # tests.support's referral
MOBILE = "+447700900123"


@pytest.fixture
def notifications(start_notifications, mailbox, sms_provider):
    return start_notifications(**smtp(mailbox), SMS_INBOUND_SECRET=SECRET, SMS_ENDPOINT=sms_provider.url,
                               SMS_API_KEY="k", QUIET_HOURS="off")


def post_bounce(service, body, secret=SECRET):
    data = json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if secret:
        headers["X-Signature"] = sign(secret, data)
    return requests.post(f"{service.url}/inbound/email-bounce", data=data, headers=headers, timeout=10)


def welcomed_by_email(api, notifications, mailbox):
    response = api.refer(referral())
    assert response.status_code == 201, response.text
    case_id = response.json()["case_id"]
    welcome = wait_until(lambda: mailbox.to(PERSON_EMAIL), message="the welcome email")[0]
    return case_id, welcome


def texts_to_the_person(sms_provider):
    return [r["json"]["text"] for r in sms_provider.requests if r["json"]["to"] == MOBILE]


def test_a_bounce_must_be_signed(api, notifications, mailbox, sms_provider):
    _, welcome = welcomed_by_email(api, notifications, mailbox)
    body = {"email": PERSON_EMAIL, "kind": "hard", "notification_id": welcome["Message-ID"]}
    assert post_bounce(notifications, body, secret=None).status_code == 401
    assert post_bounce(notifications, body, secret="another secret").status_code == 401
    assert notifications.db["inbound"].count_documents({}) == 0
    response = post_bounce(notifications, {**body, "kind": "bounced"})
    assert response.status_code == 400 and "kind" in response.json()["fields"]
    assert texts_to_the_person(sms_provider) == []


def test_a_hard_bounce_sends_the_message_again_by_text_once_and_later_ones_skip_the_address(
        api, notifications, mailbox, sms_provider):
    case_id, welcome = welcomed_by_email(api, notifications, mailbox)
    body = {"email": PERSON_EMAIL.upper(), "kind": "hard", "notification_id": welcome["Message-ID"]}
    response = post_bounce(notifications, body)
    assert response.status_code == 200 and response.json()["outcome"] == "hard_bounce"

    (text,) = wait_until(lambda: texts_to_the_person(sms_provider), message="the welcome again, by text")
    assert text.startswith("Hello Ada, a warm welcome to the Harrow Peer Support Group.")
    entry = wait_until(lambda: next((e for e in api.case(case_id)["timeline"] if e["type"] == "email_bounced"),
                                    None), message="the coordinator's timeline to hear of it")
    assert entry["summary"].startswith("Email 'person_welcome' to the person bounced")
    assert PERSON_EMAIL not in entry["summary"]
    contacts = notifications.db["contacts"].find_one({"_id": case_id})
    assert contacts["failing_emails"] == [PERSON_EMAIL]

    # the same bounce again changes nothing
    assert post_bounce(notifications, body).json()["outcome"] == "hard_bounce"
    # the next message to the person goes by text, not to the failing address
    assert api.move(case_id, "accepted").status_code == 200
    invitation = notifications.wait_status(case_id, "person_invitation", "sent")
    assert (invitation["channel"], invitation["to"]) == ("sms", {"phone": MOBILE})
    wait_until(lambda: len(texts_to_the_person(sms_provider)) == 2, message="the invitation by text")
    assert len(mailbox.to(PERSON_EMAIL)) == 1  # only the welcome that bounced
    welcomes = list(notifications.db["notifications"].find({"case_id": case_id, "template": "person_welcome"}))
    assert sorted(d["channel"] for d in welcomes) == ["email", "sms"]


def test_a_soft_bounce_is_only_recorded(api, notifications, mailbox, sms_provider, tap):
    case_id, welcome = welcomed_by_email(api, notifications, mailbox)
    response = post_bounce(notifications, {"email": PERSON_EMAIL, "kind": "soft",
                                           "notification_id": welcome["Message-ID"]})
    assert response.json()["outcome"] == "soft_bounce"
    unmatched = post_bounce(notifications, {"email": "someone@example.org", "kind": "hard",
                                            "notification_id": welcome["Message-ID"]})
    assert unmatched.json()["outcome"] == "unmatched"
    assert notifications.db["inbound"].count_documents({}) == 2
    assert tap.of("email_bounced") == [] and texts_to_the_person(sms_provider) == []
    assert "failing_emails" not in notifications.db["contacts"].find_one({"_id": case_id})
