"""Benchmark: a referral's journey through the running stack, against a raw broker baseline.

Run against `make run` (or `refhub stack up`):

    .venv/bin/python bench/referral_flow.py --referrals 50 --concurrency 5

Prints JSON: HTTP intake latency, time until the case timeline shows all three
services (triage decision and the three onboarding messages), throughput, and
a pika round trip on the same broker as the floor no event hop can beat.
Timing goals live here, never in tests.
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pika
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.common.auth import KeyStore  # noqa: E402
from services.common.config import load_settings, pika_uri  # noqa: E402
from services.common.mongo import connect  # noqa: E402
from tests.support import REFERRAL  # noqa: E402


def percentile(values, q):
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)


def summary(values):
    return {"p50_ms": percentile(values, 0.5), "p95_ms": percentile(values, 0.95),
            "max_ms": round(max(values) * 1000, 1), "n": len(values)}


def broker_round_trip(amqp_uri, rounds=200):
    """Publish with confirms and consume back one message at a time: the raw floor of one hop."""
    connection = pika.BlockingConnection(pika.URLParameters(pika_uri(amqp_uri)))
    channel = connection.channel()
    channel.confirm_delivery()
    queue = channel.queue_declare("", exclusive=True).method.queue
    timings = []
    for _ in range(rounds):
        start = time.perf_counter()
        channel.basic_publish("", queue, b"{}")
        while True:
            method, _, _ = channel.basic_get(queue, auto_ack=True)
            if method:
                break
        timings.append(time.perf_counter() - start)
    connection.close()
    return summary(timings)


def one_referral(settings, partner, coordinator, index, deadline_s=60):
    body = copy.deepcopy(REFERRAL)
    body["person"]["given_name"] = f"Bench{uuid.uuid4().hex[:8]}"
    start = time.perf_counter()
    response = requests.post(f"{settings.url('referrals')}/referrals", data=json.dumps(body), timeout=30,
                             headers={"Authorization": f"Bearer {partner}", "Content-Type": "application/json"})
    response.raise_for_status()
    accepted = time.perf_counter() - start
    case_id = response.json()["case_id"]
    while time.perf_counter() - start < deadline_s:
        case = requests.get(f"{settings.url('referrals')}/cases/{case_id}", timeout=30,
                            headers={"Authorization": f"Bearer {coordinator}"}).json()
        types = [e["type"] for e in case["timeline"]]
        if "visit_requested" in types and types.count("notification_sent") >= 3:
            return accepted, time.perf_counter() - start
        time.sleep(0.05)
    raise TimeoutError(f"referral {index} did not complete within {deadline_s}s")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--referrals", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=5)
    args = parser.parse_args(argv)

    settings = load_settings()
    keys = KeyStore(connect(settings.effective_mongo_uri)[settings.auth_db])
    partner, coordinator = keys.create("partner", "mind", "bench")[1], keys.create("coordinator", None, "bench")[1]

    started = time.perf_counter()
    with ThreadPoolExecutor(args.concurrency) as pool:
        results = list(pool.map(lambda i: one_referral(settings, partner, coordinator, i), range(args.referrals)))
    elapsed = time.perf_counter() - started
    print(json.dumps({
        "referrals": args.referrals, "concurrency": args.concurrency,
        "http_intake": summary([r[0] for r in results]),
        "timeline_complete": summary([r[1] for r in results]),
        "throughput_referrals_per_s": round(args.referrals / elapsed, 2),
        "broker_round_trip_baseline": broker_round_trip(settings.amqp_uri),
    }, indent=2))


if __name__ == "__main__":
    main()
