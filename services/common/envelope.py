"""The event envelope every message carries (ARCHITECTURE.md, Events)."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from marshmallow import EXCLUDE, Schema, fields

SCHEMA_VERSION = 1


class EnvelopeSchema(Schema):
    class Meta:
        unknown = EXCLUDE  # producers may add fields

    event_id = fields.UUID(required=True)
    event_type = fields.String(required=True)
    occurred_at = fields.AwareDateTime(required=True, default_timezone=timezone.utc)
    case_id = fields.String(required=True)
    correlation_id = fields.String(required=True)
    schema_version = fields.Integer(required=True)
    producer = fields.String(required=True)
    data = fields.Dict(required=True)


_schema = EnvelopeSchema()


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_event(event_type: str, *, case_id: str, correlation_id: str, producer: str,
              data: dict, occurred_at: datetime | None = None) -> dict:
    """Build a serialised (JSON-ready) envelope."""
    return _schema.dump({
        "event_id": uuid.uuid4(),
        "event_type": event_type,
        "occurred_at": occurred_at or utcnow(),
        "case_id": case_id,
        "correlation_id": correlation_id,
        "schema_version": SCHEMA_VERSION,
        "producer": producer,
        "data": data,
    })


def load_envelope(payload: dict) -> dict:
    """Validate an incoming envelope; ids come back as strings, times as aware datetimes."""
    envelope = _schema.load(payload)
    envelope["event_id"] = str(envelope["event_id"])
    return envelope
