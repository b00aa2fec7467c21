"""Quorum queues over the real wire: what the services declare, poison messages, migration, failover URIs."""
import json

import pika
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_waiter

from services.common.config import pika_parameters
from services.common.consumer import (DELIVERY_LIMIT, DeliveryRetry, classic_handler_queue, consumes,
                                      handler_queue, park_queue)
from services.common.envelope import new_event
from services.common.health import broker_answers
from services.common.mongo import MongoStore, Repository
from services.common.topology import declare_topology, migrate_classic_queues, queue_info
from services.referrals.service import ReferralsService
from services.safety.service import SafetyService
from tests.integration.safety_support import referral_received
from tests.support import wait_until

DEAD_BROKER = "amqp://guest:guest@127.0.0.1:1/"  # nothing listens on port 1


class Inbox(Repository):
    pass


class Recorder:
    """Stands in for any service's handler: records what it handled."""
    name = "notifications"
    store = MongoStore(Inbox)
    delivery = DeliveryRetry()
    handled = []

    @consumes(("referrals", "referral_received"))
    def handle(self, envelope):
        Recorder.handled.append(envelope["event_id"])
        self.store.db["handled"].insert_one({"_id": envelope["event_id"]})


QUEUE = handler_queue("referrals", "referral_received", "notifications", "handle")


def _event(case_id="case-q"):
    return new_event("referral_received", case_id=case_id, correlation_id="corr-q", producer="referrals",
                     data={})


def test_the_queues_a_service_declares_are_quorum_queues_with_the_delivery_limit(
        container_factory, service_config, rabbit_manager, rabbit_config):
    container = container_factory(SafetyService, service_config("safety"))
    container.start()
    container_factory(ReferralsService, service_config("referrals")).start()  # it calls the others over RPC
    queues = {q["name"]: q for q in rabbit_manager.get_queues(rabbit_config["vhost"])}
    replies = [q for name, q in queues.items() if name.startswith("rpc.reply-referrals-")]
    assert replies and all(q["exclusive"] for q in replies)  # declared again wherever the caller reconnects
    handler = queues[handler_queue("referrals", "referral_received", "safety", "assess_referral")]
    assert handler["type"] == "quorum"
    assert handler["arguments"]["x-delivery-limit"] == DELIVERY_LIMIT
    assert handler["arguments"]["x-dead-letter-routing-key"] == park_queue("safety")
    assert handler["arguments"]["x-dead-letter-strategy"] == "at-least-once"
    assert queues[park_queue("safety")]["type"] == "quorum"
    event_queues = [q for name, q in queues.items() if name.startswith("evt-")]
    assert event_queues and all(q["type"] == "quorum" for q in event_queues)
    # the audit/subject-access RPC queue too: a classic one on a stopped node stalled every consumer
    assert queues["rpc-safety.v2"]["type"] == "quorum"
    # nothing else lives on one node: every other queue is exclusive to a connection (a caller's replies)
    assert not [name for name, q in queues.items() if q["type"] == "classic" and not q.get("exclusive")]
    # the pre-declaration (refhub stack up) uses the same arguments: RabbitMQ accepts it on the live queues
    assert declare_topology(rabbit_config["AMQP_URI"], [SafetyService, ReferralsService]) == len(event_queues)


def test_a_retry_goes_through_a_quorum_delay_queue(container_factory, service_config, rabbit_manager,
                                                   rabbit_config, mongo_client, databases):
    class FailsOnce(Recorder):
        failed = []

        @consumes(("referrals", "referral_received"))
        def handle(self, envelope):
            if envelope["event_id"] not in FailsOnce.failed:
                FailsOnce.failed.append(envelope["event_id"])
                raise ConnectionError("the first try fails")
            self.store.db["handled"].insert_one({"_id": envelope["event_id"]})

    config = service_config("notifications", RETRY_DELAYS_MS="3000")
    container_factory(FailsOnce, config).start()
    event = _event()
    event_dispatcher(config)("referrals", "referral_received", event)
    delay = wait_until(lambda: next((q for q in rabbit_manager.get_queues(rabbit_config["vhost"])
                                     if q["name"] == f"{QUEUE}.retry-3000"), None),
                       message="the delay queue")
    assert delay["type"] == "quorum" and delay["arguments"]["x-message-ttl"] == 3000
    wait_until(lambda: mongo_client[databases["notifications"]]["handled"].find_one({"_id": event["event_id"]}),
               message="the retried event")


