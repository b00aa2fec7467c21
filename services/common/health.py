"""GET /health: 200 only when both the broker and the database answer."""
from __future__ import annotations

from kombu import Connection

from .config import amqp_uris
from .http import json_response
from .logs import get_logger

log = get_logger(__name__)


def broker_answers(amqp_uri: str, timeout: float = 2.0) -> bool:
    """Some broker of AMQP_URI answers (kombu moves through a `;`-separated list on failure)."""
    try:
        with Connection(amqp_uri, connect_timeout=timeout) as conn:
            conn.ensure_connection(max_retries=len(amqp_uris(amqp_uri)), timeout=timeout * 2)
            return True
    except Exception as exc:
        log.warning("health_broker_down", error=type(exc).__name__)
        return False


def database_answers(repository) -> bool:
    try:
        return repository.ping()
    except Exception as exc:
        log.warning("health_database_down", error=type(exc).__name__)
        return False


def health_response(amqp_uri: str, repository):
    checks = {"broker": broker_answers(amqp_uri), "database": database_answers(repository)}
    ok = all(checks.values())
    return json_response({"status": "ok" if ok else "unavailable", "checks": checks},
                         200 if ok else 503)
