"""Event consumers that never lose work.

`@consumes((source, event_type), ...)` turns a method into nameko event
handlers taking a validated envelope. When the method raises, the message is
re-published to a per-queue delay queue that dead-letters it back to the
handler's own queue (backoff without a hot loop); after the last attempt it is
parked in the service's `dead_letters` collection with its error, listed and
replayed by `refhub dead-letters`. nameko acks a handler that raises, so this
is what keeps a failed event from being silently lost.

Time rides on the broker the same way: a handler that raises `NotDueYet(at)`
has its message hop through fixed-delay queues (each with one queue-level
TTL, so a 13-hour wait never holds back a 1-second one) until `at`, then
handles it again. Nothing polls the database for work that is waiting.

Every queue here is a quorum queue (replicated on a RabbitMQ cluster; one
replica on a single broker), named with a `.v2` suffix because a classic
queue cannot become a quorum queue in place (`topology.migrate_classic_queues`
moves what the old classic queues held). Handler queues carry a delivery
limit: a message delivered DELIVERY_LIMIT + 1 times without an ack (its
consumer died or lost its connection each time: a poison message) is
dead-lettered by the broker to the service's park queue, and the service
parks it in `dead_letters` like an event that failed every retry. What
quorum queues do differently, and how that is handled:

- no per-message TTL needed: delays are queue-level `x-message-ttl`, one
  queue per delay;
- dead-lettering is at-most-once unless `x-dead-letter-strategy:
  at-least-once` (which needs `x-overflow: reject-publish`): set on every
  queue that dead-letters (delay → handler, handler → park), so a message
  leaves the source queue only once the target queue has it;
- they are always durable and never exclusive or auto-delete: nameko's
  handlers use `reliable_delivery=True` (durable, not auto-delete), and
  BROADCAST/non-reliable handlers are refused here.
"""
from __future__ import annotations

import functools
import traceback
import uuid

import eventlet
from kombu import Exchange, Queue
from marshmallow import ValidationError
from nameko.amqp.publish import Publisher
from nameko.events import SERVICE_POOL, EventHandler, EventHandlerConfigurationError, get_event_exchange
from nameko.extensions import DependencyProvider
from nameko.messaging import Consumer

from .config import check_amqp_uri
from .envelope import load_envelope, utcnow
from .logs import bind_context, clear_context, get_logger
from .mongo import DEAD_LETTERS, acquire_client, release_client
from .queue_consumer import OwnQueueConsumer, reconnect_delay

log = get_logger(__name__)

DEFAULT_RETRY_DELAYS_MS = (1000, 5000, 30000, 120000, 600000)
# Fixed delays a waiting message hops through, longest that fits first.
DEFER_HOPS_MS = (1000, 5000, 30000, 60000, 300000, 3600000)  # 60 s: the triage wait, in one hop


class NotDueYet(Exception):
    """Raised by a handler whose message must wait until `due_at` (aware UTC datetime)."""

    def __init__(self, due_at):
        super().__init__(f"not due until {due_at.isoformat()}")
        self.due_at = due_at


# How late a hop may bring a message back. A queue's TTL runs from when the message entered it, so
# a wait never divides exactly into hops: without slack a 60 s wait came back 29.98 s short of due
# after its first 30 s hop and took five 5 s hops and four 1 s hops more (12 deliveries, measured:
# most of an idle minute's work after a burst); with 1 s of slack (and a 60 s hop) it takes one.
HOP_SLACK_MS = 1000


def next_hop_ms(remaining_ms: float, hops=DEFER_HOPS_MS, slack_ms: float = HOP_SLACK_MS) -> int:
    """The longest hop that overshoots by at most `slack_ms`; the shortest when less than that remains."""
    fitting = [h for h in hops if h <= remaining_ms + slack_ms]
    return max(fitting) if fitting else min(hops)


