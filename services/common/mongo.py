"""The MongoDB dependency: one client per container, a repository per service."""
from __future__ import annotations

import threading
from datetime import date, datetime

import pymongo
from nameko.extensions import DependencyProvider
from pymongo import ReturnDocument

from pymongo.errors import DuplicateKeyError

from .envelope import utcnow
from .logs import get_logger
from .outbox import WAITING, WRITTEN_KEY, outbox_fields, with_outbox

log = get_logger(__name__)


def connect(uri: str, timeout_ms: int = 5000) -> pymongo.MongoClient:
    # tz_aware: every datetime we read back is UTC-aware, like the ones we write.
    return pymongo.MongoClient(uri, tz_aware=True, serverSelectionTimeoutMS=timeout_ms,
                               connectTimeoutMS=timeout_ms, retryWrites=False)


DEFAULT_URI = "mongodb://127.0.0.1:27017/"


class _SharedClients:
    """One MongoClient per (process, URI), shared by every provider that needs one.

    A client holds its own pool and monitor threads: three providers in each of the services
    (store, retries, keys) would open three pools to the same server. The client is closed
    when its last user releases it. A user releasing twice (stop, then kill) is a no-op.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._clients: dict[str, tuple[pymongo.MongoClient, set[int]]] = {}

    def acquire(self, user, uri: str, timeout_ms: int = 5000) -> pymongo.MongoClient:
        with self._lock:
            if uri not in self._clients:  # the first user's timeout sets it for all (they share config)
                self._clients[uri] = (connect(uri, timeout_ms), set())
            client, users = self._clients[uri]
            users.add(id(user))
            return client

    def release(self, user) -> None:
        with self._lock:
            for uri, (client, users) in list(self._clients.items()):
                if id(user) in users:
                    users.discard(id(user))
                    if not users:
                        del self._clients[uri]
                        client.close()

    def users(self, uri: str) -> int:
        return len(self._clients[uri][1]) if uri in self._clients else 0


shared_clients = _SharedClients()


def acquire_client(user, config) -> pymongo.MongoClient:
    """The process's client for the container's MONGO_URI (nameko config); release_client(user) when done."""
    return shared_clients.acquire(user, config.get("MONGO_URI", DEFAULT_URI),
                                  int(config.get("MONGO_TIMEOUT_MS", 5000)))


def release_client(user) -> None:
    shared_clients.release(user)


def storable(value):
    """BSON has datetimes but no bare dates: store dates as ISO strings."""
    if isinstance(value, dict):
        return {k: storable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [storable(v) for v in value]
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    return value


DEAD_LETTERS = "dead_letters"  # events a handler gave up on, in the service's own database


class OneUpdate:
    """What update_with_events did: update_one's counts, and the document as the write left it when
    the write returned it (a write with events; None otherwise or when nothing matched)."""

    def __init__(self, matched: int, modified: int, document: dict | None = None):
        self.matched_count, self.modified_count, self.document = matched, modified, document


class Repository:
    """Base for a service's storage: domain verbs over its own database."""

    #: collections whose documents carry an outbox (see outbox.py)
    outbox_collections: tuple[str, ...] = ()

    def __init__(self, db, written: list | None = None):
        self.db = db
        self.written = written  # this worker's outbox writes, published when it is done

    def _noted(self, collection: str, doc_id, events: list[dict] | None) -> None:
        """`events`: what this write added, when nothing else was pending (None: not known to be so)."""
        if self.written is not None:
            self.written.append((collection, doc_id, self.db, events))

    def insert_with_events(self, collection: str, doc: dict, events: list[dict], once: bool = False) -> bool:
        """Insert a document and the events it causes in one write.

        once=True: a duplicate key means it was stored before (an idempotent consumer): False.
        """
        try:
            self.db[collection].insert_one({**doc, **outbox_fields(list(events))})
        except DuplicateKeyError:
            if once:
                return False
            raise
        if events:
            self._noted(collection, doc["_id"], list(events))
        return True

    def update_with_events(self, collection: str, doc_filter: dict, update: dict, events: list[dict]):
        """Update one document (by `_id` in the filter) and add the events it causes, in one write.

        With events the write returns the document as it left it (`result.document`), still in one
        command: the worker knows whether its events are the only ones pending (outbox.publish_own),
        and the caller has the document without reading it again.
        """
        events = list(events)
        if not events:
            result = self.db[collection].update_one(doc_filter, update)
            return OneUpdate(result.matched_count, result.modified_count)
        after = self.db[collection].find_one_and_update(doc_filter, with_outbox(update, events),
                                                        return_document=ReturnDocument.AFTER)
        if after is None:
            return OneUpdate(0, 0)
        self._noted(collection, doc_filter["_id"], events if after.get("outbox_pending") == len(events) else None)
        return OneUpdate(1, 1, after)  # adding events always modifies

    def ensure_indexes(self) -> None:
        """Create the indexes the repository relies on (idempotent)."""

    def ensure_outbox_indexes(self) -> None:
        """The sweep's question, answered by an index; documents from before the marker get it once."""
        for collection in self.outbox_collections:
            self.db[collection].create_index(WAITING)
            self.migrate_once(f"{collection}.{WAITING}", lambda c=collection: self.db[c].update_many(
                {"outbox_pending": {"$gt": 0}}, {"$set": {WAITING: True}}))

    def migrate_once(self, name: str, work) -> bool:
        """Run the one-off data migration `work()` unless `name` finished in this database before.

        Done is recorded after the work, so a process killed part-way runs it again at its next start
        (every migration is idempotent: it fills in what is missing). A marker from before `done` was
        kept counts as done. Returns whether it ran.
        """
        marker = self.db["migrations"].find_one({"_id": name})
        if marker is not None and marker.get("done", True):
            return False
        self.db["migrations"].update_one({"_id": name}, {"$set": {"done": False, "started_at": utcnow()}},
                                         upsert=True)
        work()
        self.db["migrations"].update_one({"_id": name}, {"$set": {"done": True, "at": utcnow()}})
        return True

    def erase_parked_events(self, case_id: str) -> None:
        """Erasure reaches parked events too: their ids and type stay, their data goes."""
        self.db[DEAD_LETTERS].update_many(
            {"case_id": case_id}, {"$set": {"payload.data": {}, "error": "[erased]", "erased_at": utcnow()}})

    def ping(self) -> bool:
        self.db.client.admin.command("ping")
        return True


class MongoStore(DependencyProvider):
    """Hands entrypoints a `Repository` built on the service's own database.

    Config: MONGO_URI, MONGO_DB.
    """

    def __init__(self, repository_cls: type[Repository]):
        self.repository_cls = repository_cls
        self.client = None
        self.repository = None

    def setup(self):
        config = self.container.config
        self.client = acquire_client(self, config)
        db = self.client[config.get("MONGO_DB", f"refhub_{self.container.service_name}")]
        self.repository = self.repository_cls(db)
        self.repository.ensure_outbox_indexes()
        self.repository.ensure_indexes()
        log.info("mongo_ready", database=db.name, service=self.container.service_name)

    def stop(self):
        release_client(self)

    def kill(self):
        self.stop()

    def get_dependency(self, worker_ctx):
        # a repository per worker, so the events it writes are published when the worker is done
        written = getattr(worker_ctx, WRITTEN_KEY, None)
        if written is None:
            written = []
            setattr(worker_ctx, WRITTEN_KEY, written)
        return self.repository_cls(self.repository.db, written)
