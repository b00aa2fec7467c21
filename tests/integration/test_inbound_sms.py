"""The SMS provider's webhook over the real wire: signed texts, STOP through referrals and back, replies."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from services.notifications.inbound import sign
from services.notifications.messages import load_group
from tests.support import referral, wait_until

SECRET = "the-secret-we-share-with-the-sms-provider"
MOBILE = "+447700900123"  # tests.support's referral: "07700 900123"
COORDINATOR_PHONE = load_group()["coordinator"]["phone"]
CONFIRMATION = f"You won't get any more messages from us. If you change your mind, call {COORDINATOR_PHONE}.\n"


@pytest.fixture
def notifications(start_notifications, sms_provider):
    return start_notifications(SMS_INBOUND_SECRET=SECRET, SMS_ENDPOINT=sms_provider.url, SMS_API_KEY="k",
                               QUIET_HOURS="off")


def post_sms(service, body, secret=SECRET, signature=None, raw=None, content_type="application/json"):
    data = raw if raw is not None else json.dumps(body).encode()
    headers = {"Content-Type": content_type}
    if signature is not None or secret is not None:
        headers["X-Signature"] = signature if signature is not None else sign(secret, data)
    return requests.post(f"{service.url}/inbound/sms", data=data, headers=headers, timeout=10)


def sms(text, message_id="SM-1", sender=MOBILE):
    return {"from": sender, "text": text, "message_id": message_id}


def refer_and_wait(api, notifications, changes=None):
    response = api.refer(referral(changes))
    assert response.status_code == 201, response.text
    case_id = response.json()["case_id"]
    wait_until(lambda: notifications.db["contacts"].find_one({"_id": case_id}), message="the contacts")
    return case_id


def confirmations(sms_provider):
    return [r["json"] for r in sms_provider.requests if r["json"]["text"] == CONFIRMATION]


# --- the signature -----------------------------------------------------------------------------------

@pytest.mark.parametrize("secret, signature", [
    (None, None),                               # no signature
    ("not-the-secret", None),                   # signed with another secret
    (SECRET, "sha256=" + "0" * 64),             # made up
])
def test_an_unsigned_or_wrongly_signed_text_is_refused_and_changes_nothing(api, notifications, tap, sms_provider,
                                                                         secret, signature):
    refer_and_wait(api, notifications)
    response = post_sms(notifications, sms("STOP"), secret=secret, signature=signature)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthenticated"
    assert notifications.db["inbound"].count_documents({}) == 0
    assert tap.of("sms_stop_received") == [] and confirmations(sms_provider) == []


def test_a_text_signed_for_another_body_is_refused(notifications):
    signature = sign(SECRET, json.dumps(sms("hello")).encode())
    assert post_sms(notifications, sms("STOP"), signature=signature).status_code == 401


def test_without_a_configured_secret_every_text_is_refused(start_notifications):
    service = start_notifications()  # SMS_INBOUND_SECRET unset
    assert post_sms(service, sms("STOP"), secret="").status_code == 401
    assert service.db["inbound"].count_documents({}) == 0


@pytest.mark.parametrize("body, field", [
    ({"text": "STOP", "message_id": "SM-1"}, "from"),
    ({"from": MOBILE, "message_id": "SM-1"}, "text"),
    ({"from": MOBILE, "text": "STOP"}, "message_id"),
    ({"from": "call me", "text": "STOP", "message_id": "SM-1"}, "from"),
    ({"from": MOBILE, "text": "STOP", "message_id": ""}, "message_id"),
])
def test_a_signed_but_invalid_text_is_a_400_naming_the_field(notifications, body, field):
    response = post_sms(notifications, body)
    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert notifications.db["inbound"].count_documents({}) == 0


def test_a_body_that_is_not_json_is_refused(notifications):
    assert post_sms(notifications, None, raw=b"from=+447700900123&text=STOP",
                    content_type="application/x-www-form-urlencoded").status_code == 415
    assert post_sms(notifications, None, raw=b"{not json").status_code == 400


def test_an_unknown_number_is_recorded_as_unmatched_and_nothing_else(api, notifications, tap, sms_provider):
    refer_and_wait(api, notifications)
    response = post_sms(notifications, sms("STOP", sender="+447700900999"))
    assert response.status_code == 200
    assert response.json() == {"message_id": "SM-1", "outcome": "unmatched"}
    (doc,) = notifications.db["inbound"].find()
    assert (doc["outcome"], doc["text"], doc["case_ids"]) == ("unmatched", None, [])
    assert tap.of("sms_stop_received") == [] and tap.of("person_replied") == []


# --- STOP: consent withdrawn in the referrals case, one confirmation -----------------------------

def test_stop_withdraws_consent_in_the_case_and_is_confirmed_exactly_once(api, notifications, tap, sms_provider):
    case_id = refer_and_wait(api, notifications, {"person.preferred_contact": "sms"})
    wait_until(lambda: sms_provider.requests, message="the welcome text")
    before = len(sms_provider.requests)

    response = post_sms(notifications, sms("  Stop "))
    assert response.status_code == 200 and response.json()["outcome"] == "stop"

    def withdrawn():
        case = api.case(case_id)
        entries = {e["type"]: e for e in case["timeline"]}
        return case["consent"]["contact"] is False and {"sms_stop_received", "consent_withdrawn"} <= set(entries) \
            and entries
    entries = wait_until(withdrawn, message="consent to contact withdrawn in the case")
    assert entries["consent_withdrawn"]["summary"] == "Consent withdrawn (contact)"
    assert entries["consent_withdrawn"]["actor"] == "person:sms"
    assert entries["sms_stop_received"]["summary"].startswith("The person texted STOP")
    case = api.case(case_id)
    assert case["consent"]["withdrawn"][-1]["scope"] == "contact"
    assert case["status"] == "received"  # withdrawing contact alone does not close the case

    # referrals' consent_withdrawn came back to notifications too: its contacts record applied
    # the referral, the STOP, and that
    wait_until(lambda: len(notifications.db["contacts"].find_one({"_id": case_id})["applied_events"]) == 3,
               message="notifications to apply referrals' withdrawal")
    wait_until(lambda: confirmations(sms_provider), message="the confirmation")
    (confirmation,) = confirmations(sms_provider)
    assert confirmation["to"] == MOBILE
    assert len(sms_provider.requests) == before + 1  # the confirmation and nothing else

    # the provider sends the same text again, and the person sends STOP again: no second confirmation
    assert post_sms(notifications, sms("STOP")).json()["outcome"] == "stop"
    assert post_sms(notifications, sms("STOP", message_id="SM-2")).json()["outcome"] == "stop"
    tap.wait_for("sms_stop_received", count=2)
    wait_until(lambda: notifications.db["inbound"].count_documents({}) == 2, message="two texts kept")
    assert len(confirmations(sms_provider)) == 1
    assert len(tap.of("sms_stop_received")) == 2  # one per text, not per delivery

    # and later messages to the person are held back
    assert api.move(case_id, "accepted").status_code == 200
    invitation = notifications.wait_status(case_id, "person_invitation", "suppressed")
    assert invitation["suppressed_reason"] == "consent_withdrawn"
    assert len(sms_provider.requests) == before + 1


# --- anything else: a task for the coordinator, the words kept with the case's messages ----------

def test_a_reply_becomes_a_task_for_the_coordinator_and_its_words_stay_private(api, notifications, tap, tokens,
                                                                               caplog):
    caplog.set_level("INFO")
    case_id = refer_and_wait(api, notifications)
    words = "Could the coordinator ring after 3pm? Zanzibar-Quokka"
    response = post_sms(notifications, sms(words))
    assert response.status_code == 200 and response.json()["outcome"] == "reply"
    (event,) = tap.wait_for("person_replied")
    assert event["case_id"] == case_id and words not in json.dumps(event)

    entry = wait_until(lambda: next((e for e in api.case(case_id)["timeline"] if e["type"] == "person_replied"),
                                    None), message="the timeline entry")
    assert entry["summary"] == "The person replied by text — read it in the messages"
    alert = notifications.wait_status(case_id, "coordinator_person_replied", "sent")
    assert alert["audience"] == "coordinator"

    log = requests.get(f"{notifications.url}/notifications", params={"case_id": case_id},
                       headers={"Authorization": f"Bearer {tokens['coordinator']}"}, timeout=10).json()
    assert [(r["reply_id"], r["channel"], r["text"]) for r in log["replies"]] == [("sms:SM-1", "sms", words)]
    # the coordinator's email (in the drop folder) says where to read it, not what it says
    assert "Zanzibar-Quokka" not in Path(alert["receipt"]).read_text(encoding="utf-8")
    logged = caplog.text
    assert "inbound_sms_received" in logged and "Zanzibar-Quokka" not in logged  # never in the logs

    # erasure takes the words away
    assert api.call("POST", f"/cases/{case_id}/erasure", "coordinator", {"reason": "asked"}).status_code == 200
    wait_until(lambda: notifications.db["inbound"].find_one({"case_id": case_id})["text"] is None,
               message="the reply erased")


def test_openapi_documents_the_webhook(notifications):
    spec = requests.get(f"{notifications.url}/openapi.json", timeout=10).json()
    operation = spec["paths"]["/inbound/sms"]["post"]
    assert "X-Signature" in operation["summary"]
    assert {"200", "400", "401"} <= set(operation["responses"])
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert {"from", "text", "message_id"} <= set(body["required"])
    bounce = spec["paths"]["/inbound/email-bounce"]["post"]
    assert {"200", "400", "401"} <= set(bounce["responses"])
    ref = bounce["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert set(body["required"]) == {"email", "kind", "notification_id"}
    assert body["properties"]["kind"]["enum"] == ["hard", "soft"]
