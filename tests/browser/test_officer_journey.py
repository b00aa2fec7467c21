"""A fire officer's day: sign in, the worklist, a visit; acknowledge, book, record "no access".
Once with the mouse, once with the keyboard alone; a stale form after another officer's change; bad input."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import pytest
import requests

from services.common.people import PeopleStore
from services.portal.display import LONDON
from tests.browser.conftest import check_page
from tests.browser.support import account_with_password, book_visit_with_mouse, sign_in, tab_to, type_into
from tests.support import referral, wait_until

CONFLICT = "Someone else has just updated this visit — here is what it says now"
LONDON_TIME = re.compile(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{1,2} [A-Z][a-z]{2}, \d{2}:\d{2}")


@pytest.fixture
def people(mongo_client, databases):
    return PeopleStore(mongo_client[databases["auth"]])


@pytest.fixture
def officer(capsys, people):
    account_with_password(capsys, people, "alex@example.org", role="fire_officer", agency=None)
    return "alex@example.org"


def raise_visit(portal, tokens, family_name: str = "Jones") -> dict:
    """A partner's referral over the API; returns the visit once the safety service has raised it."""
    body = referral({"person.family_name": family_name})
    answer = requests.post(f"{portal.api['referrals']}/referrals", data=json.dumps(body), timeout=10,
                           headers={"Authorization": f"Bearer {tokens['mind']}", "Content-Type": "application/json"})
    assert answer.status_code == 201, answer.text
    reference = answer.json()["reference"]
    return wait_until(lambda: next((v for v in api(portal, tokens, "GET", "/visits?open=true")["items"]
                                    if v["reference"] == reference), None), message="the visit to be raised")


def api(portal, tokens, method, path, body=None):
    answer = requests.request(method, f"{portal.api['safety']}{path}", json=body, timeout=10,
                              headers={"Authorization": f"Bearer {tokens['fire_officer']}"})
    assert answer.status_code == 200, answer.text
    return answer.json()


def tomorrow_at(hour: int, minute: int) -> datetime:
    day = (datetime.now(LONDON) + timedelta(days=1)).date()
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LONDON)


def test_officer_journey_with_the_mouse(portal, page, officer, tokens):
    other = raise_visit(portal, tokens, "Other")
    visit = raise_visit(portal, tokens)
    sign_in(page, portal, officer)
    page.get_by_role("heading", name="Visits", exact=True).wait_for()
    assert page.url == f"{portal}/visits"                      # a fire officer lands on the worklist
    cards = page.locator(".app-visit")
    assert cards.count() == 2
    assert LONDON_TIME.search(cards.first.inner_text())
    check_page(page, "40-officer-visits")

    page.get_by_role("link", name=re.compile(visit["reference"])).click()
    page.get_by_role("heading", name=f"Visit {visit['reference']}").wait_for()
    details = page.locator("#visit-details").inner_text()
    for shown in ("Ada Jones", "12 Station Road", "HA1 2AB", "Clutter rating", "Smokes at home", "Due by"):
        assert shown in details
    assert "reason" not in page.content().lower()              # the crew minimum: no referral narrative
    check_page(page, "41-officer-visit-requested")

    page.get_by_role("button", name="Acknowledge visit").click()
    page.get_by_text("You have acknowledged this visit.").wait_for()
    when = tomorrow_at(10, 30)
    book_visit_with_mouse(page, when)
    assert f"{when:%a} {when.day} {when:%b}, 10:30" in page.locator("#visit-details").inner_text()
    with page.expect_download() as download:
        page.get_by_role("link", name="Add to calendar (.ics)").click()
    assert "BEGIN:VEVENT" in open(download.value.path()).read()
    check_page(page, "42-officer-visit-booked")

    page.get_by_label("No access: nobody answered or we could not get in").check()
    page.get_by_label("Leaflet left").check()
    page.get_by_label("Notes (optional)").fill("Card through the door")
    page.get_by_role("button", name="Record outcome").click()
    page.get_by_text("The outcome is recorded.").wait_for()
    stored = api(portal, tokens, "GET", f"/visits/{visit['visit_id']}")
    assert (stored["status"], stored["outcome"], stored["actions"]) == ("no_access", "no_access", ["leaflet_left"])
    assert datetime.fromisoformat(stored["scheduled_for"]) == when
    check_page(page, "43-officer-visit-no-access")

    page.get_by_role("link", name="Back to the open visits").click()
    assert page.locator(".app-visit").count() == 1             # no access is not open: it leaves the worklist
    assert other["reference"] in page.locator(".app-visit").inner_text()


