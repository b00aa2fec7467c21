"""Referrals storage: cases (with their referrals, timeline and outbox), references, idempotency keys.

Every question asked on a hot path is answered by `_id` or an indexed
equality, never by reading the history:
- `lookups` maps a referral's reference and its id to its case (`_id`
  "reference:HRW-…" / "referral:<uuid>"). It is written before the case, so a
  crash in between leaves an entry that points at a case not holding that
  referral, which readers treat as absent.
- `timeline_events` holds what other services' events put on a case's
  timeline: one small document per event, `_id` = the event id, so a
  redelivery inserts nothing and the case document is not rewritten for every
  message sent. The case's own moves stay on the case, in the same write as
  the move; a case's timeline is the two merged (`timeline_of`).
- `case_list` is the coordinator's list: one small document per case, derived
  from the case alone (`listing_of`). Each case write sets `list_stale` in the
  same update and refreshes the listing right after; a crash in between is
  caught by the sweep, which asks only for `{"list_stale": true}`. `rev` orders
  refreshes, so an older one never overwrites a newer one. Every refresh also
  bumps `meta.case_list.version`; a process keeps the list it last read and
  reads it again only when that version moved, so a page of the list costs one
  `_id` lookup while nothing changes (the embedded engine sorts in Go, and
  reading every line costs ~0.1 ms a case).
"""
from __future__ import annotations

import time


import pymongo
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from services.common.envelope import utcnow
from services.common.idempotency import apply_once_returning, insert_once
from services.common.mongo import Repository

from . import attention
from .domain import postcode_district


class StaleCase(Exception):
    """The case changed since it was read (optimistic concurrency)."""


