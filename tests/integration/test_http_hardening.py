"""Issue 11, items 6 and 7, over real HTTP: each request that worked before is refused and changes nothing."""
from __future__ import annotations

import json
import socket
from datetime import timedelta

import pytest
import requests
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_waiter

from services.common.auth import hash_token
from services.common.envelope import new_event, utcnow
from services.referrals.service import ReferralsService
from tests.integration.conftest import Api
from tests.support import referral


@pytest.fixture
def slow_api(container_factory, service_config, tokens, mongo_client, databases):
    """The referrals service with a short body deadline, so the test waits seconds, not minutes."""
    config = service_config("referrals", HTTP_BODY_TIMEOUT_SECONDS=2, HTTP_HEADER_TIMEOUT_SECONDS=2,
                            max_workers=10)
    container = container_factory(ReferralsService, config)
    container.start()
    return Api(f"http://{config['WEB_SERVER_ADDRESS']}", tokens, config, container,
               mongo_client[databases["referrals"]]["cases"])


def _stalled_body(address: str, token: str) -> socket.socket:
    """A POST /referrals whose body promises 2,000 bytes and sends ten."""
    host, port = address.split(":")
    stalled = socket.create_connection((host, int(port)), timeout=60)
    stalled.sendall((f"POST /referrals HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n"
                     f"Content-Type: application/json\r\nContent-Length: 2000\r\n\r\n{{\"external").encode())
    return stalled


