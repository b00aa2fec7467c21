"""An in-memory VisitRepository: the same verbs over dicts, with the same guarantees the real one
gets from MongoDB (unique `_id` and `active_slot`, version-checked writes, events written with
their change). Any verb it does not define fails loudly (there is no database behind it)."""
from __future__ import annotations

import copy

from services.common.envelope import utcnow
from services.safety.repository import ActiveVisitExists, StaleVisit, VisitRepository

_HIDDEN = ("outbox", "applied_events")


class InMemoryVisits(VisitRepository):
    def __init__(self):
        super().__init__(db=None)
        self.docs: dict[str, dict] = {}
        self.requests: dict[str, dict] = {}
        self.written: list[dict] = []          # every event written, in order (the outbox, flattened)
        self.reads: list[tuple] = []           # (verb, argument) of every read, to check what was read
        self.parked_erased: list[str] = []

    # -- helpers for tests --------------------------------------------------
    def events(self, event_type=None) -> list[dict]:
        return [e for e in self.written if event_type is None or e["event_type"] == event_type]

    def _write_events(self, doc_id, events):
        for event in events:
            self.docs[doc_id].setdefault("outbox", []).append(event)
            self.written.append(copy.deepcopy(event))

    @staticmethod
    def _view(doc, hide=("outbox",)):
        return {k: copy.deepcopy(v) for k, v in doc.items() if k not in hide}

    # -- assessments and visits ---------------------------------------------
    def record_assessment(self, assessment, events):
        if assessment["_id"] in self.docs:
            return False
        if any(d["active_slot"] == assessment["active_slot"] for d in self.docs.values()):
            raise ActiveVisitExists(assessment["case_id"])
        now = utcnow()
        self.docs[assessment["_id"]] = {**copy.deepcopy(assessment), "version": 1, "applied_events": [],
                                        "created_at": now, "updated_at": now}
        self._write_events(assessment["_id"], events)
        return True

    def active_visit(self, case_id):
        self.reads.append(("active_visit", case_id))
        return next((self._view(d) for d in self.docs.values() if d["active_slot"] == case_id), None)

    def get_assessment(self, assessment_id):
        self.reads.append(("get_assessment", assessment_id))
        doc = self.docs.get(assessment_id)
        return self._view(doc) if doc else None

    def assessments_of_case(self, case_id):
        self.reads.append(("assessments_of_case", case_id))
        return [self._view(d) for d in self.docs.values() if d["case_id"] == case_id]

    def get_visit(self, visit_id):
        self.reads.append(("get_visit", visit_id))
        doc = self.docs.get(visit_id)
        return self._view(doc, _HIDDEN) if doc and doc.get("raised") else None

    def visits_with_status(self, status, priority=None):
        self.reads.append(("visits_with_status", status))
        return [self._view(d, _HIDDEN) for d in self.docs.values()
                if d.get("status") == status and (priority is None or d["priority"] == priority)]

    def count_with_status(self, status, priority=None):
        self.reads.append(("count_with_status", status))
        return sum(1 for d in self.docs.values()
                   if d.get("status") == status and (priority is None or d["priority"] == priority))

    def change_visit(self, visit_id, version, changes, events, applied_event=None):
        doc = self.docs.get(visit_id)
        if doc is None or doc.get("version") != version or applied_event in doc["applied_events"]:
            raise StaleVisit(visit_id)
        for key, value in {**changes, "updated_at": utcnow()}.items():
            target = doc
            *parents, leaf = key.split(".")
            for part in parents:
                target = target.setdefault(part, {})
            target[leaf] = copy.deepcopy(value)
        doc["version"] += 1
        if applied_event:
            doc["applied_events"].append(applied_event)
        self._write_events(visit_id, events)

    def claim_overdue(self, visit, event, now):
        doc = self.docs.get(visit["_id"])
        if doc is None or doc["version"] != visit["version"] or doc.get("overdue_notified") is not False:
            return False
        doc.update(overdue_notified=True, overdue_notified_at=now)
        self._write_events(visit["_id"], [event])
        return True

    # -- privacy requests ---------------------------------------------------
    def record_privacy_request(self, request):
        if request["_id"] in self.requests:
            return False
        self.requests[request["_id"]] = {**copy.deepcopy(request), "recorded_at": utcnow()}
        return True

    def privacy_requests_for(self, case_id):
        return sorted((copy.deepcopy(r) for r in self.requests.values() if r["case_id"] == case_id),
                      key=lambda r: r["occurred_at"])

    def erase_parked_events(self, case_id):
        self.parked_erased.append(case_id)
