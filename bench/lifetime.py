"""Benchmark: a lifetime of history, a burst, one at a time, the list, and the idle machine.

Run against a running stack (`make run`), on the machine it runs on:

    .venv/bin/python bench/lifetime.py --history 1500

Phases (each prints one JSON line; the last line sums them up):
- history: N referrals through POST /referrals (distinct people, mixed CIR and
  consent, so there are visits, no-visit decisions and messages), then waits
  until every one of them has its referrer receipt on the timeline;
- burst: 100 referrals at concurrency 8; a journey is done when its timeline
  shows referral_received, the visit decision and the referrer's receipt;
  sustained rate = referrals / (last journey done - first submitted); each
  client reads its case every --burst-poll-seconds (0.5 s: a case read is
  audited, so polling faster measures the bench's own load);
- serial: 30 referrals one at a time: intake and journey latency;
- list: GET /cases (first page, a status filter, a search) p95;
- idle: CPU used over 30 s by the services, the broker and the database,
  as a share of the whole machine (all cores) and of one core.

Issue 8's bar: burst >= 10/s; serial journey p95 <= 1 s, intake p95 <= 300 ms;
list p95 <= 300 ms; idle <= 5 % of the machine. Timing goals live here,
never in tests.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import random
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.referral_flow import summary  # noqa: E402
from services.common.auth import KeyStore  # noqa: E402
from services.common.config import load_settings  # noqa: E402
from services.common.mongo import connect  # noqa: E402
from tests.support import REFERRAL  # noqa: E402

_local = threading.local()
POSTCODES = ("HA1 2AB", "HA2 0DU", "HA3 5AA", "HA5 1LQ", "HA7 4PQ", "HA8 9RR")


def session() -> requests.Session:
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
    return _local.session


def a_referral(rng: random.Random) -> dict:
    body = copy.deepcopy(REFERRAL)
    body["person"]["given_name"] = f"Bench{uuid.uuid4().hex[:10]}"
    body["person"]["address"]["postcode"] = rng.choice(POSTCODES)
    body["person"]["date_of_birth"] = f"{rng.randint(1935, 1990)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    body["hoarding"]["clutter_image_rating"] = {room: rng.randint(1, 9) for room in ("living_room", "kitchen")}
    body["consent"]["share_with_fire_service"] = rng.random() < 0.8
    body["fire_risk"]["smoker"] = rng.random() < 0.3
    body["fire_risk"]["blocked_exits"] = rng.random() < 0.3
    return body


class Stack:
    def __init__(self, settings, partner, coordinator):
        self.base = settings.url("referrals")
        self.partner = {"Authorization": f"Bearer {partner}", "Content-Type": "application/json"}
        self.coordinator = {"Authorization": f"Bearer {coordinator}"}

    def refer(self, body) -> tuple[str, float]:
        start = time.perf_counter()
        response = session().post(f"{self.base}/referrals", data=json.dumps(body), headers=self.partner,
                                  timeout=60)
        response.raise_for_status()
        return response.json()["case_id"], time.perf_counter() - start

    def journey_done(self, case_id) -> bool:
        case = session().get(f"{self.base}/cases/{case_id}", headers=self.coordinator, timeout=60).json()
        types = {e["type"] for e in case["timeline"]}
        decided = types & {"visit_requested", "visit_not_requested", "fire_risk_without_consent"}
        receipt = any(e["type"] == "notification_sent" and "to the referrer" in e["summary"]
                      for e in case["timeline"])
        return "referral_received" in types and bool(decided) and receipt

    def wait_journey(self, case_id, start, deadline_s=600, poll_s=0.1) -> float:
        while time.perf_counter() - start < deadline_s:
            if self.journey_done(case_id):
                return time.perf_counter() - start
            time.sleep(poll_s)
        raise TimeoutError(f"case {case_id} did not complete its journey within {deadline_s}s")

    def list_page(self, params) -> float:
        start = time.perf_counter()
        response = session().get(f"{self.base}/cases", params=params, headers=self.coordinator, timeout=60)
        response.raise_for_status()
        return time.perf_counter() - start


def report(phase, **numbers):
    line = {"phase": phase, **numbers}
    print(json.dumps(line), flush=True)
    return line


def history(stack, rng, count, concurrency):
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        cases = list(pool.map(lambda _: stack.refer(a_referral(rng))[0], range(count)))
    submitted = time.perf_counter() - started
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda c: stack.wait_journey(c, time.perf_counter(), poll_s=1.0), cases))
    return report("history", referrals=count, submit_s=round(submitted, 1),
                  all_journeys_done_s=round(time.perf_counter() - started, 1))


def burst(stack, rng, count, concurrency, poll_s):
    def journey(_):
        start = time.perf_counter()
        case_id, intake = stack.refer(a_referral(rng))
        return intake, stack.wait_journey(case_id, start, poll_s=poll_s), time.perf_counter()

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(journey, range(count)))
    elapsed = max(r[2] for r in results) - started
    return report("burst", referrals=count, concurrency=concurrency,
                  sustained_referrals_per_s=round(count / elapsed, 2), elapsed_s=round(elapsed, 1),
                  intake=summary([r[0] for r in results]), journey=summary([r[1] for r in results]))


def serial(stack, rng, count):
    intakes, journeys = [], []
    for _ in range(count):
        start = time.perf_counter()
        case_id, intake = stack.refer(a_referral(rng))
        journeys.append(stack.wait_journey(case_id, start, poll_s=0.02))
        intakes.append(intake)
    return report("serial", referrals=count, intake=summary(intakes), journey=summary(journeys))


def list_pages(stack, rounds):
    shapes = [{}, {"status": "received"}, {"page": 3}, {"q": "HA3 5AA"}, {"level": 3}]
    timings = [stack.list_page(shapes[i % len(shapes)]) for i in range(rounds)]
    return report("list", requests=rounds, page=summary(timings))


def _cpu_ticks(pids) -> int:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
        except (OSError, IndexError):
            pass
    return total


def stack_pids(settings) -> list[int]:
    """The services, the database (from the stack's pid files) and the broker (beam)."""
    pids = []
    for pidfile in (settings.data_dir / "run").glob("*.pid"):
        try:
            pids.append(int(pidfile.read_text().strip()))
        except ValueError:
            pass
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if b"beam" in (proc / "comm").read_bytes() or b"epmd" in (proc / "comm").read_bytes():
                    pids.append(int(proc.name))
            except OSError:
                pass
    return sorted(set(pids))


def idle(settings, seconds, settle_s):
    time.sleep(settle_s)
    pids = stack_pids(settings)
    hz = os.sysconf("SC_CLK_TCK")
    before, start = _cpu_ticks(pids), time.monotonic()
    time.sleep(seconds)
    cpu_s = (_cpu_ticks(pids) - before) / hz
    wall = time.monotonic() - start
    cores = os.cpu_count()
    return report("idle", seconds=round(wall, 1), processes=len(pids), cpu_seconds=round(cpu_s, 2),
                  machine_busy_pct=round(100 * cpu_s / (wall * cores), 2),
                  one_core_busy_pct=round(100 * cpu_s / wall, 2))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=int, default=1500, help="referrals to create first (0: none)")
    parser.add_argument("--history-concurrency", type=int, default=8)
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--burst-concurrency", type=int, default=8)
    parser.add_argument("--burst-poll-seconds", type=float, default=0.5,
                        help="how often each burst client reads its case (each read is a full, audited case read)")
    parser.add_argument("--serial", type=int, default=30)
    parser.add_argument("--list", type=int, default=100)
    parser.add_argument("--idle-seconds", type=float, default=30)
    parser.add_argument("--settle-seconds", type=float, default=15, help="quiet time before measuring idle")
    # a new seed each run (printed): the same seed again would refer the same people again, whose
    # earlier cases are still open, and measure the possible-match check on an unrealistic store
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)

    settings = load_settings()
    keys = KeyStore(connect(settings.effective_mongo_uri)[settings.auth_db])
    stack = Stack(settings, keys.create("partner", "mind", "bench")[1], keys.create("coordinator", None, "bench")[1])
    if args.seed is None:
        args.seed = time.time_ns() % 1_000_000_007
    rng = random.Random(args.seed)
    results = {}
    if args.history:
        results["history"] = history(stack, rng, args.history, args.history_concurrency)
    if args.burst:
        results["burst"] = burst(stack, rng, args.burst, args.burst_concurrency, args.burst_poll_seconds)
    if args.serial:
        results["serial"] = serial(stack, rng, args.serial)
    if args.list:
        results["list"] = list_pages(stack, args.list)
    if args.idle_seconds:
        results["idle"] = idle(settings, args.idle_seconds, args.settle_seconds)
    print(json.dumps({"phase": "all", "seed": args.seed, **{k: {kk: vv for kk, vv in v.items() if kk != "phase"}
                                          for k, v in results.items()}}, indent=2))


if __name__ == "__main__":
    main()
