"""Micro-benchmark: the project's hot query shapes on a Mongo-wire server.

Measures any server that speaks the MongoDB wire protocol (FerretDB with or
without referral-hub's pushdown overlay, nx-27017, a real MongoDB):

    .venv/bin/python bench/store_engines.py --uri mongodb://127.0.0.1:27017/
    .venv/bin/python bench/store_engines.py --uri patched=mongodb://127.0.0.1:27017/ \\
        --uri plain=mongodb://127.0.0.1:27031/ --sizes 2000,8000

For each engine and size it creates its own database (`--db`, dropped at the
end), seeds N documents shaped like the project's notifications (~1 KB each:
string `_id`, a `case_id` shared by ~5 documents, `status` mostly "sent" with
~2% "pending", an int `version`, a nested `context`, an `applied_events`
list), indexes `case_id` and `status`, and times each shape (p50/p95 in ms
over repeated runs; a slow shape stops after `--budget` seconds, with at least
`--min-runs` runs):

- find_id        find_one({_id})
- update_cas     update_one({_id, version: v}, {$inc: {version: 1}, $set})
- find_case      find({case_id})
- find_pending   find({status: "pending"})
- find_in        find({status: {$in: ["pending", "retry"]}})
- claim          find_one_and_update({_id, status: "pending"}, {$set: sending})
- or_due         the old "messages due" $or with ranges (for contrast)
- insert         insert_one

Every timed call also checks its answer (documents found, documents changed);
a shape that answered wrongly says so in `wrong`. Then a correctness probe:
8 threads compare-and-set the same document on `{_id, version: v}` at once,
for 20 rounds; on a correct engine every round has exactly one winner. A
second probe races 8 claims (find_one_and_update) for one pending document.

Prints one JSON line per (engine, size), then a table. Needs only pymongo.
Timing goals live here and in the README, never in tests.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import pymongo
from pymongo import MongoClient, ReturnDocument

SHAPES = ("find_id", "update_cas", "find_case", "find_pending", "find_in", "claim", "or_due", "insert")
PENDING_SHARE = 0.02
DOCS_PER_CASE = 5
BATCH = 500


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# -- documents ------------------------------------------------------------------
def make_doc(i: int, rng: random.Random, now: datetime) -> dict:
    """A notification-like document of about 1 KB."""
    case = i // DOCS_PER_CASE
    pending = rng.random() < PENDING_SHARE
    created = now - timedelta(days=rng.randint(0, 700), minutes=rng.randint(0, 1440))
    return {
        "_id": f"ntf-{i:08d}-{rng.getrandbits(32):08x}",
        "case_id": f"case-{case:07d}",
        "reference": f"HRW-{2024 + case % 3}-{case:06d}",
        "status": "pending" if pending else "sent",
        "version": rng.randint(1, 6),
        "template": rng.choice(["referrer_receipt", "welcome", "coordinator_alert", "visit_reminder"]),
        "audience": rng.choice(["referrer", "person", "coordinator"]),
        "channel": rng.choice(["email", "sms"]),
        "attempts": 0 if pending else 1,
        "round_attempts": 0,
        "last_error": None,
        "lease_until": None,
        "lease_token": None,
        "suppressed_reason": None,
        "awaiting_triage": None,
        "created_at": created,
        "updated_at": created,
        "next_attempt_at": now + timedelta(hours=1) if pending else created,
        "sent_at": None if pending else created + timedelta(seconds=3),
        "context": {
            "person": {"first_name": "Alex", "last_name": f"Example{i % 997}",
                       "postcode": rng.choice(["HA1 2AB", "HA2 0DU", "HA3 5AA", "HA5 1LQ"]),
                       "mobile": f"07700 9{rng.randint(0, 99999):05d}"},
            "referrer": {"name": "Sam Referrer", "organisation": "Harrow Hospital Discharge Team",
                         "email": f"referrer{case % 50}@nhs.example"},
            "visit": {"due_by": created + timedelta(days=2), "window": "morning", "crisis": False},
            "consent": {"scopes": ["contact", "share_with_partners"], "given_at": created},
            "note": "Lives alone, stairs are a problem, prefers a phone call before a visit. " * 2,
        },
        "applied_events": [f"evt-{case:07d}-{k}" for k in range(rng.randint(2, 6))],
    }


def seed(coll, size: int, rng: random.Random) -> dict:
    now = utcnow()
    docs = [make_doc(i, rng, now) for i in range(size)]
    start = time.perf_counter()
    for k in range(0, size, BATCH):
        coll.insert_many(docs[k:k + BATCH], ordered=False)
    coll.create_index("case_id")
    coll.create_index("status")
    seconds = time.perf_counter() - start
    return {"docs": docs, "seed_s": round(seconds, 2),
            "pending": [d["_id"] for d in docs if d["status"] == "pending"],
            "versions": {d["_id"]: d["version"] for d in docs},
            "case_sizes": _count_by(docs, "case_id")}


def _count_by(docs: list[dict], key: str) -> dict:
    out: dict = {}
    for d in docs:
        out[d[key]] = out.get(d[key], 0) + 1
    return out


# -- timing ---------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def time_shape(run_once, runs: int, min_runs: int, budget: float) -> dict:
    """run_once() performs one timed operation (timing only the database call) and returns
    (seconds, ok). Stops after `runs`, or after `budget` seconds once `min_runs` are done."""
    samples, wrong, errors, first_error = [], 0, 0, None
    started = time.perf_counter()
    for n in range(runs):
        try:
            seconds, ok = run_once()
        except Exception as exc:  # an engine that cannot answer a shape is a result, not a crash
            errors += 1
            first_error = first_error or f"{type(exc).__name__}: {str(exc)[:160]}"
            if errors >= 3 and not samples:
                break
            continue
        samples.append(seconds * 1000)
        wrong += 0 if ok else 1
        if n + 1 >= min_runs and time.perf_counter() - started > budget:
            break
    result = {"n": len(samples), "wrong": wrong, "errors": errors}
    if samples:
        result.update(p50=round(statistics.median(samples), 2), p95=round(percentile(samples, 0.95), 2))
    if first_error:
        result["error"] = first_error
    return result


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def bench_shapes(coll, state: dict, args, rng: random.Random) -> dict:
    docs, pending, versions = state["docs"], state["pending"], state["versions"]
    n_pending = len(pending)
    ids = [d["_id"] for d in docs]
    due_now = utcnow()
    # what the old "messages due" query should find: the seeded pending messages wait an hour
    or_due = {"$or": [{"status": "pending", "next_attempt_at": {"$lte": due_now}},
                      {"status": "sending", "lease_until": {"$lt": due_now}}]}

    def find_id():
        _id = rng.choice(ids)
        s, doc = timed(lambda: coll.find_one({"_id": _id}))
        return s, doc is not None and doc["_id"] == _id

    def update_cas():
        _id = rng.choice(ids)
        v = versions[_id]
        s, res = timed(lambda: coll.update_one({"_id": _id, "version": v},
                                               {"$inc": {"version": 1}, "$set": {"updated_at": utcnow()}}))
        if res.modified_count == 1:
            versions[_id] = v + 1
        return s, res.matched_count == 1 and res.modified_count == 1

    def find_case():
        case_id = rng.choice(docs)["case_id"]
        s, found = timed(lambda: list(coll.find({"case_id": case_id})))
        return s, len(found) == state["case_sizes"][case_id]

    def find_pending():
        s, found = timed(lambda: list(coll.find({"status": "pending"})))
        return s, len(found) == n_pending

    def find_in():
        s, found = timed(lambda: list(coll.find({"status": {"$in": ["pending", "retry"]}})))
        return s, len(found) == n_pending

    def claim():
        _id = rng.choice(pending)
        s, doc = timed(lambda: coll.find_one_and_update(
            {"_id": _id, "status": "pending"},
            {"$set": {"status": "sending", "lease_until": utcnow() + timedelta(minutes=5)}},
            return_document=ReturnDocument.AFTER))
        ok = doc is not None and doc["_id"] == _id and doc["status"] == "sending"
        coll.update_one({"_id": _id}, {"$set": {"status": "pending", "lease_until": None}})  # untimed reset
        return s, ok

    def or_due_q():
        s, found = timed(lambda: list(coll.find(or_due)))
        return s, len(found) == 0

    inserted = []

    def insert():
        doc = make_doc(len(docs) + len(inserted), rng, utcnow())
        doc["_id"] = f"new-{len(inserted):06d}-{rng.getrandbits(32):08x}"
        s, res = timed(lambda: coll.insert_one(doc))
        inserted.append(doc["_id"])
        return s, res.inserted_id == doc["_id"]

    shapes = {"find_id": find_id, "update_cas": update_cas, "find_case": find_case,
              "find_pending": find_pending, "find_in": find_in, "claim": claim,
              "or_due": or_due_q, "insert": insert}
    results = {}
    for name in SHAPES:
        results[name] = time_shape(shapes[name], args.runs, args.min_runs, args.budget)
    if inserted:
        coll.delete_many({"_id": {"$in": inserted}})
    return results


# -- correctness probes ---------------------------------------------------------
def race(client_factory, threads: int, rounds: int, prepare, attempt) -> dict:
    """Each round: prepare() -> token; `threads` threads call attempt(coll, token, k) at once
    (behind a barrier), each returning True when it won. Reports winners per round."""
    clients = [client_factory() for _ in range(threads)]
    winners_per_round, errors, first_error = [], 0, None
    try:
        for _ in range(rounds):
            token = prepare()
            barrier = threading.Barrier(threads)
            won = [False] * threads
            failures = []

            def run(k):
                try:
                    barrier.wait(timeout=30)
                    won[k] = attempt(clients[k], token, k)
                except Exception as exc:
                    failures.append(f"{type(exc).__name__}: {str(exc)[:160]}")

            workers = [threading.Thread(target=run, args=(k,)) for k in range(threads)]
            for w in workers:
                w.start()
            for w in workers:
                w.join(timeout=60)
            errors += len(failures)
            first_error = first_error or (failures[0] if failures else None)
            winners_per_round.append(sum(won))
    finally:
        for c in clients:
            c.close()
    out = {"rounds": rounds, "threads": threads, "winners": winners_per_round,
           "rounds_with_one_winner": sum(1 for w in winners_per_round if w == 1), "errors": errors}
    if first_error:
        out["error"] = first_error
    return out


def probes(uri: str, db_name: str, args) -> dict:
    def factory():
        c = MongoClient(uri, tz_aware=True, serverSelectionTimeoutMS=10000)
        c.admin.command("ping")  # connect before the barrier, so the race is between writes
        return c

    admin = MongoClient(uri, tz_aware=True, serverSelectionTimeoutMS=10000)
    coll = admin[db_name]["cas_probe"]
    coll.drop()
    coll.insert_one({"_id": "cas", "version": 0, "status": "pending", "winner": None})
    try:
        def prepare_cas():
            return coll.find_one({"_id": "cas"})["version"]

        def attempt_cas(client, v, k):
            res = client[db_name]["cas_probe"].update_one(
                {"_id": "cas", "version": v}, {"$inc": {"version": 1}, "$set": {"winner": k}})
            return res.modified_count == 1

        def prepare_claim():
            coll.update_one({"_id": "cas"}, {"$set": {"status": "pending", "winner": None}})
            return None

        def attempt_claim(client, _token, k):
            doc = client[db_name]["cas_probe"].find_one_and_update(
                {"_id": "cas", "status": "pending"}, {"$set": {"status": "sending", "winner": k}})
            return doc is not None

        cas = race(factory, args.threads, args.rounds, prepare_cas, attempt_cas)
        final = coll.find_one({"_id": "cas"})["version"]
        cas["version_after"] = final  # == sum(winners) on a correct engine
        claim = race(factory, args.threads, args.rounds, prepare_claim, attempt_claim)
        return {"cas": cas, "claim_race": claim}
    finally:
        coll.drop()
        admin.close()


# -- driver ---------------------------------------------------------------------
def engine_label(spec: str) -> tuple[str, str]:
    if "=" in spec and not spec.startswith("mongodb"):
        label, uri = spec.split("=", 1)
        return label, uri
    return spec, spec


def server_version(client) -> str:
    try:
        info = client.admin.command("buildInfo")
        return str(info.get("version", "?"))
    except Exception:
        return "?"


def run_engine(label: str, uri: str, args) -> list[dict]:
    client = MongoClient(uri, tz_aware=True, serverSelectionTimeoutMS=10000)
    db_name = args.db
    rows = []
    try:
        client.admin.command("ping")
        version = server_version(client)
        for size in args.sizes:
            rng = random.Random(args.seed + size)
            db = client[db_name]
            db.drop_collection("notifications")
            coll = db["notifications"]
            state = seed(coll, size, rng)
            row = {"engine": label, "uri": uri, "server_version": version, "size": size,
                   "pending": len(state["pending"]), "seed_s": state["seed_s"],
                   "shapes": bench_shapes(coll, state, args, rng)}
            if not args.no_probes and size == args.sizes[0]:
                row.update(probes(uri, db_name, args))
            db.drop_collection("notifications")
            print(json.dumps(row), flush=True)
            rows.append(row)
    finally:
        try:
            client.drop_database(db_name)
        finally:
            client.close()
    return rows


def table(rows: list[dict]) -> str:
    header = f"{'engine':<14}{'size':>7}  " + "".join(f"{s:>18}" for s in SHAPES)
    lines = ["p50 / p95 ms (x = wrong answers, E = errors)", header, "-" * len(header)]
    for row in rows:
        cells = []
        for name in SHAPES:
            r = row["shapes"][name]
            if "p50" not in r:
                cells.append(f"{'E':>18}")
                continue
            flag = ("x" if r["wrong"] else "") + ("E" if r["errors"] else "")
            cells.append(f"{r['p50']:>8.1f}/{r['p95']:<7.1f}{flag:<2}")
        lines.append(f"{row['engine']:<14}{row['size']:>7}  " + "".join(cells))
    for row in rows:
        for probe in ("cas", "claim_race"):
            if probe in row:
                p = row[probe]
                lines.append(f"{row['engine']} {probe}: {p['rounds_with_one_winner']}/{p['rounds']} rounds "
                             f"with exactly one winner of {p['threads']}; winners per round {p['winners']}"
                             + (f"; errors {p['errors']} ({p.get('error')})" if p["errors"] else ""))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uri", action="append", required=True,
                        help="mongodb://host:port/ or LABEL=mongodb://...; repeat for several engines")
    parser.add_argument("--sizes", default="2000,8000,20000",
                        type=lambda s: [int(x) for x in s.split(",") if x.strip()])
    parser.add_argument("--runs", type=int, default=60, help="timed runs per shape at most")
    parser.add_argument("--min-runs", type=int, default=8)
    parser.add_argument("--budget", type=float, default=8.0, help="seconds per shape before it stops early")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--no-probes", action="store_true")
    parser.add_argument("--db", default=f"bench_store_engines_{os.getpid()}")
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args(argv)

    rows = []
    for spec in args.uri:
        label, uri = engine_label(spec)
        rows.extend(run_engine(label, uri, args))
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
