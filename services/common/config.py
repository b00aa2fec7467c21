"""Configuration from environment variables, with defaults for a laptop."""
from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

SERVICES = ("referrals", "safety", "notifications")
WEB_APPS = ("portal",)  # run like a service, but no events (so no dead letters or queues)
DEFAULT_PORTS = {"referrals": 8000, "safety": 8001, "notifications": 8002, "portal": 8080}


def env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def amqp_uris(amqp_uri: str) -> list[str]:
    """The broker addresses in AMQP_URI: one URL, or several separated by `;` (kombu's failover form).

    `amqp://u:p@rabbit1:5672/;amqp://u:p@rabbit2:5672/` — each entry is a whole URL; kombu
    (the services) connects to the first that answers and moves on round-robin when it fails.
    """
    uris = [part.strip() for part in amqp_uri.split(";") if part.strip()]
    if not uris:
        raise ValueError("AMQP_URI names no broker")
    for uri in uris:
        if "://" not in uri:
            raise ValueError(f"AMQP_URI entry {uri.split('@')[-1]!r} is not a URL (amqp://user:pass@host:port/vhost)")
    return uris


def check_amqp_uri(amqp_uri: str) -> str:
    """AMQP_URI exactly as kombu must get it, or ValueError.

    kombu splits on `;` as it stands: an empty entry (a trailing `;`) becomes an alternate that
    silently falls back to localhost, and a space becomes part of a host name. Refuse both at start.
    """
    uris = amqp_uris(amqp_uri)
    if ";".join(uris) != amqp_uri:
        raise ValueError(f"AMQP_URI lists {len(uris)} brokers with an empty entry or spaces around a `;`: "
                         "write them as amqp://...;amqp://... with nothing between")
    return amqp_uri


def pika_uri(amqp_uri: str) -> str:
    """kombu accepts `pyamqp://`; pika only `amqp://`. One URL (see pika_parameters for a list)."""
    return "amqp://" + amqp_uri[len("pyamqp://"):] if amqp_uri.startswith("pyamqp://") else amqp_uri


def pika_parameters(amqp_uri: str, **overrides) -> list:
    """pika connection parameters for every broker in AMQP_URI, in order.

    `pika.BlockingConnection(pika_parameters(uri))` tries each in turn, so the command line and
    the topology code reach a surviving node of a cluster like the services do.
    """
    import pika

    params = []
    for uri in amqp_uris(amqp_uri):
        one = pika.URLParameters(pika_uri(uri))
        for name, value in overrides.items():
            setattr(one, name, value)
        params.append(one)
    return params


@dataclass(frozen=True)
class Settings:
    amqp_uri: str
    mongo_uri: str | None          # None: the stack starts its own Mongo-wire server
    data_dir: Path
    ports: dict
    auth_db: str
    # where `stack up` serves its own Mongo-wire server (no MONGO_URI): a TCP port on 127.0.0.1 when
    # MONGOWIRE_PORT is set, else (the default) a Unix socket in the 0700 data dir (SECURITY.md)
    mongowire_port: int | None = None
    # True when `stack up` made the broker user (no AMQP_URI given): its password is in secrets/
    broker_managed: bool = False

    @property
    def mongowire_socket(self) -> Path:
        return self.data_dir / "mongo" / "mongowire.sock"

    @property
    def effective_mongo_uri(self) -> str:
        if self.mongo_uri:
            return self.mongo_uri
        if self.mongowire_port:
            return f"mongodb://127.0.0.1:{self.mongowire_port}/"
        return f"mongodb://{quote(str(self.mongowire_socket), safe='')}/"

    def database(self, service: str) -> str:
        return env(f"{service.upper()}_DB", f"refhub_{service}")

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    @property
    def portal_public_url(self) -> str:
        """Where people open the portal (set-password links); PORTAL_PUBLIC_URL behind a proxy."""
        bind = env("PORTAL_BIND", "127.0.0.1")
        # bound to loopback (the default), the portal answers only there: a link naming the host would not open
        host = "127.0.0.1" if bind.startswith("127.") or bind == "localhost" else socket.gethostname()
        return env("PORTAL_PUBLIC_URL", f"http://{host}:{self.ports['portal']}")

    @property
    def retry_delays_ms(self) -> list[int]:
        """RETRY_DELAYS_MS as the services read it (the CLI needs the delay queues' names)."""
        return [int(d) for d in env("RETRY_DELAYS_MS", "").split(",") if d.strip()]


BROKER_SECRETS = Path("secrets") / "broker.json"  # under the data dir, 0600
LOCAL_BROKER = "127.0.0.1:5672"


def broker_credentials(data_dir: Path) -> dict | None:
    """The broker user `stack up` made for this data dir, if it made one."""
    try:
        return json.loads((data_dir / BROKER_SECRETS).read_text())
    except (OSError, ValueError):
        return None


def local_amqp_uri(credentials: dict) -> str:
    return f"amqp://{quote(credentials['user'], safe='')}:{quote(credentials['password'], safe='')}@{LOCAL_BROKER}/"


def load_settings() -> Settings:
    data_dir = Path(env("REFHUB_DATA_DIR", str(Path.cwd() / ".data"))).resolve()
    amqp_uri = env("AMQP_URI", "")
    if not amqp_uri:  # the stack's own broker user; `guest` only until `stack up` has made it
        credentials = broker_credentials(data_dir)
        amqp_uri = local_amqp_uri(credentials) if credentials else f"amqp://guest:guest@{LOCAL_BROKER}/"
    return Settings(
        amqp_uri=amqp_uri,
        mongo_uri=os.environ.get("MONGO_URI") or None,
        data_dir=data_dir,
        ports={s: int(env(f"{s.upper()}_PORT", str(p))) for s, p in DEFAULT_PORTS.items()},
        auth_db=env("AUTH_DB", "refhub_auth"),
        mongowire_port=int(env("MONGOWIRE_PORT", "0")) or None,
        broker_managed=not env("AMQP_URI", ""),
    )
