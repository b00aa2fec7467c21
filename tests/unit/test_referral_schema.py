"""Validation and normalisation of the referrals HTTP API bodies (API.md), table by table."""

import copy
from datetime import date, datetime, timedelta, timezone

import pytest
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from services.referrals import schemas
from services.referrals.lifecycle import CaseStatus
from services.common.http import flatten_errors
from services.referrals.schemas import (
    AddressSchema,
    CaseDetailSchema,
    CaseListSchema,
    CasesQuerySchema,
    ConsentWithdrawalSchema,
    ErrorSchema,
    ReferralCreatedSchema,
    ReferralSchema,
    ReferralStatusSchema,
    TransitionRequestSchema,
    ValidationError,
    age_on,
    normalise_postcode,
    normalise_uk_phone,
    person_key,
)

# A fixed "today" a week before the machine's clock, so a test passing with the real date proves nothing.
TODAY = date(2026, 11, 20)
MISSING = object()  # "remove this field" in the tables below

# The API.md example, verbatim.
API_EXAMPLE = {
    "external_ref": "MIND-2026-0042",
    "referrer": {"name": "Sam Patel", "email": "sam@example.org", "phone": "020 7946 0000", "agency": "mind"},
    "person": {
        "given_name": "Ada",
        "family_name": "Jones",
        "date_of_birth": "1956-02-29",
        "address": {"line1": "12 Station Road", "line2": "", "town": "Harrow", "postcode": "HA1 2AB"},
        "phone": "07700 900123",
        "email": "ada@example.org",
        "preferred_contact": "phone",
        "access_needs": "hard of hearing; prefers mornings",
    },
    "consent": {
        "referral": True,
        "share_with_fire_service": True,
        "obtained_by": "Sam Patel",
        "obtained_on": "2026-11-20",
    },
    "hoarding": {"clutter_image_rating": {"living_room": 7, "kitchen": 5, "bedroom": 6}},
    "fire_risk": {
        "smoker": True,
        "oxygen_use": False,
        "lives_alone": True,
        "mobility_impaired": False,
        "previous_fire": False,
        "blocked_exits": True,
        "working_smoke_alarm": "unknown",
    },
    "requested": {"peer_support": True, "home_fire_safety_visit": True},
    "reason": "free text narrative; never leaves the referrals service",
}


def referral(**changes):
    """The API.md example with dotted-path changes: referral(**{"person.phone": None, "reason": MISSING})."""
    body = copy.deepcopy(API_EXAMPLE)
    for path, value in changes.items():
        *parents, leaf = path.split(".")
        node = body
        for key in parents:
            node = node[key]
        if value is MISSING:
            del node[leaf]
        else:
            node[leaf] = value
    return body


def load(body, today=TODAY):
    return ReferralSchema(today=today).load(body)


def errors_of(body, today=TODAY):
    with pytest.raises(ValidationError) as refused:
        load(body, today)
    return flatten_errors(refused.value.messages)


# --- the valid referral ------------------------------------------------------


def test_the_api_example_loads_with_normalised_values():
    loaded = load(referral())

    assert loaded["referrer"] == {
        "name": "Sam Patel",
        "email": "sam@example.org",
        "phone": "+442079460000",
        "agency": "mind",
    }
    assert loaded["person"] == {
        "given_name": "Ada",
        "family_name": "Jones",
        "date_of_birth": date(1956, 2, 29),
        "address": {"line1": "12 Station Road", "line2": None, "town": "Harrow", "postcode": "HA1 2AB"},
        "phone": "+447700900123",
        "email": "ada@example.org",
        "preferred_contact": "phone",
        "access_needs": "hard of hearing; prefers mornings",
    }
    assert loaded["consent"] == {
        "referral": True,
        "share_with_fire_service": True,
        "contact": True,
        "obtained_by": "Sam Patel",
        "obtained_on": date(2026, 11, 20),
    }
    assert loaded["hoarding"] == {
        "clutter_image_rating": {"living_room": 7, "kitchen": 5, "bedroom": 6},
        "rated_by": None,
        "rated_on": None,
    }
    assert loaded["fire_risk"] == API_EXAMPLE["fire_risk"]
    assert loaded["requested"] == {"peer_support": True, "home_fire_safety_visit": True}
    assert loaded["external_ref"] == "MIND-2026-0042"
    assert loaded["reason"] == API_EXAMPLE["reason"]


