"""marshmallow fields the services share."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from marshmallow import fields


class UtcDateTime(fields.AwareDateTime):
    """Timezone-aware, published in UTC; a naive value (as older Mongo data may hold) is taken as UTC."""

    def __init__(self, **kwargs: Any):
        super().__init__(default_timezone=timezone.utc, **kwargs)

    def _serialize(self, value: datetime | None, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
        return super()._serialize(value, attr, obj, **kwargs)
