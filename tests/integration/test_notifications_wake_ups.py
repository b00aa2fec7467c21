"""Time rides on the broker: wake-ups over the real wire, across a restart, duplicated, and an idle
service that reads no messages. Commands are watched with pymongo's command monitoring."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from nameko.testing.services import entrypoint_waiter
from pymongo import monitoring

from services.common.envelope import utcnow
from services.notifications.sending import NOTIFICATION_DUE, wake_up_event
from services.notifications.service import NotificationsService
from tests.integration.notifications_peers import (
    COORDINATOR, PERSON_EMAIL, referral_received, smtp,
)
from tests.support import wait_until

UK = ZoneInfo("Europe/London")


class CommandLog(monitoring.CommandListener):
    """Commands sent to one database by clients created after registration (pymongo registers
    listeners for good, so one instance serves the module and watches one database at a time)."""

    def __init__(self):
        self.database = None
        self.commands = []
        self.lock = threading.Lock()

    def watch(self, database):
        with self.lock:
            self.database, self.commands = database, []

    def started(self, event):
        if event.database_name != self.database:
            return
        command = event.command
        collection = command.get(event.command_name)
        query = command.get("filter", command.get("query"))
        if event.command_name == "update":
            query = [u["q"] for u in command.get("updates", ())]
        with self.lock:
            self.commands.append((event.command_name, collection, query))

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass

    def on(self, collection):
        with self.lock:
            return [(name, query) for name, coll, query in self.commands if coll == collection]


COMMANDS = CommandLog()
monitoring.register(COMMANDS)


def is_outbox_relay(query) -> bool:
    """The outbox relay's own questions (and its one-off marker migration at start)."""
    if isinstance(query, list):
        return bool(query) and all(is_outbox_relay(q) for q in query)
    return isinstance(query, dict) and any(k.startswith("outbox") for k in query)


def restart(service, container_factory):
    """Stop the service's container and start a fresh one on the same config and queues."""
    service.container.stop()
    container = container_factory(NotificationsService, service.config)
    container.start()
    service.container = container
    return service


def wake_ups_handled(service, count):
    """Waits (bounded) until `count` wake-ups have been handled, whatever their outcome."""
    seen = []
    return entrypoint_waiter(service.container, "send_notification", timeout=20,
                             callback=lambda *args: seen.append(1) or len(seen) >= count)


# --- after a restart ----------------------------------------------------------------

def test_a_backoff_still_goes_after_the_service_is_restarted(start_notifications, mailbox, sms_provider,
                                                             container_factory, tap):
    service = start_notifications(**smtp(mailbox), SMS_ENDPOINT=sms_provider.url, SMS_API_KEY="k",
                                  NOTIFY_BACKOFF_SECONDS=3)
    sms_provider.statuses = [503, 200]
    referral = referral_received(person__preferred_contact="sms")
    service.publish(referral)
    waiting = wait_until(lambda: (d := service.doc(referral["case_id"], "person_welcome"))
                         and d["attempts"] == 1 and d["status"] == "pending" and d,
                         message="the first attempt refused")
    service.container.stop()
    # down past the retry time: only the broker still holds the wake-up (the sweep is 60 s away)
    wait_until(lambda: utcnow() > waiting["next_attempt_at"] + timedelta(seconds=1),
               message="the retry time to pass")
    assert len(sms_provider.requests) == 1
    restart(service, container_factory)

    sent = service.wait_status(referral["case_id"], "person_welcome", "sent")
    assert sent["attempts"] == 2 and len(sms_provider.requests) == 2
    assert sent["sent_at"] >= waiting["next_attempt_at"]
    tap.wait_for("notification_sent", template="person_welcome")


def quiet_for_a_few_seconds() -> tuple[str, datetime]:
    """Quiet hours that began an hour ago and end a few seconds from now (UK time, to the second)."""
    now = datetime.now(UK).replace(microsecond=0)
    end = now + timedelta(seconds=6)
    return f"{now - timedelta(hours=1):%H:%M:%S}-{end:%H:%M:%S}", end


def test_a_message_held_by_quiet_hours_goes_when_they_end_after_a_restart(
        start_notifications, mailbox, container_factory):
    spec, end = quiet_for_a_few_seconds()
    service = start_notifications(**smtp(mailbox), QUIET_HOURS=spec, NOTIFY_TRIAGE_WAIT_SECONDS=0.2)
    referral = referral_received()
    service.publish(referral)
    held = service.doc(referral["case_id"], "person_welcome")
    assert held["status"] == "pending" and held["next_attempt_at"] == end
    restart(service, container_factory)

    sent = wait_until(lambda: (d := service.doc(referral["case_id"], "person_welcome"))
                      and d["status"] == "sent" and d, timeout=30, message="the welcome after quiet hours")
    assert sent["sent_at"] >= end and sent["attempts"] == 1
    assert len(mailbox.to(PERSON_EMAIL)) == 1


