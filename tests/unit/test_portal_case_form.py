"""The coordinator's forms and badges: API bodies from what was typed, plain-word errors, how long."""
from datetime import date, datetime, timedelta, timezone

from werkzeug.datastructures import MultiDict

from services.portal.case_form import (erasure_from_form, move_from_form, rating_from_form, withdrawable,
                                       withdrawal_from_form)
from services.portal.display import message, needs_action

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def texts(result):
    return [e["text"] for e in result[1]]


def test_a_move_needs_an_allowed_status_and_a_reason():
    allowed = ["accepted", "rejected", "on_hold", "cancelled"]
    assert move_from_form(MultiDict({"to": "accepted", "move-reason": " Spoke to Mind "}), allowed) == (
        {"to": "accepted", "reason": "Spoke to Mind"}, [])
    assert texts(move_from_form(MultiDict({"to": "completed", "move-reason": ""}), allowed)) == [
        "Select what happens to the case next", "Enter why the case is moving, for the timeline"]
    assert texts(move_from_form(MultiDict({"to": "accepted", "move-reason": "x" * 2001}), allowed)) == [
        "The reason must be 2000 characters or fewer"]


def test_ratings_leave_blank_rooms_out_and_need_one_room_and_a_past_day():
    form = {"rating-living_room": "8", "rating-kitchen": " ", "rating-bedroom": "3",
            "rated-on-day": "1", "rated-on-month": "12", "rated-on-year": "2026"}
    assert rating_from_form(MultiDict(form), today=date(2026, 12, 1)) == (
        {"ratings": {"living_room": 8, "bedroom": 3}, "rated_on": "2026-12-01"}, [])
    assert texts(rating_from_form(MultiDict({**form, "rating-living_room": "0", "rating-bedroom": "7.5"}),
                                  today=date(2026, 12, 1))) == [
        "Living room: enter a rating from 1 to 9, like 6", "Bedroom: enter a rating from 1 to 9, like 6"]
    blank = {k: "" for k in form if k.startswith("rating-")}
    assert texts(rating_from_form(MultiDict({**form, **blank}), today=date(2026, 12, 1))) == [
        "Enter a rating from 1 to 9 for at least one room"]
    assert texts(rating_from_form(MultiDict(form), today=date(2026, 11, 30))) == [
        "The day the rating was made cannot be in the future"]
    assert texts(rating_from_form(MultiDict({**form, "rated-on-day": "31", "rated-on-month": "2"}),
                                  today=date(2026, 12, 1))) == ["Enter a real date, like 27 11 2026"]


def test_a_withdrawal_names_an_agreement_given_and_not_already_withdrawn():
    case = {"consent": {"referral": True, "share_with_fire_service": True, "contact": True, "withdrawn": []}}
    assert [scope for scope, _ in withdrawable(case)] == ["fire_service", "contact", "all"]
    assert withdrawal_from_form(MultiDict({"scope": "fire_service", "consent-reason": ""}), case) == (
        {"scope": "fire_service"}, [])
    after = {"consent": {**case["consent"], "contact": False, "withdrawn": [{"scope": "contact"}]}}
    assert [scope for scope, _ in withdrawable(after)] == ["fire_service", "all"]
    assert texts(withdrawal_from_form(MultiDict({"scope": "contact"}), after)) == [
        "They have already withdrawn this agreement"]
    never_shared = {"consent": {**case["consent"], "share_with_fire_service": False}}
    assert [scope for scope, _ in withdrawable(never_shared)] == ["contact", "all"]
    assert withdrawable({"consent": {"withdrawn": [{"scope": "all"}]}}) == []
    assert texts(withdrawal_from_form(MultiDict({}), case)) == ["Select which agreement they have withdrawn"]


def test_erasure_needs_a_reason():
    assert erasure_from_form(MultiDict({"erase-reason": "They asked us to"})) == ({"reason": "They asked us to"}, [])
    assert texts(erasure_from_form(MultiDict({"erase-reason": "  "}))) == [
        'Enter why their data is being erased, for example "They asked us to"']


def test_badges_say_why_and_for_how_long():
    due = needs_action({"reason": "first_contact_due", "since": NOW - timedelta(days=1),
                        "due_by": (NOW + timedelta(days=4)).isoformat()}, NOW)
    assert (due["label"], due["colour"]) == ("First call due", "blue")
    assert due["how_long"].startswith("due in 4 days, by ")
    late = needs_action({"reason": "first_contact_due", "since": NOW - timedelta(days=8),
                         "due_by": NOW - timedelta(hours=3)}, NOW)
    assert (late["label"], late["colour"], late["how_long"]) == ("First call overdue", "red", "overdue by 3 hours")
    waiting = needs_action({"reason": "visit_no_access", "since": "2026-11-29T12:00:00Z", "due_by": None}, NOW)
    assert (waiting["label"], waiting["how_long"]) == ("No access at visit", "for 2 days")


def test_a_letter_reads_ready_to_print_not_sent():
    shown = message({"template": "person_welcome", "audience": "person", "channel": "letter",
                     "status": "ready_to_print"})
    assert shown == {"what": "Welcome", "to": "Them", "channel": "Letter", "status": "Ready to print",
                     "colour": "yellow"}


def test_who_did_it_reads_as_a_name_and_role():
    from services.portal.display import actor_name, actor_person_id

    names = {"9d02ad11135c": "Alex Morgan"}
    assert actor_person_id("coordinator:person-9d02ad11135c") == "9d02ad11135c"
    assert actor_name("coordinator:person-9d02ad11135c", names) == "Alex Morgan (coordinator)"
    assert actor_name("partner:mind:person-abc", names) == "someone no longer listed (partner)"
    assert actor_name("partner:mind:k123", names) == "an API key (partner, mind)"
    assert actor_name("Sam Patel", names) == "Sam Patel"
    assert actor_name("system", names) == actor_name(None, names) == ""


def test_progress_messages_are_a_yes_or_a_no():
    from services.portal.case_form import progress_from_form

    assert progress_from_form(MultiDict({"progress": "yes"})) == ({"opted_in": True}, [])
    assert progress_from_form(MultiDict({"progress": "no"})) == ({"opted_in": False}, [])
    assert texts(progress_from_form(MultiDict({}))) == ["Select whether they want messages about their progress"]
