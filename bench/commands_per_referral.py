"""Benchmark: the database commands one referral's journey costs, per service, command and collection.

The burst rate of the embedded database is set by how many commands a referral needs (issue 8), so
this counts them: the three services run in this process (nameko containers, on a throwaway vhost of
the local broker and fresh databases), a pymongo command listener counts every command, and N
referrals go through POST /referrals until each journey is done (the referrer's receipt and the
visit decision on the timeline). Reads of the journey by this script are not counted.

    .venv/bin/python bench/commands_per_referral.py --referrals 20
"""
from __future__ import annotations

import eventlet

eventlet.monkey_patch()

import argparse  # noqa: E402
import collections  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402

import requests  # noqa: E402
from pymongo import monitoring  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

COUNTS: collections.Counter = collections.Counter()
COUNTING = threading.Event()
MINE = set()   # greenlets of this script (its own reads are not the journey's)


class Counter(monitoring.CommandListener):
    def started(self, event):
        if not COUNTING.is_set() or id(eventlet.getcurrent()) in MINE or event.command_name in ("isMaster", "hello", "ping", "endSessions"):
            return
        collection = event.command.get(event.command_name)
        COUNTS[(event.database_name.rsplit("_", 1)[-1], event.command_name,
                collection if isinstance(collection, str) else "-")] += 1

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


monitoring.register(Counter())

from nameko.containers import ServiceContainer  # noqa: E402

from services.common.auth import KeyStore  # noqa: E402
from services.common.config import load_settings  # noqa: E402
from services.common.mongo import connect  # noqa: E402
from tests.support import referral  # noqa: E402


def _vhost(settings, name):
    from urllib.parse import urlsplit
    # a throwaway vhost, made as the test suite makes them (the local broker's guest administrator)
    parts = urlsplit(settings.amqp_uri)
    api = f"http://{parts.hostname}:15672/api/vhosts/{name}"
    auth = ("guest", "guest")
    requests.put(api, auth=auth, timeout=10).raise_for_status()
    requests.put(f"http://{parts.hostname}:15672/api/permissions/{name}/guest", auth=auth,
                 json={"configure": ".*", "write": ".*", "read": ".*"}, timeout=10).raise_for_status()
    return f"amqp://guest:guest@{parts.hostname}:{parts.port or 5672}/{name}", \
        lambda: requests.delete(api, auth=auth, timeout=10)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--referrals", type=int, default=20)
    args = parser.parse_args(argv)
    settings = load_settings()
    mongo_uri = settings.effective_mongo_uri
    prefix = f"b{uuid.uuid4().hex[:8]}"
    vhost = prefix
    amqp_uri, drop_vhost = _vhost(settings, vhost)
    from services.notifications.service import NotificationsService
    from services.referrals.service import ReferralsService
    from services.safety.service import SafetyService
    ports = {"referrals": 18700, "safety": 18701, "notifications": 18702}
    containers = []
    client = connect(mongo_uri)
    try:
        for cls in (ReferralsService, SafetyService, NotificationsService):
            config = {"AMQP_URI": amqp_uri, "WEB_SERVER_ADDRESS": f"127.0.0.1:{ports[cls.name]}",
                      "MONGO_URI": mongo_uri, "MONGO_DB": f"{prefix}_{cls.name}", "AUTH_DB": f"{prefix}_auth",
                      "DATA_DIR": f"/tmp/{prefix}"}
            container = ServiceContainer(cls, config)
            container.start()
            containers.append(container)
        keys = KeyStore(client[f"{prefix}_auth"])
        partner, coordinator = keys.create("partner", "mind")[1], keys.create("coordinator")[1]
        time.sleep(2)
        COUNTING.set()
        references = []
        for n in range(args.referrals):
            body = referral({"person.family_name": f"Bench{n}",
                             "person.date_of_birth": f"19{40 + n % 50}-01-0{1 + n % 9}"})
            answer = requests.post(f"http://127.0.0.1:{ports['referrals']}/referrals", json=body, timeout=30,
                                   headers={"Authorization": f"Bearer {partner}"})
            answer.raise_for_status()
            references.append(answer.json()["case_id"])
        deadline = time.monotonic() + 120
        pending = set(references)
        cases = client[f"{prefix}_referrals"]["timeline_events"]
        MINE.add(id(eventlet.getcurrent()))
        while pending and time.monotonic() < deadline:
            for case_id in list(pending):
                kinds = {e["type"] for e in cases.find({"case_id": case_id}, {"type": 1})}
                if {"notification_sent", "visit_requested"} <= kinds:
                    pending.discard(case_id)
            eventlet.sleep(0.5)
        time.sleep(3)   # the last messages' own writes
        COUNTING.clear()
        by_service = collections.Counter()
        for (service, command, collection), count in COUNTS.items():
            by_service[service] += count
        print(json.dumps({"referrals": args.referrals, "unfinished": len(pending),
                          "commands_per_referral": round(sum(COUNTS.values()) / args.referrals, 1),
                          "by_service": {s: round(c / args.referrals, 1) for s, c in by_service.items()}}))
        for (service, command, collection), count in sorted(COUNTS.items(), key=lambda kv: -kv[1]):
            print(f"{count / args.referrals:6.1f}  {service:14} {command:14} {collection}")
    finally:
        for container in containers:
            container.kill()
        for name in client.list_database_names():
            if name.startswith(prefix):
                client.drop_database(name)
        client.close()
        drop_vhost()


if __name__ == "__main__":
    main()