class CaseRepository(Repository):
    outbox_collections = ("cases",)

    @property
    def cases(self):
        return self.db["cases"]

    @property
    def lookups(self):
        return self.db["lookups"]

    @property
    def case_list(self):
        return self.db["case_list"]

    @property
    def timeline_events(self):
        return self.db["timeline_events"]

    def ensure_indexes(self) -> None:
        self.cases.create_index("reference", unique=True)
        self.cases.create_index("list_stale")
        self.case_list.create_index("status")
        self.timeline_events.create_index("case_id")
        self.timeline_events.create_index("type")  # reports ask for one kind of event (exports.py)
        self.migrate_once("cases.open_person_slot", self._backfill_person_slots)
        # one open case per person: two referrals arriving at once cannot both open one
        self.cases.create_index("open_person_slot", unique=True)
        self.migrate_once("lookups+case_list", self._backfill_lookups_and_listings)
        self.migrate_once("case_list.referrals", self._backfill_listed_referrals)
        # listings written before they carried the queue's facts, names and dates: the sweep rebuilds them
        self.migrate_once("case_list.attention", lambda: self.cases.update_many({}, {"$set": {"list_stale": True}}))

    def _backfill_listed_referrals(self) -> None:
        """Listings written before they carried their referrals (GET /referrals reads them)."""
        for case in list(self.cases.find({}, {"referrals.reference": 1, "referrals.agency": 1,
                                              "referrals.received_at": 1})):
            self.case_list.update_one({"_id": case["_id"]}, {"$set": {"referrals": listed_referrals(case)}})
        self.db["meta"].update_one({"_id": "case_list"}, {"$inc": {"version": 1}}, upsert=True)  # caches re-read

    def _backfill_lookups_and_listings(self) -> None:
        """Cases stored before `lookups` and `case_list` existed (a one-off read of every case)."""
        # read them all first: a cursor left open holds a read on the store while we write (see tools/mongowire)
        for case in list(self.cases.find({}, {"_id": 1, "referrals.reference": 1, "referrals.referral_id": 1})):
            for record in case.get("referrals", []):
                self.note_referral(case["_id"], record)
        self.cases.update_many({}, {"$set": {"list_stale": True}})

    def _backfill_person_slots(self) -> None:
        """Cases stored before the slot existed: the oldest open case of a person holds it."""
        taken = {c["open_person_slot"] for c in self.cases.find({"open_person_slot": {"$exists": True}},
                                                                {"open_person_slot": 1})}
        missing = self.cases.find({"open_person_slot": {"$exists": False}},
                                  {"person_key": 1, "status": 1}).sort("created_at", pymongo.ASCENDING)
        for case in missing:
            is_open = case.get("status") in ("received", "accepted", "in_progress", "on_hold")
            slot = case.get("person_key") if is_open and case.get("person_key") not in taken else case["_id"]
            taken.add(slot)
            self.cases.update_one({"_id": case["_id"]}, {"$set": {"open": is_open, "open_person_slot": slot}})

    # -- references -------------------------------------------------------
    def next_reference(self, prefix: str, year: int) -> str:
        """Sequential per year, allocated atomically: HRW-2026-000123."""
        counter = self.db["counters"].find_one_and_update(
            {"_id": f"{prefix}-{year}"}, {"$inc": {"seq": 1}},
            upsert=True, return_document=ReturnDocument.AFTER)
        return f"{prefix}-{year}-{counter['seq']:06d}"

    # -- idempotency keys ------------------------------------------------
    def claim_idempotency_key(self, key: str, body_hash: str, ids: dict) -> dict | None:
        """Reserve a key for this request; returns the existing record if taken."""
        try:
            self.db["idempotency_keys"].insert_one(
                {"_id": key, "body_hash": body_hash, "ids": ids, "response": None,
                 "created_at": utcnow()})
            return None
        except DuplicateKeyError:
            return self.db["idempotency_keys"].find_one({"_id": key})

    def idempotency_record(self, key: str) -> dict | None:
        return self.db["idempotency_keys"].find_one({"_id": key})

    def release_idempotency_key(self, key: str) -> None:
        """The request failed before storing anything: the same key may be sent again at once."""
        self.db["idempotency_keys"].delete_one({"_id": key, "response": None})

    def complete_idempotency_key(self, key: str, response: dict) -> None:
        self.db["idempotency_keys"].update_one({"_id": key}, {"$set": {"response": response}})

    # -- lookups ----------------------------------------------------------
    def note_referral(self, case_id: str, record: dict) -> None:
        """Where a referral lives, by its reference and by its id (written before the case)."""
        for key in (f"reference:{record['reference']}", f"referral:{record['referral_id']}"):
            self.lookups.update_one({"_id": key}, {"$set": {"case_id": case_id}}, upsert=True)

    def note_birth_date(self, case_id: str, person: dict) -> None:
        """Cases by the person's date of birth and postcode district: where near matches are looked for."""
        self.lookups.update_one({"_id": _born_key(person)}, {"$addToSet": {"case_ids": case_id}}, upsert=True)

    def forget_birth_date(self, case_id: str, person: dict) -> None:
        """Erasure: the case no longer stands under the person's date of birth."""
        self.lookups.update_one({"_id": _born_key(person)}, {"$pull": {"case_ids": case_id}})

    def open_cases_born_on(self, person: dict) -> list[dict]:
        """Open cases of people born the same day in the same postcode district (a handful at most)."""
        ids = (self.lookups.find_one({"_id": _born_key(person)}) or {}).get("case_ids", [])
        # one query per hundred (an _id $in list the embedded engine answers from the _id index)
        return [case for start in range(0, len(ids), 100)
                for case in self.cases.find({"_id": {"$in": ids[start:start + 100]}, "open": True},
                                            {"person": 1, "reference": 1, "open": 1})]

    def _case_holding(self, key: str, field: str, value: str) -> dict | None:
        entry = self.lookups.find_one({"_id": key})
        case = self.cases.find_one({"_id": entry["case_id"]}, {"outbox": 0, "applied_events": 0}) \
            if entry else None
        if case and any(r.get(field) == value for r in case.get("referrals", [])):
            return case
        return None  # never stored (a crash after the lookup was written), or erased

    # -- cases ------------------------------------------------------------
    def open_case(self, case: dict, events: list[dict]) -> None:
        """Insert a case and the events it causes in one write."""
        for record in case["referrals"]:
            self.note_referral(case["_id"], record)
        stored = {**case, "applied_events": [], "version": 1, "rev": 1, "list_stale": True}
        self.insert_with_events("cases", stored, events)
        self.refresh_listing(case["_id"], stored)  # just written: no need to read it back

    def add_referral(self, case_id: str, version: int, referral: dict, rating: dict, levels: dict,
                     timeline_entry: dict, events: list[dict]) -> None:
        """Link another referral of the same person to an open case (once per referral_id)."""
        self.note_referral(case_id, referral)
        result = self.update_with_events(
            "cases", {"_id": case_id, "version": version, "referrals.referral_id": {"$ne": referral["referral_id"]}},
            {"$push": {"referrals": referral, "timeline": timeline_entry, "cir_ratings": rating},
             "$set": {"updated_at": utcnow(), "list_stale": True, **levels}, "$inc": {"version": 1, "rev": 1}},
            events)
        if not result.matched_count:
            raise StaleCase(case_id)
        self.refresh_listing(case_id, result.document)

    def get(self, case_id: str) -> dict | None:
        return self.cases.find_one({"_id": case_id}, {"outbox": 0, "applied_events": 0})

    def find_by_reference(self, reference: str) -> dict | None:
        return self._case_holding(f"reference:{reference}", "reference", reference)

    def find_by_referral_id(self, referral_id: str) -> dict | None:
        return self._case_holding(f"referral:{referral_id}", "referral_id", referral_id)

    def find_open_case_for(self, person_key: str, open_statuses) -> dict | None:
        return self.cases.find_one({"open_person_slot": person_key, "status": {"$in": list(open_statuses)}},
                                   {"_id": 1, "version": 1, "reference": 1})

    def update_case(self, case_id: str, version: int, changes: dict, timeline_entries: list[dict],
                    events: list[dict]) -> None:
        """Change a case only if nobody changed it since we read `version` (optimistic concurrency)."""
        result = self.update_with_events(
            "cases", {"_id": case_id, "version": version},
            {"$set": {**changes, "updated_at": utcnow(), "list_stale": True}, "$inc": {"version": 1, "rev": 1},
             **({"$push": {"timeline": {"$each": timeline_entries}}} if timeline_entries else {})}, events)
        if not result.matched_count:
            raise StaleCase(case_id)
        self.refresh_listing(case_id, result.document)

    def record_event(self, case_id: str, event_id: str, timeline_entry: dict,
                     changes: dict | None = None) -> bool:
        """Put another service's event on the timeline, once per event_id.

        What it changes on the case (the visit, the urgency) is applied first, once
        (apply_once); the timeline entry is then inserted under the event's id, so a
        redelivery after a crash between the two still adds the entry, and never twice.
        """
        if changes:  # the visit and urgency show in the list: its line is refreshed too
            update = {"$set": {**changes, "updated_at": utcnow(), "list_stale": True}, "$inc": {"rev": 1}}
            changed = apply_once_returning(self.cases, {"_id": case_id}, update, event_id)
            if changed is not None:
                self.refresh_listing(case_id, changed)  # the case as the write left it: no read
        return insert_once(self.timeline_events, {**timeline_entry, "_id": event_id, "case_id": case_id})

    def timeline_of(self, case: dict) -> list[dict]:
        """The case's whole story: its own moves and every other service's events, in time order."""
        entries = {e["event_id"]: e for e in case.get("timeline", [])}
        for entry in self.timeline_events.find({"case_id": case["_id"]}):
            entries.setdefault(entry["_id"], {k: v for k, v in entry.items() if k not in ("_id", "case_id")})
        return sorted(entries.values(), key=lambda e: e["at"])

    # -- the coordinator's list ---------------------------------------------------
    def refresh_listing(self, case_id: str, case: dict | None = None) -> None:
        if case is None:
            case = self.cases.find_one({"_id": case_id}, {"outbox": 0, "applied_events": 0, "timeline": 0})
        if case is None:
            return
        rev = case.get("rev", 0)
        try:
            self.case_list.update_one({"_id": case_id, "rev": {"$lt": rev}},
                                      {"$set": {**listing_of(case), "rev": rev}}, upsert=True)
        except DuplicateKeyError:
            pass  # a refresh of a newer revision got there first
        self.db["meta"].update_one({"_id": "case_list"}, {"$inc": {"version": 1}}, upsert=True)
        self.cases.update_one({"_id": case_id, "rev": rev, "list_stale": True}, {"$set": {"list_stale": False}})

    def refresh_stale_listings(self, limit: int = 200, budget_seconds: float = 30.0) -> int:
        """The sweep: listings a crash (or a migration) left behind, in batches of `limit` until none are
        left or the time budget is spent (an indexed equality: only those are read)."""
        done, deadline = 0, time.monotonic() + budget_seconds
        while True:
            stale = [c["_id"] for c in self.cases.find({"list_stale": True}, {"_id": 1}).limit(limit)]
            for case_id in stale:
                self.refresh_listing(case_id)
            done += len(stale)
            if len(stale) < limit or time.monotonic() > deadline:
                return done

    def list_cases(self, *, status=None, level=None, q=None, ids=None, needs_action=False, page=1, per_page=20,
                   now=None, threshold=attention.DEFAULT_SAFEGUARDING_CIR_THRESHOLD) -> tuple[list[dict], int]:
        """A page of the list and its total; each line with `needs_action` as of `now` (attention.py).
        `needs_action=True`: only the cases that need the coordinator, most urgent first (the queue)."""
        term = search_term(q) if q else None
        now = now or utcnow()
        lines = [d for d in self._listings()
                 if (not status or d["status"] == status) and (not level or d.get("level") == level)
                 and (not term or term in d.get("search", "")) and (not ids or d["_id"] in ids)]
        start, end = (page - 1) * per_page, page * per_page
        if needs_action:
            ranked = attention.queue(lines, now, threshold)
            return [{**line, "needs_action": needs} for line, needs in ranked[start:end]], len(ranked)
        return [{**line, "needs_action": attention.needs_action(line.get("attention"), now, threshold)}
                for line in lines[start:end]], len(lines)

    def _listings(self) -> list[dict]:
        """Every line of the list, most urgent first; read again only when a refresh moved the version."""
        version = (self.db["meta"].find_one({"_id": "case_list"}) or {}).get("version", 0)
        cached = _LISTINGS.get(self._cache_key)
        if cached is None or cached[0] != version:
            # the version is read first: a change during the read makes the next request read again
            lines = sorted(self.case_list.find({}), key=_urgency_order)
            cached = _LISTINGS[self._cache_key] = (version, lines)
        return cached[1]

    @property
    def _cache_key(self):
        return (id(self.db.client), self.db.name)

    def list_referrals(self, *, agency=None, reference=None, page=1, per_page=20) -> tuple[list[dict], int]:
        """Which referrals, newest first: `(page of {case_id, reference, received_at}, total)`; one agency's,
        or everyone's when `agency` is None. Read from the listings this process keeps (`_listings`), or
        through the reference lookup for one reference; the service reads each case on the page for its view.
        """
        if reference:
            entry = self.lookups.find_one({"_id": f"reference:{reference}"})
            listings = [self.case_list.find_one({"_id": entry["case_id"]})] if entry else []
        else:
            listings = self._listings()
        rows = [{"case_id": listing["_id"], "reference": r["reference"], "received_at": r["received_at"]}
                for listing in listings if listing for r in listing.get("referrals", [])
                if (agency is None or r["agency"] == agency) and (reference is None or r["reference"] == reference)]
        rows.sort(key=lambda row: row["received_at"], reverse=True)
        return rows[(page - 1) * per_page: page * per_page], len(rows)



