"""Reports, a case's clutter-rating chart and the adult social care referral pack, in a real browser over the
real stack: the figures a coordinator reads are the ones seeded, the CSV is the service's suppressed export,
bad dates fetch nothing, the pack holds what adult social care needs and nothing of the referral's story."""
from __future__ import annotations

import csv
import io
import re
from collections import Counter

from services.common.envelope import utcnow
from services.portal.display import LONDON
from tests.browser.conftest import check_page
from tests.browser.support import account_with_password, sign_in, sign_in_by_keyboard, tab_to, type_into
from tests.browser.test_coordinator_journey import (coordinator, people, case_of, refer,  # noqa: F401 (fixtures)
                                                    referrals_api)
from tests.support import REFERRAL

SEEDED = ["mind", "mind", "rethink", "mind", "rethink"]  # the referring agency of each seeded referral
REASON = REFERRAL["reason"]


def seed_referrals(portal, tokens) -> Counter:
    """Referrals from two agencies (different people); returns how many each agency sent."""
    for n, agency in enumerate(SEEDED):
        refer(portal, {"mind": tokens[agency]}, {"referrer.agency": agency, "person.given_name": f"Seeded{n}"})
    return Counter(SEEDED)


def this_month() -> str:
    now = utcnow().astimezone(LONDON)
    return f"{now:%B} {now.year}"


def status_of(page) -> int:
    """The HTTP status of the page the browser shows now (call once something of the page was seen:
    waiting for its load state here would block the portal, which serves in this process)."""
    return page.evaluate("performance.getEntriesByType('navigation')[0].responseStatus")


def table_rows(page) -> list[list[str]]:
    return [[cell.strip() for cell in row.locator("th, td").all_inner_texts()]
            for row in page.locator("#report-table tbody tr").all()]


def test_a_coordinator_reads_referrals_by_agency_and_downloads_the_csv(portal, page, coordinator, tokens):
    sent = seed_referrals(portal, tokens)
    sign_in(page, portal, coordinator)
    page.get_by_role("link", name="Reports").click()
    page.get_by_role("heading", name="Reports", exact=True).wait_for()
    assert page.get_by_role("radio", name="Referrals by agency").is_checked()         # the default: the last 12 months
    now = utcnow().astimezone(LONDON)
    assert page.get_by_role("group", name="To").get_by_label("Year").input_value() == str(now.year)

    assert table_rows(page) == [[this_month(), "Mind", str(sent["mind"])],
                                [this_month(), "Rethink", str(sent["rethink"])]]
    assert page.locator("#report-chart svg[role=img]").count() == 1
    assert page.get_by_role("img", name=re.compile(r"^Referrals by agency, \d")).count() == 1   # named by its title
    assert page.locator("#report-chart svg rect[fill='#1d70b8']").count() >= 1   # a bar for Mind's month
    check_page(page, "90-reports-referrals-by-agency")

    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("Download CSV")).click()
    path = download.value.path()
    assert download.value.suggested_filename.startswith("referrals-by-agency_")
    rows = list(csv.reader(io.StringIO(open(path, encoding="utf-8").read())))
    assert rows[0] == ["month", "agency", "referrals"]
    month = f"{now.year:04d}-{now.month:02d}"
    assert rows[1:] == [[month, "mind", "<5"], [month, "rethink", "<5"]]   # fewer than 5 each: suppressed


