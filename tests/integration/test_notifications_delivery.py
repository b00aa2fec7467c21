"""The notifications service on the real broker and database, sending to real local peers:
an SMTP server (aiosmtpd), an HTTP server standing in for the SMS provider, a letters folder.

The helpers here (peers, event builders, the event tap) are shared by the other
test_notifications_* modules.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import uuid
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from aiosmtpd.controller import Controller
from kombu import Connection, Exchange, Queue
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_waiter

from services.common.envelope import new_event, utcnow
from services.notifications.messages import load_group
from services.notifications.service import NotificationsService
from tests.conftest import MONGO_URI
from tests.support import wait_until

GROUP = load_group()
COORDINATOR = GROUP["coordinator"]["email"]
FIRE_TEAM = GROUP["fire_team"]["email"]
PERSON_EMAIL = "ada.jones@example.org"
REFERRER_EMAIL = "sam.patel@mind.example.org"
REFERENCE = "HRW-2026-000123"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- peers ---------------------------------------------------------------------

class Mailbox:
    """aiosmtpd handler keeping what it accepts; `refuse` maps an address to
    [reply, times] (times None: always)."""

    def __init__(self):
        self.received = []
        self.refuse = {}

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            reply, times = self.refuse[address]
            if times is None or times > 0:
                if times is not None:
                    self.refuse[address][1] = times - 1
                return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content.replace(b"\r\n", b"\n"), policy=policy.default)
        self.received.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def to(self, address):
        return [m for rcpts, m in self.received if address in rcpts]

    def one_to(self, address):
        (message,) = self.to(address)
        return message


def body(message) -> str:
    return message.get_body(("plain",)).get_content()


def subject(message) -> str:
    # Python folds a long Subject onto its own line; unfolding leaves the space a client drops
    return str(message["Subject"]).strip()


@pytest.fixture
def mailbox():
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    box.port = controller.port
    yield box
    controller.stop()


class SmsProvider:
    """A stand-in SMS provider: records requests; answers with `statuses` in turn (the last repeats)."""

    def __init__(self):
        self.requests = []
        self.statuses = [200]
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                provider.requests.append({"headers": dict(self.headers),
                                          "json": json.loads(self.rfile.read(length))})
                status = provider.statuses.pop(0) if len(provider.statuses) > 1 else provider.statuses[0]
                payload = json.dumps({"id": f"sms-{len(provider.requests)}"} if status < 300
                                     else {"error": "try later"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/messages"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def sms_provider():
    provider = SmsProvider()
    provider.thread.start()
    yield provider
    provider.server.shutdown()
    provider.server.server_close()


class EventTap:
    """A queue bound to everything notifications publishes (standing in for its consumers)."""

    def __init__(self, amqp_uri):
        self.connection = Connection(amqp_uri)
        queue = Queue(f"test-tap-{uuid.uuid4().hex[:8]}",
                      Exchange("notifications.events", type="topic"), routing_key="#",
                      auto_delete=True)
        self.queue = self.connection.SimpleQueue(queue)
        self.events = []

    def _drain(self):
        while True:
            try:
                message = self.queue.get(block=False)
            except self.queue.Empty:
                return
            message.ack()
            self.events.append(message.payload)

    def of(self, event_type, **data):
        self._drain()
        return [e for e in self.events if e["event_type"] == event_type
                and all(e["data"].get(k) == v for k, v in data.items())]

    def wait_for(self, event_type, count=1, **data):
        return wait_until(lambda: (found := self.of(event_type, **data)) and len(found) >= count
                          and found, message=f"{count} {event_type} {data}")

    def close(self):
        self.queue.close()
        self.connection.release()


@pytest.fixture
def tap(rabbit_config):
    events = EventTap(rabbit_config["AMQP_URI"])
    yield events
    events.close()


# --- events and the service ---------------------------------------------------

def referral_received(case_id=None, occurred_at=None, **changes):
    """An envelope shaped like the referrals service's (domain.referral_received_data)."""
    data = {
        "referral_id": "r-1", "reference": REFERENCE, "case_reference": REFERENCE,
        "received_at": "2026-11-25T10:00:00+00:00", "agency": "mind", "duplicate_of": None,
        "level": 3, "cir_max": 8, "clutter_image_rating": {"living_room": 8, "kitchen": 5},
        "fire_risk": {"smoker": True, "oxygen_use": False, "lives_alone": True,
                      "mobility_impaired": False, "previous_fire": False, "blocked_exits": True,
                      "working_smoke_alarm": "unknown"},
        "requested": {"peer_support": True, "home_fire_safety_visit": True},
        "consent": {"share_with_fire_service": True, "contact": True},
        "person": {"given_name": "Ada", "family_name": "Jones",
                   "address": {"line1": "12 Station Road", "line2": "", "town": "Harrow",
                               "postcode": "HA1 2AB"},
                   "phone": "07700 900123", "email": PERSON_EMAIL, "preferred_contact": "email",
                   "access_needs": "hard of hearing"},
        "referrer": {"name": "Sam Patel", "email": REFERRER_EMAIL, "phone": "020 7946 0000",
                     "agency": "mind"},
    }
    for path, value in changes.items():
        target, *keys = data, *path.split("__")
        *parents, leaf = keys
        for key in parents:
            target = target[key]
        target[leaf] = value
    return new_event("referral_received", case_id=case_id or str(uuid.uuid4()),
                     correlation_id="corr-" + uuid.uuid4().hex[:8], producer="referrals",
                     data=data, occurred_at=occurred_at)


