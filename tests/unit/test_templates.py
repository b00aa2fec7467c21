"""Message text: renders for every plan and channel, and says only what it may."""
import re
from copy import deepcopy
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from jinja2 import UndefinedError

from services.notifications import messages
from services.notifications.messages import STOP_CONFIRMATION, PlannedMessage, load_group, plan_messages, render
from tests.unit.session_samples import session_plans

TEMPLATES = Path(messages.__file__).parent / "templates"
TODAY = date(2026, 11, 25)

# Distinctive values, so their absence from a message means something.
PERSON = {
    "given_name": "Zebedee", "family_name": "Quillfeather",
    "email": "zebedee.quillfeather@example.org", "phone": "07700 900987",
    "address": {"line1": "77 Marigold Crescent", "line2": "Flat 3", "town": "Pinner",
                "postcode": "HA5 9ZZ"},
    "preferred_contact": "email", "do_not_contact": False,
}
CONTACTS = {
    "reference": "HRW-2026-000777",
    "person": PERSON,
    "referrer": {"name": "Priya Okonkwo", "email": "priya@example.org",
                 "phone": "020 7946 0000", "agency": "mind"},
    "level": 3,
    "cir_max": 8,
    "visit_asked": {"HRW-2026-000777": True},
}
TRIAGED = {**CONTACTS, "triage": {"HRW-2026-000777": {"priority": "very_high", "visit": "requested"}}}
EVENTS = [
    ("referral_received", {}),
    ("referral_received", {"duplicate_of": "case-1"}),
    ("case_status_changed", {"to": "accepted"}),
    ("case_status_changed", {"to": "rejected", "reason": "Lives outside the borough"}),
    ("case_status_changed", {"to": "completed"}),
    ("case_status_changed", {"to": "cancelled"}),
    ("visit_requested", {"visit_id": "v-9", "priority": "very_high",
                         "due_by": "2026-12-01T14:30:00+00:00"}),
    ("visit_status_changed", {"visit_id": "v-9", "status": "scheduled",
                              "scheduled_for": "2026-12-01T14:30:00+00:00"}),
    ("visit_status_changed", {"visit_id": "v-9", "status": "completed"}),
    ("visit_status_changed", {"visit_id": "v-9", "status": "no_access"}),
    ("visit_status_changed", {"visit_id": "v-9", "status": "declined"}),
    ("visit_overdue", {"visit_id": "v-9", "priority": "high", "due_by": "2026-12-01T14:30:00Z"}),
    ("visit_overdue", {"visit_id": "v-9"}),
    ("fire_risk_without_consent", {"priority": "very_high"}),
    ("fire_risk_without_consent", {}),
    ("visit_not_requested", {"reason": "low_risk", "reference": "HRW-2026-000777"}),
    ("sms_stop_received", {"inbound_id": "sms:SM1", "confirm": True}),
    ("person_replied", {"inbound_id": "sms:SM2", "channel": "sms"}),
    ("cir_rating_recorded", {"progress_updates_opted_in": True, "rooms": {
        "living_room": {"first_score": 7, "first_rated_on": "2026-09-14",
                        "latest_score": 5, "latest_rated_on": "2026-11-20"},
        "kitchen": {"first_score": 4, "first_rated_on": "2026-09-14",
                    "latest_score": 4, "latest_rated_on": "2026-11-20"},
        "bedroom": {"first_score": 3, "first_rated_on": "2025-12-01",
                    "latest_score": 5, "latest_rated_on": "2026-11-20"},
        "other": {"first_score": 2, "first_rated_on": "2026-11-20",
                  "latest_score": 2, "latest_rated_on": "2026-11-20", "ratings": 1}}}),
    ("visit_status_changed", {"visit_id": "v-9", "status": "scheduled", "change": "priority_raised",
                              "priority": "very_high", "previous_priority": "medium",
                              "due_by": "2026-11-26T12:00:00+00:00", "reference": "HRW-2026-000778",
                              "case_reference": "HRW-2026-000777"}),
    ("visit_status_changed", {"visit_id": "v-9", "status": "cancelled", "change": "consent_withdrawn",
                              "reference": "HRW-2026-000777"}),
]
PERSON_CHANNELS = {
    "email": {"email": PERSON["email"]},
    "sms": {"phone": "+447700900987"},
    "letter": {"name": "Zebedee Quillfeather", "address": PERSON["address"]},
}


@pytest.fixture(scope="module")
def group():
    return load_group()


