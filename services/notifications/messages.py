"""Which messages an event causes, to whom, on which channel, and their text.

Pure: no I/O apart from reading the packaged templates and group.json.
Planning decides audience, template, channel and address, and puts in the
context only what that audience may see; rendering turns a plan into text.
Group details (coordinator, links) are passed to `render` and never
copied into a plan's context, so a corrected group.json corrects every
message not yet rendered.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from services.common.vocabulary import CONSENT_ALL, CONTACT_SCOPES, FIRE_SERVICE_SCOPES, uk_mobile

AUDIENCES = ("person", "referrer", "coordinator", "fire_service", "supporter")
# Written to as themselves, on the channel they chose and outside quiet hours: the person, and a
# family member or friend who supports them (a group session for supporters).
PEOPLE = frozenset({"person", "supporter"})
CHANNELS = ("email", "sms", "letter")

# Why a message is recorded as suppressed instead of being sent.
DO_NOT_CONTACT = "do_not_contact"          # the referral said the person may not be contacted
CONSENT_WITHDRAWN = "consent_withdrawn"    # consent_withdrawn with scope contact / all (fire_service)
NO_CONTACT_DETAIL = "no_contact_detail"    # nothing to send it to
CASE_ERASED = "case_erased"                # erased before it went

UK = ZoneInfo("Europe/London")
_URL = re.compile(r"https?://[^\s<>\"]+[^\s<>\".,;:!?)]")


@dataclass(frozen=True)
class PlannedMessage:
    audience: str           # one of AUDIENCES
    template: str           # base name under templates/
    channel: str            # one of CHANNELS
    to: dict                # {"email"} | {"phone"} | {"name", "address"}
    context: dict           # JSON-ready; only what this audience may see
    suppressed: str | None = None   # one of the reasons above: record, don't send
    awaiting_triage: str | None = None  # the referral reference whose HFSV triage it waits for


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str
    html: str | None = None


def load_group(path: str | Path | None = None) -> dict:
    """The group's details; None reads the packaged group.json."""
    if path is None:
        raw = resources.files(__package__).joinpath("group.json").read_text(encoding="utf-8")
    else:
        raw = Path(path).read_text(encoding="utf-8")
    return json.loads(raw)


# --- planning ---------------------------------------------------------------

def person_route(person: dict, failing_emails=()) -> tuple[str, dict] | None:
    """Channel and address for the person, honouring preferred_contact.

    `phone` means "call me": the coordinator calls anyway, so written messages
    go by SMS when the number is a mobile. A landline cannot take a text, so
    `phone` or `sms` with a landline (or a preferred detail that is missing)
    falls back to a letter; None when there is no address either. An email
    address that bounced for good (`failing_emails`, lower case) is skipped for
    a text, else a letter.
    """
    preferred = person.get("preferred_contact")
    email = person.get("email")
    email_failing = bool(email) and email.lower() in failing_emails
    if preferred == "email" and email and not email_failing:
        return "email", {"email": email}
    if preferred in ("sms", "phone") or (preferred == "email" and email_failing):
        mobile = uk_mobile(person.get("phone"))
        if mobile:
            return "sms", {"phone": mobile}
    if person.get("address"):
        name = " ".join(p for p in (person.get("given_name"), person.get("family_name")) if p)
        return "letter", {"name": name, "address": person["address"]}
    return None


def first_contact(person: dict) -> str:
    """How the coordinator first reaches the person, as every message promises it.

    "call" needs a phone number (a landline will do). Without one the coordinator
    writes: "email" or "letter", on the person's own channel when it is one of those.
    """
    if person.get("phone"):
        return "call"
    route = person_route(person)
    if route is not None:
        return route[0]  # no phone, so never "sms"
    return "email" if person.get("email") else "letter"


def person_suppression(contacts: dict) -> str | None:
    """Why nothing may be sent to the person now, or None."""
    if CONTACT_SCOPES & set(contacts.get("withdrawn") or ()):
        return CONSENT_WITHDRAWN
    if (contacts.get("person") or {}).get("do_not_contact"):
        return DO_NOT_CONTACT
    return None


