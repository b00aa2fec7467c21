"""One MongoClient per (process, URI), closed when its last user lets go (services/common/mongo.py)."""
import pytest

from services.common import mongo


class FakeClient:
    def __init__(self, uri, timeout_ms):
        self.uri, self.timeout_ms, self.closed = uri, timeout_ms, False

    def close(self):
        assert not self.closed, "closed twice"
        self.closed = True


@pytest.fixture
def clients(monkeypatch):
    registry = mongo._SharedClients()
    monkeypatch.setattr(mongo, "shared_clients", registry)
    monkeypatch.setattr(mongo, "connect", FakeClient)
    return registry


def test_users_of_one_uri_share_a_client_closed_by_the_last_release(clients):
    store, retries, keys = object(), object(), object()
    config = {"MONGO_URI": "mongodb://db:27017/", "MONGO_TIMEOUT_MS": "2500"}
    client = mongo.acquire_client(store, config)
    assert mongo.acquire_client(retries, config) is client
    assert mongo.acquire_client(keys, {"MONGO_URI": "mongodb://db:27017/"}) is client
    assert client.timeout_ms == 2500 and clients.users("mongodb://db:27017/") == 3

    mongo.release_client(store)
    mongo.release_client(store)  # stop then kill: the second is a no-op
    mongo.release_client(retries)
    assert not client.closed and clients.users("mongodb://db:27017/") == 1
    mongo.release_client(keys)
    assert client.closed and clients.users("mongodb://db:27017/") == 0

    again = mongo.acquire_client(store, config)  # a restarted container gets a fresh client
    assert again is not client and not again.closed


def test_another_uri_gets_its_own_client(clients):
    one, other = object(), object()
    first = mongo.acquire_client(one, {"MONGO_URI": "mongodb://a:27017/"})
    second = mongo.acquire_client(other, {"MONGO_URI": "mongodb://b:27017/"})
    assert first is not second
    mongo.release_client(one)
    assert first.closed and not second.closed


def test_an_unknown_user_releasing_changes_nothing(clients):
    user = object()
    client = mongo.acquire_client(user, {})
    assert client.uri == mongo.DEFAULT_URI
    mongo.release_client(object())
    assert not client.closed
