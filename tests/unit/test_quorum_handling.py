"""A retry or deferral the broker did not confirm keeps the message (requeued), never acks it away."""
from datetime import timedelta

import pytest

from services.common import consumer
from services.common.consumer import DeliveryRetry, QuorumEventHandler, RedeliverLater, _WorkerRetry
from services.common.envelope import utcnow


class Broker:
    def __init__(self):
        self.acked, self.requeued = [], []

    def ack_message(self, message):
        self.acked.append(message)

    def requeue_message(self, message):
        self.requeued.append(message)


class RefusingPublisher:
    def publish(self, *args, **kwargs):
        raise ConnectionError("the node went away before confirming")


def _handler():
    handler = QuorumEventHandler("referrals", "referral_received")
    handler.queue_consumer = Broker()
    return handler


def test_a_worker_ending_in_redeliver_later_has_its_message_requeued():
    handler = _handler()
    handler.handle_message_processed("m1", exc_info=(RedeliverLater, RedeliverLater("x"), None))
    assert handler.queue_consumer.requeued == ["m1"] and handler.queue_consumer.acked == []


@pytest.mark.parametrize("exc_info", [None, (ValueError, ValueError("handler bug"), None)])
def test_anything_else_is_acked_as_nameko_does(exc_info):
    handler = _handler()
    handler.handle_message_processed("m1", exc_info=exc_info)
    assert handler.queue_consumer.acked == ["m1"] and handler.queue_consumer.requeued == []


@pytest.mark.parametrize("action", ["retry", "defer"])
def test_an_unconfirmed_retry_or_deferral_raises_redeliver_later(monkeypatch, action):
    monkeypatch.setattr(consumer.eventlet, "sleep", lambda seconds: None)
    provider = DeliveryRetry()
    provider.delays, provider.publisher = (1000,), RefusingPublisher()
    worker = _WorkerRetry(provider, attempt=0)
    with pytest.raises(RedeliverLater):
        if action == "retry":
            worker.retry_or_park("evt-q.v2", {"event_id": "e1"}, "ConnectionError")
        else:
            worker.defer("evt-q.v2", {"event_id": "e1"}, utcnow() + timedelta(minutes=5))