def test_officer_journey_by_keyboard_alone(portal, page, officer, tokens):
    visit = raise_visit(portal, tokens)
    page.goto(f"{portal}/sign-in")
    type_into(page, page.get_by_label("Email address"), officer)
    type_into(page, page.get_by_label("Password"), "teal kettle harbour lantern")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Visits", exact=True).wait_for()
    tab_to(page, page.get_by_role("link", name=re.compile(visit["reference"])))
    page.keyboard.press("Enter")
    page.get_by_role("heading", name=f"Visit {visit['reference']}").wait_for()

    tab_to(page, page.get_by_role("button", name="Acknowledge visit"))
    page.keyboard.press("Enter")
    page.get_by_text("You have acknowledged this visit.").wait_for()
    when = tomorrow_at(9, 5)
    group = page.get_by_role("group", name="Date of the visit")
    for label, value in zip(("Day", "Month", "Year"), (when.day, when.month, when.year)):
        type_into(page, group.get_by_label(label, exact=True), str(value))
    type_into(page, page.get_by_label("Time of the visit"), "9.05")
    page.keyboard.press("Enter")
    page.get_by_text("The visit is booked.").wait_for()

    tab_to(page, page.get_by_label("Visit completed"))     # the group's first option; arrows move and select
    page.keyboard.press("ArrowDown")
    assert page.get_by_label("No access: nobody answered or we could not get in").is_checked()
    tab_to(page, page.get_by_role("button", name="Record outcome"))
    page.keyboard.press("Enter")
    page.get_by_text("The outcome is recorded.").wait_for()
    stored = api(portal, tokens, "GET", f"/visits/{visit['visit_id']}")
    assert stored["status"] == "no_access" and datetime.fromisoformat(stored["scheduled_for"]) == when
    check_page(page, "44-keyboard-officer-visit-no-access")


def test_a_stale_form_shows_the_visit_as_it_is_now_and_changes_nothing(portal, page, officer, tokens):
    visit = raise_visit(portal, tokens)
    api(portal, tokens, "POST", f"/visits/{visit['visit_id']}/acknowledge")
    sign_in(page, portal, officer)
    page.goto(f"{portal}/visits/{visit['visit_id']}")
    theirs = tomorrow_at(15, 0)
    api(portal, tokens, "POST", f"/visits/{visit['visit_id']}/schedule",   # another officer books it meanwhile
        {"scheduled_for": theirs.isoformat()})

    mine = tomorrow_at(11, 0)
    group = page.get_by_role("group", name="Date of the visit")
    for label, value in zip(("Day", "Month", "Year"), (mine.day, mine.month, mine.year)):
        group.get_by_label(label, exact=True).fill(str(value))
    page.get_by_label("Time of the visit").fill("11:00")
    answers = []
    page.on("response", lambda r: answers.append((r.request.method, r.status)))
    page.get_by_role("button", name="Book visit").click()
    page.get_by_role("heading", name=CONFLICT).wait_for()
    assert ("POST", 409) in answers
    assert f"{theirs:%a} {theirs.day} {theirs:%b}, 15:00" in page.locator("#visit-details").inner_text()
    assert datetime.fromisoformat(api(portal, tokens, "GET", f"/visits/{visit['visit_id']}")["scheduled_for"]) == theirs
    check_page(page, "45-officer-visit-conflict")

    # the service's own 409 (an illegal move) reads the same
    api(portal, tokens, "POST", f"/visits/{visit['visit_id']}/outcome", {"outcome": "completed"})
    page.get_by_label("Visit completed").check()
    seen = page.locator("form[action$='/outcome'] input[name=seen]")
    seen.evaluate("(el, v) => el.value = v",
                  api(portal, tokens, "GET", f"/visits/{visit['visit_id']}")["updated_at"])
    page.get_by_role("button", name="Record outcome").click()
    page.get_by_role("heading", name=CONFLICT).wait_for()
    assert "Visit done" in page.locator("main").inner_text()
    assert page.get_by_role("button", name="Record outcome").count() == 0   # completed: nothing left to do


