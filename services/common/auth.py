"""API keys: `Authorization: Bearer <token>`, stored hashed, with roles.

Keys live in their own small database (AUTH_DB, default `refhub_auth`) that
every service reads, so no service reads another service's collections.
"""
from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass

from nameko.extensions import DependencyProvider

from .envelope import utcnow
from .mongo import connect

ROLES = ("partner", "coordinator", "fire_officer", "admin")
# The agencies a partner key can belong to (API.md, POST /referrals).
AGENCIES = ("mind", "rethink", "gp", "housing", "adult_social_care", "self_referral")
TOKEN_PREFIX = "rh_"
SESSION_PREFIX = "rs_"  # a signed-in person's session token (people.py)


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

    def create(self, role: str, agency: str | None = None, label: str | None = None) -> tuple[str, str]:
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
        self.keys.insert_one({"_id": hash_token(token), "key_id": key_id, "role": role,
                              "agency": agency, "label": label, "created_at": utcnow(),
                              "revoked": False})
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
        return Principal(key_id=doc["key_id"], role=doc["role"], agency=doc.get("agency"))

    def _person_principal(self, token: str) -> Principal:
        """A signed-in person's session token (see people.py), while it has not expired."""
        doc = self.sessions.find_one({"_id": hash_token(token)})
        if doc is None or doc["expires_at"] <= utcnow():
            raise Unauthenticated("unknown or expired session")
        return Principal(key_id=f"person-{doc['person_id']}", role=doc["role"], agency=doc.get("agency"),
                         person_id=doc["person_id"])


def require_role(principal: Principal, roles) -> None:
    # exact: admin manages people, keys and erasure, and is refused elsewhere unless listed (API.md)
    if principal.role not in roles:
        raise Forbidden(f"the {principal.role} role may not do this")


class ApiKeys(DependencyProvider):
    """Gives entrypoints the KeyStore. Config: MONGO_URI, AUTH_DB."""

    def setup(self):
        config = self.container.config
        self.client = connect(config.get("MONGO_URI", "mongodb://127.0.0.1:27017/"))
        self.store = KeyStore(self.client[config.get("AUTH_DB", "refhub_auth")])
        self.store.keys.create_index("key_id", unique=True)

    def stop(self):
        self.client.close()

    def kill(self):
        self.stop()

    def get_dependency(self, worker_ctx):
        return self.store
