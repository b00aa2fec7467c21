"""Transactional outbox on a single document.

A state change and the events it causes are written in ONE document update:
pending events live in the document's `outbox` map (event_id -> entry), with
`outbox_pending` counting them and `outbox_waiting: true` marking the document
for the sweep. A relay, run on a nameko timer in every replica, claims one
document at a time with `find_one_and_update` (a lease), publishes its events
with publisher confirms and removes them.

The sweep asks only for `{"outbox_waiting": true}` (an indexed equality), so
it reads the few documents with something to publish, never the history.

A worker's own write usually leaves its events the only ones pending (a new
document, or an update whose before-image had none): then it publishes them
straight from memory and removes them with one conditional write, no claim
(`publish_own`). Anyone who finds them still pending meanwhile (the sweep, a
later writer's claim) publishes them again, in order: consumers are
idempotent, and nothing is removed before the broker confirmed it.

(A map rather than an array: FerretDB v1 does not support `$pull` with a
condition, but `$unset` of one key works everywhere.)
"""
from __future__ import annotations

import itertools
import os
import socket
import time
from datetime import timedelta

from nameko.amqp.publish import UndeliverableMessage
from nameko.events import EventDispatcher
from pymongo import ReturnDocument

from .envelope import utcnow
from .logs import get_logger

log = get_logger(__name__)

_seq = itertools.count()


def _entry(event: dict) -> dict:
    # seq keeps events of one document in the order they were caused
    return {"seq": time.time_ns() + next(_seq), "event": event}


def outbox_fields(events: list[dict]) -> dict:
    """Fields to include in a document being inserted."""
    return {"outbox": {e["event_id"]: _entry(e) for e in events},
            "outbox_pending": len(events), WAITING: bool(events)}


def with_outbox(update: dict, events: list[dict]) -> dict:
    """Add `events` to a MongoDB update document (same single-document write)."""
    if not events:
        return update
    merged = {op: dict(v) for op, v in update.items()}
    merged.setdefault("$set", {}).update({f"outbox.{e['event_id']}": _entry(e) for e in events})
    merged["$set"][WAITING] = True
    merged.setdefault("$inc", {})["outbox_pending"] = (
        merged.get("$inc", {}).get("outbox_pending", 0) + len(events))
    return merged


# A sweep finds what no worker flushed (a crash, a broker outage); workers flush their own writes at once.
SWEEP_SECONDS = float(os.environ.get("OUTBOX_SWEEP_SECONDS") or 2.0)
WAITING = "outbox_waiting"  # true while a document has events to publish: what the sweep asks for
# worker_ctx attribute: (collection, _id, db, events) of that worker's outbox writes; events is None
# unless they were the document's only pending events when written (see publish_own)
WRITTEN_KEY = "outbox_written"


