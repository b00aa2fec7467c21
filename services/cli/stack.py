"""`refhub stack up | down | status`: the whole system on one machine, without Docker.

RabbitMQ comes from the Debian package; the Mongo-wire server is FerretDB
(SQLite backend) built once from the Go module proxy, unless MONGO_URI points
at a real MongoDB. Only what `up` started is stopped by `down`.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import pika
import requests

from services.common.config import SERVICES, WEB_APPS, Settings, pika_uri
from services.common.mongo import connect

ROOT = Path(__file__).resolve().parents[2]
MONGOWIRE_SRC = ROOT / "tools" / "mongowire"
CACHE_BIN = Path(os.environ.get("REFHUB_CACHE_DIR", Path.home() / ".cache" / "refhub")) / "bin"


class StackError(RuntimeError):
    """Something the user must fix; the message says what."""


def say(message: str) -> None:
    print(f"refhub: {message}", flush=True)


# -- small process helpers --------------------------------------------------------
def _pidfile(settings: Settings, name: str) -> Path:
    return settings.data_dir / "run" / f"{name}.pid"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def _read_pid(settings: Settings, name: str) -> int | None:
    try:
        pid = int(_pidfile(settings, name).read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) else None


def _spawn(settings: Settings, name: str, argv: list[str], env: dict | None = None) -> int:
    logs = settings.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    _pidfile(settings, name).parent.mkdir(parents=True, exist_ok=True)
    with open(logs / f"{name}.log", "ab") as log_file:
        proc = subprocess.Popen(argv, stdout=log_file, stderr=subprocess.STDOUT, cwd=ROOT,
                                env={**os.environ, **(env or {})}, start_new_session=True)
    _pidfile(settings, name).write_text(str(proc.pid))
    return proc.pid


def _wait(what: str, check, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise StackError(f"{what} did not come up within {int(timeout)}s")


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


# -- RabbitMQ ---------------------------------------------------------------------
def broker_answers(amqp_uri: str) -> bool:
    try:
        params = pika.URLParameters(pika_uri(amqp_uri))
        params.socket_timeout = params.blocked_connection_timeout = 2
        params.connection_attempts = 1
        pika.BlockingConnection(params).close()
        return True
    except Exception:
        return False


def ensure_rabbitmq(settings: Settings) -> None:
    if broker_answers(settings.amqp_uri):
        say("RabbitMQ is running")
        return
    host = urlparse(settings.amqp_uri).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise StackError(f"RabbitMQ at {settings.amqp_uri} does not answer (set AMQP_URI to a running broker)")
    if not shutil.which("rabbitmq-server") and not Path("/usr/sbin/rabbitmq-server").exists():
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            raise StackError("RabbitMQ is not installed: run `sudo apt-get install rabbitmq-server` "
                             "(or set AMQP_URI to a running broker)")
        say("installing the Debian package rabbitmq-server ...")
        subprocess.run(["apt-get", "update", "-q"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-q", "rabbitmq-server"], check=True,
                       stdout=subprocess.DEVNULL, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    say("starting RabbitMQ ...")
    subprocess.run(["rabbitmq-server", "-detached"], check=True)
    (settings.data_dir / "run").mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "run" / "rabbitmq.started").write_text("started by refhub\n")
    _wait("RabbitMQ", lambda: broker_answers(settings.amqp_uri), 90)
    say("RabbitMQ is running")


def ensure_management(timeout: float = 60) -> None:
    """The management API: for people, and for nameko's test fixtures (a throwaway vhost per test)."""
    if _port_open("127.0.0.1", 15672):
        return
    subprocess.run(["rabbitmq-plugins", "enable", "rabbitmq_management"], check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait("the RabbitMQ management API", lambda: _port_open("127.0.0.1", 15672), timeout)


# -- Mongo-wire server ------------------------------------------------------------
def database_answers(uri: str) -> bool:
    try:
        client = connect(uri, timeout_ms=1500)
        client.admin.command("ping")
        client.close()
        return True
    except Exception:
        return False


def mongowire_binary() -> Path:
    # keyed by the source, so a change to tools/mongowire is rebuilt, not run stale
    digest = hashlib.sha256(b"".join(
        (MONGOWIRE_SRC / name).read_bytes() for name in ("main.go", "go.mod", "go.sum"))).hexdigest()[:12]
    binary = CACHE_BIN / f"mongowire-{digest}"
    if binary.exists():
        return binary
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if not go:
        raise StackError("no MongoDB to use: either set MONGO_URI=mongodb://host:27017/ to a running "
                         "MongoDB, or install Go >= 1.24 (https://go.dev/doc/install or "
                         "`apt-get install golang-1.24` where available) so refhub can build the "
                         "FerretDB Mongo-wire server")
    say("building the FerretDB Mongo-wire server once (go build; a few minutes the first time) ...")
    CACHE_BIN.mkdir(parents=True, exist_ok=True)
    subprocess.run([go, "build", "-o", str(binary), "."], cwd=MONGOWIRE_SRC, check=True)
    return binary


def ensure_database(settings: Settings) -> None:
    uri = settings.effective_mongo_uri
    if database_answers(uri):
        say(f"the database answers at {urlparse(uri).hostname}:{urlparse(uri).port or 27017}")
        return
    if settings.mongo_uri:
        raise StackError(f"MONGO_URI={settings.mongo_uri} does not answer")
    binary = mongowire_binary()
    data = settings.data_dir / "mongo"
    data.mkdir(parents=True, exist_ok=True)
    say("starting the Mongo-wire server (FerretDB, SQLite backend) ...")
    _spawn(settings, "mongowire", [str(binary), "--listen-addr", "127.0.0.1:27017", "--data-dir", str(data)])
    _wait("the Mongo-wire server", lambda: database_answers(uri), 60)


# -- the three services ------------------------------------------------------------
def service_healthy(settings: Settings, service: str) -> bool:
    try:
        return requests.get(f"{settings.url(service)}/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def service_path(service: str) -> str:
    """`module:Class`, explicit, so a mixin imported into the module is not taken for a service."""
    return f"services.{service}.service:{service.capitalize()}Service"


def nameko_executable() -> str:
    candidate = Path(sys.executable).parent / "nameko"
    return str(candidate) if candidate.exists() else (shutil.which("nameko") or "nameko")


def declare_queues(settings: Settings) -> None:
    from services.common.topology import declare_topology
    from services.notifications.service import NotificationsService
    from services.referrals.service import ReferralsService
    from services.safety.service import SafetyService

    count = declare_topology(settings.amqp_uri, (ReferralsService, SafetyService, NotificationsService))
    say(f"declared {count} event queues, so no event is published before its consumer's queue exists")


def start_services(settings: Settings) -> None:
    declare_queues(settings)
    env = {"REFHUB_DATA_DIR": str(settings.data_dir), "MONGO_URI": settings.effective_mongo_uri,
           "PYTHONWARNINGS": "ignore"}
    # the portal calls the services where this stack runs them
    env.update({f"{s.upper()}_URL": settings.url(s) for s in SERVICES if not os.environ.get(f"{s.upper()}_URL")})
    for service in (*SERVICES, *WEB_APPS):
        if service_healthy(settings, service) or _read_pid(settings, service):
            say(f"{service} is already running")
            continue
        _spawn(settings, service, [nameko_executable(), "run", "--config", f"config/{service}.yaml",
                                   service_path(service)], env)
        say(f"starting {service} on port {settings.ports[service]} "
            f"(log: {settings.data_dir / 'logs' / (service + '.log')})")
    for service in (*SERVICES, *WEB_APPS):
        _wait(f"the {service} service (see its log)", lambda s=service: service_healthy(settings, s), 90)
        say(f"{service} is healthy at {settings.url(service)}")


def up(settings: Settings, infra_only: bool = False) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    ensure_rabbitmq(settings)
    if urlparse(settings.amqp_uri).hostname in ("127.0.0.1", "localhost"):
        ensure_management()
    ensure_database(settings)
    if infra_only:
        return
    start_services(settings)
    say("the services and the portal are up. Create an account: refhub users create --email E --role coordinator")


def down(settings: Settings) -> None:
    for name in (*SERVICES, *WEB_APPS, "mongowire"):
        pid = _read_pid(settings, name)
        if pid:
            os.killpg(pid, signal.SIGTERM)
            _wait(f"{name} to stop", lambda p=pid: not _alive(p), 30)
            say(f"stopped {name}")
        _pidfile(settings, name).unlink(missing_ok=True)
    marker = settings.data_dir / "run" / "rabbitmq.started"
    if marker.exists():
        subprocess.run(["rabbitmqctl", "stop"], check=False, stdout=subprocess.DEVNULL)
        marker.unlink()
        say("stopped RabbitMQ")


def status(settings: Settings) -> bool:
    rows = [("rabbitmq", broker_answers(settings.amqp_uri)),
            ("database", database_answers(settings.effective_mongo_uri))]
    rows += [(s, service_healthy(settings, s)) for s in (*SERVICES, *WEB_APPS)]
    for name, ok in rows:
        print(f"{name:14} {'up' if ok else 'down'}")
    return all(ok for _, ok in rows)
