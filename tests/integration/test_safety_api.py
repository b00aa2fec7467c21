"""The fire officers' API (API.md, Safety service) over the real broker and Mongo-wire server."""
import json
from datetime import datetime, timedelta

import eventlet
import pytest
import requests

from services.common.envelope import utcnow
from services.safety.repository import StaleVisit, VisitRepository
from tests.integration.safety_support import (
    SafetyEvents,
    auth,
    referral_received,
    send,
    start_safety,
    wait_published,
)
from tests.support import wait_until

NO_FLAGS = {"smoker": False, "oxygen_use": False, "lives_alone": False, "mobility_impaired": False,
            "previous_fire": False, "blocked_exits": False, "working_smoke_alarm": "yes"}
LOW_RISK = dict(clutter_image_rating={"bedroom": 2}, fire_risk=NO_FLAGS,
                requested={"peer_support": True, "home_fire_safety_visit": False})


@pytest.fixture
def safety(container_factory, service_config, rabbit_config):
    """A running safety service and a capture of everything it publishes."""
    events = SafetyEvents(rabbit_config["AMQP_URI"])  # bound first: nothing published is missed
    container, url, config = start_safety(container_factory, service_config)
    yield container, url, config, events
    events.close()


def raise_visit(safety, case_id="case-1", **changes):
    """Send a referral that raises a visit; returns the visit as the officer's list shows it."""
    container, url, config, events = safety
    send(container, config, referral_received(case_id, **changes))
    return events.wait_for("visit_requested", case_id=case_id)[0]["data"]["visit_id"]


def post(url, path, token, body=None, **kwargs):
    headers = auth(token)
    if body is not None:
        headers["Content-Type"] = "application/json"
        kwargs["data"] = body if isinstance(body, str) else json.dumps(body)
    return requests.post(f"{url}{path}", headers=headers, timeout=10, **kwargs)


def in_a_week():
    return (utcnow() + timedelta(days=7)).replace(microsecond=0).isoformat()


def test_referrals_reach_the_officers_list_with_the_right_priority_and_due_by(safety, tokens):
    container, url, config, events = safety
    now = utcnow().replace(microsecond=0)
    sent = [  # (case, received_at, changes) in an order unlike the expected one
        ("case-medium", now, dict(clutter_image_rating={"kitchen": 4}, fire_risk=NO_FLAGS)),
        ("case-high-later", now, dict(clutter_image_rating={"living_room": 7}, fire_risk=NO_FLAGS)),
        ("case-very-high", now, {}),
        ("case-low", now, LOW_RISK),
        ("case-high-earlier", now - timedelta(hours=1),
         dict(clutter_image_rating={"living_room": 8}, fire_risk=NO_FLAGS)),
    ]
    for case_id, received_at, changes in sent:
        send(container, config, referral_received(case_id, received_at=received_at.isoformat(), **changes))

    body = requests.get(f"{url}/visits", headers=auth(tokens["fire_officer"]), timeout=10).json()
    listed = [(v["case_id"], v["priority"], datetime.fromisoformat(v["due_by"])) for v in body["items"]]
    assert listed == [
        ("case-very-high", "very_high", now + timedelta(hours=4)),
        ("case-high-earlier", "high", now - timedelta(hours=1) + timedelta(days=7)),
        ("case-high-later", "high", now + timedelta(days=7)),
        ("case-medium", "medium", now + timedelta(days=30)),
    ]
    first = body["items"][0]
    assert first["status"] == "requested" and first["reference"] == "HRW-2026-000001"
    assert first["rule"] == "very_high.cir7_with_hazard"
    assert first["risk"] == {"cir_max": 7,
                             "flags": ["blocked_exits", "lives_alone", "smoke_alarm_unknown", "smoker"]}
    assert first["person"] == {"name": "Ada Jones", "phone": "+447700900123", "preferred_contact": "phone",
                               "access_needs": "hard of hearing",
                               "address": {"line1": "12 Station Road", "line2": "", "town": "Harrow",
                                           "postcode": "HA1 2AB"}}
    # low risk: no visit, and the person is signposted instead
    assert events.wait_for("visit_not_requested", reason="low_risk")[0]["case_id"] == "case-low"