def test_bad_booking_gets_plain_words_and_changes_nothing(portal, page, officer, tokens):
    visit = raise_visit(portal, tokens)
    api(portal, tokens, "POST", f"/visits/{visit['visit_id']}/acknowledge")
    sign_in(page, portal, officer)
    page.goto(f"{portal}/visits/{visit['visit_id']}")
    group = page.get_by_role("group", name="Date of the visit")
    for label, value in zip(("Day", "Month", "Year"), ("30", "2", "2027")):
        group.get_by_label(label, exact=True).fill(value)
    page.get_by_label("Time of the visit").fill("25:00")
    page.get_by_role("button", name="Book visit").click()
    summary = page.locator(".govuk-error-summary")
    assert summary.locator("li").all_inner_texts() == [
        "The date of the visit must be a real date, like 1 12 2026",
        "Enter the time of the visit in 24-hour time, like 14:30"]
    assert page.title().startswith("Error: ")
    assert page.get_by_label("Time of the visit").input_value() == "25:00"     # nothing typed is lost
    check_page(page, "46-officer-booking-error")

    yesterday = datetime.now(LONDON) - timedelta(days=1)
    for label, value in zip(("Day", "Month", "Year"), (yesterday.day, yesterday.month, yesterday.year)):
        group.get_by_label(label, exact=True).fill(str(value))
    page.get_by_label("Time of the visit").fill("10:00")
    page.get_by_role("button", name="Book visit").click()
    assert summary.locator("li").all_inner_texts() == ["The visit must be booked for a time that has not passed yet"]
    assert api(portal, tokens, "GET", f"/visits/{visit['visit_id']}")["status"] == "acknowledged"

    page.get_by_role("button", name="Book visit").first.wait_for()
    for width in (320,):
        page.set_viewport_size({"width": width, "height": 800})
        for path, name in (("/visits", "47-officer-visits-320px"), (f"/visits/{visit['visit_id']}", "48-officer-visit-320px")):
            page.goto(f"{portal}{path}")
            overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"{path} at {width}px scrolls sideways by {overflow}px"
            check_page(page, name)


def test_the_worklist_shows_overdue_visits_and_filters_by_status(portal, page, officer, tokens, mongo_client,
                                                                 databases):
    visits = [raise_visit(portal, tokens, f"Person{n}") for n in range(3)]
    api(portal, tokens, "POST", f"/visits/{visits[0]['visit_id']}/acknowledge")
    mongo_client[databases["safety"]]["assessments"].update_one(      # the last one's due time has passed
        {"_id": visits[2]["visit_id"]}, {"$set": {"due_by": datetime.now(LONDON) - timedelta(hours=1)}})
    sign_in(page, portal, officer)
    cards = page.locator(".app-visit")
    assert visits[2]["reference"] in cards.first.inner_text()           # same priority: due first, first
    assert [card.locator(".app-overdue").count() for card in cards.all()] == [1, 0, 0]
    page.get_by_label("Show").select_option(label="Acknowledged, not booked")
    page.get_by_role("button", name="Show visits").click()
    assert page.locator(".app-visit").count() == 1
    assert visits[0]["reference"] in page.locator(".app-visit").inner_text()
    page.goto(f"{portal}/visits?status=requested")
    assert page.locator(".app-visit").count() == 2


def test_a_partner_cannot_open_the_worklist(portal, page, capsys, people):
    account_with_password(capsys, people, "sam@example.org")
    sign_in(page, portal, "sam@example.org")
    answer = page.goto(f"{portal}/visits")
    assert answer.status == 403