# --- duplicated and redelivered wake-ups --------------------------------------------------

def test_copies_of_a_wake_up_arriving_together_send_the_message_once(start_notifications, mailbox, tap):
    service = start_notifications(**smtp(mailbox), NOTIFY_TRIAGE_WAIT_SECONDS=600)
    referral = referral_received()
    service.publish(referral)
    alert = service.doc(referral["case_id"], "coordinator_alert")
    assert alert["status"] == "pending"  # held for triage for ten minutes
    now = utcnow()
    service.db["notifications"].update_one({"_id": alert["_id"]}, {"$set": {"next_attempt_at": now}})
    redelivered = wake_up_event(alert, now)
    copies = [redelivered] * 3 + [wake_up_event(alert, now) for _ in range(3)]
    with wake_ups_handled(service, len(copies)):
        for event in copies:
            service._dispatch("notifications", NOTIFICATION_DUE, event)

    # (a busy machine may have made the mail server time out once: the retry is still one message)
    service.wait_status(referral["case_id"], "coordinator_alert", "sent")
    assert len(mailbox.to(COORDINATOR)) == 1
    tap.wait_for("notification_sent", template="coordinator_alert")
    assert len(tap.of("notification_sent", template="coordinator_alert")) == 1


def test_a_wake_up_for_a_message_already_sent_sends_nothing(start_notifications, mailbox, tap):
    service = start_notifications(**smtp(mailbox), NOTIFY_TRIAGE_WAIT_SECONDS=0.2, QUIET_HOURS="off")
    referral = referral_received()
    service.publish(referral)
    docs = wait_until(lambda: service.settled(referral["case_id"]), message="all sent")
    sent_before = len(tap.wait_for("notification_sent", count=3))
    with wake_ups_handled(service, len(docs)):
        for doc in docs:
            service._dispatch("notifications", NOTIFICATION_DUE, wake_up_event(doc, utcnow()))
    assert len(mailbox.received) == 3
    assert all(d["attempts"] == 1 for d in service.settled(referral["case_id"]))
    assert len(tap.of("notification_sent")) == sent_before


# --- an idle service, and what the sweep reads ------------------------------------------------

def test_an_idle_service_reads_no_messages(start_notifications, mailbox, databases):
    COMMANDS.watch(databases["notifications"])
    service = start_notifications(**smtp(mailbox), NOTIFY_TRIAGE_WAIT_SECONDS=0.2, QUIET_HOURS="off")
    referral = referral_received()
    service.publish(referral)
    wait_until(lambda: service.settled(referral["case_id"]), message="all sent")
    COMMANDS.watch(databases["notifications"])  # from here on nothing happens

    # the outbox relay's sweep is the clock: two rounds of it (4 s) would be 8 rounds of a 0.5 s poll
    wait_until(lambda: len([q for _, q in COMMANDS.on("notifications") if is_outbox_relay(q)]) >= 2,
               timeout=15, message="two rounds of the outbox relay")
    others = [(name, q) for name, q in COMMANDS.on("notifications") if not is_outbox_relay(q)]
    assert others == []


def test_the_sweep_and_the_senders_read_by_equality_only(start_notifications, mailbox, databases):
    COMMANDS.watch(databases["notifications"])
    service = start_notifications(**smtp(mailbox), NOTIFY_TRIAGE_WAIT_SECONDS=600, QUIET_HOURS="off",
                                  NOTIFY_SWEEP_SECONDS=0.3)
    referral = referral_received()
    service.publish(referral)
    wait_until(lambda: service.wait_status(referral["case_id"], "person_welcome", "sent"),
               message="the welcome")
    sweeps = wait_until(lambda: (found := [q for name, q in COMMANDS.on("notifications")
                                           if name == "find" and q in ({"status": "pending"},
                                                                       {"status": "sending"})])
                        and len(found) >= 4 and found, message="two sweeps")
    assert {"status": "sending"} in sweeps

    for name, query in COMMANDS.on("notifications"):
        if name in ("insert", "createIndexes") or is_outbox_relay(query):
            continue
        assert query, name  # a read or write of every message
        for single in (query if isinstance(query, list) else [query]):
            # one message by _id, or unsent ones by plain equality: never a range or $or over all
            assert "_id" in single or all(not isinstance(v, dict) for v in single.values()), (name, single)
            assert "$or" not in single, (name, single)
