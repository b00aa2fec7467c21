"""Retention over the real wire, with a clock the test controls."""
import json
from datetime import timedelta

import eventlet
import requests

from services.common.audit import AuditChain
from services.common.envelope import utcnow
from services.common.retention import MARKERS, RUNS, DailyRun, RetentionSchedule, add_months, run_retention
from services.notifications.repository import NotificationRepository
from services.notifications.retention import BodyRetention, body_due_on
from services.referrals.repository import CaseRepository
from services.referrals.retention import CaseRetention
from services.notifications.service import NotificationsService
from services.referrals.service import ReferralsService
from services.safety.service import SafetyService
from tests.support import referral, wait_until

SCHEDULE = RetentionSchedule()


def test_a_closed_case_is_erased_after_its_time_dry_run_first(container_factory, service_config, tokens,
                                                            mongo_client, databases):
    for service_cls in (SafetyService, NotificationsService):  # referral_received must be routable
        container_factory(service_cls, service_config(service_cls.name)).start()
    config = service_config("referrals")
    container_factory(ReferralsService, config).start()
    base = f"http://{config['WEB_SERVER_ADDRESS']}"
    created = requests.post(f"{base}/referrals", data=json.dumps(referral()), timeout=10,
                            headers={"Authorization": f"Bearer {tokens['mind']}",
                                     "Content-Type": "application/json"}).json()
    case_id = created["case_id"]
    moved = requests.post(f"{base}/cases/{case_id}/transitions", data=json.dumps({"to": "rejected", "reason": "x"}),
                          headers={"Authorization": f"Bearer {tokens['coordinator']}",
                                   "Content-Type": "application/json"}, timeout=10)
    assert moved.status_code == 200, moved.text
    db = mongo_client[databases["referrals"]]
    marker = wait_until(lambda: db[MARKERS].find_one({"_id": f"case:{case_id}"}), message="the retention marker")
    closed = marker["closed_at"]
    assert marker["due_on"] == add_months(closed.date(), 24).isoformat()
    policy = CaseRetention(CaseRepository(db), SCHEDULE)

    early = run_retention(db, policy, SCHEDULE, closed + timedelta(days=700))
    assert early.acted == {} and db["cases"].find_one({"_id": case_id})["person"]["family_name"] == "Jones"

    due = closed + timedelta(days=732)
    dry = run_retention(db, policy, SCHEDULE, due, dry_run=True)
    assert dry.acted == {"case": [case_id]}
    assert db["cases"].find_one({"_id": case_id})["person"]["family_name"] == "Jones"  # a dry run changes nothing
    assert db[MARKERS].find_one({"_id": f"case:{case_id}"}) is not None

    done = run_retention(db, policy, SCHEDULE, due)
    assert done.acted == {"case": [case_id]}
    case = db["cases"].find_one({"_id": case_id})
    assert case["erased_at"] and "Jones" not in json.dumps(case.get("person"), default=str)
    assert db[MARKERS].find_one({"_id": f"case:{case_id}"}) is None
    assert any(e["action"] == "case_erased_by_retention" for e in AuditChain(db, "referrals").for_case(case_id))
    assert AuditChain(db, "referrals").verify().intact
    assert run_retention(db, policy, SCHEDULE, due + timedelta(days=1)).acted == {}


def _finished_message(db, doc_id, sent_at, **fields):
    db["notifications"].insert_one({"_id": doc_id, "case_id": "c1", "audience": "person", "status": "sent",
                                    "to": {"email": "ada@example.org"}, "context": {"given_name": "Ada"},
                                    "receipt": "r", "sent_at": sent_at, "created_at": sent_at, **fields})


def test_delivery_log_bodies_are_scrubbed_on_the_day_kept_on_the_message(mongo_client, databases):
    db = mongo_client[databases["notifications"]]
    sent_at = utcnow() - timedelta(days=200)
    # as MessageSender writes it when the message goes: no marker, no event read
    _finished_message(db, "n1", sent_at, body_due_on=body_due_on(sent_at, SCHEDULE.delivery_body_months))
    _finished_message(db, "young", utcnow(), body_due_on=body_due_on(utcnow(), SCHEDULE.delivery_body_months))
    policy = BodyRetention(NotificationRepository(db), SCHEDULE)
    assert run_retention(db, policy, SCHEDULE, utcnow(), dry_run=True).acted == {"message_body": ["n1"]}
    assert db["notifications"].find_one({"_id": "n1"})["to"] == {"email": "ada@example.org"}  # dry run
    report = run_retention(db, policy, SCHEDULE, utcnow())
    assert report.acted == {"message_body": ["n1"]}
    doc = db["notifications"].find_one({"_id": "n1"})
    assert doc["to"] == {} and doc["context"] == {} and doc["status"] == "sent" and "body_due_on" not in doc
    assert db["notifications"].find_one({"_id": "young"})["to"] == {"email": "ada@example.org"}
    assert any(e["action"] == "message_body_scrubbed_by_retention"
               for e in AuditChain(db, "notifications").for_case("c1"))


