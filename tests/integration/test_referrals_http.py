"""The referrals HTTP API on the real broker and Mongo-wire server: bad input changes nothing."""
import json

import pytest
import requests

from services.referrals.service import ReferralsService
from tests.support import referral


@pytest.fixture
def referrals(container_factory, service_config, mongo_client, databases):
    config = service_config("referrals")
    container = container_factory(ReferralsService, config)
    container.start()
    base = f"http://{config['WEB_SERVER_ADDRESS']}"
    cases = mongo_client[databases["referrals"]]["cases"]
    return base, cases


def post(base, token=None, body=None, data=None, headers=None):
    headers = dict(headers or {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if body is not None:
        data = json.dumps(body)
        headers.setdefault("Content-Type", "application/json")
    return requests.post(f"{base}/referrals", data=data, headers=headers, timeout=10)


BAD_REQUESTS = [
    # (why, request kwargs, status, error code)
    ("no token", dict(body=referral()), 401, "unauthenticated"),
    ("unknown token", dict(token="rh_not-a-real-token", body=referral()), 401, "unauthenticated"),
    ("fire officer may not refer", dict(token="fire_officer", body=referral()), 403, "forbidden"),
    ("partner claims another agency", dict(token="rethink", body=referral()), 403, "forbidden"),
    ("malformed JSON", dict(token="mind", data="{not json", headers={"Content-Type": "application/json"}),
     400, "bad_request"),
    ("wrong content type", dict(token="mind", data="a=b", headers={"Content-Type": "text/plain"}),
     415, "unsupported_media_type"),
    ("body over 64 KiB", dict(token="mind", body=referral({"reason": "x" * (65 * 1024)})), 413,
     "payload_too_large"),
    ("invalid field", dict(token="mind", body=referral({"person.address.postcode": "NOT A POSTCODE"})),
     400, "validation_error"),
]


@pytest.mark.parametrize("why,kwargs,status,code", BAD_REQUESTS, ids=[r[0] for r in BAD_REQUESTS])
def test_bad_requests_are_refused_and_write_nothing(referrals, tokens, why, kwargs, status, code):
    base, cases = referrals
    if kwargs.get("token") in tokens:
        kwargs["token"] = tokens[kwargs["token"]]
    response = post(base, **kwargs)
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"] == code
    assert cases.count_documents({}) == 0


def test_field_errors_use_dotted_paths(referrals, tokens):
    base, _ = referrals
    response = post(base, tokens["mind"], referral({"person.address.postcode": "NOT A POSTCODE",
                                                    "hoarding.clutter_image_rating": {"garage": 3}}))
    fields = response.json()["fields"]
    assert "person.address.postcode" in fields
    assert any(key.startswith("hoarding.clutter_image_rating") for key in fields)


def test_a_valid_referral_is_stored_with_its_event_in_one_document(referrals, tokens):
    base, cases = referrals
    response = post(base, tokens["mind"], referral())
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "received"
    assert body["reference"].startswith("HRW-")
    case = cases.find_one({"_id": body["case_id"]})
    assert case["level"] == 3 and case["cir_max"] == 7
    assert [e["type"] for e in case["timeline"]] == ["referral_received"]
    # the event is either still in the outbox or already published
    pending = list((case.get("outbox") or {}).values())
    assert all(e["event"]["event_type"] == "referral_received" for e in pending)
    assert "reason" not in json.dumps([e["event"]["data"] for e in pending])


def test_health_answers_when_broker_and_database_do(referrals):
    base, _ = referrals
    response = requests.get(f"{base}/health", timeout=10)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


@pytest.mark.parametrize("method,path", [("GET", "/nope"), ("DELETE", "/referral"), ("PUT", "/cases/x/y")])
def test_unknown_routes_answer_in_json(referrals, method, path):
    base, _ = referrals
    response = requests.request(method, f"{base}{path}", timeout=10)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


@pytest.mark.parametrize("why,data", [
    ("nested too deeply", "[" * 5000 + "]" * 5000),
    ("a lone surrogate", json.dumps(referral({"person.family_name": "Jo\udfffnes"}))),
])
def test_hostile_bodies_are_400_not_500_and_write_nothing(referrals, tokens, why, data):
    base, cases = referrals
    response = post(base, tokens["mind"], data=data, headers={"Content-Type": "application/json",
                                                               "Idempotency-Key": "hostile"})
    assert response.status_code == 400, response.text
    assert cases.count_documents({}) == 0


def test_a_chunked_body_is_read(referrals, tokens):
    base, cases = referrals
    payload = json.dumps(referral()).encode()
    response = requests.post(f"{base}/referrals", data=iter([payload[:100], payload[100:]]), timeout=10,
                             headers={"Authorization": f"Bearer {tokens['mind']}",
                                      "Content-Type": "application/json"})
    assert response.status_code == 201, response.text
    assert cases.count_documents({}) == 1


def test_a_huge_page_number_is_a_field_error(referrals, tokens):
    base, _ = referrals
    response = requests.get(f"{base}/cases", params={"page": "99999999999999999999"}, timeout=10,
                            headers={"Authorization": f"Bearer {tokens['coordinator']}"})
    assert response.status_code == 400 and "page" in response.json()["fields"]


def test_bearer_scheme_is_case_insensitive_and_odd_correlation_ids_are_replaced(referrals, tokens):
    base, _ = referrals
    response = requests.get(f"{base}/cases", timeout=10, headers={
        "Authorization": f"bearer {tokens['coordinator']}", "X-Correlation-ID": "ada@example.org " * 10})
    assert response.status_code == 200
    assert "@" not in response.headers["X-Correlation-ID"]
    kept = requests.get(f"{base}/cases", timeout=10, headers={
        "Authorization": f"Bearer {tokens['coordinator']}", "X-Correlation-ID": "mind-batch-42"})
    assert kept.headers["X-Correlation-ID"] == "mind-batch-42"


def test_the_root_answers_in_json(referrals):
    base, _ = referrals
    assert requests.get(f"{base}/", timeout=10).json()["openapi"] == "/openapi.json"
