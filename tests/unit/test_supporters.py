"""Supporters (family and friends on a case): the rules, and how their messages are held like the person's."""
from __future__ import annotations

from datetime import date, datetime, time, timezone

import pytest
from marshmallow import ValidationError

from services.notifications import supporters
from services.notifications.messages import load_group, render, supporter_message
from services.notifications.quiet_hours import QuietHours
from services.notifications.sending import allowed_at, suppression
from tests.unit.session_samples import NOW

GROUP = load_group()
CONSENT = {"obtained_by": "Alex Morgan", "obtained_on": "2026-11-20"}
SUPPORTER = {"case_id": "case-1", "given_name": "Bea", "family_name": "Jones", "relationship": "daughter",
             "email": "bea@example.org", "phone": None, "address": None, "preferred_contact": "email",
             "person_consent": CONSENT}


def test_a_supporter_is_kept_with_the_persons_consent_and_their_own_channel():
    doc = supporters.new_supporter(SUPPORTER, supporter_id="sup-1", actor="coordinator:k1", now=NOW)
    assert (doc["_id"], doc["status"], doc["person_consent"]) == ("sup-1", "active", CONSENT)
    view = supporters.supporter_view(doc)
    assert view["supporter_id"] == "sup-1" and view["email"] == "bea@example.org"


@pytest.mark.parametrize("changes", [
    {"email": None},                                        # email chosen, no email, no address
    {"preferred_contact": "sms", "phone": "020 7946 0000",  # a landline cannot take a text
     "address": {"line1": "1 High St", "town": "Harrow", "postcode": "HA1 1AA"}},
])
def test_a_supporter_we_could_not_reach_as_they_asked_is_refused(changes):
    with pytest.raises(ValidationError) as refused:
        supporters.new_supporter({**SUPPORTER, **changes}, supporter_id="sup-1", actor="c", now=NOW)
    assert "preferred_contact" in refused.value.messages


def test_removing_a_supporter_drops_their_details():
    doc = supporters.new_supporter(SUPPORTER, supporter_id="sup-1", actor="c", now=NOW)
    removed = {**doc, **supporters.removal("coordinator:k1", "she asked", NOW)}
    assert removed["status"] == "removed" and removed["removal_reason"] == "she asked"
    assert "Bea" not in str(removed) and "bea@example.org" not in str(removed)


def test_a_message_to_a_supporter_goes_on_their_channel_and_stops_only_when_the_person_withdraws_everything():
    supporter = supporters.new_supporter(SUPPORTER, supporter_id="sup-1", actor="c", now=NOW)
    contacts = {"person": {"given_name": "Ada", "do_not_contact": True}, "withdrawn": ["contact"]}
    message = supporter_message(contacts, supporter, date(2026, 11, 25), "person_session_invitation",
                                session_kind="online session", kind="online", when="Thursday 3 December 2026",
                                place="https://zoom.example.net/j/1", answer=None, reply_link="https://x/r/t")
    assert (message.audience, message.channel, message.to, message.suppressed) == (
        "supporter", "email", {"email": "bea@example.org"}, None)  # the person's own wishes are theirs
    assert "Dear Bea" in render(message, GROUP).text and "Ada" not in render(message, GROUP).text
    doc = {"audience": "supporter", "template": message.template}
    assert suppression(doc, {**contacts, "withdrawn": ["all"]}) == "consent_withdrawn"
    assert suppression(doc, contacts) is None
    assert suppression(doc, {"erased_at": NOW}) == "case_erased"


def test_quiet_hours_hold_a_supporters_email_too():
    quiet = QuietHours(time(9, 0), time(11, 0))  # 10:00 UTC on 25 November is 10:00 in London
    assert allowed_at(quiet, "supporter", "email", NOW) == datetime(2026, 11, 25, 11, 0, tzinfo=timezone.utc)
    assert allowed_at(quiet, "referrer", "email", NOW) == NOW
