"""Every marshmallow schema of the referrals HTTP API (API.md), plus the pure helpers that go with them.

Load side (request bodies and queries) rejects unknown fields everywhere and
reports every error at once; ``flatten_errors`` turns marshmallow's nested
errors into the dotted paths the 400 body carries. Dump side (responses) gives
every field a type so apispec can publish ``/openapi.json``.

Normalisation on load:
- text is stripped; an optional field sent blank or ``null`` loads as ``None``;
  single-line fields reject control characters (newlines included);
- postcodes load upper case with one space: ``"ha12ab"`` -> ``"HA1 2AB"``;
- UK phone numbers load as E.164: ``"07700 900123"`` -> ``"+447700900123"``;
- email addresses load with the domain lower-cased (the local part is kept as given).

"Today" (dates must not be in the future; age at most 120) is the London
calendar date unless the schema is built with ``today=``:
``ReferralSchema(today=date(2026, 11, 20))``. The value reaches every nested part.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import date, datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate, validates, validates_schema

from services.common.auth import AGENCIES
from services.common.fields import UtcDateTime
from services.common.vocabulary import CONSENT_SCOPES, uk_mobile

from .attention import DISMISSIBLE, REASONS
from .lifecycle import CaseStatus

ROOMS = ("living_room", "kitchen", "bedroom", "other")
CIR_MIN, CIR_MAX = 1, 9
CONTACT_CHANNELS = ("phone", "sms", "email", "letter")
SMOKE_ALARM_ANSWERS = ("yes", "no", "unknown")
CASE_STATUSES = tuple(status.value for status in CaseStatus)
CASE_LEVELS = (1, 2, 3)
MAX_AGE_YEARS = 120

NAME_MAX = 100
ADDRESS_LINE_MAX = 120
EMAIL_MAX = 254  # RFC 5321 path limit
ACCESS_NEEDS_MAX = 500
REASON_MAX = 5000
EXTERNAL_REF_MAX = 64
NOTE_MAX = 1000  # transition and withdrawal reasons
MAX_PER_PAGE = 100

try:
    _LONDON = ZoneInfo("Europe/London")
except ZoneInfoNotFoundError:  # no tz database on the host: UTC is at most an hour out
    _LONDON = timezone.utc


def london_today() -> date:
    """Today's date where the group works; a referral signed at 00:30 BST is not 'in the future'."""
    return datetime.now(_LONDON).date()


# --- fields ------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_EXCEPT_LINE_BREAKS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class _BlankIsAbsent:
    """Partners send "" for "not known"; for an optional field that means absent."""

    def deserialize(self, value: Any, attr: str | None = None, data: Any = None, **kwargs: Any) -> Any:
        if not self.required and isinstance(value, str) and not value.strip():
            value = None
        return super().deserialize(value, attr, data, **kwargs)