def follow_up(event_type, after, producer, **data):
    return new_event(event_type, case_id=after["case_id"], correlation_id=after["correlation_id"],
                     producer=producer, data=data)


def visit_requested(after, priority="very_high", reference=REFERENCE):
    return follow_up("visit_requested", after, "safety", visit_id="v-" + uuid.uuid4().hex[:6],
                     reference=reference, priority=priority, due_by="2026-11-25T14:00:00+00:00",
                     rule="very_high_cir_with_risk")


class Notifications:
    """The running service, with what tests need to drive and inspect it."""

    def __init__(self, container, config, db):
        self.container = container
        self.config = config
        self.db = db
        self.url = f"http://{config['WEB_SERVER_ADDRESS']}"
        self._dispatch = event_dispatcher(config)

    def publish(self, event, wait=True):
        source = event["producer"]
        if not wait:
            return self._dispatch(source, event["event_type"], event)
        method = {"consent_withdrawn": "withdraw_consent", "case_erased": "erase_case"}.get(
            event["event_type"], "plan_for_event")
        with entrypoint_waiter(self.container, method, timeout=10):
            self._dispatch(source, event["event_type"], event)

    def docs(self, case_id, **query):
        return {d["template"]: d for d in self.db["notifications"].find({"case_id": case_id, **query})}

    def doc(self, case_id, template):
        return self.db["notifications"].find_one({"case_id": case_id, "template": template})

    def wait_status(self, case_id, template, *statuses):
        return wait_until(lambda: (d := self.doc(case_id, template)) and d["status"] in statuses and d,
                          message=f"{template} to be {'/'.join(statuses)}")

    def settled(self, case_id):
        """Every message sent, failed or suppressed, and every event published."""
        docs = list(self.db["notifications"].find({"case_id": case_id}))
        return docs and all(d["status"] in ("sent", "failed", "suppressed") and not d.get("outbox_pending")
                            for d in docs) and docs


@pytest.fixture
def start_notifications(container_factory, service_config, mongo_client, databases, tmp_path, tap):
    """Starts the service; `tap` stands in for its consumers, so its events are routable."""
    def start(**overrides) -> Notifications:
        settings = {"NOTIFY_BACKOFF_SECONDS": 0.2, "LETTER_DIR": str(tmp_path / "letters"),
                    "DROP_DIR": str(tmp_path / "outgoing"), **overrides}
        config = service_config("notifications", **settings)
        container = container_factory(NotificationsService, config)
        container.start()
        return Notifications(container, config, mongo_client[databases["notifications"]])
    return start


