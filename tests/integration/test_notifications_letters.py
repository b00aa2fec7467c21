"""Letters to print over the real wire: GET /letters and POST /letters/{notification_id}/posted
(services/notifications/letters.py holds the rules)."""
from __future__ import annotations

from datetime import datetime, timezone

import requests

from services.common.audit import AuditChain
from tests.integration.notifications_peers import follow_up, referral_received, smtp
from tests.support import wait_until

PERSON_LETTER = {"person__preferred_contact": "letter"}


def letters(service, token, **params):
    return requests.get(f"{service.url}/letters", params=params, headers={"Authorization": f"Bearer {token}"},
                        timeout=10)


def post(service, token, notification_id):
    return requests.post(f"{service.url}/letters/{notification_id}/posted",
                         headers={"Authorization": f"Bearer {token}"}, timeout=10)


def a_letter(service, **changes):
    """A referral whose person prefers letters: their welcome is written and waits to be printed."""
    referral = referral_received(**{**PERSON_LETTER, **changes})
    service.publish(referral)
    doc = service.wait_status(referral["case_id"], "person_welcome", "ready_to_print")
    return referral, doc


def test_a_written_letter_waits_ready_to_print_with_its_whole_text(start_notifications, mailbox, tokens):
    service = start_notifications(**smtp(mailbox), NOTIFY_TRIAGE_WAIT_SECONDS=0.2)
    first, first_doc = a_letter(service)
    second, second_doc = a_letter(service, person__given_name="Grace")
    response = letters(service, tokens["coordinator"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == 2
    assert [i["notification_id"] for i in body["items"]] == [first_doc["_id"], second_doc["_id"]]  # oldest first
    item = body["items"][0]
    assert (item["case_id"], item["template"], item["status"], item["posted_at"], item["posted_by"]) == \
        (first["case_id"], "person_welcome", "ready_to_print", None, None)
    with open(first_doc["receipt"], encoding="utf-8") as written:
        assert item["text"] == written.read()
    assert "Ada Jones\n12 Station Road\nHarrow\nHA1 2AB\n" in item["text"] and "Dear Ada" in item["text"]
    assert "Dear Grace" in body["items"][1]["text"]
    # the delivery log says so too, and nothing is posted yet
    log = requests.get(f"{service.url}/notifications", params={"case_id": first["case_id"]}, timeout=10,
                       headers={"Authorization": f"Bearer {tokens['coordinator']}"}).json()
    assert {i["template"]: i["status"] for i in log["items"]}["person_welcome"] == "ready_to_print"
    assert letters(service, tokens["coordinator"], status="sent").json() == {"items": [], "total": 0}
    # reading letters is reading personal data: audited per case
    chain = AuditChain(service.db, "notifications")
    assert "letter_read" in [e["action"] for e in chain.for_case(first["case_id"])]
    assert "letter_read" in [e["action"] for e in chain.for_case(second["case_id"])]


def test_a_coordinator_marks_a_letter_posted_once(start_notifications, mailbox, tokens, tap):
    service = start_notifications(**smtp(mailbox), NOTIFY_TRIAGE_WAIT_SECONDS=0.2)
    referral, doc = a_letter(service)
    assert tap.of("notification_sent", template="person_welcome") == []  # written is not sent
    response = post(service, tokens["coordinator"], doc["_id"])
    assert response.status_code == 200, response.text
    posted = response.json()
    assert (posted["notification_id"], posted["status"]) == (doc["_id"], "sent")
    assert posted["posted_by"].startswith("coordinator:")
    assert abs(datetime.fromisoformat(posted["posted_at"]) - datetime.now(timezone.utc)).total_seconds() < 300
    stored = service.db["notifications"].find_one({"_id": doc["_id"]})
    assert (stored["status"], stored["posted_by"]) == ("sent", posted["posted_by"])
    assert stored["sent_at"] == stored["posted_at"]
    # the case timeline (referrals) and the retention clock hear of it now, with who posted it
    [event] = tap.wait_for("notification_sent", template="person_welcome")
    assert (event["case_id"], event["data"]["channel"], event["data"]["posted_by"]) == \
        (referral["case_id"], "letter", posted["posted_by"])
    assert letters(service, tokens["coordinator"]).json()["total"] == 0
    [sent] = letters(service, tokens["coordinator"], status="sent").json()["items"]
    assert (sent["notification_id"], sent["posted_by"]) == (doc["_id"], posted["posted_by"])
    chain = AuditChain(service.db, "notifications")
    assert "letter_posted" in [e["action"] for e in chain.for_case(referral["case_id"])]

    again = post(service, tokens["coordinator"], doc["_id"])
    assert (again.status_code, again.json()["error"]) == (409, "already_posted")
    assert service.db["notifications"].find_one({"_id": doc["_id"]})["posted_at"] == stored["posted_at"]
    wait_until(lambda: service.settled(referral["case_id"]), message="the event published")
    assert len(tap.of("notification_sent", template="person_welcome")) == 1


def test_only_letters_waiting_to_be_posted_can_be_posted(start_notifications, mailbox, tokens):
    service = start_notifications(**smtp(mailbox), NOTIFY_TRIAGE_WAIT_SECONDS=0.2)
    assert post(service, tokens["coordinator"], "no-such-letter").status_code == 404
    emailed = referral_received()
    service.publish(emailed)
    email = service.wait_status(emailed["case_id"], "person_welcome", "sent")
    not_a_letter = post(service, tokens["coordinator"], email["_id"])
    assert (not_a_letter.status_code, not_a_letter.json()["error"]) == (404, "not_found")
    # the person withdrew consent to be contacted before it was posted: it must not go
    referral, doc = a_letter(service)
    service.publish(follow_up("consent_withdrawn", referral, "referrals", scope="contact", reason="no letters",
                              actor="coordinator:k1"))
    stored = service.db["notifications"].find_one({"_id": doc["_id"]})
    assert (stored["status"], stored["suppressed_reason"]) == ("suppressed", "consent_withdrawn")
    assert letters(service, tokens["coordinator"]).json()["total"] == 0
    refused = post(service, tokens["coordinator"], doc["_id"])
    assert (refused.status_code, refused.json()["error"]) == (409, "not_ready_to_print")
    assert service.db["notifications"].find_one({"_id": doc["_id"]})["status"] == "suppressed"


def test_letters_are_for_coordinators_and_the_status_is_checked(start_notifications, tokens):
    service = start_notifications()
    for who in ("mind", "fire_officer"):
        assert letters(service, tokens[who]).status_code == 403
        assert post(service, tokens[who], "any").status_code == 403
    assert requests.get(f"{service.url}/letters", timeout=10).status_code == 401
    bad = letters(service, tokens["coordinator"], status="pending")
    assert bad.status_code == 400 and set(bad.json()["fields"]) == {"status"}
    extra = letters(service, tokens["coordinator"], case="c-1")
    assert extra.status_code == 400


def test_erasure_takes_a_waiting_letter_and_its_text(start_notifications, mailbox, tokens):
    service = start_notifications(**smtp(mailbox), NOTIFY_TRIAGE_WAIT_SECONDS=0.2)
    referral, doc = a_letter(service)
    service.publish(follow_up("case_erased", referral, "referrals", actor="admin:k9"))
    assert letters(service, tokens["coordinator"]).json()["total"] == 0
    stored = service.db["notifications"].find_one({"_id": doc["_id"]})
    assert (stored["status"], stored["suppressed_reason"], stored["receipt"]) == ("suppressed", "case_erased", None)
    assert post(service, tokens["coordinator"], doc["_id"]).status_code == 409


def test_openapi_documents_the_letters(start_notifications):
    spec = requests.get(f"{start_notifications().url}/openapi.json", timeout=10).json()
    assert "get" in spec["paths"]["/letters"] and "post" in spec["paths"]["/letters/{notification_id}/posted"]
    letter = spec["components"]["schemas"]["Letter"]
    assert {"notification_id", "case_id", "template", "created_at", "status", "posted_at", "posted_by",
            "text"} <= set(letter["required"])
    assert letter["properties"]["status"]["enum"] == ["ready_to_print", "sent"]
    assert {"409", "404"} <= set(spec["paths"]["/letters/{notification_id}/posted"]["post"]["responses"])
