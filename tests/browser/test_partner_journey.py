"""A partner's first day: set a password from the link, sign in, refer someone (one mistake, corrected),
see the referral in the list. Once with the mouse, once with the keyboard alone."""
from __future__ import annotations

import re

import pytest

from tests.browser.conftest import SCREENSHOTS, check_page
from tests.browser.support import (PASSWORD, create_account, fill_referral_by_keyboard,
                                   fill_referral_with_mouse, tab_to, type_into)

POSTCODE_ERROR = "Enter a UK postcode, like HA1 2AB"
REFERENCE = re.compile(r"HRW-\d{4}-\d{6}")


def test_partner_journey_with_the_mouse(portal, page, capsys):
    link = create_account(capsys, "sam@example.org")
    assert link.startswith(f"{portal}/set-password/sp_")

    page.goto(link)
    check_page(page, "01-set-password")
    page.get_by_label("New password", exact=True).fill(PASSWORD)
    page.get_by_label("New password again").fill(PASSWORD)
    page.get_by_role("button", name="Set password").click()
    page.get_by_role("heading", name="Your password is set").wait_for()
    check_page(page, "02-password-set")

    page.get_by_role("link", name="Sign in").click()
    check_page(page, "03-sign-in")
    page.get_by_label("Email address").fill("Sam@Example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Your referrals").wait_for()
    assert "Your agency has not referred anyone yet" in page.content()
    check_page(page, "04-your-referrals-empty")

    page.get_by_role("link", name="Refer someone").first.click()
    check_page(page, "05-refer-someone")
    fill_referral_with_mouse(page, postcode="HA1 2A")       # the mistake: half a postcode
    page.get_by_role("button", name="Send referral").click()

    summary = page.locator(".govuk-error-summary")
    summary.wait_for()
    assert summary.locator("li").all_inner_texts() == [POSTCODE_ERROR]
    shown = summary.inner_text() + " ".join(page.locator(".govuk-error-message").all_inner_texts())
    assert "person." not in shown and "address" not in shown   # plain words, never a dotted path
    by_fields = [" ".join(text.split()) for text in page.locator(".govuk-error-message").all_inner_texts()]
    assert by_fields == [f"Error: {POSTCODE_ERROR}"]
    assert page.get_by_label("First name", exact=True).input_value() == "Ada"   # nothing typed is lost
    assert page.get_by_label("Text message").is_checked()
    assert page.get_by_role("group", name="Do they smoke at home?").get_by_label("Yes").is_checked()
    check_page(page, "06-refer-someone-error")

    summary.get_by_role("link", name=POSTCODE_ERROR).click()
    postcode = page.get_by_label("Postcode", exact=True)
    assert postcode.evaluate("el => el === document.activeElement")
    postcode.fill("HA1 2AB")
    page.get_by_role("button", name="Send referral").click()

    page.get_by_role("heading", name="Referral sent").wait_for()
    reference = REFERENCE.search(page.locator(".govuk-panel").inner_text()).group(0)
    check_page(page, "07-referral-sent")

    page.get_by_role("link", name="Your referrals").first.click()
    row = page.get_by_role("row").filter(has_text=reference)
    assert row.count() == 1
    assert "Received" in row.inner_text() and "Visit" in row.inner_text()
    assert re.search(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{1,2} [A-Z][a-z]{2}, \d{2}:\d{2}", row.inner_text())
    check_page(page, "08-your-referrals")

    page.get_by_label("Find a referral by its reference").fill(reference.lower())
    page.get_by_role("button", name="Search").click()
    assert page.get_by_role("row").filter(has_text=reference).count() == 1
    page.get_by_role("link", name=reference).click()
    page.get_by_role("heading", name=f"Referral {reference}").wait_for()
    check_page(page, "09-a-referral")


def test_partner_journey_by_keyboard_alone(portal, page, capsys):
    link = create_account(capsys, "kim@example.org", agency="rethink", name="Kim Lee")
    page.goto(link)
    type_into(page, page.get_by_label("New password", exact=True), PASSWORD)
    type_into(page, page.get_by_label("New password again"), PASSWORD)
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Your password is set").wait_for()
    tab_to(page, page.get_by_role("link", name="Sign in"))
    page.keyboard.press("Enter")

    page.get_by_role("heading", name="Sign in").wait_for()
    type_into(page, page.get_by_label("Email address"), "kim@example.org")
    type_into(page, page.get_by_label("Password"), PASSWORD)
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Your referrals").wait_for()

    tab_to(page, page.get_by_role("link", name="Refer someone").first)
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Refer someone").wait_for()
    fill_referral_by_keyboard(page, postcode="HA1 2A")
    tab_to(page, page.get_by_role("button", name="Send referral"))
    page.keyboard.press("Enter")

    summary = page.locator(".govuk-error-summary")
    summary.wait_for()
    assert summary.locator("li").all_inner_texts() == [POSTCODE_ERROR]
    # the error summary takes the focus; its link takes the person to the field
    tab_to(page, summary.get_by_role("link", name=POSTCODE_ERROR))
    page.keyboard.press("Enter")
    postcode = page.get_by_label("Postcode", exact=True)
    assert postcode.evaluate("el => el === document.activeElement")
    page.keyboard.press("Control+A")
    page.keyboard.type("HA1 2AB")
    page.keyboard.press("Enter")   # Enter in a text box submits the form

    page.get_by_role("heading", name="Referral sent").wait_for()
    reference = REFERENCE.search(page.locator(".govuk-panel").inner_text()).group(0)
    tab_to(page, page.get_by_role("link", name="Your referrals").first)
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Your referrals").wait_for()
    assert page.get_by_role("row").filter(has_text=reference).count() == 1
    check_page(page, "10-keyboard-your-referrals")


def test_the_form_works_without_javascript(portal, browser, capsys, mongo_client, databases):
    from services.common.people import PeopleStore
    from tests.browser.support import account_with_password, sign_in

    account_with_password(capsys, PeopleStore(mongo_client[databases["auth"]]), "jo@example.org")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in(page, portal, "jo@example.org")
        page.get_by_role("link", name="Refer someone").first.click()
        fill_referral_with_mouse(page, postcode="HA1 2A")
        page.get_by_role("button", name="Send referral").click()
        assert page.locator(".govuk-error-summary li").all_inner_texts() == [POSTCODE_ERROR]
        assert "js-enabled" not in (page.locator("body").get_attribute("class") or "")
        page.get_by_label("Postcode", exact=True).fill("HA1 2AB")
        page.get_by_role("button", name="Send referral").click()
        assert page.get_by_role("heading", name="Referral sent").is_visible()
        # (axe-core needs scripts, so it checks this page in the journeys above, where it is the same HTML)
        page.screenshot(path=str(SCREENSHOTS / "11-referral-sent-without-javascript.png"), full_page=True)
    finally:
        context.close()
