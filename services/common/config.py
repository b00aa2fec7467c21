"""Configuration from environment variables, with defaults for a laptop."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SERVICES = ("referrals", "safety", "notifications")
DEFAULT_PORTS = {"referrals": 8000, "safety": 8001, "notifications": 8002}


def env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def pika_uri(amqp_uri: str) -> str:
    """kombu accepts `pyamqp://`; pika only `amqp://`."""
    return "amqp://" + amqp_uri[len("pyamqp://"):] if amqp_uri.startswith("pyamqp://") else amqp_uri


@dataclass(frozen=True)
class Settings:
    amqp_uri: str
    mongo_uri: str | None          # None: the stack starts its own Mongo-wire server
    data_dir: Path
    ports: dict
    auth_db: str
    mongowire_port: int = 27017    # where `stack up` serves its own Mongo-wire server (no MONGO_URI)

    @property
    def effective_mongo_uri(self) -> str:
        return self.mongo_uri or f"mongodb://127.0.0.1:{self.mongowire_port}/"

    def database(self, service: str) -> str:
        return env(f"{service.upper()}_DB", f"refhub_{service}")

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"


def load_settings() -> Settings:
    return Settings(
        amqp_uri=env("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/"),
        mongo_uri=os.environ.get("MONGO_URI") or None,
        data_dir=Path(env("REFHUB_DATA_DIR", str(Path.cwd() / ".data"))).resolve(),
        ports={s: int(env(f"{s.upper()}_PORT", str(p))) for s, p in DEFAULT_PORTS.items()},
        auth_db=env("AUTH_DB", "refhub_auth"),
        mongowire_port=int(env("MONGOWIRE_PORT", "27017")),
    )
