"""Idempotent consumers: an event's effect happens once per event_id.

The record of which event was applied is written in the same single-document
write as the effect, so a redelivery finds it and does nothing.
"""
from __future__ import annotations

from pymongo.errors import DuplicateKeyError


class DocumentMissing(LookupError):
    """The document an event applies to does not exist (yet)."""


def apply_once(collection, doc_filter: dict, update: dict, event_id: str) -> bool:
    """Apply `update` to the document unless it already recorded `event_id`.

    Returns True when applied now, False when it had been applied before.
    """
    merged = {op: dict(v) for op, v in update.items()}
    merged.setdefault("$push", {})["applied_events"] = event_id
    result = collection.update_one({**doc_filter, "applied_events": {"$ne": event_id}}, merged)
    if result.matched_count:
        return True
    if collection.count_documents({**doc_filter, "applied_events": event_id}, limit=1):
        return False
    raise DocumentMissing(f"no document matches {sorted(doc_filter)}")


def insert_once(collection, document: dict) -> bool:
    """Insert a document whose unique key derives from the event; False if already there."""
    try:
        collection.insert_one(document)
        return True
    except DuplicateKeyError:
        return False
