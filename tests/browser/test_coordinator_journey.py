"""A coordinator's day: Today, finding a case from the reference in an alert email, accepting it,
recording a rating, withdrawing fire consent and seeing the visit cancelled; letters to print;
an officer's "no access" reaching Today. Once with the mouse, once with the keyboard alone; bad input."""
from __future__ import annotations

import email
import json
import re
from email import policy
from pathlib import Path

import pytest
import requests

from services.common.people import PeopleStore
from tests.browser.conftest import check_page
from tests.browser.support import (account_with_password, book_visit_with_mouse, sign_in, sign_in_by_keyboard,
                                   tab_to, type_into)
from tests.browser.test_officer_journey import tomorrow_at
from tests.support import referral, wait_until

REFERENCE = re.compile(r"HRW-\d{4}-\d{6}")
COORDINATOR = "alex.morgan@example.org"
CONFLICT = "Someone else has just updated this case — here is what it says now"


@pytest.fixture
def people(mongo_client, databases):
    return PeopleStore(mongo_client[databases["auth"]])


@pytest.fixture
def coordinator(capsys, people):
    account_with_password(capsys, people, COORDINATOR, role="coordinator", agency=None)
    return COORDINATOR


def refer(portal, tokens, changes=None) -> str:
    """A partner's referral over the API; returns its reference."""
    answer = requests.post(f"{portal.api['referrals']}/referrals", data=json.dumps(referral(changes)), timeout=10,
                           headers={"Authorization": f"Bearer {tokens['mind']}", "Content-Type": "application/json"})
    assert answer.status_code == 201, answer.text
    return answer.json()["reference"]


def alert_email_reference(tmp_path: Path, reference: str) -> str:
    """The reference as the coordinator reads it in the new-referral email (the drop folder's .eml)."""
    def alert():
        for path in (tmp_path / "data" / "outgoing" / "email").glob("*_coordinator_alert_*.eml"):
            message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
            if reference in message["Subject"]:
                return message
        return None
    message = wait_until(alert, timeout=90, message="the coordinator's alert email")
    return REFERENCE.search(message.get_body(("plain",)).get_content()).group(0)


def referrals_api(portal, tokens, method, path, body=None):
    answer = requests.request(method, f"{portal.api['referrals']}{path}", json=body, timeout=10,
                              headers={"Authorization": f"Bearer {tokens['coordinator']}"})
    assert answer.status_code < 300, answer.text
    return answer.json()


def case_of(portal, tokens, reference):
    case_id = referrals_api(portal, tokens, "GET", f"/cases?q={reference}")["items"][0]["case_id"]
    return referrals_api(portal, tokens, "GET", f"/cases/{case_id}")


def visit_of(portal, tokens, case):
    answer = requests.get(f"{portal.api['safety']}/visits/{case['visit']['visit_id']}", timeout=10,
                          headers={"Authorization": f"Bearer {tokens['fire_officer']}"})
    return answer.json()


