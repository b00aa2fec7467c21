"""How other services' events read on a case's timeline (referrals/events.py)."""
import pytest

from services.referrals.events import summarise


def event(event_type, **data):
    return {"event_type": event_type, "data": data}


@pytest.mark.parametrize("due_by,shown", [
    ("2026-11-30T15:45:00+00:00", "due by Mon 30 Nov, 15:45"),   # GMT: London is UTC
    ("2026-07-01T15:45:00+00:00", "due by Wed 1 Jul, 16:45"),    # BST: an hour ahead
    ("2026-03-29T00:30:00+00:00", "due by Sun 29 Mar, 00:30"),   # the night the clocks go forward
    ("2026-03-29T01:30:00+00:00", "due by Sun 29 Mar, 02:30"),
    ("2026-11-30T15:45:00", "due by Mon 30 Nov, 15:45"),         # naive: taken as UTC
])
def test_a_visit_request_shows_its_due_time_in_london(due_by, shown):
    summary = summarise(event("visit_requested", priority="high", due_by=due_by))
    assert summary == f"Home Fire Safety Visit requested (high priority, {shown})"
    assert "[date]" not in summary and "UTC" not in summary


def test_an_overdue_visit_shows_when_it_was_due():
    summary = summarise(event("visit_overdue", due_by="2026-12-04T10:00:00+00:00"))
    assert summary == "Home Fire Safety Visit overdue (was due by Fri 4 Dec, 10:00)"


def test_a_due_time_that_is_not_a_date_is_shown_as_sent():
    assert "due by soon)" in summarise(event("visit_requested", priority="low", due_by="soon"))


def test_a_delivery_failure_reason_is_still_scrubbed_of_contact_details():
    summary = summarise(event("notification_failed", template="person_welcome", audience="person",
                              reason="550 mailbox ada@example.org unknown; call 07700 900123"))
    assert "ada@example.org" not in summary and "07700" not in summary
    assert summary == ("Message 'person_welcome' to the person failed: "
                       "550 mailbox [email] unknown; call [phone]")


def test_a_letter_reads_as_posted_when_a_coordinator_marks_it():
    summary = summarise(event("notification_sent", template="person_welcome", audience="person", channel="letter",
                              posted_by="coordinator:k1"))
    assert summary == "Letter 'person_welcome' to the person printed and posted"
    assert summarise(event("notification_sent", template="person_welcome", audience="person", channel="email")) \
        == "Message 'person_welcome' sent to the person by email"


@pytest.mark.parametrize("data, summary", [
    ({"kind": "online", "starts_at": "2026-12-03T18:30:00+00:00", "attended": True},
     "Came to the online session on 3 Dec"),
    ({"kind": "face_to_face", "starts_at": "2026-12-12T11:00:00+00:00", "attended": False},
     "Did not come to the face-to-face session on 12 Dec"),
    ({"kind": "huddle", "starts_at": "2027-06-30T23:30:00+00:00", "attended": True},
     "Came to the phone huddle on 1 Jul"),                       # 00:30 BST: the London day
])
def test_attendance_reads_as_a_line_of_the_case(data, summary):
    assert summarise(event("session_attendance_recorded", session_id="s-1", **data)) == summary


def test_an_answer_to_an_invitation_says_how_it_came():
    start = "2026-12-03T18:30:00+00:00"
    assert (summarise(event("session_reply_recorded", kind="online", starts_at=start, answer="yes", via="link"))
            == "Said yes to the online session on 3 Dec (with the reply link)")
    assert (summarise(event("session_reply_recorded", kind="online", starts_at=start, answer="no",
                            via="coordinator"))
            == "Said no to the online session on 3 Dec (to the coordinator)")


def test_a_supporters_answer_and_attendance_say_it_was_a_supporter():
    data = {"kind": "online", "starts_at": "2026-12-03T18:30:00+00:00", "supporter_id": "sup-1"}
    assert (summarise(event("session_attendance_recorded", attended=True, **data))
            == "A supporter came to the online session on 3 Dec")
    assert (summarise(event("session_reply_recorded", answer="no", via="link", **data))
            == "A supporter said no to the online session on 3 Dec (with the reply link)")
    assert (summarise(event("notification_sent", template="person_session_invitation", audience="supporter",
                            channel="email"))
            == "Message 'person_session_invitation' sent to a supporter of the person by email")
