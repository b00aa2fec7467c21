"""Taking a referral in: references, duplicate people, idempotency keys.

Orchestration between the HTTP entrypoint, the pure rules in domain.py and
the repository; every state change is one single-document write carrying its events.
"""
from __future__ import annotations

import hashlib
import json
import time
import uuid
from datetime import timedelta

import eventlet
from pymongo.errors import DuplicateKeyError

from services.common.envelope import utcnow
from services.common.http import Conflict
from services.common.logs import bind_context, get_logger

from . import domain
from .events import referral_event, timeline_entry
from .lifecycle import OPEN_STATUSES
from .repository import StaleCase
from .schemas import person_key

log = get_logger(__name__)

# How long a second request with the same Idempotency-Key waits for the first.
IDEMPOTENCY_WAIT_SECONDS = 5.0
# A claim older than this with no referral behind it was left by a crashed request.
IDEMPOTENCY_ABANDONED_AFTER = timedelta(seconds=30)


def new_ids() -> dict:
    return {"case_id": str(uuid.uuid4()), "referral_id": str(uuid.uuid4())}


def body_hash(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def created_response(case_id: str, record: dict) -> dict:
    return {"referral_id": record["referral_id"], "case_id": case_id,
            "reference": record["reference"], "status": "received"}


def submit(store, referral: dict, *, agency: str, principal, correlation_id: str,
           idempotency_key: str | None, raw_body: dict) -> tuple[int, dict]:
    """Store a referral once; returns (status, body) for the HTTP response."""
    if not idempotency_key:
        return 201, store_referral(store, referral, agency, principal, correlation_id, new_ids())
    scoped_key = f"{principal.agency or principal.key_id}:{idempotency_key}"
    digest = body_hash(raw_body)
    ids = new_ids()
    existing = store.claim_idempotency_key(scoped_key, digest, ids)
    if existing is None:
        try:
            response = store_referral(store, referral, agency, principal, correlation_id, ids)
        except Exception:
            store.release_idempotency_key(scoped_key)
            raise
        store.complete_idempotency_key(scoped_key, response)
        return 201, response
    if existing["body_hash"] != digest:
        raise Conflict("this Idempotency-Key was already used with a different body")
    return 200, _replay(store, existing, scoped_key, referral, agency, principal, correlation_id)


def _replay(store, existing, scoped_key, referral, agency, principal, correlation_id):
    deadline = time.monotonic() + IDEMPOTENCY_WAIT_SECONDS
    while True:
        if existing.get("response"):
            return existing["response"]
        case = store.find_by_referral_id(existing["ids"]["referral_id"])
        if case is not None:  # stored, but the first request died before answering
            record = next(r for r in case["referrals"] if r["referral_id"] == existing["ids"]["referral_id"])
            response = created_response(case["_id"], record)
            store.complete_idempotency_key(scoped_key, response)
            return response
        if utcnow() - existing["created_at"] > IDEMPOTENCY_ABANDONED_AFTER:
            # the first request crashed before storing: finish its work with its ids
            response = store_referral(store, referral, agency, principal, correlation_id, existing["ids"])
            store.complete_idempotency_key(scoped_key, response)
            return response
        if time.monotonic() > deadline:
            raise Conflict("a request with this Idempotency-Key is still being processed; "
                           "send it again in a few seconds")
        eventlet.sleep(0.05)
        existing = store.idempotency_record(scoped_key)


def store_referral(store, referral, agency, principal, correlation_id, ids) -> dict:
    received_at = utcnow()
    reference = store.next_reference(domain.REFERENCE_PREFIX, received_at.year)
    record = domain.referral_record(referral, referral_id=ids["referral_id"], reference=reference,
                                    agency=agency, received_at=received_at, key_id=principal.key_id)
    key = person_key(referral["person"])
    for _ in range(5):  # another write to the open case won the race: read it again
        open_case = store.find_open_case_for(key, OPEN_STATUSES)
        if open_case is None:
            case_id = _open_case(store, referral, record, ids["case_id"], key, agency, correlation_id)
            if case_id is None:
                continue  # a referral for the same person opened a case a moment ago: link to it
            return created_response(case_id, record)
        case = store.get(open_case["_id"])
        bind_context(case_id=case["_id"])
        rating = domain.rating_entry(record)
        levels = domain.rating_levels([*case.get("cir_ratings", []), rating], received_at.date())
        data = domain.referral_received_data({**case, **levels}, record, duplicate_of=case["_id"])
        event = referral_event("referral_received", case, correlation_id, data)
        entry = {**timeline_entry(event, f"Another referral ({reference}) from {agency} for the same "
                                         f"person, linked to this case"), "type": "duplicate_referral"}
        try:
            store.add_referral(case["_id"], case["version"], record, rating, levels, entry, [event])
        except StaleCase:
            continue
        log.info("duplicate_referral_linked", reference=reference)
        return created_response(case["_id"], record)
    raise StaleCase("the person's case kept changing; send the referral again")


def _open_case(store, referral, record, case_id, key, agency, correlation_id) -> str | None:
    """A new case for this person, or None when another request just opened theirs."""
    bind_context(case_id=case_id)
    case = domain.new_case(referral, record, case_id=case_id, person_key=key)
    event = referral_event("referral_received", case, correlation_id, domain.referral_received_data(case, record))
    case["timeline"] = [timeline_entry(event, f"Referral {record['reference']} received from {agency}")]
    matches = [c for c in store.open_cases_born_on(referral["person"]["date_of_birth"])
               if c["_id"] != case_id and domain.possibly_same_person(referral["person"], c["person"])]
    if matches:  # never linked automatically: a coordinator decides
        case["possible_matches"] = [{"case_id": c["_id"], "reference": c["reference"]} for c in matches]
        case["timeline"].append({**case["timeline"][0], "event_id": f"{event['event_id']}:possible-match",
                                 "type": "possible_match",
                                 "summary": "Possibly the same person as " + ", ".join(
                                     c["reference"] for c in matches) + ": a coordinator decides whether to "
                                     "link them"})
    store.note_birth_date(case_id, referral["person"]["date_of_birth"])
    try:
        store.open_case(case, [event])
    except DuplicateKeyError:
        if store.get(case_id) is not None:
            raise  # our own case id: the idempotent replay paths handle this
        return None
    log.info("referral_received", reference=record["reference"], level=case["level"])
    return case_id