def every_plan(group):
    """Every planned message, with person messages on each of their channels."""
    for event_type, data in EVENTS:
        for message in plan_messages(event_type, data, CONTACTS, group, today=TODAY):
            if message.audience == "person":
                for channel, to in PERSON_CHANNELS.items():
                    yield replace(message, channel=channel, to=to)
            else:
                yield message
    for message in session_plans(CONTACTS, group, TODAY):
        for channel, to in PERSON_CHANNELS.items():
            yield replace(message, channel=channel, to=to)


def plan_one(template, group, event_type, data, contacts=CONTACTS, **changes):
    (message,) = [m for m in plan_messages(event_type, data, contacts, group, today=TODAY)
                  if m.template == template]
    return replace(message, **changes)


def all_text(rendered):
    return "\n".join([rendered.subject, rendered.text, rendered.html or ""])


def test_every_plan_renders_on_its_channel(group):
    seen = set()
    for message in every_plan(group):
        rendered = render(message, group)
        assert rendered.subject.strip() and "\n" not in rendered.subject
        assert rendered.text.strip()
        assert "{{" not in rendered.text and "{%" not in rendered.text
        assert (rendered.html is not None) == (message.channel == "email")
        if rendered.html:
            assert rendered.html.lstrip().startswith("<!DOCTYPE html>")
        seen.add(message.template)
    files = {p.name.split(".")[0] for p in TEMPLATES.iterdir() if not p.name.startswith("_")}
    assert files == seen, "a template no plan uses, or a plan with no template"


def test_every_audience_is_covered(group):
    assert {m.audience for m in every_plan(group)} == {"person", "referrer", "coordinator",
                                                      "fire_service"}


def test_missing_context_fails_loudly(group):
    for message in every_plan(group):
        if message.template == STOP_CONFIRMATION and message.channel == "sms":
            continue  # its words are fixed: "You won't get any more messages from us. ..."
        with pytest.raises(UndefinedError):
            render(replace(message, context={}), group)


@pytest.mark.parametrize("template, event_type, data, key", [
    ("person_welcome", "referral_received", {}, "given_name"),
    ("person_welcome", "referral_received", {}, "referred_by"),
    ("person_invitation", "case_status_changed", {"to": "accepted"}, "given_name"),
    ("coordinator_alert", "referral_received", {}, "hfsv_visit"),
    ("coordinator_alert", "referral_received", {}, "duplicate"),
    ("fire_service_alert", "visit_requested", {"priority": "high", "due_by": "2026-12-01T10:00Z"},
     "due_by"),
    ("referrer_update", "case_status_changed", {"to": "rejected", "reason": "x"}, "reason"),
    ("fire_service_priority_raised", "visit_status_changed", EVENTS[-2][1], "priority"),
    ("fire_service_priority_raised", "visit_status_changed", EVENTS[-2][1], "due_by"),
    ("fire_service_priority_raised", "visit_status_changed", EVENTS[-2][1], "previous_priority"),
    ("fire_service_request_withdrawn", "visit_status_changed", EVENTS[-1][1], "reference"),
])
def test_each_context_key_is_required(group, template, event_type, data, key):
    message = plan_one(template, group, event_type, data)
    context = {k: v for k, v in message.context.items() if k != key}
    with pytest.raises(UndefinedError):
        render(replace(message, context=context), group)


def test_known_triage_needs_its_priority(group):
    message = plan_one("coordinator_alert", group, "referral_received", {}, TRIAGED)
    context = {k: v for k, v in message.context.items() if k != "hfsv_priority"}
    with pytest.raises(UndefinedError):
        render(replace(message, context=context), group)


def test_missing_group_detail_fails_loudly(group):
    message = plan_one("person_welcome", group, "referral_received", {})
    broken = deepcopy(group)
    del broken["coordinator"]["phone"]
    with pytest.raises(UndefinedError):
        render(message, broken)


def test_fire_service_alert_names_no_one(group):
    message = plan_one("fire_service_alert", group, "visit_requested",
                       {"visit_id": "v-9", "priority": "very_high",
                        "due_by": "2026-12-01T14:30:00+00:00"})
    text = all_text(render(message, group))
    for secret in ["Zebedee", "Quillfeather", "Marigold", "Flat 3", "Pinner", "HA5 9ZZ", "HA5",
                   "07700 900987", "7700900987", "zebedee", "Priya"]:
        assert secret.lower() not in text.lower(), secret
    assert "HRW-2026-000777" in text
    assert "very high" in text
    assert "Tuesday 1 December 2026 at 2:30pm" in text


