"""`refhub stack up | down | status`: the whole system on one machine, without Docker.

RabbitMQ comes from the Debian package; the Mongo-wire server is FerretDB
(SQLite backend) built once from the Go module proxy, unless MONGO_URI points
at a real MongoDB. Only what `up` started is stopped by `down`.
"""
from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import stat
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlparse

import pika
import requests

from services.common.config import (BROKER_SECRETS, LOCAL_BROKER, SERVICES, WEB_APPS, Settings, amqp_uris,
                                    broker_credentials, check_amqp_uri, local_amqp_uri, pika_parameters)
from services.common.mongo import connect

ROOT = Path(__file__).resolve().parents[2]
MONGOWIRE_SRC = ROOT / "tools" / "mongowire"
CACHE_BIN = Path(os.environ.get("REFHUB_CACHE_DIR", Path.home() / ".cache" / "refhub")) / "bin"


class StackError(RuntimeError):
    """Something the user must fix; the message says what."""


def say(message: str) -> None:
    print(f"refhub: {message}", flush=True)


# -- small process helpers --------------------------------------------------------
# `up` never starts a second copy of something that runs: it asks the pid file (a live process
# whose command line is ours), the port (a TCP connect) and, for the database, the data dir's lock,
# and waits for a busy server instead of taking a slow answer for "down".
BUSY_WAIT_SECONDS = 90


def _pidfile(settings: Settings, name: str) -> Path:
    return settings.data_dir / "run" / f"{name}.pid"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def _cmdline(pid: int) -> list[str] | None:
    """The process's argv, [] when it is gone or a zombie, None where there is no /proc."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return None if not Path("/proc/self").exists() else []
    except OSError:
        return []
    return raw.decode(errors="replace").split("\0")[:-1]


def _is_ours(settings: Settings, name: str, pid: int) -> bool:
    """pid runs what `up` starts as `name` for this data dir (a reused pid is someone else's)."""
    argv = _cmdline(pid)
    if argv is None:  # no /proc: liveness is all we can know
        return _alive(pid)
    if name == "mongowire":
        return (bool(argv) and Path(argv[0]).name.startswith("mongowire")
                and str(settings.data_dir / "mongo") in argv)
    return service_path(name) in argv


def _recorded_pid(settings: Settings, name: str) -> int | None:
    try:
        return int(_pidfile(settings, name).read_text().strip())
    except (OSError, ValueError):
        return None


def _read_pid(settings: Settings, name: str) -> int | None:
    pid = _recorded_pid(settings, name)
    return pid if pid and _is_ours(settings, name, pid) else None


def _spawn(settings: Settings, name: str, argv: list[str], env: dict | None = None) -> int:
    running = _read_pid(settings, name)
    if running:  # never overwrite the pid file of a live process: `down` would lose it
        raise StackError(f"{name} is already running (pid {running}); not starting another")
    logs = settings.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    _pidfile(settings, name).parent.mkdir(parents=True, exist_ok=True)
    with open(logs / f"{name}.log", "ab") as log_file:
        proc = subprocess.Popen(argv, stdout=log_file, stderr=subprocess.STDOUT, cwd=ROOT,
                                env={**os.environ, **(env or {})}, start_new_session=True)
    _pidfile(settings, name).write_text(str(proc.pid))
    return proc.pid


def _terminate(pid: int, sig: int = signal.SIGTERM) -> None:
    """Signal what `up` started: its whole session (it leads one), else the process itself."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _wait(what: str, check, timeout: float, started: tuple[Settings, str, int] | None = None) -> None:
    """Poll `check` until true; `started` (settings, name, pid) fails early when that process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if started and not _is_ours(*started):
            settings, name, pid = started
            if _recorded_pid(settings, name) == pid:
                _pidfile(settings, name).unlink(missing_ok=True)
            raise StackError(f"{what} exited while starting; see {settings.data_dir / 'logs' / (name + '.log')}")
        time.sleep(0.5)
    raise StackError(f"{what} did not happen within {int(timeout)}s" if what.endswith(" to stop")
                     else f"{what} did not come up within {int(timeout)}s")


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


# -- RabbitMQ ---------------------------------------------------------------------
def broker_answers(amqp_uri: str) -> bool:
    """Some broker of AMQP_URI (one URL, or a `;`-separated cluster) opens a connection."""
    try:
        params = pika_parameters(amqp_uri, socket_timeout=2, blocked_connection_timeout=2,
                                 connection_attempts=1)
        pika.BlockingConnection(params).close()
        return True
    except Exception:
        return False


GUEST_URI = f"amqp://guest:guest@{LOCAL_BROKER}/"  # only to make the stack's own user (loopback only)
MANAGEMENT_API = "http://127.0.0.1:15672/api"
# a broker `up` starts itself listens on loopback only: AMQP, management, epmd and distribution
LOOPBACK_BROKER_ENV = {
    "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
    "ERL_EPMD_ADDRESS": "127.0.0.1",
    "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1} "
                                           "-rabbitmq_management tcp_config [{ip,\"127.0.0.1\"},{port,15672}]",
}


def _broker_up(settings: Settings) -> bool:
    return broker_answers(settings.amqp_uri) or (settings.broker_managed and broker_answers(GUEST_URI))


def ensure_rabbitmq(settings: Settings) -> None:
    try:
        check_amqp_uri(settings.amqp_uri)  # the services would refuse it at start
    except ValueError as exc:
        raise StackError(str(exc)) from None
    if _broker_up(settings):
        say("RabbitMQ is running")
        return
    uris = amqp_uris(settings.amqp_uri)
    if len(uris) > 1:  # a cluster is the operator's to run; `up` starts only a single local broker
        raise StackError(f"none of the {len(uris)} RabbitMQ nodes in AMQP_URI answers")
    host, port = urlparse(uris[0]).hostname, urlparse(uris[0]).port or 5672
    if _port_open(host, port):  # a busy broker is slow to open a connection, not down
        say(f"RabbitMQ listens on {host}:{port} but is slow to answer; waiting for it")
        _wait(f"RabbitMQ on {host}:{port} (it listens, so no second one is started)",
              lambda: _broker_up(settings), BUSY_WAIT_SECONDS)
        say("RabbitMQ is running")
        return
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
    say("starting RabbitMQ (listening on 127.0.0.1 only) ...")
    subprocess.run(["rabbitmq-server", "-detached"], check=True, env={**os.environ, **LOOPBACK_BROKER_ENV})
    (settings.data_dir / "run").mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "run" / "rabbitmq.started").write_text("started by refhub\n")
    _wait("RabbitMQ", lambda: _broker_up(settings), 90)
    say("RabbitMQ is running")


