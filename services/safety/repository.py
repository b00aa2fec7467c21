"""Safety storage: one assessment per referral, holding the HFSV request when one is raised."""
from __future__ import annotations

import pymongo

from services.common.envelope import utcnow
from services.common.idempotency import insert_once
from services.common.mongo import Repository
from services.common.outbox import outbox_fields, with_outbox

PRIORITY_RANK = {"very_high": 0, "high": 1, "medium": 2, "low": 3}


class StaleVisit(Exception):
    """The visit changed since it was read (optimistic concurrency)."""


class VisitRepository(Repository):
    outbox_collections = ("assessments",)

    @property
    def assessments(self):
        return self.db["assessments"]

    def ensure_indexes(self) -> None:
        self.assessments.create_index("source_event_id", unique=True)
        self.assessments.create_index("case_id")
        self.assessments.create_index([("raised", 1), ("status", 1), ("priority_rank", 1), ("due_by", 1)])
        self.assessments.create_index("outbox_pending")

    def record_assessment(self, assessment: dict, events: list[dict]) -> bool:
        """Store a triage decision and its events once per referral_received event."""
        return insert_once(self.assessments, {**assessment, **outbox_fields(events), "version": 1,
                                              "created_at": utcnow(), "updated_at": utcnow()})

    def get_visit(self, visit_id: str) -> dict | None:
        return self.assessments.find_one({"_id": visit_id, "raised": True}, {"outbox": 0})

    def list_visits(self, *, status=None, priority=None) -> list[dict]:
        query = {"raised": True}
        if status:
            query["status"] = status
        if priority:
            query["priority"] = priority
        return list(self.assessments.find(query, {"outbox": 0})
                    .sort([("priority_rank", pymongo.ASCENDING), ("due_by", pymongo.ASCENDING)]))

    def change_visit(self, visit_id: str, version: int, changes: dict, events: list[dict]) -> None:
        result = self.assessments.update_one(
            {"_id": visit_id, "version": version},
            with_outbox({"$set": {**changes, "updated_at": utcnow()}, "$inc": {"version": 1}}, events))
        if not result.matched_count:
            raise StaleVisit(visit_id)
