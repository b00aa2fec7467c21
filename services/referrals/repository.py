"""Referrals storage: cases (with their referrals, timeline and outbox), references, idempotency keys."""
from __future__ import annotations

import pymongo
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from services.common.envelope import utcnow
from services.common.idempotency import apply_once
from services.common.mongo import Repository


class StaleCase(Exception):
    """The case changed since it was read (optimistic concurrency)."""


class CaseRepository(Repository):
    outbox_collections = ("cases",)

    @property
    def cases(self):
        return self.db["cases"]

    def ensure_indexes(self) -> None:
        self.cases.create_index("reference", unique=True)
        self.cases.create_index("referrals.reference")
        self.cases.create_index([("person_key", 1), ("status", 1)])
        self.cases.create_index([("status", 1), ("updated_at", -1)])
        self.cases.create_index("outbox_pending")
        self._backfill_person_slots()
        # one open case per person: two referrals arriving at once cannot both open one
        self.cases.create_index("open_person_slot", unique=True)

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

    # -- cases ------------------------------------------------------------
    def open_case(self, case: dict, events: list[dict]) -> None:
        """Insert a case and the events it causes in one write."""
        self.insert_with_events("cases", {**case, "applied_events": [], "version": 1}, events)

    def add_referral(self, case_id: str, version: int, referral: dict, rating: dict, levels: dict,
                     timeline_entry: dict, events: list[dict]) -> None:
        """Link another referral of the same person to an open case (once per referral_id)."""
        result = self.update_with_events(
            "cases", {"_id": case_id, "version": version, "referrals.referral_id": {"$ne": referral["referral_id"]}},
            {"$push": {"referrals": referral, "timeline": timeline_entry, "cir_ratings": rating},
             "$set": {"updated_at": utcnow(), **levels}, "$inc": {"version": 1}}, events)
        if not result.matched_count:
            raise StaleCase(case_id)

    def get(self, case_id: str) -> dict | None:
        return self.cases.find_one({"_id": case_id}, {"outbox": 0, "applied_events": 0})

    def find_by_reference(self, reference: str) -> dict | None:
        return self.cases.find_one({"referrals.reference": reference},
                                   {"outbox": 0, "applied_events": 0, "timeline": 0})

    def find_by_referral_id(self, referral_id: str) -> dict | None:
        return self.cases.find_one({"referrals.referral_id": referral_id},
                                   {"outbox": 0, "applied_events": 0, "timeline": 0})

    def find_open_case_for(self, person_key: str, open_statuses) -> dict | None:
        return self.cases.find_one({"open_person_slot": person_key, "status": {"$in": list(open_statuses)}},
                                   {"_id": 1, "version": 1, "reference": 1})

    def update_case(self, case_id: str, version: int, changes: dict, timeline_entries: list[dict],
                    events: list[dict]) -> None:
        """Change a case only if nobody changed it since we read `version` (optimistic concurrency)."""
        result = self.update_with_events(
            "cases", {"_id": case_id, "version": version},
            {"$set": {**changes, "updated_at": utcnow()}, "$inc": {"version": 1},
             **({"$push": {"timeline": {"$each": timeline_entries}}} if timeline_entries else {})}, events)
        if not result.matched_count:
            raise StaleCase(case_id)

    def record_event(self, case_id: str, event_id: str, timeline_entry: dict,
                     changes: dict | None = None) -> bool:
        """Put another service's event on the timeline, once per event_id."""
        update = {"$push": {"timeline": timeline_entry}, "$set": {"updated_at": utcnow()}}
        if changes:
            update["$set"].update(changes)
        return apply_once(self.cases, {"_id": case_id}, update, event_id)

    def list_cases(self, *, status=None, level=None, page=1, per_page=20) -> tuple[list[dict], int]:
        query = {}
        if status:
            query["status"] = status
        if level:
            query["level"] = level
        total = self.cases.count_documents(query)
        docs = list(self.cases.find(query, {"timeline": 0, "outbox": 0, "applied_events": 0,
                                            "referrals": 0, "person": 0})
                    .sort([("open", pymongo.DESCENDING), ("urgency", pymongo.DESCENDING),
                           ("level", pymongo.DESCENDING), ("created_at", pymongo.ASCENDING)])
                    .skip((page - 1) * per_page).limit(per_page))
        return docs, total

    def list_referrals(self, *, agency=None, reference=None, page=1, per_page=20) -> tuple[list[dict], int]:
        """Referrals (not cases), newest first: one agency's, or everyone's when `agency` is None."""
        match = {}
        if agency:
            match["agency"] = agency
        if reference:
            match["reference"] = reference
        query = {f"referrals.{k}": v for k, v in match.items()}
        docs = self.cases.find(query, {"referrals": 1, "status": 1, "visit": 1, "updated_at": 1})
        rows = [{"reference": r["reference"], "received_at": r["received_at"], "status": case["status"],
                 "visit_status": (case.get("visit") or {}).get("status"), "updated_at": case["updated_at"]}
                for case in docs for r in case.get("referrals", [])
                if all(r.get(k) == v for k, v in match.items())]
        rows.sort(key=lambda row: row["received_at"], reverse=True)
        return rows[(page - 1) * per_page: page * per_page], len(rows)