def _answer_then_close(stalled: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (bounded by the socket's timeout)."""
    received = b""
    while chunk := stalled.recv(4096):
        received += chunk
    return received


def test_twelve_stalled_bodies_leave_health_and_events_working_and_are_dropped(slow_api, tokens):
    case_id = slow_api.refer().json()["case_id"]
    address = slow_api.config["WEB_SERVER_ADDRESS"]
    stalled = [_stalled_body(address, tokens["mind"]) for _ in range(12)]  # more than the 10 workers
    try:
        health = requests.get(f"{slow_api.base}/health", timeout=10)
        assert health.status_code == 200, health.text
        # an event is still handled while all twelve hang
        event = new_event("visit_requested", case_id=case_id, correlation_id="c", producer="safety",
                          data={"visit_id": "v-1", "priority": "high", "due_by": "2026-12-04T10:00:00+00:00"})
        with entrypoint_waiter(slow_api.container, "record_on_timeline", timeout=20):
            event_dispatcher(slow_api.config)("safety", event["event_type"], event)
        assert slow_api.case(case_id)["visit"]["priority"] == "high"
        # and an ordinary request from someone else is answered
        assert slow_api.call("GET", f"/cases/{case_id}", "coordinator").status_code == 200
        # each stalled client gets 408 and its connection is closed (recv returns b"" at the close)
        for each in stalled:
            answer = _answer_then_close(each)
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 408"), answer[:200]
            assert json.loads(body)["error"] == "request_timeout"
    finally:
        for each in stalled:
            each.close()
    assert slow_api.cases.count_documents({}) == 1  # none of them stored anything


def test_slow_headers_are_dropped(slow_api):
    host, port = slow_api.config["WEB_SERVER_ADDRESS"].split(":")
    with socket.create_connection((host, int(port)), timeout=60) as slow:
        slow.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # and never the rest
        assert _answer_then_close(slow) == b""  # closed without an answer, well before the 60 s timeout


def test_http_requests_leave_workers_for_events(container_factory, service_config, tokens, mongo_client,
                                                databases):
    """With every HTTP slot taken, /health still answers and events still find a worker."""
    from services.common.web import BoundedWsgiApp

    config = service_config("referrals", max_workers=4)
    container = container_factory(ReferralsService, config)
    container.start()
    server = next(ext for ext in container.subextensions if type(ext).__name__ == "BoundedWebServer")
    app = server._serv.app
    assert isinstance(app, BoundedWsgiApp)
    assert app.in_flight.balance == 2  # max_workers less the two kept for events and timers


def test_trace_and_unknown_methods_answer_json(api):
    for method, path, status in (("TRACE", "/cases", 405), ("TRACE", "/", 405), ("PROPFIND", "/nowhere", 404),
                                 ("TRACE", "/referrals", 405)):
        response = requests.request(method, f"{api.base}{path}", timeout=10)
        assert response.status_code == status, (method, path, response.text)
        assert response.headers["Content-Type"] == "application/json"
        assert response.json()["error"] == ("method_not_allowed" if status == 405 else "not_found")
        assert "<html" not in response.text.lower() and "werkzeug" not in response.text.lower()
    trace = requests.request("TRACE", f"{api.base}/cases", timeout=10)
    assert trace.headers["Allow"] == "GET, HEAD"


def test_every_json_response_says_no_store_and_nosniff(api):
    case_id = api.refer().json()["case_id"]
    responses = [api.call("GET", f"/cases/{case_id}", "coordinator"),       # personal data
                 api.call("GET", "/cases/nope", "coordinator"),             # an error
                 requests.get(f"{api.base}/cases", timeout=10),             # 401
                 requests.get(f"{api.base}/health", timeout=10),
                 requests.request("TRACE", f"{api.base}/cases", timeout=10)]
    for response in responses:
        assert response.headers["Cache-Control"] == "no-store", response.request.url
        assert response.headers["X-Content-Type-Options"] == "nosniff", response.request.url


@pytest.mark.parametrize("raw", [b'{"external_ref": 1' + b"1" * 5000 + b"}", b'{"person": {"given_name": "Ada"',
                                 b"\xff\xfe not json"])
def test_parser_messages_are_not_returned(api, raw):
    response = requests.post(f"{api.base}/referrals", data=raw, timeout=10,
                             headers={"Authorization": f"Bearer {api.tokens['mind']}",
                                      "Content-Type": "application/json"})
    assert response.status_code == 400
    message = response.json()["message"]
    assert message == "the body is not valid JSON (UTF-8, integers of at most 4300 digits)"
    for leak in ("set_int_max_str_digits", "Expecting", "line 1", "codec", "char"):
        assert leak not in response.text
    assert api.cases.count_documents({}) == 0


def test_a_long_idempotency_key_is_refused_and_stores_nothing(api):
    refused = api.refer(key="k" * 6000)
    assert refused.status_code == 400
    assert "Idempotency-Key" in refused.json()["message"]
    assert api.cases.count_documents({}) == 0
    assert api.refer(key="k" * 200).status_code == 201  # the cap itself is allowed


def test_an_expired_key_gets_401_and_changes_nothing(api, key_store):
    key_id, token = key_store.create("partner", "mind", lifetime=timedelta(hours=1))
    api.tokens["expiring"] = token
    assert api.refer(who="expiring").status_code == 201  # worked while it was valid
    key_store.keys.update_one({"key_id": key_id}, {"$set": {"expires_at": utcnow() - timedelta(seconds=1)}})
    refused = api.refer(referral({"external_ref": "MIND-LATE"}), who="expiring")
    assert refused.status_code == 401 and refused.json()["message"] == "this token has expired; ask for a new key"
    assert api.cases.count_documents({}) == 1


def test_keys_record_their_last_use_at_most_once_a_minute(api, key_store):
    key_id = key_store.create("coordinator")[0]
    token = key_store.create("coordinator")[1]
    api.tokens["used"] = token
    used = key_store.keys.find_one({"_id": hash_token(token)})
    assert used["last_used_at"] is None
    api.call("GET", "/cases", "used")
    first = key_store.keys.find_one({"_id": used["_id"]})["last_used_at"]
    assert first is not None
    api.call("GET", "/cases", "used")
    assert key_store.keys.find_one({"_id": used["_id"]})["last_used_at"] == first  # not rewritten within the minute
    assert key_store.keys.find_one({"key_id": key_id})["last_used_at"] is None  # the unused key


def test_a_burst_of_unknown_tokens_gets_429_with_retry_after(api):
    body = json.dumps(referral())
    statuses = []
    for attempt in range(25):
        response = requests.post(f"{api.base}/referrals", data=body, timeout=10,
                                 headers={"Authorization": f"Bearer rh_guess{attempt}",
                                          "Content-Type": "application/json"})
        statuses.append(response.status_code)
    assert statuses[:20] == [401] * 20
    assert set(statuses[20:]) == {429}
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert response.json()["error"] == "too_many_requests"
    # while the window lasts even a valid token from that address waits: guessing and using look alike
    assert api.refer().status_code == 429
    assert api.cases.count_documents({}) == 0


def test_keys_create_takes_expires_and_keys_list_shows_expiry_and_last_use(api, databases):
    from tests.conftest import MONGO_URI
    from tests.integration.test_cli import refhub

    env = {"MONGO_URI": MONGO_URI, "AUTH_DB": databases["auth"]}
    assert refhub("keys", "create", "--role", "coordinator", "--expires", "0d", env=env).returncode == 2
    created = refhub("keys", "create", "--role", "coordinator", "--expires", "2d", env=env)
    assert created.returncode == 0, created.stderr
    expected = f"expires {(utcnow() + timedelta(days=2)):%Y-%m-%d}"
    assert expected in created.stdout
    key_id, token = created.stdout.split()[3].rstrip(","), created.stdout.strip().splitlines()[-1]
    row = next(line for line in refhub("keys", "list", env=env).stdout.splitlines() if line.startswith(key_id))
    assert row.split()[3:5] == ["active", f"{utcnow():%Y-%m-%d}"] and row.endswith("never")
    api.tokens["cli"] = token
    assert api.call("GET", "/cases", "cli").status_code == 200
    row = next(line for line in refhub("keys", "list", env=env).stdout.splitlines() if line.startswith(key_id))
    assert row.endswith("UTC") and f"{utcnow():%Y-%m-%d}" in row.split()[-3]
