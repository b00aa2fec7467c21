"""Sending one planned message when its wake-up arrives: the rules, with no nameko in sight.

Nothing polls for due messages. Every pending message is stored together with
a `notification_due` wake-up event in its outbox (the same single-document
write), published on this service's own events exchange. The wake-up handler
takes that ONE message by `_id`:

- not due yet (quiet hours, the coordinator alert's wait for triage, a
  backoff): `NotDueYet(at)`, and the broker brings the wake-up back then;
- due: claimed with a lease (compare-and-set on `_id`, status and lease
  token), so of two replicas or two copies of a wake-up only one sends;
- claimed: suppression is checked again (consent withdrawn, erasure), quiet
  hours too, then it is delivered and finished with its `notification_sent`
  or `notification_failed` event in the same write; a transient failure
  writes its next attempt time and a fresh wake-up instead.

A redelivered or duplicated wake-up finds the message sent (or someone else's
lease) and sends nothing. A slow sweep reads only unsent messages, by plain
equality on status, and wakes the ones overdue by more than a margin (a lost
wake-up, the expired lease of a sender that died).
"""
from __future__ import annotations

from datetime import datetime
from typing import Callable

from services.common.consumer import NotDueYet
from services.common.envelope import new_event, utcnow
from services.common.logs import bind_context, get_logger, scrub_text
from services.common.retention import RetentionSchedule
from services.common.vocabulary import NOTIFICATION_FAILED, NOTIFICATION_SENT

from . import letters
from .channels import PermanentDeliveryError, TransientDeliveryError
from .messages import (
    CASE_ERASED, FIRE_SERVICE_WITHDRAWAL_NOTICE, PEOPLE, REPLIES, PlannedMessage, fire_service_suppression,
    person_suppression, render, supporter_suppression, triage_context, triage_key,
)
from .repository import BODY_DUE, PERSONAL_FIELDS
from .retention import body_due_on

log = get_logger(__name__)

PRODUCER = "notifications"
# Internal: published on the notifications exchange, consumed only by this service.
NOTIFICATION_DUE = "notification_due"
UNSENT = ("pending", "sending")


def allowed_at(quiet_hours, audience: str, channel: str, moment: datetime,
               template: str | None = None) -> datetime:
    """When a message planned for `moment` may go: quiet hours hold the person's (and a supporter's).

    Letters are not held: writing a file at night disturbs nobody; nor are answers to a text
    the person has just sent (REPLIES).
    """
    if quiet_hours is None or audience not in PEOPLE or channel == "letter" or template in REPLIES:
        return moment
    return quiet_hours.next_allowed(moment)


def wake_up_event(doc: dict, due_at: datetime) -> dict:
    """The event that brings `doc` back to a sender at `due_at`."""
    return new_event(NOTIFICATION_DUE, case_id=doc["case_id"], correlation_id=doc["correlation_id"],
                     producer=PRODUCER,
                     data={"notification_id": doc["_id"], "due_at": due_at.isoformat()})


def notification_event(doc: dict, event_type: str, extra: dict) -> dict:
    return new_event(event_type, case_id=doc["case_id"], correlation_id=doc["correlation_id"],
                     producer=PRODUCER,
                     data={"notification_id": doc["_id"], "audience": doc["audience"],
                           "template": doc["template"], "channel": doc["channel"], **extra})


def suppression(doc: dict, contacts: dict) -> str | None:
    """Why a message that was allowed when planned may no longer go."""
    if contacts.get("erased_at"):
        # the withdrawal notice names nobody and keeps a crew from calling: it still goes
        return None if doc["template"] == FIRE_SERVICE_WITHDRAWAL_NOTICE else CASE_ERASED
    if doc["audience"] == "person":
        return None if doc["template"] in REPLIES else person_suppression(contacts)
    if doc["audience"] == "supporter":
        return supporter_suppression(contacts)
    if doc["audience"] == "fire_service":
        return fire_service_suppression(contacts, doc["template"])
    return None


def error_reason(exc) -> str:
    """The error's kind and message for the log and the timeline, scrubbed of contact details."""
    return scrub_text(f"{type(exc).__name__}: {exc}")[:300]


