"""People's accounts, set-password links and signed-in sessions, in the auth database beside API keys.

Only hashes of secrets are stored: argon2id for passwords, SHA-256 for the
256-bit random link and session tokens. A session token is what the portal
keeps in the person's HttpOnly cookie and presents to the services as
`Authorization: Bearer rs_...`; `KeyStore.principal` accepts it while it has
not expired, so every API call is made as that person, role and agency.
"""
from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime

from argon2 import PasswordHasher
from eventlet import tpool  # argon2 takes ~0.3 s of CPU: in a real thread, so other requests go on
from argon2.exceptions import InvalidHashError, VerificationError
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from . import account_rules as rules
from .envelope import utcnow

ROLES = ("partner", "coordinator", "fire_officer", "admin")
from .auth import SESSION_PREFIX
LINK_PREFIX = "sp_"
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
# argon2id with argon2-cffi's defaults (RFC 9106 "low memory" profile: 64 MiB, 3 passes)
_HASHER = PasswordHasher()
# verified against when the email is unknown, so both answers take as long
_DUMMY_HASH = _HASHER.hash("not a password anyone has " + secrets.token_hex(8))


def hash_secret(token: str) -> str:
    from .auth import hash_token  # one hash for every bearer secret
    return hash_token(token)


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


class AccountError(ValueError):
    """A request about accounts that cannot be done, in words a person can act on."""


@dataclass(frozen=True)
class SignIn:
    person: dict | None = None
    refused: str | None = None      # "wrong", "wait", "locked"
    until: datetime | None = None