def broker_user_name(settings: Settings) -> str:
    # one user per data dir, so two stacks on one broker never change each other's password
    return "refhub-" + hashlib.sha256(str(settings.data_dir).encode()).hexdigest()[:8]


def ensure_broker_user(settings: Settings) -> Settings:
    """The stack's own RabbitMQ user, with a generated password kept 0600 in the data dir.

    Made through the management API with `guest`, which RabbitMQ accepts from loopback only; the
    services and the CLI then connect as this user, never as guest. With AMQP_URI set, the user
    given there is used as it is.
    """
    if not settings.broker_managed:
        return settings
    credentials = broker_credentials(settings.data_dir)
    if credentials is None:
        credentials = {"user": broker_user_name(settings), "password": secrets.token_urlsafe(24)}
        write_secret(settings.data_dir / BROKER_SECRETS, json.dumps(credentials))
    uri = local_amqp_uri(credentials)
    if not broker_answers(uri):
        user = quote(credentials["user"], safe="")
        try:
            requests.put(f"{MANAGEMENT_API}/users/{user}", auth=("guest", "guest"), timeout=10,
                         json={"password": credentials["password"], "tags": ""}).raise_for_status()
            requests.put(f"{MANAGEMENT_API}/permissions/%2F/{user}", auth=("guest", "guest"), timeout=10,
                         json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()
        except requests.RequestException as exc:
            raise StackError(f"could not make the stack's RabbitMQ user {credentials['user']} through the "
                             f"management API as guest ({type(exc).__name__}); make it yourself and set "
                             f"AMQP_URI=amqp://USER:PASSWORD@127.0.0.1:5672/") from None
        _wait("the stack's RabbitMQ user", lambda: broker_answers(uri), 30)
        say(f"made the RabbitMQ user {credentials['user']} (password in {settings.data_dir / BROKER_SECRETS})")
    return dataclasses.replace(settings, amqp_uri=uri)


def write_secret(path: Path, content: str) -> None:
    """Create a file only its owner can read (0600, in a 0700 directory), atomically."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(content)
    os.replace(temporary, path)


def own_only(data_dir: Path) -> int:
    """Narrow what the data dir holds to its owner (0700 dirs, 0600 files): files from before were 0644.

    Returns how many modes were changed. Only our own files are touched.
    """
    changed = 0
    for path in [data_dir, *data_dir.rglob("*")]:
        try:
            info = path.lstat()
        except OSError:
            continue
        if info.st_uid != os.geteuid() or stat.S_ISLNK(info.st_mode):
            continue
        wanted = 0o700 if stat.S_ISDIR(info.st_mode) else 0o600
        if stat.S_IMODE(info.st_mode) != wanted:
            try:
                path.chmod(wanted)
                changed += 1
            except OSError:
                pass
    return changed


def ensure_management(timeout: float = 60) -> None:
    """The management API: for people, and for nameko's test fixtures (a throwaway vhost per test)."""
    if _port_open("127.0.0.1", 15672):
        return
    subprocess.run(["rabbitmq-plugins", "enable", "rabbitmq_management"], check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait("the RabbitMQ management API", lambda: _port_open("127.0.0.1", 15672), timeout)


# -- Mongo-wire server ------------------------------------------------------------
def database_answers(uri: str, timeout_ms: int = 1500) -> bool:
    try:
        client = connect(uri, timeout_ms=timeout_ms)
        client.admin.command("ping")
        client.close()
        return True
    except Exception:
        return False


FERRETDB_MODULE = "github.com/FerretDB/FerretDB"
# our copies of FerretDB source files, laid over the module before building (see _overlay/pushdown.go)
OVERLAY = {"sqlite_collection.go": "internal/backends/sqlite/collection.go",
           "pushdown.go": "internal/backends/sqlite/pushdown.go",
           "resource.go": "internal/util/resource/resource.go"}


def _mongowire_sources() -> list[Path]:
    return [MONGOWIRE_SRC / name for name in ("main.go", "go.mod", "go.sum")] + \
        [MONGOWIRE_SRC / "_overlay" / name for name in sorted(OVERLAY)]


def mongowire_binary() -> Path:
    # keyed by the source, so a change to tools/mongowire is rebuilt, not run stale
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in _mongowire_sources())).hexdigest()[:12]
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
    build = CACHE_BIN.parent / "build" / f"mongowire-{digest}"
    shutil.rmtree(build, ignore_errors=True)
    build.mkdir(parents=True)
    version = re.search(rf"^\s*(?:require\s+)?{re.escape(FERRETDB_MODULE)}\s+(v\S+)",
                        (MONGOWIRE_SRC / "go.mod").read_text(), re.MULTILINE).group(1)
    # the module cache is read-only and `go build -overlay` refuses files in it: build from a copy
    module = json.loads(subprocess.run(
        [go, "mod", "download", "-json", f"{FERRETDB_MODULE}@{version}"], cwd=MONGOWIRE_SRC,
        check=True, capture_output=True, text=True).stdout)["Dir"]
    source = build / "ferretdb"
    shutil.copytree(module, source)
    for path in [source, *source.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)
    for ours, theirs in OVERLAY.items():
        shutil.copyfile(MONGOWIRE_SRC / "_overlay" / ours, source / theirs)
    for name in ("go.mod", "go.sum"):
        shutil.copyfile(MONGOWIRE_SRC / name, build / name)
    subprocess.run([go, "mod", "edit", f"-modfile={build / 'go.mod'}",
                    f"-replace={FERRETDB_MODULE}={source}"], cwd=MONGOWIRE_SRC, check=True)
    subprocess.run([go, "build", f"-modfile={build / 'go.mod'}", "-o", str(binary), "."],
                   cwd=MONGOWIRE_SRC, check=True)
    shutil.rmtree(build, ignore_errors=True)
    return binary


