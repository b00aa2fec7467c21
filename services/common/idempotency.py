"""Idempotent consumers: an event's effect happens once per event_id.

The record of which event was applied is written in the same single-document
write as the effect, so a redelivery finds it and does nothing.
"""
from __future__ import annotations

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError


class DocumentMissing(LookupError):
    """The document an event applies to does not exist (yet)."""


def apply_once(collection, doc_filter: dict, update: dict, event_id: str) -> bool:
    """Apply `update` to the document unless it already recorded `event_id`.

    Returns True when applied now, False when it had been applied before.
    """
    result = collection.update_one({**doc_filter, "applied_events": {"$ne": event_id}}, _recorded(update, event_id))
    return bool(result.matched_count) or _applied_before(collection, doc_filter, event_id)


def apply_once_returning(collection, doc_filter: dict, update: dict, event_id: str) -> dict | None:
    """apply_once in the same one command, returning the document as the change left it; None when
    the event had been applied before (the caller reads the document if it needs it)."""
    after = collection.find_one_and_update({**doc_filter, "applied_events": {"$ne": event_id}},
                                           _recorded(update, event_id), return_document=ReturnDocument.AFTER)
    if after is not None:
        return after
    _applied_before(collection, doc_filter, event_id)
    return None


def _recorded(update: dict, event_id: str) -> dict:
    merged = {op: dict(v) for op, v in update.items()}
    merged.setdefault("$push", {})["applied_events"] = event_id
    return merged


def _applied_before(collection, doc_filter: dict, event_id: str) -> bool:
    """False when the document recorded the event; DocumentMissing when there is no such document."""
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
