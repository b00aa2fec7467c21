"""Group sessions: the rules (sessions.py) and the signed reply links (reply_links.py), with no I/O."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from marshmallow import ValidationError

from services.notifications import reply_links
from services.notifications import sessions as rules
from services.notifications.messages import load_group, person_message, supporter_message
from services.notifications.planning import notification_id
from services.notifications.reply_links import ExpiredLink, ForgedLink
from services.notifications.session_work import planned_message_id, session_message_id
from tests.unit.session_samples import NOW, PLACES, invitation, session

UTC = timezone.utc
SECRET = b"s" * 48


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --- reply links ------------------------------------------------------------------------

def test_a_reply_link_reads_back_as_its_invitation_until_it_expires():
    expires = at("2026-12-03T18:30:00+00:00")
    token = reply_links.sign(SECRET, reply_links.SESSION_REPLY, "AbC-123_xyz", expires)
    assert reply_links.read(SECRET, reply_links.SESSION_REPLY, token, expires - timedelta(seconds=1)) == "AbC-123_xyz"
    with pytest.raises(ExpiredLink):
        reply_links.read(SECRET, reply_links.SESSION_REPLY, token, expires)
    assert len(token) < 60  # it travels in a text message


def _forgeries(token: str):
    subject, expiry, signature = token.split(".")
    yield f"{subject[:-1]}B.{expiry}.{signature}"                      # another invitation
    yield f"{subject}.{int(expiry, 36) + 86400:x}.{signature}"          # a later expiry
    yield f"{subject}.{expiry}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
    yield f"{subject}.{expiry}"
    yield ""
    yield "../../etc/passwd"


@pytest.mark.parametrize("index", range(6))
def test_a_changed_token_is_forged_not_expired(index):
    token = reply_links.sign(SECRET, reply_links.SESSION_REPLY, "AbC-123_xyz", at("2026-12-03T18:30:00+00:00"))
    forged = list(_forgeries(token))[index]
    with pytest.raises(ForgedLink):
        reply_links.read(SECRET, reply_links.SESSION_REPLY, forged, NOW)


def test_a_link_is_good_for_its_own_purpose_and_secret_only():
    expires = at("2026-12-03T18:30:00+00:00")
    other_purpose = reply_links.sign(SECRET, "supporter-consent:v1", "AbC-123_xyz", expires)
    with pytest.raises(ForgedLink):
        reply_links.read(SECRET, reply_links.SESSION_REPLY, other_purpose, NOW)
    other_secret = reply_links.sign(b"t" * 48, reply_links.SESSION_REPLY, "AbC-123_xyz", expires)
    with pytest.raises(ForgedLink):
        reply_links.read(SECRET, reply_links.SESSION_REPLY, other_secret, NOW)


def test_an_expired_forgery_is_still_called_forged():
    expired = reply_links.sign(b"t" * 48, reply_links.SESSION_REPLY, "AbC-123_xyz", NOW - timedelta(days=1))
    with pytest.raises(ForgedLink):
        reply_links.read(SECRET, reply_links.SESSION_REPLY, expired, NOW)


def test_an_invitation_id_is_one_per_member_per_session_and_fits_a_link():
    first = rules.invitation_id("s-1", "case-1")
    assert first == rules.invitation_id("s-1", "case-1")
    assert len({first, rules.invitation_id("s-1", "case-2"), rules.invitation_id("s-2", "case-1")}) == 3
    assert len(first) == 16 and reply_links.sign(SECRET, reply_links.SESSION_REPLY, first, NOW)


# --- London times ------------------------------------------------------------------------

@pytest.mark.parametrize("starts_at, reminder", [
    ("2026-12-03T18:30:00+00:00", "2026-12-02T10:00:00+00:00"),  # GMT
    ("2027-07-01T17:30:00+00:00", "2027-06-30T09:00:00+00:00"),  # BST: 10:00 London is 09:00 UTC
    ("2027-03-29T17:30:00+00:00", "2027-03-28T09:00:00+00:00"),  # the day the clocks went forward
    ("2027-11-01T18:30:00+00:00", "2027-10-31T10:00:00+00:00"),  # the day the clocks went back
    ("2027-07-01T23:30:00+00:00", "2027-07-01T09:00:00+00:00"),  # 00:30 on 2 July in London
])
def test_the_reminder_goes_at_ten_in_london_the_day_before(starts_at, reminder):
    assert rules.reminder_at(at(starts_at)) == at(reminder)
    assert rules.reminder_at(at(starts_at)).astimezone(rules.UK).hour == 10


def test_a_late_invitation_gets_no_reminder():
    starts_at = at("2026-12-03T18:30:00+00:00")
    assert rules.reminder_due(starts_at, at("2026-12-02T09:59:00+00:00")) == at("2026-12-02T10:00:00+00:00")
    assert rules.reminder_due(starts_at, at("2026-12-02T10:00:00+00:00")) is None


@pytest.mark.parametrize("starts_at, ends_at, words", [
    ("2026-12-03T18:30:00+00:00", "2026-12-03T20:00:00+00:00", "Thursday 3 December 2026, 6:30pm to 8pm"),
    ("2027-07-01T17:30:00+00:00", "2027-07-01T19:00:00+00:00", "Thursday 1 July 2027, 6:30pm to 8pm"),
    ("2027-07-01T22:30:00+00:00", "2027-07-01T23:30:00+00:00",
     "Thursday 1 July 2027, 11:30pm to 12:30am on Friday 2 July 2027"),
])
def test_session_times_read_in_london(starts_at, ends_at, words):
    assert rules.when_words(at(starts_at), at(ends_at)) == words


def test_a_session_is_found_by_its_london_month():
    assert rules.month_key(at("2027-04-30T23:30:00+00:00")) == "2027-05"  # 00:30 BST on 1 May
    assert rules.months_between(date(2026, 11, 29), date(2027, 2, 1)) == ["2026-11", "2026-12", "2027-01",
                                                                          "2027-02"]


def test_the_listing_window():
    today = date(2026, 11, 29)
    assert rules.query_window(None, None, today) == (today, date(2027, 11, 29))
    assert rules.query_window(date(2027, 1, 1), date(2027, 1, 31), today) == (date(2027, 1, 1), date(2027, 1, 31))
    for start, end, field in [(date(2027, 1, 2), date(2027, 1, 1), "to"), (today, date(2029, 1, 1), "to")]:
        with pytest.raises(ValidationError) as refused:
            rules.query_window(start, end, today)
        assert field in refused.value.messages


# --- a session's life ----------------------------------------------------------------------

@pytest.mark.parametrize("changes, field", [
    ({"starts_at": NOW - timedelta(minutes=1)}, "starts_at"),
    ({"ends_at": at("2026-12-03T18:00:00+00:00")}, "ends_at"),
    ({"ends_at": at("2026-12-04T07:00:00+00:00")}, "ends_at"),        # 12.5 hours
    ({"venue": "the library"}, "venue"),                                # an online session has a link
    ({"joining_link": None}, "joining_link"),
])
def test_a_new_session_must_make_sense(changes, field):
    fields = {"kind": "online", "starts_at": at("2026-12-03T18:30:00+00:00"),
              "ends_at": at("2026-12-03T20:00:00+00:00"), "joining_link": PLACES["online"], "capacity": 10,
              "audience": "members", **changes}
    with pytest.raises(ValidationError) as refused:
        rules.new_session(fields, session_id="s-1", actor="coordinator:k1", now=NOW)
    assert field in refused.value.messages


def test_a_new_session_is_stored_in_utc_with_its_month_and_no_seats_taken():
    doc = session("face_to_face", starts_at="2027-07-01T18:30:00+01:00", ends_at="2027-07-01T20:00:00+01:00")
    assert doc["starts_at"] == at("2027-07-01T17:30:00+00:00") and doc["starts_at"].tzinfo == UTC
    assert (doc["month"], doc["status"], doc["version"], doc["seats_taken"]) == ("2027-07", "scheduled", 1, 0)
    assert doc["venue"] == PLACES["face_to_face"] and "joining_link" not in doc


def test_what_a_change_moves_and_who_hears_of_it():
    doc = session()
    moved = rules.change_session(doc, {"starts_at": at("2026-12-04T18:30:00+00:00"),
                                       "ends_at": at("2026-12-04T20:00:00+00:00")}, NOW)
    assert (moved.moved, moved.told, moved.changes["month"]) == (True, True, "2026-12")
    place = rules.change_session(doc, {"joining_link": "https://zoom.example.net/j/9"}, NOW)
    assert (place.moved, place.told, place.changes) == (False, True, {"joining_link": "https://zoom.example.net/j/9"})
    capacity = rules.change_session(doc, {"capacity": 20}, NOW)
    assert (capacity.moved, capacity.told, capacity.changes) == (False, False, {"capacity": 20})
    only_end = rules.change_session(doc, {"ends_at": at("2026-12-03T20:30:00+00:00")}, NOW)
    assert only_end.moved and only_end.changes["starts_at"] == doc["starts_at"]


@pytest.mark.parametrize("fields, field", [
    ({"capacity": 12}, "_schema"),                     # the same capacity: nothing to change
    ({"kind": "huddle"}, "kind"),
    ({"dial_in": "020 7946 0000"}, "dial_in"),
    ({"ends_at": at("2026-12-03T18:00:00+00:00")}, "ends_at"),
])
def test_a_change_that_makes_no_sense_is_refused(fields, field):
    with pytest.raises(ValidationError) as refused:
        rules.change_session(session(), fields, NOW)
    assert field in refused.value.messages


def test_a_session_that_started_or_was_cancelled_cannot_change():
    started = NOW.replace(year=2026, month=12, day=3, hour=18, minute=45)
    with pytest.raises(rules.SessionClosed, match="started"):
        rules.change_session(session(), {"capacity": 3}, started)
    cancelled = {**session(), **rules.cancel_session(session(), "no room", "coordinator:k1", NOW)}
    assert cancelled["cancelled"]["reason"] == "no room"
    with pytest.raises(rules.SessionClosed, match="cancelled"):
        rules.change_session(cancelled, {"capacity": 3}, NOW)
    with pytest.raises(rules.SessionClosed):
        rules.cancel_session(cancelled, "again", "coordinator:k1", NOW)


def test_a_session_is_finished_once_its_end_has_passed():
    doc = session()
    assert rules.status_at(doc, at("2026-12-03T19:59:59+00:00")) == "scheduled"
    assert rules.status_at(doc, at("2026-12-03T20:00:00+00:00")) == "finished"
    assert rules.status_at({**doc, "status": "cancelled"}, at("2027-01-01T00:00:00+00:00")) == "cancelled"


def test_attendance_is_recorded_once_a_session_has_begun_and_each_case_once():
    with pytest.raises(rules.SessionClosed, match="not started"):
        rules.require_started(session(), NOW)
    rules.require_started(session(), at("2026-12-03T18:30:00+00:00"))
    with pytest.raises(rules.SessionClosed, match="cancelled"):
        rules.require_started({**session(), "status": "cancelled"}, at("2026-12-04T00:00:00+00:00"))
    assert rules.attendance_marks(["a"], ["b"]) == {"a": "attended", "b": "absent"}
    for attended, absent in [(["a"], ["a"]), ([], [])]:
        with pytest.raises(ValidationError):
            rules.attendance_marks(attended, absent)


# --- messages --------------------------------------------------------------------------------

START = at("2026-12-03T18:30:00+00:00")


@pytest.mark.parametrize("message, session_changes, answer, starts_at, applies", [
    ("invitation", {}, None, None, True),
    ("invitation", {"status": "cancelled"}, None, None, False),
    ("reminder", {}, None, START, True),
    ("reminder", {}, "yes", START, True),
    ("reminder", {}, "no", START, False),                              # said no: not reminded
    ("reminder", {}, None, START - timedelta(days=1), False),           # made for a start since moved
    ("reminder", {"status": "cancelled"}, "yes", START, False),
    ("changed", {}, "yes", None, True),
    ("changed", {}, "no", None, False),
    ("cancellation", {"status": "cancelled"}, "no", None, True),         # everyone invited hears
    ("cancellation", {}, None, None, False),
])
def test_a_session_message_goes_only_while_it_is_true(message, session_changes, answer, starts_at, applies):
    doc = {**session(), **session_changes}
    assert rules.message_applies(message, doc, invitation(doc, answer=answer), starts_at, NOW) is applies


def test_nothing_is_sent_about_a_session_that_has_begun():
    doc = session()
    for message in ("invitation", "reminder", "changed"):
        assert not rules.message_applies(message, doc, invitation(doc), START, START)


def test_each_session_message_is_made_once_per_start_or_version():
    doc = session()
    inv = invitation(doc)
    assert rules.message_key("reminder", inv, doc) != rules.message_key(
        "reminder", inv, {**doc, "starts_at": START + timedelta(days=1)})
    assert rules.message_key("changed", inv, doc) != rules.message_key("changed", inv, {**doc, "version": 2})
    assert rules.message_key("invitation", inv, {**doc, "version": 5}) == "invitation"


def test_a_reminder_is_not_posted():
    assert not rules.worth_sending("reminder", "letter")
    assert rules.worth_sending("reminder", "sms") and rules.worth_sending("invitation", "letter")


def test_a_cancellation_says_why_but_not_where_or_how_to_reply():
    doc = {**session("face_to_face"), "status": "cancelled", "cancelled": {"reason": "The hall is closed."}}
    context = rules.message_context("cancellation", doc, invitation(doc), "https://x/r/t")
    assert (context["place"], context["reply_link"], context["reason"]) == ("", None, "The hall is closed.")
    invite = rules.message_context("invitation", doc, invitation(doc), "https://x/r/t")
    assert (invite["place"], invite["reply_link"]) == (PLACES["face_to_face"], "https://x/r/t")


def test_the_acceptance_invitation_lists_the_next_members_sessions_in_london_time():
    sessions = [session(starts_at=f"2027-0{m}-0{d}T17:30:00+00:00", ends_at=f"2027-0{m}-0{d}T19:00:00+00:00",
                        _id=f"s-{m}{d}") for m in (5, 6) for d in (1, 2, 3, 4)]
    sessions += [session("huddle", starts_at="2027-04-10T18:00:00+00:00", ends_at="2027-04-10T18:30:00+00:00"),
                 session(starts_at="2026-11-26T18:00:00+00:00", ends_at="2026-11-26T19:00:00+00:00",
                         status="cancelled"),
                 session(starts_at="2026-11-27T18:00:00+00:00", ends_at="2026-11-27T19:00:00+00:00",
                         audience="supporters")]
    listed = rules.upcoming_listing(sessions, NOW)
    assert len(listed) == rules.NEXT_SESSIONS_LISTED
    assert listed[0] == {"date": "2027-04-10", "time": "7pm to 7:30pm", "kind": "phone huddle"}  # BST
    assert listed[1] == {"date": "2027-05-01", "time": "6:30pm to 8pm", "kind": "online"}
    assert rules.upcoming_listing(sessions, at("2027-07-01T00:00:00+00:00")) == []


def test_partners_never_see_where_a_session_is():
    doc = session("face_to_face")
    public = rules.public_view(doc, NOW)
    assert set(public) == {"session_id", "kind", "starts_at", "ends_at", "audience", "status"}
    assert PLACES["face_to_face"] not in str(public)
    coordinator = rules.coordinator_view(doc, NOW)
    assert coordinator["venue"] == PLACES["face_to_face"] and coordinator["version"] == 1
    assert coordinator["starts_at"].utcoffset() == timedelta(0)  # London time in December


def test_the_stored_id_of_a_session_message_names_its_audience():
    doc = session()
    contacts = {"reference": "HRW-1", "person": {"given_name": "Ada", "email": "a@example.org",
                                                 "preferred_contact": "email"}}
    for inv, planned in [
        (invitation(doc), person_message(contacts, load_group(), NOW.date(), rules.TEMPLATES["invitation"])),
        (invitation(doc, supporter_id="sup-1"),
         supporter_message(contacts, {"given_name": "Bea", "email": "b@example.org", "preferred_contact": "email"},
                           NOW.date(), rules.TEMPLATES["invitation"])),
    ]:
        stored = notification_id(session_message_id(inv, "invitation", doc), planned)
        assert planned_message_id(inv, "invitation", doc) == stored


def test_a_bounce_naming_a_session_messages_message_id_finds_it():
    """The bounce webhook reads our notification id back from the Message-ID we sent (inbound.py)."""
    from services.notifications.inbound import notification_id_of

    doc = session()
    for inv in (invitation(doc), invitation(doc, supporter_id="sup-1")):
        for message in ("invitation", "reminder", "changed"):
            stored = planned_message_id(inv, message, doc)
            assert notification_id_of(f"<{stored.replace(':', '_')}@harrow-peer.example.org>") == stored
    assert session_message_id(invitation(doc), "invitation", doc) == session_message_id(invitation(doc), "invitation",
                                                                                      doc)
