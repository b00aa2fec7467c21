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


class _Worker:
    """A stand-in for nameko's worker context: what a worker's repository noted as written."""


def _publisher(sent):
    from services.common.outbox import EventPublisher
    publisher = EventPublisher()
    publisher.publish_event = sent.append
    return publisher


def _repository(db, worker):
    from services.common.mongo import Repository
    from services.common.outbox import WRITTEN_KEY
    setattr(worker, WRITTEN_KEY, [])
    return Repository(db, getattr(worker, WRITTEN_KEY))


def test_a_workers_own_events_go_out_without_a_claim_and_leave_the_sweeps_list(mongo_client, databases):
    db = mongo_client[databases["referrals"]]
    worker, sent = _Worker(), []
    repository = _repository(db, worker)
    first, second = event("first"), event("second")
    repository.insert_with_events("docs", {"_id": "d-3", "version": 1}, [first])
    result = repository.update_with_events("docs", {"_id": "d-3", "version": 1},
                                           {"$set": {"version": 2}}, [second])
    assert (result.matched_count, result.modified_count) == (1, 1)
    # the insert's event is still pending when the update is made: only the insert knows it is alone
    assert [w[3] and [e["event_type"] for e in w[3]] for w in repository.written] == [["first"], None]
    _publisher(sent).worker_result(worker)
    assert [e["event_type"] for e in sent] == ["first", "second"]   # written twice: claimed, in order
    doc = db["docs"].find_one({"_id": "d-3"})
    assert (doc["outbox"], doc["outbox_pending"], doc["outbox_waiting"], doc["version"]) == ({}, 0, False, 2)

    worker, sent = _Worker(), []
    repository = _repository(db, worker)
    third = event("third")
    repository.update_with_events("docs", {"_id": "d-3", "version": 2}, {"$set": {"version": 3}}, [third])
    assert repository.written[0][3] == [third]  # nothing else was pending: published from memory
    _publisher(sent).worker_result(worker)
    assert [e["event_type"] for e in sent] == ["third"]
    doc = db["docs"].find_one({"_id": "d-3"})
    assert (doc["outbox"], doc["outbox_pending"], doc["outbox_waiting"]) == ({}, 0, False)
    assert doc.get("outbox_lease_owner") is None  # never claimed
    assert OutboxRelay(db, ("docs",), sent.append).publish_pending() == 0


def test_a_stale_version_writes_nothing_and_notes_nothing(mongo_client, databases):
    db = mongo_client[databases["referrals"]]
    worker = _Worker()
    repository = _repository(db, worker)
    db["docs"].insert_one({"_id": "d-4", "version": 5, **outbox_fields([])})
    result = repository.update_with_events("docs", {"_id": "d-4", "version": 4},
                                           {"$set": {"version": 5}}, [event("lost")])
    assert (result.matched_count, result.modified_count) == (0, 0)
    assert repository.written == []
    assert db["docs"].find_one({"_id": "d-4"})["outbox"] == {}


def test_own_events_with_a_later_writers_event_behind_them_leave_that_one_pending(mongo_client, databases):
    db = mongo_client[databases["referrals"]]
    mine, theirs = event("mine"), event("theirs")
    db["docs"].insert_one({"_id": "d-5", **outbox_fields([mine])})
    sent = []

    def publish(e):
        sent.append(e)
        # another worker writes the document (and its event) while ours is on its way
        db["docs"].update_one({"_id": "d-5"}, with_outbox({"$set": {"x": 1}}, [theirs]))

    relay = OutboxRelay(db, ("docs",), publish)
    assert relay.publish_own("docs", "d-5", [mine]) == 1
    doc = db["docs"].find_one({"_id": "d-5"})
    assert list(doc["outbox"]) == [theirs["event_id"]]
    assert (doc["outbox_pending"], doc["outbox_waiting"]) == (1, True)
    assert OutboxRelay(db, ("docs",), sent.append).publish_pending() == 1
    assert [e["event_type"] for e in sent] == ["mine", "theirs"]
    doc = db["docs"].find_one({"_id": "d-5"})
    assert (doc["outbox"], doc["outbox_pending"], doc["outbox_waiting"]) == ({}, 0, False)


def test_own_events_the_broker_refuses_stay_for_the_sweep(mongo_client, databases):
    from nameko.amqp.publish import UndeliverableMessage
    db = mongo_client[databases["referrals"]]
    mine = event("mine")
    db["docs"].insert_one({"_id": "d-6", **outbox_fields([mine])})

    def refuse(e):
        raise UndeliverableMessage()

    assert OutboxRelay(db, ("docs",), refuse).publish_own("docs", "d-6", [mine]) is None
    doc = db["docs"].find_one({"_id": "d-6"})
    assert (list(doc["outbox"]), doc["outbox_pending"], doc["outbox_waiting"]) == ([mine["event_id"]], 1, True)
    sent = []
    assert OutboxRelay(db, ("docs",), sent.append).publish_pending() == 1 and sent == [mine]
