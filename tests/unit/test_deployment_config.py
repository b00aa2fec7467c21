"""What the compose file and the services' config expose by default (issue 11, item 4)."""
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_gives_the_database_and_broker_credentials_from_the_environment():
    services = compose()["services"]
    mongo = services["mongo"]["environment"]
    assert mongo["MONGO_INITDB_ROOT_USERNAME"] == "${MONGO_USER:-refhub}"
    assert mongo["MONGO_INITDB_ROOT_PASSWORD"].startswith("${MONGO_PASSWORD:?")  # no default: compose refuses
    assert services["rabbitmq"]["environment"]["RABBITMQ_DEFAULT_PASS"].startswith("${RABBITMQ_PASSWORD:?")
    for name in ("referrals", "safety", "notifications"):
        env = services[name]["environment"]
        assert "guest" not in env["AMQP_URI"] and "${RABBITMQ_PASSWORD:?" in env["AMQP_URI"]
        assert "${MONGO_PASSWORD:?" in env["MONGO_URI"] and "authSource=admin" in env["MONGO_URI"]


def test_compose_publishes_ports_on_loopback_unless_told_otherwise():
    published = [port for service in compose()["services"].values() for port in service.get("ports", [])]
    assert published and all(port.startswith("${PUBLISH_ADDRESS:-127.0.0.1}:") for port in published)


def test_services_listen_on_loopback_by_default():
    for service in ("referrals", "safety", "notifications"):
        config = (ROOT / "config" / f"{service}.yaml").read_text()
        assert f"WEB_SERVER_ADDRESS: ${{{service.upper()}_BIND:127.0.0.1}}" in config
