"""GET /visits' reads and order (services/safety/listing.py) over an in-memory repository."""
from datetime import datetime, timedelta, timezone

import pytest

from services.safety.listing import statuses_for, visit_page
from tests.unit.safety_fakes import InMemoryVisits

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)
RANK = {"very_high": 0, "high": 1, "medium": 2}
CLOSED = {"completed", "no_access", "declined", "cancelled"}


def stored(store, visit_id, status, priority="high", due_in=timedelta(days=1), changed=NOW):
    store.docs[visit_id] = {"_id": visit_id, "case_id": f"case-{visit_id}", "raised": True, "status": status,
                            "priority": priority, "priority_rank": RANK[priority], "due_by": NOW + due_in,
                            "active_slot": visit_id, "version": 1, "updated_at": changed}


@pytest.fixture
def store():
    store = InMemoryVisits()
    stored(store, "medium-soon", "requested", "medium", timedelta(days=2))
    stored(store, "high-later", "scheduled", "high", timedelta(days=6))
    stored(store, "high-sooner", "acknowledged", "high", timedelta(days=5))
    stored(store, "very-high", "requested", "very_high", timedelta(hours=3))
    stored(store, "done-long-ago", "completed", "very_high", changed=NOW - timedelta(days=300))
    stored(store, "done-yesterday", "declined", "medium", changed=NOW - timedelta(days=1))
    stored(store, "cancelled-last-week", "cancelled", "high", changed=NOW - timedelta(days=7))
    store.docs["no-visit"] = {"_id": "no-visit", "raised": False, "status": None, "active_slot": "no-visit"}
    return store


def ids(page):
    return [v["_id"] for v in page.items]


def test_the_open_list_never_reads_closed_history(store):
    page = visit_page(store, open_=True)
    assert ids(page) == ["very-high", "high-sooner", "high-later", "medium-soon"]
    assert page.total == 4
    assert {status for _, status in store.reads} == {"requested", "acknowledged", "scheduled"}


def test_a_page_among_the_open_visits_only_counts_the_closed_ones(store):
    page = visit_page(store, page=1, per_page=2)
    assert (ids(page), page.total) == (["very-high", "high-sooner"], 7)
    assert {verb for verb, status in store.reads if status in CLOSED} == {"count_with_status"}


def test_closed_visits_follow_most_recently_changed_first(store):
    page = visit_page(store, page=2, per_page=3)
    assert ids(page) == ["medium-soon", "done-yesterday", "cancelled-last-week"]
    assert ids(visit_page(store, page=3, per_page=3)) == ["done-long-ago"]
    assert (ids(visit_page(store, page=9, per_page=3)), visit_page(store, page=9).total) == ([], 7)


@pytest.mark.parametrize(("open_", "status", "expected"), [
    (None, None, ["requested", "acknowledged", "scheduled", "completed", "no_access", "declined", "cancelled"]),
    (True, None, ["requested", "acknowledged", "scheduled"]),
    (False, None, ["completed", "no_access", "declined", "cancelled"]),
    (True, "completed", []),
    (False, "completed", ["completed"]),
    (None, "scheduled", ["scheduled"]),
])
def test_statuses_asked_for(open_, status, expected):
    assert statuses_for(open_=open_, status=status) == expected


def test_priority_filters_every_status(store):
    page = visit_page(store, priority="high")
    assert (ids(page), page.total) == (["high-sooner", "high-later", "cancelled-last-week"], 3)
