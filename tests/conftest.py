# eventlet must patch the standard library before anything imports sockets.
import eventlet

eventlet.monkey_patch()

import os  # noqa: E402
import socket  # noqa: E402
import uuid  # noqa: E402

import pytest  # noqa: E402

from services.common.logs import configure_logging  # noqa: E402

configure_logging("INFO")

def _local_database_uri() -> str:
    """The Mongo-wire server `refhub stack up` runs for REFHUB_DATA_DIR (its Unix socket by default)."""
    from services.common.config import load_settings

    settings = load_settings()
    if settings.mongowire_port is None and not settings.mongowire_socket.exists():
        return "mongodb://127.0.0.1:27017/"  # a server started before the socket became the default
    return settings.effective_mongo_uri


MONGO_URI = os.environ.get("MONGO_URI") or _local_database_uri()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mongo_client():
    from services.common.mongo import connect

    client = connect(MONGO_URI)
    client.admin.command("ping")  # fails loudly when the Mongo-wire server is not running
    yield client
    client.close()


@pytest.fixture
def databases(mongo_client):
    """Fresh databases for this test (one per service, plus auth), dropped afterwards."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    names = {s: f"{prefix}_{s}" for s in ("referrals", "safety", "notifications", "auth")}
    yield names
    for name in names.values():
        mongo_client.drop_database(name)


@pytest.fixture
def service_config(rabbit_config, databases, tmp_path):
    """nameko config for one service on a throwaway vhost, its own database and HTTP port."""
    def make(service: str, **overrides) -> dict:
        config = dict(rabbit_config)
        config.update({
            "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}",
            "MONGO_URI": MONGO_URI,
            "MONGO_DB": databases[service],
            "AUTH_DB": databases["auth"],
            "DATA_DIR": str(tmp_path / "data"),
            "RETRY_DELAYS_MS": "200,400",
        })
        config.update(overrides)
        return config
    return make


@pytest.fixture
def key_store(mongo_client, databases):
    from services.common.auth import KeyStore

    return KeyStore(mongo_client[databases["auth"]])


@pytest.fixture
def tokens(key_store):
    """One token per role (partner keys for mind and rethink)."""
    return {
        "mind": key_store.create("partner", "mind")[1],
        "rethink": key_store.create("partner", "rethink")[1],
        "coordinator": key_store.create("coordinator")[1],
        "fire_officer": key_store.create("fire_officer")[1],
    }
