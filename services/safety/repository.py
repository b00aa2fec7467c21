"""Safety storage: one assessment per referral, holding the HFSV request when one is raised,
and the privacy requests (consent withdrawn, case erased) each case has received."""
from __future__ import annotations

from datetime import datetime

import pymongo
from pymongo.errors import DuplicateKeyError

from services.common.envelope import utcnow
from services.common.idempotency import insert_once
from services.common.mongo import Repository

# What GET /visits and the officer moves never read back.
_INTERNAL = {"outbox": 0, "applied_events": 0}


class StaleVisit(Exception):
    """The visit changed since it was read (optimistic concurrency)."""


class ActiveVisitExists(Exception):
    """Another visit of the case became active meanwhile (the `active_slot` unique index)."""


class VisitRepository(Repository):
    outbox_collections = ("assessments",)

    @property
    def assessments(self):
        return self.db["assessments"]

    @property
    def privacy_requests(self):
        return self.db["privacy_requests"]

    def ensure_indexes(self) -> None:
        # On MongoDB these serve the lookups; FerretDB/SQLite answers top-level string equality
        # and _id itself, which is why every read below is one of those.
        self.assessments.create_index("active_slot", unique=True)  # one active visit per case
        self.assessments.create_index("case_id")
        self.assessments.create_index([("status", 1), ("priority", 1)])
        self.privacy_requests.create_index("case_id")

    # -- assessments and visits ------------------------------------------
    def record_assessment(self, assessment: dict, events: list[dict]) -> bool:
        """Store a triage decision and its events once per referral_received event.

        The assessment's _id derives from the event id, so False means this event
        was recorded before; ActiveVisitExists if it raises a visit while the case
        already has an active one.
        """
        now = utcnow()
        try:
            return self.insert_with_events("assessments", {**assessment, "version": 1, "applied_events": [],
                                                           "created_at": now, "updated_at": now}, events)
        except DuplicateKeyError:
            # the server does not say which unique index refused it: look
            if self.get_assessment(assessment["_id"]) is not None:
                return False
            raise ActiveVisitExists(assessment["case_id"]) from None

    def active_visit(self, case_id: str) -> dict | None:
        return self.assessments.find_one({"active_slot": case_id}, {"outbox": 0})

    def get_assessment(self, assessment_id: str) -> dict | None:
        return self.assessments.find_one({"_id": assessment_id}, {"outbox": 0})

    def assessments_of_case(self, case_id: str) -> list[dict]:
        return list(self.assessments.find({"case_id": case_id}, {"outbox": 0}))

    def get_visit(self, visit_id: str) -> dict | None:
        # a lone _id equality (the primary key everywhere); `raised` is checked here
        visit = self.assessments.find_one({"_id": visit_id}, _INTERNAL)
        return visit if visit and visit.get("raised") else None

    def visits_with_status(self, status: str, priority: str | None = None) -> list[dict]:
        """Visits in one status (only raised visits have one): plain string equality, no ranges."""
        query = {"status": status}
        if priority:
            query["priority"] = priority
        return list(self.assessments.find(query, _INTERNAL))

    def count_with_status(self, status: str, priority: str | None = None) -> int:
        query = {"status": status}
        if priority:
            query["priority"] = priority
        return self.assessments.count_documents(query)

    def change_visit(self, visit_id: str, version: int, changes: dict, events: list[dict],
                     applied_event: str | None = None) -> None:
        """Write `changes` and their events only if nobody changed the visit since `version`.

        `applied_event` records an upstream event in the same write, so its
        redelivery finds it there and changes nothing.
        """
        doc_filter = {"_id": visit_id, "version": version}
        update = {"$set": {**changes, "updated_at": utcnow()}, "$inc": {"version": 1}}
        if applied_event:
            doc_filter["applied_events"] = {"$ne": applied_event}
            update["$push"] = {"applied_events": applied_event}
        if not self.update_with_events("assessments", doc_filter, update, events).matched_count:
            raise StaleVisit(visit_id)

    def claim_overdue(self, visit: dict, event: dict, now: datetime) -> bool:
        """Mark the visit overdue with its visit_overdue event in one conditional write.

        Only one replica's write can match `overdue_notified: False`, so the event
        is stored (and so published) exactly once. `version` in the filter means
        the event describes the visit as it is; the version is not bumped, so an
        officer's move in flight is not refused because of this.
        """
        result = self.update_with_events(
            "assessments", {"_id": visit["_id"], "version": visit["version"], "overdue_notified": False},
            {"$set": {"overdue_notified": True, "overdue_notified_at": now}}, [event])
        return result.modified_count == 1

    # -- privacy requests -----------------------------------------------------
    def record_privacy_request(self, request: dict) -> bool:
        """Keep a consent withdrawal or erasure (its _id is the event id); False if kept before."""
        return insert_once(self.privacy_requests, {**request, "recorded_at": utcnow()})

    def privacy_requests_for(self, case_id: str) -> list[dict]:
        return list(self.privacy_requests.find({"case_id": case_id}).sort("occurred_at", pymongo.ASCENDING))
