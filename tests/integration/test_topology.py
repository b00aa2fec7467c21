"""Queues declared up front: an event published before its consumer ever ran is kept for it."""
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_waiter

from services.common.topology import declare_topology
from services.safety.service import SafetyService
from tests.integration.safety_support import referral_received


def test_event_published_before_the_consumer_first_starts_is_not_lost(container_factory, service_config,
                                                                       mongo_client, databases):
    config = service_config("safety")
    assert declare_topology(config["AMQP_URI"], [SafetyService]) >= 1
    event = referral_received(case_id="case-early")
    event_dispatcher(config, mandatory=True)("referrals", "referral_received", event)  # raises if unroutable

    container = container_factory(SafetyService, config)
    with entrypoint_waiter(container, "assess_referral", timeout=10):
        container.start()
    assert mongo_client[databases["safety"]]["assessments"].count_documents({"case_id": "case-early"}) == 1