def supporter_suppression(contacts: dict) -> str | None:
    """Why nothing may be sent to the person's supporters now: the person withdrew every consent.

    Their own "do not contact me" is about them; a supporter keeps their own wishes (removal).
    """
    if CONSENT_ALL in set(contacts.get("withdrawn") or ()):
        return CONSENT_WITHDRAWN
    return None


def written_to(audience: str, someone: dict, template: str, context: dict,
               suppressed: str | None, failing_emails=()) -> PlannedMessage:
    """A message to the person or a supporter, on their own channel (person_route)."""
    route = person_route(someone, failing_emails)
    if route is None:
        return PlannedMessage(audience, template, "letter", {}, context, suppressed or NO_CONTACT_DETAIL)
    channel, to = route
    return PlannedMessage(audience, template, channel, to, context, suppressed)


# Answers to what the person has just sent us (inbound.py). They go by text to their own number
# whatever their consent (the confirmation of a STOP is the answer to withdrawing it) and at any
# hour (they are awake: they just wrote); erasure still stops them.
STOP_CONFIRMATION = "person_stop_confirmation"
REPLIES = frozenset({STOP_CONFIRMATION})


# Sent to the fire service team even after consent to share is withdrawn: it names nobody
# (the reference only) and is what stops a crew turning up at the door.
FIRE_SERVICE_WITHDRAWAL_NOTICE = "fire_service_request_withdrawn"


def fire_service_suppression(contacts: dict, template: str | None = None) -> str | None:
    """Consent to share with the fire service withdrawn: their pending alerts stay unsent
    (the withdrawal notice excepted)."""
    if template == FIRE_SERVICE_WITHDRAWAL_NOTICE:
        return None
    if FIRE_SERVICE_SCOPES & set(contacts.get("withdrawn") or ()):
        return CONSENT_WITHDRAWN
    return None


def triage_key(reference: str) -> str:
    # references become keys of a stored map: no dots or dollars there
    return reference.replace(".", "_").replace("$", "_")


def triage_of(event_type: str, data: dict) -> tuple[str, dict] | None:
    """(referral reference, triage) from safety's verdict on a referral, else None.

    A duplicate referral more urgent than the case's open visit raises that visit's
    priority instead of a visit of its own: the visit_status_changed (change
    "priority_raised") that says so carries the duplicate's reference and is its verdict.
    """
    if not data.get("reference"):
        return None
    if event_type == "visit_status_changed" and data.get("change") == "priority_raised":
        return data["reference"], {"priority": data.get("priority"), "visit": "priority_raised"}
    if event_type not in ("visit_requested", "visit_not_requested"):
        return None
    visit = "requested" if event_type == "visit_requested" else (data.get("reason") or "not_requested")
    return data["reference"], {"priority": data.get("priority"), "visit": visit}


def triage_context(triage: dict | None) -> dict:
    """The coordinator alert's HFSV lines: priority, and whether a visit was requested."""
    triage = triage or {}
    return {"hfsv_priority": triage.get("priority"), "hfsv_visit": triage.get("visit")}