def test_coordinator_journey_with_the_mouse(portal, page, coordinator, tokens, tmp_path):
    refer(portal, tokens, {"person.family_name": "Other"})
    sent = refer(portal, tokens)
    reference = alert_email_reference(tmp_path, sent)
    assert reference == sent
    wait_until(lambda: case_of(portal, tokens, reference).get("visit"), message="the visit request on the case")

    sign_in(page, portal, coordinator)
    page.get_by_role("heading", name="Today").wait_for()
    assert page.url == f"{portal}/"                                # a coordinator lands on Today
    queue = page.locator(".app-queue .app-case")
    assert queue.count() == 2
    mine = queue.filter(has_text=reference)
    badges = mine.locator(".app-reason").all_inner_texts()
    assert {"New referral", "First call due"} <= set(badges)
    assert re.search(r"due in \d+ days?, by", mine.inner_text())   # the 5-working-day promise, counted
    check_page(page, "50-coordinator-today")

    page.get_by_label("Find a case").fill(reference)
    page.get_by_role("button", name="Search").click()
    assert page.locator(".app-cases tbody tr").count() == 1
    check_page(page, "51-coordinator-search")
    page.get_by_role("link", name=reference).click()
    page.get_by_role("heading", name="Ada Jones").wait_for()
    for shown in ("12 Station Road", "Sam Patel", "Visit requested", "Living room"):
        assert shown in page.locator("main").inner_text()
    check_page(page, "52-coordinator-case")

    page.get_by_label("Accept: the group will support them").check()
    page.get_by_label("Why is it moving?").fill("Spoke to Mind; a good fit for the online group")
    page.get_by_role("button", name="Move the case").click()
    page.get_by_text("The case has moved.").wait_for()
    assert case_of(portal, tokens, reference)["status"] == "accepted"
    timeline = page.locator("#timeline").inner_text()
    assert "Spoke to Mind; a good fit" in timeline and "Sam Patel (coordinator)" in timeline   # who, by name

    page.get_by_label("Living room", exact=True).fill("5")
    page.get_by_label("Kitchen", exact=True).fill("4")
    page.get_by_role("button", name="Record rating").click()
    page.get_by_text("The clutter rating is recorded.").wait_for()
    ratings = page.locator("#ratings + table").inner_text()
    assert "7 → 5" in ratings and "Better by 2" in ratings
    assert case_of(portal, tokens, reference)["cir_trend"]["living_room"][-1]["score"] == 5

    page.get_by_role("group", name="Do they want messages about their progress?").get_by_label(
        "Yes", exact=True).check()
    page.get_by_role("button", name="Save their choice").click()
    page.get_by_text("Their choice about progress messages is recorded.").wait_for()
    assert case_of(portal, tokens, reference)["progress_updates"]["opted_in"] is True

    page.get_by_label("Sharing with the London Fire Brigade").check()
    page.get_by_role("button", name="Withdraw agreement").click()
    page.get_by_role("heading", name=re.compile("Are you sure they have withdrawn")).wait_for()
    check_page(page, "53-coordinator-confirm-withdrawal")
    assert case_of(portal, tokens, reference)["consent"]["share_with_fire_service"] is True  # not yet
    page.get_by_role("button", name="Yes, withdraw it").click()
    page.get_by_text("The withdrawal is recorded.").wait_for()
    case = case_of(portal, tokens, reference)
    wait_until(lambda: visit_of(portal, tokens, case)["status"] == "cancelled", message="the visit cancelled")

    def cancelled_on_the_page():
        page.reload()
        return "Visit cancelled" in page.locator("#visit").inner_text()
    wait_until(cancelled_on_the_page, message="the case page to show the visit cancelled")
    check_page(page, "54-coordinator-case-after")


def test_coordinator_journey_by_keyboard_alone(portal, page, coordinator, tokens, tmp_path):
    reference = alert_email_reference(tmp_path, refer(portal, tokens))
    sign_in_by_keyboard(page, portal, coordinator)
    type_into(page, page.get_by_label("Find a case"), reference)
    page.keyboard.press("Enter")
    tab_to(page, page.get_by_role("link", name=reference))
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Ada Jones").wait_for()

    tab_to(page, page.get_by_label("Accept: the group will support them"))
    page.keyboard.press("Space")
    type_into(page, page.get_by_label("Why is it moving?"), "Called them, they want to come")
    tab_to(page, page.get_by_role("button", name="Move the case"))
    page.keyboard.press("Enter")
    page.get_by_text("The case has moved.").wait_for()

    type_into(page, page.get_by_label("Bedroom", exact=True), "3")
    tab_to(page, page.get_by_role("button", name="Record rating"))
    page.keyboard.press("Enter")
    page.get_by_text("The clutter rating is recorded.").wait_for()

    tab_to(page, page.get_by_label("Sharing with the London Fire Brigade"))
    page.keyboard.press("Space")
    tab_to(page, page.get_by_role("button", name="Withdraw agreement"))
    page.keyboard.press("Enter")
    tab_to(page, page.get_by_role("button", name="Yes, withdraw it"))
    page.keyboard.press("Enter")
    page.get_by_text("The withdrawal is recorded.").wait_for()
    case = case_of(portal, tokens, reference)
    assert case["status"] == "accepted" and case["consent"]["share_with_fire_service"] is False
    assert case["cir_trend"]["bedroom"][-1]["score"] == 3
    check_page(page, "55-keyboard-coordinator-case")


def test_an_officers_no_access_shows_on_today(portal, browser, coordinator, tokens, capsys, people):
    reference = refer(portal, tokens)
    case = wait_until(lambda: (c := case_of(portal, tokens, reference)).get("visit") and c, message="the visit")
    visit_id = case["visit"]["visit_id"]
    account_with_password(capsys, people, "lee@example.org", role="fire_officer", agency=None)
    officer = browser.new_context(viewport={"width": 1024, "height": 900}).new_page()
    sign_in(officer, portal, "lee@example.org")
    officer.goto(f"{portal}/visits/{visit_id}")
    officer.get_by_role("button", name="Acknowledge visit").click()
    officer.get_by_text("You have acknowledged this visit.").wait_for()
    book_visit_with_mouse(officer, tomorrow_at(10, 0))
    officer.get_by_label("No access: nobody answered or we could not get in").check()
    officer.get_by_role("button", name="Record outcome").click()
    officer.get_by_text("The outcome is recorded.").wait_for()
    officer.context.close()

    page = browser.new_context(viewport={"width": 1024, "height": 900}).new_page()
    sign_in(page, portal, coordinator)

    def shows_no_access():
        page.goto(f"{portal}/")
        return "No access at visit" in page.locator(".app-queue").filter(has_text=reference).inner_text()
    wait_until(shows_no_access, message="Today to show the visit's no access")
    check_page(page, "56-coordinator-today-no-access")
    page.locator(".app-queue").get_by_role("link", name=re.compile(reference)).click()
    page.get_by_label("What you did about no access at visit (optional)").fill("Rang them; booked again for Friday")
    page.get_by_role("button", name="Mark no access at visit as dealt with").click()
    page.get_by_text("Marked as dealt with.").wait_for()
    assert "No access at visit" not in page.locator("main").inner_text().split("The person")[0]
    page.context.close()


