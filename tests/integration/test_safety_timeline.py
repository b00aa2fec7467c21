"""A fire officer's steps reach the coordinator's case timeline (referrals + safety on the real wire)."""
import json
from datetime import timedelta

import requests
from kombu import Connection, Exchange, Queue

from services.common.envelope import utcnow
from services.referrals.service import ReferralsService
from services.safety.service import SafetyService
from tests.support import referral, wait_until


def start(container_factory, service_config, rabbit_config):
    # stands in for notifications, which consumes case_status_changed: referrals publishes a
    # document's events in order, so an event nobody is bound to would hold back case_erased
    with Connection(rabbit_config["AMQP_URI"]) as conn:
        Queue("test-notifications-stand-in", Exchange("referrals.events", type="topic"),
              routing_key="case_status_changed", durable=False)(conn.default_channel).declare()
    urls = {}
    for service_cls in (ReferralsService, SafetyService):
        config = service_config(service_cls.name, OVERDUE_SWEEP_SECONDS=3600)
        container_factory(service_cls, config).start()
        urls[service_cls.name] = f"http://{config['WEB_SERVER_ADDRESS']}"
    return urls


def call(method, url, token, body=None):
    headers = {"Authorization": f"Bearer {token}"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    response = requests.request(method, url, headers=headers, timeout=10,
                                data=json.dumps(body) if body is not None else None)
    assert response.status_code in (200, 201), response.text
    return response.json()


def refer_and_wait_for_visit(urls, tokens):
    case_id = call("POST", f"{urls['referrals']}/referrals", tokens["mind"], referral())["case_id"]
    visits = wait_until(lambda: call("GET", f"{urls['safety']}/visits", tokens["fire_officer"])["items"],
                        message="the visit to reach the officers' list")
    assert visits[0]["case_id"] == case_id
    return case_id, visits[0]["visit_id"]


def timeline_statuses(urls, tokens, case_id):
    case = call("GET", f"{urls['referrals']}/cases/{case_id}", tokens["coordinator"])
    return case, [e["summary"].removeprefix("Home Fire Safety Visit ") for e in case["timeline"]
                  if e["type"] == "visit_status_changed"]


def test_each_officer_step_reaches_the_case_timeline(container_factory, service_config,
                                                     rabbit_config, tokens):
    urls = start(container_factory, service_config, rabbit_config)
    case_id, visit_id = refer_and_wait_for_visit(urls, tokens)
    visit_url, officer = f"{urls['safety']}/visits/{visit_id}", tokens["fire_officer"]
    soon = (utcnow() + timedelta(days=2)).replace(microsecond=0).isoformat()

    call("POST", f"{visit_url}/acknowledge", officer)
    call("POST", f"{visit_url}/schedule", officer, {"scheduled_for": soon})
    call("POST", f"{visit_url}/outcome", officer, {"outcome": "no_access", "notes": "No answer at 10:05"})
    call("POST", f"{visit_url}/schedule", officer, {"scheduled_for": soon})
    call("POST", f"{visit_url}/outcome", officer, {"outcome": "declined"})

    expected = ["acknowledged", "scheduled", "no access", "scheduled", "declined"]  # referrals' wording

    def every_step_shown():
        case, statuses = timeline_statuses(urls, tokens, case_id)
        return case if statuses == expected else None

    case = wait_until(every_step_shown, message="every officer step on the timeline")
    assert case["visit"]["visit_id"] == visit_id
    assert case["visit"]["status"] == "declined"
    assert "No answer" not in json.dumps(case)  # officers' notes stay in safety


def test_withdrawing_consent_to_share_cancels_the_visit_on_both_sides(container_factory, service_config,
                                                                      rabbit_config, tokens):
    urls = start(container_factory, service_config, rabbit_config)
    case_id, visit_id = refer_and_wait_for_visit(urls, tokens)
    call("POST", f"{urls['referrals']}/cases/{case_id}/consent-withdrawal", tokens["coordinator"],
         {"scope": "fire_service", "reason": "does not want LFB to visit"})

    wait_until(lambda: timeline_statuses(urls, tokens, case_id)[1] == ["cancelled"],
               message="the cancellation on the timeline")
    visit = call("GET", f"{urls['safety']}/visits/{visit_id}", tokens["fire_officer"])
    assert visit["status"] == "cancelled" and visit["person"] is None


def test_a_case_the_coordinator_cancels_cancels_its_visit_on_both_sides(container_factory, service_config,
                                                                        rabbit_config, tokens):
    urls = start(container_factory, service_config, rabbit_config)
    case_id, visit_id = refer_and_wait_for_visit(urls, tokens)
    call("POST", f"{urls['referrals']}/cases/{case_id}/transitions", tokens["coordinator"],
         {"to": "cancelled", "reason": "the person no longer wants help"})

    wait_until(lambda: timeline_statuses(urls, tokens, case_id)[1] == ["cancelled"],
               message="the visit's cancellation on the timeline")
    visit = call("GET", f"{urls['safety']}/visits/{visit_id}", tokens["fire_officer"])
    assert visit["status"] == "cancelled" and visit["person"] is None


def test_erasure_removes_the_person_from_safety(container_factory, service_config,
                                                rabbit_config, tokens):
    urls = start(container_factory, service_config, rabbit_config)
    case_id, visit_id = refer_and_wait_for_visit(urls, tokens)
    call("POST", f"{urls['referrals']}/cases/{case_id}/erasure", tokens["coordinator"],
         {"reason": "asked on the phone"})

    def erased_visit():
        visit = call("GET", f"{urls['safety']}/visits/{visit_id}", tokens["fire_officer"])
        return visit if visit["person"] is None else None

    visit = wait_until(erased_visit, message="the person to be erased from safety")
    assert visit["status"] == "cancelled"
    assert (visit["priority"], visit["risk"]["cir_max"]) == ("very_high", 7)