def test_a_poison_message_is_parked_at_the_delivery_limit_not_redelivered_for_ever(
        container_factory, service_config, rabbit_config, mongo_client, databases):
    Recorder.handled = []
    config = service_config("notifications")
    declare_topology(config["AMQP_URI"], [Recorder])
    event = _event("case-poison")
    event_dispatcher(config, mandatory=True)("referrals", "referral_received", event)

    # a consumer that dies holding the message, again and again (here: a requeue without an ack)
    connection = pika.BlockingConnection(pika_parameters(config["AMQP_URI"]))
    channel = connection.channel()
    counts = []
    for _ in range(DELIVERY_LIMIT + 1):
        method, properties, _ = wait_until(lambda: _get(channel), message="the poison message")
        counts.append((properties.headers or {}).get("x-delivery-count", 0))
        channel.basic_nack(method.delivery_tag, requeue=True)
    assert counts == list(range(DELIVERY_LIMIT + 1))
    assert wait_until(lambda: queue_info(connection, park_queue("notifications"))[0] == 1,
                      message="the broker to dead-letter it to the park queue")
    assert queue_info(connection, QUEUE)[0] == 0  # never redelivered again
    connection.close()

    container_factory(Recorder, config).start()  # the service parks what its park queue holds
    db = mongo_client[databases["notifications"]]
    parked = wait_until(lambda: db["dead_letters"].find_one({"event_id": event["event_id"]}),
                        message="the poison message to be parked")
    assert parked["queue"] == QUEUE and parked["attempts"] == DELIVERY_LIMIT + 1
    assert "delivery limit" in parked["error"] and "delivery_limit" in parked["error"]
    assert parked["payload"]["event_id"] == event["event_id"]
    assert Recorder.handled == []  # the handler never ran it
    wait_until(lambda: queue_info(config["AMQP_URI"], park_queue("notifications"))[0] == 0,
               message="the park queue to be emptied")


def _get(channel):
    method, properties, body = channel.basic_get(QUEUE, auto_ack=False)
    return (method, properties, body) if method else None


def test_classic_queues_of_an_earlier_install_are_moved_into_the_quorum_queues(
        container_factory, service_config, rabbit_config, mongo_client, databases):
    """An existing data dir: the old classic handler queue and an old delay queue still hold events."""
    Recorder.handled = []
    config = service_config("notifications")
    old = classic_handler_queue("referrals", "referral_received", "notifications", "handle")
    queued, delayed = _event("case-queued"), _event("case-delayed")
    connection = pika.BlockingConnection(pika_parameters(config["AMQP_URI"]))
    channel = connection.channel()
    channel.confirm_delivery()
    channel.exchange_declare("referrals.events", exchange_type="topic", durable=True)
    channel.queue_declare(old, durable=True)  # what nameko declared before: a classic queue
    channel.queue_bind(old, "referrals.events", routing_key="referral_received")
    channel.queue_declare(f"{old}.retry-600000", durable=True, arguments={
        "x-message-ttl": 600000, "x-dead-letter-exchange": "", "x-dead-letter-routing-key": old,
        "x-expires": 1260000})
    for queue, event in ((old, queued), (f"{old}.retry-600000", delayed)):
        channel.basic_publish("", queue, json.dumps(event).encode(), properties=pika.BasicProperties(
            content_type="application/json", delivery_mode=2,
            headers={"nameko.correlation_id": "corr-q", "nameko.delivery_attempt": 1}))
    connection.close()

    report = migrate_classic_queues(config["AMQP_URI"], [Recorder])
    assert report["moved"] == 2 and sorted(report["deleted"]) == sorted([old, f"{old}.retry-600000"])
    assert queue_info(config["AMQP_URI"], old) is None
    assert queue_info(config["AMQP_URI"], QUEUE)[0] == 2
    assert migrate_classic_queues(config["AMQP_URI"], [Recorder]) == {"moved": 0, "deleted": [], "kept": []}

    container = container_factory(Recorder, config)
    with entrypoint_waiter(container, "handle", timeout=20, callback=lambda *a: len(Recorder.handled) == 2):
        container.start()
    assert sorted(Recorder.handled) == sorted([queued["event_id"], delayed["event_id"]])


def test_an_old_queue_with_a_consumer_is_emptied_but_kept(rabbit_config):
    old = classic_handler_queue("referrals", "referral_received", "notifications", "handle")
    connection = pika.BlockingConnection(pika_parameters(rabbit_config["AMQP_URI"]))
    channel = connection.channel()
    channel.exchange_declare("referrals.events", exchange_type="topic", durable=True)
    channel.queue_declare(old, durable=True)
    channel.basic_consume(old, lambda *a: None)  # a service from before the upgrade, still running
    report = migrate_classic_queues(rabbit_config["AMQP_URI"], [Recorder])
    assert report["kept"] == [old] and report["deleted"] == []
    connection.close()


