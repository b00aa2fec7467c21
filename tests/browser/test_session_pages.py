"""The coordinator's session pages in Chromium over the real stack: planning an online session,
inviting everyone accepted, recording an answer, a change that someone else beat, attendance after
the session; a bad form in plain words; planning and cancelling by keyboard alone. Every page is
axe-core clean at WCAG 2.2 AA."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import requests

from services.notifications.sessions import month_key
from services.portal.display import LONDON
from tests.browser.conftest import check_page
from tests.browser.support import sign_in, tab_to, type_into
from tests.browser.test_coordinator_journey import (  # noqa: F401  (people, coordinator: fixtures)
    case_of, coordinator, people, refer, referrals_api,
)
from tests.support import wait_until

CONFLICT = "Someone else has just updated this session — here is what it says now"


def member(portal, tokens, mongo_client, databases, changes=None) -> dict:
    """A referral accepted through the referrals API, once the notifications service knows them as a member."""
    case = wait_until(lambda: case_of(portal, tokens, refer(portal, tokens, changes)), message="the case")
    referrals_api(portal, tokens, "POST", f"/cases/{case['case_id']}/transitions",
                  {"to": "accepted", "reason": "Spoke to them, they want to come"})
    members = mongo_client[databases["notifications"]]["members"]
    wait_until(lambda: members.find_one({"_id": case["case_id"], "status": "accepted"}), timeout=30,
               message="the notifications service to know them as a member")
    return case


def notifications_api(portal, tokens, method, path, body=None):
    answer = requests.request(method, f"{portal.api['notifications']}{path}", json=body, timeout=10,
                              headers={"Authorization": f"Bearer {tokens['coordinator']}"})
    assert answer.status_code < 300, answer.text
    return answer.json()


def in_a_few_days(days=3):
    return (datetime.now(LONDON) + timedelta(days=days)).date()


def fill_date(page, legend, day):
    group = page.get_by_role("group", name=legend)
    for label, value in zip(("Day", "Month", "Year"), (day.day, day.month, day.year)):
        group.get_by_label(label, exact=True).fill(str(value))


def move_into_the_past(mongo_client, databases, session_id):
    """The session began two hours ago and ended an hour ago (the API takes only future times)."""
    starts_at = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=2)
    mongo_client[databases["notifications"]]["sessions"].update_one(
        {"_id": session_id}, {"$set": {"starts_at": starts_at, "ends_at": starts_at + timedelta(hours=1),
                                       "month": month_key(starts_at)}})


def test_a_coordinator_plans_invites_records_an_answer_and_attendance(portal, page, coordinator, tokens,
                                                                       mongo_client, databases):
    ada = member(portal, tokens, mongo_client, databases)
    waiting = refer(portal, tokens, {"person.family_name": "Other"})      # received, not accepted
    sign_in(page, portal, coordinator)
    page.get_by_role("heading", name="Today").wait_for()
    page.get_by_role("link", name="Sessions").click()
    page.get_by_role("heading", name="Sessions", exact=True).wait_for()
    assert "No sessions are planned" in page.locator("main").inner_text()
    check_page(page, "60-sessions-none")

    day = in_a_few_days()
    page.get_by_label("Online", exact=True).check()
    page.get_by_label("Where, or how to join").fill("https://meet.example.org/harrow-group")
    fill_date(page, "Date of the session", day)
    page.get_by_label("Start time").fill("18:30")
    page.get_by_label("End time").fill("20:00")
    page.get_by_label("Number of places").fill("8")
    page.get_by_role("button", name="Plan the session").click()
    page.get_by_text("The session is planned.").wait_for()
    session_id = page.url.split("/sessions/")[1].split("?")[0]
    details = page.locator("#details").inner_text()
    assert f"{day.day} {day:%b %Y}, 18:30 to 20:00" in details and "0 of 8" in details
    assert "https://meet.example.org/harrow-group" in details
    check_page(page, "61-session-planned")

    page.get_by_role("button", name="Invite everyone accepted").click()
    page.get_by_text("The invitations are on their way.").wait_for()
    row = page.locator("table tbody tr").filter(has_text=ada["reference"])
    assert "Ada Jones" in row.inner_text() and "Not answered" in row.inner_text()

    page.get_by_label("Invite one person").fill(waiting.lower())
    page.get_by_role("button", name="Invite", exact=True).click()
    page.locator(".govuk-error-summary").get_by_text("only people whose referral has been accepted").wait_for()
    assert page.get_by_label("Invite one person").input_value() == waiting.lower()     # nothing typed lost
    check_page(page, "62-session-invite-refused")

    page.get_by_label("Who answered?").select_option(label=f"Ada Jones ({ada['reference']})")
    page.get_by_role("group", name="Are they coming?").get_by_label("Yes", exact=True).check()
    page.get_by_role("button", name="Record answer").click()
    page.get_by_text("Their answer is recorded.").wait_for()
    assert "Yes" in page.locator("table tbody tr").filter(has_text=ada["reference"]).inner_text()
    assert "1 of 8" in page.locator("#details").inner_text()
    detail = notifications_api(portal, tokens, "GET", f"/sessions/{session_id}")
    assert [(i["case_id"], i["answer"]) for i in detail["invitations"]] == [(ada["case_id"], "yes")]
    check_page(page, "63-session-answer-recorded")

    # another coordinator changes the places meanwhile: this page's change is refused, nothing changed
    notifications_api(portal, tokens, "PATCH", f"/sessions/{session_id}", {"version": detail["version"], "capacity": 6})
    page.get_by_label("Number of places").fill("9")
    page.get_by_role("button", name="Save changes").click()
    page.get_by_role("heading", name=CONFLICT).wait_for()
    assert "1 of 6" in page.locator("#details").inner_text()
    assert notifications_api(portal, tokens, "GET", f"/sessions/{session_id}")["capacity"] == 6
    check_page(page, "64-session-conflict")

    move_into_the_past(mongo_client, databases, session_id)
    page.goto(f"{portal}/sessions/{session_id}")
    assert page.get_by_role("button", name="Invite everyone accepted").count() == 0    # closed once begun
    page.get_by_role("group", name="Who came?").get_by_label(f"Ada Jones ({ada['reference']})").check()
    check_page(page, "65-session-attendance-form")
    page.get_by_role("button", name="Record attendance").click()
    page.get_by_text("Attendance is recorded on each person's case.").wait_for()
    assert "Came" in page.locator("table tbody tr").filter(has_text=ada["reference"]).inner_text()
    history = notifications_api(portal, tokens, "GET", f"/sessions/attendance?case_id={ada['case_id']}")
    assert [(e["session_id"], e["attendance"]) for e in history["items"]] == [(session_id, "attended")]
    check_page(page, "66-session-attendance-recorded")

    page.get_by_role("link", name="Back to sessions").click()
    past = page.locator("#past").inner_text()
    assert "Finished" in past and "1 of 6" in past and "Online" in past
    check_page(page, "67-sessions-past")


def test_a_bad_plan_is_explained_in_plain_words_and_nothing_typed_is_lost(portal, page, coordinator, tokens):
    sign_in(page, portal, coordinator)
    page.goto(f"{portal}/sessions")
    page.get_by_label("Phone huddle").check()
    fill_date(page, "Date of the session", in_a_few_days())
    page.get_by_label("Start time").fill("19:00")
    page.get_by_label("End time").fill("18:00")
    page.get_by_label("Number of places").fill("lots")
    page.get_by_role("button", name="Plan the session").click()
    summary = page.locator(".govuk-error-summary")
    summary.wait_for()
    assert summary.locator("li").all_inner_texts() == [
        "The end time must be after the start time, like 20:00",
        "Enter the number to call, with any PIN",
        "Enter the number of places as a number from 1 to 500, like 12"]
    assert page.title().startswith("Error:")
    assert page.get_by_label("Start time").input_value() == "19:00"
    assert page.get_by_label("Number of places").input_value() == "lots"
    assert page.get_by_label("Phone huddle").is_checked()
    check_page(page, "68-sessions-plan-errors")
    summary.get_by_role("link", name="Enter the number to call, with any PIN").click()
    assert page.get_by_label("Where, or how to join").evaluate("el => el === document.activeElement")
    assert notifications_api(portal, tokens, "GET", "/sessions")["items"] == []


def test_planning_and_cancelling_by_keyboard_alone(portal, page, coordinator, tokens):
    page.goto(f"{portal}/sign-in")
    type_into(page, page.get_by_label("Email address"), coordinator)
    type_into(page, page.get_by_label("Password"), "teal kettle harbour lantern")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Today").wait_for()
    tab_to(page, page.get_by_role("link", name="Sessions"))
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Sessions", exact=True).wait_for()

    tab_to(page, page.get_by_label("Face to face"))
    page.keyboard.press("Space")
    type_into(page, page.get_by_label("Where, or how to join"), "Harrow Arts Centre, HA5 4EA")
    day = in_a_few_days(5)
    group = page.get_by_role("group", name="Date of the session")
    for label, value in zip(("Day", "Month", "Year"), (day.day, day.month, day.year)):
        type_into(page, group.get_by_label(label, exact=True), str(value))
    type_into(page, page.get_by_label("Start time"), "10:30")
    type_into(page, page.get_by_label("End time"), "12:00")
    type_into(page, page.get_by_label("Number of places"), "12")
    tab_to(page, page.get_by_role("button", name="Plan the session"))
    page.keyboard.press("Enter")
    page.get_by_text("The session is planned.").wait_for()
    assert "Harrow Arts Centre, HA5 4EA" in page.locator("#details").inner_text()

    type_into(page, page.get_by_label("Why is it cancelled?"), "The venue is closed for repairs")
    tab_to(page, page.get_by_role("button", name="Cancel the session"))
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Are you sure you want to cancel this session?").wait_for()
    check_page(page, "69-session-confirm-cancel")
    (listed,) = notifications_api(portal, tokens, "GET", "/sessions")["items"]
    assert listed["status"] == "scheduled"                                            # not yet
    tab_to(page, page.get_by_role("button", name="Yes, cancel the session"))
    page.keyboard.press("Enter")
    page.get_by_text("The session is cancelled.").wait_for()
    assert "The venue is closed for repairs" in page.locator("#details").inner_text()
    (listed,) = notifications_api(portal, tokens, "GET", "/sessions")["items"]
    assert (listed["status"], listed["cancelled"]["reason"]) == ("cancelled", "The venue is closed for repairs")
    check_page(page, "70-keyboard-session-cancelled")


def test_supporters_on_the_case_page(portal, page, coordinator, tokens, mongo_client, databases):
    reference = refer(portal, tokens)
    case = wait_until(lambda: case_of(portal, tokens, reference), message="the case")
    contacts = mongo_client[databases["notifications"]]["contacts"]
    wait_until(lambda: contacts.find_one({"_id": case["case_id"]}), timeout=30,
               message="the notifications service to know the case")
    sign_in(page, portal, coordinator)
    page.goto(f"{portal}/cases/{case['case_id']}")
    assert "No supporters yet." in page.locator("main").inner_text()
    page.get_by_text("Add a supporter").click()
    page.get_by_label("First name", exact=True).fill("Jo")
    page.get_by_label("Email address (optional)").fill("")
    page.get_by_label("Email", exact=True).check()
    page.get_by_role("button", name="Add supporter").click()
    summary = page.locator(".govuk-error-summary")
    summary.wait_for()
    assert summary.locator("li").all_inner_texts() == [
        "Enter the supporter's last name", "Enter their email address to reach them by email",
        "Confirm that they agreed to this supporter being involved"]
    assert page.get_by_label("First name", exact=True).input_value() == "Jo"
    check_page(page, "71-case-supporter-errors")

    page.get_by_label("Last name", exact=True).fill("Jones")
    page.get_by_label("Relationship to them (optional)").fill("daughter")
    page.get_by_label("Email address (optional)").fill("jo.jones@example.org")
    page.get_by_label("They agreed to this supporter being involved and contacted").check()
    page.get_by_role("button", name="Add supporter").click()
    page.get_by_text("The supporter is added.").wait_for()
    section = page.locator(".govuk-summary-card").filter(has_text="Jo Jones, daughter")
    assert "jo.jones@example.org" in section.inner_text() and "asked by Sam Patel" in section.inner_text()
    check_page(page, "72-case-supporter-added")

    section.get_by_label("Why remove them?").fill("They asked us to")
    section.get_by_role("button", name="Remove Jo Jones").click()
    page.get_by_text("The supporter is removed.").wait_for()
    assert "No supporters yet." in page.locator("main").inner_text()
    (removed,) = requests.get(f"{portal.api['notifications']}/supporters", params={"case_id": case["case_id"]},
                              headers={"Authorization": f"Bearer {tokens['coordinator']}"}, timeout=10).json()["items"]
    assert (removed["status"], removed["given_name"], removed["removal_reason"]) == ("removed", None, "They asked us to")