def smtp(mailbox):
    return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": mailbox.port,
            "MAIL_FROM": "Harrow Peer Support <group@harrow-peer.example.org>"}


def refhub(*args, databases, config):
    env = {**os.environ, "MONGO_URI": MONGO_URI, "NOTIFICATIONS_DB": databases["notifications"],
           "AMQP_URI": config["AMQP_URI"], "PYTHONWARNINGS": "ignore"}
    return subprocess.run([str(Path(sys.executable).parent / "refhub"), *args], env=env,
                          capture_output=True, text=True, timeout=60)


# --- the onboarding messages over email ------------------------------------------

def test_a_referral_emails_the_receipt_the_welcome_and_after_triage_the_alert(
        start_notifications, mailbox, tap):
    service = start_notifications(**smtp(mailbox))
    referral = referral_received()
    case_id = referral["case_id"]
    service.publish(referral)

    wait_until(lambda: mailbox.to(REFERRER_EMAIL) and mailbox.to(PERSON_EMAIL),
               message="the receipt and the welcome")
    receipt = mailbox.one_to(REFERRER_EMAIL)
    assert subject(receipt) == f"Thank you for your referral ({REFERENCE})"
    assert receipt["From"] == "Harrow Peer Support <group@harrow-peer.example.org>"
    assert "Dear Sam Patel" in body(receipt) and REFERENCE in body(receipt)
    assert receipt.get_body(("html",)) is not None
    welcome = mailbox.one_to(PERSON_EMAIL)
    assert subject(welcome) == "Welcome to the Harrow Peer Support Group"
    assert "Dear Ada" in body(welcome)
    assert "Sam Patel at Mind in Harrow" in body(welcome)
    assert "diagnosis" in body(welcome)

    # the coordinator alert waits for safety's triage of this referral
    alert_doc = service.doc(case_id, "coordinator_alert")
    assert (alert_doc["status"], alert_doc["awaiting_triage"]) == ("pending", REFERENCE)
    assert mailbox.to(COORDINATOR) == []
    service.publish(visit_requested(referral, priority="very_high"))

    alert = wait_until(lambda: mailbox.to(COORDINATOR), message="the coordinator alert")[0]
    assert subject(alert) == f"New referral {REFERENCE}: level 3, fire safety visit priority very high"
    assert "Home fire safety visit: requested, very high priority" in body(alert)
    assert "Highest Clutter Image Rating: 8" in body(alert)

    fire = wait_until(lambda: mailbox.to(FIRE_TEAM), message="the fire service alert")[0]
    text = subject(fire) + body(fire) + fire.get_body(("html",)).get_content()
    for personal in ("Ada", "Jones", "Station Road", "HA1", "07700", "hard of hearing", PERSON_EMAIL):
        assert personal not in text, personal
    assert REFERENCE in text and "very high" in text

    for message in mailbox.to(REFERRER_EMAIL) + mailbox.to(PERSON_EMAIL) + [alert, fire]:
        assert "hoarder" not in message.as_string().lower()

    sent = tap.wait_for("notification_sent", count=4)
    assert sorted((e["data"]["audience"], e["data"]["template"], e["data"]["channel"]) for e in sent) == [
        ("coordinator", "coordinator_alert", "email"), ("fire_service", "fire_service_alert", "email"),
        ("person", "person_welcome", "email"), ("referrer", "referrer_receipt", "email")]
    assert {e["case_id"] for e in sent} == {case_id}
    assert {e["correlation_id"] for e in sent} == {referral["correlation_id"]}
    docs = wait_until(lambda: service.settled(case_id), message="all sent")
    assert {(d["template"], d["status"], d["attempts"]) for d in docs} == {
        ("referrer_receipt", "sent", 1), ("person_welcome", "sent", 1),
        ("coordinator_alert", "sent", 1), ("fire_service_alert", "sent", 1)}
    # the Message-ID is the notification's own, so a re-send after a crash is recognisable
    welcome_id = service.doc(case_id, "person_welcome")["_id"].replace(":", "_")
    assert welcome["Message-ID"] == f"<{welcome_id}@harrow-peer.example.org>"


