"""Declare every event handler's queue before any service publishes; move what older installs queued.

nameko creates a handler's queue only when that consumer first starts, and an
event published before then reaches nobody. `refhub stack up` (and any deploy
step) declares the queues of all services first, with the exact names and
arguments the services use (consumer.py: quorum, delivery limit, park queue),
so the first referral of a fresh install is not lost because the safety
service happened to start a second later.

Installs from before quorum queues have classic queues under the names
without the `.v2` suffix. A queue's type cannot change in place, so the quorum
queues have new names and `migrate_classic_queues` (run by `refhub stack up`
and `refhub queues migrate`) unbinds each old queue, moves its messages and
those of its old delay queues into the new queue, and deletes them once empty
and unused.
"""
from __future__ import annotations

import pika
from nameko.events import SERVICE_POOL, EventHandler

from .config import pika_parameters
from .consumer import (DEFAULT_RETRY_DELAYS_MS, DEFER_HOPS_MS, classic_handler_queue, handler_queue,
                       handler_queue_arguments, park_queue)


# Handlers that no longer exist, as (source, event type, service, method): their queues would
# fill for ever with no consumer, so declaring the topology deletes them (and their delay queues).
# notifications.note_for_retention: a message's retention day is written on the message when it
# finishes (notifications/retention.py), and a migration dates every message finished before.
RETIRED_HANDLERS = (
    ("notifications", "notification_sent", "notifications", "note_for_retention"),
    ("notifications", "notification_failed", "notifications", "note_for_retention"),
)


def retired_queues(retry_delays_ms=None) -> list[str]:
    names = [handler_queue(*handler) for handler in RETIRED_HANDLERS]
    return [f"{name}.retry-{delay}" for name in names for delay in _delays(retry_delays_ms)] + names


def handler_queues(service_cls) -> list[dict]:
    """The durable queues the SERVICE_POOL event handlers of a service consume from.

    Same names and arguments as the services declare (a mismatch would make RabbitMQ refuse one of them).
    """
    queues = []
    for attr in dir(service_cls):
        for entrypoint in getattr(getattr(service_cls, attr), "nameko_entrypoints", ()):
            if not isinstance(entrypoint, EventHandler) or entrypoint.handler_type != SERVICE_POOL:
                continue
            source, event_type, service = entrypoint.source_service, entrypoint.event_type, service_cls.name
            queues.append({
                "queue": handler_queue(source, event_type, service, attr),
                "classic": classic_handler_queue(source, event_type, service, attr),
                "exchange": f"{source}.events", "routing_key": event_type,
                "arguments": handler_queue_arguments(service), "park_queue": park_queue(service)})
    return queues


def connect(amqp_uri: str) -> pika.BlockingConnection:
    """The first broker of AMQP_URI (a `;`-separated list) that answers."""
    return pika.BlockingConnection(pika_parameters(amqp_uri))


def declare_topology(amqp_uri: str, service_classes) -> int:
    """Declare exchanges, park queues, handler queues and bindings with pika (code outside nameko speaks pika)."""
    queues = [q for cls in service_classes for q in handler_queues(cls)]
    connection = connect(amqp_uri)
    try:
        channel = connection.channel()
        for park in sorted({q["park_queue"] for q in queues}):
            channel.queue_declare(park, durable=True, arguments={"x-queue-type": "quorum"})
        for q in queues:
            channel.exchange_declare(q["exchange"], exchange_type="topic", durable=True)
            channel.queue_declare(q["queue"], durable=True, arguments=q["arguments"])
            channel.queue_bind(q["queue"], q["exchange"], routing_key=q["routing_key"])
        for name in retired_queues():
            channel.queue_delete(name)  # a queue that is not there: nothing to do
    finally:
        connection.close()
    return len(queues)


def queue_info(channel_source, name: str) -> tuple[int, int] | None:
    """(messages, consumers) of a queue, None when it does not exist (a passive declare).

    `channel_source` is an open pika connection, or AMQP_URI for a connection of its own.
    """
    own = isinstance(channel_source, str)
    connection = connect(channel_source) if own else channel_source
    channel = connection.channel()  # a 404 closes the channel, never the connection
    try:
        ok = channel.queue_declare(name, passive=True)
        return ok.method.message_count, ok.method.consumer_count
    except pika.exceptions.ChannelClosedByBroker as exc:
        if exc.reply_code == 404:
            return None
        raise
    finally:
        if channel.is_open:
            channel.close()
        if own and connection.is_open:
            connection.close()


def _delays(retry_delays_ms) -> list[int]:
    return sorted({*DEFAULT_RETRY_DELAYS_MS, *DEFER_HOPS_MS, *(retry_delays_ms or ())})


def _move(channel, source: str, target: str) -> int:
    """Move every message of `source` to `target` (publisher confirms; acked only once confirmed)."""
    moved = 0
    while True:
        method, properties, body = channel.basic_get(source, auto_ack=False)
        if method is None:
            return moved
        channel.basic_publish("", target, body, properties=properties, mandatory=True)
        channel.basic_ack(method.delivery_tag)
        moved += 1


def migrate_classic_queues(amqp_uri: str, service_classes, retry_delays_ms=None) -> dict:
    """Move messages from pre-quorum classic queues into their quorum successors; delete the old queues.

    Safe to run again and with the new services running. An old queue that still has a consumer (a
    service from before the upgrade) is emptied but kept, and reported in `kept`; run again once
    those old services are stopped. Messages from old delay queues go straight to the new handler
    queue: a retry comes early, a deferred message is deferred again by its handler.
    """
    declare_topology(amqp_uri, service_classes)
    report = {"moved": 0, "deleted": [], "kept": []}
    connection = connect(amqp_uri)
    try:
        for q in [q for cls in service_classes for q in handler_queues(cls)]:
            old = q["classic"]
            sources = [f"{old}.retry-{delay}" for delay in _delays(retry_delays_ms)]
            found = [name for name in [old, *sources] if queue_info(connection, name) is not None]
            if found:
                channel = connection.channel()
                channel.confirm_delivery()
                if old in found:  # no new copies into the old queue from here on
                    channel.queue_unbind(old, q["exchange"], routing_key=q["routing_key"])
                for name in [*found[1:], *found[:1]]:  # delay queues first: they dead-letter into `old`
                    report["moved"] += _move(channel, name, q["queue"])
                for name in [*found[1:], *found[:1]]:
                    try:
                        channel.queue_delete(name, if_unused=True, if_empty=True)
                        report["deleted"].append(name)
                    except pika.exceptions.ChannelClosedByBroker:
                        report["kept"].append(name)  # a consumer or a new message: next run
                        channel = connection.channel()
                        channel.confirm_delivery()
                if channel.is_open:
                    channel.close()
    finally:
        if connection.is_open:
            connection.close()
    return report