class _Case:
    """Builds the plans for one case; each audience gets its own context."""

    def __init__(self, contacts: dict, group: dict, today: date, event_id: str | None = None,
                 next_sessions: Callable[[], list[dict]] | None = None):
        self.contacts = contacts
        self.group = group
        self.today = today
        self.event_id = event_id
        self.reference = contacts["reference"]
        # the group's next sessions (sessions.upcoming_listing), read only by a plan that lists them
        self.next_sessions = next_sessions or list

    def for_referral(self, data: dict) -> "_Case":
        """The case as this referral's own referrer knows it (their reference, their details)."""
        contacts = {**self.contacts,
                    "reference": data.get("reference") or self.reference,
                    "referrer": data.get("referrer") or self.contacts.get("referrer"),
                    "level": data.get("level", self.contacts.get("level")),
                    "cir_max": data.get("cir_max", self.contacts.get("cir_max"))}
        return _Case(contacts, self.group, self.today, self.event_id, self.next_sessions)

    def person(self, template: str, **context) -> PlannedMessage:
        person = self.contacts["person"]
        context = {"given_name": person["given_name"], "date": self.today.isoformat(), **context}
        return written_to("person", person, template, context, person_suppression(self.contacts),
                          self.contacts.get("failing_emails") or ())

    def reply_by_sms(self, template: str, **context) -> PlannedMessage:
        """An answer to a text of theirs (REPLIES): to their mobile, never held back by consent."""
        person = self.contacts["person"]
        context = {"given_name": person["given_name"], "date": self.today.isoformat(), **context}
        mobile = uk_mobile(person.get("phone")) or next(iter(self.contacts.get("mobiles") or ()), None)
        if mobile is None:
            return PlannedMessage("person", template, "sms", {}, context, NO_CONTACT_DETAIL)
        return PlannedMessage("person", template, "sms", {"phone": mobile}, context)

    def referrer(self, template: str, **context) -> PlannedMessage:
        referrer = self.contacts.get("referrer") or {}
        context = {"reference": self.reference, "referrer_name": referrer.get("name") or "", **context}
        if not referrer.get("email"):
            return PlannedMessage("referrer", template, "email", {}, context, NO_CONTACT_DETAIL)
        return PlannedMessage("referrer", template, "email", {"email": referrer["email"]}, context)

    def coordinator(self, template: str, awaiting_triage: str | None = None,
                    **context) -> PlannedMessage:
        return PlannedMessage("coordinator", template, "email",
                              {"email": self.group["coordinator"]["email"]},
                              {"reference": self.reference, **context},
                              awaiting_triage=awaiting_triage)

    def fire_service(self, template: str, **context) -> PlannedMessage:
        return PlannedMessage("fire_service", template, "email",
                              {"email": self.group["fire_team"]["email"]},
                              {"reference": self.reference, **context},
                              fire_service_suppression(self.contacts, template))

    def referrer_update(self, update: str, **context) -> PlannedMessage:
        return self.referrer("referrer_update", update=update, **context)

    def agency(self) -> str:
        code = (self.contacts.get("referrer") or {}).get("agency") or ""
        return self.group.get("agencies", {}).get(code, code.replace("_", " "))

    def referred_by(self) -> str:
        name = (self.contacts.get("referrer") or {}).get("name")
        agency = self.agency()
        if name and agency:
            return f"{name} at {agency}"
        return name or agency or "someone who cares about you"

    def triage(self) -> dict | None:
        return (self.contacts.get("triage") or {}).get(triage_key(self.reference))

    def contact_promise(self) -> dict:
        """What the referrer's receipt and the coordinator's alert say about reaching the person."""
        person = self.contacts["person"]
        return {"first_contact": first_contact(person), "do_not_contact": bool(person.get("do_not_contact"))}

    def asked_for_visit(self, reference: str | None) -> bool:
        """Whether that referral asked for a home fire safety visit (see contacts "visit_asked")."""
        return bool((self.contacts.get("visit_asked") or {}).get(triage_key(reference or self.reference)))

    def told_visit_booked_elsewhere(self, visit_id: str | None) -> bool:
        """Another event already told the referrer this visit was booked (see visit_booked_told)."""
        told = (self.contacts.get("visit_booked_told") or {}).get(triage_key(visit_id or ""))
        return told is not None and told != self.event_id


def _referral_received(case: _Case, data: dict) -> list[PlannedMessage]:
    case = case.for_referral(data)
    triage = case.triage()
    duplicate = bool(data.get("duplicate_of"))
    messages = [
        case.referrer("referrer_receipt", **case.contact_promise()),
        # Held until safety's triage of this referral arrives (or a deadline passes),
        # so the alert can say how urgent the fire safety visit is.
        case.coordinator("coordinator_alert", awaiting_triage=None if triage else case.reference,
                         agency=case.agency(), level=case.contacts.get("level"),
                         cir_max=case.contacts.get("cir_max"), duplicate=duplicate,
                         **case.contact_promise(), **triage_context(triage)),
    ]
    if not duplicate:  # a second referral for an open case: the person was welcomed already
        messages.append(case.person("person_welcome", referred_by=case.referred_by(),
                                    first_contact=first_contact(case.contacts["person"])))
    return messages