class _Text(_BlankIsAbsent, fields.String):
    """Stripped free text (line breaks allowed); an optional one sent blank loads as None."""

    _forbidden = _CONTROL_EXCEPT_LINE_BREAKS
    default_error_messages = {"control": "must not contain control characters"}

    def __init__(self, max_length: int, *, required: bool = False, **kwargs: Any):
        validators = [validate.Length(max=max_length, error="must be at most {max} characters")]
        if required:
            validators.insert(0, validate.Length(min=1, error="must not be blank"))
        kwargs.setdefault("allow_none", not required)
        if not required:
            kwargs.setdefault("load_default", None)
        super().__init__(required=required, validate=validators, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if self._forbidden.search(text):
            raise self.make_error("control")
        return text


class _Line(_Text):
    """A single line: names, address lines, references (they end up on letters and in CSVs)."""

    _forbidden = _CONTROL
    default_error_messages = {"control": "must be a single line without control characters"}


# Standard UK postcode shape (outward code, optional space, inward code), plus the Girobank GIR 0AA.
_POSTCODE = re.compile(
    r"\s*(?:(?P<giro_out>GIR)\s*(?P<giro_in>0AA)"
    r"|(?P<outward>[A-PR-UWYZ](?:[0-9]{1,2}|[A-HK-Y][0-9][0-9ABEHMNPRV-Y]?|[0-9][A-HJKPS-UW]))"
    r"\s*(?P<inward>[0-9][ABD-HJLNP-UW-Z]{2}))\s*"
)


def normalise_postcode(value: str) -> str | None:
    """``"ha12ab"`` -> ``"HA1 2AB"``; None if it is not a UK postcode."""
    match = _POSTCODE.fullmatch(value.upper())
    if match is None:
        return None
    if match["giro_out"]:
        return "GIR 0AA"
    return f"{match['outward']} {match['inward']}"


class UkPostcode(fields.String):
    default_error_messages = {"invalid_postcode": "must be a UK postcode, e.g. HA1 2AB"}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        postcode = normalise_postcode(super()._deserialize(value, attr, data, **kwargs))
        if postcode is None:
            raise self.make_error("invalid_postcode")
        return postcode


_PHONE_CHARACTERS = re.compile(r"\+?[0-9 ()\-]+")
_PHONE_SEPARATORS = re.compile(r"[ ()\-]")


def normalise_uk_phone(value: str) -> str | None:
    """A UK number as E.164 (``"020 7946 0000"`` -> ``"+442079460000"``); None if it is not one.

    Accepts spaces, dashes, brackets, a ``+44`` or ``0044`` prefix and the
    ``+44 (0)20 ...`` habit; the national form must be 10 or 11 digits starting 0.
    """
    raw = value.strip()
    if not _PHONE_CHARACTERS.fullmatch(raw):
        return None
    digits = _PHONE_SEPARATORS.sub("", raw)
    if digits.startswith(("+44", "0044")):
        subscriber = digits.removeprefix("+44").removeprefix("0044")
        subscriber = subscriber.removeprefix("0")  # "+44 (0)20 ..." writes the trunk 0 too
    elif digits.startswith("0"):
        subscriber = digits[1:]
    else:
        return None  # another country's code, or digits without the trunk 0
    # A second leading 0 means an international prefix ("00 33 ..."): not a UK number.
    if subscriber.startswith("0") or not 9 <= len(subscriber) <= 10:
        return None
    return "+44" + subscriber


class UkPhoneNumber(_Line):
    """A UK phone number, loaded as E.164 (``+447700900123``): one form to dedupe, dial and text."""

    default_error_messages = {
        "invalid_phone": "must be a UK phone number, e.g. 07700 900123 or +44 7700 900123",
    }

    def __init__(self, *, required: bool = False, **kwargs: Any):
        super().__init__(max_length=32, required=required, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        phone = normalise_uk_phone(super()._deserialize(value, attr, data, **kwargs))
        if phone is None:
            raise self.make_error("invalid_phone")
        return phone


class EmailAddress(_BlankIsAbsent, fields.Email):
    """An email address with the domain lower-cased (domains are case-insensitive; local parts may not be)."""

    def __init__(self, *, required: bool = False, **kwargs: Any):
        kwargs.setdefault("allow_none", not required)
        if not required:
            kwargs.setdefault("load_default", None)
        kwargs.setdefault("validate", validate.Length(max=EMAIL_MAX, error="must be at most {max} characters"))
        super().__init__(required=required, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        address = super()._deserialize(value, attr, data, **kwargs).strip()
        local, at, domain = address.rpartition("@")
        return f"{local}{at}{domain.lower()}" if at else address


class StrictBoolean(fields.Boolean):
    """JSON true or false only: a safety form must not read "no" or 0 as an answer."""

    default_error_messages = {"invalid": "must be true or false"}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class ClutterImageRatings(fields.Dict):
    """Room -> Clutter Image Rating 1..9, at least one room.

    Errors are keyed by the room as sent (``{"garage": [...]}``) rather than
    marshmallow's ``{"garage": {"key": [...]}}``, so the dotted path is
    ``hoarding.clutter_image_rating.garage``.
    """

    default_error_messages = {
        "invalid": "must be an object of room: rating",
        "empty": "rate at least one room",
        "room": f"is not a room we rate; use one of: {', '.join(ROOMS)}",
        "rating": f"must be a whole number from {CIR_MIN} to {CIR_MAX}",
    }

    def __init__(self, **kwargs: Any):
        # keys/values are declared for the OpenAPI document; _deserialize does the checking.
        kwargs.setdefault(
            "metadata",
            {"description": f"room ({', '.join(ROOMS)}) -> rating {CIR_MIN}..{CIR_MAX}", "minProperties": 1},
        )
        super().__init__(
            keys=fields.String(validate=validate.OneOf(ROOMS)),
            values=fields.Integer(strict=True, validate=validate.Range(min=CIR_MIN, max=CIR_MAX)),
            **kwargs,
        )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict[str, int]:
        if not isinstance(value, Mapping):
            raise self.make_error("invalid")
        if not value:
            raise self.make_error("empty")
        ratings: dict[str, int] = {}
        errors: dict[str, list[str]] = {}
        for room, rating in value.items():
            problems = []
            if room not in ROOMS:
                problems.append(self.error_messages["room"])
            # Strict: 7.5, 7.0, "7" and true are all refused; a rating is a photo number.
            if isinstance(rating, bool) or not isinstance(rating, int) or not CIR_MIN <= rating <= CIR_MAX:
                problems.append(self.error_messages["rating"])
            if problems:
                errors[str(room)] = problems
            else:
                ratings[room] = rating
        if errors:
            raise ValidationError(errors)
        return ratings




# --- helpers -----------------------------------------------------------------


_NAME_NOISE = re.compile(r"[\s\-\u2010\u2011\u2012\u2013\u2014'\u2018\u2019\u02bc`]+")


def person_key(person: Mapping[str, Any]) -> str:
    """A normalised identity for duplicate detection: ``"adajones|1956-02-29|HA12AB"``.

    Names are NFKC-normalised and casefolded with whitespace, hyphens and
    apostrophes removed (``"O'Brien-Smith"`` == ``"obrien smith"``); given and
    family name are joined so a name split differently still matches. Takes a
    loaded person (``date``) or raw JSON (ISO string) alike.
    """
    names = unicodedata.normalize("NFKC", f"{person['given_name']}{person['family_name']}").casefold()
    born = person["date_of_birth"]
    born = born.isoformat() if isinstance(born, date) else str(born).strip()
    postcode = re.sub(r"\s+", "", str(person["address"]["postcode"])).upper()
    return f"{_NAME_NOISE.sub('', names)}|{born}|{postcode}"


def age_on(born: date, day: date) -> int:
    """Whole years from ``born`` to ``day``; a 29 February birthday comes round on 1 March in other years."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


# --- request schemas -----------------------------------------------------------


class _StrictSchema(Schema):
    class Meta:
        unknown = RAISE  # a misspelt field must fail loudly, not vanish


class _ReferralPart(_StrictSchema):
    """A part of the referral whose dates are checked against today.

    ``today`` is handed down to every nested part, so ``ReferralSchema(today=d)``
    fixes the date for the whole document; None means the London date at load time.
    """

    def __init__(self, *args: Any, today: date | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._today = today
        for field in self.fields.values():
            # Fields are per-instance copies, so binding the nested schema here touches no other instance.
            if isinstance(field, fields.Nested) and isinstance(field.nested, type):
                if issubclass(field.nested, _ReferralPart):
                    field.nested = field.nested(today=today)

    def today(self) -> date:
        return self._today if self._today is not None else london_today()

    def _not_in_future(self, value: date) -> None:
        if value > self.today():
            raise ValidationError("must not be in the future")


class ReferrerSchema(_ReferralPart):
    name = _Line(NAME_MAX, required=True)
    email = EmailAddress(required=True)
    phone = UkPhoneNumber()
    agency = fields.String(
        allow_none=True,
        load_default=None,
        validate=validate.OneOf(AGENCIES, error="must be one of: {choices}"),
    )


class AddressSchema(_ReferralPart):
    line1 = _Line(ADDRESS_LINE_MAX, required=True)
    line2 = _Line(ADDRESS_LINE_MAX)
    town = _Line(ADDRESS_LINE_MAX, required=True)
    postcode = UkPostcode(required=True)


# Which contact detail each channel needs; a letter goes to the address, which is always required.
_CHANNEL_NEEDS = {"phone": "phone", "sms": "phone", "email": "email"}


class PersonSchema(_ReferralPart):
    given_name = _Line(NAME_MAX, required=True)
    family_name = _Line(NAME_MAX, required=True)
    date_of_birth = fields.Date(required=True)
    address = fields.Nested(AddressSchema, required=True)
    phone = UkPhoneNumber()
    email = EmailAddress()
    preferred_contact = fields.String(
        required=True, validate=validate.OneOf(CONTACT_CHANNELS, error="must be one of: {choices}")
    )
    access_needs = _Text(ACCESS_NEEDS_MAX)

    @validates("date_of_birth")
    def _plausible_birth_date(self, value: date, **kwargs: Any) -> None:
        self._not_in_future(value)
        if age_on(value, self.today()) > MAX_AGE_YEARS:
            raise ValidationError(f"must make the person at most {MAX_AGE_YEARS} years old")

    # Runs despite other field errors so every problem is reported at once.
    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def _reachable_on_preferred_channel(self, data: dict, original: Any, **kwargs: Any) -> None:
        channel = data.get("preferred_contact")
        needed = _CHANNEL_NEEDS.get(channel)
        if needed is None:
            return
        detail = data.get(needed)
        if detail is None:
            sent = original.get(needed) if isinstance(original, Mapping) else None
            if isinstance(sent, str) and sent.strip():
                return  # sent but invalid: its own field already carries the error
            raise ValidationError(f"is '{channel}' but no {needed} was given", field_name="preferred_contact")
        if channel == "sms" and not uk_mobile(detail):
            raise ValidationError("is 'sms' but the phone is not a UK mobile number", field_name="preferred_contact")


class ConsentSchema(_ReferralPart):
    referral = StrictBoolean(
        required=True, validate=validate.Equal(True, error="the person must agree to be referred")
    )
    share_with_fire_service = StrictBoolean(required=True)
    contact = StrictBoolean(load_default=True)  # consent to be contacted by the group
    obtained_by = _Line(NAME_MAX, required=True)
    obtained_on = fields.Date(required=True)

    @validates("obtained_on")
    def _obtained_already(self, value: date, **kwargs: Any) -> None:
        self._not_in_future(value)


class HoardingSchema(_ReferralPart):
    clutter_image_rating = ClutterImageRatings(required=True)
    # Who rated and when: repeated ratings over time are the group's outcome measure.
    rated_by = _Line(NAME_MAX)
    rated_on = fields.Date(allow_none=True, load_default=None)

    @validates("rated_on")
    def _rated_already(self, value: date | None, **kwargs: Any) -> None:
        if value is not None:
            self._not_in_future(value)


class FireRiskSchema(_ReferralPart):
    # Every flag is required: on a safety form a missing answer must not read as "no".
    smoker = StrictBoolean(required=True)
    oxygen_use = StrictBoolean(required=True)
    lives_alone = StrictBoolean(required=True)
    mobility_impaired = StrictBoolean(required=True)
    previous_fire = StrictBoolean(required=True)
    blocked_exits = StrictBoolean(required=True)
    # "unknown" is itself a risk flag in triage, so defaulting to it loses nothing.
    working_smoke_alarm = fields.String(
        load_default="unknown", validate=validate.OneOf(SMOKE_ALARM_ANSWERS, error="must be one of: {choices}")
    )


class RequestedSchema(_ReferralPart):
    peer_support = StrictBoolean(load_default=True)
    home_fire_safety_visit = StrictBoolean(load_default=False)


class ReferralSchema(_ReferralPart):
    """The ``POST /referrals`` body. Loads to a plain dict of normalised values."""

    external_ref = _Line(EXTERNAL_REF_MAX)
    referrer = fields.Nested(ReferrerSchema, required=True)
    person = fields.Nested(PersonSchema, required=True)
    consent = fields.Nested(ConsentSchema, required=True)
    hoarding = fields.Nested(HoardingSchema, required=True)
    fire_risk = fields.Nested(FireRiskSchema, required=True)
    requested = fields.Nested(
        RequestedSchema, load_default=lambda: {"peer_support": True, "home_fire_safety_visit": False}
    )
    reason = _Text(REASON_MAX)  # narrative: never leaves the referrals service


def _case_status(**kwargs: Any) -> fields.Enum:
    # by_value=fields.String: loads a CaseStatus and documents a typed string enum.
    return fields.Enum(CaseStatus, by_value=fields.String, **kwargs)


class CasesQuerySchema(_StrictSchema):
    """``GET /cases`` query string (values arrive as strings, so numbers are not strict)."""

    status = _case_status()
    level = fields.Integer(validate=validate.OneOf(CASE_LEVELS, error="must be one of: {choices}"))
    q = fields.String(validate=validate.Length(min=2, max=100, error="must be from {min} to {max} characters"),
                      metadata={"description": "a reference (or part of one), a name or a postcode"})
    ids = fields.Function(deserialize=lambda text: [i for i in text.split(",") if i], metadata={
        "type": "string", "description": "only these cases: case ids separated by commas (at most 100)"},
        validate=validate.Length(min=1, max=100, error="give from {min} to {max} case ids"))
    needs_action = fields.Boolean(metadata={
        "description": "true: only the cases that need the coordinator (the queue), most urgent first; "
                       "false or absent: every case, open and most urgent first, closed last"})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000, error="must be from {min} to {max}"))
    per_page = fields.Integer(
        load_default=20, validate=validate.Range(min=1, max=MAX_PER_PAGE, error="must be from {min} to {max}")
    )


class ReferralsQuerySchema(_StrictSchema):
    """``GET /referrals`` query string: the caller's referrals, optionally one reference."""

    reference = _Line(EXTERNAL_REF_MAX)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000, error="must be from {min} to {max}"))
    per_page = fields.Integer(
        load_default=20, validate=validate.Range(min=1, max=MAX_PER_PAGE, error="must be from {min} to {max}")
    )


class TransitionRequestSchema(_StrictSchema):
    """``POST /cases/{case_id}/transitions``: every move records why."""

    to = _case_status(required=True)
    reason = _Text(NOTE_MAX, required=True)


class CirRatingRequestSchema(_StrictSchema):
    """``POST /cases/{case_id}/cir-ratings``: the coordinator's own Clutter Image Rating."""

    ratings = ClutterImageRatings(required=True)
    rated_on = fields.Date(required=True)

    @validates("rated_on")
    def _rated_already(self, value: date, **kwargs: Any) -> None:
        if value > datetime.now(timezone.utc).date():
            raise ValidationError("cannot be in the future")


class ProgressUpdatesRequestSchema(_StrictSchema):
    """``POST /cases/{case_id}/progress-updates``: the person opted in to (or out of) hearing their progress."""

    opted_in = StrictBoolean(required=True, metadata={
        "description": "true: after each Clutter Image Rating the coordinator records, the person gets a "
                       "message with their progress (first and latest rating per room); false: none"})


class AttentionDismissalSchema(_StrictSchema):
    """``POST /cases/{case_id}/attention``: the coordinator dealt with one reason the case needed them."""

    reason = fields.String(required=True, validate=validate.OneOf(REASONS, error="must be one of: {choices}"),
                           metadata={"description": "one of the case's needs_action reasons; only "
                                                    + ", ".join(r for r in REASONS if r in DISMISSIBLE)
                                                    + " can be marked (the others clear as the case or "
                                                      "visit moves: 409 not_dismissible)"})
    note = _Text(NOTE_MAX, metadata={"description": "what was done (free text; erased with the case)"})


class ConsentWithdrawalSchema(_StrictSchema):
    scope = fields.String(required=True, validate=validate.OneOf(CONSENT_SCOPES, error="must be one of: {choices}"))
    reason = _Text(NOTE_MAX)


# --- response schemas (dump side; required=True marks what is always present in the OpenAPI document) ---


class _ResponseSchema(Schema):
    class Meta:
        # Not RAISE: that would publish additionalProperties=false, and API.md lets responses gain fields.
        unknown = EXCLUDE


def _status_string(**kwargs: Any) -> fields.String:
    return fields.String(validate=validate.OneOf(CASE_STATUSES), **kwargs)


class ReferralCreatedSchema(_ResponseSchema):
    referral_id = fields.String(required=True)
    case_id = fields.String(required=True)
    reference = fields.String(required=True, metadata={"example": "HRW-2026-000123"})
    status = _status_string(required=True)


class VisitStatusSchema(_ResponseSchema):
    status = fields.String(required=True)


class ReferralStatusSchema(_ResponseSchema):
    """The referrer's closed-loop view: no narrative, no clinical detail."""

    reference = fields.String(required=True)
    status = _status_string(required=True)
    updated_at = UtcDateTime(required=True)
    visit = fields.Nested(VisitStatusSchema, required=True, allow_none=True)


class ReferralSummarySchema(_ResponseSchema):
    reference = fields.String(required=True)
    received_at = UtcDateTime(required=True)
    status = _status_string(required=True)
    visit_status = fields.String(required=True, allow_none=True)
    updated_at = UtcDateTime(required=True)


class ReferralListSchema(_ResponseSchema):
    items = fields.List(fields.Nested(ReferralSummarySchema), required=True)
    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)


