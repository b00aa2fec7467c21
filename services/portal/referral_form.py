"""The "Refer someone" form: what it asks, how answers become a `POST /referrals` body, and how the
API's 400 `fields` (dotted paths) become messages a person can act on, next to the right field.

Pure: no I/O. The referrals service stays the one judge of what is valid; this module only
translates both ways.
"""
from __future__ import annotations

from dataclasses import dataclass

ROOMS = (("living_room", "Living room"), ("kitchen", "Kitchen"), ("bedroom", "Bedroom"),
         ("other", "Other rooms"))
FIRE_FLAGS = (
    ("smoker", "Do they smoke at home?"),
    ("oxygen_use", "Do they use medical oxygen at home?"),
    ("lives_alone", "Do they live alone?"),
    ("mobility_impaired", "Would they find it hard to get out quickly, for example because of mobility?"),
    ("previous_fire", "Have they had a fire at home before?"),
    ("blocked_exits", "Are doors, stairs or hallways blocked by belongings?"),
)
FIRE_FLAG_ERRORS = {  # GOV.UK's pattern for an unanswered yes/no question: "Select yes if ..."
    "smoker": "Select yes if they smoke at home",
    "oxygen_use": "Select yes if they use medical oxygen at home",
    "lives_alone": "Select yes if they live alone",
    "mobility_impaired": "Select yes if they would find it hard to get out quickly",
    "previous_fire": "Select yes if they have had a fire at home before",
    "blocked_exits": "Select yes if doors, stairs or hallways are blocked by belongings",
}
DATE_FIELDS = ("person.date_of_birth", "consent.obtained_on", "hoarding.rated_on")
YES_NO_FIELDS = ("consent.share_with_fire_service", "consent.contact",
                 *(f"fire_risk.{flag}" for flag, _ in FIRE_FLAGS))
CHECKBOX_FIELDS = ("consent.referral", "requested.peer_support", "requested.home_fire_safety_visit")
TEXT_FIELDS = ("external_ref", "referrer.name", "referrer.email", "referrer.phone",
               "person.given_name", "person.family_name", "person.address.line1", "person.address.line2",
               "person.address.town", "person.address.postcode", "person.phone", "person.email",
               "person.preferred_contact", "person.access_needs", "consent.obtained_by",
               "hoarding.rated_by", "fire_risk.working_smoke_alarm", "reason")


def field_id(path: str) -> str:
    """The HTML id of a field (and the error summary's link target): dots are awkward in ids."""
    return path.replace(".", "-")


def _set(body: dict, path: str, value) -> None:
    *parents, leaf = path.split(".")
    for key in parents:
        body = body.setdefault(key, {})
    body[leaf] = value


def _date(form, path: str):
    day, month, year = (form.get(f"{path}-{part}", "").strip() for part in ("day", "month", "year"))
    if not (day or month or year):
        return None
    if day.isdigit() and month.isdigit() and year.isdigit() and len(year) == 4:
        return f"{int(year):04d}-{int(month):02d}-{int(day):02d}"
    return f"{year}-{month}-{day}"  # the API refuses it, and we say how to write a date


def body_from_form(form) -> dict:
    """The form's answers as a `POST /referrals` body; unanswered questions are left out so the API names them."""
    body: dict = {"consent": {}, "fire_risk": {}, "requested": {}, "hoarding": {"clutter_image_rating": {}}}
    for path in TEXT_FIELDS:
        value = form.get(path, "")
        if value.strip():
            _set(body, path, value)
    for path in DATE_FIELDS:
        value = _date(form, path)
        if value is not None:
            _set(body, path, value)
    for path in YES_NO_FIELDS:
        if form.get(path) in ("yes", "no"):
            _set(body, path, form.get(path) == "yes")
    for path in CHECKBOX_FIELDS:
        _set(body, path, form.get(path) == "yes")
    ratings = body["hoarding"]["clutter_image_rating"]
    for room, _ in ROOMS:
        value = form.get(f"hoarding.clutter_image_rating.{room}", "").strip()
        if value:
            ratings[room] = int(value) if value.isdigit() else value
    return body


# --- errors -------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    missing: str                      # the field was not answered
    invalid: str | None = None        # anything else the API refused
    # (words in the API's message, our message) pairs, checked first
    cases: tuple[tuple[str, str], ...] = ()