def test_a_minimal_referral_gets_the_documented_defaults():
    body = referral(
        **{
            "external_ref": MISSING,
            "reason": MISSING,
            "requested": MISSING,
            "referrer.phone": MISSING,
            "referrer.agency": MISSING,
            "person.phone": MISSING,
            "person.email": MISSING,
            "person.access_needs": MISSING,
            "person.address.line2": MISSING,
            "person.preferred_contact": "letter",
            "fire_risk.working_smoke_alarm": MISSING,
        }
    )
    loaded = load(body)

    assert loaded["requested"] == {"peer_support": True, "home_fire_safety_visit": False}
    # "unknown" is itself a triage flag, so a missing answer is not read as "yes".
    assert loaded["fire_risk"]["working_smoke_alarm"] == "unknown"
    assert loaded["consent"]["contact"] is True
    assert loaded["person"]["phone"] is None and loaded["person"]["email"] is None
    assert loaded["referrer"]["agency"] is None
    assert loaded["external_ref"] is None and loaded["reason"] is None


def test_who_rated_the_clutter_and_when_is_kept():
    loaded = load(referral(**{"hoarding.rated_by": "Sam Patel", "hoarding.rated_on": "2026-11-18"}))
    assert loaded["hoarding"]["rated_by"] == "Sam Patel"
    assert loaded["hoarding"]["rated_on"] == date(2026, 11, 18)


@pytest.mark.parametrize(
    ("path", "sent", "loaded"),
    [
        ("person.email", "", None),
        ("person.email", "  ", None),
        ("person.phone", "", None),
        ("person.access_needs", "   ", None),
        ("person.address.line2", None, None),
        ("person.given_name", "  Ada  ", "Ada"),
        ("referrer.email", "Sam.Patel@Example.ORG", "Sam.Patel@example.org"),
        ("person.email", " ada@EXAMPLE.org ", "ada@example.org"),
        ("reason", "line one\nline two", "line one\nline two"),
    ],
)
def test_text_is_stripped_and_blank_optional_fields_mean_absent(path, sent, loaded):
    # preferred_contact "letter" so a blank phone or email is not also a contact error.
    result = load(referral(**{path: sent, "person.preferred_contact": "letter"}))
    node = result
    for key in path.split("."):
        node = node[key]
    assert node == loaded


# --- one bad field, one error at exactly its path ------------------------------

TOMORROW = (TODAY + timedelta(days=1)).isoformat()

