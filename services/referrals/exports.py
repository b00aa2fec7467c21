"""What exports and reports read from the referrals service's own database: cases and timeline_events.

Never another service's database: safety's and notifications' facts arrive as events, and the
timeline keeps the few non-personal facts of each (`facts`, events.py). The functions take the
repository and read in batches, so a bulk export holds one batch of cases in memory at a time.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator

BATCH = 100
# what an export or a report never needs of a case
SKIPPED = {"outbox": 0, "applied_events": 0}


def exported_case_ids(store) -> tuple[list[str], list[str]]:
    """Every case id, oldest first, and those of them that still hold personal data (not erased)."""
    cases = sorted(store.cases.find({}, {"_id": 1, "erased_at": 1, "created_at": 1}),
                   key=lambda c: (c.get("created_at") is None, c.get("created_at") or 0, c["_id"]))
    return [c["_id"] for c in cases], [c["_id"] for c in cases if not c.get("erased_at")]


def cases_in(store, case_ids: list[str], projection: dict | None = None) -> Iterator[dict]:
    """The cases with these ids, in that order, read BATCH at a time (`_id $in`: an index everywhere)."""
    for start in range(0, len(case_ids), BATCH):
        ids = case_ids[start:start + BATCH]
        found = {c["_id"]: c for c in store.cases.find({"_id": {"$in": ids}}, projection or SKIPPED)}
        yield from (found[i] for i in ids if i in found)


def timeline_events_of_types(store, types: Iterable[str]) -> list[dict]:
    """Other services' events on every case's timeline, of these types (an indexed `type $in`)."""
    return list(store.timeline_events.find({"type": {"$in": list(types)}}))
