"""Each consumer on its own broker connection, reconnecting with backoff until its queue answers.

nameko gives all the consumers of a service one connection (its shared
`QueueConsumer`). On a RabbitMQ cluster that has just lost the node leading
some quorum queues, `basic.consume` on a queue whose new leader is not elected
yet fails with INTERNAL_ERROR, and RabbitMQ 3.10 reports that as a connection
error: it closes the shared connection, so every other consumer of the service
goes with it. kombu then reconnects about once a second, declares and consumes
every queue again, and fails again on the same queue. Every such cycle hands
back what the consumers had already been given, and a quorum queue counts each
return toward the delivery limit, so a few cycles can park innocent messages.
(That loop was reported from bench/cluster_faults.py --stop-leader runs; those
runs also showed a second fault: an ack on a connection that had just gone
raised a socket error, which nameko does not catch, and it killed the service.)

`OwnQueueConsumer` is nameko's QueueConsumer with three changes:

- not shared: each entrypoint that uses it (a handler queue, the park queue,
  the RPC queue, a caller's RPC replies) has its own connection, so a queue
  still waiting for its leader holds up only its own consumer;
- after a connection fails, it waits before the next try: 1 s, then twice as
  long after each try that fails again (up to 30 s), and never gives up while
  the service runs (`reconnect_delay`);
- an ack or requeue on a connection that has gone is dropped with a warning:
  the broker has already put the message back for another consumer.
"""
from __future__ import annotations

import random
import time

import eventlet
from amqp import Connection as AmqpConnection
from kombu.exceptions import OperationalError
from nameko.extensions import Extension
from nameko.messaging import QueueConsumer

from .logs import get_logger

log = get_logger(__name__)

RECONNECT_FIRST_SECONDS = 1.0
RECONNECT_LONGEST_SECONDS = 30.0
# a connection that served this long before it failed starts the backoff again from the first delay
SETTLED_SECONDS = 30.0
# what a send on a connection that has gone raises (socket errors as well as AMQP connection errors)
CONNECTION_LOST = AmqpConnection.connection_errors


def reconnect_delay(failures: int, first: float = RECONNECT_FIRST_SECONDS,
                    longest: float = RECONNECT_LONGEST_SECONDS) -> float:
    """Seconds to wait after `failures` connection failures in a row (1 for the first)."""
    return min(longest, first * 2 ** max(0, failures - 1))


def failures_after(failures: int, served_seconds: float | None) -> int:
    """The failure count once a connection has failed: `served_seconds` is how long it consumed (None: never).

    A connection that served a good while before failing is a new incident; one that failed before it
    was consuming, or soon after, is the same incident going on (a leader election, a node still down).
    """
    if served_seconds is not None and served_seconds >= SETTLED_SECONDS:
        return 1
    return failures + 1


class OwnQueueConsumer(QueueConsumer):
    """nameko's QueueConsumer, one per entrypoint, with backoff and acks that survive a lost connection."""

    _ready_at: float | None = None

    def bind(self, container):
        return Extension.bind(self, container)  # not SharedExtension.bind: never shared

    def on_consume_ready(self, connection, channel, consumers, **kwargs):
        self._ready_at = time.monotonic()
        super().on_consume_ready(connection, channel, consumers, **kwargs)

    def run(self, _tokens=1, **kwargs):
        """kombu's ConsumerMixin.run, with `reconnect_delay` between tries instead of one a second."""
        errors = self.connection.connection_errors + self.connection.channel_errors + (OperationalError,)
        failures = 0
        while not self.should_stop:
            self._ready_at = None
            try:
                for _ in self.consume(limit=None, **kwargs):
                    pass
            except errors as exc:
                if self.should_stop:
                    break
                served = None if self._ready_at is None else time.monotonic() - self._ready_at
                failures = failures_after(failures, served)
                delay = reconnect_delay(failures) * random.uniform(0.8, 1.0)  # replicas apart
                log.warning("broker_consumer_reconnecting", queues=self._queue_names(),
                            error=type(exc).__name__, failures=failures, retry_in_seconds=round(delay, 1))
                self._wait(delay)

    def _wait(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.should_stop and time.monotonic() < deadline:
            self._release_removed_providers()
            eventlet.sleep(min(0.5, max(0.0, deadline - time.monotonic())))

    def _release_removed_providers(self) -> None:
        """Let an entrypoint stopping while there is no connection go (nothing to cancel on the broker)."""
        pending, self._pending_remove_providers = self._pending_remove_providers, {}
        for provider, removed in pending.items():
            self._consumers.pop(provider, None)
            removed.send()
        if pending and not self._consumers:
            self.should_stop = True

    def _queue_names(self) -> list[str]:
        return sorted(str(getattr(getattr(p, "queue", None), "name", "?")) for p in self._providers)

    def ack_message(self, message):
        try:
            super().ack_message(message)
        except CONNECTION_LOST as exc:
            log.warning("broker_ack_lost", error=type(exc).__name__)

    def requeue_message(self, message):
        try:
            super().requeue_message(message)
        except CONNECTION_LOST as exc:
            log.warning("broker_requeue_lost", error=type(exc).__name__)
