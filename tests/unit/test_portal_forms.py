"""The Refer someone form: answers to a POST /referrals body, the API's errors to plain words (pure)."""
from datetime import datetime, timezone

import pytest
from werkzeug.datastructures import MultiDict

from services.portal.display import london_time
from services.portal.referral_form import body_from_form, errors_from_api, friendly_message
from services.referrals.schemas import ReferralSchema


def test_a_filled_form_is_a_valid_referral():
    form = MultiDict({
        "person.given_name": "Ada", "person.family_name": "Jones", "person.date_of_birth-day": "29",
        "person.date_of_birth-month": "2", "person.date_of_birth-year": "1956",
        "person.address.line1": "12 Station Road", "person.address.town": "Harrow",
        "person.address.postcode": "ha1 2ab", "person.email": "ada@example.org", "person.preferred_contact": "email",
        "consent.referral": "yes", "consent.share_with_fire_service": "no", "consent.contact": "yes",
        "consent.obtained_by": "Sam Patel", "consent.obtained_on-day": "20", "consent.obtained_on-month": "11",
        "consent.obtained_on-year": "2026", "hoarding.clutter_image_rating.kitchen": "5",
        "fire_risk.smoker": "yes", "fire_risk.oxygen_use": "no", "fire_risk.lives_alone": "no",
        "fire_risk.mobility_impaired": "no", "fire_risk.previous_fire": "no", "fire_risk.blocked_exits": "yes",
        "fire_risk.working_smoke_alarm": "unknown", "requested.peer_support": "yes",
        "referrer.name": "Sam Patel", "referrer.email": "sam@example.org", "csrf_token": "x"})
    body = body_from_form(form)
    assert body["person"]["date_of_birth"] == "1956-02-29"
    assert body["hoarding"]["clutter_image_rating"] == {"kitchen": 5}
    assert body["consent"]["share_with_fire_service"] is False
    assert body["requested"] == {"peer_support": True, "home_fire_safety_visit": False}
    loaded = ReferralSchema().load(body)       # the API's own schema accepts it
    assert loaded["person"]["address"]["postcode"] == "HA1 2AB"


def test_unanswered_questions_are_left_out_so_the_api_names_them():
    body = body_from_form(MultiDict({"fire_risk.smoker": "", "person.date_of_birth-day": "31",
                                     "person.date_of_birth-month": "x", "person.date_of_birth-year": "1956"}))
    assert "smoker" not in body["fire_risk"]
    assert body["person"]["date_of_birth"] == "1956-x-31"     # refused by the API, explained by us


@pytest.mark.parametrize("path, api_messages, ours", [
    ("person.address.postcode", ["must be a UK postcode, e.g. HA1 2AB"], "Enter a UK postcode, like HA1 2AB"),
    ("person.address.postcode", ["Missing data for required field."], "Enter their postcode"),
    ("person.date_of_birth", ["must not be in the future"], "Their date of birth must be in the past"),
    ("person.date_of_birth", ["Not a valid date."], "Enter their date of birth as a real date, like 27 3 1956"),
    ("person.preferred_contact", ["is 'email' but no email was given"],
     "Enter their email address, or choose another way to contact them"),
    ("consent.referral", ["the person must agree to be referred"],
     "Confirm that they agreed to be referred to the peer support group"),
    ("fire_risk.smoker", ["Missing data for required field."], "Select yes if they smoke at home"),
    ("hoarding.clutter_image_rating.kitchen", ["must be a whole number from 1 to 9"],
     "Enter a rating for the kitchen from 1 to 9, or leave it blank"),
    ("something.new", ["whatever"], "Something in the form could not be accepted. Check your answers and try again"),
])
def test_friendly_messages(path, api_messages, ours):
    assert friendly_message(path, api_messages) == ours


def test_every_fire_question_has_its_own_message():
    from services.portal.referral_form import FIRE_FLAGS

    messages = {friendly_message(f"fire_risk.{flag}", ["Missing data for required field."]) for flag, _ in FIRE_FLAGS}
    assert len(messages) == len(FIRE_FLAGS) and all(m.startswith("Select yes if") for m in messages)


def test_the_error_summary_follows_the_form_and_links_to_fields():
    errors = errors_from_api({"referrer.email": ["Not a valid email address."],
                              "hoarding.clutter_image_rating": ["rate at least one room"],
                              "person.given_name": ["Missing data for required field."]})
    assert [e["text"] for e in errors] == [
        "Enter their first name", "Rate at least one room from 1 to 9",
        "Enter your email address in the right format, like name@example.org"]
    assert [e["href"] for e in errors] == ["#person-given_name", "#hoarding-clutter_image_rating-living_room",
                                           "#referrer-email"]
    assert not any("." in e["text"].split(",")[0] and "@" not in e["text"] for e in errors)


@pytest.mark.parametrize("utc, shown", [
    ("2026-11-30T14:05:00+00:00", "Mon 30 Nov, 14:05"),          # GMT
    ("2026-07-01T08:30:00Z", "Wed 1 Jul, 09:30"),                 # BST
    (datetime(2026, 3, 29, 0, 59, tzinfo=timezone.utc), "Sun 29 Mar, 00:59"),
])
def test_times_are_shown_in_london_with_the_date(utc, shown):
    assert london_time(utc) == shown