def test_the_list_filters_by_status_and_priority_and_refuses_unknown_values(safety, tokens):
    container, url, config, events = safety
    send(container, config, referral_received("case-a"))
    send(container, config, referral_received("case-b", clutter_image_rating={"kitchen": 4}, fire_risk=NO_FLAGS))
    officer = auth(tokens["fire_officer"])
    visit_b = events.wait_for("visit_requested", priority="medium")[0]["data"]["visit_id"]
    assert post(url, f"/visits/{visit_b}/acknowledge", tokens["fire_officer"]).status_code == 200

    def cases(**query):
        response = requests.get(f"{url}/visits", params=query, headers=officer, timeout=10)
        assert response.status_code == 200, response.text
        return [v["case_id"] for v in response.json()["items"]]

    assert cases() == ["case-a", "case-b"]
    assert cases(priority="medium") == ["case-b"]
    assert cases(status="requested") == ["case-a"]
    assert cases(status="acknowledged", priority="very_high") == []

    bad = requests.get(f"{url}/visits", params={"status": "booked", "priority": "low", "colour": "red"},
                       headers=officer, timeout=10)
    assert bad.status_code == 400
    assert bad.json()["error"] == "validation_error"
    assert set(bad.json()["fields"]) == {"status", "priority", "colour"}


def test_roles(safety, tokens):
    container, url, config, events = safety
    visit_id = raise_visit(safety)
    assert requests.get(f"{url}/visits", timeout=10).status_code == 401
    assert requests.get(f"{url}/visits", headers=auth("rh_not-a-key"), timeout=10).status_code == 401
    assert requests.get(f"{url}/visits", headers=auth(tokens["mind"]), timeout=10).status_code == 403
    coordinator = auth(tokens["coordinator"])
    assert requests.get(f"{url}/visits/{visit_id}", headers=coordinator, timeout=10).status_code == 200
    # the coordinator reads; only a fire officer moves a visit
    assert post(url, f"/visits/{visit_id}/acknowledge", tokens["coordinator"]).status_code == 403
    assert post(url, f"/visits/{visit_id}/acknowledge", tokens["mind"]).status_code == 403


def test_the_full_officer_flow_publishes_each_move(safety, tokens, mongo_client, databases):
    container, url, config, events = safety
    visit_id = raise_visit(safety)
    officer = tokens["fire_officer"]
    when = in_a_week()

    acknowledged = post(url, f"/visits/{visit_id}/acknowledge", officer)
    assert acknowledged.status_code == 200, acknowledged.text
    assert acknowledged.json()["status"] == "acknowledged"
    scheduled = post(url, f"/visits/{visit_id}/schedule", officer, {"scheduled_for": when})
    assert scheduled.status_code == 200, scheduled.text
    assert scheduled.json()["status"] == "scheduled"
    assert datetime.fromisoformat(scheduled.json()["scheduled_for"]) == datetime.fromisoformat(when)
    notes = "Hallway cleared with the person; kitchen still blocked. Door code 4411."
    done = post(url, f"/visits/{visit_id}/outcome", officer,
                {"outcome": "completed", "actions": ["smoke_alarm_fitted", "escape_plan_agreed"], "notes": notes})
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed"
    assert done.json()["outcome"] == "completed"
    assert done.json()["notes"] == notes  # kept in safety for the officers

    changes = events.wait_for("visit_status_changed", count=3)
    assert [e["data"]["status"] for e in changes] == ["acknowledged", "scheduled", "completed"]
    for event in changes:
        assert event["case_id"] == "case-1"
        assert event["producer"] == "safety"
        data = event["data"]
        assert {"visit_id", "status", "priority", "due_by", "actor"} <= set(data)
        assert data["visit_id"] == visit_id and data["priority"] == "very_high"
        assert data["actor"].startswith("fire_officer:")
    assert datetime.fromisoformat(changes[1]["data"]["scheduled_for"]) == datetime.fromisoformat(when)
    assert "outcome" not in changes[1]["data"]
    assert changes[2]["data"]["outcome"] == "completed"
    assert changes[2]["data"]["actions"] == ["smoke_alarm_fitted", "escape_plan_agreed"]
    # notes never leave the safety service
    assert "Door code" not in json.dumps(events.drain())
    assert "notes" not in changes[2]["data"]
    wait_until(lambda: mongo_client[databases["safety"]]["assessments"].find_one(
        {"_id": visit_id, "outbox_pending": 0}), message="the outbox to be emptied")


