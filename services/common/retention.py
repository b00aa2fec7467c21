"""Retention: what each service keeps how long, and a daily run that replicas share.

Candidates are never found by scanning history. When something becomes finished (a case closed, a
visit's outcome, a message sent or failed) the service's own event, consumed from its outbox, writes a
marker `{_id: "<kind>:<id>", due_on: "YYYY-MM-DD"}` in `retention_due`. The daily run asks for
`due_on == <day>` (top-level string equality: an index on MongoDB and on the embedded engine) for
each day since the last run, re-checks each candidate against its current state and acts. Dead letters
are found by `parked_at < cutoff` (a range, indexed on MongoDB; the collection holds only failures).

One run a day over all replicas: the run claims `retention_runs/{day}` by inserting it (unique `_id`);
a run that died keeps its claim only until its lease ends, then another replica takes it over.
"""
from __future__ import annotations

import calendar
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from nameko.extensions import DependencyProvider
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from .envelope import utcnow
from .logs import get_logger
from .mongo import DEAD_LETTERS, acquire_client, release_client

log = get_logger(__name__)

MARKERS = "retention_due"
RUNS = "retention_runs"
PROGRESS_ID = "progress"
MAX_CATCH_UP_DAYS = 400  # a run after a long outage asks for at most this many past days
DEFAULT_LEASE = timedelta(hours=1)
# how often each replica asks whether today's run is still to do (the run itself is once a day)
CHECK_SECONDS = float(os.environ.get("RETENTION_CHECK_SECONDS") or 3600)


@dataclass(frozen=True)
class RetentionSchedule:
    """How long things are kept (DOMAIN.md, Privacy); every number is configuration."""
    closed_case_months: int = 24
    finished_visit_months: int = 12
    delivery_body_months: int = 6
    dead_letter_days: int = 30

    @classmethod
    def from_config(cls, config) -> "RetentionSchedule":
        def number(name, default):
            value = config.get(name) if config is not None else None
            value = value if value not in (None, "") else os.environ.get(name)
            return int(value) if value not in (None, "") else default

        return cls(closed_case_months=number("RETENTION_CLOSED_CASE_MONTHS", cls.closed_case_months),
                   finished_visit_months=number("RETENTION_FINISHED_VISIT_MONTHS", cls.finished_visit_months),
                   delivery_body_months=number("RETENTION_DELIVERY_BODY_MONTHS", cls.delivery_body_months),
                   dead_letter_days=number("RETENTION_DEAD_LETTER_DAYS", cls.dead_letter_days))


def add_months(day: date, months: int) -> date:
    """The same day `months` later; the month's last day when it has no such day (31 Jan + 1 = 28/29 Feb)."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def as_day(moment) -> date:
    if isinstance(moment, datetime):
        return moment.date()
    if isinstance(moment, str):
        return datetime.fromisoformat(moment).date()
    return moment


def days_to_ask(through: date | None, today: date, first_day: date | None = None) -> list[date]:
    """The days whose markers are now due: after the last run's day up to today (at most MAX_CATCH_UP_DAYS)."""
    start = through + timedelta(days=1) if through else (first_day or today - timedelta(days=MAX_CATCH_UP_DAYS))
    start = max(start, today - timedelta(days=MAX_CATCH_UP_DAYS))
    return [start + timedelta(days=n) for n in range((today - start).days + 1)]


def mark(db, kind: str, target_id: str, due_on: date, **facts) -> None:
    """Note that `target_id` is due for `kind` on `due_on` (upsert: a later fact moves the date)."""
    db[MARKERS].update_one({"_id": f"{kind}:{target_id}"},
                           {"$set": {"kind": kind, "target_id": target_id, "due_on": due_on.isoformat(),
                                     "noted_at": utcnow(), **facts}}, upsert=True)


def ensure_indexes(db) -> None:
    db[MARKERS].create_index("due_on")
    db[DEAD_LETTERS].create_index("parked_at")


@dataclass
class Report:
    service: str
    today: str
    dry_run: bool
    acted: dict = field(default_factory=dict)      # kind -> ids acted on (or that would be)
    deferred: dict = field(default_factory=dict)   # kind -> ids not due yet after all (re-marked)
    dropped: int = 0                               # markers whose target is gone or reopened
    dead_letters: int = 0

    def as_dict(self) -> dict:
        return {"service": self.service, "today": self.today, "dry_run": self.dry_run,
                "acted": {k: len(v) for k, v in self.acted.items()},
                "acted_ids": self.acted, "deferred": {k: len(v) for k, v in self.deferred.items()},
                "dropped_markers": self.dropped, "dead_letters_deleted": self.dead_letters}


# What a policy says about one marked item: act now, not yet (with its real due day), or forget it.
ACT, NOT_YET, FORGET = "act", "not_yet", "forget"


