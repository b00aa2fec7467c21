"""A booked visit as an iCalendar file (RFC 5545), for the crew's calendar. Pure, no I/O.

Calendars are synced to phones and calendar providers, so the event carries only
what gets the crew to the door at the right time: the reference, the booked time
and the address. The person's name, phone and risk flags stay on the visit page.
"""
from __future__ import annotations

from datetime import timedelta

from icalendar import Calendar, Event

from .lifecycle import VisitStatus

VISIT_LENGTH = timedelta(hours=1)   # a Home Fire Safety Visit takes about an hour
PRODUCT_ID = "-//referral-hub//Home Fire Safety Visits//EN"


class NotBooked(Exception):
    """The visit has no booking to put in a calendar."""


def is_booked(visit: dict) -> bool:
    return visit.get("status") == VisitStatus.SCHEDULED.value and visit.get("scheduled_for") is not None


def visit_calendar(visit: dict, *, now) -> bytes:
    """The VCALENDAR holding one VEVENT for a scheduled visit; NotBooked otherwise."""
    if not is_booked(visit):
        raise NotBooked(visit.get("_id"))
    start = visit["scheduled_for"]
    event = Event()
    event.add("uid", f"{visit['_id']}@referral-hub")
    event.add("dtstamp", now)
    event.add("dtstart", start)
    event.add("dtend", start + VISIT_LENGTH)
    event.add("summary", f"Home Fire Safety Visit {visit['reference']}")
    address = (visit.get("person") or {}).get("address")
    if address:
        event.add("location", ", ".join(part for part in (address.get("line1"), address.get("line2"),
                                                          address.get("town"), address.get("postcode")) if part))
    event.add("description", f"Referral {visit['reference']}: see the visit in referral-hub for who to ask for, "
                             "access needs and risks.")
    # a rebooking sends the same UID with a higher SEQUENCE, so calendars move the event
    event.add("sequence", int(visit.get("version") or 0))
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    calendar.add_component(event)
    return calendar.to_ical()