def test_no_access_can_be_rebooked_and_declined(safety, tokens):
    container, url, config, events = safety
    visit_id = raise_visit(safety)
    officer = tokens["fire_officer"]
    assert post(url, f"/visits/{visit_id}/acknowledge", officer).status_code == 200
    assert post(url, f"/visits/{visit_id}/schedule", officer, {"scheduled_for": in_a_week()}).status_code == 200
    assert post(url, f"/visits/{visit_id}/outcome", officer, {"outcome": "no_access"}).status_code == 200
    rebooked = post(url, f"/visits/{visit_id}/schedule", officer, {"scheduled_for": in_a_week()})
    assert rebooked.status_code == 200, rebooked.text
    assert post(url, f"/visits/{visit_id}/outcome", officer, {"outcome": "declined"}).status_code == 200

    changes = events.wait_for("visit_status_changed", count=5)
    assert [(e["data"]["status"], e["data"].get("outcome")) for e in changes] == [
        ("acknowledged", None), ("scheduled", None), ("no_access", "no_access"),
        ("scheduled", None), ("declined", "declined")]


@pytest.mark.parametrize(("moves", "illegal"), [
    ([], ("schedule", {"scheduled_for": "+7d"})),                      # not acknowledged yet
    ([], ("outcome", {"outcome": "completed"})),
    (["acknowledge"], ("acknowledge", None)),                          # twice
    (["acknowledge"], ("outcome", {"outcome": "no_access"})),          # nobody went
    (["acknowledge", "schedule", "complete"], ("schedule", {"scheduled_for": "+7d"})),
    (["acknowledge", "schedule", "complete"], ("outcome", {"outcome": "declined"})),
])
def test_illegal_moves_are_409_and_change_nothing(safety, tokens, moves, illegal, mongo_client, databases):
    container, url, config, events = safety
    visit_id = raise_visit(safety)
    officer = tokens["fire_officer"]
    steps = {"acknowledge": ("acknowledge", None), "schedule": ("schedule", {"scheduled_for": "+7d"}),
             "complete": ("outcome", {"outcome": "completed"})}

    def do(action, body):
        if body and body.get("scheduled_for") == "+7d":
            body = {"scheduled_for": in_a_week()}
        return post(url, f"/visits/{visit_id}/{action}", officer, body)

    for step in moves:
        assert do(*steps[step]).status_code == 200
    before = requests.get(f"{url}/visits/{visit_id}", headers=auth(officer), timeout=10).json()
    response = do(*illegal)
    assert response.status_code == 409, response.text
    assert response.json()["error"] == "illegal_transition"
    after = requests.get(f"{url}/visits/{visit_id}", headers=auth(officer), timeout=10).json()
    assert after == before
    wait_published(mongo_client[databases["safety"]])
    assert len(events.of_type("visit_status_changed")) == len(moves)