def test_triage_that_arrives_first_is_used_at_once(start_notifications, mailbox):
    """Safety may be quicker than us: the alert then goes without waiting."""
    service = start_notifications(**smtp(mailbox), NOTIFY_TRIAGE_WAIT_SECONDS=600)
    referral = referral_received()
    service.publish(referral)
    # a second referral for the case whose triage comes before its own referral_received
    second = referral_received(case_id=referral["case_id"], reference="HRW-2026-000124",
                               duplicate_of=referral["case_id"], referrer__email="jo@rethink.example.org",
                               referrer__name="Jo Reed", referrer__agency="rethink")
    service.publish(follow_up("visit_not_requested", referral, "safety", reason="no_consent",
                              priority="very_high", rule="r", reference="HRW-2026-000124"))
    service.publish(second)
    alert = wait_until(lambda: [m for m in mailbox.to(COORDINATOR) if "000124" in subject(m)],
                       message="the second alert")[0]
    assert subject(alert) == "Another referral for an open case HRW-2026-000124: level 3"
    assert "not requested (no consent); fire safety triage very high" in body(alert)
    receipt = wait_until(lambda: mailbox.to("jo@rethink.example.org"), message="the second receipt")[0]
    assert "HRW-2026-000124" in subject(receipt) and "Dear Jo Reed" in body(receipt)
    assert len(wait_until(lambda: mailbox.to(PERSON_EMAIL), message="the welcome")) == 1  # not twice
    assert mailbox.to(COORDINATOR) == [alert]  # the first is still waiting for its triage


def test_the_alert_goes_without_triage_when_it_does_not_come(start_notifications, mailbox):
    service = start_notifications(**smtp(mailbox), NOTIFY_TRIAGE_WAIT_SECONDS=0.5)
    service.publish(referral_received())
    alert = wait_until(lambda: mailbox.to(COORDINATOR), message="the coordinator alert")[0]
    assert subject(alert) == f"New referral {REFERENCE}: level 3"
    assert "triage not in yet" in body(alert)


# --- SMS and letters ----------------------------------------------------------------

def test_welcome_by_sms_for_preferred_contact_sms(start_notifications, mailbox, sms_provider):
    service = start_notifications(**smtp(mailbox), SMS_ENDPOINT=sms_provider.url,
                                  SMS_API_KEY="test-key", SMS_SENDER="HarrowPeer")
    referral = referral_received(person__preferred_contact="sms")
    service.publish(referral)
    wait_until(lambda: sms_provider.requests, message="the welcome text")
    doc = service.wait_status(referral["case_id"], "person_welcome", "sent")
    (request,) = sms_provider.requests
    assert request["json"]["to"] == "+447700900123"
    assert request["json"]["from"] == "HarrowPeer"
    assert request["json"]["text"].startswith("Hello Ada, a warm welcome to the Harrow Peer Support Group.")
    assert "Reply STOP" in request["json"]["text"]
    assert request["headers"]["Authorization"] == "Bearer test-key"
    assert request["headers"]["Idempotency-Key"] == doc["_id"].replace(":", "_")
    assert (doc["channel"], doc["receipt"]) == ("sms", "sms-1")
    assert mailbox.to(PERSON_EMAIL) == []  # only on the channel they chose
    wait_until(lambda: mailbox.to(REFERRER_EMAIL), message="the receipt by email")