def _case_status_changed(case: _Case, data: dict) -> list[PlannedMessage]:
    status = data.get("to")
    if data.get("from") == "on_hold" and status not in ("rejected", "completed", "cancelled"):
        # back to where it was put on hold from: invited and told when it first got there
        return []
    if status == "accepted":
        return [case.person("person_invitation", sessions=case.next_sessions()),
                case.referrer_update("accepted")]
    if status == "rejected":
        # Their welcome promised they would hear from the coordinator: they are told kindly that
        # they will not, and where else to find support (never the reason: it is the referrer's).
        return [case.person("person_not_going_ahead"),
                case.referrer_update("rejected", reason=data.get("reason") or "")]
    if status in ("completed", "cancelled"):
        return [case.referrer_update(status)]
    return []


def _visit_requested(case: _Case, data: dict) -> list[PlannedMessage]:
    # The crew reads personal details through the API; the email names none. The reference
    # is the visit's own (its referral's), the one the crew finds it under in the list.
    return [case.fire_service("fire_service_alert", reference=data.get("reference") or case.reference,
                              priority=data["priority"], due_by=data["due_by"])]


def _visit_status_changed(case: _Case, data: dict) -> list[PlannedMessage]:
    if data.get("change") == "priority_raised":
        # A more urgent duplicate referral: same visit and status, sooner. The crew hears again
        # (under the visit's own reference, case_reference); the referrer hears nothing new, and
        # the duplicate's coordinator alert takes this as its triage (triage_of).
        return [case.fire_service("fire_service_priority_raised",
                                  reference=data.get("case_reference") or data.get("reference")
                                  or case.reference,
                                  priority=data.get("priority"),
                                  previous_priority=data.get("previous_priority"),
                                  due_by=data.get("due_by"))]
    status = data.get("status") or data.get("to")
    if status == "cancelled":
        # consent withdrawn, the case erased or called off: so no crew turns up
        return [case.fire_service(FIRE_SERVICE_WITHDRAWAL_NOTICE,
                                  reference=data.get("reference") or case.reference)]
    if status == "scheduled":
        # the person hears the day and time of every booking, a new time included
        messages = [case.person("person_visit_booked", visit_at=data["scheduled_for"],
                                moved=data.get("from") == "scheduled")] if data.get("scheduled_for") else []
        if not case.told_visit_booked_elsewhere(data.get("visit_id")):  # else rebooked: the referrer knows
            messages.append(case.referrer_update("visit_scheduled"))
        return messages
    if status == "completed":
        return [case.referrer_update(f"visit_{status}")]
    if status in ("no_access", "declined"):
        return [case.coordinator("coordinator_visit_update", visit_status=status,
                                 visit_id=data.get("visit_id") or "")]
    return []


def _visit_overdue(case: _Case, data: dict) -> list[PlannedMessage]:
    return [case.coordinator("coordinator_visit_overdue", visit_id=data.get("visit_id") or "",
                             priority=data.get("priority"), due_by=data.get("due_by"))]


def _fire_risk_without_consent(case: _Case, data: dict) -> list[PlannedMessage]:
    return [case.coordinator("coordinator_fire_risk_without_consent",
                             level=case.contacts.get("level"),
                             cir_max=data.get("cir_max", case.contacts.get("cir_max")),
                             priority=data.get("priority"))]


def _visit_not_requested(case: _Case, data: dict) -> list[PlannedMessage]:
    # Only news to someone who asked for a visit: to anyone else "a visit isn't needed" answers a
    # question they never asked, in a second message straight after their welcome.
    if data.get("reason") == "low_risk" and case.asked_for_visit(data.get("reference")):
        return [case.person("person_fire_safety_signpost")]
    return []


def _sms_stop_received(case: _Case, data: dict) -> list[PlannedMessage]:
    # exactly one confirmation per STOP (inbound.py marks the event that carries it)
    return [case.reply_by_sms(STOP_CONFIRMATION)] if data.get("confirm") else []


def _person_replied(case: _Case, data: dict) -> list[PlannedMessage]:
    # a task for the coordinator; what the person wrote stays out of the email
    return [case.coordinator("coordinator_person_replied", channel=data.get("channel") or "sms")]


