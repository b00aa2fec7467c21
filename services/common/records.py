"""What every service does with the records it keeps: an audit chain others can ask about, and retention.

A mixin of each service class; the service says which retention policy is its own.
"""
from __future__ import annotations

from services.common.rpc import rpc
from nameko.timer import timer

from .audit import AuditTrail
from .gather import jsonable
from .retention import CHECK_SECONDS, DailyRun, RetentionPolicy, RetentionSettings


class KeptRecords:
    audit = AuditTrail()
    retention_schedule = RetentionSettings()

    def retention_policy(self) -> RetentionPolicy:
        raise NotImplementedError

    @rpc
    def audit_for_case(self, case_id):
        """This service's audit entries of a case (the referrals service gathers them for GET /audit)."""
        return jsonable(self.audit.for_case(case_id))

    @timer(interval=CHECK_SECONDS)
    def daily_retention(self):
        """Every replica asks; the one that claims today's run does it (retention.DailyRun)."""
        DailyRun(self.store.db).run_if_unclaimed(self.retention_policy(), self.retention_schedule)