def test_a_bad_date_range_is_explained_and_nothing_is_fetched(portal, page, coordinator, tokens, capsys, people):
    seed_referrals(portal, tokens)
    sign_in(page, portal, coordinator)
    page.goto(f"{portal}/reports")
    from_date, to_date = page.get_by_role("group", name="From"), page.get_by_role("group", name="To")
    for group, parts in ((from_date, ("1", "6", "2026")), (to_date, ("31", "5", "2026"))):
        for label, value in zip(("Day", "Month", "Year"), parts):
            group.get_by_label(label, exact=True).fill(value)
    page.get_by_role("button", name="Show report").click()
    summary = page.locator(".govuk-error-summary")
    summary.wait_for()
    assert status_of(page) == 400
    assert summary.locator("li").all_inner_texts() == ["The start date must be the same as or before the end date"]
    assert page.title().startswith("Error: ")
    assert page.locator("#report-table, #report-chart, #report-download").count() == 0   # nothing fetched
    assert from_date.get_by_label("Month", exact=True).input_value() == "6"               # nothing typed is lost
    check_page(page, "91-reports-bad-dates")

    to_date.get_by_label("Day", exact=True).fill("31")
    to_date.get_by_label("Month", exact=True).fill("2")
    to_date.get_by_label("Year", exact=True).fill("2026")
    from_date.get_by_label("Year", exact=True).fill("")
    page.get_by_role("button", name="Show report").click()
    summary.get_by_role("link", name="The start date must include a year").wait_for()
    assert summary.locator("li").all_inner_texts() == ["The start date must include a year",
                                                       "The end date must be a real date, like 1 12 2025"]
    summary.get_by_role("link", name="The start date must include a year").click()
    assert from_date.get_by_label("Year", exact=True).evaluate("el => el === document.activeElement")

    # an admin has Reports too; a partner does not
    account_with_password(capsys, people, "admin@example.org", role="admin", agency=None)
    account_with_password(capsys, people, "sam@example.org")
    admin = page.context.browser.new_context(viewport={"width": 1024, "height": 900}).new_page()
    sign_in(admin, portal, "admin@example.org")
    admin.get_by_role("link", name="Reports").click()
    assert len(table_rows(admin)) == 2
    check_page(admin, "92-reports-admin")
    admin.get_by_role("radio", name="Attendance").check()
    admin.get_by_role("button", name="Show report").click()
    admin.get_by_role("heading", name=re.compile("^Attendance at the group's sessions")).wait_for()
    assert admin.locator("#report-empty").inner_text() == "Nothing to count in this period yet."   # no sessions
    assert admin.locator("#report-chart, #report-table").count() == 0
    admin.context.close()
    partner = page.context.browser.new_context().new_page()
    sign_in(partner, portal, "sam@example.org")
    assert partner.goto(f"{portal}/reports").status == 403
    assert partner.goto(f"{portal}/reports/referrals-by-agency.csv?from=2026-01-01&to=2026-02-01").status == 403
    partner.context.close()


def test_reports_by_keyboard_alone(portal, page, coordinator, tokens):
    seed_referrals(portal, tokens)
    sign_in_by_keyboard(page, portal, coordinator)
    tab_to(page, page.get_by_role("link", name="Reports"))
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Reports", exact=True).wait_for()
    tab_to(page, page.get_by_role("radio", name="Referrals by agency"))          # the chosen radio holds the focus
    page.keyboard.press("ArrowDown")                                  # First contact
    page.keyboard.press("ArrowDown")                                  # Home Fire Safety Visits
    from_date = page.get_by_role("group", name="From")
    now = utcnow().astimezone(LONDON)
    for label, value in zip(("Day", "Month", "Year"), ("1", "1", str(now.year - 1))):
        type_into(page, from_date.get_by_label(label, exact=True), value)
    tab_to(page, page.get_by_role("button", name="Show report"))
    page.keyboard.press("Enter")
    page.get_by_role("heading", name=re.compile("Home Fire Safety Visits")).wait_for()
    assert page.get_by_role("radio", name="Home Fire Safety Visits").is_checked()
    assert f"1 January {now.year - 1} to" in page.locator("#report-period").inner_text()
    rows = table_rows(page)
    assert [row[0] for row in rows] == ["Very high", "High", "Medium"]
    # every seeded referral asked for a visit; the safety service triages each one to a priority
    check_page(page, "93-keyboard-reports-hfsv")


