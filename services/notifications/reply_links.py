"""Signed reply links: a person answers an invitation with one tap, without signing in.

A link is `<public URL>/r/<token>`; the token is `<subject>.<expiry>.<signature>`:

- subject: what the link is for (an invitation id, 16 URL-safe characters);
- expiry: seconds since 1970 in base 36 (the session's start: no answer after it begins);
- signature: HMAC-SHA256 over the purpose, the subject and the expiry, with the service's
  secret, cut to 128 bits and base64url-encoded.

The purpose is signed but not carried, so a token made for one purpose never passes as
another (single-purpose); a changed subject or expiry breaks the signature (forged); a
token past its expiry is refused even with a good signature (expired). The whole token is
about 47 characters, short enough for a text message.

The secret is REPLY_LINK_SECRET (at least 32 characters; every replica needs the same
one). Without it the service makes a random secret once and keeps it in its own database,
so links keep working across restarts and replicas.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import datetime, timezone

from nameko.extensions import DependencyProvider
from pymongo.errors import DuplicateKeyError

from services.common.envelope import utcnow
from services.common.logs import get_logger
from services.common.mongo import acquire_client, release_client

log = get_logger(__name__)

SESSION_REPLY = "session-reply:v1"  # the one purpose so far: answering a session invitation
MIN_SECRET_CHARACTERS = 32
_TOKEN = re.compile(r"^([A-Za-z0-9_-]{1,64})\.([0-9a-z]{1,13})\.([A-Za-z0-9_-]{22})$")


class ForgedLink(ValueError):
    """Not a token this service signed for this purpose."""


class ExpiredLink(ValueError):
    """A genuine token whose time is over."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
        if number == 0:
            return text


def _signature(secret: bytes, purpose: str, subject: str, expiry: str) -> str:
    message = f"{purpose}\n{subject}\n{expiry}".encode()
    return _b64(hmac.new(secret, message, hashlib.sha256).digest()[:16])


def sign(secret: bytes, purpose: str, subject: str, expires_at: datetime) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", subject):
        raise ValueError("a link's subject is 1 to 64 URL-safe characters")
    expiry = _base36(max(0, int(expires_at.timestamp())))
    return f"{subject}.{expiry}.{_signature(secret, purpose, subject, expiry)}"


def read(secret: bytes, purpose: str, token: str, now: datetime) -> str:
    """The token's subject, or ForgedLink / ExpiredLink. The signature is checked first, so a
    forged token is never told apart by its expiry."""
    match = _TOKEN.match(token or "")
    if match is None:
        raise ForgedLink("not a reply link")
    subject, expiry, signature = match.groups()
    if not hmac.compare_digest(signature, _signature(secret, purpose, subject, expiry)):
        raise ForgedLink("the link's signature does not match")
    if datetime.fromtimestamp(int(expiry, 36), timezone.utc) <= now:
        raise ExpiredLink("the link has expired")
    return subject


class ReplyLinks(DependencyProvider):
    """Signs and reads reply links. Config: REPLY_LINK_SECRET, NOTIFICATIONS_PUBLIC_URL (where
    people reach this service's /r/ pages; default http://<WEB_SERVER_ADDRESS>)."""

    def setup(self):
        config = self.container.config
        given = str(config.get("REPLY_LINK_SECRET") or "").strip()
        if given and len(given) < MIN_SECRET_CHARACTERS:
            raise ValueError(f"REPLY_LINK_SECRET must be at least {MIN_SECRET_CHARACTERS} characters")
        self.secret = given.encode() if given else self._kept_secret(config)
        public = str(config.get("NOTIFICATIONS_PUBLIC_URL") or "").strip()
        self.base_url = (public or f"http://{config.get('WEB_SERVER_ADDRESS', '127.0.0.1:8002')}").rstrip("/")

    def _kept_secret(self, config) -> bytes:
        """The secret this service made for itself once, in its own database (shared by replicas)."""
        client = acquire_client(self, config)
        try:
            settings = client[config.get("MONGO_DB", f"refhub_{self.container.service_name}")]["settings"]
            try:
                settings.insert_one({"_id": "reply_link_secret", "secret": secrets.token_urlsafe(48),
                                     "created_at": utcnow()})
                log.warning("reply_link_secret_generated")
            except DuplicateKeyError:
                pass
            return settings.find_one({"_id": "reply_link_secret"})["secret"].encode()
        finally:
            release_client(self)

    def link(self, subject: str, expires_at: datetime, purpose: str = SESSION_REPLY) -> str:
        return f"{self.base_url}/r/{sign(self.secret, purpose, subject, expires_at)}"

    def read(self, token: str, now: datetime, purpose: str = SESSION_REPLY) -> str:
        return read(self.secret, purpose, token, now)

    def get_dependency(self, worker_ctx):
        return self