class NeedsActionSchema(_ResponseSchema):
    """One reason a case needs the coordinator now (services/referrals/attention.py)."""

    reason = fields.String(required=True, validate=validate.OneOf(REASONS), metadata={
        "description": "fire_risk_no_consent, safeguarding (a room's latest CIR >= SAFEGUARDING_CIR_THRESHOLD, "
                       "default 7), visit_overdue, visit_due_soon (within 24 h), visit_no_access, visit_declined, "
                       "visit_cancelled, first_contact_due (5 working days in England from the first referral, "
                       "until first contact: in_progress), person_replied (a text to read and answer within 2 "
                       "working days), do_not_contact, email_bounced, new_referral"})
    since = UtcDateTime(required=True, allow_none=True, metadata={"description": "since when the case needs it"})
    dismissible = fields.Function(lambda need: need["reason"] in DISMISSIBLE, metadata={
        "type": "boolean", "description": "true when a coordinator marks it dealt with (POST /cases/{case_id}/attention); "
                       "the others clear when the case or the visit moves on"})
    due_by = UtcDateTime(required=True, allow_none=True, metadata={
        "description": "when it is due (in the past: overdue); null when there is no deadline"})


def _needs_action_list(**kwargs: Any) -> fields.List:
    return fields.List(fields.Nested(NeedsActionSchema), metadata={
        "description": "why the case needs the coordinator now, most urgent first: overdue or risk reasons "
                       "(fire risk without consent, safeguarding, visit overdue) first, then in the order of "
                       "the reasons listed, then the earliest due_by; empty for a closed case"}, **kwargs)