# The rooms a Clutter Image Rating covers, in the order a progress message reads them, as the person says them.
ROOM_WORDS = {"living_room": "living room", "kitchen": "kitchen", "bedroom": "bedroom", "other": "other rooms"}
PROGRESS = "person_progress"


def room_changes(rooms: dict) -> list[dict]:
    """Each room's progress as a message tells it, from referrals' cir_rating_recorded `rooms`:
    its words, first and latest score, the month of the first ("September", with the year when it
    is not the latest's year) and the change: better (lower), same, worse or first (rated once:
    `ratings` 1)."""
    changes = []
    order = list(ROOM_WORDS)
    for room in sorted(rooms, key=lambda r: (order.index(r) if r in order else len(order), r)):
        point = rooms[room]
        first, latest = point["first_score"], point["latest_score"]
        since, until = _as_date(point["first_rated_on"]), _as_date(point["latest_rated_on"])
        if point.get("ratings", 2) < 2:
            change = "first"
        else:
            change = "better" if latest < first else "worse" if latest > first else "same"
        changes.append({"room": ROOM_WORDS.get(room, humanise(room)), "first": first, "latest": latest,
                        "since": f"{since:%B}" if since.year == until.year else f"{since:%B %Y}",
                        "change": change, "plural": room == "other"})
    return changes


def _cir_rating_recorded(case: _Case, data: dict) -> list[PlannedMessage]:
    # only for a person who opted in (referrals records who asked them, and when)
    if not data.get("progress_updates_opted_in") or not data.get("rooms"):
        return []
    rooms = room_changes(data["rooms"])
    return [case.person(PROGRESS, rooms=rooms, any_better=any(r["change"] == "better" for r in rooms),
                        any_worse=any(r["change"] == "worse" for r in rooms))]


_PLANNERS = {
    "referral_received": _referral_received,
    "case_status_changed": _case_status_changed,
    "visit_requested": _visit_requested,
    "visit_status_changed": _visit_status_changed,
    "visit_overdue": _visit_overdue,
    "fire_risk_without_consent": _fire_risk_without_consent,
    "visit_not_requested": _visit_not_requested,
    "sms_stop_received": _sms_stop_received,
    "person_replied": _person_replied,
    "cir_rating_recorded": _cir_rating_recorded,
}


def plan_messages(event_type: str, data: dict, contacts: dict, group: dict,
                  *, today: date | None = None, event_id: str | None = None,
                  next_sessions: Callable[[], list[dict]] | None = None) -> list[PlannedMessage]:
    """The messages an event causes; [] for events that message nobody.

    `today` (the UK date the event happened) dates letters; default: today in
    the UK. `next_sessions` gives the group's next sessions for the invitation
    on acceptance (session records, read only when that is planned).
    `event_id` is the event's own: a visit booking tells the referrer only if
    `contacts["visit_booked_told"]` (visit id -> the event that told them)
    names this event or not that visit at all.
    Person messages that may not go (do
    not contact, consent withdrawn, no address) are still planned, with
    `suppressed` set, so the service records them rather than dropping them.
    An erased case plans nothing: there is nobody left to write to.
    """
    planner = _PLANNERS.get(event_type)
    if planner is None or contacts.get("erased_at"):
        return []
    return planner(_Case(contacts, group, today or datetime.now(UK).date(), event_id, next_sessions), data)


# --- rendering --------------------------------------------------------------

