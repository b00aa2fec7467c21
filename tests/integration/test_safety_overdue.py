"""visit_overdue: exactly once per visit, even with several replicas claiming at the same time."""
from collections import Counter
from datetime import timedelta

from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_waiter

from services.common.envelope import utcnow
from services.safety.repository import VisitRepository
from tests.integration.safety_support import (
    SafetyEvents,
    ago,
    referral_received,
    start_safety,
    wait_published,
)
from tests.support import wait_until


def test_two_replicas_publish_visit_overdue_exactly_once(container_factory, service_config, rabbit_config,
                                                          mongo_client, databases):
    events = SafetyEvents(rabbit_config["AMQP_URI"])
    # two replicas of the service on the same vhost and database, checking every 50 ms
    replicas = [start_safety(container_factory, service_config, OVERDUE_CHECK_SECONDS=0.05)
                for _ in range(2)]
    assert replicas[0][1] != replicas[1][1]
    config = replicas[0][2]

    db = mongo_client[databases["safety"]]
    overdue_cases = [f"case-late-{n}" for n in range(12)]
    for case_id in overdue_cases:  # very_high: due 4 hours after receipt, so already past
        assess(db, config, referral_received(case_id, received_at=ago(hours=5)))
    assess(db, config, referral_received("case-on-time", received_at=ago(hours=1)))

    overdue = events.wait_for("visit_overdue", count=len(overdue_cases))
    # let each replica run its check several more times, then everything it claimed is published
    for replica_container, _, _ in replicas:
        for _ in range(3):
            with entrypoint_waiter(replica_container, "check_overdue", timeout=5):
                pass
    wait_published(db)

    overdue = events.of_type("visit_overdue")
    assert Counter(e["case_id"] for e in overdue) == Counter(overdue_cases)  # once each, never twice
    visits = {d["case_id"]: d for d in db["assessments"].find()}
    for event in overdue:
        visit = visits[event["case_id"]]
        assert event["data"]["visit_id"] == visit["_id"]
        assert event["data"]["priority"] == "very_high"
        assert event["data"]["due_by"] == visit["due_by"].isoformat()
        assert event["correlation_id"] == "corr-1"  # the referral's story
        assert visit["overdue_notified"] is True
    assert visits["case-on-time"]["overdue_notified"] is False
    events.close()


def assess(db, config, event):
    """Publish a referral_received; whichever replica takes it, wait until it is assessed."""
    event_dispatcher(config)("referrals", "referral_received", event)
    wait_until(lambda: db["assessments"].find_one({"source_event_id": event["event_id"]}),
               message="the referral to be assessed")


def test_only_open_visits_past_due_and_not_yet_notified_are_candidates(mongo_client, databases):
    store = VisitRepository(mongo_client[databases["safety"]])
    store.ensure_indexes()
    now = utcnow()
    base = {"raised": True, "case_id": "c", "reference": "R", "priority": "high", "version": 1}
    docs = {
        "requested-late": dict(status="requested", due_by=now - timedelta(minutes=1), overdue_notified=False),
        "acknowledged-late": dict(status="acknowledged", due_by=now - timedelta(days=1), overdue_notified=False),
        "scheduled-late": dict(status="scheduled", due_by=now - timedelta(days=1), overdue_notified=False),
        "already-notified": dict(status="requested", due_by=now - timedelta(days=1), overdue_notified=True),
        "not-yet-due": dict(status="requested", due_by=now + timedelta(minutes=1), overdue_notified=False),
        "completed-late": dict(status="completed", due_by=now - timedelta(days=1), overdue_notified=False),
        "no-access-late": dict(status="no_access", due_by=now - timedelta(days=1), overdue_notified=False),
        "cancelled-late": dict(status="cancelled", due_by=now - timedelta(days=1), overdue_notified=False),
    }
    for doc_id, fields in docs.items():
        store.assessments.insert_one({**base, **fields, "_id": doc_id, "source_event_id": doc_id,
                                      "active_slot": doc_id})
    assert {d["_id"] for d in store.overdue_candidates(now)} == {
        "requested-late", "acknowledged-late", "scheduled-late"}

    visit = store.get_visit("requested-late")
    event = {"event_id": "e-1", "event_type": "visit_overdue"}
    assert store.claim_overdue(visit, event, now) is True
    assert store.claim_overdue(visit, {**event, "event_id": "e-2"}, now) is False  # a second replica
    claimed = store.assessments.find_one({"_id": "requested-late"})
    assert list(claimed["outbox"]) == ["e-1"] and claimed["outbox_pending"] == 1
