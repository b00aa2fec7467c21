"""Referrals storage that lasts: lookups by `_id`, a compact case list kept fresh, small sweeps."""
from kombu import Connection, Exchange, Queue
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_waiter

from services.common.envelope import new_event
from services.common.outbox import outbox_fields
from services.referrals.service import ReferralsService
from tests.integration.conftest import Api
from tests.support import referral, wait_until


def listed(api, **query):
    response = api.call("GET", "/cases", "coordinator", params=query)
    assert response.status_code == 200, response.text
    return response.json()


def test_cases_are_found_by_reference_name_or_postcode(api):
    ada = api.refer().json()
    grace = api.refer(referral({"person.given_name": "Grace", "person.family_name": "Hopper",
                                "person.address.postcode": "HA3 5AA"})).json()
    assert [i["reference"] for i in listed(api, q=ada["reference"])["items"]] == [ada["reference"]]
    assert [i["reference"] for i in listed(api, q=grace["reference"].lower())["items"]] == [grace["reference"]]
    assert [i["case_id"] for i in listed(api, q="hopper")["items"]] == [grace["case_id"]]
    assert [i["case_id"] for i in listed(api, q="ha35aa")["items"]] == [grace["case_id"]]
    assert [i["case_id"] for i in listed(api, q="HA1 2AB")["items"]] == [ada["case_id"]]
    assert listed(api, q="nobody-here") == {"items": [], "total": 0, "page": 1, "per_page": 20}
    assert api.call("GET", "/cases", "coordinator", params={"q": "x"}).status_code == 400


def test_the_list_follows_every_change_to_a_case(api):
    case_id = api.refer().json()["case_id"]
    assert api.move(case_id, "accepted").status_code == 200
    assert listed(api, status="accepted")["total"] == 1
    assert listed(api, status="received")["total"] == 0
    # safety's event reaches the case, and the list shows the visit
    event = new_event("visit_requested", case_id=case_id, correlation_id="c-1", producer="safety",
                      data={"visit_id": "v-1", "priority": "very_high", "due_by": "2026-12-01T12:00:00+00:00"})
    with entrypoint_waiter(api.container, "record_on_timeline"):
        event_dispatcher(api.config)("safety", "visit_requested", event)
    [item] = listed(api)["items"]
    assert (item["visit_status"], item["visit_priority"]) == ("requested", "very_high")
    # erasure: the listing can no longer be found by name
    assert api.call("POST", f"/cases/{case_id}/erasure", "coordinator", {"reason": "asked"}).status_code == 200
    assert listed(api, q="jones")["total"] == 0
    assert listed(api, status="cancelled")["total"] == 1


def test_a_listing_a_crash_left_stale_is_repaired_by_the_sweep(api):
    case_id = api.refer().json()["case_id"]
    # the case changed, and the process died before refreshing its listing
    api.cases.update_one({"_id": case_id}, {"$set": {"status": "accepted", "list_stale": True},
                                            "$inc": {"rev": 1}})
    assert listed(api, status="received")["total"] == 1
    wait_until(lambda: listed(api, status="accepted")["total"] == 1, message="the sweep to refresh the listing")
    wait_until(lambda: not api.cases.find_one({"_id": case_id})["list_stale"], message="the flag to clear")


def test_a_lookup_written_before_a_crash_does_not_invent_a_referral(api):
    db = api.cases.database
    case_id = api.refer().json()["case_id"]
    db["lookups"].insert_one({"_id": "reference:HRW-2026-999998", "case_id": case_id})
    db["lookups"].insert_one({"_id": "reference:HRW-2026-999997", "case_id": "no-such-case"})
    assert api.call("GET", "/referrals/HRW-2026-999998", "coordinator").status_code == 404
    assert api.call("GET", "/referrals/HRW-2026-999997", "coordinator").status_code == 404