BAD_FIELDS = [
    ("external_ref", "x" * 65, "external_ref"),
    ("external_ref", "MIND\n42", "external_ref"),
    ("referrer", MISSING, "referrer"),
    ("referrer", "Sam Patel", "referrer"),
    ("referrer.name", "   ", "referrer.name"),
    ("referrer.name", MISSING, "referrer.name"),
    ("referrer.email", "sam.example.org", "referrer.email"),
    ("referrer.email", MISSING, "referrer.email"),
    ("referrer.phone", "12345", "referrer.phone"),
    ("referrer.agency", "nhs", "referrer.agency"),
    ("referrer.agency", "Mind", "referrer.agency"),
    ("person", MISSING, "person"),
    ("person.given_name", "", "person.given_name"),
    ("person.family_name", None, "person.family_name"),
    ("person.given_name", "Ada\tLovelace", "person.given_name"),
    ("person.date_of_birth", "1957-02-29", "person.date_of_birth"),
    ("person.date_of_birth", "29/02/1956", "person.date_of_birth"),
    ("person.date_of_birth", MISSING, "person.date_of_birth"),
    ("person.address", MISSING, "person.address"),
    ("person.address.line1", "12 Station\nRoad", "person.address.line1"),
    ("person.address.town", MISSING, "person.address.town"),
    ("person.address.postcode", "HA1", "person.address.postcode"),
    ("person.address.postcode", MISSING, "person.address.postcode"),
    ("person.phone", "0770 090", "person.phone"),
    ("person.email", "ada@", "person.email"),
    ("person.preferred_contact", "pigeon", "person.preferred_contact"),
    ("person.preferred_contact", MISSING, "person.preferred_contact"),
    ("person.access_needs", "mornings\x00", "person.access_needs"),
    ("consent", MISSING, "consent"),
    ("consent.referral", False, "consent.referral"),
    ("consent.referral", "true", "consent.referral"),
    ("consent.referral", MISSING, "consent.referral"),
    ("consent.share_with_fire_service", MISSING, "consent.share_with_fire_service"),
    ("consent.share_with_fire_service", None, "consent.share_with_fire_service"),
    ("consent.share_with_fire_service", "yes", "consent.share_with_fire_service"),
    ("consent.contact", 1, "consent.contact"),
    ("consent.obtained_by", MISSING, "consent.obtained_by"),
    ("consent.obtained_on", MISSING, "consent.obtained_on"),
    ("consent.obtained_on", TOMORROW, "consent.obtained_on"),
    ("hoarding", MISSING, "hoarding"),
    ("hoarding.clutter_image_rating", MISSING, "hoarding.clutter_image_rating"),
    ("hoarding.rated_on", TOMORROW, "hoarding.rated_on"),
    ("hoarding.rated_by", "x" * 101, "hoarding.rated_by"),
    ("fire_risk", MISSING, "fire_risk"),
    ("fire_risk.working_smoke_alarm", "maybe", "fire_risk.working_smoke_alarm"),
    ("fire_risk.working_smoke_alarm", "Yes", "fire_risk.working_smoke_alarm"),
    ("requested.peer_support", "true", "requested.peer_support"),
    ("requested.home_fire_safety_visit", None, "requested.home_fire_safety_visit"),
    ("reason", 42, "reason"),
]


@pytest.mark.parametrize(("path", "value", "error_path"), BAD_FIELDS)
def test_a_bad_field_is_reported_at_its_own_path_and_nowhere_else(path, value, error_path):
    assert set(errors_of(referral(**{path: value}))) == {error_path}


FIRE_RISK_FLAGS = ["smoker", "oxygen_use", "lives_alone", "mobility_impaired", "previous_fire", "blocked_exits"]


@pytest.mark.parametrize("flag", FIRE_RISK_FLAGS)
@pytest.mark.parametrize("value", [MISSING, None, "true", "false", 1, 0, "yes"])
def test_every_fire_risk_flag_is_a_required_json_boolean(flag, value):
    # A safety form must not read a missing or fuzzy answer as "no".
    assert set(errors_of(referral(**{f"fire_risk.{flag}": value}))) == {f"fire_risk.{flag}"}


def test_the_person_must_agree_to_be_referred():
    assert errors_of(referral(**{"consent.referral": False})) == {
        "consent.referral": ["the person must agree to be referred"]
    }


def test_every_bad_field_is_reported_at_once():
    body = referral(
        **{
            "referrer.email": "nope",
            "person.address.postcode": "NOT A POSTCODE",
            "person.date_of_birth": TOMORROW,
            "person.phone": MISSING,  # preferred_contact is "phone": checked despite the other person errors
            "consent.referral": False,
            "hoarding.clutter_image_rating": {"garage": 4, "kitchen": 10},
            "fire_risk.smoker": "yes",
            "requested.colour": "blue",
        }
    )
    assert set(errors_of(body)) == {
        "referrer.email",
        "person.address.postcode",
        "person.date_of_birth",
        "person.preferred_contact",
        "consent.referral",
        "hoarding.clutter_image_rating.garage",
        "hoarding.clutter_image_rating.kitchen",
        "fire_risk.smoker",
        "requested.colour",
    }