class CaseSummarySchema(_ResponseSchema):
    case_id = fields.String(required=True)
    reference = fields.String(required=True)
    status = _status_string(required=True)
    level = fields.Integer(required=True, validate=validate.OneOf(CASE_LEVELS))
    cir_max = fields.Integer(required=True, validate=validate.Range(min=CIR_MIN, max=CIR_MAX))
    visit_status = fields.String(required=True, allow_none=True)
    visit_priority = fields.String(allow_none=True)
    visit_due_by = UtcDateTime(allow_none=True)
    updated_at = UtcDateTime(required=True)
    name = fields.String(required=True, metadata={"description": "the person's given and family name; "
                                                                 "empty after erasure"})
    postcode = fields.String(required=True, metadata={"description": "empty after erasure"})
    received_at = UtcDateTime(required=True, allow_none=True, metadata={"description": "the first referral"})
    needs_action = _needs_action_list(required=True)


class CaseListSchema(_ResponseSchema):
    items = fields.List(fields.Nested(CaseSummarySchema), required=True)
    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)


class TimelineEntrySchema(_ResponseSchema):
    at = UtcDateTime(required=True)
    type = fields.String(required=True, metadata={"example": "referral_received"})
    summary = fields.String(required=True)
    source = fields.String(required=True, metadata={"example": "referrals"})
    correlation_id = fields.String()
    actor = fields.String(allow_none=True, metadata={"description": "who made a coordinator's move"})
    reason = fields.String(allow_none=True, metadata={"description": "why, as the coordinator gave it"})


