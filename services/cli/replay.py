"""Dead letters and failed messages, from the command line (pika speaks AMQP here)."""
from __future__ import annotations

import json

import pika

from services.common.config import pika_parameters
from services.common.consumer import current_queue
from services.common.mongo import DEAD_LETTERS
from services.common.envelope import utcnow
from services.common.mongo import connect
from services.common.outbox import with_outbox
from services.notifications.sending import wake_up_event


def _db(settings, service):
    return connect(settings.effective_mongo_uri)[settings.database(service)]


def list_dead_letters(settings, service=None):
    for name in ([service] if service else ("referrals", "safety", "notifications")):
        for doc in _db(settings, name)[DEAD_LETTERS].find({"replayed_at": None}).sort("parked_at", 1):
            yield {"service": name, "dead_letter_id": doc["_id"], "queue": doc["queue"],
                   "event_type": doc.get("event_type"), "event_id": doc.get("event_id"),
                   "case_id": doc.get("case_id"), "attempts": doc["attempts"],
                   "parked_at": doc["parked_at"], "error": doc["error"]}


def replay(settings, service, dead_letter_id):
    """Publish the parked message to its handler's queue again (attempts start afresh)."""
    collection = _db(settings, service)[DEAD_LETTERS]
    doc = collection.find_one({"_id": dead_letter_id, "replayed_at": None})
    if doc is None:
        raise ValueError(f"no parked event {dead_letter_id} in {service}")
    connection = pika.BlockingConnection(pika_parameters(settings.amqp_uri))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(  # parked before quorum queues: today's queue of that handler
            exchange="", routing_key=current_queue(doc["queue"]), body=json.dumps(doc["payload"]).encode(),
            properties=pika.BasicProperties(
                content_type="application/json", delivery_mode=2,
                headers={"nameko.correlation_id": (doc["payload"] or {}).get("correlation_id", "")}),
            mandatory=True)
    finally:
        connection.close()
    collection.update_one({"_id": dead_letter_id}, {"$set": {"replayed_at": utcnow()}})


def retry_notification(settings, notification_id):
    """Queue a failed message to be sent again by the running service.

    Attempts keep counting (the delivery log shows them all); the retry budget
    starts afresh. A message whose case was erased has nothing left to send.
    """
    db = _db(settings, "notifications")
    now = utcnow()
    doc = db["notifications"].find_one({"_id": notification_id},
                                       {"status": 1, "erased_at": 1, "case_id": 1, "correlation_id": 1})
    # the wake-up rides in the same write; the service's outbox relay publishes it
    result = doc and db["notifications"].update_one(
        {"_id": notification_id, "status": "failed", "erased_at": None},
        with_outbox({"$set": {"status": "pending", "next_attempt_at": now, "round_attempts": 0,
                              "lease_until": None, "lease_token": None, "requeued_at": now,
                              "updated_at": now}}, [wake_up_event(doc, now)]))
    if result and result.matched_count:
        return
    if doc is None:
        raise ValueError(f"no notification {notification_id}")
    if doc.get("erased_at"):
        raise ValueError(f"notification {notification_id} belongs to an erased case")
    raise ValueError(f"notification {notification_id} is {doc['status']}; only a failed one can be retried")
