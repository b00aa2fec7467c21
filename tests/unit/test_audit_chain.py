"""The audit chain's pure rules: what a hash covers and what verification notices."""
from datetime import datetime, timezone

from services.common.audit import GENESIS, AuditRecord, entry_hash, link, verify_entries, who
from services.common.auth import Principal

AT = datetime(2026, 11, 29, 12, 0, 0, 123456, tzinfo=timezone.utc)


def chain_of(n):
    entries, prev = [], GENESIS
    for seq in range(1, n + 1):
        entry = link("referrals", "referrals", AuditRecord(actor=f"coordinator:k{seq}", role="coordinator",
                                                           action="case_read", case_id=f"c{seq}", at=AT), seq, prev)
        entries.append(entry)
        prev = entry["hash"]
    return entries, {"seq": n, "hash": prev}


def test_an_intact_chain_verifies():
    entries, head = chain_of(4)
    assert verify_entries("referrals", entries, head).intact


def test_an_edited_entry_is_found():
    entries, head = chain_of(4)
    entries[1]["actor"] = "admin:someone-else"
    result = verify_entries("referrals", entries, head)
    assert result.problems == ["entry 2 was changed after it was written"]


def test_a_deleted_entry_is_found():
    entries, head = chain_of(4)
    del entries[2]
    problems = verify_entries("referrals", entries, head).problems
    assert "entry 3 is missing (next found: 4)" in problems
    assert "entry 4 does not follow the entry before it" in problems


def test_a_deleted_tail_disagrees_with_the_head():
    entries, head = chain_of(4)
    assert verify_entries("referrals", entries[:3], head).problems == [
        "the head says 4 entries, only 3 are there (the last were deleted)"]


def test_a_rehashed_edit_still_breaks_the_next_link():
    entries, head = chain_of(3)
    entries[0]["case_id"] = "other"
    entries[0]["hash"] = entry_hash(entries[0])  # the forger recomputes the edited entry's hash
    assert verify_entries("referrals", entries, head).problems == ["entry 2 does not follow the entry before it"]


def test_times_are_hashed_at_the_precision_the_database_keeps():
    entry = link("s", "s", AuditRecord(actor="a", role="r", action="x", case_id="c", at=AT), 1, GENESIS)
    assert entry["at"].microsecond == 123000
    read_back = {**entry, "at": entry["at"].replace(tzinfo=None)}  # a client without tz_aware
    assert entry_hash(read_back) == entry["hash"]


def test_who_takes_the_actor_and_any_person_defensively():
    assert who(Principal("k1", "partner", "mind")) == {"actor": "partner:mind:k1", "role": "partner",
                                                       "agency": "mind", "person": None}

    signed_in = Principal("k2", "coordinator", person_id="p9")
    assert who(signed_in) == {"actor": "coordinator:person-p9", "role": "coordinator", "agency": None,
                              "person": "p9"}

    class SignedIn:  # another shape of principal: whatever it carries is read defensively
        actor, role, person_id = "coordinator:person:p7", "coordinator", "p7"

    assert who(SignedIn()) == {"actor": "coordinator:person:p7", "role": "coordinator", "agency": None,
                               "person": "p7"}