def test_unknown_visit_is_404(safety, tokens):
    container, url, config, events = safety
    officer = tokens["fire_officer"]
    assert requests.get(f"{url}/visits/no-such-visit", headers=auth(officer), timeout=10).status_code == 404
    for action, body in (("acknowledge", None), ("schedule", {"scheduled_for": in_a_week()}),
                         ("outcome", {"outcome": "completed"})):
        response = post(url, f"/visits/no-such-visit/{action}", officer, body)
        assert response.status_code == 404, action
        assert response.json()["error"] == "not_found"


def test_an_assessment_without_a_visit_is_not_a_visit(safety, tokens, mongo_client, databases):
    container, url, config, events = safety
    send(container, config, referral_received("case-low", **LOW_RISK))
    assessment = mongo_client[databases["safety"]]["assessments"].find_one({"case_id": "case-low"})
    assert assessment["raised"] is False and assessment["person"] is None
    officer = auth(tokens["fire_officer"])
    assert requests.get(f"{url}/visits", headers=officer, timeout=10).json() == {
        "items": [], "total": 0, "page": 1, "per_page": 50}
    assert requests.get(f"{url}/visits/{assessment['_id']}", headers=officer, timeout=10).status_code == 404
    assert post(url, f"/visits/{assessment['_id']}/acknowledge", tokens["fire_officer"]).status_code == 404


@pytest.mark.parametrize(("action", "body", "field"), [
    ("schedule", {}, "scheduled_for"),
    ("schedule", {"scheduled_for": "next tuesday"}, "scheduled_for"),
    ("schedule", {"scheduled_for": "2030-01-01T10:00:00"}, "scheduled_for"),          # no offset
    ("schedule", {"scheduled_for": "2020-01-01T10:00:00+00:00"}, "scheduled_for"),    # in the past
    ("schedule", {"scheduled_for": "2099-01-01T10:00:00+00:00"}, "scheduled_for"),    # a typo'd year
    ("schedule", {"scheduled_for": "+7d", "crew": "Red Watch"}, "crew"),
    ("outcome", {}, "outcome"),
    ("outcome", {"outcome": "cancelled"}, "outcome"),
    ("outcome", {"outcome": "completed", "actions": ["alarm_fited"]}, "actions.0"),
    ("outcome", {"outcome": "completed", "actions": "smoke_alarm_fitted"}, "actions"),
    ("outcome", {"outcome": "completed", "actions": ["leaflet_left", "leaflet_left"]}, "actions"),
    ("outcome", {"outcome": "completed", "notes": "x" * 2001}, "notes"),
    ("outcome", {"outcome": "completed", "diagnosis": "none"}, "diagnosis"),
    ("acknowledge", {"by": "me"}, "by"),
])
def test_bad_bodies_are_400_with_field_errors_and_change_nothing(safety, tokens, action, body, field):
    container, url, config, events = safety
    visit_id = raise_visit(safety)
    officer = tokens["fire_officer"]
    if action != "acknowledge":
        assert post(url, f"/visits/{visit_id}/acknowledge", officer).status_code == 200
    if action == "outcome":
        booking = {"scheduled_for": in_a_week()}
        assert post(url, f"/visits/{visit_id}/schedule", officer, booking).status_code == 200
    if body.get("scheduled_for") == "+7d":
        body = {**body, "scheduled_for": in_a_week()}
    before = requests.get(f"{url}/visits/{visit_id}", headers=auth(officer), timeout=10).json()

    response = post(url, f"/visits/{visit_id}/{action}", officer, body)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "validation_error"
    assert field in response.json()["fields"]
    assert requests.get(f"{url}/visits/{visit_id}", headers=auth(officer), timeout=10).json() == before


def test_malformed_and_wrongly_typed_bodies(safety, tokens):
    container, url, config, events = safety
    visit_id = raise_visit(safety)
    officer = tokens["fire_officer"]
    assert post(url, f"/visits/{visit_id}/acknowledge", officer, "{not json").status_code == 400
    plain = requests.post(f"{url}/visits/{visit_id}/acknowledge", data="hello", timeout=10,
                          headers={**auth(officer), "Content-Type": "text/plain"})
    assert plain.status_code == 415
    assert post(url, f"/visits/{visit_id}/acknowledge", officer, {}).status_code == 200