class PeopleStore:
    def __init__(self, db):
        self.people = db["people"]
        self.links = db["set_password_links"]
        self.sessions = db["person_sessions"]

    def ping(self) -> bool:
        return self.people.database.client.admin.command("ping").get("ok") == 1

    def ensure_indexes(self) -> None:
        self.people.create_index("email", unique=True)
        self.people.create_index("person_id", unique=True)

    # -- accounts -------------------------------------------------------------
    def create(self, email: str, role: str, agency: str | None = None, name: str | None = None) -> tuple[dict, str]:
        from .auth import AGENCIES

        email = normalise_email(email)
        if not _EMAIL.match(email):
            raise AccountError("the email address must look like name@example.org")
        if role not in ROLES:
            raise AccountError(f"role must be one of {', '.join(ROLES)}")
        if role == "partner" and agency not in AGENCIES:
            raise AccountError(f"a partner needs --agency, one of {', '.join(AGENCIES)}")
        if role != "partner" and agency:
            raise AccountError("only partners belong to an agency")
        person = {"_id": email, "email": email, "person_id": uuid.uuid4().hex[:12], "role": role,
                  "agency": agency, "name": (name or "").strip() or None, "active": True,
                  "password_hash": None, "created_at": utcnow(), "attempts": {}}
        try:
            self.people.insert_one(person)
        except DuplicateKeyError:
            raise AccountError(f"there is already an account for {email}") from None
        return person, self._new_link(person)

    def list(self) -> list[dict]:
        return list(self.people.find({}, {"password_hash": 0}).sort("created_at", 1))

    def names(self, person_ids) -> dict[str, str]:
        """person_id -> the name on the account (or its email), for showing who did something."""
        ids = sorted({i for i in person_ids if i})
        if not ids:
            return {}
        return {p["person_id"]: p.get("name") or p["_id"]
                for p in self.people.find({"person_id": {"$in": ids}}, {"person_id": 1, "name": 1})}

    def find(self, email: str) -> dict | None:
        return self.people.find_one({"_id": normalise_email(email)})

    def disable(self, email: str) -> dict:
        person = self.people.find_one_and_update({"_id": normalise_email(email)}, {"$set": {"active": False}},
                                                 return_document=ReturnDocument.AFTER)
        if person is None:
            raise AccountError(f"no account for {normalise_email(email)}")
        # signed out everywhere, and no outstanding link works
        self.sessions.delete_many({"person_id": person["person_id"]})
        self.links.delete_many({"person_id": person["person_id"]})
        return person

    def reset(self, email: str) -> tuple[dict, str]:
        """A new set-password link (older ones stop working); re-enables a disabled account."""
        person = self.people.find_one_and_update({"_id": normalise_email(email)},
                                                 {"$set": {"active": True, "attempts": {}}},
                                                 return_document=ReturnDocument.AFTER)
        if person is None:
            raise AccountError(f"no account for {normalise_email(email)}")
        self.links.delete_many({"person_id": person["person_id"]})
        return person, self._new_link(person)

    # -- set-password links ------------------------------------------------------
    def _new_link(self, person: dict) -> str:
        token = LINK_PREFIX + secrets.token_urlsafe(32)
        now = utcnow()
        self.links.insert_one({"_id": hash_secret(token), "person_id": person["person_id"],
                               "email": person["email"], "created_at": now,
                               "expires_at": now + rules.SET_PASSWORD_LINK_VALID})
        return token

    def link_holder(self, token: str, now: datetime | None = None) -> dict | None:
        """The person a set-password link is for, while it is unused and in date."""
        link = self.links.find_one({"_id": hash_secret(token or "")})
        if link is None or link["expires_at"] <= (now or utcnow()):
            return None
        person = self.people.find_one({"_id": link["email"]})  # by _id: the embedded store scans otherwise
        return person if person and person.get("active") and person["person_id"] == link["person_id"] else None

    def set_password(self, token: str, password: str) -> dict:
        person = self.link_holder(token)
        if person is None:
            raise AccountError("link")
        problem = rules.password_problem(password, person["email"])
        if problem:
            raise AccountError(problem)
        # single use: only the request that deletes the link sets the password
        if self.links.delete_one({"_id": hash_secret(token)}).deleted_count != 1:
            raise AccountError("link")
        self.people.update_one({"_id": person["_id"]},
                               {"$set": {"password_hash": _hash(password), "attempts": {},
                                         "password_set_at": utcnow()}})
        return person

    # -- signing in -----------------------------------------------------------------
    def sign_in(self, email: str, password: str, now: datetime | None = None) -> SignIn:
        now = now or utcnow()
        person = self.find(email)
        if person is None or not person.get("active") or not person.get("password_hash"):
            _verify(_DUMMY_HASH, password)
            return SignIn(refused="wrong")
        attempts = rules.Attempts(**(person.get("attempts") or {}))
        gate = rules.sign_in_gate(attempts, now)
        if not gate.allowed:
            return SignIn(refused=gate.reason, until=gate.until)
        if not _verify(person["password_hash"], password):
            after = rules.after_failure(attempts, now)
            self.people.update_one({"_id": person["_id"]}, {"$set": {"attempts": asdict(after)}})
            return SignIn(refused="locked" if after.locked_until else "wrong", until=after.locked_until)
        self.people.update_one({"_id": person["_id"]}, {"$set": {"attempts": {}, "last_signed_in_at": now}})
        return SignIn(person=person)

    # -- sessions ----------------------------------------------------------------------
    def start_session(self, person: dict) -> str:
        token = SESSION_PREFIX + secrets.token_urlsafe(32)
        now = utcnow()
        self.sessions.insert_one({"_id": hash_secret(token), "person_id": person["person_id"], "email": person["_id"],
                                  "role": person["role"], "agency": person.get("agency"),
                                  "started_at": now, "expires_at": rules.session_expires_at(now, now)})
        return token

    def session(self, token: str, now: datetime | None = None) -> dict | None:
        """The live session for a token, its idle timer restarted; None when unknown or expired."""
        if not (token or "").startswith(SESSION_PREFIX):
            return None
        now = now or utcnow()
        doc = self.sessions.find_one({"_id": hash_secret(token)})
        if doc is None or doc["expires_at"] <= now:
            return None
        expires_at = rules.session_expires_at(doc["started_at"], now)
        self.sessions.update_one({"_id": doc["_id"]}, {"$set": {"expires_at": expires_at}})
        person = self.people.find_one({"_id": doc["email"]})
        if not person or not person.get("active") or person["person_id"] != doc["person_id"]:
            return None
        return {**doc, "expires_at": expires_at, "person": person}

    def end_session(self, token: str) -> None:
        self.sessions.delete_one({"_id": hash_secret(token or "")})


def _verify(password_hash: str, password: str) -> bool:
    try:
        return tpool.execute(_HASHER.verify, password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _hash(password: str) -> str:
    return tpool.execute(_HASHER.hash, password)


def set_password_url(base_url: str, token: str) -> str:
    """The one-time link a new person opens: `http://<host>:8080/set-password/<token>`."""
    return f"{base_url.rstrip('/')}/set-password/{token}"
