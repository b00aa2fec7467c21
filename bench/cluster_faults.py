"""Fault benchmark: a 3-node RabbitMQ cluster on this machine loses a node mid-burst.

    .venv/bin/python bench/cluster_faults.py                 # 200 referrals; stops a follower node
    .venv/bin/python bench/cluster_faults.py --stop-leader   # stops the node leading most queues
    .venv/bin/python bench/cluster_faults.py --short         # 30 referrals (what CI may run)

What it does, with nothing shared with `make run` but the Mongo-wire server (its
own databases, dropped at the end):

1. starts three RabbitMQ nodes (rabbit-c1..c3@localhost, AMQP ports 5681-5683,
   distribution ports 25681-25683, data and a private Erlang cookie under a
   temporary directory), joins c2 and c3 to c1 with `rabbitmqctl join_cluster`
   and waits until every node sees all three running: a quorum queue gets its
   replicas on the nodes in the cluster when it is declared, so nothing is
   declared before that;
2. declares the quorum queues, runs `rabbitmq-queues grow <node> all` for each
   node (a no-op on a whole cluster; what an operator runs after adding a
   node), and starts the services, every one with AMQP_URI listing the three
   nodes (`;`-separated, each replica starting from a different node):
   referrals x1, safety x2, notifications x2;
3. sends a burst of referrals over HTTP (each with its Idempotency-Key, retried
   on an error), and a third of the way in stops a node with `rabbitmqctl
   stop` (first recording every quorum queue's replicas and asking
   `rabbitmq-queues check_if_node_is_quorum_critical` of that node), half way
   SIGKILLs a safety replica;
4. waits until every case has converged and checks exactly once: one case per
   referral, one triage decision per case, each message sent once (one
   attempt), each event once on the timeline, nothing parked, outboxes empty,
   and no replica ended by itself. The result counts, per replica, its
   reconnections and failed publishes from its log.

Prints JSON lines; the last one is the result. Exit status 0 when every check
holds. A fault benchmark, not a test: it times things, and takes minutes.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.lifetime import a_referral  # noqa: E402
from services.common.auth import KeyStore  # noqa: E402
from services.common.mongo import DEAD_LETTERS, connect  # noqa: E402

RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")
MONGO_URI = os.environ.get("MONGO_URI") or "mongodb://127.0.0.1:27017/"
TRIAGE = {"visit_requested", "visit_not_requested"}  # fire_risk_without_consent comes with visit_not_requested
SERVICE_CLASSES = {"referrals": "ReferralsService", "safety": "SafetyService",
                   "notifications": "NotificationsService"}
# log events of a replica meeting the failover (counted per replica in the result)
RECOVERY_EVENTS = ("broker_consumer_reconnecting", "broker_ack_lost", "broker_requeue_lost",
                   "outbox_publish_failed", "event_republish_failed")


def report(phase, **numbers):
    print(json.dumps({"phase": phase, **numbers}, default=str), flush=True)


# -- the cluster --------------------------------------------------------------------------------------
class Node:
    def __init__(self, index: int, base: Path):
        self.name = f"rabbit-c{index}@localhost"
        self.port, self.dist_port = 5680 + index, 25680 + index
        self.dir = base / f"c{index}"
        self.uri = f"amqp://guest:guest@127.0.0.1:{self.port}/"
        self.running = False


class Cluster:
    """Three nodes with their own names, ports, data directories and Erlang cookie (a private HOME)."""

    def __init__(self, base: Path, size: int = 3):
        self.base, self.home = base, base / "home"
        self.nodes = [Node(i, base) for i in range(1, size + 1)]

    def env(self, node: Node) -> dict:
        return {**os.environ, "HOME": str(self.home),  # the cookie is $HOME/.erlang.cookie: never root's
                "RABBITMQ_NODENAME": node.name, "RABBITMQ_NODE_PORT": str(node.port),
                "RABBITMQ_DIST_PORT": str(node.dist_port),
                "RABBITMQ_MNESIA_BASE": str(node.dir / "mnesia"), "RABBITMQ_LOG_BASE": str(node.dir / "log"),
                "RABBITMQ_PID_FILE": str(node.dir / "rabbit.pid"),
                "RABBITMQ_CONFIG_FILE": str(node.dir / "rabbitmq.conf"),
                "RABBITMQ_ADVANCED_CONFIG_FILE": str(node.dir / "advanced.config"),
                "RABBITMQ_CONF_ENV_FILE": str(node.dir / "rabbitmq-env.conf"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(node.dir / "enabled_plugins")}

    def ctl(self, node: Node, *args, timeout: float = 120, check: bool = True, tool: str = "rabbitmqctl"):
        result = subprocess.run([str(RABBIT_BIN / tool), "-n", node.name, *args], env=self.env(node),
                                capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)} on {node.name}: {result.stderr.strip()[-400:]}")
        return result

    def start(self) -> None:
        self.home.mkdir(parents=True)
        cookie = self.home / ".erlang.cookie"
        cookie.write_text(uuid.uuid4().hex.upper())
        cookie.chmod(0o400)
        for node in self.nodes:
            for sub in ("mnesia", "log"):
                (node.dir / sub).mkdir(parents=True)
            (node.dir / "rabbitmq.conf").write_text("log.file.level = warning\n")
            (node.dir / "rabbitmq-env.conf").write_text("")
            (node.dir / "enabled_plugins").write_text("[].\n")
            with open(node.dir / "server.log", "ab") as log:
                subprocess.Popen([str(RABBIT_BIN / "rabbitmq-server")], env=self.env(node), stdout=log,
                                 stderr=subprocess.STDOUT, start_new_session=True, cwd=node.dir)
        for node in self.nodes:
            deadline = time.monotonic() + 180
            while self.ctl(node, "await_startup", "--timeout", "120", timeout=150, check=False).returncode:
                if time.monotonic() > deadline:  # not yet known to epmd, or still booting
                    raise RuntimeError(f"{node.name} did not start; see {node.dir / 'server.log'}")
                time.sleep(1)
            node.running = True
        first = self.nodes[0]
        for node in self.nodes[1:]:
            self.ctl(node, "stop_app")
            self.ctl(node, "join_cluster", first.name)
            self.ctl(node, "start_app")
        self.await_whole()

    def await_whole(self, timeout: float = 120) -> None:
        """Every node sees every node running: only then may anything declare a queue.

        A quorum queue gets its replicas on the cluster's members at the moment it is declared (at most
        3, the broker's default group size); one declared before the last join has fewer replicas, and
        losing one more node may leave it without a majority.
        """
        names = sorted(n.name for n in self.nodes)
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            while True:
                status = json.loads(self.ctl(node, "cluster_status", "--formatter", "json").stdout)
                if sorted(status["running_nodes"]) == names:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"cluster did not form on {node.name}: {status['running_nodes']}")
                time.sleep(1)

    def grow(self) -> None:
        """A replica of every quorum queue on every node (what an operator runs after adding a node)."""
        for node in self.nodes:
            self.ctl(node, "grow", node.name, "all", tool="rabbitmq-queues", timeout=300)

    def any_running(self) -> Node:
        return next(n for n in self.nodes if n.running)

    def queues(self) -> list[dict]:
        out = self.ctl(self.any_running(), "list_queues", "name", "type", "leader", "members", "online",
                       "messages", "--formatter", "json", "-q").stdout
        return json.loads(out)

    def membership(self) -> dict:
        """How the quorum queues stand: replicas per queue, and queues without a majority online."""
        quorum = [q for q in self.queues() if q["type"] == "quorum"]
        return {"quorum_queues": len(quorum),
                "replicas": dict(Counter(str(len(q["members"])) for q in quorum)),
                "without_majority_online": sorted(q["name"] for q in quorum
                                                  if len(q["online"]) * 2 <= len(q["members"]))}

    def quorum_critical(self, node: Node) -> bool:
        """True when stopping `node` would leave some quorum queue without a majority."""
        return self.ctl(node, "check_if_node_is_quorum_critical", tool="rabbitmq-queues",
                        check=False).returncode != 0

    def leaders(self) -> Counter:
        return Counter(q["leader"] for q in self.queues() if q["name"].startswith("evt-"))

    def node_named(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def stop(self, node: Node) -> None:
        self.ctl(node, "stop", str(node.dir / "rabbit.pid"))  # returns once the node's process is gone
        node.running = False

    def pids(self) -> list[int]:
        """Processes whose command line names this cluster's directory: only what start() started."""
        found = []
        for entry in Path("/proc").glob("[0-9]*"):
            try:
                if str(self.base).encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
        return [p for p in found if p != os.getpid()]

    def teardown(self) -> None:
        for node in self.nodes:
            if node.running:
                self.ctl(node, "stop", str(node.dir / "rabbit.pid"), check=False)
                node.running = False
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


