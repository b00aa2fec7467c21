"""Configuration from environment variables, with defaults for a laptop."""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

SERVICES = ("referrals", "safety", "notifications")
WEB_APPS = ("portal",)  # run like a service, but no events (so no dead letters or queues)
DEFAULT_PORTS = {"referrals": 8000, "safety": 8001, "notifications": 8002, "portal": 8080}


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

    @property
    def effective_mongo_uri(self) -> str:
        return self.mongo_uri or "mongodb://127.0.0.1:27017/"

    def database(self, service: str) -> str:
        return env(f"{service.upper()}_DB", f"refhub_{service}")

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    @property
    def portal_public_url(self) -> str:
        """Where people open the portal (set-password links); PORTAL_PUBLIC_URL behind a proxy."""
        return env("PORTAL_PUBLIC_URL", f"http://{socket.gethostname()}:{self.ports['portal']}")


def load_settings() -> Settings:
    return Settings(
        amqp_uri=env("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/"),
        mongo_uri=os.environ.get("MONGO_URI") or None,
        data_dir=Path(env("REFHUB_DATA_DIR", str(Path.cwd() / ".data"))).resolve(),
        ports={s: int(env(f"{s.upper()}_PORT", str(p))) for s, p in DEFAULT_PORTS.items()},
        auth_db=env("AUTH_DB", "refhub_auth"),
    )
