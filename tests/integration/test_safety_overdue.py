"""visit_overdue on broker time: a visit's wake-up waits in fixed-delay queues until due_by and is
announced exactly once, with two replicas, across a restart, and after a priority raise; the slow
sweep of open visits catches a lost wake-up. The sweep is off (an hour) unless a test turns it on.
"""
from collections import Counter
from datetime import timedelta

import pytest
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_waiter

from services.common.envelope import new_event, utcnow
from services.safety.assessment import Assessment
from services.safety.repository import VisitRepository
from services.safety.service import SafetyService
from tests.integration.safety_support import (
    SafetyEvents,
    ago,
    referral_received,
    start_safety,
    wait_published,
)
from tests.integration.test_safety_api import NO_FLAGS
from tests.support import wait_until

VERY_HIGH_HOURS = 4  # the default rules' target for the referral_received below


def due_in(seconds):
    """received_at for a very_high referral whose visit falls due `seconds` from now."""
    return ago(hours=VERY_HIGH_HOURS, seconds=-seconds)


class WakeUps:
    """Counts, per visit, the wake-ups handled to the end (announced, or nothing left to wait for).

    Both replicas run in this process, so one spy sees them all; a wake-up that is
    still hopping towards due_by is not counted until its last hop.
    """

    def __init__(self, monkeypatch):
        self.finished = Counter()
        self.waits = Counter()
        original = Assessment.announce_if_overdue

        def spy(assessment, visit_id, due_by):
            wait = original(assessment, visit_id, due_by)
            (self.waits if wait is not None else self.finished)[visit_id] += 1
            return wait

        monkeypatch.setattr(Assessment, "announce_if_overdue", spy)

    def wait_finished(self, expected: Counter):
        wait_until(lambda: all(self.finished[v] >= n for v, n in expected.items()), timeout=30,
                   message=f"wake-ups {dict(expected)} to be handled")


@pytest.fixture
def wake_ups(monkeypatch):
    return WakeUps(monkeypatch)


@pytest.fixture
def events(rabbit_config):
    tap = SafetyEvents(rabbit_config["AMQP_URI"])  # bound before any service starts
    yield tap
    tap.close()


def assess(db, config, event):
    """Publish a referral_received; whichever replica takes it, wait until it is assessed."""
    event_dispatcher(config)("referrals", "referral_received", event)
    return wait_until(lambda: db["assessments"].find_one({"source_event_id": event["event_id"]}),
                      message="the referral to be assessed")


def test_two_replicas_announce_each_overdue_visit_once_on_broker_time(
        container_factory, service_config, mongo_client, databases, events, wake_ups):
    replicas = [start_safety(container_factory, service_config) for _ in range(2)]
    config = replicas[0][2]
    db = mongo_client[databases["safety"]]

    late = [f"case-late-{n}" for n in range(4)]          # already past due when raised
    soon = [f"case-soon-{n}" for n in range(4)]          # due while their wake-ups hop
    received = {**{c: ago(hours=VERY_HIGH_HOURS + 1) for c in late}, **{c: due_in(5) for c in soon}}
    visits = {}
    for case_id, received_at in received.items():
        visits[case_id] = assess(db, config, referral_received(case_id, received_at=received_at))["_id"]
    assess(db, config, referral_received("case-on-time", received_at=ago(hours=1)))

    # the broker redelivers, or a relay publishes twice: every wake-up twice more, so the
    # replicas race for each visit
    dispatch = event_dispatcher(config)
    for case_id, visit_id in visits.items():
        due_by = db["assessments"].find_one({"_id": visit_id})["due_by"]
        for _ in range(2):
            dispatch("safety", "visit_due", new_event(
                "visit_due", case_id=case_id, correlation_id="corr-1", producer="safety",
                data={"visit_id": visit_id, "due_by": due_by.isoformat()}))

    events.wait_for("visit_overdue", count=len(visits), timeout=30)
    wake_ups.wait_finished(Counter({visit_id: 3 for visit_id in visits.values()}))
    wait_published(db)

    overdue = events.of_type("visit_overdue")
    assert Counter(e["case_id"] for e in overdue) == Counter(list(visits))  # once each, never twice
    assert sum(wake_ups.waits[visits[c]] for c in soon) >= len(soon)  # those did wait on the broker
    stored = {d["case_id"]: d for d in db["assessments"].find()}
    for event in overdue:
        visit = stored[event["case_id"]]
        assert event["data"] == {"visit_id": visit["_id"], "reference": "HRW-2026-000001",
                                 "status": "requested", "priority": "very_high",
                                 "due_by": visit["due_by"].isoformat()}
        assert event["correlation_id"] == "corr-1"  # the referral's story
        assert visit["overdue_notified"] is True and visit["overdue_notified_at"] >= visit["due_by"]
    assert stored["case-on-time"]["overdue_notified"] is False


def test_a_restart_while_the_wake_up_waits_still_announces_it_once(
        container_factory, service_config, mongo_client, databases, events, wake_ups):
    container, _, config = start_safety(container_factory, service_config)
    db = mongo_client[databases["safety"]]
    visit = assess(db, config, referral_received("case-1", received_at=due_in(6)))
    events.wait_for("visit_requested")
    wait_published(db)  # the wake-up is on the broker, hopping
    container.stop()
    assert visit["due_by"] > utcnow()  # stopped before it was due
    assert events.of_type("visit_overdue") == []

    container_factory(SafetyService, config).start()  # the same service, started again
    [announced] = events.wait_for("visit_overdue", timeout=30)
    wake_ups.wait_finished(Counter({visit["_id"]: 1}))
    wait_published(db)
    assert announced["data"]["visit_id"] == visit["_id"]
    assert len(events.of_type("visit_overdue")) == 1
    assert db["assessments"].find_one({"_id": visit["_id"]})["overdue_notified"] is True