def test_the_case_charts_its_ratings_and_makes_a_referral_pack(portal, page, coordinator, tokens):
    reference = refer(portal, tokens)
    case = case_of(portal, tokens, reference)
    referrals_api(portal, tokens, "POST", f"/cases/{case['case_id']}/cir-ratings",
                  {"ratings": {"living_room": 8, "kitchen": 4}, "rated_on": utcnow().astimezone(LONDON).date()
                   .isoformat()})
    sign_in(page, portal, coordinator)
    page.goto(f"{portal}/cases/{case['case_id']}")
    charts = page.locator("#ratings-charts svg[role=img]")
    assert charts.count() == 3                                              # living room, kitchen, bedroom
    living_room = page.locator("#ratings-living-room")
    assert "Living room" in living_room.locator("title").text_content()
    assert re.search(r"7 on .*, 8 on .*\. Worse by 1\.", living_room.locator("desc").text_content())
    assert "7 → 8" in page.locator("#ratings + table").inner_text()          # the table stays, the text alternative
    check_page(page, "94-case-rating-charts")

    page.get_by_role("button", name="Make referral pack").click()            # nothing chosen, nothing typed
    assert page.locator(".govuk-error-summary li").all_inner_texts() == [
        "Select the lawful basis for sharing their details", "Enter why you are referring them to adult social care"]
    assert _packs(portal, tokens, case) == 0
    check_page(page, "95-case-pack-errors")

    page.get_by_label("They agreed to it").check()
    page.get_by_label("Why are you referring them?").fill("Living room rated 8; exits blocked; smokes indoors.")
    page.get_by_role("button", name="Make referral pack").click()
    page.get_by_role("heading", name="Adult social care referral: self-neglect concern").wait_for()
    main = page.locator("main").inner_text()
    assert "Ada Jones" in main and "12 Station Road" in main and "+447700900123" in main
    assert "coordinator Sam Patel." in main                                   # who made it, by name
    assert "8 on" in page.locator("#pack-ratings + p + table").inner_text()
    assert "Living room rated 8; exits blocked" in main
    assert REASON not in page.content() and "hard of hearing" not in page.content()   # never the referral's story
    assert "ada@example.org" not in page.content()
    assert page.locator("#pack-charts svg[role=img]").count() == 3
    assert _packs(portal, tokens, case) == 1
    check_page(page, "96-safeguarding-pack")

    page.emulate_media(media="print")                                         # prints without the portal around it
    assert page.locator(".app-header").is_hidden() and page.locator(".govuk-footer").is_hidden()
    assert page.get_by_text("The referral pack is made").is_hidden()
    assert page.get_by_role("heading", name="Adult social care referral: self-neglect concern").is_visible()
    page.emulate_media(media="screen")


def test_a_pack_on_consent_withdrawn_meanwhile_is_refused_in_plain_words(portal, page, coordinator, tokens):
    reference = refer(portal, tokens)
    case = case_of(portal, tokens, reference)
    sign_in(page, portal, coordinator)
    page.goto(f"{portal}/cases/{case['case_id']}")
    page.get_by_label("They agreed to it").check()
    page.get_by_label("Why are you referring them?").fill("Rated 7 in the living room")
    referrals_api(portal, tokens, "POST", f"/cases/{case['case_id']}/consent-withdrawal",   # meanwhile
                  {"scope": "all", "reason": "They asked us to stop"})
    page.get_by_role("button", name="Make referral pack").click()
    page.locator(".govuk-error-summary").wait_for()
    assert status_of(page) == 409
    assert page.locator(".govuk-error-summary li").all_inner_texts() == [
        "The pack was not made: their consent is no longer on record. Choose another lawful basis if one applies"]
    assert page.get_by_label("They agreed to it").count() == 0                # no longer offered
    assert page.get_by_label("Why are you referring them?").input_value() == "Rated 7 in the living room"
    assert _packs(portal, tokens, case) == 0
    check_page(page, "97-safeguarding-pack-refused")

    page.get_by_label("To protect their life").check()                       # another basis: made
    page.get_by_role("button", name="Make referral pack").click()
    page.get_by_role("heading", name="Adult social care referral: self-neglect concern").wait_for()
    assert "Vital interests" in page.locator("#pack-about").inner_text()
    assert _packs(portal, tokens, case) == 1


def _packs(portal, tokens, case) -> int:
    detail = referrals_api(portal, tokens, "GET", f"/cases/{case['case_id']}")
    return sum(entry["type"] == "safeguarding_pack_produced" for entry in detail["timeline"])
