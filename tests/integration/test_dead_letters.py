"""A handler that keeps failing: retried with backoff, then parked, then replayed from the CLI."""
import subprocess
import sys

from nameko.standalone.events import event_dispatcher

from services.common.consumer import DeliveryRetry, consumes
from services.common.envelope import new_event
from services.common.mongo import MongoStore, Repository
from tests.conftest import MONGO_URI
from tests.support import wait_until


class FlakyInbox(Repository):
    pass


class FlakyConsumer:
    """Stands in for any service's handler; fails while `broken` is set."""
    name = "notifications"
    store = MongoStore(FlakyInbox)
    delivery = DeliveryRetry()
    broken = True
    attempts = []

    @consumes(("referrals", "referral_received"))
    def handle(self, envelope):
        FlakyConsumer.attempts.append(envelope["event_id"])
        if FlakyConsumer.broken:
            raise ConnectionError("the SMTP relay is down")
        self.store.db["handled"].insert_one({"_id": envelope["event_id"]})


def test_failing_event_is_retried_then_parked_then_replayed(container_factory, service_config, mongo_client,
                                                            databases, rabbit_config):
    FlakyConsumer.broken, FlakyConsumer.attempts = True, []
    config = service_config("notifications", RETRY_DELAYS_MS="100,200")
    container_factory(FlakyConsumer, config).start()
    event = new_event("referral_received", case_id="case-7", correlation_id="corr-7", producer="referrals",
                      data={})
    event_dispatcher(config)("referrals", "referral_received", event)

    db = mongo_client[databases["notifications"]]
    parked = wait_until(lambda: db["dead_letters"].find_one({"event_id": event["event_id"]}), timeout=20,
                        message="the event to be parked")
    assert FlakyConsumer.attempts == [event["event_id"]] * 3  # first try + two retries
    assert parked["attempts"] == 3 and "ConnectionError" in parked["error"]
    assert parked["queue"] == "evt-referrals-referral_received--notifications.handle.v2"

    FlakyConsumer.broken = False
    listed = subprocess.run(
        [sys.executable, "-m", "services.cli.main", "dead-letters", "list", "--service", "notifications"],
        env=_cli_env(rabbit_config, databases), capture_output=True, text=True, timeout=60)
    assert parked["_id"] in listed.stdout, listed.stderr
    replayed = subprocess.run(
        [sys.executable, "-m", "services.cli.main", "dead-letters", "replay", parked["_id"],
         "--service", "notifications"],
        env=_cli_env(rabbit_config, databases), capture_output=True, text=True, timeout=60)
    assert replayed.returncode == 0, replayed.stderr
    wait_until(lambda: db["handled"].find_one({"_id": event["event_id"]}), message="the replayed event")
    assert db["dead_letters"].find_one({"_id": parked["_id"]})["replayed_at"] is not None


def _cli_env(rabbit_config, databases):
    import os
    return {**os.environ, "AMQP_URI": rabbit_config["AMQP_URI"], "MONGO_URI": MONGO_URI,
            "NOTIFICATIONS_DB": databases["notifications"], "AUTH_DB": databases["auth"],
            "PYTHONWARNINGS": "ignore"}
