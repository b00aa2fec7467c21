"""`refhub stack up` never starts a second copy of what runs, and `down` stops what `up` started.

Every test runs the real CLI in a subprocess against its own data dir and Mongo-wire port, on
the shared broker (never stopped: a `rabbitmq.started` marker is never left in a test's data
dir), so the shared database on 27017 is not touched.
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from pathlib import Path

import pymongo
import pytest
import requests

from services.cli import stack
from services.common.config import load_settings
from tests.conftest import free_port
from tests.support import wait_until

ROOT = Path(__file__).resolve().parents[2]
AMQP_URI = os.environ.get("AMQP_URI") or "amqp://guest:guest@127.0.0.1:5672/"
MANAGEMENT = "http://127.0.0.1:15672/api"


class Stack:
    """One throwaway stack: its data dir, its Mongo-wire port, the CLI run against them."""

    def __init__(self, data_dir: Path, mongo_port: int, **env):
        self.data_dir, self.mongo_port = data_dir, mongo_port
        self.env = {k: v for k, v in os.environ.items() if k not in ("MONGO_URI",)}
        self.env.update({"REFHUB_DATA_DIR": str(data_dir), "MONGOWIRE_PORT": str(mongo_port),
                         "AMQP_URI": AMQP_URI, "PYTHONWARNINGS": "ignore", **env})
        self.settings = dataclasses.replace(load_settings(), data_dir=data_dir)  # what _is_ours reads

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.mongo_port}/"

    @property
    def socket(self) -> Path:
        return self.data_dir / "mongo" / "ferretdb.sock"

    def command(self, *args) -> list[str]:
        return [sys.executable, "-m", "services.cli.main", "stack", *args]

    def run(self, *args, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(*args), capture_output=True, text=True, cwd=ROOT,
                              env=self.env, timeout=timeout)

    def start(self, *args) -> subprocess.Popen:
        return subprocess.Popen(self.command(*args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, cwd=ROOT, env=self.env)

    def pid(self, name: str = "mongowire") -> int:
        return int((self.data_dir / "run" / f"{name}.pid").read_text())

    def servers(self) -> list[int]:
        """Every live Mongo-wire process serving this data dir."""
        return [int(p.name) for p in Path("/proc").glob("[0-9]*")
                if p.name.isdigit() and stack._is_ours(self.settings, "mongowire", int(p.name))]

    def down(self) -> subprocess.CompletedProcess:
        # this stack never started the shared broker, so its `down` must never stop it
        (self.data_dir / "run" / "rabbitmq.started").unlink(missing_ok=True)
        return self.run("down", timeout=120)


def new_connection_works(uri: str) -> bool:
    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=10000, connectTimeoutMS=10000)
    try:
        return client.admin.command("ping")["ok"] == 1
    finally:
        client.close()


def only_refhub_lines(output: str) -> list[str]:
    """Lines that are not the CLI's own (library log records, tracebacks)."""
    return [line for line in output.splitlines() if line.strip() and not line.startswith("refhub: ")]


@pytest.fixture
def new_stack():
    if not stack.broker_answers(AMQP_URI):
        pytest.skip("the shared RabbitMQ is not running (refhub stack up --infra-only)")
    # not pytest's tmp_path: other sessions' pytest runs prune old basetemps, pid files and all
    root = Path(tempfile.mkdtemp(prefix="refhub-stack-test-"))
    made = []

    def make(name: str = "stack", **env) -> Stack:
        made.append(Stack(root / name, free_port(), **env))
        return made[-1]

    yield make
    for each in made:
        for pid in each.servers():
            os.kill(pid, signal.SIGCONT)  # a test that stopped it must not leave it stopped
        each.down()
        assert each.servers() == []
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def running(new_stack):
    """A stack whose own Mongo-wire server is up (`up --infra-only`)."""
    db_stack = new_stack()
    started = db_stack.run("up", "--infra-only")
    assert started.returncode == 0, started.stdout + started.stderr
    assert db_stack.servers() == [db_stack.pid()]
    return db_stack


def assert_unchanged(db_stack: Stack, pid: int, socket_inode: int) -> None:
    assert db_stack.pid() == pid
    assert db_stack.servers() == [pid]  # no second server, alive or half-started
    assert db_stack.socket.stat().st_ino == socket_inode  # the live server's socket was not deleted
    assert new_connection_works(db_stack.uri)


def test_up_while_the_database_is_too_slow_to_ping_waits_and_changes_nothing(running):
    pid, inode = running.pid(), running.socket.stat().st_ino
    os.kill(pid, signal.SIGSTOP)  # the port still accepts connections; no ping is answered
    try:
        second = running.start("up", "--infra-only")
        lines = []
        for line in second.stdout:  # bounded: `up` gives up waiting after BUSY_WAIT_SECONDS
            lines.append(line)
            if "waiting for it" in line:
                break
        assert any("is busy" in line for line in lines), lines
    finally:
        os.kill(pid, signal.SIGCONT)
    output, _ = second.communicate(timeout=stack.BUSY_WAIT_SECONDS + 30)
    output = "".join(lines) + output
    assert second.returncode == 0, output
    assert f"the database answers at 127.0.0.1:{running.mongo_port} (pid {pid})" in output
    assert "starting the Mongo-wire server" not in output
    assert only_refhub_lines(output) == []
    assert_unchanged(running, pid, inode)


