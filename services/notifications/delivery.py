"""The channels this service delivers through, built from configuration.

Without SMTP_HOST / SMS_ENDPOINT configured, email and SMS are written to a
drop folder under the data dir instead of being sent: a laptop never mails a
real person by accident, and a coordinator can read what would have gone.
"""
from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

from nameko.extensions import DependencyProvider
from nameko.timer import Timer

from .channels import EmailChannel, LetterChannel, SmsChannel, compose_email
from .quiet_hours import parse_quiet_hours


def _write_atomically(path: Path, content: str) -> str:
    # owner only, whatever the process's umask: these files hold names, addresses and message text
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as handle:
        handle.write(content)
    os.replace(tmp, path)
    return str(path)


class DropFolderEmail:
    def __init__(self, folder: Path, sender: str):
        self.folder, self.sender = Path(folder), sender

    def send(self, to_email, subject, text, html=None, message_id=None):
        message = compose_email(self.sender, to_email, subject, text, html or None)
        return _write_atomically(self.folder / f"{message_id}.eml", message.as_string())


class DropFolderSms:
    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def send(self, to_phone, text, message_id=None):
        return _write_atomically(self.folder / f"{message_id}.json",
                                 json.dumps({"to": to_phone, "text": text}))


class Channels(DependencyProvider):
    """The channels and when to use them.

    Config: SMTP_HOST, SMTP_PORT, SMTP_USER, SMTP_PASSWORD, SMTP_STARTTLS, SMTP_SSL,
    MAIL_FROM, SMS_ENDPOINT, SMS_API_KEY, SMS_SENDER, LETTER_DIR, DROP_DIR,
    NOTIFY_MAX_ATTEMPTS, NOTIFY_BACKOFF_SECONDS, NOTIFY_SEND_LEASE_SECONDS,
    QUIET_HOURS ("20:00-09:00", UK time; empty or absent: none),
    NOTIFY_TRIAGE_WAIT_SECONDS (how long a coordinator alert waits for HFSV triage),
    NOTIFY_SWEEP_MARGIN_SECONDS (how overdue an unsent message must be before the
    safety-net sweep restores its wake-up; the sweep's own interval is NOTIFY_SWEEP_SECONDS).
    Bad values stop the service at start.
    """

    def setup(self):
        c = self.container.config
        data_dir = Path(c.get("DATA_DIR") or ".data")
        drop = Path(c.get("DROP_DIR") or data_dir / "outgoing")
        sender = c.get("MAIL_FROM") or "Harrow Peer Support <peer-support@localhost>"
        if c.get("SMTP_HOST"):
            self.email = EmailChannel(
                host=c["SMTP_HOST"], port=int(c.get("SMTP_PORT") or 25), sender=sender,
                username=c.get("SMTP_USER") or None, password=c.get("SMTP_PASSWORD") or None,
                starttls=_truthy(c.get("SMTP_STARTTLS")), ssl=_truthy(c.get("SMTP_SSL")))
        else:
            self.email = DropFolderEmail(drop / "email", sender)
        if c.get("SMS_ENDPOINT"):
            self.sms = SmsChannel(endpoint=c["SMS_ENDPOINT"], api_key=c.get("SMS_API_KEY") or "",
                                  sender=c.get("SMS_SENDER") or "HarrowPeer")
        else:
            self.sms = DropFolderSms(drop / "sms")
        self.letter = LetterChannel(c.get("LETTER_DIR") or data_dir / "letters")
        # where receipts may be files holding personal data (erasure deletes them)
        self.folders = tuple(Path(f).resolve() for f in (drop, self.letter.folder))
        self.max_attempts = int(_setting(c, "NOTIFY_MAX_ATTEMPTS", 5))
        self.backoff = float(_setting(c, "NOTIFY_BACKOFF_SECONDS", 30))
        self.send_lease = timedelta(seconds=float(_setting(c, "NOTIFY_SEND_LEASE_SECONDS", 120)))
        self.triage_wait = timedelta(seconds=float(_setting(c, "NOTIFY_TRIAGE_WAIT_SECONDS", 60)))
        self.quiet_hours = parse_quiet_hours(c.get("QUIET_HOURS"))
        self.sweep_margin = timedelta(seconds=float(_setting(c, "NOTIFY_SWEEP_MARGIN_SECONDS", 60)))
        if self.max_attempts < 1 or self.backoff <= 0:
            raise ValueError("NOTIFY_MAX_ATTEMPTS must be at least 1 and NOTIFY_BACKOFF_SECONDS above 0")

    def backoff_for(self, attempts: int) -> timedelta:
        """Exponential: backoff, 2x, 4x, ... capped at one hour."""
        return timedelta(seconds=min(3600.0, self.backoff * 2 ** max(0, attempts - 1)))

    def holds_file(self, receipt) -> Path | None:
        """The receipt as a file in one of our folders, else None."""
        if not isinstance(receipt, str) or receipt.startswith("<"):
            return None
        path = Path(receipt).resolve()
        return path if any(path.is_relative_to(f) for f in self.folders) else None

    def get_dependency(self, worker_ctx):
        return self


class InboundSecret(DependencyProvider):
    """The secret the providers sign their webhooks with (SMS_INBOUND_SECRET); unset: every call is refused."""

    def setup(self):
        self.secret = (self.container.config.get("SMS_INBOUND_SECRET") or "").strip() or None

    def get_dependency(self, worker_ctx):
        return self.secret


class SettingTimer(Timer):
    """A nameko timer whose interval (seconds) is a configuration setting, read at start."""

    def __init__(self, setting: str, default: float, **kwargs):
        self.setting, self.default = setting, default
        super().__init__(interval=default, **kwargs)

    def setup(self):
        self.interval = float(_setting(self.container.config, self.setting, self.default))
        if self.interval <= 0:
            raise ValueError(f"{self.setting} must be above 0")


def _setting(config, key, default):
    # an empty environment variable means "use the default"; 0 stays 0
    value = config.get(key)
    return default if value is None or str(value).strip() == "" else value


def _truthy(value) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")
