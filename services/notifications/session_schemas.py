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
    """A member's answer (`case_id`), or a supporter's at a supporters' session (`supporter_id`)."""

    case_id = fields.String(validate=validate.Length(min=1, max=200))
    supporter_id = fields.String(validate=validate.Length(min=1, max=200))
    answer = fields.String(required=True, validate=validate.OneOf(ANSWERS))

    @validates_schema
    def one_invitee(self, data, **kwargs):
        if ("case_id" in data) == ("supporter_id" in data):
            raise ValidationError({"_schema": ['give either "case_id" or "supporter_id"']})


class AttendanceSchema(_Request):
    """Case ids at a members' session, supporter ids at a supporters' session."""

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
    supporter_id = fields.String(allow_none=True, metadata={"description": "set at a supporters' session"})
    invited_at = fields.AwareDateTime(allow_none=True, metadata={"description": "none: came without one"})
    answer = fields.String(allow_none=True, validate=validate.OneOf(ANSWERS))
    answered_at = fields.AwareDateTime(allow_none=True)
    answered_via = fields.String(allow_none=True, metadata={"example": "link"})
    attendance = fields.String(allow_none=True, validate=validate.OneOf(("attended", "absent")))


class SessionDetailSchema(SessionSchema):
    invitations = fields.List(fields.Nested(InvitationEntrySchema), required=True)


class InvitationResultSchema(_Response):
    session_id = fields.String(required=True)
    invitees = fields.String(required=True, validate=validate.OneOf(("members", "supporters")),
                             metadata={"description": "whose ids `invited` lists: case ids, or supporter ids "
                                                      "(the supporters of those cases) at a supporters' session"})
    invited = fields.List(fields.String(), required=True, metadata={"description": "invited now"})
    already_invited = fields.List(fields.String(), required=True,
                                  metadata={"description": "invited before: not invited again"})


class ReplyResultSchema(_Response):
    session_id = fields.String(required=True)
    case_id = fields.String(required=True)
    supporter_id = fields.String(allow_none=True)
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


# --- supporters ------------------------------------------------------------------------

def _line(maximum: int = 100, **kwargs):
    return fields.String(validate=validate.Length(min=1, max=maximum), **kwargs)


class SupporterAddressSchema(_Request):
    line1 = _line(required=True)
    line2 = fields.String(validate=validate.Length(max=100), load_default="")
    town = _line(required=True)
    postcode = _line(10, required=True)


class PersonConsentSchema(_Request):
    """The person agreed that this supporter may be involved (and so contacted)."""

    obtained_by = _line(200, required=True, metadata={"example": "Alex Morgan (coordinator)"})
    obtained_on = fields.Date(required=True)


class NewSupporterSchema(_Request):
    """``POST /supporters``."""

    case_id = _line(200, required=True)
    given_name = _line(required=True)
    family_name = _line(required=True)
    relationship = _line(60, load_default=None, metadata={"example": "daughter"})
    email = fields.Email(load_default=None, validate=validate.Length(max=254))
    phone = fields.String(load_default=None, validate=validate.Length(min=5, max=32))
    address = fields.Nested(SupporterAddressSchema, load_default=None)
    preferred_contact = fields.String(required=True, validate=validate.OneOf(("email", "sms", "phone", "letter")))
    person_consent = fields.Nested(PersonConsentSchema, required=True)


class RemovalSchema(_Request):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=300),
                           metadata={"description": "why, in plain words (kept with the removed record)"})


class SupportersQuerySchema(_Request):
    case_id = _line(200, required=True)


class SupporterSchema(_Response):
    supporter_id = fields.String(required=True)
    case_id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(("active", "removed")))
    given_name = fields.String(allow_none=True)
    family_name = fields.String(allow_none=True)
    relationship = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    address = fields.Dict(allow_none=True)
    preferred_contact = fields.String(allow_none=True)
    person_consent = fields.Dict(allow_none=True)
    added_at = fields.AwareDateTime(allow_none=True)
    removed_at = fields.AwareDateTime(allow_none=True)
    removal_reason = fields.String(allow_none=True)


class SupporterListSchema(_Response):
    items = fields.List(fields.Nested(SupporterSchema), required=True)
