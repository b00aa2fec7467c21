"""Issue 11, items 3 and 4, against a stack of its own: who can reach the data, and what erasure leaves on disk.

Each test runs `refhub stack up --infra-only` for its own data dir, as the default stack runs: no
MONGOWIRE_PORT (the database on a Unix socket) and no AMQP_URI (the stack makes its own broker user on
the shared broker, deleted afterwards). The shared database and the broker's guest user are not touched.
"""
from __future__ import annotations

import json
import os
import stat
import uuid
from pathlib import Path
from urllib.parse import quote

import pika
import pymongo
import pytest
import requests

from services.cli import stack
from services.common.config import BROKER_SECRETS, load_settings
from services.notifications.service import NotificationsService
from services.referrals.service import ReferralsService
from services.safety.service import SafetyService
from tests.conftest import free_port
from tests.integration.test_stack import MANAGEMENT, new_stack  # noqa: F401 (a fixture)
from tests.support import referral, wait_until


@pytest.fixture
def default_stack(new_stack):  # noqa: F811
    """`up --infra-only` as a user runs it: no MONGOWIRE_PORT, no AMQP_URI."""
    made = new_stack("default")
    for name in ("MONGOWIRE_PORT", "AMQP_URI"):
        made.env.pop(name, None)
    # files from before this change were world-readable: up narrows them
    (made.data_dir / "logs").mkdir(parents=True)
    (made.data_dir / "logs" / "referrals.log").write_text("{}\n")
    (made.data_dir / "logs" / "referrals.log").chmod(0o644)
    (made.data_dir / "outgoing" / "email").mkdir(parents=True)
    (made.data_dir / "outgoing" / "email" / "old.eml").write_text("To: someone\n")
    made.data_dir.chmod(0o755)
    started = made.run("up", "--infra-only")
    assert started.returncode == 0, started.stdout + started.stderr
    yield made
    credentials = json.loads((made.data_dir / BROKER_SECRETS).read_text())
    requests.delete(f"{MANAGEMENT}/users/{quote(credentials['user'], safe='')}", auth=("guest", "guest"),
                    timeout=10)


def socket_uri(made) -> str:
    return f"mongodb://{quote(str(made.data_dir / 'mongo' / 'mongowire.sock'), safe='')}/"


