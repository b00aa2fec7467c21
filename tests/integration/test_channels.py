"""Delivery adapters against real local servers: SMTP, an HTTP SMS provider, a folder."""
import json
import socket
import threading
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from services.notifications.channels import (
    EmailChannel, LetterChannel, PermanentDeliveryError, SmsChannel, TransientDeliveryError,
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- email -------------------------------------------------------------------

class Mailbox:
    """aiosmtpd handler: keeps what it accepts, refuses some recipients."""

    def __init__(self):
        self.received = []
        self.refuse = {"nobody@example.org": "550 5.1.1 Mailbox unavailable",
                       "busy@example.org": "451 4.3.0 Try again later"}

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield mailbox, controller.port
    controller.stop()


def test_email_is_delivered_with_text_and_html(smtp_server):
    mailbox, port = smtp_server
    channel = EmailChannel("127.0.0.1", port, sender="group@harrow-peer.example.org", timeout=5)
    message_id = channel.send("ada@example.org", "Welcome to the group", "Dear Ada,\n\nHello.\n",
                              html="<p>Dear Ada,</p>")
    (mail_from, recipients, content), = mailbox.received
    assert mail_from == "group@harrow-peer.example.org"
    assert recipients == ["ada@example.org"]
    received = message_from_bytes(content.replace(b"\r\n", b"\n"), policy=policy.default)
    assert received["Subject"] == "Welcome to the group"
    assert received["To"] == "ada@example.org"
    assert received["Message-ID"] == message_id
    assert message_id.endswith("@harrow-peer.example.org>")
    assert received.get_body(("plain",)).get_content() == "Dear Ada,\n\nHello.\n"
    assert received.get_body(("html",)).get_content().strip() == "<p>Dear Ada,</p>"


def test_email_can_carry_a_stable_message_id(smtp_server):
    """The notification's own id: a message re-sent after a crash can be recognised."""
    mailbox, port = smtp_server
    channel = EmailChannel("127.0.0.1", port, sender="Group <group@harrow-peer.example.org>")
    for _ in range(2):
        assert channel.send("ada@example.org", "Hello", "Text", message_id="evt-1_person_welcome") == (
            "<evt-1_person_welcome@harrow-peer.example.org>")
    first, second = (message_from_bytes(c.replace(b"\r\n", b"\n"), policy=policy.default)
                     for _, _, c in mailbox.received)
    assert first["Message-ID"] == second["Message-ID"] == "<evt-1_person_welcome@harrow-peer.example.org>"
    with pytest.raises(ValueError):
        channel.send("ada@example.org", "Hello", "Text", message_id="a>b\r\nBcc: x@example.org")


def test_email_without_html_is_plain_text(smtp_server):
    mailbox, port = smtp_server
    EmailChannel("127.0.0.1", port, sender="group@example.org").send(
        "ada@example.org", "Hello", "Just text.\n")
    received = message_from_bytes(mailbox.received[0][2].replace(b"\r\n", b"\n"),
                                  policy=policy.default)
    assert received.get_content_type() == "text/plain"
    assert received.get_content() == "Just text.\n"


def test_refused_recipient_is_permanent(smtp_server):
    mailbox, port = smtp_server
    channel = EmailChannel("127.0.0.1", port, sender="group@example.org", timeout=5)
    with pytest.raises(PermanentDeliveryError) as failure:
        channel.send("nobody@example.org", "Hello", "Text")
    assert "550" in str(failure.value)
    assert "nobody@example.org" not in str(failure.value)
    assert mailbox.received == []


def test_temporarily_refused_recipient_is_transient(smtp_server):
    _, port = smtp_server
    channel = EmailChannel("127.0.0.1", port, sender="group@example.org", timeout=5)
    with pytest.raises(TransientDeliveryError) as failure:
        channel.send("busy@example.org", "Hello", "Text")
    assert "451" in str(failure.value)


def test_unreachable_smtp_server_is_transient():
    channel = EmailChannel("127.0.0.1", free_port(), sender="group@example.org", timeout=2)
    with pytest.raises(TransientDeliveryError):
        channel.send("ada@example.org", "Hello", "Text")


# --- SMS ---------------------------------------------------------------------

class SmsProvider:
    """A stand-in SMS provider on loopback: records requests, answers as told."""

    def __init__(self):
        self.requests = []
        self.status = 200
        self.body = {"id": "msg-42"}
        self.hold = None  # a threading.Event the handler waits on before answering
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                provider.requests.append({"path": self.path, "headers": dict(self.headers),
                                          "json": json.loads(self.rfile.read(length))})
                if provider.hold is not None:
                    provider.hold.wait(timeout=10)
                payload = json.dumps(provider.body).encode()
                self.send_response(provider.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/messages"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sms_provider():
    with SmsProvider() as provider:
        yield provider


def test_sms_is_posted_as_json_with_bearer_auth(sms_provider):
    channel = SmsChannel(sms_provider.url, api_key="test-key-123", timeout=5)
    assert channel.send("+447700900123", "Hello Ada") == "msg-42"
    (request,) = sms_provider.requests
    assert request["path"] == "/v1/messages"
    assert request["headers"]["Authorization"] == "Bearer test-key-123"
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["json"] == {"to": "+447700900123", "from": "HarrowPeer", "text": "Hello Ada"}


def test_sms_carries_an_idempotency_key(sms_provider):
    SmsChannel(sms_provider.url, api_key="k").send("+447700900123", "Hi", message_id="evt-1_welcome")
    assert sms_provider.requests[0]["headers"]["Idempotency-Key"] == "evt-1_welcome"
    SmsChannel(sms_provider.url, api_key="k").send("+447700900123", "Hi")
    assert "Idempotency-Key" not in sms_provider.requests[1]["headers"]


def test_sms_sender_is_configurable(sms_provider):
    SmsChannel(sms_provider.url, api_key="k", sender="HarrowGroup").send("+447700900123", "Hi")
    assert sms_provider.requests[0]["json"]["from"] == "HarrowGroup"


@pytest.mark.parametrize("status, error", [
    (503, TransientDeliveryError),
    (500, TransientDeliveryError),
    (429, TransientDeliveryError),
    (400, PermanentDeliveryError),
    (401, PermanentDeliveryError),
    (422, PermanentDeliveryError),
])
def test_sms_provider_errors(sms_provider, status, error):
    sms_provider.status = status
    sms_provider.body = {"error": "nope", "to": "+447700900123"}
    with pytest.raises(error) as failure:
        SmsChannel(sms_provider.url, api_key="k", timeout=5).send("+447700900123", "Hi")
    assert str(status) in str(failure.value)
    assert "7700900123" not in str(failure.value)


def test_sms_accepted_without_an_id_is_not_retried(sms_provider):
    sms_provider.body = {"status": "queued"}
    with pytest.raises(PermanentDeliveryError):
        SmsChannel(sms_provider.url, api_key="k", timeout=5).send("+447700900123", "Hi")


def test_slow_sms_provider_times_out_as_transient(sms_provider):
    sms_provider.hold = threading.Event()  # released when the fixture closes
    channel = SmsChannel(sms_provider.url, api_key="k", timeout=0.2)
    with pytest.raises(TransientDeliveryError):
        channel.send("+447700900123", "Hi")
    assert len(sms_provider.requests) == 1


def test_unreachable_sms_provider_is_transient():
    channel = SmsChannel(f"http://127.0.0.1:{free_port()}/v1/messages", api_key="k", timeout=2)
    with pytest.raises(TransientDeliveryError):
        channel.send("+447700900123", "Hi")


# --- letters -----------------------------------------------------------------

ADDRESS = {"line1": "12 Station Road", "line2": "", "town": "Harrow", "postcode": "HA1 2AB"}
LETTER = ("Harrow Peer Support Group\n\nAda Jones\n12 Station Road\nHarrow\nHA1 2AB\n\n"
          "25 November 2026\n\nDear Ada,\n")


def test_letter_is_written_whole_with_its_address_block(tmp_path):
    folder = tmp_path / "letters"
    path = LetterChannel(folder).send("Ada Jones", ADDRESS, LETTER, "n-123")
    assert Path(path) == folder / "n-123.txt"
    text = Path(path).read_text(encoding="utf-8")
    assert text == LETTER
    assert "Ada Jones\n12 Station Road\nHarrow\nHA1 2AB\n" in text
    assert sorted(p.name for p in folder.iterdir()) == ["n-123.txt"]  # no temporary left


def test_letter_is_idempotent(tmp_path):
    channel = LetterChannel(tmp_path)
    first = channel.send("Ada Jones", ADDRESS, LETTER, "n-123")
    second = channel.send("Ada Jones", ADDRESS, LETTER + "again\n", "n-123")
    assert first == second
    assert Path(first).read_text(encoding="utf-8") == LETTER
    assert [p.name for p in tmp_path.iterdir()] == ["n-123.txt"]


def test_letter_without_a_postable_address_is_permanent(tmp_path):
    with pytest.raises(PermanentDeliveryError):
        LetterChannel(tmp_path).send("Ada Jones", {"line1": "", "postcode": ""}, LETTER, "n-1")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("letter_id", ["../escape", "a/b", "", ".hidden"])
def test_letter_id_cannot_leave_the_folder(tmp_path, letter_id):
    with pytest.raises(ValueError):
        LetterChannel(tmp_path / "letters").send("Ada Jones", ADDRESS, LETTER, letter_id)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_letter_folder_is_transient(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(TransientDeliveryError):
        LetterChannel(blocker).send("Ada Jones", ADDRESS, LETTER, "n-1")
