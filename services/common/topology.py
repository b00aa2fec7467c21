"""Declare every event handler's queue before any service publishes.

nameko creates a handler's queue only when that consumer first starts, and an
event published before then reaches nobody. `refhub stack up` (and any deploy
step) declares the queues of all services first, with the exact names and
arguments nameko uses, so the first referral of a fresh install is not lost
because the safety service happened to start a second later.
"""
from __future__ import annotations

import pika
from nameko.events import SERVICE_POOL, EventHandler

from .config import pika_uri


def handler_queues(service_cls) -> list[dict]:
    """The durable queues nameko's SERVICE_POOL event handlers of a service consume from.

    Same names and arguments as nameko declares (a mismatch would make RabbitMQ refuse one of them).
    """
    queues = []
    for attr in dir(service_cls):
        for entrypoint in getattr(getattr(service_cls, attr), "nameko_entrypoints", ()):
            if not isinstance(entrypoint, EventHandler) or entrypoint.handler_type != SERVICE_POOL:
                continue
            queues.append({
                "queue": f"evt-{entrypoint.source_service}-{entrypoint.event_type}--{service_cls.name}.{attr}",
                "exchange": f"{entrypoint.source_service}.events", "routing_key": entrypoint.event_type,
                "auto_delete": not entrypoint.reliable_delivery})
    return queues


def declare_topology(amqp_uri: str, service_classes) -> int:
    """Declare exchanges, queues and bindings with pika (code outside nameko speaks pika)."""
    queues = [q for cls in service_classes for q in handler_queues(cls)]
    connection = pika.BlockingConnection(pika.URLParameters(pika_uri(amqp_uri)))
    try:
        channel = connection.channel()
        for q in queues:
            channel.exchange_declare(q["exchange"], exchange_type="topic", durable=True)
            channel.queue_declare(q["queue"], durable=True, auto_delete=q["auto_delete"])
            channel.queue_bind(q["queue"], q["exchange"], routing_key=q["routing_key"])
    finally:
        connection.close()
    return len(queues)
