"""What the safety service holds about a case, for subject access and the cross-service audit view.

RPC entrypoints (a mixin of the service class): the referrals service asks, over the broker.
"""
from __future__ import annotations

from services.common.rpc import rpc

from services.common.consumer import consumes
from services.common.records import KeptRecords
from services.common.vocabulary import VISIT_STATUS_CHANGED
from services.common.gather import jsonable

from . import retention
from .assessment import PRIORITY_RAISED, VISIT_REQUESTED

# triage results after which the fire service's crew can read the person's details
DISCLOSED_TO_FIRE_SERVICE = frozenset({VISIT_REQUESTED, PRIORITY_RAISED})

_INTERNAL = ("outbox", "applied_events", "outbox_pending", "outbox_waiting", "outbox_lease_until",
             "outbox_lease_owner", "active_slot")


def holdings(store, case_id: str) -> dict:
    """Assessments (with the visit and its history) and privacy requests of the case."""
    assessments = [{k: v for k, v in doc.items() if k not in _INTERNAL}
                   for doc in store.assessments_of_case(case_id)]
    return jsonable({"assessments": assessments, "privacy_requests": store.privacy_requests_for(case_id)})


class SafetyRecords(KeptRecords):
    @rpc
    def subject_access(self, case_id):
        return {"holdings": holdings(self.store, case_id), "audit": jsonable(self.audit.for_case(case_id))}

    def retention_policy(self):
        return retention.VisitRetention(self.store, self.retention_schedule)

    @consumes(("safety", VISIT_STATUS_CHANGED))
    def note_for_retention(self, envelope):
        retention.note_finished(self.store.db, envelope, self.retention_schedule)
