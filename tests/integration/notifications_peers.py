"""Real peers for the notifications tests: an SMTP server, an SMS provider and a tap on its events."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from kombu import Connection, Exchange, Queue
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_waiter

from services.common.envelope import new_event
from services.notifications.messages import load_group
from tests.conftest import MONGO_URI
from tests.support import wait_until

GROUP = load_group()
COORDINATOR = GROUP["coordinator"]["email"]
FIRE_TEAM = GROUP["fire_team"]["email"]
PERSON_EMAIL = "ada.jones@example.org"
REFERRER_EMAIL = "sam.patel@mind.example.org"
REFERENCE = "HRW-2026-000123"


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
        return docs and all(d["status"] in ("sent", "failed", "suppressed", "ready_to_print")
                            and not d.get("outbox_pending")
                            for d in docs) and docs


def smtp(mailbox):
    return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": mailbox.port,
            "MAIL_FROM": "Harrow Peer Support <group@harrow-peer.example.org>"}


def refhub(*args, databases, config):
    env = {**os.environ, "MONGO_URI": MONGO_URI, "NOTIFICATIONS_DB": databases["notifications"],
           "AMQP_URI": config["AMQP_URI"], "PYTHONWARNINGS": "ignore"}
    return subprocess.run([str(Path(sys.executable).parent / "refhub"), *args], env=env,
                          capture_output=True, text=True, timeout=60)


