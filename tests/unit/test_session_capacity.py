"""Capacity and versions: the session repository's compare-and-set rules, on an in-memory MongoDB (mongomock)."""
from __future__ import annotations

import mongomock
import pytest
from marshmallow import ValidationError

from services.notifications import sessions as rules
from services.notifications.session_repository import SessionRepository
from services.notifications.session_work import SessionWork
from tests.unit.session_samples import NOW, invitation, session


@pytest.fixture
def store():
    repository = SessionRepository(mongomock.MongoClient(tz_aware=True).db)
    repository.create(session(capacity=2))
    return repository


def test_no_more_yeses_than_places(store):
    store.take_seat("s-online", "case-1")
    store.take_seat("s-online", "case-2")
    with pytest.raises(rules.SessionFull):
        store.take_seat("s-online", "case-3")
    assert store.get("s-online")["seats_taken"] == 2


def test_a_second_yes_from_the_same_person_takes_no_second_place(store):
    store.take_seat("s-online", "case-1")
    store.take_seat("s-online", "case-1")
    assert store.get("s-online")["seats_taken"] == 1
    assert store.release_seat("s-online", "case-1") and not store.release_seat("s-online", "case-1")
    assert store.get("s-online")["seats_taken"] == 0


def test_a_freed_place_can_be_taken_again(store):
    for case_id in ("case-1", "case-2"):
        store.take_seat("s-online", case_id)
    store.release_seat("s-online", "case-1")
    store.take_seat("s-online", "case-3")
    assert set(store.sessions.find_one({"_id": "s-online"})["seats"]) == {"case-2", "case-3"}


def test_no_place_at_a_cancelled_session(store):
    doc = store.get("s-online")
    store.change(doc, 1, rules.cancel_session(doc, "no room", "coordinator:k1", NOW))
    with pytest.raises(rules.SessionClosed):
        store.take_seat("s-online", "case-1")


def test_the_capacity_cannot_go_below_the_yeses_given(store):
    for case_id in ("case-1", "case-2"):
        store.take_seat("s-online", case_id)
    with pytest.raises(ValidationError) as refused:
        store.change(store.get("s-online"), 1, {"capacity": 1})
    assert "2 people have said yes" in refused.value.messages["capacity"][0]
    assert store.change(store.get("s-online"), 1, {"capacity": 3})["version"] == 2


def test_a_change_against_an_old_version_is_stale(store):
    store.change(store.get("s-online"), 1, {"capacity": 5})
    with pytest.raises(rules.StaleSession):
        store.change(store.get("s-online"), 1, {"capacity": 6})
    assert store.get("s-online")["capacity"] == 5
    with pytest.raises(rules.UnknownSession):
        store.change({"_id": "s-none"}, 1, {"capacity": 6})


class NoPlanner:
    store = None


def test_a_yes_is_written_only_with_a_place_and_a_no_frees_it(store):
    work = SessionWork(store, NoPlanner(), None, None, clock=lambda: NOW)
    first, second, third = (invitation(store.get("s-online"), case_id=c) for c in ("case-1", "case-2", "case-3"))
    for doc in (first, second, third):
        store.invite(doc, [])
    assert work.reply(first, "yes", "link", "corr")["changed"] is True
    assert work.reply(second, "yes", "coordinator:k1", "corr")["changed"] is True
    with pytest.raises(rules.SessionFull):
        work.reply(third, "yes", "link", "corr")
    assert store.invitation(third["_id"])["answer"] is None
    work.reply(first, "no", "link", "corr")
    assert work.reply(third, "yes", "link", "corr")["changed"] is True
    answers = {d["case_id"]: d["answer"] for d in store.invitations_of_session("s-online")}
    assert answers == {"case-1": "no", "case-2": "yes", "case-3": "yes"}
    assert store.get("s-online")["seats_taken"] == 2
    assert work.reply(third, "yes", "link", "corr")["changed"] is False  # the same answer again


def test_invitations_are_one_per_member_per_session(store):
    doc = invitation(store.get("s-online"))
    assert store.invite(doc, []) is True
    assert store.invite(doc, []) is False
    assert len(store.invitations_of_case("case-1")) == 1
