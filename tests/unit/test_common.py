"""Pure pieces of services/common: envelope, outbox updates, error paths, auth rules."""
import pytest
from marshmallow import ValidationError

from services.common.auth import KeyStore, Unauthenticated, hash_token
from services.common.envelope import load_envelope, new_event
from services.common.http import flatten_errors
from services.common.outbox import outbox_fields, with_outbox


def test_new_event_is_a_valid_json_ready_envelope():
    event = new_event("referral_received", case_id="c1", correlation_id="k1", producer="referrals",
                      data={"reference": "HRW-2026-000001"})
    assert isinstance(event["occurred_at"], str) and event["schema_version"] == 1
    loaded = load_envelope({**event, "added_by_a_newer_producer": True})
    assert loaded["event_id"] == event["event_id"] and loaded["occurred_at"].tzinfo is not None
    assert "added_by_a_newer_producer" not in loaded


@pytest.mark.parametrize("missing", ["event_id", "event_type", "occurred_at", "case_id", "correlation_id",
                                     "schema_version", "producer", "data"])
def test_envelope_without_a_field_is_refused(missing):
    event = new_event("x", case_id="c", correlation_id="k", producer="p", data={})
    del event[missing]
    with pytest.raises(ValidationError) as refused:
        load_envelope(event)
    assert set(refused.value.messages) == {missing}


def test_outbox_events_ride_in_the_same_update_as_the_change():
    first = new_event("a", case_id="c", correlation_id="k", producer="p", data={})
    second = new_event("b", case_id="c", correlation_id="k", producer="p", data={})
    update = with_outbox({"$set": {"status": "accepted"}, "$inc": {"version": 1}}, [first, second])
    assert update["$set"]["status"] == "accepted"
    assert update["$inc"] == {"version": 1, "outbox_pending": 2}
    entries = [update["$set"][f"outbox.{e['event_id']}"] for e in (first, second)]
    assert entries[0]["seq"] < entries[1]["seq"]  # publication keeps causal order
    assert with_outbox({"$set": {"x": 1}}, []) == {"$set": {"x": 1}}
    assert update["$set"]["outbox_waiting"] is True  # the sweep's marker, in the same write
    inserted = outbox_fields([first])
    assert inserted["outbox_pending"] == 1 and first["event_id"] in inserted["outbox"]
    assert inserted["outbox_waiting"] is True
    assert outbox_fields([])["outbox_waiting"] is False


def test_field_errors_are_flattened_to_dotted_paths():
    messages = {"person": {"address": {"postcode": ["bad"]}, "_schema": ["whole person"]},
                "hoarding": {"clutter_image_rating": {"garage": ["unknown room"]}}}
    assert flatten_errors(messages) == {"person.address.postcode": ["bad"], "person": ["whole person"],
                                        "hoarding.clutter_image_rating.garage": ["unknown room"]}


def test_keys_are_stored_hashed_and_roles_are_checked():
    import mongomock

    store = KeyStore(mongomock.MongoClient().db)
    key_id, token = store.create("partner", "mind")
    stored = store.keys.find_one({"key_id": key_id})
    assert stored["_id"] == hash_token(token) and token not in str(stored)
    assert store.principal(f"Bearer {token}").agency == "mind"
    for bad in (None, "Basic abc", "Bearer ", "Bearer rh_unknown"):
        with pytest.raises(Unauthenticated):
            store.principal(bad)
    store.revoke(key_id)
    with pytest.raises(Unauthenticated):
        store.principal(f"Bearer {token}")
    with pytest.raises(ValueError):
        store.create("partner")  # a partner key must name its agency
    with pytest.raises(ValueError):
        store.create("coordinator", "mind")
    with pytest.raises(ValueError):
        store.create("superuser")


@pytest.mark.parametrize("agency", ["Mind", "nhs-trust", ""])
def test_partner_keys_name_a_known_agency(agency):
    import mongomock

    with pytest.raises(ValueError):
        KeyStore(mongomock.MongoClient().db).create("partner", agency or None)


def test_the_set_password_link_opens_where_the_portal_listens(monkeypatch):
    import socket

    from services.common.config import load_settings

    for name in ("PORTAL_PUBLIC_URL", "PORTAL_BIND", "PORTAL_PORT"):
        monkeypatch.delenv(name, raising=False)
    assert load_settings().portal_public_url == "http://127.0.0.1:8080"  # loopback by default
    monkeypatch.setenv("PORTAL_BIND", "0.0.0.0")
    assert load_settings().portal_public_url == f"http://{socket.gethostname()}:8080"
    monkeypatch.setenv("PORTAL_PUBLIC_URL", "https://refer.harrow-group.example")
    assert load_settings().portal_public_url == "https://refer.harrow-group.example"


def test_a_migration_killed_part_way_runs_again_and_a_finished_one_never():
    import mongomock

    from services.common.mongo import Repository

    repo = Repository(mongomock.MongoClient().db)
    runs = []
    assert repo.migrate_once("m1", lambda: runs.append(1)) is True
    assert repo.migrate_once("m1", lambda: runs.append(2)) is False
    assert runs == [1]

    def killed():
        raise KeyboardInterrupt("the process died part-way")
    try:
        repo.migrate_once("m2", killed)
    except KeyboardInterrupt:
        pass
    assert repo.migrate_once("m2", lambda: runs.append(3)) is True      # not recorded as done: runs again
    assert runs == [1, 3]
    repo.db["migrations"].insert_one({"_id": "old", "at": None})         # a marker from before `done`
    assert repo.migrate_once("old", lambda: runs.append(4)) is False