class OutboxRelay:
    """Publishes pending outbox events of some collections; safe with many replicas."""

    def __init__(self, db, collections, publish, lease_seconds: float = 30.0):
        self.db = db
        self.collections = collections
        self.publish = publish
        self.lease = timedelta(seconds=lease_seconds)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self)}"

    def _claim(self, collection, doc_id):
        now = utcnow()
        return self.db[collection].find_one_and_update(
            {"_id": doc_id, WAITING: True,
             "$or": [{"outbox_lease_until": None}, {"outbox_lease_until": {"$lt": now}}]},
            {"$set": {"outbox_lease_until": now + self.lease, "outbox_lease_owner": self.owner}},
            return_document=ReturnDocument.AFTER,
        )

    def _release(self, collection, doc_id):
        self.db[collection].update_one(
            {"_id": doc_id, "outbox_lease_owner": self.owner},
            {"$set": {"outbox_lease_until": None, "outbox_lease_owner": None}})

    def publish_pending(self, max_documents: int = 50) -> int:
        """Sweep: publish what is pending in any document; returns the number of events published."""
        published = 0
        for collection in self.collections:
            # a read first: claiming is a write, and most sweeps find nothing to do
            pending = self.db[collection].find({WAITING: True}, {"_id": 1}).limit(max_documents)
            for doc in list(pending):
                count = self.publish_document(collection, doc["_id"])
                if count is None:
                    return published  # the broker refuses: try again next sweep
                published += count
        return published

    def publish_document(self, collection, doc_id) -> int | None:
        """Publish one document's pending events in order; None when the broker refused one."""
        doc = self._claim(collection, doc_id)
        if doc is None:
            return 0  # nothing pending, or another replica holds it
        if not doc.get("outbox"):
            self._settle(collection, doc_id)
            return 0
        entries = sorted(doc["outbox"].values(), key=lambda e: e["seq"])
        finished = False

        def confirmed(event, published):
            # removed only after the broker confirmed it; the last one together with the lease
            nonlocal finished
            if event is entries[-1]["event"]:
                finished = self._finish(collection, doc_id, event["event_id"], doc["outbox_pending"] - published)
            if not finished:
                self._remove(collection, doc_id, event["event_id"])

        try:
            published = self._publish_in_order(collection, doc_id, [e["event"] for e in entries], confirmed)
        finally:
            if not finished:
                self._release(collection, doc_id)
        if published is not None and not finished:
            self._settle(collection, doc_id)
        return published

    def publish_own(self, collection, doc_id, events: list[dict]) -> int | None:
        """Publish the events this worker just wrote, when they were the document's only pending ones.

        One write afterwards: if they are still the only ones pending, the outbox is emptied and the
        document leaves the sweep's list; otherwise (a writer added more since) each of ours is removed
        and the rest stays for whoever holds or takes the lease. None when the broker refused one.
        """
        if self._publish_in_order(collection, doc_id, events) is None:
            return None
        ids = [event["event_id"] for event in events]
        emptied = self.db[collection].update_one(
            {"_id": doc_id, "outbox_pending": len(ids), **{f"outbox.{i}": {"$exists": True} for i in ids}},
            {"$unset": {f"outbox.{i}": "" for i in ids}, "$set": {"outbox_pending": 0, WAITING: False}})
        if emptied.modified_count != 1:
            for event_id in ids:
                self._remove(collection, doc_id, event_id)
            self._settle(collection, doc_id)
        return len(events)

    def _publish_in_order(self, collection, doc_id, events: list[dict], confirmed=None) -> int | None:
        """Publish each event in turn (`confirmed(event, count_before)` once the broker took it);
        returns how many went, or None when the broker refused one (the rest wait for the sweep)."""
        published = 0
        try:
            for event in events:
                self.publish(event)
                if confirmed is not None:
                    confirmed(event, published)
                published += 1
                log.info("event_published", event_type=event["event_type"], event_id=event["event_id"],
                         case_id=event.get("case_id"), correlation_id=event.get("correlation_id"))
        except UndeliverableMessage:
            log.warning("event_unroutable_will_retry", collection=collection, document_id=str(doc_id))
            return None
        except Exception:
            log.exception("outbox_publish_failed", collection=collection, document_id=str(doc_id))
            return None
        return published

    def _remove(self, collection, doc_id, event_id):
        self.db[collection].update_one({"_id": doc_id, f"outbox.{event_id}": {"$exists": True}},
                                       {"$unset": {f"outbox.{event_id}": ""}, "$inc": {"outbox_pending": -1}})

    def _finish(self, collection, doc_id, event_id, pending) -> bool:
        """The usual case in one write: the last event out, the lease released, off the sweep's list.

        Only if no writer added an event since the claim (`outbox_pending` is still what we saw).
        """
        return self.db[collection].update_one(
            {"_id": doc_id, "outbox_lease_owner": self.owner, "outbox_pending": pending,
             f"outbox.{event_id}": {"$exists": True}},
            {"$unset": {f"outbox.{event_id}": ""},
             "$set": {"outbox_pending": pending - 1, WAITING: pending - 1 > 0,
                      "outbox_lease_until": None, "outbox_lease_owner": None}}).modified_count == 1

    def _settle(self, collection, doc_id):
        # off the sweep's list only if no writer added an event since (writes are atomic per document)
        self.db[collection].update_one({"_id": doc_id, "outbox_pending": 0, WAITING: True},
                                       {"$set": {WAITING: False}})


class EventPublisher(EventDispatcher):
    """nameko's EventDispatcher, publishing outbox envelopes with confirms.

    `mandatory=True`: an event no queue is bound to raises instead of being
    dropped, so it stays in the outbox until a consumer exists.
    The envelope's correlation_id travels as the `nameko.correlation_id` header.
    Documents a worker wrote events into are published as soon as the worker
    is done (after its HTTP response or message ack); `relay` sweeps the rest.
    """

    def __init__(self, **options):
        options.setdefault("mandatory", True)
        options.setdefault("use_confirms", True)
        super().__init__(**options)

    def publish_event(self, event: dict) -> None:
        self.publisher.publish(
            event, exchange=self.exchange, routing_key=event["event_type"],
            extra_headers={"nameko.correlation_id": event["correlation_id"]})

    def get_dependency(self, worker_ctx):
        return self

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        written = getattr(worker_ctx, WRITTEN_KEY, None)
        if not written:
            return
        writes = {}
        for collection, doc_id, db, events in written:
            # a document this worker wrote twice: its second write saw the first's events pending
            writes[(collection, doc_id)] = (db, events if (collection, doc_id) not in writes else None)
        for (collection, doc_id), (db, events) in writes.items():
            relay = OutboxRelay(db, (), self.publish_event)
            if events is not None:
                outcome = relay.publish_own(collection, doc_id, events)
            else:
                outcome = relay.publish_document(collection, doc_id)
            if outcome is None:
                return  # left for the sweep

    def relay(self, repository) -> int:
        return OutboxRelay(repository.db, repository.outbox_collections,
                           self.publish_event).publish_pending()