def test_published_documents_leave_the_sweeps_list(api, rabbit_config):
    # stands in for the consumers of referrals' events (published with mandatory=True)
    queue = Queue("test-published", Exchange("referrals.events", type="topic"), routing_key="#",
                  auto_delete=True)
    with Connection(rabbit_config["AMQP_URI"]) as conn, conn.SimpleQueue(queue) as events:
        case_id = api.refer().json()["case_id"]
        events.get(block=True, timeout=15).ack()
    wait_until(lambda: api.cases.find_one({"_id": case_id, "outbox_waiting": False}),
               message="the outbox marker to clear")
    assert api.cases.count_documents({"outbox_waiting": True}) == 0


def test_cases_stored_before_this_version_are_migrated_once(container_factory, service_config, mongo_client,
                                                            databases, tokens, rabbit_config):
    """Data from before `lookups`, `case_list` and `outbox_waiting`: found, listed and published."""
    db = mongo_client[databases["referrals"]]
    event = new_event("referral_received", case_id="old-1", correlation_id="corr-old", producer="referrals",
                      data={})
    old = {"_id": "old-1", "reference": "HRW-2025-000007", "status": "accepted", "level": 2, "cir_max": 5,
           "person": {"given_name": "Ada", "family_name": "Jones", "address": {"postcode": "HA1 2AB"}},
           "referrals": [{"referral_id": "r-old", "reference": "HRW-2025-000007", "agency": "mind"}],
           "visit": None, "urgency": 0, "open": True, "open_person_slot": "p-old", "timeline": [],
           "applied_events": [], "version": 3, "created_at": None, "updated_at": None}
    fields = outbox_fields([event])
    del fields["outbox_waiting"]  # written before the marker existed
    db["cases"].insert_one({**old, **fields})
    queue = Queue("test-old-events", Exchange("referrals.events", type="topic"), routing_key="#",
                  auto_delete=True)
    with Connection(rabbit_config["AMQP_URI"]) as conn, conn.SimpleQueue(queue) as events:
        config = service_config("referrals")
        container = container_factory(ReferralsService, config)
        container.start()
        message = events.get(block=True, timeout=15)
        message.ack()
    assert message.payload["event_id"] == event["event_id"]
    api = Api(f"http://{config['WEB_SERVER_ADDRESS']}", tokens, config, container, db["cases"])
    assert api.call("GET", "/referrals/HRW-2025-000007", "mind").json()["status"] == "accepted"
    wait_until(lambda: listed(api, q="HRW-2025-000007")["total"] == 1, message="the old case to be listed")


def deliver(api, event, times=1):
    for _ in range(times):
        with entrypoint_waiter(api.container, "record_on_timeline"):
            event_dispatcher(api.config)(event["producer"], event["event_type"], event)


def test_other_services_events_join_the_timeline_once_without_rewriting_the_case(api):
    case_id = api.refer().json()["case_id"]
    before = api.cases.find_one({"_id": case_id})
    sent = new_event("notification_sent", case_id=case_id, correlation_id="c-2", producer="notifications",
                     data={"notification_id": "n-1", "audience": "referrer", "template": "referrer_receipt",
                           "channel": "email"})
    deliver(api, sent, times=2)  # redelivered
    timeline = api.case(case_id)["timeline"]
    assert [e["type"] for e in timeline] == ["referral_received", "notification_sent"]
    after = api.cases.find_one({"_id": case_id})
    assert (after["rev"], after["version"], after["timeline"]) == (before["rev"], before["version"],
                                                                  before["timeline"])


def test_a_crash_between_the_visit_and_its_timeline_entry_is_healed_by_the_redelivery(api):
    case_id = api.refer().json()["case_id"]
    requested = new_event("visit_requested", case_id=case_id, correlation_id="c-3", producer="safety",
                          data={"visit_id": "v-3", "priority": "high", "due_by": "2026-12-06T12:00:00+00:00"})
    # the case took the visit, then the process died before the timeline entry was written
    api.cases.update_one({"_id": case_id}, {"$set": {"visit": {"visit_id": "v-3", "status": "requested",
                                                               "priority": "high"}},
                                            "$push": {"applied_events": requested["event_id"]}})
    deliver(api, requested)
    case = api.case(case_id)
    assert [e["type"] for e in case["timeline"]] == ["referral_received", "visit_requested"]
    assert case["visit"]["visit_id"] == "v-3"