# the coordinator's list as this process last read it: (database) -> (meta version, lines in order)
_LISTINGS: dict = {}


def _urgency_order(line: dict):
    """Open cases first, then the most urgent, the highest level, the oldest."""
    created = line.get("created_at")
    return (not line.get("open", True), -(line.get("urgency") or 0), -(line.get("level") or 0),
            created.timestamp() if created else 0.0)


def _born_key(person: dict) -> str:
    return f"born:{str(person['date_of_birth'])[:10]}:{postcode_district(person['address']['postcode'])}"


def search_term(text: str) -> str:
    """What a search is compared on: lower case, single spaces (postcodes match with or without one)."""
    return " ".join(text.lower().split())


def listed_referrals(case: dict) -> list[dict]:
    """Each referral's reference, agency and date: what the referrers' own lists show."""
    return [{"reference": r["reference"], "agency": r.get("agency"), "received_at": r.get("received_at")}
            for r in case.get("referrals", []) if r.get("reference")]


def listing_of(case: dict) -> dict:
    """A case's line in the coordinator's list: only what the list shows, sorts and searches on."""
    person = case.get("person") or {}
    postcode = ((person.get("address") or {}).get("postcode") or "")
    words = [case.get("reference", ""), *(r.get("reference", "") for r in case.get("referrals", [])),
             person.get("given_name") or "", person.get("family_name") or "", postcode, postcode.replace(" ", "")]
    visit = case.get("visit") or {}
    return {"reference": case["reference"], "status": case["status"], "level": case.get("level"),
            "cir_max": case.get("cir_max"), "visit": {"status": visit.get("status"), "priority": visit.get("priority"),
                                                      "due_by": visit.get("due_by")} if visit else None,
            # what the list shows of the person; erasure empties both
            "name": " ".join(n for n in (person.get("given_name"), person.get("family_name")) if n),
            "postcode": postcode, "received_at": attention.received_at(case),
            # what the coordinator's queue reads; the reasons themselves depend on the time of reading
            "attention": attention.facts_of(case),
            "open": case.get("open", True), "urgency": case.get("urgency", 0),
            "created_at": case.get("created_at"), "updated_at": case.get("updated_at"),
            # each referral's reference, agency and date: the referrers' own lists (GET /referrals)
            "referrals": listed_referrals(case),
            # erasure empties the person, so a rebuilt listing can no longer be found by name
            "search": search_term(" | ".join(w for w in words if w))}