def test_a_body_that_is_not_an_object_is_one_error_on_the_whole():
    assert set(errors_of(["not", "an", "object"])) == {"_schema"}


# --- unknown fields ------------------------------------------------------------


@pytest.mark.parametrize(
    "parent",
    ["", "referrer", "person", "person.address", "consent", "hoarding", "fire_risk", "requested"],
)
def test_an_unknown_field_is_rejected_at_any_depth(parent):
    path = f"{parent}.diagnosis" if parent else "diagnosis"
    assert errors_of(referral(**{path: "anything"})) == {path: ["Unknown field."]}


# --- string lengths ----------------------------------------------------------

LIMITS = [
    ("external_ref", 64),
    ("referrer.name", 100),
    ("person.given_name", 100),
    ("person.family_name", 100),
    ("person.address.line1", 120),
    ("person.address.line2", 120),
    ("person.address.town", 120),
    ("person.access_needs", 500),
    ("consent.obtained_by", 100),
    ("hoarding.rated_by", 100),
    ("reason", 5000),
]


@pytest.mark.parametrize(("path", "limit"), LIMITS)
def test_a_string_at_its_limit_loads(path, limit):
    load(referral(**{path: "x" * limit}))


@pytest.mark.parametrize(("path", "limit"), LIMITS)
def test_a_string_one_over_its_limit_is_refused(path, limit):
    assert errors_of(referral(**{path: "x" * (limit + 1)})) == {path: [f"must be at most {limit} characters"]}


def test_an_over_long_email_is_refused():
    long_email = "a" * 64 + "@" + ".".join(["b" * 60] * 4) + ".org"  # 314 characters, each part valid
    assert set(errors_of(referral(**{"referrer.email": long_email}))) == {"referrer.email"}


# --- postcodes -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("HA1 2AB", "HA1 2AB"),
        ("ha12ab", "HA1 2AB"),
        ("  ha1   2ab ", "HA1 2AB"),
        ("SW1A 1AA", "SW1A 1AA"),
        ("sw1a1aa", "SW1A 1AA"),
        ("EC1A1BB", "EC1A 1BB"),
        ("W1A 0AX", "W1A 0AX"),
        ("M1 1AE", "M1 1AE"),
        ("B338TH", "B33 8TH"),
        ("CR2 6XH", "CR2 6XH"),
        ("DN55 1PT", "DN55 1PT"),
        ("GIR 0AA", "GIR 0AA"),
        ("gir0aa", "GIR 0AA"),
    ],
)
def test_postcodes_are_stored_upper_case_with_one_space(sent, stored):
    address = {"line1": "1 High Street", "town": "Harrow", "postcode": sent}
    assert AddressSchema().load(address)["postcode"] == stored


@pytest.mark.parametrize(
    "sent",
    [
        "",
        "HA1",
        "HA1 2A",
        "HA1 2ABC",
        "12345",
        "HA1-2AB",  # a dash is not a space
        "H A1 2AB",  # a space may only separate outward and inward codes
        "QA1 2AB",  # Q never starts a postcode
        "HA1 2CB",  # C is never in the inward code
        "HAA1 2AB",
        "GIR 0AB",
    ],
)
def test_a_string_that_is_not_a_uk_postcode_is_refused(sent):
    assert normalise_postcode(sent) is None
    errors = errors_of(referral(**{"person.address.postcode": sent}))
    assert errors == {"person.address.postcode": ["must be a UK postcode, e.g. HA1 2AB"]}


# --- phone numbers -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("07700 900123", "+447700900123"),
        ("07700900123", "+447700900123"),
        ("07700-900-123", "+447700900123"),
        ("(07700) 900123", "+447700900123"),
        ("+44 7700 900123", "+447700900123"),
        ("+447700900123", "+447700900123"),
        ("0044 7700 900123", "+447700900123"),
        ("+44 (0)7700 900123", "+447700900123"),
        ("020 7946 0000", "+442079460000"),
        ("(020) 7946-0000", "+442079460000"),
        ("+44 (0)20 7946 0000", "+442079460000"),
        ("016977 3456", "+44169773456"),  # a 10-digit national number
    ],
)
def test_uk_phone_numbers_are_stored_in_e164(sent, stored):
    assert normalise_uk_phone(sent) == stored
    assert load(referral(**{"person.phone": sent}))["person"]["phone"] == stored


