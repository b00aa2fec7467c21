"""The delivery log's HTTP contract (API.md), its OpenAPI document, and configuration checked at start."""
from __future__ import annotations

import json
from copy import deepcopy

import pytest
import requests

from services.notifications.group import GroupDetailsInvalid
from services.notifications.messages import load_group
from services.notifications.service import NotificationsService
from tests.integration.notifications_peers import PERSON_EMAIL, body, referral_received, smtp
from tests.support import wait_until


def get_log(service, token=None, **params):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(f"{service.url}/notifications", params=params, headers=headers, timeout=10)


def test_only_coordinators_read_the_delivery_log(start_notifications, tokens):
    service = start_notifications()
    assert get_log(service, case_id="c-1").status_code == 401
    assert get_log(service, "rh_not-a-real-token", case_id="c-1").status_code == 401
    for role in ("mind", "fire_officer"):
        response = get_log(service, tokens[role], case_id="c-1")
        assert response.status_code == 403, role
        assert response.json()["error"] == "forbidden"
    response = get_log(service, tokens["coordinator"], case_id="c-1")
    assert response.status_code == 200
    assert response.json() == {"items": [], "replies": []}


@pytest.mark.parametrize("params", [{}, {"case_id": ""}, {"case": "c-1"}])
def test_the_delivery_log_needs_a_case_id(start_notifications, tokens, params):
    response = get_log(start_notifications(), tokens["coordinator"], **params)
    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"
    assert "case_id" in response.json()["fields"]


def test_the_log_lists_one_case_in_order(start_notifications, mailbox, tokens):
    service = start_notifications(**smtp(mailbox), NOTIFY_TRIAGE_WAIT_SECONDS=0.2)
    first, other = referral_received(), referral_received()
    service.publish(first)
    service.publish(other)
    wait_until(lambda: service.settled(first["case_id"]), message="all sent")
    items = get_log(service, tokens["coordinator"], case_id=first["case_id"]).json()["items"]
    assert len(items) == 3 and {i["case_id"] for i in items} == {first["case_id"]}
    assert [i["created_at"] for i in items] == sorted(i["created_at"] for i in items)
    assert all(i["notification_id"].startswith(first["event_id"]) for i in items)


def test_openapi_publishes_the_delivery_log(start_notifications):
    service = start_notifications()
    spec = requests.get(f"{service.url}/openapi.json", timeout=10).json()
    operation = spec["paths"]["/notifications"]["get"]
    (case_id,) = [p for p in operation["parameters"] if p["name"] == "case_id"]
    assert case_id["in"] == "query" and case_id["required"] is True
    assert {"200", "400", "401", "403"} <= set(operation["responses"])
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    log_schema = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    entry_ref = log_schema["properties"]["items"]["items"]["$ref"]
    entry = spec["components"]["schemas"][entry_ref.rsplit("/", 1)[1]]
    api_fields = {"notification_id", "case_id", "audience", "template", "channel", "status",
                  "attempts", "created_at"}
    assert api_fields <= set(entry["properties"]) and api_fields <= set(entry["required"])
    assert entry["properties"]["audience"]["enum"] == ["person", "referrer", "coordinator",
                                                       "fire_service", "supporter"]
    # API.md's statuses, and ready_to_print (a letter not yet posted) added
    assert entry["properties"]["status"]["enum"] == ["pending", "sent", "failed", "suppressed", "ready_to_print"]
    assert "/health" in spec["paths"] and "/openapi.json" in spec["paths"]


def test_unknown_routes_answer_in_json(start_notifications):
    service = start_notifications()
    response = requests.get(f"{service.url}/notification", timeout=10)
    assert response.status_code == 404 and response.json()["error"] == "not_found"


def test_health(start_notifications):
    service = start_notifications()
    response = requests.get(f"{service.url}/health", timeout=10)
    assert response.status_code == 200 and response.json()["status"] == "ok"


# --- configuration -------------------------------------------------------------------

def test_group_details_come_from_the_configured_file(start_notifications, mailbox, tmp_path):
    group = deepcopy(load_group())
    group["coordinator"].update(name="Morgan Adeyemi", phone="020 7946 0999")
    group["call_within_working_days"] = 3
    path = tmp_path / "group.json"
    path.write_text(json.dumps(group), encoding="utf-8")
    service = start_notifications(**smtp(mailbox), GROUP_DETAILS_PATH=str(path))
    service.publish(referral_received())
    welcome = wait_until(lambda: mailbox.to(PERSON_EMAIL), message="the welcome")[0]
    assert "Morgan Adeyemi" in body(welcome) and "020 7946 0999" in body(welcome)
    assert "within 3 working days" in body(welcome)
    assert load_group()["coordinator"]["name"] not in body(welcome)


def _broken(field_path, value):
    group = deepcopy(load_group())
    *parents, leaf = field_path.split(".")
    target = group
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if value is None:
        del target[leaf]
    else:
        target[leaf] = value
    return group


@pytest.mark.parametrize("group, field", [
    (_broken("coordinator.phone", None), "coordinator.phone"),
    (_broken("coordinator.email", "not an email"), "coordinator.email"),
    (_broken("online.link", "zoom somewhere"), "online.link"),
    (_broken("call_within_working_days", "five"), "call_within_working_days"),
    (_broken("huddle", None), "huddle"),
])
def test_invalid_group_details_stop_the_service_at_start(container_factory, service_config, tmp_path,
                                                         group, field):
    path = tmp_path / "group.json"
    path.write_text(json.dumps(group), encoding="utf-8")
    container = container_factory(NotificationsService,
                                  service_config("notifications", GROUP_DETAILS_PATH=str(path)))
    with pytest.raises(GroupDetailsInvalid) as failure:
        container.start()
    assert field in str(failure.value)


@pytest.mark.parametrize("content, says", [(None, "cannot read"), ("{not json", "not JSON"),
                                           ("[]", "JSON object")])
def test_unreadable_group_details_stop_the_service(container_factory, service_config, tmp_path,
                                                   content, says):
    path = tmp_path / "group.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    container = container_factory(NotificationsService,
                                  service_config("notifications", GROUP_DETAILS_PATH=str(path)))
    with pytest.raises(GroupDetailsInvalid, match=says):
        container.start()


@pytest.mark.parametrize("setting", [{"QUIET_HOURS": "after dinner"}, {"NOTIFY_MAX_ATTEMPTS": "0"}])
def test_bad_delivery_settings_stop_the_service(container_factory, service_config, setting):
    container = container_factory(NotificationsService, service_config("notifications", **setting))
    with pytest.raises(ValueError):
        container.start()