def _as_date(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def long_date(value) -> str:
    """'Thursday 3 December 2026'."""
    day = _as_date(value)
    return f"{day:%A} {day.day} {day:%B %Y}"


def letter_date(value) -> str:
    """'3 December 2026'."""
    day = _as_date(value)
    return f"{day.day} {day:%B %Y}"


def uk_datetime(value) -> str:
    """An ISO-8601 instant as UK local time: 'Tuesday 1 December 2026 at 2:30pm'."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:  # events carry UTC
        moment = moment.replace(tzinfo=timezone.utc)
    moment = moment.astimezone(UK)
    return f"{long_date(moment)} at {clock_words(moment)}"


def clock_words(moment: datetime) -> str:
    """'2:30pm', '6pm': the time of day as the moment gives it (convert to UK time first)."""
    hour = moment.hour % 12 or 12
    clock = f"{hour}{moment:%p}" if moment.minute == 0 else f"{hour}:{moment:%M%p}"
    return clock.lower()


def humanise(value) -> str:
    return str(value).replace("_", " ")


def address_lines(address: dict) -> list[str]:
    keys = ("line1", "line2", "line3", "town", "county", "postcode")
    return [str(address[k]).strip() for k in keys if address.get(k) and str(address[k]).strip()]


def paragraphs(text: str) -> Markup:
    """Plain text to HTML: blank-line blocks become paragraphs, '- ' blocks lists."""
    blocks = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = block.splitlines()
        if all(line.startswith("- ") for line in lines):
            items = "".join(f"<li>{_linkify(line[2:])}</li>" for line in lines)
            blocks.append(f"<ul>{items}</ul>")
        else:
            blocks.append("<p>" + "<br>\n".join(_linkify(line) for line in lines) + "</p>")
    return Markup("\n".join(blocks))


def _linkify(line: str) -> str:
    parts, last = [], 0
    for match in _URL.finditer(line):
        url = escape(match.group(0))
        parts += [str(escape(line[last:match.start()])), f'<a href="{url}">{url}</a>']
        last = match.end()
    parts.append(str(escape(line[last:])))
    return "".join(parts)


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader(__package__, "templates"),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False,
                                     default=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(long_date=long_date, letter_date=letter_date, uk_datetime=uk_datetime,
                       humanise=humanise, address_lines=address_lines,
                       paragraphs=paragraphs)
    return env


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"


def render(message: PlannedMessage, group: dict) -> RenderedMessage:
    """Subject and body for the message's channel.

    email: `<t>.txt` plus HTML from `<t>.html` or the shared `_email.html`
    layout (built from the same text, so the two never drift); sms:
    `<t>.sms.txt` or `<t>.txt`; letter: `<t>.letter.txt` or the shared
    `_letter.txt` (addressed and dated) around `<t>.txt`.
    """
    env = environment()
    name = message.template
    variables = {**message.context, "group": group, "to": message.to, "channel": message.channel}
    subject = " ".join(env.get_template(f"{name}.subject.txt").render(variables).split())
    html = None
    if message.channel == "email":
        text = _tidy(env.get_template(f"{name}.txt").render(variables))
        html = env.select_template([f"{name}.html", "_email.html"]).render(
            {**variables, "subject": subject, "text": text})
    elif message.channel == "sms":
        text = _tidy(env.select_template([f"{name}.sms.txt", f"{name}.txt"]).render(variables))
    elif message.channel == "letter":
        text = _tidy(env.select_template([f"{name}.letter.txt", "_letter.txt"]).render(
            {**variables, "body_template": f"{name}.txt"}))
    else:
        raise ValueError(f"unknown channel {message.channel!r}")
    return RenderedMessage(subject=subject, text=text, html=html)


def withdrawal_notice(data: dict, group: dict) -> PlannedMessage | None:
    """For an erased case: the crew is still told not to call (the notice names nobody)."""
    if data.get("status") != "cancelled" or not data.get("reference"):
        return None
    return PlannedMessage("fire_service", FIRE_SERVICE_WITHDRAWAL_NOTICE, "email",
                          {"email": group["fire_team"]["email"]}, {"reference": data["reference"]})


def person_message(contacts: dict, group: dict, today: date, template: str, **context) -> PlannedMessage:
    """One message to the person outside an event's plan (a group session's invitation,
    reminder or news), on their channel and with their wishes applied as for every message."""
    return _Case(contacts, group, today).person(template, **context)


def supporter_message(contacts: dict, supporter: dict, today: date, template: str, **context) -> PlannedMessage:
    """One message to a supporter of the person (a group session for supporters), on their own channel."""
    context = {"given_name": supporter["given_name"], "date": today.isoformat(), **context}
    return written_to("supporter", supporter, template, context, supporter_suppression(contacts))