def test_up_while_many_clients_hit_the_database_changes_nothing(running):
    pid, inode = running.pid(), running.socket.stat().st_ino
    stop, errors, done = threading.Event(), [], []

    def hammer():
        client = pymongo.MongoClient(running.uri, serverSelectionTimeoutMS=20000)
        cases = client["loadtest"]["cases"]
        try:
            while not stop.is_set():
                cases.insert_one({"_id": uuid.uuid4().hex, "status": "received", "n": len(done)})
                list(cases.find({"status": "received"}).limit(50))
                done.append(1)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            client.close()

    workers = [threading.Thread(target=hammer) for _ in range(8)]
    for worker in workers:
        worker.start()
    try:
        wait_until(lambda: len(done) >= 40, timeout=60, message="the load to be under way")
        again = [running.run("up", "--infra-only") for _ in range(2)]
        assert new_connection_works(running.uri)  # while still under load
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=60)
    for result in again:
        assert result.returncode == 0, result.stdout + result.stderr
        assert "starting the Mongo-wire server" not in result.stdout
    assert errors == []
    assert_unchanged(running, pid, inode)


def test_a_second_server_on_the_same_data_dir_refuses_and_leaves_the_socket(running):
    pid, inode = running.pid(), running.socket.stat().st_ino
    binary = Path(stack._cmdline(pid)[0])
    second = subprocess.run([str(binary), "--listen-addr", f"127.0.0.1:{free_port()}",
                             "--data-dir", str(running.data_dir / "mongo")],
                            capture_output=True, text=True, timeout=60)
    assert second.returncode == 3
    assert "another mongowire already serves this data dir" in second.stderr
    assert f"held by pid {pid}" in second.stderr
    assert_unchanged(running, pid, inode)


def test_a_pid_file_naming_a_dead_process_is_corrected_and_down_stops_the_live_server(running):
    pid, inode = running.pid(), running.socket.stat().st_ino
    dead = subprocess.Popen(["true"])
    dead.wait()
    pidfile = running.data_dir / "run" / "mongowire.pid"
    pidfile.write_text(str(dead.pid))  # as a failed second start left it before this fix

    result = running.run("up", "--infra-only")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"the pid file named {dead.pid}, but this data dir's Mongo-wire server runs as pid {pid}" \
        in result.stdout
    assert_unchanged(running, pid, inode)

    pidfile.write_text(str(dead.pid))
    stopped = running.down()
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert f"stopped mongowire (pid {pid})" in stopped.stdout
    assert running.servers() == []
    assert not stack._port_open("127.0.0.1", running.mongo_port)


def test_something_else_serving_the_port_is_reported_not_doubled(running, new_stack):
    other = new_stack("other")
    other.mongo_port = running.mongo_port  # the same port, another data dir
    other.env["MONGOWIRE_PORT"] = str(running.mongo_port)
    (other.data_dir / "run").mkdir(parents=True)
    dead = subprocess.Popen(["true"])
    dead.wait()
    (other.data_dir / "run" / "mongowire.pid").write_text(str(dead.pid))

    result = other.run("up", "--infra-only")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (f"the pid file names pid {dead.pid}, which is not this data dir's running server, but "
            f"something serves 127.0.0.1:{running.mongo_port}: not starting a second server") in result.stdout
    assert other.servers() == []
    assert not (other.data_dir / "mongo" / "ferretdb.sock").exists()


@pytest.fixture
def vhost():
    """A throwaway RabbitMQ vhost, so the services `up` starts consume nobody else's events."""
    name = f"refhub-stack-{uuid.uuid4().hex[:8]}"
    auth = ("guest", "guest")
    requests.put(f"{MANAGEMENT}/vhosts/{name}", auth=auth, timeout=10).raise_for_status()
    requests.put(f"{MANAGEMENT}/permissions/{name}/guest", auth=auth, timeout=10,
                 json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()
    yield f"amqp://guest:guest@127.0.0.1:5672/{name}"
    requests.delete(f"{MANAGEMENT}/vhosts/{name}", auth=auth, timeout=10)


def test_up_prints_only_its_own_lines_and_a_second_up_starts_nothing(vhost, new_stack):
    # `vhost` first, so it is deleted only after this stack's `down` (services stop on a live broker)
    ports = {f"{s.upper()}_PORT": str(free_port()) for s in ("referrals", "safety", "notifications")}
    whole = new_stack("whole", AMQP_URI=vhost, **ports)

    first = whole.run("up")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "declared" in first.stdout and "all three services are up" in first.stdout
    assert only_refhub_lines(first.stdout + first.stderr) == []  # no pika/nameko records
    pids = {name: whole.pid(name) for name in ("mongowire", "referrals", "safety", "notifications")}
    cli_log = (whole.data_dir / "logs" / "refhub-cli.log").read_text()
    assert '"logger": "pika' in cli_log  # where the library records went

    second = whole.run("up")
    assert second.returncode == 0, second.stdout + second.stderr
    assert only_refhub_lines(second.stdout + second.stderr) == []
    for service in ("referrals", "safety", "notifications"):
        assert f"{service} is already running (pid {pids[service]})" in second.stdout
    assert "starting" not in second.stdout
    assert {name: whole.pid(name) for name in pids} == pids

    stopped = whole.down()
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    for name, pid in pids.items():
        assert f"stopped {name} (pid {pid})" in stopped.stdout
        assert not stack._is_ours(whole.settings, name, pid)
