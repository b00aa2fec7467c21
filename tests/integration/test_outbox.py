"""The outbox relay against the real Mongo-wire server (the broker stood in for by a list)."""
from services.common.envelope import new_event
from services.common.outbox import OutboxRelay, outbox_fields, with_outbox


def event(name):
    return new_event(name, case_id="c-1", correlation_id="k-1", producer="test", data={})


def test_one_event_goes_out_and_leaves_the_sweeps_list(mongo_client, databases):
    db = mongo_client[databases["referrals"]]
    first = event("first")
    db["docs"].insert_one({"_id": "d-1", **outbox_fields([first])})
    sent = []
    assert OutboxRelay(db, ("docs",), sent.append).publish_pending() == 1
    assert [e["event_id"] for e in sent] == [first["event_id"]]
    doc = db["docs"].find_one({"_id": "d-1"})
    assert (doc["outbox"], doc["outbox_pending"], doc["outbox_waiting"]) == ({}, 0, False)
    assert doc["outbox_lease_owner"] is None
    assert OutboxRelay(db, ("docs",), sent.append).publish_pending() == 0  # nothing read twice


def test_an_event_added_while_publishing_is_kept_for_the_next_pass(mongo_client, databases):
    db = mongo_client[databases["referrals"]]
    first, second, late = event("first"), event("second"), event("late")
    db["docs"].insert_one({"_id": "d-2", **outbox_fields([first, second])})
    sent = []

    def publish(e):
        sent.append(e)
        if e["event_id"] == second["event_id"]:
            # another worker changes the document (and adds its event) between our claim and our finish
            db["docs"].update_one({"_id": "d-2"}, with_outbox({"$set": {"x": 1}}, [late]))

    relay = OutboxRelay(db, ("docs",), publish)
    assert relay.publish_document("docs", "d-2") == 2
    doc = db["docs"].find_one({"_id": "d-2"})
    assert list(doc["outbox"]) == [late["event_id"]]
    assert (doc["outbox_pending"], doc["outbox_waiting"], doc["outbox_lease_owner"]) == (1, True, None)
    assert relay.publish_pending() == 1
    assert [e["event_type"] for e in sent] == ["first", "second", "late"]
    doc = db["docs"].find_one({"_id": "d-2"})
    assert (doc["outbox_pending"], doc["outbox_waiting"]) == (0, False)
