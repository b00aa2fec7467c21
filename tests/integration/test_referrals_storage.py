"""Referrals storage that lasts: lookups by `_id`, a compact case list kept fresh, small sweeps."""
import json
from datetime import datetime, timezone

from kombu import Connection, Exchange, Queue
from pymongo import MongoClient, monitoring
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_waiter

from services.common.envelope import new_event
from services.common.outbox import outbox_fields
from services.referrals.repository import CaseRepository
from services.referrals.service import ReferralsService
from tests.conftest import MONGO_URI
from tests.integration.conftest import Api
from tests.support import referral, wait_until

TODAY = datetime.now(timezone.utc).date().isoformat()


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


def test_the_list_gives_the_cases_asked_for_by_id(api):
    ids = [api.refer(referral({"person.family_name": f"Named{n}"})).json()["case_id"] for n in range(3)]
    found = listed(api, ids=f"{ids[0]},{ids[2]}")
    assert {i["case_id"] for i in found["items"]} == {ids[0], ids[2]} and found["total"] == 2
    assert api.call("GET", "/cases", "coordinator", params={"ids": ",".join(["x"] * 101)}).status_code == 400


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


def test_the_sweep_rebuilds_every_stale_listing_in_batches(api, mongo_client):
    # a migration marks every listing stale: one sweep rebuilds them all, not `limit` a minute
    case_ids = [api.refer(referral({"person.family_name": f"Batch{n}"})).json()["case_id"] for n in range(5)]
    api.cases.update_many({}, {"$set": {"status": "accepted", "list_stale": True}, "$inc": {"rev": 1}})
    store = CaseRepository(api.cases.database)
    assert store.refresh_stale_listings(limit=2) == 5
    assert api.cases.count_documents({"list_stale": True}) == 0
    assert {i["case_id"] for i in listed(api, status="accepted", per_page=50)["items"]} == set(case_ids)


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


def test_another_agency_referring_a_known_person_learns_nothing_and_lowers_nothing(api):
    """Issue 11, item 2: Rethink referring Mind's open case's person."""
    mind = api.refer(referral({"hoarding.clutter_image_rating": {"living_room": 8}})).json()
    assert api.move(mind["case_id"], "accepted").status_code == 200
    deliver(api, new_event("visit_requested", case_id=mind["case_id"], correlation_id="c-4", producer="safety",
                           data={"visit_id": "v-4", "priority": "high", "reference": mind["reference"],
                                 "due_by": "2026-12-06T12:00:00+00:00"}))
    rethink = api.refer(referral({"referrer.agency": "rethink", "hoarding.clutter_image_rating": {"kitchen": 5}}),
                        who="rethink").json()
    assert rethink["case_id"] == mind["case_id"]  # one case for the coordinator
    view = api.call("GET", f"/referrals/{rethink['reference']}", "rethink").json()
    assert (view["status"], view["visit"]) == ("received", None)  # as for anyone never seen before
    own = api.call("GET", f"/referrals/{mind['reference']}", "mind").json()
    assert (own["status"], own["visit"]) == ("accepted", {"status": "requested"})
    case = api.case(mind["case_id"])
    assert (case["level"], case["cir_max"]) == (3, 8)  # the lower, later rating did not lower it


def test_the_coordinators_own_rating_sets_the_level(api):
    case_id = api.refer(referral({"hoarding.clutter_image_rating": {"living_room": 8}})).json()["case_id"]
    response = api.call("POST", f"/cases/{case_id}/cir-ratings", "coordinator",
                        {"ratings": {"living_room": 4, "kitchen": 3}, "rated_on": TODAY})
    assert response.status_code == 201, response.text
    case = response.json()
    assert (case["level"], case["cir_max"]) == (2, 4)
    assert [p["score"] for p in case["cir_trend"]["living_room"]] == [8, 4]  # the referral's, then ours
    assert case["timeline"][-1]["type"] == "cir_rating_recorded"
    assert listed(api, q=case["reference"])["items"][0]["level"] == 2
    for bad in ({"ratings": {"garage": 4}, "rated_on": "2026-11-28"},
                {"ratings": {"kitchen": 10}, "rated_on": "2026-11-28"},
                {"ratings": {"kitchen": 4}, "rated_on": "2099-01-01"}, {"ratings": {}}):
        assert api.call("POST", f"/cases/{case_id}/cir-ratings", "coordinator", bad).status_code == 400
    assert api.call("POST", f"/cases/{case_id}/cir-ratings", "mind",
                    {"ratings": {"kitchen": 1}, "rated_on": "2026-11-28"}).status_code == 403
    assert api.case(case_id)["cir_max"] == 4  # refused requests changed nothing


def test_a_near_match_is_flagged_for_the_coordinator_not_linked(api):
    derek = api.refer(referral({"person.given_name": "Derek", "person.family_name": "Low",
                                "person.address.postcode": "HA1 2AB"})).json()
    lowe = api.refer(referral({"referrer.agency": "rethink", "person.given_name": "Derek",
                               "person.family_name": "Lowe", "person.address.postcode": "HA1 3XY"}),
                     who="rethink").json()
    other = api.refer(referral({"person.given_name": "Derek", "person.family_name": "Lowe",
                                "person.address.postcode": "HA7 1AA"})).json()  # another district
    assert lowe["case_id"] != derek["case_id"]  # not linked automatically
    case = api.case(lowe["case_id"])
    assert case["possible_matches"] == [{"case_id": derek["case_id"], "reference": derek["reference"]}]
    assert case["timeline"][-1]["type"] == "possible_match" and derek["reference"] in case["timeline"][-1]["summary"]
    assert "possible_matches" not in api.case(other["case_id"])  # the other district: no match
    view = api.call("GET", f"/referrals/{lowe['reference']}", "rethink").json()
    assert "possible" not in json.dumps(view)  # the referrer is told nothing of it
    # erased, the first Derek is no longer offered as a match
    assert api.call("POST", f"/cases/{derek['case_id']}/erasure", "coordinator", {"reason": "asked"}).status_code == 200
    again = api.refer(referral({"person.given_name": "Derek", "person.family_name": "Lo",
                                "person.address.postcode": "HA1 2AB"})).json()
    assert [m["case_id"] for m in api.case(again["case_id"]).get("possible_matches", [])] == [lowe["case_id"]]


def test_a_page_of_the_list_reads_every_line_only_after_a_change(api, databases):
    """While nothing changes, a page costs one lookup of the list's version, not a read of every case."""
    class Finds(monitoring.CommandListener):
        seen: list = []

        def started(self, event):
            if event.command_name == "find":
                self.seen.append(event.command["find"])

        def succeeded(self, event):
            pass

        def failed(self, event):
            pass

    for body in (referral(), referral({"person.given_name": "Grace"})):
        api.refer(body)
    finds = Finds()
    client = MongoClient(MONGO_URI, tz_aware=True, event_listeners=[finds])
    try:
        store = CaseRepository(client[databases["referrals"]])
        first, total = store.list_cases()
        assert total == 2 and "case_list" in finds.seen
        finds.seen.clear()
        assert store.list_cases() == (first, 2)
        assert finds.seen == ["meta"]  # the version only
        api.move(first[0]["_id"], "accepted")  # another process changes a case
        lines, _ = store.list_cases(status="accepted")
        assert [line["_id"] for line in lines] == [first[0]["_id"]] and "case_list" in finds.seen
    finally:
        client.close()
