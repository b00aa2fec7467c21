"""The safety service on the real broker and the real Mongo-wire server: redelivery and the outbox.

The helpers the safety tests share live in safety_support.py.
"""
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_waiter

from services.common.envelope import new_event
from services.safety.service import SafetyService
from tests.integration.safety_support import referral_received
from tests.support import wait_until


def test_redelivered_referral_has_one_effect(container_factory, service_config, mongo_client, databases):
    config = service_config("safety")
    container = container_factory(SafetyService, config)
    container.start()
    dispatch = event_dispatcher(config)
    event = referral_received()

    for _ in range(2):  # RabbitMQ redelivers: same event_id twice
        with entrypoint_waiter(container, "assess_referral", timeout=10):
            dispatch("referrals", "referral_received", event)

    assessments = list(mongo_client[databases["safety"]]["assessments"].find({"case_id": "case-1"}))
    assert len(assessments) == 1
    assert assessments[0]["priority"] == "very_high"
    assert assessments[0]["raised"] is True
    # the crew minimum only: no email, no narrative, no date of birth
    assert set(assessments[0]["person"]) == {"name", "address", "phone", "preferred_contact", "access_needs"}


def test_relay_publishes_events_stored_before_a_crash(container_factory, service_config, rabbit_config,
                                                      mongo_client, databases):
    """An assessment stored with its event, but never published (the process died):
    the relay of a fresh container publishes it."""
    from kombu import Connection, Exchange, Queue

    from services.common.outbox import outbox_fields

    event = new_event("visit_not_requested", case_id="case-9", correlation_id="corr-9",
                      producer="safety", data={"reason": "low_risk"})
    mongo_client[databases["safety"]]["assessments"].insert_one(
        {"_id": "a-9", "source_event_id": "e-9", "case_id": "case-9", **outbox_fields([event])})

    # a consumer queue bound before the service starts, standing in for referrals
    queue = Queue("test-visit-not-requested", Exchange("safety.events", type="topic"),
                  routing_key="visit_not_requested", auto_delete=True)
    with Connection(rabbit_config["AMQP_URI"]) as conn:
        with conn.SimpleQueue(queue) as simple:
            container = container_factory(SafetyService, service_config("safety"))
            container.start()
            message = simple.get(block=True, timeout=10)
            message.ack()
    assert message.payload["event_id"] == event["event_id"]
    assert message.headers["nameko.correlation_id"] == "corr-9"
    doc = wait_until(lambda: mongo_client[databases["safety"]]["assessments"].find_one(
        {"_id": "a-9", "outbox_pending": 0}), message="the outbox to be emptied")
    assert doc["outbox"] == {}