@pytest.mark.parametrize(
    "sent",
    [
        "7700 900123",  # no trunk 0
        "44 7700 900123",  # country code without + or 00
        "0770 090",  # too short
        "077009001234",  # 12 national digits
        "+44 7700 9001234",  # 11 digits after +44
        "+33 1 23 45 67 89",
        "0033 1 23 45 67 89",
        "+44 00 7700 900123",
        "07700.900.123",
        "07700 900123 ext 4",
        "++447700900123",
        "07700 9001２3",  # a full-width digit
        "0",
    ],
)
def test_a_number_that_is_not_a_uk_phone_number_is_refused(sent):
    assert normalise_uk_phone(sent) is None
    errors = errors_of(referral(**{"person.phone": sent}))
    # The wrong number is the problem, not the preferred channel that needs it.
    assert set(errors) == {"person.phone"}


# --- date of birth -------------------------------------------------------------


@pytest.mark.parametrize(
    ("born", "today", "valid"),
    [
        ("1956-02-29", TODAY, True),  # a real leap day
        (TODAY.isoformat(), TODAY, True),  # born today: not in the future
        (TOMORROW, TODAY, False),
        ("1905-11-21", TODAY, True),  # 120 until tomorrow
        ("1905-11-20", TODAY, False),  # 121 today
        ("1956-02-29", date(2077, 2, 28), True),  # a leap-day birthday comes round on 1 March
        ("1956-02-29", date(2077, 3, 1), False),
    ],
)
def test_date_of_birth_must_be_past_and_within_120_years(born, today, valid):
    body = referral(**{"person.date_of_birth": born, "consent.obtained_on": "2026-01-01"})
    if valid:
        assert load(body, today)["person"]["date_of_birth"] == date.fromisoformat(born)
    else:
        assert set(errors_of(body, today)) == {"person.date_of_birth"}


@pytest.mark.parametrize("born", ["1957-02-29", "1956-02-30", "2026-13-01", "1956-2-29", "", 19560229])
def test_date_of_birth_must_be_a_real_iso_date(born):
    assert set(errors_of(referral(**{"person.date_of_birth": born}))) == {"person.date_of_birth"}


@pytest.mark.parametrize(
    ("born", "on", "age"),
    [
        (date(1956, 2, 29), date(2026, 2, 28), 69),
        (date(1956, 2, 29), date(2026, 3, 1), 70),
        (date(1956, 2, 29), date(2028, 2, 29), 72),
        (date(1990, 6, 15), date(2026, 6, 14), 35),
        (date(1990, 6, 15), date(2026, 6, 15), 36),
    ],
)
def test_age_counts_whole_years(born, on, age):
    assert age_on(born, on) == age


def test_today_comes_from_the_london_clock_unless_given(monkeypatch):
    # The API example's consent date is valid on the 20th and in the future on the 19th.
    monkeypatch.setattr(schemas, "london_today", lambda: date(2026, 11, 19))
    with pytest.raises(ValidationError) as refused:
        ReferralSchema().load(referral())
    assert set(flatten_errors(refused.value.messages)) == {"consent.obtained_on"}
    monkeypatch.setattr(schemas, "london_today", lambda: date(2026, 11, 20))
    ReferralSchema().load(referral())


# --- clutter image rating ------------------------------------------------------------


@pytest.mark.parametrize("rating", [1, 9])
def test_cir_accepts_the_ends_of_the_scale(rating):
    loaded = load(referral(**{"hoarding.clutter_image_rating": {"kitchen": rating}}))
    assert loaded["hoarding"]["clutter_image_rating"] == {"kitchen": rating}


