"""Helpers for the safety tests: start the service, feed it events, watch what it publishes."""
import uuid
from datetime import timedelta
from queue import Empty

from kombu import Connection, Exchange, Queue
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_waiter

from services.common.envelope import new_event, utcnow
from services.safety.service import SafetyService
from tests.support import wait_until


def start_safety(container_factory, service_config, **config):
    """A started SafetyService; returns (container, base_url, config).

    The overdue safety-net sweep is off (an hour) unless a test sets OVERDUE_SWEEP_SECONDS, so
    overdue visits are announced by their broker-delayed wake-ups alone.
    """
    config = service_config("safety", **{"OVERDUE_SWEEP_SECONDS": 3600, **config})
    container = container_factory(SafetyService, config)
    container.start()
    return container, f"http://{config['WEB_SERVER_ADDRESS']}", config


def send(container, config, event, entrypoint="assess_referral"):
    """Publish a referrals event and wait until safety has handled it."""
    with entrypoint_waiter(container, entrypoint, timeout=10):
        event_dispatcher(config)("referrals", event["event_type"], event)


def wait_published(db):
    """Until safety's relay has published every event its documents hold."""
    wait_until(lambda: db["assessments"].count_documents({"outbox_pending": {"$gt": 0}}) == 0,
               message="safety's outbox to be emptied")


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def ago(**delta):
    return (utcnow() - timedelta(**delta)).isoformat()


class SafetyEvents:
    """A queue bound to every event safety publishes (bind it before the service starts)."""

    def __init__(self, amqp_uri):
        self.connection = Connection(amqp_uri)
        queue = Queue(f"test-safety-events-{uuid.uuid4().hex[:8]}", Exchange("safety.events", type="topic"),
                      routing_key="#", auto_delete=True)
        self.queue = self.connection.SimpleQueue(queue)
        self.received = []

    def drain(self):
        while True:
            try:
                message = self.queue.get(block=False)
            except Empty:
                return self.received
            message.ack()
            self.received.append(message.payload)

    def of_type(self, event_type, case_id=None, **data):
        """Events of one type received so far (of one case) whose data has these values."""
        self.drain()
        return [e for e in self.received if e["event_type"] == event_type
                and (case_id is None or e["case_id"] == case_id)
                and all(e["data"].get(k) == v for k, v in data.items())]

    def wait_for(self, event_type, count=1, timeout=10, case_id=None, **data):
        """At least `count` such events; returns all of them received so far."""
        def enough():
            found = self.of_type(event_type, case_id, **data)
            return found if len(found) >= count else None
        return wait_until(enough, timeout=timeout, message=f"{count} {event_type} {case_id or ''} {data or ''}")

    def close(self):
        self.queue.close()
        self.connection.release()


def referral_received(case_id="case-1", person_changes=None, **data_changes):
    data = {
        "referral_id": "ref-1", "reference": "HRW-2026-000001", "case_reference": "HRW-2026-000001",
        "received_at": utcnow().isoformat(), "agency": "mind", "duplicate_of": None,
        "level": 3, "cir_max": 7, "clutter_image_rating": {"living_room": 7, "kitchen": 5},
        "fire_risk": {"smoker": True, "oxygen_use": False, "lives_alone": True, "mobility_impaired": False,
                      "previous_fire": False, "blocked_exits": True, "working_smoke_alarm": "unknown"},
        "requested": {"peer_support": True, "home_fire_safety_visit": True},
        "consent": {"share_with_fire_service": True, "contact": True},
        "person": {"given_name": "Ada", "family_name": "Jones",
                   "address": {"line1": "12 Station Road", "line2": "", "town": "Harrow", "postcode": "HA1 2AB"},
                   "phone": "+447700900123", "email": "ada@example.org", "preferred_contact": "phone",
                   "access_needs": "hard of hearing"},
        "referrer": {"name": "Sam Patel", "email": "sam@example.org", "phone": None, "agency": "mind"},
    }
    data.update(data_changes)
    data["person"].update(person_changes or {})
    return new_event("referral_received", case_id=case_id, correlation_id="corr-1",
                     producer="referrals", data=data)


def consent_withdrawn(case_id, scope, occurred_at=None):
    return new_event("consent_withdrawn", case_id=case_id, correlation_id="corr-w", producer="referrals",
                     data={"scope": scope, "reason": "told the coordinator on the phone",
                           "actor": "coordinator:k1"},
                     occurred_at=occurred_at)


def case_erased(case_id):
    return new_event("case_erased", case_id=case_id, correlation_id="corr-e", producer="referrals",
                     data={"actor": "coordinator:k1"})


def case_status_changed(case_id, to, current="accepted", reference="HRW-2026-000001"):
    """The coordinator moved the case (referrals' case_status_changed)."""
    return new_event("case_status_changed", case_id=case_id, correlation_id="corr-s", producer="referrals",
                     data={"from": current, "to": to, "reason": "the person asked us to stop",
                           "actor": "coordinator:k1", "reference": reference})
