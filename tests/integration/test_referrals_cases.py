"""Referrals over the real wire: idempotency, duplicates, lifecycle, timeline, scoping, contract."""
import json
from concurrent.futures import ThreadPoolExecutor

import requests
from kombu import Connection, Exchange, Queue
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_waiter

from services.common.envelope import new_event
from tests.support import referral


# -- idempotency ---------------------------------------------------------------------
def test_same_key_and_body_replays_the_first_response(api):
    first = api.refer(key="form-42")
    again = api.refer(key="form-42")
    assert first.status_code == 201 and again.status_code == 200
    assert again.json() == first.json()
    assert api.cases.count_documents({}) == 1


def test_same_key_with_another_body_is_a_conflict(api):
    assert api.refer(key="form-43").status_code == 201
    other = api.refer(referral({"external_ref": "MIND-OTHER"}), key="form-43")
    assert other.status_code == 409
    assert api.cases.count_documents({}) == 1


def test_two_concurrent_requests_with_one_key_create_one_referral(api):
    with ThreadPoolExecutor(max_workers=2) as pool:
        responses = list(pool.map(lambda _: api.refer(key="form-44"), range(2)))
    assert sorted(r.status_code for r in responses) == [200, 201]
    assert responses[0].json() == responses[1].json()
    assert api.cases.count_documents({}) == 1


def test_keys_are_scoped_to_the_agency(api):
    rethink_body = referral({"referrer.agency": "rethink"})
    assert api.refer(key="shared-key").status_code == 201
    assert api.refer(rethink_body, who="rethink", key="shared-key").status_code == 201


# -- references and duplicates ---------------------------------------------------------
def test_references_are_sequential_per_year(api):
    first = api.refer().json()["reference"]
    second = api.refer(referral({"person.given_name": "Grace"})).json()["reference"]
    prefix, year, number = first.split("-")
    assert prefix == "HRW" and len(number) == 6
    assert second == f"HRW-{year}-{int(number) + 1:06d}"


def test_same_person_referred_again_is_linked_to_the_open_case(api):
    first = api.refer().json()
    # same person written differently by another agency
    second = api.refer(referral({"referrer.agency": "rethink", "person.given_name": " ada ",
                                 "person.address.postcode": "ha12ab"}), who="rethink").json()
    assert second["case_id"] == first["case_id"]
    assert second["reference"] != first["reference"]
    assert api.cases.count_documents({}) == 1
    case = api.case(first["case_id"])
    assert [e["type"] for e in case["timeline"]] == ["referral_received", "duplicate_referral"]
    assert [r["agency"] for r in case["referrals"]] == ["mind", "rethink"]
    # each referrer follows their own reference
    assert api.call("GET", f"/referrals/{second['reference']}", "rethink").status_code == 200


def test_a_closed_case_does_not_absorb_a_new_referral(api):
    first = api.refer().json()
    assert api.move(first["case_id"], "rejected", "not in Harrow").status_code == 200
    second = api.refer().json()
    assert second["case_id"] != first["case_id"]


# -- closed loop and agency scoping ------------------------------------------------------
def test_referrer_sees_only_their_own_referrals(api):
    created = api.refer().json()
    own = api.call("GET", f"/referrals/{created['reference']}", "mind")
    assert own.status_code == 200
    assert set(own.json()) == {"reference", "status", "updated_at", "visit"}
    assert own.json()["status"] == "received"
    assert api.call("GET", f"/referrals/{created['reference']}", "rethink").status_code == 404
    assert api.call("GET", f"/referrals/{created['reference']}", "coordinator").status_code == 200
    assert api.call("GET", f"/cases/{created['case_id']}", "mind").status_code == 403
    assert api.call("GET", "/referrals/HRW-2026-999999", "mind").status_code == 404


# -- lifecycle -----------------------------------------------------------------------
def test_lifecycle_moves_record_who_when_why_and_emit_events(api, rabbit_config):
    case_id = api.refer().json()["case_id"]
    # stands in for every consumer of referrals' events (the relay publishes with mandatory=True)
    queue = Queue("test-referrals-events", Exchange("referrals.events", type="topic"),
                  routing_key="#", auto_delete=True)
    with Connection(rabbit_config["AMQP_URI"]) as conn, conn.SimpleQueue(queue) as events:
        assert api.move(case_id, "accepted").status_code == 200
        assert api.move(case_id, "on_hold", "person in hospital").status_code == 200
        response = api.move(case_id, "accepted", "back home")
        assert response.status_code == 200
        assert response.json()["status"] == "accepted"
        received = []
        while len(received) < 3:
            message = events.get(block=True, timeout=10)
            message.ack()
            if message.payload["event_type"] == "case_status_changed":
                received.append(message)
    moves = [(m.payload["data"]["from"], m.payload["data"]["to"]) for m in received]
    assert moves == [("received", "accepted"), ("accepted", "on_hold"), ("on_hold", "accepted")]
    assert all(m.payload["data"]["actor"].startswith("coordinator:") for m in received)
    assert received[1].payload["data"]["reason"] == "person in hospital"
    timeline = api.case(case_id)["timeline"]
    assert [e["type"] for e in timeline].count("case_status_changed") == 3