def test_services_and_the_cli_reach_the_broker_when_the_first_address_is_dead(
        container_factory, service_config, rabbit_config, mongo_client, databases):
    failover = f"{DEAD_BROKER};{rabbit_config['AMQP_URI']}"
    assert broker_answers(failover)
    assert not broker_answers(f"{DEAD_BROKER};amqp://guest:guest@127.0.0.1:2/")
    assert declare_topology(failover, [SafetyService]) >= 1  # pika: the CLI and the topology code

    config = service_config("safety", AMQP_URI=failover)
    container = container_factory(SafetyService, config)
    container.start()
    with entrypoint_waiter(container, "assess_referral", timeout=20):
        event_dispatcher(config, mandatory=True)("referrals", "referral_received",
                                                 referral_received(case_id="case-failover"))
    assert mongo_client[databases["safety"]]["assessments"].count_documents({"case_id": "case-failover"}) == 1


def test_refhub_queues_migrate_moves_an_earlier_installs_messages(rabbit_config, tmp_path):
    import os
    import subprocess
    import sys

    old = classic_handler_queue("referrals", "referral_received", "safety", "assess_referral")
    connection = pika.BlockingConnection(pika_parameters(rabbit_config["AMQP_URI"]))
    channel = connection.channel()
    channel.confirm_delivery()
    channel.queue_declare(old, durable=True)
    channel.basic_publish("", old, json.dumps(_event("case-cli")).encode())
    connection.close()
    env = {**os.environ, "AMQP_URI": rabbit_config["AMQP_URI"], "PYTHONWARNINGS": "ignore",
           "REFHUB_DATA_DIR": str(tmp_path)}  # where the CLI's log file goes
    result = subprocess.run([sys.executable, "-m", "services.cli.main", "queues", "migrate"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "moved 1 messages; deleted 1 classic queues" in result.stdout
    new = handler_queue("referrals", "referral_received", "safety", "assess_referral")
    assert queue_info(rabbit_config["AMQP_URI"], new)[0] == 1


def test_each_consumer_has_its_own_connection_and_losing_one_leaves_the_others_consuming(
        container_factory, service_config, rabbit_manager, rabbit_config, mongo_client, databases):
    """On a cluster, a queue waiting for its new leader fails `basic.consume` with a connection error:
    only its own consumer may go with it (and come back), never the service's other consumers."""
    class TwoQueues(Recorder):
        @consumes(("safety", "visit_requested"))
        def handle_visit(self, envelope):
            self.store.db["handled"].insert_one({"_id": envelope["event_id"]})

    vhost = rabbit_config["vhost"]
    visits = handler_queue("safety", "visit_requested", "notifications", "handle_visit")
    config = service_config("notifications")
    container_factory(TwoQueues, config).start()

    def consumed_on(queue):
        for consumer in rabbit_manager.get_queue(vhost, queue).get("consumer_details") or []:
            channel = consumer.get("channel_details")  # [] for a channel that has just gone
            if isinstance(channel, dict) and channel.get("connection_name"):
                return channel["connection_name"]
        return None

    referrals_connection = wait_until(lambda: consumed_on(QUEUE), message="the consumer of one queue")
    visits_connection = wait_until(lambda: consumed_on(visits), message="the consumer of the other")
    assert referrals_connection != visits_connection

    rabbit_manager.delete_connection(referrals_connection)  # as a consume failure would close it
    handled = mongo_client[databases["notifications"]]["handled"]
    visit = new_event("visit_requested", case_id="case-own", correlation_id="corr-own", producer="safety",
                      data={})
    event_dispatcher(config, mandatory=True)("safety", "visit_requested", visit)
    wait_until(lambda: handled.find_one({"_id": visit["event_id"]}), message="the other queue's event")
    open_connections = {c["name"] for c in rabbit_manager.get_connections()}
    assert visits_connection in open_connections  # untouched: it never reconnected
    assert referrals_connection not in open_connections

    referral = _event("case-own")
    event_dispatcher(config, mandatory=True)("referrals", "referral_received", referral)
    wait_until(lambda: handled.find_one({"_id": referral["event_id"]}), message="the reconnected consumer")
    wait_until(lambda: consumed_on(QUEUE) not in (None, referrals_connection),  # management stats lag
               message="the queue consumed on a new connection")