def test_cir_accepts_every_rated_room():
    ratings = {"living_room": 1, "kitchen": 2, "bedroom": 3, "other": 4}
    assert load(referral(**{"hoarding.clutter_image_rating": ratings}))["hoarding"]["clutter_image_rating"] == ratings


@pytest.mark.parametrize("rating", [0, 10, -1, 7.5, 7.0, "7", True, None, [7]])
def test_cir_refuses_anything_but_a_whole_number_from_1_to_9(rating):
    errors = errors_of(referral(**{"hoarding.clutter_image_rating": {"living_room": 2, "kitchen": rating}}))
    assert errors == {"hoarding.clutter_image_rating.kitchen": ["must be a whole number from 1 to 9"]}


@pytest.mark.parametrize("room", ["garage", "Kitchen", "living room", ""])
def test_cir_refuses_a_room_off_the_photo_scale(room):
    errors = errors_of(referral(**{"hoarding.clutter_image_rating": {room: 3}}))
    assert set(errors) == {f"hoarding.clutter_image_rating.{room}"}
    assert "living_room, kitchen, bedroom, other" in errors[f"hoarding.clutter_image_rating.{room}"][0]


def test_a_bad_room_with_a_bad_rating_reports_both_on_the_room():
    errors = errors_of(referral(**{"hoarding.clutter_image_rating": {"garage": 12}}))
    assert len(errors["hoarding.clutter_image_rating.garage"]) == 2


@pytest.mark.parametrize("ratings", [{}, [], [7], "7", 7, None])
def test_cir_needs_an_object_with_at_least_one_room(ratings):
    assert set(errors_of(referral(**{"hoarding.clutter_image_rating": ratings}))) == {"hoarding.clutter_image_rating"}


# --- preferred contact -------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "removed"),
    [
        ("phone", "person.phone"),
        ("sms", "person.phone"),
        ("email", "person.email"),
    ],
)
@pytest.mark.parametrize("how", [MISSING, None, ""])
def test_the_preferred_channel_needs_its_contact_detail(channel, removed, how):
    errors = errors_of(referral(**{"person.preferred_contact": channel, removed: how}))
    assert errors == {"person.preferred_contact": [f"is '{channel}' but no {removed.split('.')[1]} was given"]}


def test_a_letter_needs_only_the_address():
    loaded = load(referral(**{"person.preferred_contact": "letter", "person.phone": MISSING, "person.email": MISSING}))
    assert loaded["person"]["preferred_contact"] == "letter"


@pytest.mark.parametrize(
    ("phone", "valid"),
    [("07700 900123", True), ("020 7946 0000", False), ("07600 900123", False)],  # 076: pagers
)
def test_sms_needs_a_mobile_number(phone, valid):
    body = referral(**{"person.preferred_contact": "sms", "person.phone": phone})
    if valid:
        assert load(body)["person"]["preferred_contact"] == "sms"
    else:
        assert set(errors_of(body)) == {"person.preferred_contact"}


# --- flatten_errors and person_key -------------------------------------------------


def test_flatten_errors_gives_dotted_paths():
    messages = {
        "_schema": ["whole body"],
        "person": {"_schema": ["not an object"], "address": {"postcode": ["bad", "worse"]}},
        "items": {0: {"at": ["not a datetime"]}},
        "hoarding": {"clutter_image_rating": {"garage": ["not a room"]}},
    }
    assert flatten_errors(messages) == {
        "_schema": ["whole body"],
        "person": ["not an object"],
        "person.address.postcode": ["bad", "worse"],
        "items.0.at": ["not a datetime"],
        "hoarding.clutter_image_rating.garage": ["not a room"],
    }


def test_person_key_joins_names_birth_date_and_postcode():
    person = load(referral())["person"]
    assert person_key(person) == "adajones|1956-02-29|HA12AB"


ADA = {
    "given_name": "Ada",
    "family_name": "Jones",
    "date_of_birth": date(1956, 2, 29),
    "address": {"postcode": "HA1 2AB"},
}


