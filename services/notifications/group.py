"""The group's details (coordinator, links, the fire team) from configuration; session dates are records.

GROUP_DETAILS_PATH names a JSON file shaped like the packaged group.json
(absent: the packaged one). It is checked when the service starts, so a typo
stops the service with the field at fault instead of failing every message.
"""
from __future__ import annotations

import json

from marshmallow import ValidationError
from nameko.extensions import DependencyProvider

from services.common.http import flatten_errors
from services.common.logs import get_logger

from .messages import load_group
from .schemas import GroupSchema

log = get_logger(__name__)


class GroupDetailsInvalid(RuntimeError):
    """The configured group details cannot be used."""


def checked_group(path: str | None = None) -> dict:
    """The group details at `path` (None: packaged), or GroupDetailsInvalid saying what is wrong."""
    where = path or "the packaged group.json"
    try:
        group = load_group(path)
    except OSError as exc:
        raise GroupDetailsInvalid(f"cannot read group details {where}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise GroupDetailsInvalid(f"group details {where} are not JSON: {exc}") from exc
    if not isinstance(group, dict):
        raise GroupDetailsInvalid(f"group details {where} must be a JSON object")
    try:
        GroupSchema().load(group)
    except ValidationError as exc:
        problems = "; ".join(f"{field}: {' '.join(msgs)}"
                             for field, msgs in sorted(flatten_errors(exc.messages).items()))
        raise GroupDetailsInvalid(f"group details {where} are invalid: {problems}") from exc
    return group  # as written: templates read dates and links as the JSON gives them


class GroupDetails(DependencyProvider):
    """Gives workers the group details dict. Config: GROUP_DETAILS_PATH."""

    def setup(self):
        self.group = checked_group(self.container.config.get("GROUP_DETAILS_PATH") or None)
        log.info("group_details_loaded", custom=bool(self.container.config.get("GROUP_DETAILS_PATH")))

    def get_dependency(self, worker_ctx):
        return self.group
