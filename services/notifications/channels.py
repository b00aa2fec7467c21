"""Delivery adapters: SMTP email, an HTTP SMS provider, and a letters folder.

Plain blocking smtplib/requests: the services run under eventlet, which makes
them cooperative. Every failure is a TransientDeliveryError (worth retrying)
or a PermanentDeliveryError (retrying cannot help). Error messages carry
status codes and scrubbed provider text, never the recipient's address.
"""
from __future__ import annotations

import os
import re
import smtplib
import ssl as ssl_lib
import tempfile
from email import charset as email_charset
from email import policy as email_policy
from email.header import Header
from email.message import EmailMessage, Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate, make_msgid
from pathlib import Path

import requests

from services.common.logs import scrub_text

# 408 and 429 are the provider asking us to come back later, not a bad request.
_RETRYABLE_4XX = frozenset({408, 429})
_LETTER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")


class DeliveryError(Exception):
    """A message could not be delivered."""


class TransientDeliveryError(DeliveryError):
    """Worth retrying later: connection trouble, timeouts, 4xx SMTP, 5xx HTTP."""


class PermanentDeliveryError(DeliveryError):
    """Retrying cannot help: the recipient or the request was refused."""


# quoted-printable bodies: readable in a drop folder and by any mail server
_UTF8_QP = email_charset.Charset("utf-8")
_UTF8_QP.body_encoding = email_charset.QP
# headers unfolded up to RFC 5322's line limit: compat32 would fold a long Message-ID onto a new line
_HEADERS_AS_GIVEN = email_policy.compat32.clone(max_line_length=998)


def compose_email(sender: str, to_email: str, subject: str, text: str, html: str | None = None,
                  headers: dict | None = None) -> Message:
    """One email: plain text, and an HTML alternative when there is one.

    Built with the email package's compat32 classes, which store headers as
    given: the default policy's EmailMessage parses each header as it is set and
    cost 2.4 ms a message against 0.5 ms here (a fifth of this service's CPU in
    a burst of referrals). An address that is not ASCII needs SMTPUTF8, which only
    EmailMessage knows how to ask for, so such a message is built with it.
    """
    if not (sender.isascii() and to_email.isascii()):
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = sender, to_email, subject
        for name, value in (headers or {}).items():
            message[name] = value
        message.set_content(text)
        if html is not None:
            message.add_alternative(html, subtype="html")
        return message
    # a body ends with a line break, as EmailMessage.set_content writes it
    text, html = _ended(text), (None if html is None else _ended(html))
    body = MIMEText(text, "plain", None if text.isascii() else _UTF8_QP, policy=_HEADERS_AS_GIVEN)
    if html is not None:
        message = MIMEMultipart("alternative", policy=_HEADERS_AS_GIVEN)
        message.attach(body)
        message.attach(MIMEText(html, "html", None if html.isascii() else _UTF8_QP, policy=_HEADERS_AS_GIVEN))
    else:
        message = body
    message["From"], message["To"] = sender, to_email
    message["Subject"] = subject if subject.isascii() else Header(subject, "utf-8")
    for name, value in (headers or {}).items():
        message[name] = value
    return message


def _ended(body: str) -> str:
    return body if body.endswith("\n") else body + "\n"


def _smtp_error(code: int, reply, what: str) -> DeliveryError:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    reason = f"SMTP {code} {what}: {scrub_text(text)[:200]}"
    return PermanentDeliveryError(reason) if code >= 500 else TransientDeliveryError(reason)


