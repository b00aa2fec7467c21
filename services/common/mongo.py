"""The MongoDB dependency: one client per container, a repository per service."""
from __future__ import annotations

from datetime import date, datetime

import pymongo
from nameko.extensions import DependencyProvider

from .logs import get_logger

log = get_logger(__name__)


def connect(uri: str, timeout_ms: int = 5000) -> pymongo.MongoClient:
    # tz_aware: every datetime we read back is UTC-aware, like the ones we write.
    return pymongo.MongoClient(uri, tz_aware=True, serverSelectionTimeoutMS=timeout_ms,
                               connectTimeoutMS=timeout_ms, retryWrites=False)


def storable(value):
    """BSON has datetimes but no bare dates: store dates as ISO strings."""
    if isinstance(value, dict):
        return {k: storable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [storable(v) for v in value]
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    return value


class Repository:
    """Base for a service's storage: domain verbs over its own database."""

    #: collections whose documents carry an outbox (see outbox.py)
    outbox_collections: tuple[str, ...] = ()

    def __init__(self, db):
        self.db = db

    def ensure_indexes(self) -> None:
        """Create the indexes the repository relies on (idempotent)."""

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
        self.client = connect(config.get("MONGO_URI", "mongodb://127.0.0.1:27017/"),
                              int(config.get("MONGO_TIMEOUT_MS", 5000)))
        db = self.client[config.get("MONGO_DB", f"refhub_{self.container.service_name}")]
        self.repository = self.repository_cls(db)
        self.repository.ensure_indexes()
        log.info("mongo_ready", database=db.name, service=self.container.service_name)

    def stop(self):
        if self.client is not None:
            self.client.close()

    def kill(self):
        self.stop()

    def get_dependency(self, worker_ctx):
        return self.repository
