"""sending.py over an in-memory repository: a wake-up sends its one message once, at its time."""
from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest

from services.common.consumer import NotDueYet
from services.common.envelope import load_envelope
from services.notifications.messages import UK
from services.notifications.planning import MessagePlanner
from services.notifications.quiet_hours import QuietHours
from services.notifications.sending import NOTIFICATION_DUE, MessageSender
from tests.integration.notifications_peers import follow_up, referral_received
from tests.unit.notifications_fakes import GROUP, START, Clock, FakeChannels, InMemoryNotifications


class Setup:
    """A referral planned into an in-memory store, and a sender on the same store and clock."""

    def __init__(self, put_off=True, **channel_settings):
        self.store, self.clock = InMemoryNotifications(), Clock()
        self.channels = FakeChannels(**channel_settings)
        self.referral = referral_received()
        self.claimed = MessagePlanner(self.store, self.channels, GROUP, self.clock).plan_for_event(
            load_envelope(self.referral))
        self.sender = MessageSender(self.store, self.channels, GROUP, self.clock)
        if put_off:
            # the planner's own send put off (as when quiet hours begin): a wake-up carries each from here
            for doc in self.claimed:
                self.sender._later(doc, self.clock(), {})

    def doc(self, template):
        return self.store.by_template(template)

    def last_wake_up(self, template):
        event = self.store.events_of(NOTIFICATION_DUE, self.doc(template)["_id"])[-1]
        return event["data"]["notification_id"], datetime.fromisoformat(event["data"]["due_at"])

    def wake(self, template):
        return self.sender.wake_up(*self.last_wake_up(template))


def test_a_due_wake_up_sends_its_message_once_and_a_copy_sends_nothing():
    s = Setup()
    assert s.wake("referrer_receipt") == "sent"
    assert s.wake("referrer_receipt") == "stale"   # redelivered or duplicated
    assert len(s.channels.email.sent) == 1
    receipt = s.doc("referrer_receipt")
    assert (receipt["status"], receipt["attempts"], receipt["lease_token"]) == ("sent", 1, None)
    (sent,) = s.store.events_of("notification_sent")
    assert sent["data"]["notification_id"] == receipt["_id"]
    # the day its body is scrubbed is on the message, written with "sent": no marker, no event to read
    assert receipt["body_due_on"] == "2027-05-25"  # START (25 Nov 2026) + the default six months


def test_a_wake_up_before_its_time_waits_without_reading_the_message():
    s = Setup(triage_wait_seconds=60)
    notification_id, due_at = s.last_wake_up("coordinator_alert")
    with pytest.raises(NotDueYet) as wait:
        s.sender.wake_up(notification_id, due_at)
    assert wait.value.due_at == START + timedelta(seconds=60)
    assert s.store.reads == 0 and s.channels.email.sent == []
    s.clock.advance(seconds=60)
    assert s.sender.wake_up(notification_id, due_at) == "sent"
    assert "the fire risk check is not in yet" in s.channels.email.sent[0][0][2]


def test_a_message_put_back_since_its_wake_up_was_written_waits_for_its_new_time():
    s = Setup()
    later = START + timedelta(hours=2)
    s.store.messages[s.doc("referrer_receipt")["_id"]]["next_attempt_at"] = later
    with pytest.raises(NotDueYet) as wait:
        s.wake("referrer_receipt")
    assert wait.value.due_at == later and s.channels.email.sent == []


def test_of_two_wake_ups_only_the_one_that_claims_sends():
    s = Setup()
    notification_id, due_at = s.last_wake_up("referrer_receipt")
    seen_by_both = s.store.get(notification_id)
    assert s.store.claim(seen_by_both, s.channels.send_lease, s.clock()) is not None
    assert s.store.claim(seen_by_both, s.channels.send_lease, s.clock()) is None


def test_a_held_lease_waits_for_its_end_then_a_wake_up_takes_over():
    s = Setup()
    notification_id, due_at = s.last_wake_up("referrer_receipt")
    s.store.claim(s.store.get(notification_id), s.channels.send_lease, s.clock())  # a sender that dies
    with pytest.raises(NotDueYet) as wait:
        s.sender.wake_up(notification_id, due_at)
    assert wait.value.due_at == START + s.channels.send_lease
    s.clock.advance(seconds=121)
    assert s.sender.wake_up(notification_id, due_at) == "sent"
    assert len(s.channels.email.sent) == 1