def tcp_listeners(pid: int) -> list[str]:
    """The TCP sockets a process listens on (state 0A in /proc/net/tcp*)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    listening = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            fields = row.split()
            if fields[3] == "0A" and fields[9] in inodes:
                listening.append(fields[1])
    return listening


def test_the_default_database_is_an_owner_only_socket_and_files_are_owner_only(default_stack):
    made = default_stack
    pid = made.pid()
    sock = made.data_dir / "mongo" / "mongowire.sock"
    assert stat.S_ISSOCK(sock.stat().st_mode) and stat.S_IMODE(sock.stat().st_mode) == 0o600
    assert tcp_listeners(pid) == []  # before: 127.0.0.1:27017, open to every local user
    client = pymongo.MongoClient(socket_uri(made), serverSelectionTimeoutMS=10000)
    try:
        client["modes"]["things"].insert_one({"_id": 1})
        assert client["modes"]["things"].find_one({"_id": 1}) == {"_id": 1}
    finally:
        client.close()
    # the data dir and what it holds, the older files too: owner only
    assert stat.S_IMODE(made.data_dir.stat().st_mode) == 0o700
    everything = [made.data_dir, *made.data_dir.rglob("*")]
    assert any(p.name == "modes.sqlite" for p in everything) and any(p.name == "old.eml" for p in everything)
    loose = {str(p.relative_to(made.data_dir)): oct(stat.S_IMODE(p.lstat().st_mode))
             for p in everything if stat.S_IMODE(p.lstat().st_mode) & 0o077}
    assert loose == {}


def test_the_stack_makes_its_own_broker_user_and_never_hands_out_guest(default_stack, monkeypatch):
    made = default_stack
    secret = made.data_dir / BROKER_SECRETS
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE(secret.parent.stat().st_mode) == 0o700
    credentials = json.loads(secret.read_text())
    assert credentials["user"] != "guest" and len(credentials["password"]) >= 24
    params = pika.URLParameters(f"amqp://{credentials['user']}:{credentials['password']}@127.0.0.1:5672/")
    pika.BlockingConnection(params).close()  # the user works
    with pytest.raises(pika.exceptions.AMQPError):  # and the password matters
        pika.BlockingConnection(pika.URLParameters(f"amqp://{credentials['user']}:wrong@127.0.0.1:5672/")).close()

    # what the CLI and the services are given: that user, not guest
    monkeypatch.delenv("AMQP_URI", raising=False)
    monkeypatch.setenv("REFHUB_DATA_DIR", str(made.data_dir))
    settings = load_settings()
    assert settings.amqp_uri.startswith(f"amqp://{credentials['user']}:")
    spawned = {}
    monkeypatch.setattr(stack, "declare_queues", lambda settings: None)
    monkeypatch.setattr(stack, "_read_pid", lambda settings, name: None)
    monkeypatch.setattr(stack, "_port_open", lambda host, port: False)
    monkeypatch.setattr(stack, "_spawn", lambda settings, name, argv, env: spawned.setdefault(name, env) and 1)
    monkeypatch.setattr(stack, "_wait", lambda *args, **kwargs: None)
    stack.start_services(settings)
    assert set(spawned) == {"referrals", "safety", "notifications", "portal"}
    for env in spawned.values():
        assert env["AMQP_URI"] == settings.amqp_uri and "guest" not in env["AMQP_URI"]
        assert env["MONGO_URI"] == socket_uri(made)


# -- erasure reaches the bytes on disk ----------------------------------------------------------
# distinctive values, so finding any of them on disk means it was not erased
GIVEN, FAMILY, STREET, NARRATIVE = "Zanzibarina", "Quillfeatherby", "77 Wobbleton Mews", "Marmaladeous hoard story"
MARKERS = [m.encode() for m in (GIVEN, FAMILY, "Wobbleton", "Marmaladeous", "zanzibarina@example")]


def holding_markers(folder: Path) -> dict[str, list[str]]:
    found = {}
    for path in folder.rglob("*"):
        if path.is_file() and not stat.S_ISSOCK(path.stat().st_mode):
            content = path.read_bytes()
            hits = [m.decode() for m in MARKERS if m in content or m.lower() in content.lower()]
            if hits:
                found[path.name] = hits
    return found


def test_erasure_leaves_no_name_address_or_narrative_in_the_database_files_or_drop_folders(
        default_stack, container_factory, rabbit_config):
    made = default_stack
    mongo_dir, drop, letters = made.data_dir / "mongo", made.data_dir / "outgoing", made.data_dir / "letters"
    prefix = f"e{uuid.uuid4().hex[:8]}"
    client = pymongo.MongoClient(socket_uri(made), tz_aware=True, serverSelectionTimeoutMS=10000)
    from services.common.auth import KeyStore

    keys = KeyStore(client[f"{prefix}_auth"])
    partner, coordinator = keys.create("partner", "mind")[1], keys.create("coordinator")[1]
    urls = {}
    for service_cls in (ReferralsService, SafetyService, NotificationsService):
        config = {**rabbit_config, "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}", "MONGO_URI": socket_uri(made),
                  "MONGO_DB": f"{prefix}_{service_cls.name}", "AUTH_DB": f"{prefix}_auth",
                  "DATA_DIR": str(made.data_dir), "DROP_DIR": str(drop), "LETTER_DIR": str(letters),
                  "QUIET_HOURS": "off", "RETRY_DELAYS_MS": "200,400", "NOTIFY_TRIAGE_WAIT_SECONDS": 1}
        container_factory(service_cls, config).start()
        urls[service_cls.name] = f"http://{config['WEB_SERVER_ADDRESS']}"
    body = referral({"person.given_name": GIVEN, "person.family_name": FAMILY, "person.address.line1": STREET,
                     "person.email": "zanzibarina@example.org", "person.preferred_contact": "email",
                     "reason": NARRATIVE})
    created = requests.post(f"{urls['referrals']}/referrals", data=json.dumps(body), timeout=15,
                            headers={"Authorization": f"Bearer {partner}", "Content-Type": "application/json"})
    assert created.status_code == 201, created.text
    case_id = created.json()["case_id"]

    # before erasure the welcome email waits in the drop folder (owner only) and the name is on disk
    welcome = wait_until(lambda: holding_markers(drop), timeout=60, message="the welcome in the drop folder")
    for name in welcome:
        assert stat.S_IMODE(next(drop.rglob(name)).stat().st_mode) == 0o600
    wait_until(lambda: holding_markers(mongo_dir), timeout=30, message="the referral on disk")
    wait_until(lambda: requests.get(f"{urls['safety']}/visits", timeout=10,
                                    headers={"Authorization": f"Bearer {coordinator}"}).json()["items"],
               timeout=30, message="the safety service to hold the visit")

    erased = requests.post(f"{urls['referrals']}/cases/{case_id}/erasure", timeout=15,
                           data=json.dumps({"reason": "the person asked"}),
                           headers={"Authorization": f"Bearer {coordinator}", "Content-Type": "application/json"})
    assert erased.status_code == 200, erased.text

    wait_until(lambda: not holding_markers(drop) and not holding_markers(letters), timeout=60,
               message="the drop folders to hold none of the person's details")
    # the server checkpoints the WAL a few seconds after the last write; bounded wait for it
    wait_until(lambda: not holding_markers(mongo_dir), timeout=90, interval=1,
               message=f"the database files to hold none of the markers: {holding_markers(mongo_dir)}")
    client.close()