_DATE_WORDS = "like 27 3 1956"
MESSAGES: dict[str, Message] = {
    "referrer.name": Message("Enter your name"),
    "referrer.email": Message("Enter your email address", "Enter your email address in the right format, like name@example.org"),
    "referrer.phone": Message("Enter your phone number", "Enter your phone number as a UK number, like 020 7946 0000"),
    "external_ref": Message("Enter your reference", "Your reference must be one line of at most 64 characters"),
    "person.given_name": Message("Enter their first name"),
    "person.family_name": Message("Enter their last name"),
    "person.date_of_birth": Message(
        "Enter their date of birth", f"Enter their date of birth as a real date, {_DATE_WORDS}",
        (("future", "Their date of birth must be in the past"),
         ("years old", "Check their date of birth: it makes them older than 120"))),
    "person.address.line1": Message("Enter the first line of their address"),
    "person.address.line2": Message("Enter the second line of their address", "The second line of the address must be at most 120 characters"),
    "person.address.town": Message("Enter their town or city"),
    "person.address.postcode": Message("Enter their postcode", "Enter a UK postcode, like HA1 2AB"),
    "person.phone": Message("Enter their phone number", "Enter their phone number as a UK number, like 07700 900123"),
    "person.email": Message("Enter their email address", "Enter their email address in the right format, like name@example.org"),
    "person.preferred_contact": Message(
        "Select how they would like us to contact them", "Select how they would like us to contact them",
        (("no phone", "Enter their phone number, or choose another way to contact them"),
         ("no email", "Enter their email address, or choose another way to contact them"),
         ("not a UK mobile", "Text messages need a UK mobile number: enter one, or choose another way"))),
    "person.access_needs": Message("Tell us about any access needs", "Access needs must be at most 500 characters"),
    # the box unticked reaches the API as false: the same words either way
    "consent.referral": Message("Confirm that they agreed to be referred to the peer support group",
                                "Confirm that they agreed to be referred to the peer support group"),
    "consent.share_with_fire_service": Message("Select yes if they agreed that we share details with the fire service"),
    "consent.contact": Message("Select yes if they agreed that the group contacts them"),
    "consent.obtained_by": Message("Enter the name of the person who asked for their agreement"),
    "consent.obtained_on": Message(
        "Enter the date they agreed", f"Enter the date they agreed as a real date, {_DATE_WORDS.replace('1956', '2026')}",
        (("future", "The date they agreed must be today or in the past"),)),
    "hoarding.clutter_image_rating": Message("Rate at least one room from 1 to 9",
                                             "Rate at least one room from 1 to 9",
                                             (("at least one", "Rate at least one room from 1 to 9"),)),
    "hoarding.rated_by": Message("Enter who rated the rooms"),
    "hoarding.rated_on": Message(
        "Enter the date the rooms were rated", f"Enter the date the rooms were rated as a real date, {_DATE_WORDS.replace('1956', '2026')}",
        (("future", "The date the rooms were rated must be today or in the past"),)),
    "fire_risk.working_smoke_alarm": Message("Select whether they have a working smoke alarm"),
    "reason": Message("Tell us why you are referring them", "The reason must be at most 5,000 characters"),
}
for _room, _label in ROOMS:
    MESSAGES[f"hoarding.clutter_image_rating.{_room}"] = Message(
        f"Enter a rating for the {_label.lower()}", f"Enter a rating for the {_label.lower()} from 1 to 9, or leave it blank")
for _flag, _message in FIRE_FLAG_ERRORS.items():
    MESSAGES[f"fire_risk.{_flag}"] = Message(_message)

_MISSING_WORDS = ("missing data", "must not be blank", "field may not be null")
# Where an error about a group is shown: the first field of the group.
ANCHORS = {"hoarding.clutter_image_rating": "hoarding.clutter_image_rating.living_room",
           "person.date_of_birth": "person.date_of_birth-day", "consent.obtained_on": "consent.obtained_on-day",
           "hoarding.rated_on": "hoarding.rated_on-day"}
_GENERAL = "Something in the form could not be accepted. Check your answers and try again"


def friendly_message(path: str, api_messages: list[str]) -> str:
    """One plain-words message for a field the API refused; never the dotted path."""
    message = MESSAGES.get(path)
    said = " ".join(api_messages).lower()
    if message is None:
        return _GENERAL
    for words, ours in message.cases:
        if words.lower() in said:
            return ours
    if any(words in said for words in _MISSING_WORDS):
        return message.missing
    return message.invalid or message.missing


def errors_from_api(fields: dict[str, list[str]]) -> list[dict]:
    """The API's `fields` as the error summary's list, in the order the form asks: `{path, href, text}`."""
    order = {path: i for i, path in enumerate(FORM_ORDER)}
    errors = []
    for path, api_messages in fields.items():
        shown = path if path in MESSAGES else _GENERAL_PATH
        errors.append({"path": shown, "href": "#" + field_id(ANCHORS.get(shown, shown)),
                       "text": friendly_message(path, api_messages)})
    errors.sort(key=lambda e: order.get(e["path"], len(order)))
    seen, unique = set(), []
    for error in errors:  # one line per field
        if error["path"] not in seen:
            seen.add(error["path"])
            unique.append(error)
    return unique


_GENERAL_PATH = "form"
# The order the form asks its questions in (the error summary follows it).
FORM_ORDER = (
    "person.given_name", "person.family_name", "person.date_of_birth", "person.access_needs",
    "person.address.line1", "person.address.line2", "person.address.town", "person.address.postcode",
    "person.phone", "person.email", "person.preferred_contact",
    "consent.referral", "consent.share_with_fire_service", "consent.contact", "consent.obtained_by",
    "consent.obtained_on",
    *(f"hoarding.clutter_image_rating.{room}" for room, _ in ROOMS), "hoarding.clutter_image_rating",
    "hoarding.rated_by", "hoarding.rated_on",
    *(f"fire_risk.{flag}" for flag, _ in FIRE_FLAGS), "fire_risk.working_smoke_alarm",
    "requested.peer_support", "requested.home_fire_safety_visit", "reason",
    "referrer.name", "referrer.email", "referrer.phone", "external_ref",
)