SECRETS = ["Zebedee", "Quillfeather", "Marigold", "Flat 3", "Pinner", "HA5 9ZZ", "HA5",
           "07700 900987", "7700900987", "zebedee", "Priya"]


def test_priority_raised_alert_names_no_one_and_says_how_urgent(group):
    message = plan_one("fire_service_priority_raised", group, "visit_status_changed", EVENTS[-2][1])
    rendered = render(message, group)
    text = all_text(rendered)
    for secret in SECRETS:
        assert secret.lower() not in text.lower(), secret
    # the visit's own reference, the one the crew has; not the duplicate referral's
    assert "HRW-2026-000777" in text and "HRW-2026-000778" not in text
    assert rendered.subject == "Home fire safety visit request HRW-2026-000777: priority raised to very high"
    assert "- Priority: very high (was medium)\n- Due by: Thursday 26 November 2026 at 12pm" in rendered.text
    unknown = replace(message, context={**message.context, "previous_priority": None})
    assert "- Priority: very high\n- Due by:" in render(unknown, group).text


def test_request_withdrawn_names_no_one_and_asks_the_crew_not_to_call(group):
    message = plan_one("fire_service_request_withdrawn", group, "visit_status_changed", EVENTS[-1][1])
    rendered = render(message, group)
    text = all_text(rendered)
    for secret in SECRETS + ["consent"]:
        assert secret.lower() not in text.lower(), secret  # nor why it was withdrawn
    assert rendered.subject == "Home fire safety visit request HRW-2026-000777 withdrawn: please do not visit"
    assert "do not call at the address" in rendered.text


def test_alert_for_a_duplicate_that_raised_the_visits_priority(group):
    contacts = {**CONTACTS, "triage": {"HRW-2026-000777": {"priority": "very_high",
                                                           "visit": "priority_raised"}}}
    message = plan_one("coordinator_alert", group, "referral_received", {"duplicate_of": "case-1"},
                       contacts)
    rendered = render(message, group)
    assert rendered.subject == ("Another referral for an open case HRW-2026-000777: level 3, "
                                "fire safety visit priority very high")
    assert ("- Home fire safety visit: already asked for on this case; this referral raised it to "
            "very high priority\n") in rendered.text


def test_referrer_receipt_has_no_clinical_detail(group):
    message = plan_one("referrer_receipt", group, "referral_received", {}, TRIAGED)
    text = all_text(render(message, group))
    assert "HRW-2026-000777" in text
    for clinical in ["CIR", "clutter image", "level", "very high", "very_high", "priority",
                     "fire"]:
        assert clinical.lower() not in text.lower(), clinical
    assert not re.search(r"(?<![\w-])8(?![\w-])", text.replace("utf-8", ""))  # the CIR max


def test_coordinator_alert_shows_level_cir_and_priority(group):
    message = plan_one("coordinator_alert", group, "referral_received", {}, TRIAGED)
    rendered = render(message, group)
    assert "Level: 3" in rendered.text
    assert "Highest Clutter Image Rating: 8" in rendered.text
    assert "Home fire safety visit: asked for, very high priority" in rendered.text
    assert rendered.subject == "New referral HRW-2026-000777: level 3, fire safety visit priority very high"
    assert "Zebedee" not in rendered.text and "Marigold" not in rendered.text


def test_coordinator_alert_without_priority_leaves_it_out(group):
    message = plan_one("coordinator_alert", group, "referral_received", {})
    text = all_text(render(message, group))
    assert "priority" not in text.lower()
    assert "the fire risk check is not in yet" in text


@pytest.mark.parametrize("triage, line", [
    ({"priority": "very_high", "visit": "no_consent"},
     "Home fire safety visit: not asked for (no consent); fire risk very high"),
    ({"priority": "low", "visit": "low_risk"}, "Home fire safety visit: not asked for (low risk)\n"),
    ({"priority": "medium", "visit": "not_requested"},
     "Home fire safety visit: not asked for (not requested); fire risk medium"),
])
def test_coordinator_alert_says_when_no_visit_was_requested(group, triage, line):
    contacts = {**CONTACTS, "triage": {"HRW-2026-000777": triage}}
    rendered = render(plan_one("coordinator_alert", group, "referral_received", {}, contacts), group)
    assert line in rendered.text
    assert "priority" not in rendered.subject  # the subject names a visit's priority only


