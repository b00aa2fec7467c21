"""The audit trail: who read or changed or disclosed which case, in a tamper-evident hash chain.

Each service keeps its own chain in its own database (`audit` entries, `audit_heads` head), written
in the worker that did the read or the change, before the response goes out: a read whose entry
cannot be written fails (no audit, no data). Entries hold ids only: actor, role, agency, action,
case id, client address, correlation id; never names or text.

Chain: entry n stores `prev_hash` (entry n-1's hash) and `hash` = SHA-256 over its own canonical
fields and `prev_hash`. Appending reads one document (the head, by `_id`), inserts the entries with
`_id` = "<chain>:<seq>" (unique: two appenders cannot both take seq n, so the chain cannot fork
silently; the loser re-reads and goes on top) and moves the head forward. A crash between the
insert and the head update leaves the head behind: the next appender walks it forward by `_id`.
`verify` re-computes the chain: an edited entry breaks its hash, a deleted one breaks the sequence or
the next entry's `prev_hash`, a deleted tail disagrees with the head.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone

from nameko.extensions import DependencyProvider
from pymongo.errors import BulkWriteError, DuplicateKeyError

from .envelope import utcnow
from .http import register_error
from .logs import get_logger
from .mongo import acquire_client, release_client

log = get_logger(__name__)

ENTRIES = "audit"
HEADS = "audit_heads"
GENESIS = "0" * 64
# the fields the hash covers, in this order (adding one is a new chain format)
HASHED_FIELDS = ("chain", "seq", "at", "actor", "person", "role", "agency", "action", "case_id",
                 "client", "correlation_id", "service", "prev_hash")
PUBLIC_FIELDS = ("at", "actor", "role", "agency", "action", "case_id", "correlation_id", "service", "client")
MAX_APPEND_ATTEMPTS = 20


class AuditUnavailable(Exception):
    """The entry could not be written: the read or change it records must not go ahead."""


register_error(AuditUnavailable, 503, "audit_unavailable")


@dataclass(frozen=True)
class AuditRecord:
    """What one entry says, before it takes its place in the chain."""
    actor: str
    role: str | None
    action: str
    case_id: str | None
    agency: str | None = None
    person: str | None = None  # a signed-in person's id (portal sessions), never a name
    client: str | None = None
    correlation_id: str | None = None
    at: datetime = field(default_factory=utcnow)


def who(principal) -> dict:
    """actor/role/agency/person of a Principal, read defensively (a portal person may add fields)."""
    if principal is None:
        return {"actor": "system", "role": None, "agency": None, "person": None}
    person = getattr(principal, "person_id", None) or getattr(principal, "user_id", None)
    return {"actor": str(getattr(principal, "actor", None) or getattr(principal, "key_id", "unknown")),
            "role": getattr(principal, "role", None), "agency": getattr(principal, "agency", None),
            "person": str(person) if person else None}


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    # millisecond precision: what BSON keeps, so a stored entry hashes the same when read back
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")


def entry_hash(entry: dict) -> str:
    """SHA-256 of the entry's hashed fields (times as ISO text), canonical JSON."""
    canonical = {}
    for name in HASHED_FIELDS:
        value = entry.get(name)
        canonical[name] = _iso(value) if isinstance(value, datetime) else value
    return hashlib.sha256(json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def link(chain: str, service: str, record: AuditRecord, seq: int, prev_hash: str) -> dict:
    """The stored entry for `record` at position `seq` after an entry hashed `prev_hash`."""
    at = record.at.astimezone(timezone.utc)
    at = at.replace(microsecond=at.microsecond // 1000 * 1000)  # BSON keeps milliseconds
    entry = {"_id": entry_id(chain, seq), "chain": chain, "seq": seq, "at": at, "actor": record.actor,
             "person": record.person, "role": record.role, "agency": record.agency, "action": record.action,
             "case_id": record.case_id, "client": record.client, "correlation_id": record.correlation_id,
             "service": service, "prev_hash": prev_hash}
    entry["hash"] = entry_hash(entry)
    return entry


def entry_id(chain: str, seq: int) -> str:
    return f"{chain}:{seq:012d}"


@dataclass
class Verification:
    chain: str
    entries: int
    problems: list[str]

    @property
    def intact(self) -> bool:
        return not self.problems


def verify_entries(chain: str, entries, head: dict | None) -> Verification:
    """Check a chain's entries (in seq order) against each other and the head (pure)."""
    problems: list[str] = []
    prev_hash, expected_seq, count = GENESIS, 1, 0
    last = None
    for entry in entries:
        count += 1
        if entry.get("seq") != expected_seq:
            problems.append(f"entry {expected_seq} is missing (next found: {entry.get('seq')})")
        if entry.get("prev_hash") != prev_hash:
            problems.append(f"entry {entry.get('seq')} does not follow the entry before it")
        if entry_hash(entry) != entry.get("hash"):
            problems.append(f"entry {entry.get('seq')} was changed after it was written")
        prev_hash, expected_seq, last = entry.get("hash"), (entry.get("seq") or 0) + 1, entry
    if head is not None:
        last_seq = last["seq"] if last else 0
        if head["seq"] > last_seq:
            problems.append(f"the head says {head['seq']} entries, only {last_seq} are there (the last were deleted)")
    elif last is not None:
        problems.append("the chain's head is missing")
    return Verification(chain, count, problems)


class AuditChain:
    """One service's chain over its `audit` and `audit_heads` collections."""

    def __init__(self, db, chain: str, service: str | None = None):
        self.db = db
        self.chain = chain
        self.service = service or chain
        # (seq, hash) of the last entry this process appended: the next append tries seq + 1 on it
        # without reading the head; another appender having taken that seq shows as a duplicate key,
        # and then the head is read. It can only be behind the chain, never ahead of it.
        self._known: tuple[int, str] | None = None

    @property
    def entries(self):
        return self.db[ENTRIES]

    @property
    def heads(self):
        return self.db[HEADS]

    def ensure_indexes(self) -> None:
        self.entries.create_index("case_id")  # GET /audit and subject access ask by case

    def _head(self) -> tuple[int, str]:
        head = self.heads.find_one({"_id": self.chain})
        seq, prev_hash = (head["seq"], head["hash"]) if head else (0, GENESIS)
        # a crash after inserting entries but before moving the head: walk it forward by _id
        while True:
            nxt = self.entries.find_one({"_id": entry_id(self.chain, seq + 1)}, {"hash": 1})
            if nxt is None:
                return seq, prev_hash
            seq, prev_hash = seq + 1, nxt["hash"]

    def append(self, records: list[AuditRecord]) -> list[dict]:
        """Add records at the end of the chain, in order; returns the stored entries."""
        remaining, stored = list(records), []
        for _ in range(MAX_APPEND_ATTEMPTS):
            if not remaining:
                break
            seq, prev_hash = self._known or self._head()
            self._known = None
            batch = []
            for record in remaining:
                seq += 1
                batch.append(link(self.chain, self.service, record, seq, prev_hash))
                prev_hash = batch[-1]["hash"]
            try:
                if len(batch) == 1:
                    self.entries.insert_one(batch[0])
                else:
                    self.entries.insert_many(batch, ordered=True)
                inserted = len(batch)
            except DuplicateKeyError:
                inserted = 0
            except BulkWriteError as exc:  # another appender took a seq: our prefix stays, the rest goes on top
                inserted = int(exc.details.get("nInserted", 0))
            stored.extend(batch[:inserted])
            remaining = remaining[inserted:]
            if inserted:
                last = batch[inserted - 1]
                self._known = (last["seq"], last["hash"])
                # the head only moves forward: a head another appender moved further matches nothing, and
                # the upsert's insert then meets its _id (a duplicate key: left alone)
                try:
                    self.heads.update_one({"_id": self.chain, "seq": {"$lt": last["seq"]}},
                                          {"$set": {"seq": last["seq"], "hash": last["hash"], "at": last["at"]}},
                                          upsert=True)
                except DuplicateKeyError:
                    pass
        if remaining:
            raise AuditUnavailable(f"could not append to the {self.chain} audit chain (contention)")
        return stored

    def for_case(self, case_id: str) -> list[dict]:
        # equality on a top-level string: an index on MongoDB and on the embedded engine
        docs = list(self.entries.find({"case_id": case_id}))
        return sorted(docs, key=lambda e: e["seq"])

    def verify(self) -> Verification:
        """Read the whole chain in order (an offline check, never on a request)."""
        head = self.heads.find_one({"_id": self.chain})
        entries = self.entries.find({"chain": self.chain}).sort("_id", 1)  # the ids sort by seq
        return verify_entries(self.chain, entries, head)


def public_entry(entry: dict) -> dict:
    """What GET /audit and subject access show of an entry."""
    return {name: entry.get(name) for name in PUBLIC_FIELDS}


class Recorder:
    """A worker's view of its service's audit chain: verbs for what happened."""

    def __init__(self, chain: AuditChain):
        self.chain = chain

    def _records(self, principal, request, action, case_ids, correlation_id=None):
        client = getattr(request, "remote_addr", None) if request is not None else None
        correlation = correlation_id or (getattr(request, "correlation_id", None) if request is not None else None)
        whom = who(principal)
        return [AuditRecord(action=action, case_id=case_id, client=client, correlation_id=correlation, **whom)
                for case_id in dict.fromkeys(case_ids)]  # one entry per case, in order

    def read(self, principal, request, action: str, *case_ids) -> None:
        """Personal data of these cases is about to be shown to `principal` (a list: each case)."""
        self._append(self._records(principal, request, action, [c for c in case_ids if c]))

    def changed(self, principal, request, action: str, case_id: str | None) -> None:
        self._append(self._records(principal, request, action, [case_id]))

    def disclosed(self, action: str, case_id: str, correlation_id: str | None, actor: str = "system",
                  principal=None) -> None:
        """Personal data left this service for someone outside it (the fire service, a referrer)."""
        records = self._records(principal, None, action, [case_id], correlation_id)
        if principal is None:
            records = [AuditRecord(actor=actor, role="system", action=action, case_id=case_id,
                                   correlation_id=correlation_id, at=r.at) for r in records]
        self._append(records)

    def _append(self, records):
        if not records:
            return
        try:
            self.chain.append(records)
        except AuditUnavailable:
            raise
        except Exception as exc:  # the database refused: the read/change must not go ahead unrecorded
            log.error("audit_append_failed", error=type(exc).__name__)
            raise AuditUnavailable("the audit trail could not be written") from exc
        log.info("audit_recorded", action=records[0].action, entries=len(records))

    def for_case(self, case_id: str) -> list[dict]:
        return [public_entry(e) for e in self.chain.for_case(case_id)]


class AuditTrail(DependencyProvider):
    """Gives entrypoints a Recorder on the service's own chain. Config: MONGO_URI, MONGO_DB."""

    def setup(self):
        config = self.container.config
        self.client = acquire_client(self, config)
        name = self.container.service_name
        db = self.client[config.get("MONGO_DB", f"refhub_{name}")]
        self.chain = AuditChain(db, name)
        self.chain.ensure_indexes()

    def stop(self):
        release_client(self)

    def kill(self):
        self.stop()

    def get_dependency(self, worker_ctx):
        return Recorder(self.chain)
