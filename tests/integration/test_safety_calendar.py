"""GET /visits/{visit_id}.ics: a booked visit as an iCalendar file, over the real broker and Mongo-wire server."""
from datetime import datetime, timedelta, timezone

import requests
from icalendar import Calendar

from services.common.envelope import utcnow
from tests.integration.safety_support import auth
from tests.integration.test_safety_api import post, raise_visit, safety  # noqa: F401  (the fixture)


def test_a_booked_visit_is_one_event_with_the_reference_time_and_address_only(safety, tokens):
    container, url, config, events = safety
    visit_id = raise_visit(safety)
    officer = tokens["fire_officer"]
    not_yet = requests.get(f"{url}/visits/{visit_id}.ics", headers=auth(officer), timeout=10)
    assert not_yet.status_code == 404 and not_yet.json()["error"] == "not_booked"

    when = (utcnow() + timedelta(days=3)).replace(microsecond=0, second=0)
    assert post(url, f"/visits/{visit_id}/acknowledge", officer).status_code == 200
    assert post(url, f"/visits/{visit_id}/schedule", officer, {"scheduled_for": when.isoformat()}).status_code == 200

    response = requests.get(f"{url}/visits/{visit_id}.ics", headers=auth(tokens["coordinator"]), timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/calendar")
    assert "attachment" in response.headers["Content-Disposition"]
    calendar = Calendar.from_ical(response.content)
    [event] = calendar.walk("VEVENT")
    visit = requests.get(f"{url}/visits/{visit_id}", headers=auth(officer), timeout=10).json()
    assert event.decoded("dtstart") == when.astimezone(timezone.utc)
    assert event.decoded("dtend") - event.decoded("dtstart") == timedelta(hours=1)
    assert str(event["uid"]) == f"{visit_id}@referral-hub"
    assert visit["reference"] in str(event["summary"])
    assert visit["person"]["address"]["postcode"] in str(event["location"])
    text = response.content.decode()
    assert visit["person"]["name"] not in text and visit["person"]["phone"] not in text   # crew minimum stays on the page

    rebooked = when + timedelta(days=1)
    post(url, f"/visits/{visit_id}/schedule", officer, {"scheduled_for": rebooked.isoformat()})
    again = Calendar.from_ical(
        requests.get(f"{url}/visits/{visit_id}.ics", headers=auth(officer), timeout=10).content).walk("VEVENT")[0]
    assert again.decoded("dtstart") == rebooked and again["sequence"] > event["sequence"]   # calendars move it


def test_the_calendar_file_needs_an_officer_or_coordinator(safety, tokens):
    container, url, config, events = safety
    visit_id = raise_visit(safety)
    assert requests.get(f"{url}/visits/{visit_id}.ics", timeout=10).status_code == 401
    partner = requests.get(f"{url}/visits/{visit_id}.ics", headers=auth(tokens["mind"]), timeout=10)
    assert partner.status_code == 403
    unknown = requests.get(f"{url}/visits/no-such-visit.ics", headers=auth(tokens["fire_officer"]), timeout=10)
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"