def test_alert_for_a_second_referral_says_so(group):
    message = plan_one("coordinator_alert", group, "referral_received", {"duplicate_of": "case-1"})
    rendered = render(message, group)
    assert rendered.subject.startswith("Another referral for an open case HRW-2026-000777")
    assert "already open" in rendered.text
    assert "Their welcome" not in rendered.text


def test_welcome_says_what_the_person_needs_to_know(group):
    message = plan_one("person_welcome", group, "referral_received", {})
    text = render(message, group).text
    assert "Dear Zebedee" in text
    assert "Priya Okonkwo at Mind in Harrow" in text
    assert f"within {group['call_within_working_days']} working days" in text
    assert "diagnosis" in text
    # how to opt out; "reply STOP" only where a reply is read (texts: /inbound/sms)
    assert "rather not hear from us" in text and group["coordinator"]["email"] in text
    assert "STOP" not in text


@pytest.mark.parametrize("channel", ["sms", "letter"])
def test_opt_out_suits_the_channel(group, channel):
    message = replace(plan_one("person_welcome", group, "referral_received", {}),
                      channel=channel, to=PERSON_CHANNELS[channel])
    text = render(message, group).text
    assert group["coordinator"]["phone"] in text
    assert ("Reply STOP" in text) == (channel == "sms")


def test_sms_texts_stay_short(group):
    for message in every_plan(group):
        if message.channel == "sms":
            assert len(render(message, group).text) <= 480, message.template  # three segments


def test_letter_is_addressed_and_dated(group):
    message = replace(plan_one("person_welcome", group, "referral_received", {}),
                      channel="letter", to=PERSON_CHANNELS["letter"])
    text = render(message, group).text
    block = "Zebedee Quillfeather\n77 Marigold Crescent\nFlat 3\nPinner\nHA5 9ZZ\n"
    assert block in text
    assert "25 November 2026" in text
    assert text.index(block) < text.index("25 November 2026") < text.index("Dear Zebedee")
    later = replace(message, context={**message.context, "date": "2027-01-04"})
    assert "4 January 2027" in render(later, group).text


def test_group_details_come_from_the_group(group):
    changed = deepcopy(group)
    changed["coordinator"].update(name="Morgan Adeyemi", phone="020 7946 0999")
    changed["online"]["link"] = "https://meet.example.net/harrow-group"
    changed["huddle"]["number"] = "07700 900444"
    changed["call_within_working_days"] = 3
    message = plan_one("person_invitation", group, "case_status_changed", {"to": "accepted"})
    before = render(message, group).text
    after = render(message, changed).text
    for new in ["Morgan Adeyemi", "020 7946 0999", "https://meet.example.net/harrow-group",
                "07700 900444"]:
        assert new in after and new not in before
    assert group["online"]["link"] in before and group["online"]["link"] not in after
    welcome = plan_one("person_welcome", group, "referral_received", {})
    assert "within 3 working days" in render(welcome, changed).text


def test_invitation_lists_the_next_sessions_from_the_records(group):
    listed = [{"date": "2026-11-25", "time": "6pm to 7:30pm", "kind": "face to face"},
              {"date": "2026-12-10", "time": "6:30pm to 8pm", "kind": "online"},
              {"date": "2026-12-14", "time": "7pm to 7:30pm", "kind": "phone huddle"}]
    message = plan_one("person_invitation", group, "case_status_changed", {"to": "accepted"})
    assert message.context["sessions"] == []  # planned without session records: none to list
    text = render(replace(message, context={**message.context, "sessions": listed}), group).text
    assert "Wednesday 25 November 2026, 6pm to 7:30pm, face to face" in text
    assert "Thursday 10 December 2026, 6:30pm to 8pm, online" in text
    assert "Monday 14 December 2026, 7pm to 7:30pm, phone huddle" in text
    assert "will let you know the dates" not in text
    sms = render(replace(message, channel="sms", to=PERSON_CHANNELS["sms"],
                         context={**message.context, "sessions": listed}), group).text
    assert "Next session: Wednesday 25 November 2026, 6pm to 7:30pm, face to face." in sms
    assert "will let you know the dates" in render(message, group).text
    # a message planned before sessions were records still renders (subject access shows it)
    old = {k: v for k, v in message.context.items() if k != "sessions"}
    assert "will let you know the dates" in render(replace(message, context=old), group).text