class EmailChannel:
    def __init__(self, host: str, port: int, sender: str, username: str | None = None,
                 password: str | None = None, starttls: bool = False, ssl: bool = False,
                 timeout: float = 10):
        self.host = host
        self.port = port
        self.sender = sender
        self.username = username
        self.password = password
        self.starttls = starttls
        self.ssl = ssl
        self.timeout = timeout

    def _connect(self) -> smtplib.SMTP:
        if self.ssl:
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                    context=ssl_lib.create_default_context())
        return smtplib.SMTP(self.host, self.port, timeout=self.timeout)

    def send(self, to_email: str, subject: str, text: str, html: str | None = None,
             message_id: str | None = None) -> str:
        """Send one email; returns its Message-ID.

        A given `message_id` (letters, digits, '-', '_') makes the Message-ID
        stable, so a message re-sent after a crash can be recognised as the same.
        """
        domain = self.sender.rpartition("@")[2].strip("> ") or None
        if message_id:
            if not _LETTER_ID.match(message_id):
                raise ValueError("message_id must be letters, digits, '-' or '_'")
            message_id = f"<{message_id}@{domain or 'localhost'}>"
        else:
            message_id = make_msgid(domain=domain)
        message = compose_email(self.sender, to_email, subject, text, html,
                                {"Date": formatdate(localtime=False), "Message-ID": message_id})
        try:
            with self._connect() as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl_lib.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            # One recipient per message, so its reply decides.
            (code, reply), = exc.recipients.values()
            raise _smtp_error(code, reply, "recipient refused") from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise PermanentDeliveryError(f"SMTP server does not support: {exc}") from exc
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError) as exc:
            raise TransientDeliveryError(f"SMTP connection lost: {type(exc).__name__}") from exc
        except smtplib.SMTPResponseException as exc:
            raise _smtp_error(exc.smtp_code, exc.smtp_error, "refused") from exc
        except smtplib.SMTPException as exc:
            raise TransientDeliveryError(f"SMTP error: {type(exc).__name__}") from exc
        except OSError as exc:  # refused connection, DNS, timeouts, TLS
            raise TransientDeliveryError(f"SMTP unreachable: {type(exc).__name__}") from exc
        return message_id


class SmsChannel:
    def __init__(self, endpoint: str, api_key: str, sender: str = "HarrowPeer",
                 timeout: float = 10):
        self.endpoint = endpoint
        self.api_key = api_key
        self.sender = sender
        self.timeout = timeout

    def send(self, to_phone: str, text: str, message_id: str | None = None) -> str:
        """Send one SMS; returns the provider's message id.

        `message_id` goes as an Idempotency-Key header, so a provider that
        honours it does not text the person twice when we re-send after a crash.
        """
        headers = {"Authorization": f"Bearer {self.api_key}"}
        if message_id:
            headers["Idempotency-Key"] = message_id
        try:
            response = requests.post(
                self.endpoint,
                json={"to": to_phone, "from": self.sender, "text": text},
                headers=headers,
                timeout=self.timeout,
            )
        except requests.RequestException as exc:  # connection errors and timeouts
            raise TransientDeliveryError(f"SMS provider unreachable: {type(exc).__name__}") from exc
        status = response.status_code
        if status >= 500 or status in _RETRYABLE_4XX:
            raise TransientDeliveryError(f"SMS provider {status}: {scrub_text(response.text)[:200]}")
        if status >= 400:
            raise PermanentDeliveryError(f"SMS provider {status}: {scrub_text(response.text)[:200]}")
        try:
            return str(response.json()["id"])
        except (ValueError, KeyError, TypeError) as exc:
            # Accepted but unidentifiable: retrying would text the person twice.
            raise PermanentDeliveryError(f"SMS provider {status} returned no message id") from exc


class LetterChannel:
    """Queues printable letters as <folder>/<letter_id>.txt."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    def send(self, name: str, address: dict, text: str, letter_id: str) -> str:
        """Write the letter (already addressed and dated by its template); returns its path.

        Written to a hidden temporary file and renamed into place, so a printer
        picking up *.txt never sees half a letter. The same letter_id again
        leaves the first letter as it is.
        """
        if not _LETTER_ID.match(letter_id):
            raise ValueError("letter_id must be letters, digits, '-' or '_'")
        if not name or not address or not (address.get("line1") and address.get("postcode")):
            raise PermanentDeliveryError("letter has no postable name and address")
        path = self.folder / f"{letter_id}.txt"
        if path.exists():
            return str(path)
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(  # 0600dir=self.folder, prefix=f".{letter_id}.",
                                                     suffix=".tmp")
            try:
                with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                    handle.write(text)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(temporary, path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise TransientDeliveryError(f"letter not written: {type(exc).__name__}") from exc
        return str(path)
