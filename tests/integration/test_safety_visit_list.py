"""GET /visits pages and filters (API.md, Additions): open visits by priority then due time,
overdue flagged, `total` on every page; bad paging input is 400 and changes nothing."""
import pytest
import requests

from tests.integration.safety_support import (
    SafetyEvents,
    ago,
    auth,
    consent_withdrawn,
    referral_received,
    send,
    start_safety,
)
from tests.integration.test_safety_api import NO_FLAGS, in_a_week, post

MEDIUM = dict(clutter_image_rating={"kitchen": 4}, fire_risk=NO_FLAGS)
HIGH = dict(clutter_image_rating={"living_room": 7}, fire_risk=NO_FLAGS)


@pytest.fixture
def listed(container_factory, service_config, rabbit_config, tokens):
    """Seven visits: five open (one of them overdue), one completed, one cancelled by withdrawal."""
    events = SafetyEvents(rabbit_config["AMQP_URI"])
    container, url, config = start_safety(container_factory, service_config)
    officer = tokens["fire_officer"]
    sent = [("case-overdue", dict(received_at=ago(hours=5))),          # very_high, due an hour ago
            ("case-very-high", {}),
            ("case-high", HIGH),
            ("case-medium-1", dict(MEDIUM, received_at=ago(days=1))),
            ("case-medium-2", MEDIUM),
            ("case-completed", HIGH),
            ("case-cancelled", MEDIUM)]
    ids = {}
    for case_id, changes in sent:
        send(container, config, referral_received(case_id, **changes))
        ids[case_id] = events.wait_for("visit_requested", case_id=case_id)[0]["data"]["visit_id"]
    events.wait_for("visit_overdue", case_id="case-overdue")
    for action, body in (("acknowledge", None), ("schedule", {"scheduled_for": in_a_week()}),
                         ("outcome", {"outcome": "completed"})):
        assert post(url, f"/visits/{ids['case-completed']}/{action}", officer, body).status_code == 200
    assert post(url, f"/visits/{ids['case-high']}/acknowledge", officer).status_code == 200
    send(container, config, consent_withdrawn("case-cancelled", "fire_service"), entrypoint="withdraw_consent")

    def get(**query):
        return requests.get(f"{url}/visits", params=query, headers=auth(officer), timeout=10)

    yield get, ids
    events.close()


OPEN_ORDER = ["case-overdue", "case-very-high", "case-high", "case-medium-1", "case-medium-2"]


def cases(body):
    return [v["case_id"] for v in body["items"]]


def test_open_visits_page_by_priority_then_due_time_with_the_total_on_every_page(listed):
    get, ids = listed
    pages = [get(open="true", per_page=2, page=n).json() for n in (1, 2, 3, 4)]
    assert [cases(p) for p in pages] == [OPEN_ORDER[0:2], OPEN_ORDER[2:4], OPEN_ORDER[4:], []]
    assert {(p["total"], p["per_page"]) for p in pages} == {(5, 2)}
    assert [p["page"] for p in pages] == [1, 2, 3, 4]
    [overdue, very_high] = pages[0]["items"]
    assert (overdue["overdue"], very_high["overdue"]) == (True, False)
    assert {v["status"] for p in pages for v in p["items"]} == {"requested", "acknowledged"}


def test_closed_visits_come_after_the_open_ones_and_open_false_lists_only_them(listed):
    get, ids = listed
    everything = get().json()
    # open first by urgency; then the closed, most recently changed first
    assert cases(everything) == OPEN_ORDER + ["case-cancelled", "case-completed"]
    assert everything["total"] == 7
    closed = get(open="false").json()
    assert (cases(closed), closed["total"]) == (["case-cancelled", "case-completed"], 2)
    # a page that ends among the open visits still counts the closed ones
    first = get(per_page=3).json()
    assert (cases(first), first["total"]) == (OPEN_ORDER[:3], 7)
    straddling = get(per_page=3, page=2).json()
    assert cases(straddling) == OPEN_ORDER[3:] + ["case-cancelled"]


@pytest.mark.parametrize(("query", "expected", "total"), [
    ({"priority": "medium"}, ["case-medium-1", "case-medium-2", "case-cancelled"], 3),
    ({"priority": "medium", "open": "true"}, ["case-medium-1", "case-medium-2"], 2),
    ({"status": "acknowledged"}, ["case-high"], 1),
    ({"status": "requested", "per_page": 1, "page": 2}, ["case-very-high"], 4),
    ({"status": "completed", "open": "true"}, [], 0),
    ({"status": "cancelled", "priority": "medium", "open": "false"}, ["case-cancelled"], 1),
])
def test_status_and_priority_filters_page_too(listed, query, expected, total):
    get, ids = listed
    body = get(**query).json()
    assert (cases(body), body["total"]) == (expected, total)


@pytest.mark.parametrize(("query", "fields"), [
    ({"page": "0"}, {"page"}),
    ({"page": "two"}, {"page"}),
    ({"per_page": "0"}, {"per_page"}),
    ({"per_page": "101"}, {"per_page"}),
    ({"per_page": "-5", "page": "1.5"}, {"per_page", "page"}),
    ({"open": "yes"}, {"open"}),
    ({"open": "", "size": "10"}, {"open", "size"}),
])
def test_bad_paging_input_is_400_and_changes_nothing(listed, query, fields):
    get, ids = listed
    before = get().json()
    response = get(**query)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "validation_error"
    assert set(response.json()["fields"]) == fields
    assert get().json() == before