def test_letter_for_preferred_contact_letter(start_notifications, mailbox, tmp_path):
    service = start_notifications(**smtp(mailbox), NOTIFY_TRIAGE_WAIT_SECONDS=0.2)
    # 23:30 UTC on 1 July is already 2 July in London: the letter is dated in UK time
    referral = referral_received(person__preferred_contact="letter",
                                 occurred_at=datetime(2026, 7, 1, 23, 30, tzinfo=timezone.utc))
    service.publish(referral)
    doc = service.wait_status(referral["case_id"], "person_welcome", "sent")
    letter = Path(doc["receipt"])
    assert letter.parent == tmp_path / "letters"
    text = letter.read_text(encoding="utf-8")
    assert "Ada Jones\n12 Station Road\nHarrow\nHA1 2AB\n" in text
    assert "2 July 2026" in text
    assert "Dear Ada" in text
    assert mailbox.to(PERSON_EMAIL) == []


# --- at most once, retries, failures ------------------------------------------------

def test_a_redelivered_referral_sends_nothing_twice(start_notifications, mailbox, tap):
    service = start_notifications(**smtp(mailbox))
    referral = referral_received()
    for _ in range(2):  # RabbitMQ redelivers: the same event_id twice
        service.publish(referral)
    triage = visit_requested(referral)
    for _ in range(2):
        service.publish(triage)
    docs = wait_until(lambda: service.settled(referral["case_id"]), message="all sent")
    assert len(docs) == 4
    tap.wait_for("notification_sent", count=4)
    assert len(mailbox.received) == 4
    for address in (REFERRER_EMAIL, PERSON_EMAIL, COORDINATOR, FIRE_TEAM):
        assert len(mailbox.to(address)) == 1, address
    assert len(tap.of("notification_sent")) == 4


def test_a_message_claimed_by_a_sender_that_died_goes_once_its_lease_ends(start_notifications,
                                                                          mailbox):
    service = start_notifications(**smtp(mailbox), NOTIFY_TRIAGE_WAIT_SECONDS=0.2)
    referral = referral_received()
    service.publish(referral)
    wait_until(lambda: service.settled(referral["case_id"]), message="all sent")
    assert len(mailbox.to(PERSON_EMAIL)) == 1
    # two more welcomes left mid-send by a process that died: one lease still running
    welcome = service.doc(referral["case_id"], "person_welcome")
    ids = {}
    for state, lease in (("running", timedelta(minutes=5)), ("expired", timedelta(seconds=-1))):
        ids[state] = f"{welcome['event_id']}-{state}:person_welcome:person"
        service.db["notifications"].insert_one({
            **{k: v for k, v in welcome.items() if k not in ("_id", "outbox", "receipt")},
            "_id": ids[state], "status": "sending", "attempts": 1, "round_attempts": 1,
            "lease_until": utcnow() + lease, "lease_token": "dead", "sent_at": None,
            "outbox": {}, "outbox_pending": 0})
    wait_until(lambda: service.db["notifications"].find_one({"_id": ids["expired"], "status": "sent"}),
               message="the expired lease to be taken over")
    assert len(mailbox.to(PERSON_EMAIL)) == 2
    running = service.db["notifications"].find_one({"_id": ids["running"]})
    assert running["status"] == "sending"  # not sent while its sender may still be at it


def test_a_transient_failure_is_retried_then_sent(start_notifications, mailbox, sms_provider):
    service = start_notifications(**smtp(mailbox), SMS_ENDPOINT=sms_provider.url, SMS_API_KEY="k",
                                  NOTIFY_BACKOFF_SECONDS=0.3)
    sms_provider.statuses = [503, 200]
    referral = referral_received(person__preferred_contact="sms")
    service.publish(referral)
    doc = service.wait_status(referral["case_id"], "person_welcome", "sent")
    assert doc["attempts"] == 2
    assert doc["last_error"] is None
    first, second = sms_provider.requests
    assert first["headers"]["Idempotency-Key"] == second["headers"]["Idempotency-Key"]
    # the retry waited for the backoff
    assert (doc["sent_at"] - doc["created_at"]).total_seconds() >= 0.3