def test_an_illegal_move_is_409_and_changes_nothing(api):
    case_id = api.refer().json()["case_id"]
    before = api.cases.find_one({"_id": case_id})
    response = api.move(case_id, "completed")
    assert response.status_code == 409
    assert response.json()["error"] == "illegal_transition"
    after = api.cases.find_one({"_id": case_id})
    assert (after["status"], after["version"], len(after["timeline"])) == \
        (before["status"], before["version"], len(before["timeline"]))


def test_a_move_needs_a_reason_and_a_known_status(api):
    case_id = api.refer().json()["case_id"]
    response = api.call("POST", f"/cases/{case_id}/transitions", "coordinator", {"to": "flying"})
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"to", "reason"}


def test_concurrent_moves_on_one_case_cannot_both_win(api):
    case_id = api.refer().json()["case_id"]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda to: api.move(case_id, to), ["accepted", "rejected"]))
    assert sorted(r.status_code for r in results) == [200, 409]
    case = api.case(case_id)
    assert case["status"] in ("accepted", "rejected")
    assert [e["type"] for e in case["timeline"]].count("case_status_changed") == 1


def test_consent_withdrawal_all_cancels_the_case(api):
    case_id = api.refer().json()["case_id"]
    response = api.call("POST", f"/cases/{case_id}/consent-withdrawal", "coordinator",
                        {"scope": "all", "reason": "phoned to say no"})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "cancelled"
    assert body["consent"]["share_with_fire_service"] is False and body["consent"]["contact"] is False
    assert {"consent_withdrawn", "case_status_changed"} <= {e["type"] for e in body["timeline"]}


def test_erasure_removes_personal_data_and_keeps_counts(api):
    case_id = api.refer().json()["case_id"]
    assert api.move(case_id, "accepted", "Ada Jones agreed on the phone").status_code == 200
    response = api.call("POST", f"/cases/{case_id}/erasure", "coordinator", {"reason": "asked by the person"})
    assert response.status_code == 200
    # (events still waiting in the outbox are delivered, then erased downstream by case_erased)
    stored = json.dumps(api.cases.find_one({"_id": case_id}, {"outbox": 0}), default=str)
    for personal in ("Ada", "Jones", "Station Road", "HA1 2AB", "ada@example.org", "1956-02-29",
                     "Sam Patel", "never leaves"):
        assert personal not in stored
    case = api.case(case_id)
    assert (case["level"], case["cir_max"], case["status"]) == (3, 7, "cancelled")


# -- the list coordinators work from ----------------------------------------------------------
def test_cases_filter_and_sort_most_urgent_first(api):
    calm = api.refer(referral({"person.given_name": "Calm", "hoarding.clutter_image_rating": {"kitchen": 2}})).json()
    urgent = api.refer(referral({"person.given_name": "Urgent"})).json()
    middling = api.refer(referral({"person.given_name": "Mid", "hoarding.clutter_image_rating": {"kitchen": 5}})).json()
    listing = api.call("GET", "/cases", "coordinator").json()
    assert [c["case_id"] for c in listing["items"]] == [urgent["case_id"], middling["case_id"], calm["case_id"]]
    assert listing["total"] == 3
    level3 = api.call("GET", "/cases", "coordinator", params={"level": 3}).json()
    assert [c["case_id"] for c in level3["items"]] == [urgent["case_id"]]
    page2 = api.call("GET", "/cases", "coordinator", params={"per_page": 2, "page": 2}).json()
    assert [c["case_id"] for c in page2["items"]] == [calm["case_id"]] and page2["total"] == 3
    bad = api.call("GET", "/cases", "coordinator", params={"level": 7, "status": "lost"})
    assert bad.status_code == 400 and set(bad.json()["fields"]) == {"level", "status"}