class CaseVisitSchema(_ResponseSchema):
    visit_id = fields.String(required=True)
    status = fields.String(required=True)
    priority = fields.String(required=True)
    due_by = UtcDateTime(allow_none=True)


class CaseReferralSchema(_ResponseSchema):
    """A referral as the coordinator sees it (the narrative included; erased ones carry ids only)."""

    referral_id = fields.String(required=True)
    reference = fields.String(required=True)
    agency = fields.String(required=True)
    received_at = UtcDateTime(required=True)
    external_ref = fields.String(allow_none=True)
    referrer = fields.Dict(keys=fields.String())
    reason = fields.String(allow_none=True)
    requested = fields.Dict(keys=fields.String())
    erased = fields.Boolean()


class CirRatingSchema(_ResponseSchema):
    ratings = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    rated_by = fields.String(allow_none=True)
    rated_on = fields.String(required=True)
    reference = fields.String(required=True)
    rater_role = fields.String(load_default="referrer", dump_default="referrer",
                               metadata={"description": "referrer or coordinator (a coordinator's own rating "
                                                        "sets the level)"})


class ProgressUpdatesSchema(_ResponseSchema):
    opted_in = fields.Boolean(required=True)
    at = UtcDateTime(required=True)
    by = fields.String(required=True, metadata={"description": "who recorded the person's choice"})