def test_signpost_links_the_lfb_online_check(group):
    message = plan_one("person_fire_safety_signpost", group, "visit_not_requested",
                       {"reason": "low_risk", "reference": "HRW-2026-000777"})
    url = ("https://www.london-fire.gov.uk/safety/the-home/home-fire-safety/"
           "home-fire-safety-checker/")
    assert group["fire_safety_check_url"] == url
    rendered = render(message, group)
    assert url in rendered.text
    assert f'<a href="{url}">' in rendered.html


@pytest.mark.parametrize("update, subject", [
    ("accepted", "Referral HRW-2026-000777 accepted"),
    ("rejected", "Referral HRW-2026-000777: not accepted"),
    ("completed", "Referral HRW-2026-000777: support completed"),
    ("cancelled", "Referral HRW-2026-000777 closed"),
    ("visit_scheduled", "Referral HRW-2026-000777: home fire safety visit booked"),
    ("visit_completed", "Referral HRW-2026-000777: home fire safety visit done"),
])
def test_referrer_update_subjects(group, update, subject):
    context = {"reference": "HRW-2026-000777", "referrer_name": "Priya Okonkwo", "update": update}
    if update == "rejected":
        context["reason"] = "Lives outside the borough"
    message = PlannedMessage("referrer", "referrer_update", "email",
                             {"email": "priya@example.org"}, context)
    rendered = render(message, group)
    assert rendered.subject == subject
    assert ("Lives outside the borough" in rendered.text) == (update == "rejected")


def test_html_escapes_what_it_is_given(group):
    message = PlannedMessage("referrer", "referrer_update", "email", {"email": "p@example.org"},
                             {"reference": "HRW-1", "referrer_name": "<b>Sam</b>",
                              "update": "rejected", "reason": "<script>x</script>"})
    rendered = render(message, group)
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html
    assert "<script>x</script>" in rendered.text  # plain text is not HTML


@pytest.mark.parametrize("instant, shown", [
    ("2026-12-01T14:30:00+00:00", "Tuesday 1 December 2026 at 2:30pm"),
    ("2026-07-01T09:00:00Z", "Wednesday 1 July 2026 at 10am"),       # British Summer Time
    ("2026-07-01T09:00:00", "Wednesday 1 July 2026 at 10am"),        # naive means UTC
    ("2026-03-29T00:30:00Z", "Sunday 29 March 2026 at 12:30am"),
])
def test_due_times_are_shown_in_uk_time(instant, shown):
    assert messages.uk_datetime(instant) == shown


# --- messages that are right (issue 12) --------------------------------------------------------

def with_person(**changes):
    return {**CONTACTS, "person": {**PERSON, **changes}}


def test_a_do_not_contact_alert_promises_no_call_and_asks_to_agree_with_the_referrer(group):
    contacts = with_person(do_not_contact=True)
    alert = render(plan_one("coordinator_alert", group, "referral_received", {}, contacts), group).text
    assert "Their welcome" not in alert and "expect your call" not in alert
    assert "They asked not to be contacted directly, so we have not sent them a welcome." in alert
    assert "Please talk with the referrer about how best to reach them." in alert


def test_a_do_not_contact_receipt_says_the_coordinator_decides_with_the_referrer(group):
    contacts = with_person(do_not_contact=True)
    receipt = render(plan_one("referrer_receipt", group, "referral_received", {}, contacts), group).text
    assert "to welcome them" not in receipt and "get in touch with the person" not in receipt
    assert "call them" not in receipt
    assert "The person asked not to be contacted directly, so we have not written to them." in receipt
    assert "will talk with you about how best to reach them" in receipt


def test_a_receipt_for_someone_who_may_be_contacted_still_promises_the_welcome_and_call(group):
    receipt = render(plan_one("referrer_receipt", group, "referral_received", {}), group).text
    assert "We will get in touch with the person in the way they told us suits them" in receipt
    assert f"will call them within {group['call_within_working_days']} working days" in receipt


@pytest.mark.parametrize("preferred, channel, promise", [
    ("letter", "letter", "will write to you within 5 working days"),
    ("email", "email", "will email you within 5 working days"),
    ("phone", "letter", "will write to you within 5 working days"),  # "phone", but no number
])
def test_without_a_phone_number_nobody_is_promised_a_call(group, preferred, channel, promise):
    contacts = with_person(phone=None, preferred_contact=preferred)
    welcome = plan_one("person_welcome", group, "referral_received", {}, contacts)
    assert welcome.channel == channel
    text = render(welcome, group).text
    assert promise in text
    assert "give you a call" not in text and "will call you" not in text
    alert = render(plan_one("coordinator_alert", group, "referral_received", {}, contacts), group).text
    assert "expect your call" not in alert and "We have no phone number for them." in alert
    receipt = render(plan_one("referrer_receipt", group, "referral_received", {}, contacts), group).text
    assert "call them" not in receipt and ("email them" in receipt or "write to them" in receipt)