def _data_dir_locked(data: Path) -> int | None:
    """The pid in the data dir's lock file when a live server holds the lock (see tools/mongowire)."""
    try:
        fd = os.open(data / "mongowire.lock", os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        try:
            return int(os.read(fd, 32).decode().strip() or 0) or -1
        except ValueError:
            return -1
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def running_mongowire(settings: Settings) -> int | None:
    """The live Mongo-wire server of this data dir, whatever its pid file says."""
    pid = _read_pid(settings, "mongowire")
    if pid:
        return pid
    holder = _data_dir_locked(settings.data_dir / "mongo")
    if holder and holder > 0 and _is_ours(settings, "mongowire", holder):
        return holder
    # a server built before the lock existed: look for our command line
    for entry in Path("/proc").glob("[0-9]*"):
        if entry.name.isdigit() and _is_ours(settings, "mongowire", int(entry.name)):
            return int(entry.name)
    return None


MAX_SOCKET_PATH = 107  # sun_path holds 108 bytes with the terminating NUL


def _database_endpoint(settings: Settings) -> str:
    if settings.mongowire_port:
        return f"127.0.0.1:{settings.mongowire_port}"
    return str(settings.mongowire_socket)


def _endpoint_open(settings: Settings) -> bool:
    if settings.mongowire_port:
        return _port_open("127.0.0.1", settings.mongowire_port)
    try:
        with socket.socket(socket.AF_UNIX) as unix:
            unix.settimeout(1)
            unix.connect(str(settings.mongowire_socket))
            return True
    except OSError:
        return False


def ensure_database(settings: Settings) -> None:
    uri = settings.effective_mongo_uri
    if settings.mongo_uri:
        if not database_answers(uri, timeout_ms=10000):
            raise StackError(f"MONGO_URI={settings.mongo_uri} does not answer")
        say(f"the database answers at {urlparse(uri).hostname}:{urlparse(uri).port or 27017}")
        return
    endpoint, data = _database_endpoint(settings), settings.data_dir / "mongo"
    where = f"at {endpoint}" if settings.mongowire_port else f"on {endpoint}"
    pid, recorded = running_mongowire(settings), _recorded_pid(settings, "mongowire")
    if pid or _data_dir_locked(data) or _endpoint_open(settings):
        if pid and pid != recorded:  # so that `down` stops the server that really runs
            say(f"the pid file named {recorded or 'nothing'}, but this data dir's Mongo-wire server "
                f"runs as pid {pid}: recording that")
            _pidfile(settings, "mongowire").parent.mkdir(parents=True, exist_ok=True)
            _pidfile(settings, "mongowire").write_text(str(pid))
        elif not pid and recorded:
            say(f"the pid file names pid {recorded}, which is not this data dir's running server, but "
                f"something serves {endpoint}: not starting a second server")
        running = f"the Mongo-wire server (pid {pid})" if pid else f"the database {where}"
        if not database_answers(uri):
            say(f"{running} is busy (no answer to a ping within 1.5s); waiting for it rather than "
                f"starting another")
            _wait(f"{running} (it runs, so no second one is started)",
                  lambda: database_answers(uri, timeout_ms=5000), BUSY_WAIT_SECONDS)
        say(f"the database answers {where}" + (f" (pid {pid})" if pid else ""))
        return
    if not settings.mongowire_port and len(str(settings.mongowire_socket).encode()) > MAX_SOCKET_PATH:
        raise StackError(f"the database socket path {settings.mongowire_socket} is longer than "
                         f"{MAX_SOCKET_PATH} bytes: set REFHUB_DATA_DIR to a shorter path")
    binary = mongowire_binary()
    data.mkdir(mode=0o700, parents=True, exist_ok=True)
    say("starting the Mongo-wire server (FerretDB, SQLite backend) ...")
    listen = (["--listen-addr", endpoint] if settings.mongowire_port
              else ["--listen-unix", str(settings.mongowire_socket)])
    pid = _spawn(settings, "mongowire", [str(binary), *listen, "--data-dir", str(data)])
    _wait("the Mongo-wire server", lambda: database_answers(uri), 60, started=(settings, "mongowire", pid))
    say(f"the database answers {where} (pid {pid})")


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


def event_services():
    from services.notifications.service import NotificationsService
    from services.referrals.service import ReferralsService
    from services.safety.service import SafetyService

    return (ReferralsService, SafetyService, NotificationsService)


def declare_queues(settings: Settings) -> None:
    """Declare every quorum queue, then move what an older install left in classic queues."""
    from services.common.topology import declare_topology, migrate_classic_queues

    count = declare_topology(settings.amqp_uri, event_services())
    say(f"declared {count} event queues, so no event is published before its consumer's queue exists")
    report = migrate_classic_queues(settings.amqp_uri, event_services(), settings.retry_delays_ms)
    if report["deleted"] or report["kept"]:
        say(f"moved {report['moved']} queued messages from {len(report['deleted']) + len(report['kept'])} "
            f"classic queues of an earlier install to their quorum queues; deleted {len(report['deleted'])}")
    if report["kept"]:
        say(f"kept {len(report['kept'])} old queues still in use (a service from before the upgrade is "
            f"running?): stop it, then run `refhub queues migrate`")


def start_services(settings: Settings) -> None:
    declare_queues(settings)
    env = {"REFHUB_DATA_DIR": str(settings.data_dir), "MONGO_URI": settings.effective_mongo_uri,
           "AMQP_URI": settings.amqp_uri, "PYTHONWARNINGS": "ignore"}
    # the portal calls the services where this stack runs them
    env.update({f"{s.upper()}_URL": settings.url(s) for s in SERVICES if not os.environ.get(f"{s.upper()}_URL")})
    started = {}
    for service in (*SERVICES, *WEB_APPS):
        pid, port = _read_pid(settings, service), settings.ports[service]
        if pid or _port_open("127.0.0.1", port):
            say(f"{service} is already running" + (f" (pid {pid})" if pid else f" (port {port} is in use)"))
            continue
        started[service] = _spawn(settings, service, [nameko_executable(), "run", "--config",
                                                      f"config/{service}.yaml", service_path(service)], env)
        say(f"starting {service} on port {port} "
            f"(log: {settings.data_dir / 'logs' / (service + '.log')})")
    for service in (*SERVICES, *WEB_APPS):
        pid = started.get(service)
        _wait(f"the {service} service (see its log)", lambda s=service: service_healthy(settings, s),
              90 if pid else BUSY_WAIT_SECONDS, started=(settings, service, pid) if pid else None)
        say(f"{service} is healthy at {settings.url(service)}")


def up(settings: Settings, infra_only: bool = False) -> None:
    os.umask(0o077)  # logs, pid files, secrets and what the services write: owner only
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    narrowed = own_only(settings.data_dir)
    if narrowed:
        say(f"narrowed {narrowed} files and folders in {settings.data_dir} to their owner (0600/0700)")
    ensure_rabbitmq(settings)
    if len(amqp_uris(settings.amqp_uri)) == 1 and \
            urlparse(settings.amqp_uri).hostname in ("127.0.0.1", "localhost"):
        ensure_management()
    settings = ensure_broker_user(settings)
    ensure_database(settings)
    if infra_only:
        return
    start_services(settings)
    say("all three services are up, and the portal. Create an account: refhub users create --email E --role coordinator")


def down(settings: Settings) -> None:
    for name in (*SERVICES, *WEB_APPS, "mongowire"):
        # the database by its data dir too: an older `up` may have left a pid file naming a dead process
        pid = running_mongowire(settings) if name == "mongowire" else _read_pid(settings, name)
        if pid:
            try:
                _terminate(pid)
                _wait(f"{name} to stop", lambda p=pid: not _is_ours(settings, name, p), 30)
                say(f"stopped {name} (pid {pid})")
            except StackError:  # e.g. a service still trying to reach a broker that went away
                _terminate(pid, signal.SIGKILL)
                _wait(f"{name} to stop", lambda p=pid: not _is_ours(settings, name, p), 10)
                say(f"killed {name} (pid {pid}): it did not stop within 30s of SIGTERM")
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