class RetentionPolicy:
    """A service's rules: `decide(marker, today)` -> (ACT|NOT_YET|FORGET, due_day), `act(marker, now)`."""

    service = "service"
    kinds: tuple[str, ...] = ()

    def __init__(self, store, schedule: RetentionSchedule):
        from .audit import AuditChain  # audit builds on http, which retention does not need otherwise

        self.store = store
        self.schedule = schedule
        self.audit = AuditChain(store.db, self.service)

    def note(self, action: str, case_id: str, now: datetime) -> None:
        """What retention did goes on the service's audit chain, like any other change."""
        from .audit import AuditRecord

        self.audit.append([AuditRecord(actor="system:retention", role="system", action=action, case_id=case_id,
                                       correlation_id=f"retention-{now.date().isoformat()}", at=now)])

    def due(self, db, day: date) -> list[dict]:
        """The markers due on `day` (a policy that keeps the due day on its records adds those)."""
        return list(db[MARKERS].find({"due_on": day.isoformat()}))

    def settle(self, db, marker: dict, verdict: str, due: date | None) -> None:
        """After the verdict: a marker acted on or forgotten goes; one not due yet moves to `due`."""
        if verdict == NOT_YET:
            db[MARKERS].update_one({"_id": marker["_id"]}, {"$set": {"due_on": due.isoformat()}})
        else:
            db[MARKERS].delete_one({"_id": marker["_id"]})

    def decide(self, marker: dict, today: date) -> tuple[str, date | None]:
        raise NotImplementedError

    def act(self, marker: dict, now: datetime) -> None:
        raise NotImplementedError


def due_verdict(finished_on: date, months: int, today: date) -> tuple[str, date]:
    """ACT when `months` after `finished_on` has come, else NOT_YET with the day it comes."""
    due = add_months(finished_on, months)
    return (ACT if due <= today else NOT_YET), due


def run_retention(db, policy: RetentionPolicy, schedule: RetentionSchedule, now: datetime,
                  dry_run: bool = False) -> Report:
    """Act on every marker due by `now`'s day and on old dead letters; with dry_run, only report."""
    today = now.date()
    report = Report(policy.service, today.isoformat(), dry_run)
    progress = db[RUNS].find_one({"_id": PROGRESS_ID})
    through = date.fromisoformat(progress["through"]) if progress else None
    for day in days_to_ask(through, today):
        for marker in policy.due(db, day):
            verdict, due = policy.decide(marker, today)
            if verdict == ACT:
                report.acted.setdefault(marker["kind"], []).append(marker["target_id"])
                if not dry_run:
                    policy.act(marker, now)
            elif verdict == NOT_YET:
                report.deferred.setdefault(marker["kind"], []).append(marker["target_id"])
            else:
                report.dropped += 1
            if not dry_run:
                policy.settle(db, marker, verdict, due)
    old = {"parked_at": {"$lt": now - timedelta(days=schedule.dead_letter_days)}}
    if dry_run:
        report.dead_letters = db[DEAD_LETTERS].count_documents(old)
    else:
        report.dead_letters = db[DEAD_LETTERS].delete_many(old).deleted_count
        db[RUNS].update_one({"_id": PROGRESS_ID}, {"$set": {"through": today.isoformat(), "at": now}},
                            upsert=True)
    log.info("retention_run", service=policy.service, dry_run=dry_run,
             acted={k: len(v) for k, v in report.acted.items()}, dead_letters=report.dead_letters)
    return report


class DailyRun:
    """Claims the day's run for one replica (the others find it taken), with a lease for a crash."""

    def __init__(self, db, lease: timedelta = DEFAULT_LEASE, clock: Callable[[], datetime] = utcnow):
        self.db = db
        self.lease = lease
        self.clock = clock
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self)}"

    def claim(self, today: date) -> bool:
        now = self.clock()
        run_id = f"run:{today.isoformat()}"
        try:
            self.db[RUNS].insert_one({"_id": run_id, "owner": self.owner, "lease_until": now + self.lease,
                                      "finished_at": None})
            return True
        except DuplicateKeyError:
            pass
        # a replica that claimed it and died: take over once its lease has passed (one _id, a CAS)
        taken = self.db[RUNS].find_one_and_update(
            {"_id": run_id, "finished_at": None, "lease_until": {"$lt": now}},
            {"$set": {"owner": self.owner, "lease_until": now + self.lease}}, return_document=ReturnDocument.AFTER)
        return taken is not None

    def finish(self, today: date, report: Report) -> None:
        self.db[RUNS].update_one({"_id": f"run:{today.isoformat()}", "owner": self.owner},
                                 {"$set": {"finished_at": self.clock(), "report": report.as_dict()}})

    def run_if_unclaimed(self, policy: RetentionPolicy, schedule: RetentionSchedule) -> Report | None:
        now = self.clock()
        today = now.date()
        if not self.claim(today):
            return None
        report = run_retention(self.db, policy, schedule, now)
        self.finish(today, report)
        return report


class RetentionSettings(DependencyProvider):
    """Gives workers the schedule (config RETENTION_*, else the environment); creates the indexes the run asks by."""

    def setup(self):
        config = self.container.config
        self.schedule = RetentionSchedule.from_config(config)
        self.client = acquire_client(self, config)
        ensure_indexes(self.client[config.get("MONGO_DB", f"refhub_{self.container.service_name}")])

    def stop(self):
        release_client(self)

    def kill(self):
        self.stop()

    def get_dependency(self, worker_ctx):
        return self.schedule