class MessageSender:
    """Sends the message a wake-up names; sweeps for lost wake-ups.

    `store` is a NotificationRepository (or a fake with its verbs); `channels`
    gives the delivery adapters and the timing settings (delivery.Channels).
    """

    def __init__(self, store, channels, group: dict, clock: Callable[[], datetime] = utcnow,
                 body_months: int = RetentionSchedule.delivery_body_months):
        self.store = store
        self.channels = channels
        self.group = group
        self.clock = clock
        self.body_months = body_months  # how long a finished message keeps its body

    def _finished(self, at: datetime) -> dict:
        """What a sent or failed message also records: the day its body is due for scrubbing."""
        return {BODY_DUE: body_due_on(at, self.body_months)}

    # -- the wake-up ---------------------------------------------------------------
    def wake_up(self, notification_id: str, due_at: datetime) -> str:
        """Send the message if it is due and unsent; returns what happened (for logs and tests).

        Raises NotDueYet while it must wait.
        """
        now = self.clock()
        if due_at > now:  # still on its way: no read until it is due
            raise NotDueYet(due_at)
        doc = self.store.get(notification_id)
        if doc is None or doc["status"] not in UNSENT:
            log.info("notification_wake_up_stale", notification_id=notification_id,
                     status=doc and doc["status"])
            return "stale"
        if doc["status"] == "pending" and doc["next_attempt_at"] > now:
            raise NotDueYet(doc["next_attempt_at"])  # put back since this wake-up was written
        if doc["status"] == "sending" and doc["lease_until"] > now:
            # a sender holds it; if that sender died, this copy takes over when the lease ends
            raise NotDueYet(doc["lease_until"])
        claimed = self.store.claim(doc, self.channels.send_lease, now)
        if claimed is None:
            log.info("notification_claimed_elsewhere", notification_id=notification_id)
            return "taken"
        return self.send(claimed)

    def send_claimed(self, doc: dict, contacts: dict | None = None) -> str:
        """Send a message its planner claimed; a crash here leaves it to the lease and the sweep.

        `contacts`: as the planner read them after planning (a moment ago), saving a read.
        """
        try:
            return self.send(doc, contacts)
        except Exception:  # the event was handled: its other messages still go
            log.exception("notification_send_crashed", notification_id=doc["_id"])
            return "crashed"

    def send(self, doc: dict, contacts: dict | None = None) -> str:
        """Deliver a claimed message and finish it; returns its outcome."""
        bind_context(case_id=doc["case_id"], correlation_id=doc["correlation_id"],
                     notification_id=doc["_id"])
        if contacts is None:
            contacts = self.store.contacts_for(doc["case_id"]) or {}
        reason = suppression(doc, contacts)
        if reason:
            changes = {"status": "suppressed", "suppressed_reason": reason, "next_attempt_at": None}
            if reason == CASE_ERASED:
                changes.update(PERSONAL_FIELDS)
            self.store.finish(doc, changes)
            log.info("notification_suppressed", suppressed_reason=reason)
            return "suppressed"
        now = self.clock()
        allowed = allowed_at(self.channels.quiet_hours, doc["audience"], doc["channel"], now, doc["template"])
        if allowed > now:  # quiet hours began while it waited: not an attempt
            self._later(doc, allowed, {})
            log.info("notification_deferred_quiet_hours", next_attempt_at=allowed.isoformat())
            return "deferred"
        context, changes = doc["context"], {}
        if doc.get("awaiting_triage"):
            # sent after the wait, or released by triage: say what is known now
            triage = (contacts.get("triage") or {}).get(triage_key(doc["awaiting_triage"]))
            context = {**context, **triage_context(triage)}
            changes.update(context=context, awaiting_triage=None)
        attempts = doc["attempts"] + 1
        round_attempts = doc.get("round_attempts", doc["attempts"]) + 1
        changes.update(attempts=attempts, round_attempts=round_attempts)
        message = PlannedMessage(audience=doc["audience"], template=doc["template"],
                                 channel=doc["channel"], to=doc["to"], context=context)
        try:
            receipt = self._deliver(doc, message, render(message, self.group))
        except TransientDeliveryError as exc:
            if round_attempts < self.channels.max_attempts:
                at = allowed_at(self.channels.quiet_hours, doc["audience"], doc["channel"],
                                self.clock() + self.channels.backoff_for(round_attempts), doc["template"])
                self._later(doc, at, {**changes, "last_error": error_reason(exc)})
                log.warning("notification_retry_scheduled", attempts=attempts,
                            next_attempt_at=at.isoformat(), error=type(exc).__name__)
                return "retry"
            return self._fail(doc, changes, exc)
        except Exception as exc:  # permanent: a refused address, a template bug
            return self._fail(doc, changes, exc)
        if doc["channel"] == "letter":  # written, not yet posted: a coordinator prints and posts it
            self.store.finish(doc, {**changes, **letters.written(receipt, self.clock())})
            log.info("letter_ready_to_print", template=doc["template"], attempts=attempts)
            return letters.READY_TO_PRINT
        event, now = notification_event(doc, NOTIFICATION_SENT, {}), self.clock()
        self.store.finish(doc, {**changes, "status": "sent", "sent_at": now, "receipt": receipt,
                                "last_error": None, "next_attempt_at": None, **self._finished(now)}, [event])
        log.info("notification_sent", template=doc["template"], channel=doc["channel"], attempts=attempts)
        return "sent"

    def mark_posted(self, notification_id: str, actor: str) -> dict:
        """A coordinator posted a printed letter: it is sent now, and says so (notification_sent, who
        posted it). Raises letters.UnknownLetter / AlreadyPosted / NotReadyToPrint; returns the letter."""
        doc = self.store.get(notification_id)
        now = self.clock()
        changes, posted = letters.posting(doc, notification_id, actor=actor, now=now)
        changes = {**changes, **self._finished(now)}
        bind_context(case_id=doc["case_id"], correlation_id=doc["correlation_id"], notification_id=doc["_id"])
        if not self.store.mark_posted(doc, changes, [notification_event(doc, NOTIFICATION_SENT, posted)]):
            # another coordinator posted it a moment ago (or erasure took it): say what it is now
            letters.posting(self.store.get(notification_id), notification_id, actor=actor, now=self.clock())
        log.info("letter_posted", template=doc["template"])
        return self.store.get(notification_id)

    def _later(self, doc: dict, at: datetime, changes: dict) -> None:
        # the new time and the wake-up that keeps it in one write: a crash loses neither
        self.store.finish(doc, {**changes, "status": "pending", "next_attempt_at": at},
                          [wake_up_event(doc, at)])

    def _deliver(self, doc, message, rendered):
        to, message_id = message.to, doc["_id"].replace(":", "_")
        if message.channel == "email":
            return self.channels.email.send(to["email"], rendered.subject, rendered.text, rendered.html,
                                            message_id=message_id)
        if message.channel == "sms":
            return self.channels.sms.send(to["phone"], rendered.text, message_id=message_id)
        if message.channel == "letter":
            return self.channels.letter.send(to.get("name"), to.get("address"), rendered.text, message_id)
        raise PermanentDeliveryError(f"unknown channel {message.channel}")

    def _fail(self, doc, changes, exc) -> str:
        reason = error_reason(exc)
        event = notification_event(doc, NOTIFICATION_FAILED,
                                   {"reason": reason, "attempts": changes["attempts"]})
        now = self.clock()
        self.store.finish(doc, {**changes, "status": "failed", "last_error": reason,
                                "failed_at": now, "next_attempt_at": None, **self._finished(now)}, [event])
        log.error("notification_failed", template=doc["template"], attempts=changes["attempts"],
                  error=type(exc).__name__)
        return "failed"

    # -- the safety net -----------------------------------------------------------------
    def sweep(self) -> int:
        """Wake unsent messages overdue by more than the margin; returns how many were woken.

        Reads only unsent messages (plain equality on status); a message woken
        by a sweep is left alone for a margin, so a slow queue is not flooded
        with copies.
        """
        now = self.clock()
        margin = self.channels.sweep_margin
        woken = 0
        for doc in self.store.unsent():
            if doc["status"] == "pending":
                due = doc.get("next_attempt_at")
                if due is None or due > now - margin:
                    continue
            elif doc.get("lease_until") is None or doc["lease_until"] > now:
                continue  # its sender may still be at it
            if doc.get("woken_at") is not None and doc["woken_at"] > now - margin:
                continue
            if self.store.rewake(doc, now, [wake_up_event(doc, now)]):
                woken += 1
        if woken:
            log.warning("notification_wake_ups_restored", woken=woken)
        return woken