QUEUE_GENERATION = "v2"  # quorum queues; the classic queues before them had no suffix
# Deliveries without an ack before the broker dead-letters a message to the park queue. An ack is
# missing only when a consumer dies or loses its connection while holding the message (a handler that
# raises is acked and retried by this module), so 5 crashes in a row mark a poison message.
DELIVERY_LIMIT = 5
QUORUM = {"x-queue-type": "quorum"}
# at-least-once dead-lettering: the message stays in the source queue until the target confirms it
AT_LEAST_ONCE = {"x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}


def handler_queue(source: str, event_type: str, service: str, method: str) -> str:
    """The quorum queue a SERVICE_POOL event handler consumes from."""
    return f"{classic_handler_queue(source, event_type, service, method)}.{QUEUE_GENERATION}"


def classic_handler_queue(source: str, event_type: str, service: str, method: str) -> str:
    """The classic queue nameko itself declares (and earlier installs have)."""
    return f"evt-{source}-{event_type}--{service}.{method}"


def current_queue(name: str) -> str:
    """A handler queue name as recorded before quorum queues, in today's form (dead letters keep old names)."""
    if name.startswith("evt-") and not name.endswith(f".{QUEUE_GENERATION}"):
        return f"{name}.{QUEUE_GENERATION}"
    return name


def park_queue(service: str) -> str:
    """Where the broker dead-letters a service's poison messages; the service parks them."""
    return f"refhub-parked--{service}.{QUEUE_GENERATION}"


def handler_queue_arguments(service: str) -> dict:
    """Identical wherever the queue is declared (nameko, topology.py), or RabbitMQ refuses one."""
    return {**QUORUM, "x-delivery-limit": DELIVERY_LIMIT, "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": park_queue(service), **AT_LEAST_ONCE}


def park_queue_declaration(service: str) -> Queue:
    name = park_queue(service)
    return Queue(name, exchange=Exchange(""), routing_key=name, durable=True, queue_arguments=dict(QUORUM))


def delay_queue(queue: str, delay_ms: int) -> Queue:
    """A queue holding messages `delay_ms` (queue-level TTL), then dead-lettering them back to `queue`.

    Nothing consumes from it, so no delivery limit applies; the TTL's dead-lettering is
    at-least-once, so a message expiring while `queue` elects a leader waits rather than vanishing.
    """
    return Queue(
        f"{queue}.retry-{delay_ms}", exchange=Exchange(""), routing_key=f"{queue}.retry-{delay_ms}",
        durable=True,
        queue_arguments={
            **QUORUM,
            "x-message-ttl": delay_ms,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": queue,
            **AT_LEAST_ONCE,
            "x-expires": delay_ms * 2 + 60000,  # the delay queue goes when unused
        },
    )


# Tries of a retry/deferral publish, the broker's backoff between them (1+2+4+8 s), before the message goes
# back to its queue: each return counts toward the delivery limit, so a leader election or a failover
# (seconds) is waited out here rather than spent in redeliveries.
REPUBLISH_TRIES = 5


class RedeliverLater(Exception):
    """Raised when a retry or a deferral could not be published: the message goes back to its queue."""


class QuorumEventHandler(EventHandler):
    """nameko's SERVICE_POOL event handler on a quorum queue with a delivery limit (see module doc).

    A worker ending in RedeliverLater has its message requeued (counted by the delivery limit)
    instead of acked, so a broker that could not take the retry never loses the event.
    Each handler consumes on its own connection (queue_consumer.py).
    """

    queue_consumer = OwnQueueConsumer()

    def setup(self):
        if self.handler_type is not SERVICE_POOL or not self.reliable_delivery:
            raise EventHandlerConfigurationError(
                "quorum queues are durable and shared: only SERVICE_POOL handlers with reliable delivery")
        service = self.container.service_name
        self.queue = Queue(
            handler_queue(self.source_service, self.event_type, service, self.method_name),
            exchange=get_event_exchange(self.source_service, self.container.config),
            routing_key=self.event_type, durable=True, auto_delete=False, exclusive=False,
            queue_arguments=handler_queue_arguments(service))
        Consumer.setup(self)

    def handle_message_processed(self, message, result=None, exc_info=None):
        if exc_info is not None and isinstance(exc_info[1], RedeliverLater):
            self.queue_consumer.requeue_message(message)
        else:
            super().handle_message_processed(message, result, exc_info)


class ParkedConsumer(Consumer):
    """Consumes the service's park queue: what the broker dead-lettered at the delivery limit."""

    queue_consumer = OwnQueueConsumer()

    def __init__(self, **kwargs):
        super().__init__(queue=None, requeue_on_error=True, **kwargs)

    def setup(self):
        self.queue = park_queue_declaration(self.container.service_name)
        super().setup()

    def handle_message(self, body, message):
        deaths = (message.headers or {}).get("x-death") or [{}]
        latest = deaths[0]  # most recent first: the handler queue that gave up on it
        context_data = self.unpack_message_headers(message)
        context_data["parked_from"] = str(latest.get("queue") or "unknown")
        context_data["parked_reason"] = str(latest.get("reason") or "unknown")
        self.container.spawn_worker(self, (body,), {}, context_data=context_data,
                                    handle_result=functools.partial(self.handle_result, message))


def park(db, *, queue: str, payload, error: str, attempts: int) -> str:
    dead_letter_id = str(uuid.uuid4())
    event = payload if isinstance(payload, dict) else {"raw": repr(payload)}
    db[DEAD_LETTERS].insert_one({
        "_id": dead_letter_id, "queue": queue, "payload": payload, "error": error,
        "attempts": attempts, "parked_at": utcnow(), "replayed_at": None,
        "event_id": event.get("event_id"), "event_type": event.get("event_type"),
        "case_id": event.get("case_id"),
    })
    return dead_letter_id


class DeliveryRetry(DependencyProvider):
    """Redelivery with backoff, then parking. Config: RETRY_DELAYS_MS ("1000,5000,...")."""

    def setup(self):
        config = self.container.config
        delays = config.get("RETRY_DELAYS_MS")
        if isinstance(delays, str):
            delays = [int(d) for d in delays.split(",") if d.strip()]
        self.delays = tuple(delays) if delays else DEFAULT_RETRY_DELAYS_MS
        # the service's one AMQP_URI check (all event services have this dependency)
        self.publisher = Publisher(check_amqp_uri(config["AMQP_URI"]), use_confirms=True)
        self.client = acquire_client(self, config)  # shared with the store (one per process)
        self.db = self.client[config.get("MONGO_DB", f"refhub_{self.container.service_name}")]

    def stop(self):
        release_client(self)

    def kill(self):
        self.stop()

    def get_dependency(self, worker_ctx):
        parked = worker_ctx.data.get("parked_from") if isinstance(worker_ctx.entrypoint,
                                                                  ParkedConsumer) else None
        return _WorkerRetry(self, int(worker_ctx.data.get("delivery_attempt") or 0), parked,
                            worker_ctx.data.get("parked_reason"))


class _WorkerRetry:
    def __init__(self, provider: DeliveryRetry, attempt: int, parked_from: str | None = None,
                 parked_reason: str | None = None):
        self.provider = provider
        self.attempt = attempt
        self.parked_from = parked_from  # set when the broker dead-lettered this message to the park queue
        self.parked_reason = parked_reason

    def park_dead_lettered(self, payload) -> None:
        """Park what the broker gave up on (a poison message) in dead_letters, replayable like any other."""
        try:
            dead_letter_id = park(
                self.provider.db, queue=self.parked_from, payload=payload,
                error=(f"delivered {DELIVERY_LIMIT + 1} times without an ack (its consumer died or lost "
                       f"its connection each time); the broker's delivery limit ({self.parked_reason})"),
                attempts=DELIVERY_LIMIT + 1)
        except Exception:
            eventlet.sleep(1)  # the database is down: the message goes back to the park queue, not lost
            raise
        log.error("event_parked", queue=self.parked_from, dead_letter_id=dead_letter_id,
                  reason=self.parked_reason)

    def _republish(self, queue: str, payload, delay_ms: int, attempt: int) -> None:
        target = delay_queue(queue, delay_ms)
        correlation_id = payload.get("correlation_id", "") if isinstance(payload, dict) else ""
        for tries in range(1, REPUBLISH_TRIES + 1):
            try:
                self.provider.publisher.publish(
                    payload, exchange=Exchange(""), routing_key=target.name, declare=[target],
                    extra_headers={"nameko.delivery_attempt": attempt,
                                   "nameko.correlation_id": correlation_id})
                return
            except Exception as exc:  # unconfirmed: try again, then keep the message (requeued), never ack it
                log.warning("event_republish_failed", queue=queue, delay_ms=delay_ms, error=type(exc).__name__,
                            tries=tries)
                if tries == REPUBLISH_TRIES:
                    raise RedeliverLater(type(exc).__name__) from exc
                eventlet.sleep(reconnect_delay(tries))

    def defer(self, queue: str, payload, due_at) -> int:
        """Send the message round a fixed-delay queue towards `due_at`; not an attempt."""
        remaining_ms = (due_at - utcnow()).total_seconds() * 1000
        hop = next_hop_ms(remaining_ms)
        self._republish(queue, payload, hop, self.attempt)
        return hop

    def retry_or_park(self, queue: str, payload, error: str, poison: bool = False) -> None:
        delays = self.provider.delays
        if not poison and self.attempt < len(delays):
            delay = delays[self.attempt]
            self._republish(queue, payload, delay, self.attempt + 1)
            log.warning("event_retry_scheduled", queue=queue, attempt=self.attempt + 1,
                        delay_ms=delay)
            return
        dead_letter_id = park(self.provider.db, queue=queue, payload=payload, error=error,
                              attempts=self.attempt + 1)
        log.error("event_parked", queue=queue, dead_letter_id=dead_letter_id,
                  attempts=self.attempt + 1)


def consumes(*sources: tuple[str, str]):
    """Handle envelopes from each (source_service, event_type); see module doc.

    The service must have a `delivery = DeliveryRetry()` dependency.
    """
    def decorator(fn):
        @functools.wraps(fn)
        def handle(self, payload):
            clear_context()
            if getattr(self.delivery, "parked_from", None):  # from the park queue: the broker gave up on it
                self.delivery.park_dead_lettered(payload)
                return None
            try:
                envelope = load_envelope(payload)
            except ValidationError as exc:
                source, event_type = _source_of(payload, sources)
                log.error("event_envelope_invalid", fields=sorted(exc.messages))
                self.delivery.retry_or_park(handler_queue(source, event_type, self.name,
                                                          fn.__name__),
                                            payload, f"invalid envelope: {exc.messages}",
                                            poison=True)
                return None
            bind_context(correlation_id=envelope["correlation_id"], case_id=envelope["case_id"],
                         event_id=envelope["event_id"], event_type=envelope["event_type"])
            try:
                return fn(self, envelope)
            except NotDueYet as wait:
                queue = handler_queue(envelope["producer"], envelope["event_type"], self.name,
                                      fn.__name__)
                hop = self.delivery.defer(queue, payload, wait.due_at)
                log.info("event_deferred", due_at=wait.due_at.isoformat(), hop_ms=hop)
                return None
            except Exception as exc:  # retried or parked below, never swallowed
                log.exception("event_handling_failed", handler=fn.__name__)
                queue = handler_queue(envelope["producer"], envelope["event_type"], self.name,
                                      fn.__name__)
                self.delivery.retry_or_park(
                    queue, payload, "".join(traceback.format_exception_only(type(exc), exc)).strip())
                return None

        for source, event_type in sources:
            handle = QuorumEventHandler.decorator(source, event_type, reliable_delivery=True)(handle)
        return ParkedConsumer.decorator()(handle)
    return decorator


def _source_of(payload, sources):
    event_type = payload.get("event_type") if isinstance(payload, dict) else None
    for source, known_type in sources:
        if known_type == event_type:
            return source, known_type
    return sources[0]
