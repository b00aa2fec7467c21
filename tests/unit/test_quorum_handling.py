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


class RefusingTwice:
    """The node went away; the next try reaches the survivor that has the queue's new leader."""

    def __init__(self):
        self.tries = 0

    def publish(self, *args, **kwargs):
        self.tries += 1
        if self.tries <= 2:
            raise ConnectionError("not confirmed")


def test_a_failover_is_waited_out_in_the_worker_before_the_message_goes_back(monkeypatch):
    waits = []
    monkeypatch.setattr(consumer.eventlet, "sleep", waits.append)
    provider = DeliveryRetry()
    provider.delays, provider.publisher = (1000,), RefusingTwice()
    _WorkerRetry(provider, attempt=0).retry_or_park("evt-q.v2", {"event_id": "e1"}, "ConnectionError")
    assert provider.publisher.tries == 3 and waits == [1, 2]  # no RedeliverLater: nothing counted a delivery


def test_after_the_last_try_the_message_goes_back_to_its_queue(monkeypatch):
    monkeypatch.setattr(consumer.eventlet, "sleep", lambda seconds: None)
    provider = DeliveryRetry()
    provider.delays, provider.publisher = (1000,), RefusingTwice()
    provider.publisher.tries = -consumer.REPUBLISH_TRIES  # refuses every try this time
    with pytest.raises(RedeliverLater):
        _WorkerRetry(provider, attempt=0).retry_or_park("evt-q.v2", {"event_id": "e1"}, "ConnectionError")
    assert provider.publisher.tries == 0  # every one of the tries was made
