"""The audit chain over the real wire: appends, concurrent appends, tampering found."""
import eventlet

from services.common.audit import AuditChain, AuditRecord, entry_id


def record(n, case_id="case-1"):
    return AuditRecord(actor=f"coordinator:k{n}", role="coordinator", action="case_read", case_id=case_id)


def test_appends_chain_and_verify(mongo_client, databases):
    chain = AuditChain(mongo_client[databases["referrals"]], "referrals")
    chain.ensure_indexes()
    chain.append([record(1)])
    chain.append([record(2, "case-2"), record(3, "case-3")])
    assert chain.verify().intact and chain.verify().entries == 3
    assert [e["case_id"] for e in chain.for_case("case-2")] == ["case-2"]


def test_concurrent_appends_never_fork_the_chain(mongo_client, databases):
    chain = AuditChain(mongo_client[databases["referrals"]], "referrals")
    pool = eventlet.GreenPool(8)
    for n in range(24):
        pool.spawn(chain.append, [record(n), record(100 + n)] if n % 3 == 0 else [record(n)])
    pool.waitall()
    result = chain.verify()
    assert result.intact, result.problems
    assert result.entries == 32
    head = chain.heads.find_one({"_id": "referrals"})
    assert head["seq"] == 32


def test_two_processes_appending_in_turn_never_fork_the_chain(mongo_client, databases):
    # each remembers the last entry it appended; the other's appends make that stale
    mine, theirs = (AuditChain(mongo_client[databases["referrals"]], "referrals") for _ in range(2))
    for n in range(5):
        mine.append([record(n)])
        theirs.append([record(10 + n), record(20 + n)])
    result = mine.verify()
    assert result.intact, result.problems
    assert result.entries == 15 and mine.heads.find_one({"_id": "referrals"})["seq"] == 15


def test_a_head_left_behind_by_a_crash_is_walked_forward(mongo_client, databases):
    chain = AuditChain(mongo_client[databases["referrals"]], "referrals")
    chain.append([record(1), record(2)])
    chain.heads.update_one({"_id": "referrals"}, {"$set": {"seq": 1}})  # as if the head update was lost
    chain.append([record(3)])
    assert chain.verify().intact
    assert chain.heads.find_one({"_id": "referrals"})["seq"] == 3


def test_edited_and_deleted_entries_are_found(mongo_client, databases):
    chain = AuditChain(mongo_client[databases["referrals"]], "referrals")
    chain.append([record(n) for n in range(1, 6)])
    chain.entries.update_one({"_id": entry_id("referrals", 2)}, {"$set": {"actor": "admin:nobody"}})
    assert chain.verify().problems == ["entry 2 was changed after it was written"]
    chain.entries.delete_one({"_id": entry_id("referrals", 4)})
    problems = chain.verify().problems
    assert "entry 4 is missing (next found: 5)" in problems
    chain.entries.delete_one({"_id": entry_id("referrals", 5)})
    assert "the head says 5 entries, only 3 are there (the last were deleted)" in chain.verify().problems