def test_a_message_dated_before_the_schedule_says_is_put_off_to_its_day(mongo_client, databases):
    db = mongo_client[databases["notifications"]]
    sent_at = utcnow() - timedelta(days=20)
    _finished_message(db, "n2", sent_at, body_due_on=utcnow().date().isoformat())  # e.g. the migration's date
    report = run_retention(db, BodyRetention(NotificationRepository(db), SCHEDULE), SCHEDULE, utcnow())
    assert report.acted == {} and report.deferred == {"message_body": ["n2"]}
    doc = db["notifications"].find_one({"_id": "n2"})
    assert doc["body_due_on"] == add_months(sent_at.date(), SCHEDULE.delivery_body_months).isoformat()
    assert doc["to"] == {"email": "ada@example.org"}


def test_a_marker_from_before_the_day_was_kept_on_the_message_is_still_acted_on(mongo_client, databases):
    db = mongo_client[databases["notifications"]]
    sent_at = utcnow() - timedelta(days=200)
    _finished_message(db, "n3", sent_at)
    db[MARKERS].insert_one({"_id": "message_body:n3", "kind": "message_body", "target_id": "n3",
                            "due_on": utcnow().date().isoformat(), "finished_at": sent_at})
    report = run_retention(db, BodyRetention(NotificationRepository(db), SCHEDULE), SCHEDULE, utcnow())
    assert report.acted == {"message_body": ["n3"]}
    assert db["notifications"].find_one({"_id": "n3"})["to"] == {}
    assert db[MARKERS].find_one({"_id": "message_body:n3"}) is None


def test_the_migration_dates_messages_finished_before_and_leaves_scrubbed_ones(mongo_client, databases):
    db = mongo_client[databases["notifications"]]
    sent_at = utcnow() - timedelta(days=3)
    _finished_message(db, "old", sent_at)
    _finished_message(db, "scrubbed", sent_at, body_scrubbed_at=sent_at)
    db["notifications"].insert_one({"_id": "waiting", "case_id": "c1", "status": "pending"})
    NotificationRepository(db).ensure_indexes()
    tomorrow = (utcnow() + timedelta(days=1)).date().isoformat()
    assert db["notifications"].find_one({"_id": "old"})["body_due_on"] == tomorrow
    assert "body_due_on" not in db["notifications"].find_one({"_id": "scrubbed"})
    assert "body_due_on" not in db["notifications"].find_one({"_id": "waiting"})


def test_old_dead_letters_go_young_ones_stay(mongo_client, databases):
    db = mongo_client[databases["safety"]]
    now = utcnow()
    db["dead_letters"].insert_many([{"_id": "old", "parked_at": now - timedelta(days=31)},
                                    {"_id": "young", "parked_at": now - timedelta(days=29)}])
    policy = BodyRetention(NotificationRepository(db), SCHEDULE)
    assert run_retention(db, policy, SCHEDULE, now, dry_run=True).dead_letters == 1
    assert run_retention(db, policy, SCHEDULE, now).dead_letters == 1
    assert [d["_id"] for d in db["dead_letters"].find()] == ["young"]


class CountingPolicy(BodyRetention):
    runs = 0

    def decide(self, marker, today):
        CountingPolicy.runs += 1
        return super().decide(marker, today)


def test_two_replicas_run_the_day_once_and_a_dead_claim_is_taken_over(mongo_client, databases):
    db = mongo_client[databases["notifications"]]
    day = utcnow().replace(hour=3)
    replicas = [DailyRun(db, clock=lambda: day) for _ in range(2)]
    policy = BodyRetention(NotificationRepository(db), SCHEDULE)
    pool = eventlet.GreenPool()
    reports = list(pool.imap(lambda r: r.run_if_unclaimed(policy, SCHEDULE), replicas))
    assert len([r for r in reports if r is not None]) == 1
    assert db[RUNS].find_one({"_id": f"run:{day.date()}"})["finished_at"] is not None

    tomorrow = day + timedelta(days=1)
    crashed = DailyRun(db, clock=lambda: tomorrow)
    assert crashed.claim(tomorrow.date())  # claims, then dies without finishing
    assert DailyRun(db, clock=lambda: tomorrow + timedelta(minutes=5)).run_if_unclaimed(policy, SCHEDULE) is None
    later = DailyRun(db, clock=lambda: tomorrow + timedelta(hours=2))  # after the lease
    assert later.run_if_unclaimed(policy, SCHEDULE) is not None