class CaseDetailSchema(_ResponseSchema):
    case_id = fields.String(required=True)
    reference = fields.String(required=True)
    status = _status_string(required=True)
    level = fields.Integer(required=True, validate=validate.OneOf(CASE_LEVELS))
    cir_max = fields.Integer(required=True, validate=validate.Range(min=CIR_MIN, max=CIR_MAX))
    person = fields.Dict(keys=fields.String(), required=True)
    consent = fields.Dict(keys=fields.String(), required=True)
    visit = fields.Nested(CaseVisitSchema, required=True, allow_none=True)
    timeline = fields.List(fields.Nested(TimelineEntrySchema), required=True)  # ordered by `at`
    referrals = fields.List(fields.Nested(CaseReferralSchema))
    cir_ratings = fields.List(fields.Nested(CirRatingSchema))
    possible_matches = fields.List(fields.Dict(keys=fields.String()), metadata={
        "description": "open cases that may be the same person (a near match): a coordinator decides"})
    cir_trend = fields.Dict(keys=fields.String(), values=fields.List(fields.Dict()),
                            metadata={"description": "each room's ratings over time, oldest first"})
    progress_updates = fields.Nested(ProgressUpdatesSchema, allow_none=True, dump_default=None, metadata={
        "description": "whether the person wants their progress in a message (POST "
                       "/cases/{case_id}/progress-updates); null until asked"})
    version = fields.Integer(metadata={
        "description": "goes up by one with every change a coordinator or a referral makes; a page that shows "
                       "the case can tell that it changed since"})
    next_statuses = fields.List(fields.String(), metadata={
        "description": "the statuses this case may move to next (POST /cases/{case_id}/transitions), in "
                       "lifecycle order; empty for a closed case"})
    needs_action = _needs_action_list()
    created_at = UtcDateTime()
    updated_at = UtcDateTime()
    erased_at = UtcDateTime(allow_none=True)


class ErasureRequestSchema(_StrictSchema):
    """``POST /cases/{case_id}/erasure``: the person asked for their data to be removed."""

    reason = _Text(NOTE_MAX, required=True)


class ErrorSchema(_ResponseSchema):
    error = fields.String(required=True, metadata={"example": "validation_error"})
    message = fields.String(required=True)
    fields_ = fields.Dict(
        keys=fields.String(), values=fields.List(fields.String()), data_key="fields", attribute="fields"
    )
