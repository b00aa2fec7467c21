"""Consumers reconnect with backoff, never give up, and survive an ack on a connection that has gone."""
import pytest

from services.common.queue_consumer import (RECONNECT_LONGEST_SECONDS, SETTLED_SECONDS, OwnQueueConsumer,
                                            failures_after, reconnect_delay)


def test_the_wait_doubles_from_one_second_up_to_the_longest():
    assert [reconnect_delay(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    assert reconnect_delay(50) == RECONNECT_LONGEST_SECONDS  # and it goes on trying at that pace


@pytest.mark.parametrize("failures, served, expected", [
    (0, None, 1),                     # the first connection failed before it consumed
    (3, None, 4),                     # still failing: the queue's leader is not elected yet
    (3, 2.0, 4),                      # consumed for a moment, then failed again: the same incident
    (5, SETTLED_SECONDS, 1),          # served a good while: a new incident starts from the first wait
])
def test_failures_count_the_incident_not_the_lifetime(failures, served, expected):
    assert failures_after(failures, served) == expected


class Channel:
    connection = object()  # still set: nameko would try to ack


class Message:
    channel = Channel()

    def __init__(self, error):
        self.error = error

    def ack(self):
        raise self.error

    def requeue(self):
        raise self.error


@pytest.mark.parametrize("error", [ConnectionResetError(104, "reset"), BrokenPipeError(32, "pipe")])
@pytest.mark.parametrize("settle", ["ack_message", "requeue_message"])
def test_settling_a_message_on_a_connection_that_has_gone_does_not_raise(error, settle):
    getattr(OwnQueueConsumer(), settle)(Message(error))  # the broker gives the message out again


def test_anything_else_still_raises():
    with pytest.raises(ValueError):
        OwnQueueConsumer().ack_message(Message(ValueError("a bug")))