# -- the services ----------------------------------------------------------------------------------------
class Services:
    def __init__(self, base: Path, cluster: Cluster, run_id: str):
        self.base, self.cluster = base, cluster
        self.dbs = {s: f"bench_{run_id}_{s}" for s in (*SERVICE_CLASSES, "auth")}
        self.procs: dict[str, subprocess.Popen] = {}
        self.ports: dict[str, int] = {}
        self.killed: set[str] = set()

    def amqp_uri(self, rotation: int) -> str:
        uris = [n.uri for n in self.cluster.nodes]
        return ";".join(uris[rotation % len(uris):] + uris[:rotation % len(uris)])

    def start(self, name: str, service: str, port: int, rotation: int) -> None:
        env = {**os.environ, "AMQP_URI": self.amqp_uri(rotation), "MONGO_URI": MONGO_URI,
               "REFHUB_DATA_DIR": str(self.base / "data"), "QUIET_HOURS": "off", "PYTHONWARNINGS": "ignore",
               f"{service.upper()}_PORT": str(port), "AUTH_DB": self.dbs["auth"],
               **{f"{s.upper()}_DB": db for s, db in self.dbs.items() if s != "auth"}}
        (self.base / "logs").mkdir(parents=True, exist_ok=True)
        with open(self.base / "logs" / f"{name}.log", "ab") as log:
            self.procs[name] = subprocess.Popen(
                [str(Path(sys.executable).parent / "nameko"), "run", "--config", f"config/{service}.yaml",
                 f"services.{service}.service:{SERVICE_CLASSES[service]}"],
                env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.ports[name] = port

    def wait_healthy(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        for name, port in self.ports.items():
            while True:
                if self.procs[name].poll() is not None:
                    raise RuntimeError(f"{name} exited; see {self.base / 'logs' / (name + '.log')}")
                try:
                    if requests.get(f"http://127.0.0.1:{port}/health", timeout=3).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} not healthy within {timeout}s")
                time.sleep(0.5)

    def kill(self, name: str) -> None:
        os.killpg(self.procs[name].pid, signal.SIGKILL)
        self.procs[name].wait()
        self.killed.add(name)

    def exited(self) -> list[str]:
        """Replicas that ended by themselves (not the one the bench killed): a fault took a service down."""
        return sorted(n for n, p in self.procs.items() if p.poll() is not None and n not in self.killed)

    def log_counts(self) -> dict:
        """How often each replica met the broker's failover, from its JSON log."""
        counts = {}
        for name in self.procs:
            seen = Counter()
            for line in (self.base / "logs" / f"{name}.log").read_text(errors="replace").splitlines():
                for event in RECOVERY_EVENTS:
                    if f'"event": "{event}"' in line:
                        seen[event] += 1
                if "InternalError" in line and line.startswith("{"):
                    seen["InternalError"] += 1
            counts[name] = dict(seen)
        return counts

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


# -- the burst and the checks -------------------------------------------------------------------------------
def refer(url: str, partner: str, body: dict, deadline_s: float = 180) -> str:
    """POST one referral; on an error, the same request again with the same Idempotency-Key."""
    headers = {"Authorization": f"Bearer {partner}", "Content-Type": "application/json",
               "Idempotency-Key": body["external_ref"]}
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            response = requests.post(url, data=json.dumps(body), headers=headers, timeout=60)
            if response.status_code in (200, 201):
                return response.json()["case_id"]
            error = f"HTTP {response.status_code}"
        except requests.RequestException as exc:
            error = type(exc).__name__
        if time.monotonic() > deadline:
            raise RuntimeError(f"referral {body['external_ref']} not accepted: {error}")
        time.sleep(1)


def state(client, dbs: dict, case_ids: set) -> dict:
    """Where every case stands, and every exactly-once check."""
    referrals, safety, notes = (client[dbs[s]] for s in ("referrals", "safety", "notifications"))
    cases = {c["_id"]: c for c in referrals["cases"].find({}, {"timeline": 1})}
    # other services' events stand apart from the case (referrals' timeline_events): merge them in
    for entry in referrals["timeline_events"].find({}, {"case_id": 1, "type": 1}):
        if entry["case_id"] in cases:
            cases[entry["case_id"]].setdefault("timeline", []).append({"event_id": entry["_id"], "type": entry["type"]})
    assessments = Counter(a["case_id"] for a in safety["assessments"].find({}, {"case_id": 1}))
    messages = list(notes["notifications"].find({}, {"case_id": 1, "status": 1, "attempts": 1}))
    sent = Counter(m["case_id"] for m in messages if m["status"] == "sent")
    unfinished = sum(1 for m in messages if m["status"] in ("pending", "sending"))
    converged, duplicate_events, timeline_sent_mismatch, triage_not_once = 0, 0, 0, 0
    for case_id in case_ids:
        timeline = (cases.get(case_id) or {}).get("timeline", [])
        ids = Counter(e["event_id"] for e in timeline)
        duplicate_events += sum(n - 1 for n in ids.values())
        types = Counter(e["type"] for e in timeline)
        decisions = sum(types[t] for t in TRIAGE)
        triage_not_once += decisions > 1
        done = decisions == 1 and sent[case_id] >= 3 and types["notification_sent"] == sent[case_id]
        timeline_sent_mismatch += types["notification_sent"] > sent[case_id]
        converged += done
    outbox = sum(db[c].count_documents({"outbox_waiting": True}) for db, c in
                 ((referrals, "cases"), (safety, "assessments"), (notes, "notifications")))
    return {
        "cases": len(cases), "converged": converged, "messages_unfinished": unfinished, "outbox_waiting": outbox,
        "cases_not_one_per_referral": len(set(cases) ^ case_ids),
        "triage_decisions_not_one": sum(1 for c in case_ids if assessments[c] != 1) + triage_not_once,
        "messages_sent_more_than_once": sum(1 for m in messages if m["status"] == "sent" and m["attempts"] != 1),
        "messages_failed": sum(1 for m in messages if m["status"] == "failed"),
        "events_twice_on_a_timeline": duplicate_events, "timeline_more_sends_than_messages": timeline_sent_mismatch,
        "parked": sum(client[dbs[s]][DEAD_LETTERS].count_documents({}) for s in SERVICE_CLASSES),
        "messages_sent": sum(sent.values()),
    }


def exactly_once(s: dict, count: int) -> bool:
    return (s["cases"] == count and s["converged"] == count and s["cases_not_one_per_referral"] == 0
            and s["triage_decisions_not_one"] == 0 and s["messages_sent_more_than_once"] == 0
            and s["messages_failed"] == 0 and s["events_twice_on_a_timeline"] == 0
            and s["timeline_more_sends_than_messages"] == 0 and s["parked"] == 0
            and s["messages_unfinished"] == 0 and s["outbox_waiting"] == 0)


def run(args) -> int:
    run_id = uuid.uuid4().hex[:8]
    base = Path(tempfile.mkdtemp(prefix=f"refhub-cluster-{run_id}-"))
    cluster, client = Cluster(base), connect(MONGO_URI)
    services = Services(base, cluster, run_id)
    try:
        started = time.perf_counter()
        cluster.start()
        report("cluster", nodes=[n.name for n in cluster.nodes], ports=[n.port for n in cluster.nodes],
               seconds=round(time.perf_counter() - started, 1), dir=str(base))

        from services.cli.stack import event_services
        from services.common.topology import declare_topology
        declare_topology(services.amqp_uri(0), event_services())
        cluster.grow()  # a no-op on a cluster that was whole before the declarations
        layout = cluster.queues()
        report("queues", declared=len(layout), quorum=sum(q["type"] == "quorum" for q in layout),
               replicas=sorted({len(q["members"]) for q in layout if q["type"] == "quorum"}),
               leaders=dict(cluster.leaders()))

        plan = [("referrals", "referrals", 18200), ("safety-1", "safety", 18201), ("safety-2", "safety", 18211),
                ("notifications-1", "notifications", 18202), ("notifications-2", "notifications", 18212)]
        for rotation, (name, service, port) in enumerate(plan):
            services.start(name, service, port, rotation)
        services.wait_healthy()
        keys = KeyStore(client[services.dbs["auth"]])
        partner = keys.create("partner", "mind")[1]

        if args.stop_leader:
            victim = cluster.node_named(cluster.leaders().most_common(1)[0][0])
        else:
            leaders = cluster.leaders()
            victim = min(cluster.nodes, key=lambda n: leaders.get(n.name, 0))  # leads the fewest queues
        kill = "safety-1"
        rng = random.Random(args.seed)
        bodies = []
        for i in range(args.referrals):
            body = a_referral(rng)
            body["external_ref"] = f"BENCH-{run_id}-{i:04d}"
            bodies.append(body)

        accepted, faults, lock = [], {}, threading.Lock()

        def one(body):
            case_id = refer("http://127.0.0.1:18200/referrals", partner, body)
            with lock:
                accepted.append(case_id)
                n = len(accepted)
            if n == max(1, args.referrals // 3):
                before = cluster.membership()  # the services' own queues (RPC) are there by now
                critical = cluster.quorum_critical(victim)
                faults["node_stop_started"] = time.perf_counter()
                cluster.stop(victim)
                faults["node_stopped"] = time.perf_counter()
                faults["membership_at_stop"] = {**before, "victim_quorum_critical": critical}
                report("fault", stopped=victim.name, after_referrals=n,
                       stop_took_s=round(faults["node_stopped"] - faults["node_stop_started"], 1),
                       **faults["membership_at_stop"])
            if n == max(2, args.referrals // 2):
                services.kill(kill)
                faults["replica_killed"] = time.perf_counter()
                report("fault", killed=kill, signal="SIGKILL", after_referrals=n)
            return case_id

        burst_start = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            case_ids = set(pool.map(one, bodies))
        burst_end = time.perf_counter()
        report("burst", referrals=args.referrals, accepted=len(case_ids),
               seconds=round(burst_end - burst_start, 1))

        deadline = time.monotonic() + args.deadline
        while True:
            now = state(client, services.dbs, case_ids)
            if now["converged"] == len(case_ids) and now["messages_unfinished"] == 0 \
                    and now["outbox_waiting"] == 0:
                break
            if time.monotonic() > deadline or services.exited():
                break
            time.sleep(1)
        done = time.perf_counter()
        time.sleep(args.settle)  # anything still on its way (a duplicate) shows up now
        final = state(client, services.dbs, case_ids)
        exited = services.exited()
        ok = exactly_once(final, args.referrals) and not exited
        result = {
            "ok": ok, "referrals": args.referrals, "concurrency": args.concurrency,
            "stopped_node": victim.name, "stopped_node_led_queues": args.stop_leader,
            "membership_at_stop": faults.get("membership_at_stop"),
            "membership_after": cluster.membership(), "replicas_exited": exited,
            "failover_log": services.log_counts(),
            "converged_s_after_node_stop_began": round(done - faults.get("node_stop_started", done), 1),
            "converged_s_after_node_stop": round(done - faults.get("node_stopped", done), 1),
            "converged_s_after_burst": round(done - burst_end, 1),
            "burst_s": round(burst_end - burst_start, 1), "total_s": round(done - burst_start, 1),
            "leaders_after": dict(cluster.leaders()), **final}
        report("result", **result)
        return 0 if ok else 1
    finally:
        services.stop_all()
        cluster.teardown()
        for db in services.dbs.values():
            client.drop_database(db)
        client.close()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--referrals", type=int, default=200, help="referrals in the burst [200]")
    parser.add_argument("--concurrency", type=int, default=8, help="referrals sent at once [8]")
    parser.add_argument("--stop-leader", action="store_true", help="stop the node leading most handler queues")
    parser.add_argument("--short", action="store_true", help="30 referrals at concurrency 4")
    parser.add_argument("--deadline", type=float, default=900, help="seconds to wait for convergence")
    parser.add_argument("--settle", type=float, default=5, help="seconds to wait after convergence")
    parser.add_argument("--seed", type=int, default=14, help="seed of the generated referrals")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs)")
    args = parser.parse_args(argv)
    if args.short:
        args.referrals, args.concurrency = 30, 4
    if not (RABBIT_BIN / "rabbitmq-server").exists():
        print("needs the Debian package rabbitmq-server", file=sys.stderr)
        return 2
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
