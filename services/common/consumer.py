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
"""
from __future__ import annotations

import functools
import traceback
import uuid

from kombu import Exchange, Queue
from marshmallow import ValidationError
from nameko.amqp.publish import Publisher
from nameko.events import event_handler
from nameko.extensions import DependencyProvider

from .envelope import load_envelope, utcnow
from .logs import bind_context, clear_context, get_logger
from .mongo import DEAD_LETTERS, acquire_client, release_client

log = get_logger(__name__)

DEFAULT_RETRY_DELAYS_MS = (1000, 5000, 30000, 120000, 600000)
# Fixed delays a waiting message hops through, longest that fits first.
DEFER_HOPS_MS = (1000, 5000, 30000, 300000, 3600000)


class NotDueYet(Exception):
    """Raised by a handler whose message must wait until `due_at` (aware UTC datetime)."""

    def __init__(self, due_at):
        super().__init__(f"not due until {due_at.isoformat()}")
        self.due_at = due_at


def next_hop_ms(remaining_ms: float, hops=DEFER_HOPS_MS) -> int:
    """The longest hop that does not overshoot; the shortest when less than that remains."""
    fitting = [h for h in hops if h <= remaining_ms]
    return max(fitting) if fitting else min(hops)


def handler_queue(source: str, event_type: str, service: str, method: str) -> str:
    """The queue nameko binds for a SERVICE_POOL event handler."""
    return f"evt-{source}-{event_type}--{service}.{method}"


def delay_queue(queue: str, delay_ms: int) -> Queue:
    """A queue holding messages `delay_ms`, then dead-lettering them back to `queue`."""
    return Queue(
        f"{queue}.retry-{delay_ms}", exchange=Exchange(""), routing_key=f"{queue}.retry-{delay_ms}",
        durable=True,
        queue_arguments={
            "x-message-ttl": delay_ms,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": queue,
            "x-expires": delay_ms * 2 + 60000,  # the delay queue goes when unused
        },
    )



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
        self.publisher = Publisher(config["AMQP_URI"], use_confirms=True)
        self.client = acquire_client(self, config)  # shared with the store (one per process)
        self.db = self.client[config.get("MONGO_DB", f"refhub_{self.container.service_name}")]

    def stop(self):
        release_client(self)

    def kill(self):
        self.stop()

    def get_dependency(self, worker_ctx):
        return _WorkerRetry(self, int(worker_ctx.data.get("delivery_attempt") or 0))


class _WorkerRetry:
    def __init__(self, provider: DeliveryRetry, attempt: int):
        self.provider = provider
        self.attempt = attempt

    def _republish(self, queue: str, payload, delay_ms: int, attempt: int) -> None:
        target = delay_queue(queue, delay_ms)
        correlation_id = payload.get("correlation_id", "") if isinstance(payload, dict) else ""
        self.provider.publisher.publish(
            payload, exchange=Exchange(""), routing_key=target.name, declare=[target],
            extra_headers={"nameko.delivery_attempt": attempt,
                           "nameko.correlation_id": correlation_id})

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
            handle = event_handler(source, event_type, reliable_delivery=True)(handle)
        return handle
    return decorator


def _source_of(payload, sources):
    event_type = payload.get("event_type") if isinstance(payload, dict) else None
    for source, known_type in sources:
        if known_type == event_type:
            return source, known_type
    return sources[0]
