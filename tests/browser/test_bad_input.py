"""Bad input in the browser: each gets a clear page, changes nothing, and logs no personal data."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
import requests

from services.common.envelope import utcnow
from services.common.people import PeopleStore
from tests.browser.conftest import check_page
from tests.browser.support import PASSWORD, account_with_password, create_account, sign_in
from tests.support import referral


@pytest.fixture
def people(mongo_client, databases):
    return PeopleStore(mongo_client[databases["auth"]])


def test_wrong_password_is_refused_then_slowed_down(portal, page, capsys, people):
    account_with_password(capsys, people, "sam@example.org")
    for attempt in range(3):
        sign_in(page, portal, "sam@example.org", "not my password at all")
        assert page.locator(".govuk-error-summary").inner_text().endswith(
            "Enter the email address and password of your account")
    check_page(page, "20-sign-in-wrong-password")
    assert page.get_by_label("Email address").input_value() == "sam@example.org"
    # the fourth try, even with the right password, must wait
    sign_in(page, portal, "sam@example.org", PASSWORD)
    assert "Too many tries. Wait until" in page.locator(".govuk-error-summary").inner_text()
    page.goto(f"{portal}/referrals")
    assert page.url == f"{portal}/sign-in"                      # still not signed in
    assert people.find("sam@example.org")["attempts"]["failures"] == 3


def test_an_unknown_email_reads_like_a_wrong_password(portal, page):
    sign_in(page, portal, "nobody@example.org", "whatever it may be")
    assert page.locator(".govuk-error-summary").inner_text().endswith(
        "Enter the email address and password of your account")


def test_expired_and_reused_links_change_nothing(portal, page, capsys, people):
    expired = create_account(capsys, "old@example.org")
    people.links.update_many({}, {"$set": {"expires_at": utcnow() - timedelta(minutes=1)}})
    page.goto(expired)
    assert page.get_by_role("heading", name="This link has expired or was already used").is_visible()
    check_page(page, "21-link-expired")

    link = create_account(capsys, "new@example.org")
    page.goto(link)
    page.get_by_label("New password", exact=True).fill(PASSWORD)
    page.get_by_label("New password again").fill(PASSWORD)
    page.get_by_role("button", name="Set password").click()
    page.get_by_role("heading", name="Your password is set").wait_for()
    first_hash = people.find("new@example.org")["password_hash"]
    response = page.goto(link)                                   # used once already
    assert response.status == 404
    assert page.get_by_role("heading", name="This link has expired or was already used").is_visible()
    assert people.find("new@example.org")["password_hash"] == first_hash
    assert people.find("old@example.org")["password_hash"] is None


def test_a_form_without_its_csrf_token_is_refused_and_saves_nothing(portal, page, capsys, people):
    account_with_password(capsys, people, "sam@example.org")
    sign_in(page, portal, "sam@example.org")
    page.goto(f"{portal}/referrals/new")
    page.get_by_label("First name", exact=True).fill("Ada")
    page.locator("#main-content input[name=csrf_token]").evaluate("el => el.remove()")
    answers = []
    page.on("response", lambda r: answers.append((r.request.method, r.status)))
    page.get_by_role("button", name="Send referral").click()
    page.get_by_role("heading", name="This form has expired").wait_for()
    assert ("POST", 400) in answers
    check_page(page, "22-form-expired")
    page.goto(f"{portal}/referrals")
    assert "Your agency has not referred anyone yet" in page.content()


def test_another_agencys_referral_is_not_found(portal, page, capsys, people, tokens, caplog):
    response = requests.post(f"{portal.api['referrals']}/referrals", data=json.dumps(referral(
        {"referrer.agency": "rethink"})), headers={"Authorization": f"Bearer {tokens['rethink']}",
                                                   "Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 201, response.text
    reference = response.json()["reference"]
    account_with_password(capsys, people, "sam@example.org")         # a Mind partner
    sign_in(page, portal, "sam@example.org")
    caplog.clear()
    answer = page.goto(f"{portal}/referrals/{reference}")
    assert answer.status == 404
    assert page.get_by_role("heading", name="Referral not found").is_visible()
    assert "Ada" not in page.content() and "Received" not in page.content()
    check_page(page, "23-referral-not-found")
    page.goto(f"{portal}/referrals")
    assert reference not in page.content()
    logged = [r.msg for r in caplog.records if isinstance(r.msg, dict) and r.msg.get("event") == "referral_not_shown"]
    assert logged and logged[0]["status"] == 404
    assert not any(word in json.dumps(logged, default=str) for word in ("Ada", "Jones", "sam@", "HA1"))


def test_pages_fit_320_px_and_200_percent_zoom(portal, page, capsys, people):
    account_with_password(capsys, people, "sam@example.org")
    sign_in(page, portal, "sam@example.org")
    # 320 CSS px is a small phone; 640 is a 1280 px window at 200% zoom (WCAG 1.4.10 reflow)
    for width, name in ((320, "24-refer-someone-320px"), (640, "25-refer-someone-200pc-zoom")):
        page.set_viewport_size({"width": width, "height": 800})
        page.goto(f"{portal}/referrals/new")
        page.get_by_role("button", name="Send referral").click()   # the error page is the longest one
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{width}px: the page scrolls sideways by {overflow}px"
        check_page(page, name)


def test_admin_manages_people_and_a_partner_cannot(portal, page, capsys, people):
    account_with_password(capsys, people, "admin@example.org", role="admin", agency=None)
    sign_in(page, portal, "admin@example.org")
    page.get_by_role("heading", name="Users").wait_for()
    page.get_by_label("Email address").fill("lee@example.org")
    page.get_by_label("Role").select_option("partner")
    page.get_by_label("Agency").select_option("gp")
    page.get_by_role("button", name="Add and make a link").click()
    link = page.locator(".govuk-notification-banner code").inner_text()
    assert link.startswith(f"{portal}/set-password/sp_")
    assert people.link_holder(link.rsplit("/", 1)[1])["email"] == "lee@example.org"
    check_page(page, "26-users")
    page.get_by_role("button", name="Disable for lee@example.org").click()
    assert people.find("lee@example.org")["active"] is False
    assert people.link_holder(link.rsplit("/", 1)[1]) is None

    page.get_by_role("button", name="Sign out").click()
    check_page(page, "27-signed-out")
    account_with_password(capsys, people, "sam@example.org")
    sign_in(page, portal, "sam@example.org")
    answer = page.goto(f"{portal}/users")
    assert answer.status == 403 and page.get_by_role("heading", name="You cannot use this page").is_visible()


def test_an_idle_session_ends_and_asks_to_sign_in_again(portal, page, capsys, people):
    account_with_password(capsys, people, "sam@example.org")
    sign_in(page, portal, "sam@example.org")
    page.get_by_role("heading", name="Your referrals").wait_for()
    session = next(c for c in page.context.cookies() if c["name"] == "refhub_session")
    assert (session["httpOnly"], session["sameSite"], session["expires"]) == (True, "Lax", -1)  # no lifetime of its own
    people.sessions.update_many({}, {"$set": {"expires_at": utcnow() - timedelta(seconds=1)}})
    page.goto(f"{portal}/referrals/new")
    assert page.url == f"{portal}/sign-in"
    assert not any(c["name"] == "refhub_session" for c in page.context.cookies())
    cookie_flags = {c["name"]: (c["httpOnly"], c["sameSite"]) for c in page.context.cookies()}
    assert cookie_flags["refhub_csrf"] == (True, "Lax")