def test_concurrent_moves_one_wins(safety, tokens, mongo_client, databases):
    container, url, config, events = safety
    visit_id = raise_visit(safety)
    pool = eventlet.GreenPool()
    statuses = list(pool.imap(lambda _: post(url, f"/visits/{visit_id}/acknowledge",
                                             tokens["fire_officer"]).status_code, range(8)))
    assert sorted(statuses) == [200] + [409] * 7
    wait_published(mongo_client[databases["safety"]])
    assert len(events.of_type("visit_status_changed")) == 1


def test_a_move_on_a_stale_version_is_refused(safety, mongo_client, databases):
    """Optimistic concurrency in the repository itself: two officers read version 1; the second write loses."""
    visit_id = raise_visit(safety)
    store = VisitRepository(mongo_client[databases["safety"]])
    first, second = store.get_visit(visit_id), store.get_visit(visit_id)
    store.change_visit(visit_id, first["version"], {"status": "acknowledged"}, [])
    with pytest.raises(StaleVisit):
        store.change_visit(visit_id, second["version"], {"status": "cancelled"}, [])
    assert store.get_visit(visit_id)["status"] == "acknowledged"


# API.md, "Safety service": every route, with the roles allowed.
API_MD_ROUTES = {
    ("get", "/visits"), ("get", "/visits/{visit_id}"), ("post", "/visits/{visit_id}/acknowledge"),
    ("post", "/visits/{visit_id}/schedule"), ("post", "/visits/{visit_id}/outcome"), ("get", "/health"),
    ("get", "/visits/{visit_id}.ics"),
}


def test_openapi_document_publishes_every_safety_route(safety):
    container, url, config, events = safety
    response = requests.get(f"{url}/openapi.json", timeout=10)
    assert response.status_code == 200
    document = response.json()
    published = {(method, path) for path, operations in document["paths"].items() for method in operations}
    assert API_MD_ROUTES <= published
    schemas = document["components"]["schemas"]
    outcome = document["paths"]["/visits/{visit_id}/outcome"]["post"]
    body_schema = outcome["requestBody"]["content"]["application/json"]["schema"]
    assert body_schema == {"$ref": "#/components/schemas/OutcomeRequest"}
    assert schemas["OutcomeRequest"]["additionalProperties"] is False
    assert "smoke_alarm_fitted" in schemas["OutcomeRequest"]["properties"]["actions"]["items"]["enum"]
    assert schemas["ScheduleRequest"]["required"] == ["scheduled_for"]
    assert set(schemas["CrewPerson"]["properties"]) == {"name", "address", "phone", "preferred_contact",
                                                        "access_needs"}
    assert {p["name"] for p in document["paths"]["/visits"]["get"]["parameters"]} == {
        "status", "priority", "open", "page", "per_page"}
    assert set(schemas["VisitList"]["required"]) == {"items", "total", "page", "per_page"}
    assert "409" in document["paths"]["/visits/{visit_id}/acknowledge"]["post"]["responses"]
    assert "Roles: fire_officer" == outcome["description"]


def test_unknown_routes_answer_in_json(safety, tokens):
    container, url, config, events = safety
    response = requests.get(f"{url}/visit", headers=auth(tokens["fire_officer"]), timeout=10)
    assert response.status_code == 404 and response.json()["error"] == "not_found"


def test_a_new_visit_shows_every_field_even_before_it_is_booked(safety, tokens):
    container, url, config, events = safety
    visit_id = raise_visit(safety)
    visit = requests.get(f"{url}/visits/{visit_id}", headers=auth(tokens["coordinator"]), timeout=10).json()
    assert (visit["scheduled_for"], visit["outcome"], visit["actions"], visit["notes"]) == (None, None, [], None)
    assert visit["overdue"] is False
