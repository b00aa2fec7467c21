"""What the notifications service reads and publishes: query, delivery log, group details."""
from __future__ import annotations

from marshmallow import EXCLUDE, INCLUDE, RAISE, Schema, fields, validate

from .letters import LETTER_STATUSES, READY_TO_PRINT
from .messages import AUDIENCES, CHANNELS

# ready_to_print: a letter written to the letters folder, not yet marked posted by a coordinator (then sent)
STATUSES = ("pending", "sent", "failed", "suppressed", READY_TO_PRINT)


# --- HTTP ---------------------------------------------------------------------

class NotificationsQuerySchema(Schema):
    """``GET /notifications`` query string."""

    class Meta:
        unknown = RAISE

    case_id = fields.String(required=True, validate=validate.Length(min=1, max=200))


class _ResponseSchema(Schema):
    class Meta:
        # responses may gain fields (API.md), so no additionalProperties=false
        unknown = EXCLUDE


class NotificationEntrySchema(_ResponseSchema):
    notification_id = fields.String(required=True, metadata={"example": "9b1d…:person_welcome:person"})
    case_id = fields.String(required=True)
    audience = fields.String(required=True, validate=validate.OneOf(AUDIENCES))
    template = fields.String(required=True, metadata={"example": "person_welcome"})
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    attempts = fields.Integer(required=True)
    created_at = fields.AwareDateTime(required=True)
    next_attempt_at = fields.AwareDateTime(
        allow_none=True, metadata={"description": "when a pending message goes next "
                                                  "(quiet hours, backoff, waiting for triage)"})
    sent_at = fields.AwareDateTime(allow_none=True)
    suppressed_reason = fields.String(
        allow_none=True, validate=validate.OneOf(
            ("do_not_contact", "consent_withdrawn", "no_contact_detail", "case_erased", "session_cancelled",
                              "supporter_removed")))
    last_error = fields.String(allow_none=True)


class ReplySchema(_ResponseSchema):
    reply_id = fields.String(required=True, metadata={"example": "sms:SM123"})
    channel = fields.String(required=True, metadata={"example": "sms"})
    received_at = fields.AwareDateTime(required=True)
    text = fields.String(allow_none=True, metadata={"description": "what the person wrote; null once erased"})


class NotificationLogSchema(_ResponseSchema):
    items = fields.List(fields.Nested(NotificationEntrySchema), required=True)
    replies = fields.List(fields.Nested(ReplySchema), metadata={
        "description": "what the person texted back (not STOP), oldest first: each is a task for the coordinator"})


# --- what the providers post (POST /inbound/...), signed with SMS_INBOUND_SECRET ----

class _Webhook(Schema):
    class Meta:
        unknown = EXCLUDE  # providers add fields of their own


class InboundSmsSchema(_Webhook):
    """``POST /inbound/sms``: one text the SMS provider received on our number."""

    sender = fields.String(required=True, data_key="from", validate=validate.Regexp(
        r"^\+?[0-9 ()-]{6,20}$", error="a phone number, like +447700900123"),
        metadata={"example": "+447700900123"})
    text = fields.String(required=True, validate=validate.Length(max=2000))
    message_id = fields.String(required=True, validate=validate.Length(min=1, max=200),
                               metadata={"description": "the provider's id: the same id again changes nothing"})


class EmailBounceSchema(_Webhook):
    """``POST /inbound/email-bounce``: the mail provider could not deliver one of our messages."""

    email = fields.Email(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(("hard", "soft")),
                         metadata={"description": "hard: the address refuses mail for good; soft: for now"})
    notification_id = fields.String(required=True, validate=validate.Length(min=1, max=300),
                                    metadata={"description": "ours (the delivery log's), or the Message-ID "
                                                             "we sent the email with"})


class BounceOutcomeSchema(_ResponseSchema):
    notification_id = fields.String(required=True)
    outcome = fields.String(required=True, validate=validate.OneOf(("hard_bounce", "soft_bounce", "unmatched")))


class InboundOutcomeSchema(_ResponseSchema):
    message_id = fields.String(required=True)
    outcome = fields.String(required=True, validate=validate.OneOf(("stop", "reply", "unmatched")))


class LettersQuerySchema(Schema):
    """``GET /letters`` query string."""

    class Meta:
        unknown = RAISE

    status = fields.String(load_default=READY_TO_PRINT,
                           validate=validate.OneOf(LETTER_STATUSES, error="must be one of: {choices}"),
                           metadata={"description": "ready_to_print (the default): waiting to be printed and "
                                                    "posted; sent: marked posted"})


class LetterSchema(_ResponseSchema):
    notification_id = fields.String(required=True)
    case_id = fields.String(required=True)
    template = fields.String(required=True, metadata={"example": "person_welcome"})
    created_at = fields.AwareDateTime(required=True)
    status = fields.String(required=True, validate=validate.OneOf(LETTER_STATUSES))
    posted_at = fields.AwareDateTime(required=True, allow_none=True)
    posted_by = fields.String(required=True, allow_none=True, metadata={"description": "who marked it posted"})
    text = fields.String(required=True, allow_none=True, metadata={
        "description": "the letter's full printable text, addressed and dated; null once erased or "
                       "past retention"})


class LetterListSchema(_ResponseSchema):
    items = fields.List(fields.Nested(LetterSchema), required=True, metadata={"description": "oldest first"})
    total = fields.Integer(required=True)


# --- group details (GROUP_DETAILS_PATH), checked when the service starts ---------

class _Strict(Schema):
    class Meta:
        unknown = INCLUDE  # a deployment may add notes; what the templates use must be right


def _text(**kwargs):
    return fields.String(required=True, validate=validate.Length(min=1), **kwargs)


class CoordinatorSchema(_Strict):
    name = _text()
    phone = _text()
    email = fields.Email(required=True)


class OnlineSchema(_Strict):
    how_often = _text()
    platform = _text()
    link = fields.Url(required=True, schemes={"https", "http"})


class FaceToFaceSchema(_Strict):
    how_often = _text()
    venue = _text()


class HuddleSchema(_Strict):
    name = _text()
    number = _text()


class FireTeamSchema(_Strict):
    name = _text()
    email = fields.Email(required=True)


class OtherSupportSchema(_Strict):
    name = _text()
    how = _text()


class GroupSchema(_Strict):
    name = _text()
    coordinator = fields.Nested(CoordinatorSchema, required=True)
    call_within_working_days = fields.Integer(required=True, strict=True,
                                              validate=validate.Range(min=1, max=30))
    online = fields.Nested(OnlineSchema, required=True)
    face_to_face = fields.Nested(FaceToFaceSchema, required=True)
    huddle = fields.Nested(HuddleSchema, required=True)
    fire_safety_check_url = fields.Url(required=True, schemes={"https", "http"})
    fire_team = fields.Nested(FireTeamSchema, required=True)
    agencies = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    # where else a person can turn when the group cannot help them (person_not_going_ahead)
    other_support = fields.List(fields.Nested(OtherSupportSchema), load_default=list)
