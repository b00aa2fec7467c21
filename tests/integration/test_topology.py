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


def test_declaring_the_topology_deletes_the_queues_of_retired_handlers(service_config):
    from services.common.topology import connect, queue_info, retired_queues
    from services.notifications.service import NotificationsService

    config = service_config("notifications")
    connection = connect(config["AMQP_URI"])
    try:
        channel = connection.channel()
        for name in retired_queues()[-2:]:  # as an install from before left them: bound and holding events
            channel.queue_declare(name, durable=True, arguments={"x-queue-type": "quorum"})
            channel.basic_publish("", name, b"{}")
        assert all(queue_info(connection, name) is not None for name in retired_queues()[-2:])
        declare_topology(config["AMQP_URI"], [NotificationsService])
        assert [name for name in retired_queues() if queue_info(connection, name) is not None] == []
    finally:
        connection.close()