def test_letters_wait_to_be_printed_then_are_marked_posted(portal, page, coordinator, tokens):
    refer(portal, tokens, {"person.preferred_contact": "letter", "person.email": None, "person.phone": None})
    sign_in(page, portal, coordinator)

    def letter_waiting():
        page.goto(f"{portal}/letters")
        return page.locator(".app-letter").count() >= 1
    wait_until(letter_waiting, timeout=60, message="the welcome letter on Letters to print")
    letter = page.locator(".app-letter").first
    assert "12 Station Road" in letter.inner_text() and "Ada" in letter.inner_text()
    check_page(page, "57-coordinator-letters")
    page.emulate_media(media="print")
    assert page.get_by_role("button", name=re.compile("Mark letter")).first.is_hidden()   # only letters print
    page.emulate_media(media="screen")
    count = page.locator(".app-letter").count()
    page.get_by_role("button", name="Mark letter 1 as posted").click()
    page.get_by_text("Marked as posted.").wait_for()
    assert page.locator(".app-letter").count() == count - 1


def test_bad_input_on_a_case_gets_plain_words_and_changes_nothing(portal, page, coordinator, tokens):
    reference = refer(portal, tokens)
    case = case_of(portal, tokens, reference)
    sign_in(page, portal, coordinator)
    page.goto(f"{portal}/cases/{case['case_id']}")

    page.get_by_role("button", name="Move the case").click()
    summary = page.locator(".govuk-error-summary")
    assert summary.locator("li").all_inner_texts() == ["Select what happens to the case next",
                                                       "Enter why the case is moving, for the timeline"]
    assert page.title().startswith("Error: ")

    page.get_by_label("Living room", exact=True).fill("12")
    page.get_by_label("Kitchen", exact=True).fill("six")
    page.get_by_role("button", name="Record rating").click()
    assert summary.locator("li").all_inner_texts() == ["Living room: enter a rating from 1 to 9, like 6",
                                                       "Kitchen: enter a rating from 1 to 9, like 6"]
    assert page.get_by_label("Kitchen", exact=True).input_value() == "six"            # nothing typed is lost
    check_page(page, "58-coordinator-case-errors")

    page.get_by_role("button", name="Erase personal data").click()
    assert summary.locator("li").all_inner_texts() == [
        'Enter why their data is being erased, for example "They asked us to"']
    after = case_of(portal, tokens, reference)
    assert (after["status"], len(after["cir_ratings"]), after.get("erased_at")) == ("received", 1, None)

    answer = page.goto(f"{portal}/cases/no-such-case")
    assert answer.status == 404 and "Case not found" in page.title()


def test_a_stale_move_shows_the_case_as_it_is_now(portal, page, coordinator, tokens):
    reference = refer(portal, tokens)
    case = case_of(portal, tokens, reference)
    sign_in(page, portal, coordinator)
    page.goto(f"{portal}/cases/{case['case_id']}")
    referrals_api(portal, tokens, "POST", f"/cases/{case['case_id']}/transitions",   # someone else, meanwhile
                  {"to": "rejected", "reason": "Outside Harrow"})
    page.get_by_label("Accept: the group will support them").check()
    page.get_by_label("Why is it moving?").fill("A good fit")
    page.get_by_role("button", name="Move the case").click()
    page.get_by_role("heading", name=CONFLICT).wait_for()
    assert "Not accepted" in page.locator("main").inner_text()
    assert case_of(portal, tokens, reference)["status"] == "rejected"
    check_page(page, "59-coordinator-case-conflict")


def test_other_roles_cannot_open_coordinator_pages(portal, page, capsys, people):
    account_with_password(capsys, people, "sam@example.org")
    sign_in(page, portal, "sam@example.org")
    assert page.url == f"{portal}/referrals"
    for path in ("/cases/anything", "/letters"):
        assert page.goto(f"{portal}{path}").status == 403