def test_exhausted_retries_fail_with_an_event_and_the_cli_sends_it_again(
        start_notifications, mailbox, sms_provider, tap, databases):
    service = start_notifications(**smtp(mailbox), SMS_ENDPOINT=sms_provider.url, SMS_API_KEY="k",
                                  NOTIFY_MAX_ATTEMPTS=3, NOTIFY_BACKOFF_SECONDS=0.1)
    sms_provider.statuses = [503]
    referral = referral_received(person__preferred_contact="sms")
    service.publish(referral)
    doc = service.wait_status(referral["case_id"], "person_welcome", "failed")
    assert doc["attempts"] == 3 and len(sms_provider.requests) == 3
    assert "503" in doc["last_error"] and "7700" not in doc["last_error"]
    (failed,) = tap.wait_for("notification_failed")
    assert failed["data"]["notification_id"] == doc["_id"]
    assert (failed["data"]["audience"], failed["data"]["template"], failed["data"]["channel"],
            failed["data"]["attempts"]) == ("person", "person_welcome", "sms", 3)
    assert "503" in failed["data"]["reason"] and "7700" not in failed["data"]["reason"]
    assert failed["case_id"] == referral["case_id"]

    sms_provider.statuses = [200]
    result = refhub("notifications", "retry", doc["_id"], databases=databases, config=service.config)
    assert result.returncode == 0, result.stderr
    doc = service.wait_status(referral["case_id"], "person_welcome", "sent")
    assert doc["attempts"] == 4 and len(sms_provider.requests) == 4
    (sent,) = tap.wait_for("notification_sent", notification_id=doc["_id"])
    assert sent["data"]["channel"] == "sms"

    # only a failed message can be retried, and the CLI says why not
    again = refhub("notifications", "retry", doc["_id"], databases=databases, config=service.config)
    assert again.returncode == 2 and "is sent" in again.stderr
    missing = refhub("notifications", "retry", "no-such-id", databases=databases, config=service.config)
    assert missing.returncode == 2 and "no notification" in missing.stderr


def test_a_refused_address_fails_at_once(start_notifications, mailbox, tap):
    mailbox.refuse[REFERRER_EMAIL] = ["550 5.1.1 Mailbox unavailable", None]
    service = start_notifications(**smtp(mailbox))
    referral = referral_received()
    service.publish(referral)
    doc = service.wait_status(referral["case_id"], "referrer_receipt", "failed")
    assert doc["attempts"] == 1
    assert "550" in doc["last_error"] and REFERRER_EMAIL not in doc["last_error"]
    tap.wait_for("notification_failed", template="referrer_receipt")


def test_a_busy_mail_server_is_retried(start_notifications, mailbox):
    mailbox.refuse[PERSON_EMAIL] = ["451 4.3.0 Try again later", 2]
    service = start_notifications(**smtp(mailbox))
    referral = referral_received()
    service.publish(referral)
    doc = service.wait_status(referral["case_id"], "person_welcome", "sent")
    assert doc["attempts"] == 3
    assert len(mailbox.to(PERSON_EMAIL)) == 1


def test_the_delivery_log_shows_each_message(start_notifications, mailbox, tokens):
    service = start_notifications(**smtp(mailbox), NOTIFY_TRIAGE_WAIT_SECONDS=0.2)
    referral = referral_received()
    service.publish(referral)
    wait_until(lambda: service.settled(referral["case_id"]), message="all sent")
    response = requests.get(f"{service.url}/notifications", params={"case_id": referral["case_id"]},
                            headers={"Authorization": f"Bearer {tokens['coordinator']}"}, timeout=10)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert {(i["audience"], i["template"], i["channel"], i["status"], i["attempts"]) for i in items} == {
        ("referrer", "referrer_receipt", "email", "sent", 1),
        ("coordinator", "coordinator_alert", "email", "sent", 1),
        ("person", "person_welcome", "email", "sent", 1)}
    for item in items:
        assert {"notification_id", "case_id", "audience", "template", "channel", "status", "attempts",
                "created_at"} <= set(item)
        assert item["case_id"] == referral["case_id"]
    assert "ada" not in response.text.lower() and "station road" not in response.text.lower()