# -- the timeline -----------------------------------------------------------------------
def test_timeline_takes_each_event_once_in_time_order(api):
    case_id = api.refer().json()["case_id"]
    dispatch = event_dispatcher(api.config)
    later = new_event("notification_sent", case_id=case_id, correlation_id="c", producer="notifications",
                      data={"audience": "referrer", "template": "referrer_receipt", "channel": "email"},
                      occurred_at=None)
    earlier = new_event("visit_requested", case_id=case_id, correlation_id="c", producer="safety",
                        data={"visit_id": "v-1", "priority": "high", "due_by": "2026-12-04T10:00:00+00:00"})
    earlier["occurred_at"] = "2000-01-01T00:00:00+00:00"  # arrives last, happened first
    for source, event in (("notifications", later), ("notifications", later), ("safety", earlier)):
        with entrypoint_waiter(api.container, "record_on_timeline", timeout=10):
            dispatch(source, event["event_type"], event)
    timeline = api.case(case_id)["timeline"]
    assert [e["type"] for e in timeline] == ["visit_requested", "referral_received", "notification_sent"]
    assert timeline[0]["summary"] == "Home Fire Safety Visit requested (high priority, due by Fri 4 Dec, 10:00)"
    case = api.case(case_id)
    assert case["visit"]["priority"] == "high"
    assert case["visit"]["status"] == "requested"


def test_openapi_lists_every_referrals_route_of_the_contract(api):
    spec = requests.get(f"{api.base}/openapi.json", timeout=10).json()
    expected = {("post", "/referrals"), ("get", "/referrals/{reference}"), ("get", "/cases"),
                ("get", "/cases/{case_id}"), ("post", "/cases/{case_id}/transitions"), ("get", "/health"),
                ("post", "/cases/{case_id}/consent-withdrawal")}
    published = {(method, path) for path, ops in spec["paths"].items() for method in ops}
    assert expected <= published
    body = spec["paths"]["/referrals"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"].endswith("/Referral")
    referral_schema = spec["components"]["schemas"]["Referral"]
    assert {"referrer", "person", "consent", "hoarding", "fire_risk"} <= set(referral_schema["required"])


# -- found in review -------------------------------------------------------------------
def test_referrals_for_one_person_arriving_together_share_one_case(api):
    bodies = [referral({"external_ref": f"MIND-{n}"}) for n in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(pool.map(lambda body: api.refer(body), bodies))
    assert [r.status_code for r in responses] == [201] * 4
    assert len({r.json()["case_id"] for r in responses}) == 1
    assert api.cases.count_documents({}) == 1
    types = [e["type"] for e in api.case(responses[0].json()["case_id"])["timeline"]]
    assert types.count("referral_received") == 1 and types.count("duplicate_referral") == 3


def test_a_move_keeps_who_made_it_and_why(api):
    case_id = api.refer().json()["case_id"]
    api.move(case_id, "rejected", "lives outside Harrow")
    [entry] = [e for e in api.case(case_id)["timeline"] if e["type"] == "case_status_changed"]
    assert entry["reason"] == "lives outside Harrow"
    assert entry["actor"].startswith("coordinator:")


def test_agency_left_out_of_the_form_comes_from_the_key(api):
    body = referral()
    del body["referrer"]["agency"]
    case_id = api.refer(body).json()["case_id"]
    stored = api.cases.find_one({"_id": case_id})
    assert stored["referrals"][0]["referrer"]["agency"] == "mind"


def test_a_case_needing_the_coordinator_ranks_above_calmer_ones_and_closed_cases_sink(api):
    dispatch = event_dispatcher(api.config)
    no_consent = api.refer(referral({"person.given_name": "Nell", "hoarding.clutter_image_rating": {"kitchen": 8},
                                     "consent.share_with_fire_service": False})).json()
    middling = api.refer(referral({"person.given_name": "Mid", "hoarding.clutter_image_rating": {"kitchen": 5}})).json()
    closed = api.refer(referral({"person.given_name": "Done", "hoarding.clutter_image_rating": {"kitchen": 9}})).json()
    api.move(closed["case_id"], "rejected", "duplicate of an older record")
    alert = new_event("fire_risk_without_consent", case_id=no_consent["case_id"], correlation_id="c",
                      producer="safety", data={"priority": "very_high", "cir_max": 8, "reference": "x"})
    medium = new_event("visit_requested", case_id=middling["case_id"], correlation_id="c", producer="safety",
                       data={"visit_id": "v-9", "priority": "medium", "due_by": "2026-12-27T10:00:00+00:00"})
    for event in (alert, medium):
        with entrypoint_waiter(api.container, "record_on_timeline", timeout=10):
            dispatch("safety", event["event_type"], event)
    order = [c["case_id"] for c in api.call("GET", "/cases", "coordinator").json()["items"]]
    assert order == [no_consent["case_id"], middling["case_id"], closed["case_id"]]


def test_consent_cannot_be_withdrawn_from_an_erased_case(api):
    case_id = api.refer().json()["case_id"]
    api.call("POST", f"/cases/{case_id}/erasure", "coordinator", {"reason": "asked"})
    response = api.call("POST", f"/cases/{case_id}/consent-withdrawal", "coordinator", {"scope": "all"})
    assert response.status_code == 409