def test_a_visit_finished_before_its_due_time_is_never_announced(
        container_factory, service_config, mongo_client, databases, events, wake_ups):
    container, _, config = start_safety(container_factory, service_config)
    db = mongo_client[databases["safety"]]
    visit = assess(db, config, referral_received("case-1", received_at=due_in(5)))
    store = VisitRepository(db)
    store.change_visit(visit["_id"], visit["version"], {"status": "cancelled", "active_slot": visit["_id"]}, [])

    wake_ups.wait_finished(Counter({visit["_id"]: 1}))
    wait_published(db)
    assert events.of_type("visit_overdue") == []
    assert db["assessments"].find_one({"_id": visit["_id"]})["overdue_notified"] is False


def test_a_more_urgent_duplicate_brings_the_wake_up_forward(
        container_factory, service_config, mongo_client, databases, events, wake_ups):
    container, _, config = start_safety(container_factory, service_config)
    db = mongo_client[databases["safety"]]
    medium = assess(db, config, referral_received("case-1", clutter_image_rating={"kitchen": 4},
                                                  fire_risk=NO_FLAGS))
    assert medium["due_by"] > utcnow() + timedelta(days=29)  # its own wake-up waits a month
    assess(db, config, referral_received("case-1", duplicate_of="case-1", reference="HRW-2026-000002",
                                         received_at=due_in(2)))

    [announced] = events.wait_for("visit_overdue", timeout=30)
    assert announced["data"]["visit_id"] == medium["_id"]
    assert announced["data"]["priority"] == "very_high"
    wake_ups.wait_finished(Counter({medium["_id"]: 1}))
    wait_published(db)
    assert len(events.of_type("visit_overdue")) == 1
    raised = events.of_type("visit_status_changed", change="priority_raised")
    assert len(raised) == 1 and raised[0]["data"]["from"] == "requested"


def test_the_sweep_catches_a_lost_wake_up_once_with_two_replicas(
        container_factory, service_config, mongo_client, databases, events):
    db = mongo_client[databases["safety"]]
    store = VisitRepository(db)
    store.ensure_indexes()
    now = utcnow()
    # visits whose wake-ups were lost (stored by hand: no wake-up was ever published)
    lost = {f"lost-{status}": status for status in ("requested", "acknowledged", "scheduled")}
    others = {"finished": "completed", "waiting-for-access": "no_access", "withdrawn": "cancelled"}
    for visit_id, status in {**lost, **others}.items():
        store.assessments.insert_one(stored_visit(visit_id, status, due_by=now - timedelta(hours=1)))
    store.assessments.insert_one(stored_visit("not-yet-due", "requested", due_by=now + timedelta(hours=1)))

    replicas = [start_safety(container_factory, service_config, OVERDUE_SWEEP_SECONDS=0.1)
                for _ in range(2)]
    events.wait_for("visit_overdue", count=len(lost))
    for container, _, _ in replicas:  # each replica sweeps a few more times
        for _ in range(3):
            with entrypoint_waiter(container, "sweep_overdue", timeout=10):
                pass
    wait_published(db)
    assert Counter(e["data"]["visit_id"] for e in events.of_type("visit_overdue")) == Counter(list(lost))


def stored_visit(visit_id, status, *, due_by):
    now = utcnow()
    return {"_id": visit_id, "source_event_id": visit_id, "case_id": f"case-{visit_id}",
            "correlation_id": "corr-x", "reference": "HRW-2026-000009", "raised": True, "status": status,
            "priority": "high", "priority_rank": 1, "due_by": due_by, "overdue_notified": False,
            "active_slot": visit_id, "version": 1, "created_at": now, "updated_at": now}


def test_visits_with_status_reads_one_status_and_the_claim_is_won_once(mongo_client, databases):
    store = VisitRepository(mongo_client[databases["safety"]])
    store.ensure_indexes()
    now = utcnow()
    for visit_id, status, priority in (("a", "requested", "high"), ("b", "requested", "medium"),
                                       ("c", "scheduled", "high"), ("d", "completed", "high")):
        store.assessments.insert_one({**stored_visit(visit_id, status, due_by=now), "priority": priority})
    store.assessments.insert_one({"_id": "no-visit", "raised": False, "status": None, "case_id": "x",
                                  "active_slot": "no-visit"})
    assert {v["_id"] for v in store.visits_with_status("requested")} == {"a", "b"}
    assert [v["_id"] for v in store.visits_with_status("requested", "medium")] == ["b"]
    assert (store.count_with_status("requested"), store.count_with_status("completed", "medium")) == (2, 0)
    assert store.get_visit("no-visit") is None and store.get_visit("a")["status"] == "requested"

    visit = store.get_visit("a")
    event = {"event_id": "e-1", "event_type": "visit_overdue"}
    assert store.claim_overdue(visit, event, now) is True
    assert store.claim_overdue(visit, {**event, "event_id": "e-2"}, now) is False  # a second replica
    claimed = store.assessments.find_one({"_id": "a"})
    assert list(claimed["outbox"]) == ["e-1"] and claimed["outbox_pending"] == 1
