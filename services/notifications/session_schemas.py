"""What the session routes read and return (HTTP, marshmallow); the OpenAPI document is built from these."""
from __future__ import annotations

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate, validates_schema

from .sessions import ANSWERS, KINDS, SESSION_AUDIENCES, STATUSES

MAX_CASES = 500


class _Request(Schema):
    class Meta:
        unknown = RAISE


def _case_ids(**kwargs):
    return fields.List(fields.String(validate=validate.Length(min=1, max=200)),
                       validate=validate.Length(max=MAX_CASES), **kwargs)


def _unique(field: str, values: list[str] | None) -> None:
    if values and len(set(values)) != len(values):
        raise ValidationError({field: ["a case is named more than once"]})


class _Place(_Request):
    venue = fields.String(validate=validate.Length(min=1, max=300),
                          metadata={"description": "face_to_face only: where it is"})
    joining_link = fields.Url(schemes={"https", "http"}, validate=validate.Length(max=500),
                              metadata={"description": "online only: the link to join"})
    dial_in = fields.String(validate=validate.Length(min=3, max=100),
                            metadata={"description": "huddle only: the number to call, with any PIN"})


class NewSessionSchema(_Place):
    """``POST /sessions``."""

    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    starts_at = fields.AwareDateTime(required=True, metadata={"example": "2026-12-03T18:30:00+00:00"})
    ends_at = fields.AwareDateTime(required=True, metadata={"example": "2026-12-03T20:00:00+00:00"})
    capacity = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=500))
    audience = fields.String(load_default="members", validate=validate.OneOf(SESSION_AUDIENCES))


class SessionChangeSchema(_Place):
    """``PATCH`` (or ``POST``) ``/sessions/{session_id}``: the version read, and what changes."""

    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1),
                             metadata={"description": "the session's version as you read it: a change "
                                                      "made meanwhile by someone else gives 409"})
    kind = fields.String(validate=validate.OneOf(KINDS),
                         metadata={"description": "cannot change; accepted only when it is the same"})
    starts_at = fields.AwareDateTime()
    ends_at = fields.AwareDateTime()
    capacity = fields.Integer(strict=True, validate=validate.Range(min=1, max=500))


class CancelSchema(_Request):
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500),
                           metadata={"description": "told to everyone invited: plain words"})


class InvitationsSchema(_Request):
    """Either the cases to invite, or every accepted member."""

    case_ids = _case_ids()
    all_accepted = fields.Boolean(validate=validate.Equal(True))

    @validates_schema
    def one_of(self, data, **kwargs):
        if ("case_ids" in data) == ("all_accepted" in data):
            raise ValidationError({"_schema": ['give either "case_ids" or "all_accepted": true']})
        if "case_ids" in data and not data["case_ids"]:
            raise ValidationError({"case_ids": ["name at least one case"]})
        _unique("case_ids", data.get("case_ids"))


class ReplySchema(_Request):
    case_id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    answer = fields.String(required=True, validate=validate.OneOf(ANSWERS))


class AttendanceSchema(_Request):
    attended = _case_ids(load_default=list)
    absent = _case_ids(load_default=list)

    @validates_schema
    def each_once(self, data, **kwargs):
        _unique("attended", data.get("attended"))
        _unique("absent", data.get("absent"))


class SessionsQuerySchema(_Request):
    from_ = fields.Date(data_key="from", metadata={"description": "first London day [today]"})
    to = fields.Date(metadata={"description": "last London day [a year after from; at most two years]"})


class AttendanceQuerySchema(_Request):
    case_id = fields.String(required=True, validate=validate.Length(min=1, max=200))


# --- responses -------------------------------------------------------------------

class _Response(Schema):
    class Meta:
        unknown = EXCLUDE  # responses may gain fields (API.md)


class PublicSessionSchema(_Response):
    session_id = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    starts_at = fields.AwareDateTime(required=True, metadata={"description": "London time, with its offset"})
    ends_at = fields.AwareDateTime(required=True)
    audience = fields.String(required=True, validate=validate.OneOf(SESSION_AUDIENCES))
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))


class CancelledSchema(_Response):
    reason = fields.String()
    by = fields.String()
    at = fields.AwareDateTime()


class SessionSchema(PublicSessionSchema):
    """A coordinator's view: with the place, the capacity and the version to change it against."""

    venue = fields.String(allow_none=True)
    joining_link = fields.String(allow_none=True)
    dial_in = fields.String(allow_none=True)
    capacity = fields.Integer(required=True)
    seats_taken = fields.Integer(required=True, metadata={"description": "people who said yes"})
    version = fields.Integer(required=True)
    created_at = fields.AwareDateTime(required=True)
    updated_at = fields.AwareDateTime(required=True)
    cancelled = fields.Nested(CancelledSchema, allow_none=True)


class SessionListSchema(_Response):
    items = fields.List(fields.Nested(SessionSchema), required=True,
                        metadata={"description": "partners see each session without its place, "
                                                 "capacity or version"})


class InvitationEntrySchema(_Response):
    case_id = fields.String(required=True)
    invited_at = fields.AwareDateTime(allow_none=True, metadata={"description": "none: came without one"})
    answer = fields.String(allow_none=True, validate=validate.OneOf(ANSWERS))
    answered_at = fields.AwareDateTime(allow_none=True)
    answered_via = fields.String(allow_none=True, metadata={"example": "link"})
    attendance = fields.String(allow_none=True, validate=validate.OneOf(("attended", "absent")))


class SessionDetailSchema(SessionSchema):
    invitations = fields.List(fields.Nested(InvitationEntrySchema), required=True)


class InvitationResultSchema(_Response):
    session_id = fields.String(required=True)
    invited = fields.List(fields.String(), required=True, metadata={"description": "invited now"})
    already_invited = fields.List(fields.String(), required=True,
                                  metadata={"description": "invited before: not invited again"})


class ReplyResultSchema(_Response):
    session_id = fields.String(required=True)
    case_id = fields.String(required=True)
    answer = fields.String(required=True, validate=validate.OneOf(ANSWERS))
    changed = fields.Boolean(required=True)


class AttendanceResultSchema(_Response):
    session_id = fields.String(required=True)
    changed = fields.List(fields.String(), required=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)


class HistoryEntrySchema(InvitationEntrySchema):
    session_id = fields.String(required=True)
    kind = fields.String(validate=validate.OneOf(KINDS))
    starts_at = fields.AwareDateTime()
    ends_at = fields.AwareDateTime()
    status = fields.String(validate=validate.OneOf(STATUSES))


class AttendanceHistorySchema(_Response):
    case_id = fields.String(required=True)
    items = fields.List(fields.Nested(HistoryEntrySchema), required=True)