def test_a_transient_failure_writes_its_next_attempt_and_wake_up_then_fails_at_the_last():
    s = Setup(email_failures=5, max_attempts=2, backoff_seconds=30)
    assert s.wake("referrer_receipt") == "retry"
    receipt = s.doc("referrer_receipt")
    assert (receipt["status"], receipt["attempts"]) == ("pending", 1)
    assert "421" in receipt["last_error"]
    assert s.last_wake_up("referrer_receipt") == (receipt["_id"], START + timedelta(seconds=30))
    with pytest.raises(NotDueYet):
        s.wake("referrer_receipt")
    s.clock.advance(seconds=30)
    assert s.wake("referrer_receipt") == "failed"
    receipt = s.doc("referrer_receipt")
    assert (receipt["status"], receipt["attempts"], receipt["next_attempt_at"]) == ("failed", 2, None)
    (failed,) = s.store.events_of("notification_failed")
    assert failed["data"]["attempts"] == 2 and "421" in failed["data"]["reason"]
    assert s.channels.email.sent == []


def test_consent_withdrawn_while_it_waited_suppresses_it_at_send():
    s = Setup()
    planner = MessagePlanner(s.store, s.channels, GROUP, s.clock)
    # the withdrawal's own suppression missed it (it was mid-claim): the send checks again
    wake_up = s.last_wake_up("person_welcome")
    s.store.claim(s.store.get(wake_up[0]), s.channels.send_lease, s.clock())
    planner.withdraw_consent(load_envelope(follow_up("consent_withdrawn", s.referral, "referrals",
                                                     scope="all")))
    s.clock.advance(seconds=121)
    assert s.sender.wake_up(*wake_up) == "suppressed"
    welcome = s.doc("person_welcome")
    assert (welcome["status"], welcome["suppressed_reason"]) == ("suppressed", "consent_withdrawn")
    assert s.channels.email.sent == [] and s.store.events_of("notification_sent") == []


def test_quiet_hours_that_began_while_it_waited_put_it_back_without_an_attempt():
    s = Setup()
    s.channels.quiet_hours = QuietHours(time(9, 0), time(11, 0))  # 10:00 in London now
    assert s.wake("person_welcome") == "deferred"
    welcome = s.doc("person_welcome")
    end = datetime(2026, 11, 25, 11, 0, tzinfo=UK)
    assert (welcome["status"], welcome["attempts"], welcome["next_attempt_at"]) == ("pending", 0, end)
    assert s.last_wake_up("person_welcome") == (welcome["_id"], end)
    s.clock.now = end
    assert s.wake("person_welcome") == "sent"


def test_the_sweep_wakes_only_messages_overdue_by_the_margin_and_not_twice_in_a_row():
    s = Setup(triage_wait_seconds=600)
    receipt = s.doc("referrer_receipt")
    assert s.sender.sweep() == 0  # everything has its own wake-up on the way
    s.clock.advance(seconds=61)
    assert s.sender.sweep() == 2  # receipt and welcome: overdue; the alert waits for triage till 10:10
    assert s.last_wake_up("referrer_receipt") == (receipt["_id"], s.clock())
    assert s.sender.sweep() == 0  # just woken: left alone for a margin
    assert s.wake("referrer_receipt") == "sent"
    s.clock.advance(seconds=61)
    assert s.sender.sweep() == 1  # the welcome again; the sent receipt is no longer read


def test_the_sweep_leaves_a_running_lease_and_wakes_an_expired_one():
    s = Setup()
    for template in ("referrer_receipt", "person_welcome"):
        s.store.claim(s.doc(template), s.channels.send_lease, s.clock())
    s.store.messages[s.doc("person_welcome")["_id"]]["lease_until"] = s.clock() - timedelta(seconds=1)
    s.store.messages[s.doc("coordinator_alert")["_id"]]["status"] = "sent"
    assert s.sender.sweep() == 1
    assert s.last_wake_up("person_welcome")[1] == s.clock()
    assert s.wake("person_welcome") == "sent"


def test_the_planner_claims_what_may_go_now_and_its_worker_sends_each_once():
    s = Setup(put_off=False, triage_wait_seconds=60)
    assert sorted(d["template"] for d in s.claimed) == ["person_welcome", "referrer_receipt"]
    assert [s.sender.send_claimed(doc) for doc in s.claimed] == ["sent", "sent"]
    assert len(s.channels.email.sent) == 2
    assert s.store.events_of(NOTIFICATION_DUE, s.doc("referrer_receipt")["_id"]) == []  # no round trip
    # the event redelivered: everything is planned already, so nothing is claimed or sent again
    again = MessagePlanner(s.store, s.channels, GROUP, s.clock).plan_for_event(load_envelope(s.referral))
    assert again == [] and len(s.channels.email.sent) == 2


def test_a_claimed_message_whose_worker_died_is_woken_by_the_sweep_after_its_lease():
    s = Setup(put_off=False)
    receipt = s.doc("referrer_receipt")
    assert receipt["status"] == "sending"
    assert s.sender.sweep() == 0  # its worker may still be at it
    s.clock.advance(seconds=s.channels.send_lease.total_seconds() + 1)
    assert s.sender.sweep() >= 1
    assert s.wake("referrer_receipt") == "sent"
    assert len(s.channels.email.sent) == 1
