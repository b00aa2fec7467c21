"""The Mongo-wire server answers like MongoDB, and the embedded one answers through its indexes.

The embedded FerretDB is built with tools/mongowire/overlay: filters with `_id`,
plain string, boolean or `$in` equalities are narrowed by SQLite (through the
index where there is one) and then checked in full by FerretDB. These tests pin
the MongoDB semantics that narrowing must keep (arrays, strings it does not
push down), on whichever server MONGO_URI names, and the plans on the embedded one.
"""
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.wire

DOCS = [
    {"_id": "a1", "case_id": "case-1", "status": "pending", "flag": True, "version": 1},
    {"_id": "a2", "case_id": "case-1", "status": "sent", "flag": False, "version": 1},
    {"_id": "a3", "case_id": "case-2", "status": "pending", "flag": True, "version": 2},
    # MongoDB equality also matches an array holding the value
    {"_id": "arr", "case_id": ["case-1", "case-9"], "status": ["sent", "pending"], "flag": [True]},
    # strings a JSON encoder escapes are left to FerretDB, and still match
    {"_id": "esc", "case_id": "caf\u00e9 <&> \"q\"", "status": "sent"},
    {"_id": "key", "case_id": "zo\u00eb|1956-02-29|HA12AB", "status": "pending"},
    {"_id": "missing"},
    {"_id": "num", "case_id": 1, "status": None},
]


@pytest.fixture
def collection(mongo_client, databases):
    col = mongo_client[databases["referrals"]]["engine_check"]
    col.create_index("case_id")
    col.create_index("status")
    col.insert_many([dict(d) for d in DOCS])
    return col


def ids(cursor):
    return sorted(d["_id"] for d in cursor)


@pytest.mark.parametrize("query, expected", [
    ({"case_id": "case-1"}, ["a1", "a2", "arr"]),
    ({"case_id": "case-1", "status": "pending"}, ["a1", "arr"]),
    ({"case_id": "zo\u00eb|1956-02-29|HA12AB", "status": {"$in": ["pending"]}}, ["key"]),
    ({"status": {"$in": ["pending", "sending"]}}, ["a1", "a3", "arr", "key"]),
    ({"status": {"$in": ["sent"]}, "case_id": "case-1"}, ["a2", "arr"]),
    ({"flag": True}, ["a1", "a3", "arr"]),
    ({"flag": False, "case_id": "case-1"}, ["a2"]),
    ({"case_id": "caf\u00e9 <&> \"q\""}, ["esc"]),
    ({"case_id": ""}, []),
    ({"case_id": "zo\u00eb|1956-02-29|HA12AB"}, ["key"]),
    ({"case_id": "zoe|1956-02-29|HA12AB"}, []),
    ({"case_id": "case-1", "version": {"$gte": 1}}, ["a1", "a2"]),
    ({"_id": "a3", "version": 2}, ["a3"]),
    ({"_id": "a3", "version": 1}, []),
    ({"_id": "a3", "status": "sent"}, []),
    ({"_id": {"$in": ["a1", "a3", "nobody"]}}, ["a1", "a3"]),
    ({"_id": {"$in": ["a1", "a2", "a3"]}, "status": "pending", "flag": True}, ["a1", "a3"]),
    ({"_id": {"$in": ["a1", 7]}}, ["a1"]),  # not all plain strings: the handler alone decides
    ({"status": None}, ["missing", "num"]),
    ({"case.id": "case-1"}, []),
])
def test_equality_filters_match_as_mongodb_does(collection, query, expected):
    assert ids(collection.find(query)) == expected
    assert collection.count_documents(query) == len(expected)


def test_updates_and_claims_by_id_with_conditions(collection):
    assert collection.update_one({"_id": "a1", "version": 1}, {"$inc": {"version": 1}}).modified_count == 1
    assert collection.update_one({"_id": "a1", "version": 1}, {"$inc": {"version": 1}}).modified_count == 0
    claimed = collection.find_one_and_update({"_id": "a3", "status": "pending"}, {"$set": {"status": "sending"}})
    assert claimed["_id"] == "a3"
    assert collection.find_one_and_update({"_id": "a3", "status": "pending"}, {"$set": {"status": "x"}}) is None
    assert collection.delete_many({"case_id": "case-1", "status": "sent"}).deleted_count == 2  # a2 and arr
    assert ids(collection.find({"case_id": "case-1"})) == ["a1"]


def _plan(collection, query) -> str:
    explained = collection.database.command("explain", {"find": collection.name, "filter": query})
    return " ".join(explained.get("queryPlanner", {}).get("Plan", []))


def test_embedded_server_answers_through_indexes(collection, mongo_client):
    if "ferretdbVersion" not in mongo_client.admin.command("buildInfo"):
        pytest.skip("plans are the embedded FerretDB's; MongoDB plans its own")
    assert "USING INDEX" in _plan(collection, {"_id": "a1", "version": 1})
    # a handful of cases by _id (the possible-match check): the _id index, never the other field's
    assert "_id_" in _plan(collection, {"_id": {"$in": ["a1", "a3"]}, "flag": True})
    assert "USING INDEX" in _plan(collection, {"case_id": "case-1", "version": {"$gte": 1}})
    assert "USING INDEX" in _plan(collection, {"status": {"$in": ["pending", "sending"]}})
    # a person key: non-ASCII letters and '|' are written verbatim, so they go to SQLite too
    assert "USING INDEX" in _plan(collection, {"case_id": "zo\u00eb|1956-02-29|HA12AB"})
    assert "SCAN" in _plan(collection, {"$or": [{"status": "pending"}, {"case_id": "case-2"}]})


def test_the_mongowire_proxy_reads_each_writes_database():
    """Go unit tests of the proxy (which database a write command names, so writes lock per database)."""
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if go is None:
        pytest.skip("Go is not installed (MONGO_URI names a real MongoDB)")
    source = Path(__file__).resolve().parents[2] / "tools" / "mongowire"
    result = subprocess.run([go, "test", "."], cwd=source, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
