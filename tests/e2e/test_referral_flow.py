"""A referral travels through all three services over the real broker and database."""
import json

import requests

from services.notifications.service import NotificationsService
from services.referrals.service import ReferralsService
from services.safety.service import SafetyService
from tests.support import referral, wait_until


def start_stack(container_factory, service_config):
    urls = {}
    for service_cls in (ReferralsService, SafetyService, NotificationsService):
        config = service_config(service_cls.name)
        container_factory(service_cls, config).start()
        urls[service_cls.name] = f"http://{config['WEB_SERVER_ADDRESS']}"
    return urls


def test_referral_reaches_every_service_and_the_case_timeline(container_factory, service_config, tokens):
    urls = start_stack(container_factory, service_config)
    response = requests.post(f"{urls['referrals']}/referrals", data=json.dumps(referral()),
                             headers={"Authorization": f"Bearer {tokens['mind']}",
                                      "Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 201, response.text
    case_id = response.json()["case_id"]
    correlation_id = response.headers["X-Correlation-ID"]
    coordinator = {"Authorization": f"Bearer {tokens['coordinator']}"}

    def timeline_complete():
        case = requests.get(f"{urls['referrals']}/cases/{case_id}", headers=coordinator, timeout=10).json()
        types = [entry["type"] for entry in case["timeline"]]
        wanted = {"referral_received", "visit_requested", "notification_sent"}
        onboarding = [e for e in case["timeline"] if e["type"] == "notification_sent" and any(
            f"'{template}'" in e["summary"] for template in ("referrer_receipt", "coordinator_alert",
                                                              "person_welcome"))]
        return case if wanted <= set(types) and len(onboarding) >= 3 else None

    case = wait_until(timeline_complete, timeout=30, message="the timeline to show all three services")
    assert {entry["source"] for entry in case["timeline"]} == {"referrals", "safety", "notifications"}
    assert {entry["correlation_id"] for entry in case["timeline"]} == {correlation_id}
    assert [e["at"] for e in case["timeline"]] == sorted(e["at"] for e in case["timeline"])
    assert case["visit"]["priority"] == "very_high"

    # the fire officer sees the visit with only what a crew needs
    visits = requests.get(f"{urls['safety']}/visits",
                          headers={"Authorization": f"Bearer {tokens['fire_officer']}"}, timeout=10).json()
    assert [v["case_id"] for v in visits["items"]] == [case_id]
    assert "narrative" not in json.dumps(visits) and "1956" not in json.dumps(visits)

    log = requests.get(f"{urls['notifications']}/notifications", params={"case_id": case_id},
                       headers=coordinator, timeout=10).json()
    sent = {(n["audience"], n["template"]) for n in log["items"] if n["status"] == "sent"}
    assert {("referrer", "referrer_receipt"), ("coordinator", "coordinator_alert"),
            ("person", "person_welcome")} <= sent
