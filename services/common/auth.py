"""API keys: `Authorization: Bearer <token>`, stored hashed, with roles.

Keys live in their own small database (AUTH_DB, default `refhub_auth`) that
every service reads, so no service reads another service's collections.
"""
from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta, timezone

from nameko.extensions import DependencyProvider
from pymongo.errors import PyMongoError

from .envelope import utcnow
from .logs import get_logger
from .mongo import acquire_client, release_client
from .throttle import BadTokenThrottle

log = get_logger(__name__)

ROLES = ("partner", "coordinator", "fire_officer", "admin")
# The agencies a partner key can belong to (API.md, POST /referrals).
AGENCIES = ("mind", "rethink", "gp", "housing", "adult_social_care", "self_referral")
TOKEN_PREFIX = "rh_"
SESSION_PREFIX = "rs_"  # a signed-in person's session token (people.py)
DEFAULT_KEY_LIFETIME = timedelta(days=365)  # also the lifetime of keys stored before keys expired
LAST_USE_GRANULARITY = timedelta(minutes=1)  # last use is written at most this often per key


def parse_lifetime(text: str) -> timedelta:
    """'365d', '12w', '36h' -> a timedelta (at least an hour, at most ten years)."""
    match = re.fullmatch(r"\s*(\d{1,5})\s*([hdw])\s*", text or "")
    if not match:
        raise ValueError("--expires takes a number and a unit: h, d or w (e.g. 365d)")
    unit = {"h": "hours", "d": "days", "w": "weeks"}[match[2]]
    lifetime = timedelta(**{unit: int(match[1])})
    if not timedelta(hours=1) <= lifetime <= timedelta(days=3653):
        raise ValueError("--expires must be between 1h and 3653d")
    return lifetime


def _utc(moment):
    # a client without tz_aware hands back naive datetimes; we only ever store UTC
    return moment.replace(tzinfo=timezone.utc) if moment is not None and moment.tzinfo is None else moment


def expires_at(key: dict):
    return _utc(key.get("expires_at")) or _utc(key["created_at"]) + DEFAULT_KEY_LIFETIME


class Unauthenticated(Exception):
    """No token, or one we do not know."""


class Forbidden(Exception):
    """A known token whose role may not do this."""


@dataclass(frozen=True)
class Principal:
    key_id: str
    role: str
    agency: str | None = None
    person_id: str | None = None   # set when a signed-in person (not an API key) makes the call

    @property
    def actor(self) -> str:
        who = f"person-{self.person_id}" if self.person_id else self.key_id
        return f"{self.role}:{self.agency}:{who}" if self.agency else f"{self.role}:{who}"


def hash_token(token: str) -> str:
    # tokens are 256-bit random, so a fast hash is enough (no dictionary to guess from)
    return hashlib.sha256(token.encode()).hexdigest()


class KeyStore:
    def __init__(self, db):
        self.keys = db["api_keys"]
        self.sessions = db["person_sessions"]  # written by PeopleStore

    def create(self, role: str, agency: str | None = None, label: str | None = None,
               lifetime: timedelta = DEFAULT_KEY_LIFETIME) -> tuple[str, str]:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        if role == "partner" and not agency:
            raise ValueError("a partner key needs --agency")
        if role != "partner" and agency:
            raise ValueError("only partner keys are bound to an agency")
        if agency is not None and agency not in AGENCIES:
            raise ValueError(f"agency must be one of {', '.join(AGENCIES)}")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        key_id = uuid.uuid4().hex[:12]
        now = utcnow()
        self.keys.insert_one({"_id": hash_token(token), "key_id": key_id, "role": role,
                              "agency": agency, "label": label, "created_at": now,
                              "expires_at": now + lifetime, "last_used_at": None, "revoked": False})
        return key_id, token

    def revoke(self, key_id: str) -> bool:
        return self.keys.update_one({"key_id": key_id}, {"$set": {"revoked": True}}).modified_count == 1

    def list(self) -> list[dict]:
        return list(self.keys.find({}, {"_id": 0}).sort("created_at", 1))

    def principal(self, authorization: str | None) -> Principal:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer":  # the scheme is case-insensitive (RFC 7235)
            raise Unauthenticated("send 'Authorization: Bearer <token>'")
        token = token.strip()
        if token.startswith(SESSION_PREFIX):
            return self._person_principal(token)
        doc = self.keys.find_one({"_id": hash_token(token)}) if token else None
        if doc is None or doc.get("revoked"):
            raise Unauthenticated("unknown or revoked token")
        now = utcnow()
        if now >= expires_at(doc):
            raise Unauthenticated("this token has expired; ask for a new key")
        self._note_use(doc, now)
        return Principal(key_id=doc["key_id"], role=doc["role"], agency=doc.get("agency"))

    def _person_principal(self, token: str) -> Principal:
        """A signed-in person's session token (see people.py), while it has not expired."""
        doc = self.sessions.find_one({"_id": hash_token(token)})
        if doc is None or _utc(doc["expires_at"]) <= utcnow():
            raise Unauthenticated("unknown or expired session")
        return Principal(key_id=f"person-{doc['person_id']}", role=doc["role"], agency=doc.get("agency"),
                         person_id=doc["person_id"])

    def _note_use(self, doc: dict, now) -> None:
        """Record the key's last use, at most once a LAST_USE_GRANULARITY (a write per request would not scale)."""
        last = doc.get("last_used_at")
        if last is not None and now - _utc(last) < LAST_USE_GRANULARITY:
            return
        try:  # conditional on what we read: of several replicas, one writes
            self.keys.update_one({"_id": doc["_id"], "last_used_at": last}, {"$set": {"last_used_at": now}})
        except PyMongoError as exc:  # the request is still authenticated; the note waits for the next use
            log.warning("key_last_use_not_recorded", error=type(exc).__name__)


def require_role(principal: Principal, roles) -> None:
    # exact: admin manages people, keys and erasure, and is refused elsewhere unless listed (API.md)
    if principal.role not in roles:
        raise Forbidden(f"the {principal.role} role may not do this")


class ApiKeys(DependencyProvider):
    """Gives entrypoints the KeyStore. Config: MONGO_URI, AUTH_DB."""

    def setup(self):
        config = self.container.config
        self.client = acquire_client(self, config)  # shared with the store (one per process)
        self.store = KeyStore(self.client[config.get("AUTH_DB", "refhub_auth")])
        self.store.keys.create_index("key_id", unique=True)
        # this process's count of unknown tokens per client address (see throttle.py)
        self.store.bad_tokens = BadTokenThrottle(config.get("BAD_TOKEN_LIMIT"))

    def stop(self):
        release_client(self)

    def kill(self):
        self.stop()

    def get_dependency(self, worker_ctx):
        return self.store