@pytest.mark.parametrize(
    ("given", "family", "born", "postcode", "key"),
    [
        ("  ADA ", "jones", "1956-02-29", "ha1 2ab", "adajones|1956-02-29|HA12AB"),
        ("Ada", "Jones", date(1956, 2, 29), "HA12AB", "adajones|1956-02-29|HA12AB"),
        # Split differently between given and family name, still the same person.
        ("Ada Mary", "Jones", "1956-02-29", "HA1 2AB", "adamaryjones|1956-02-29|HA12AB"),
        ("Ada", "Mary Jones", "1956-02-29", "HA1 2AB", "adamaryjones|1956-02-29|HA12AB"),
        ("Zoe\u0308", "Jones", "1956-02-29", "HA1 2AB", "zo\u00ebjones|1956-02-29|HA12AB"),  # NFKC: one \u00eb
    ],
)
def test_person_key_ignores_case_spacing_and_name_split(given, family, born, postcode, key):
    person = {"given_name": given, "family_name": family, "date_of_birth": born, "address": {"postcode": postcode}}
    assert person_key(person) == key


@pytest.mark.parametrize("family", ["O'Brien-Smith", "obrien smith", "O\u2019Brien\u2010Smith", "OBRIENSMITH"])
def test_person_key_ignores_hyphens_and_apostrophes(family):
    assert person_key({**ADA, "family_name": family}) == "adaobriensmith|1956-02-29|HA12AB"


@pytest.mark.parametrize(
    "change",
    [
        {"date_of_birth": date(1956, 3, 1)},
        {"address": {"postcode": "HA1 2AD"}},
        {"given_name": "Ida"},
    ],
)
def test_person_key_differs_for_a_different_person(change):
    assert person_key({**ADA, **change}) != person_key(ADA)


# --- the other request schemas -------------------------------------------------------


def test_case_list_query_defaults_to_the_first_page_of_20():
    assert CasesQuerySchema().load({}) == {"page": 1, "per_page": 20}


def test_case_list_query_loads_query_strings():
    loaded = CasesQuerySchema().load({"status": "on_hold", "level": "3", "page": "2", "per_page": "100"})
    assert loaded == {"status": CaseStatus.ON_HOLD, "level": 3, "page": 2, "per_page": 100}


@pytest.mark.parametrize(
    ("query", "error_path"),
    [
        ({"status": "open"}, "status"),
        ({"level": "0"}, "level"),
        ({"level": "4"}, "level"),
        ({"level": "two"}, "level"),
        ({"page": "0"}, "page"),
        ({"page": "1.5"}, "page"),
        ({"per_page": "0"}, "per_page"),
        ({"per_page": "101"}, "per_page"),
        ({"sort": "updated_at"}, "sort"),
    ],
)
def test_case_list_query_refuses_bad_parameters(query, error_path):
    with pytest.raises(ValidationError) as refused:
        CasesQuerySchema().load(query)
    assert set(flatten_errors(refused.value.messages)) == {error_path}


def test_a_transition_loads_the_target_status():
    loaded = TransitionRequestSchema().load({"to": "accepted", "reason": "  meets the criteria  "})
    assert loaded == {"to": CaseStatus.ACCEPTED, "reason": "meets the criteria"}


@pytest.mark.parametrize(
    ("body", "error_path"),
    [
        ({"to": "closed", "reason": "x"}, "to"),
        ({"reason": "x"}, "to"),
        ({"to": "accepted"}, "reason"),
        ({"to": "accepted", "reason": "   "}, "reason"),
        ({"to": "accepted", "reason": None}, "reason"),
        ({"to": "accepted", "reason": "x" * 1001}, "reason"),
        ({"to": "accepted", "reason": "x", "by": "me"}, "by"),
    ],
)
def test_every_transition_must_say_where_and_why(body, error_path):
    with pytest.raises(ValidationError) as refused:
        TransitionRequestSchema().load(body)
    assert set(flatten_errors(refused.value.messages)) == {error_path}