def test_with_a_phone_number_the_welcome_promises_the_call(group):
    for channel, to in PERSON_CHANNELS.items():
        message = replace(plan_one("person_welcome", group, "referral_received", {}), channel=channel, to=to)
        text = render(message, group).text
        assert "give you a call within 5 working days" in text or "will call you within 5" in text


def test_the_signpost_answers_the_question_the_person_asked(group):
    message = plan_one("person_fire_safety_signpost", group, "visit_not_requested",
                       {"reason": "low_risk", "reference": "HRW-2026-000777"})
    for channel, to in PERSON_CHANNELS.items():
        text = render(replace(message, channel=channel, to=to), group).text
        assert "You asked about" in text


def test_a_rejected_person_hears_kindly_where_else_to_find_support(group):
    data = {"from": "received", "to": "rejected", "reason": "Lives outside the borough"}
    message = plan_one("person_not_going_ahead", group, "case_status_changed", data)
    for channel, to in PERSON_CHANNELS.items():
        rendered = render(replace(message, channel=channel, to=to), group)
        text = all_text(rendered)
        assert "Zebedee" in rendered.text
        assert "won't be in touch after all" in rendered.text
        assert "116 123" in rendered.text and "GP" in rendered.text  # where else to turn
        assert group["coordinator"]["phone"] in rendered.text
        assert "Lives outside the borough" not in text  # the reason is written for the referrer
    email = render(message, group).text
    assert "- Samaritans, any time, day or night: call 116 123 (free)\n" in email
    assert "- Mind's information line: call 0300 123 3393\n" in email


def test_the_rejection_still_reaches_the_referrer_with_its_reason(group):
    data = {"from": "received", "to": "rejected", "reason": "Lives outside the borough"}
    update = render(plan_one("referrer_update", group, "case_status_changed", data), group)
    assert update.subject == "Referral HRW-2026-000777: not accepted"
    assert "Lives outside the borough" in update.text


def test_other_support_is_optional_in_the_group_details(group):
    data = {"from": "received", "to": "rejected", "reason": "x"}
    message = plan_one("person_not_going_ahead", group, "case_status_changed", data)
    bare = {k: v for k, v in group.items() if k != "other_support"}
    for channel, to in PERSON_CHANNELS.items():
        text = render(replace(message, channel=channel, to=to), bare).text
        assert "won't be in touch after all" in text and "GP" in text and "116 123" not in text


@pytest.mark.parametrize("scheduled_for, shown", [
    ("2026-12-01T14:30:00+00:00", "Tuesday 1 December 2026 at 2:30pm"),
    ("2026-07-01T09:00:00+00:00", "Wednesday 1 July 2026 at 10am"),  # British Summer Time
])
def test_a_booked_visit_tells_the_person_the_day_and_time_in_london(group, scheduled_for, shown):
    data = {"visit_id": "v-9", "status": "scheduled", "from": "acknowledged", "scheduled_for": scheduled_for}
    message = plan_one("person_visit_booked", group, "visit_status_changed", data)
    for channel, to in PERSON_CHANNELS.items():
        rendered = render(replace(message, channel=channel, to=to), group)
        assert shown in rendered.text, channel
        assert "moved" not in rendered.text
        assert group["coordinator"]["phone"] in rendered.text
    assert render(message, group).subject == f"Your fire safety visit: {shown}"
    text = render(message, group).text
    assert "Your home fire safety visit is booked." in text and "free" in text


def test_a_rebooked_visit_says_it_moved(group):
    data = {"visit_id": "v-9", "status": "scheduled", "from": "scheduled",
            "scheduled_for": "2026-12-03T10:00:00+00:00"}
    message = plan_one("person_visit_booked", group, "visit_status_changed", data)
    assert "has moved to a new time" in render(message, group).text
    sms = render(replace(message, channel="sms", to=PERSON_CHANNELS["sms"]), group).text
    assert "has moved" in sms and "Thursday 3 December 2026 at 10am" in sms
