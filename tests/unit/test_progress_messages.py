"""The person's progress after a Clutter Image Rating (issue 13): planned only when they opted in,
held back like every person message, and told warmly: improved, the same, or worse."""
from dataclasses import replace

import pytest

from services.notifications.messages import (
    CONSENT_WITHDRAWN, DO_NOT_CONTACT, PROGRESS, load_group, plan_messages, render, room_changes,
)
from tests.unit.test_templates import CONTACTS, PERSON_CHANNELS, TODAY


@pytest.fixture(scope="module")
def group():
    return load_group()


def rooms(first, latest, first_on="2026-09-14", latest_on="2026-11-20", room="living_room", ratings=2):
    return {room: {"first_score": first, "first_rated_on": first_on,
                   "latest_score": latest, "latest_rated_on": latest_on, "ratings": ratings}}


def rated(room_scores, opted_in=True):
    return {"progress_updates_opted_in": opted_in, "rooms": room_scores}


def plans(data, contacts=CONTACTS, group=None):
    return plan_messages("cir_rating_recorded", data, contacts, group or load_group(), today=TODAY)


def texts(message, group):
    """The rendered text on every channel the person may have."""
    return {channel: render(replace(message, channel=channel, to=to), group)
            for channel, to in PERSON_CHANNELS.items()}


def test_not_opted_in_plans_nothing(group):
    assert plans(rated(rooms(7, 5), opted_in=False), group=group) == []
    assert plans({"rooms": rooms(7, 5)}, group=group) == []


def test_opted_in_plans_one_message_to_the_person_on_their_channel(group):
    [message] = plans(rated(rooms(7, 5)), group=group)
    assert (message.audience, message.template, message.channel) == ("person", PROGRESS, "email")
    assert message.to == {"email": CONTACTS["person"]["email"]} and message.suppressed is None
    assert message.context["rooms"] == [{"room": "living room", "first": 7, "latest": 5, "since": "September",
                                         "change": "better", "plural": False}]


def test_improvement_is_celebrated(group):
    [message] = plans(rated(rooms(7, 5)), group=group)
    for channel, rendered in texts(message, group).items():
        assert "Your living room went from 7 to 5 since September. Well done!" in rendered.text, channel
        assert rendered.subject == "Good news about your home"
        assert "up and down" not in rendered.text.lower() and "ups and downs" not in rendered.text.lower()


def test_the_same_is_kept_steady(group):
    [message] = plans(rated(rooms(4, 4, room="kitchen")), group=group)
    for channel, rendered in texts(message, group).items():
        assert "Your kitchen is at 4, the same as in September." in rendered.text, channel
        assert "Well done" not in rendered.text
        assert rendered.subject == "How things are going at home"


def test_worse_is_told_gently(group):
    [message] = plans(rated(rooms(3, 5, first_on="2025-12-01", room="bedroom")), group=group)
    for channel, rendered in texts(message, group).items():
        assert "Your bedroom went from 3 to 5 since December 2025." in rendered.text, channel
        assert "Well done" not in rendered.text and "good news" not in rendered.text.lower()
        assert "up and down" in rendered.text.lower() or "ups and downs" in rendered.text.lower()
        assert "help" in rendered.text


def test_the_message_names_nobody_but_the_person(group):
    [message] = plans(rated(rooms(7, 5)), group=group)
    text = render(message, group).text
    assert CONTACTS["person"]["given_name"] in text
    assert CONTACTS["referrer"]["name"] not in text and CONTACTS["reference"] not in text


@pytest.mark.parametrize("contacts, reason", [
    ({**CONTACTS, "person": {**CONTACTS["person"], "do_not_contact": True}}, DO_NOT_CONTACT),
    ({**CONTACTS, "withdrawn": ["contact"]}, CONSENT_WITHDRAWN),
    ({**CONTACTS, "withdrawn": ["all"]}, CONSENT_WITHDRAWN),
])
def test_the_persons_wishes_hold_it_back_as_every_person_message(group, contacts, reason):
    [message] = plans(rated(rooms(7, 5)), contacts=contacts, group=group)
    assert message.suppressed == reason


def test_an_erased_case_plans_nothing(group):
    assert plans(rated(rooms(7, 5)), contacts={**CONTACTS, "erased_at": "2026-11-01"}, group=group) == []


def test_room_changes_read_in_room_order_with_a_first_rating_on_its_own():
    changes = room_changes({"other": rooms(2, 2, "2026-11-20", "2026-11-20", ratings=1)["living_room"],
                            "kitchen": rooms(6, 4, "2026-11-20", "2026-11-20")["living_room"],
                            "living_room": rooms(7, 8)["living_room"]})
    assert [(c["room"], c["change"], c["plural"]) for c in changes] == [
        ("living room", "worse", False), ("kitchen", "better", False), ("other rooms", "first", True)]