@pytest.mark.parametrize("scope", ["all", "fire_service", "contact"])
def test_consent_can_be_withdrawn_per_purpose(scope):
    assert ConsentWithdrawalSchema().load({"scope": scope}) == {"scope": scope, "reason": None}


@pytest.mark.parametrize(
    "body",
    [{}, {"scope": "referral"}, {"scope": "all", "reason": "x" * 1001}, {"scope": "all", "erase": True}],
)
def test_a_consent_withdrawal_needs_a_known_scope(body):
    with pytest.raises(ValidationError):
        ConsentWithdrawalSchema().load(body)


# --- responses ---------------------------------------------------------------------


def test_datetimes_are_dumped_as_utc_even_when_stored_naive():
    # Mongo hands back naive datetimes that are UTC.
    naive = datetime(2026, 11, 20, 9, 30)
    aware_bst = datetime(2026, 6, 1, 10, 0, tzinfo=timezone(timedelta(hours=1)))
    stored = {"reference": "HRW-2026-000123", "status": "received", "updated_at": naive, "visit": None}
    assert ReferralStatusSchema().dump(stored) == {
        "reference": "HRW-2026-000123",
        "status": "received",
        "updated_at": "2026-11-20T09:30:00+00:00",
        "visit": None,
    }
    dumped = CaseListSchema().dump(
        {
            "items": [
                {
                    "case_id": "c1",
                    "reference": "HRW-2026-000123",
                    "status": "accepted",
                    "level": 3,
                    "cir_max": 7,
                    "visit_status": None,
                    "updated_at": aware_bst,
                }
            ],
            "total": 1,
            "page": 1,
            "per_page": 20,
        }
    )
    assert dumped["items"][0]["updated_at"] == "2026-06-01T09:00:00+00:00"
    assert dumped["items"][0]["visit_status"] is None


def test_the_referrer_view_carries_no_narrative():
    stored = {
        "reference": "HRW-2026-000123",
        "status": "accepted",
        "updated_at": datetime(2026, 11, 20),
        "visit": {"status": "scheduled", "notes": "crew notes"},
        "reason": "narrative",
    }
    dumped = ReferralStatusSchema().dump(stored)
    assert set(dumped) == {"reference", "status", "updated_at", "visit"}
    assert dumped["visit"] == {"status": "scheduled"}


def test_the_error_body_names_field_paths():
    body = {"error": "validation_error", "message": "invalid referral", "fields": {"person.phone": ["bad"]}}
    assert ErrorSchema().dump(body) == body


PUBLISHED = [
    ReferralSchema,
    ReferralCreatedSchema,
    ReferralStatusSchema,
    CaseListSchema,
    CasesQuerySchema,
    CaseDetailSchema,
    TransitionRequestSchema,
    ConsentWithdrawalSchema,
    ErrorSchema,
]


def _openapi_components():
    spec = APISpec("referrals", "1", "3.0.3", plugins=[MarshmallowPlugin()])
    for schema in PUBLISHED:
        spec.components.schema(schema.__name__.removesuffix("Schema"), schema=schema)
    return spec.to_dict()["components"]["schemas"]


def _typed(definition):
    # A nullable nested object is published as anyOf [null, $ref]: typed if every branch is.
    if "anyOf" in definition:
        return all(_typed(branch) for branch in definition["anyOf"])
    return "type" in definition or "$ref" in definition


def test_every_published_field_has_a_type():
    untyped = [
        f"{name}.{prop}"
        for name, component in _openapi_components().items()
        for prop, definition in component["properties"].items()
        if not _typed(definition)
    ]
    assert untyped == []


def test_the_published_contract_rejects_unknown_request_fields_but_lets_responses_grow():
    components = _openapi_components()
    assert components["Referral"]["additionalProperties"] is False
    assert components["Person"]["additionalProperties"] is False
    assert "additionalProperties" not in components["CaseList"]
    assert components["CasesQuery"]["properties"]["status"]["enum"] == [status.value for status in CaseStatus]
