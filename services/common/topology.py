"""Declare every event handler's queue before any service publishes.

nameko creates a handler's queue only when that consumer first starts, and an
event published before then reaches nobody. `refhub stack up` (and any deploy
step) declares the queues of all services first, with the exact names and
arguments nameko uses, so the first referral of a fresh install is not lost
because the safety service happened to start a second later.
"""
from __future__ import annotations

from kombu import Connection, Queue
from nameko.events import SERVICE_POOL, EventHandler
from nameko.standalone.events import get_event_exchange


def handler_queues(service_cls) -> list[Queue]:
    """The durable queues nameko's SERVICE_POOL event handlers of a service consume from."""
    queues = []
    for attr in dir(service_cls):
        for entrypoint in getattr(getattr(service_cls, attr), "nameko_entrypoints", ()):
            if not isinstance(entrypoint, EventHandler) or entrypoint.handler_type != SERVICE_POOL:
                continue
            queues.append(Queue(
                f"evt-{entrypoint.source_service}-{entrypoint.event_type}--{service_cls.name}.{attr}",
                exchange=get_event_exchange(entrypoint.source_service, {}),
                routing_key=entrypoint.event_type, durable=True,
                auto_delete=not entrypoint.reliable_delivery))
    return queues


def declare_topology(amqp_uri: str, service_classes) -> int:
    queues = [q for cls in service_classes for q in handler_queues(cls)]
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        for queue in queues:
            queue(channel).declare()
    return len(queues)
