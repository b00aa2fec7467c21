"""Who saw which case, across the three services over the real broker; subject access likewise."""
import json

import requests

from services.notifications.service import NotificationsService
from services.referrals.sar import document_of_file, render_html
from services.referrals.service import ReferralsService
from services.safety.service import SafetyService
from tests.support import referral, wait_until


def start(container_factory, service_config, *service_classes, **overrides):
    urls = {}
    for service_cls in service_classes:
        config = service_config(service_cls.name, **overrides)
        container_factory(service_cls, config).start()
        urls[service_cls.name] = f"http://{config['WEB_SERVER_ADDRESS']}"
    return urls


def call(url, token, **kwargs):
    return requests.get(url, headers={"Authorization": f"Bearer {token}", "X-Correlation-ID": "corr-audit-1"},
                        timeout=15, **kwargs)


def submit(urls, tokens):
    response = requests.post(f"{urls['referrals']}/referrals", data=json.dumps(referral()), timeout=10,
                             headers={"Authorization": f"Bearer {tokens['mind']}", "Content-Type": "application/json"})
    assert response.status_code == 201, response.text
    return response.json()


def test_reads_in_every_service_show_in_the_audit_for_an_admin_only(container_factory, service_config, tokens,
                                                                    key_store):
    urls = start(container_factory, service_config, ReferralsService, SafetyService, NotificationsService)
    admin = key_store.create("admin")[1]
    created = submit(urls, tokens)
    case_id = created["case_id"]
    visits = wait_until(lambda: call(f"{urls['safety']}/visits", tokens["fire_officer"]).json()["items"],
                        message="the visit to be raised")
    assert call(f"{urls['referrals']}/cases/{case_id}", tokens["coordinator"]).status_code == 200
    assert call(f"{urls['notifications']}/notifications", tokens["coordinator"],
                params={"case_id": case_id}).status_code == 200
    assert call(f"{urls['referrals']}/referrals/{created['reference']}", tokens["mind"]).status_code == 200

    refused = call(f"{urls['referrals']}/audit", tokens["coordinator"], params={"case_id": case_id})
    assert refused.status_code == 403

    def trail():
        body = call(f"{urls['referrals']}/audit", admin, params={"case_id": case_id}).json()
        actions = {(e["service"], e["action"]) for e in body["items"]}
        wanted = {("referrals", "case_read"), ("referrals", "referral_status_read"),
                  ("referrals", "referral_submitted"), ("safety", "visit_list_read"),
                  ("safety", "visit_disclosed_to_fire_service"), ("notifications", "notification_log_read"),
                  ("notifications", "message_disclosed_to_referrer")}
        return body if wanted <= actions else None

    body = wait_until(trail, message="every service's entries in GET /audit")
    assert body["incomplete"] == []
    case_read = next(e for e in body["items"] if e["action"] == "case_read")
    assert case_read["role"] == "coordinator" and case_read["correlation_id"] == "corr-audit-1"
    assert case_read["actor"].startswith("coordinator:") and case_read["client"] == "127.0.0.1"
    list_read = next(e for e in body["items"] if e["action"] == "visit_list_read")
    assert list_read["role"] == "fire_officer" and list_read["case_id"] == visits[0]["case_id"] == case_id
    assert {"Ada", "Jones", "HA1 2AB", "Station Road"}.isdisjoint(set(json.dumps(body).split('"')))
    assert [e["at"] for e in body["items"]] == sorted(e["at"] for e in body["items"])


def test_subject_access_holds_every_service_and_is_itself_audited(container_factory, service_config, tokens,
                                                                  key_store):
    urls = start(container_factory, service_config, ReferralsService, SafetyService, NotificationsService)
    admin = key_store.create("admin")[1]
    created = submit(urls, tokens)
    wait_until(lambda: call(f"{urls['notifications']}/notifications", tokens["coordinator"],
                            params={"case_id": created["case_id"]}).json()["items"], message="messages")
    wait_until(lambda: [m for m in call(f"{urls['notifications']}/notifications", tokens["coordinator"],
                                        params={"case_id": created["case_id"]}).json()["items"]
                        if m["audience"] == "person" and m["status"] == "sent"], message="the welcome sent")
    assert call(f"{urls['referrals']}/subject-access", tokens["coordinator"],
                params={"reference": created["reference"]}).status_code == 403

    document = call(f"{urls['referrals']}/subject-access", admin, params={"reference": created["reference"]}).json()
    assert document["complete"] is True and document["incomplete"] == []
    services = document["services"]
    assert services["referrals"]["person"]["family_name"] == "Jones"
    assert services["referrals"]["referrals"][0]["reference"] == created["reference"]
    assert services["safety"]["assessments"][0]["case_id"] == created["case_id"]
    welcome = next(m for m in services["notifications"]["messages"] if m["template"] == "person_welcome")
    assert "Ada" in welcome["rendered"]["text"]
    assert any(e["action"] == "subject_access_export" and e["role"] == "admin" for e in document["audit"])

    page = call(f"{urls['referrals']}/subject-access", admin,
                params={"reference": created["reference"], "format": "html"})
    assert page.headers["Content-Type"].startswith("text/html")
    assert document_of_file(page.text)["services"]["referrals"]["person"]["given_name"] == "Ada"
    assert "Ada" in page.text.split("<script")[0]  # the readable part shows the messages too


def test_subject_access_names_a_service_that_does_not_answer(container_factory, service_config, tokens, key_store):
    # safety is not running: its part is missing and the file says so
    urls = start(container_factory, service_config, ReferralsService, NotificationsService,
                 GATHER_TIMEOUT_SECONDS=2)
    admin = key_store.create("admin")[1]
    created = submit(urls, tokens)
    document = call(f"{urls['referrals']}/subject-access", admin, params={"reference": created["reference"]}).json()
    assert document["complete"] is False
    assert document["services"]["safety"] is None
    assert document["incomplete"] == [document["incomplete"][0]] and document["incomplete"][0].startswith(
        "safety did not answer")
    assert document["services"]["notifications"] is not None
    assert "Incomplete:</strong> safety did not answer" in render_html(document)
