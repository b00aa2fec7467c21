"""`refhub retention run [--dry-run]`: every service's retention now, against its own database.

Erasures write their `case_erased` events to the case's outbox: the running referrals service's relay
publishes them, so safety and notifications erase their copies too.
"""
from __future__ import annotations

from services.common.envelope import utcnow
from services.common.mongo import connect
from services.common.retention import RetentionSchedule, ensure_indexes, run_retention


def policies(settings, schedule):
    from services.notifications.repository import NotificationRepository
    from services.notifications.retention import BodyRetention
    from services.referrals.repository import CaseRepository
    from services.referrals.retention import CaseRetention
    from services.safety.repository import VisitRepository
    from services.safety.retention import VisitRetention

    client = connect(settings.effective_mongo_uri)
    return [CaseRetention(CaseRepository(client[settings.database("referrals")]), schedule),
            VisitRetention(VisitRepository(client[settings.database("safety")]), schedule),
            BodyRetention(NotificationRepository(client[settings.database("notifications")]), schedule)]


def run(settings, dry_run: bool = False, now=None) -> list[dict]:
    schedule = RetentionSchedule.from_config(None)
    reports = []
    for policy in policies(settings, schedule):
        ensure_indexes(policy.store.db)
        reports.append(run_retention(policy.store.db, policy, schedule, now or utcnow(), dry_run=dry_run).as_dict())
    return reports
