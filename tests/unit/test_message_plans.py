"""Which messages each event causes: audience, template, channel, address."""
from copy import deepcopy
from datetime import date

import pytest

from services.notifications.messages import (
    CONSENT_WITHDRAWN, DO_NOT_CONTACT, NO_CONTACT_DETAIL, load_group, plan_messages,
    triage_of,
)

TODAY = date(2026, 11, 25)
ADDRESS = {"line1": "12 Station Road", "line2": "", "town": "Harrow", "postcode": "HA1 2AB"}


def make_contacts(preferred="email", phone="07700 900123", do_not_contact=False, triage=None,
                  withdrawn=(), visit_asked=True, **person):
    return {
        "visit_asked": {"HRW-2026-000123": visit_asked},
        "triage": {"HRW-2026-000123": triage} if triage else {},
        "withdrawn": list(withdrawn),
        "reference": "HRW-2026-000123",
        "person": {"given_name": "Ada", "family_name": "Jones", "email": "ada@example.org",
                   "phone": phone, "address": dict(ADDRESS), "preferred_contact": preferred,
                   "do_not_contact": do_not_contact, **person},
        "referrer": {"name": "Sam Patel", "email": "sam@example.org",
                     "phone": "020 7946 0000", "agency": "mind"},
        "level": 3,
        "cir_max": 8,
    }


@pytest.fixture(scope="module")
def group():
    return load_group()


def plan(event_type, data, contacts=None, group=None):
    return plan_messages(event_type, data, contacts or make_contacts(), group or load_group(),
                         today=TODAY)


def summary(messages):
    return [(m.audience, m.template, m.channel) for m in messages]


@pytest.mark.parametrize("event_type, data, expected", [
    ("referral_received", {},
     [("referrer", "referrer_receipt", "email"), ("coordinator", "coordinator_alert", "email"),
      ("person", "person_welcome", "email")]),
    ("case_status_changed", {"from": "received", "to": "accepted", "reason": ""},
     [("person", "person_invitation", "email"), ("referrer", "referrer_update", "email")]),
    # the person was promised a call: they hear, kindly, that it is not coming
    ("case_status_changed", {"from": "received", "to": "rejected", "reason": "Lives outside Harrow"},
     [("person", "person_not_going_ahead", "email"), ("referrer", "referrer_update", "email")]),
    ("case_status_changed", {"from": "in_progress", "to": "completed", "reason": "goals met"},
     [("referrer", "referrer_update", "email")]),
    ("case_status_changed", {"from": "accepted", "to": "cancelled", "reason": "consent withdrawn"},
     [("referrer", "referrer_update", "email")]),
    ("case_status_changed", {"from": "accepted", "to": "in_progress"}, []),
    ("case_status_changed", {"from": "in_progress", "to": "on_hold"}, []),
    # back from on hold: the person was invited and the referrer told when it was first accepted
    ("case_status_changed", {"from": "on_hold", "to": "accepted"}, []),
    ("case_status_changed", {"from": "on_hold", "to": "received"}, []),
    ("case_status_changed", {"from": "on_hold", "to": "in_progress"}, []),
    # ...but closing a case on hold is news to the referrer
    ("case_status_changed", {"from": "on_hold", "to": "cancelled", "reason": "consent withdrawn"},
     [("referrer", "referrer_update", "email")]),
    ("visit_requested", {"visit_id": "v-1", "priority": "high", "due_by": "2026-12-01T12:00:00+00:00"},
     [("fire_service", "fire_service_alert", "email")]),
    ("visit_status_changed", {"visit_id": "v-1", "status": "scheduled"},
     [("referrer", "referrer_update", "email")]),
    # with its day and time, the person hears it too
    ("visit_status_changed", {"visit_id": "v-1", "status": "scheduled",
                              "scheduled_for": "2026-12-02T10:00:00+00:00"},
     [("person", "person_visit_booked", "email"), ("referrer", "referrer_update", "email")]),
    ("visit_status_changed", {"visit_id": "v-1", "status": "completed"},
     [("referrer", "referrer_update", "email")]),
    ("visit_status_changed", {"visit_id": "v-1", "status": "no_access"},
     [("coordinator", "coordinator_visit_update", "email")]),
    ("visit_status_changed", {"visit_id": "v-1", "status": "declined"},
     [("coordinator", "coordinator_visit_update", "email")]),
    ("visit_status_changed", {"visit_id": "v-1", "status": "acknowledged"}, []),
    ("visit_status_changed", {"visit_id": "v-1", "status": "cancelled", "change": "consent_withdrawn"},
     [("fire_service", "fire_service_request_withdrawn", "email")]),
    ("visit_status_changed", {"visit_id": "v-1", "status": "cancelled", "change": "status"},
     [("fire_service", "fire_service_request_withdrawn", "email")]),
    # erased: the crew is still told not to call (the notice names nobody)
    ("visit_status_changed", {"visit_id": "v-1", "status": "cancelled", "change": "case_erased"},
     [("fire_service", "fire_service_request_withdrawn", "email")]),
    # a more urgent duplicate raised the priority of a booked visit: the crew hears, the referrer not
    ("visit_status_changed", {"visit_id": "v-1", "status": "scheduled", "change": "priority_raised",
                              "priority": "very_high", "due_by": "2026-11-26T12:00:00+00:00",
                              "previous_priority": "medium", "reference": "HRW-2026-000200",
                              "case_reference": "HRW-2026-000123"},
     [("fire_service", "fire_service_priority_raised", "email")]),
    ("visit_overdue", {"visit_id": "v-1", "priority": "very_high", "due_by": "2026-12-01T12:00:00Z"},
     [("coordinator", "coordinator_visit_overdue", "email")]),
    ("fire_risk_without_consent", {"priority": "very_high"},
     [("coordinator", "coordinator_fire_risk_without_consent", "email")]),
    ("visit_not_requested", {"reason": "low_risk"},
     [("person", "person_fire_safety_signpost", "email")]),
    ("visit_not_requested", {"reason": "no_consent"}, []),
    ("visit_not_requested", {"reason": "not_requested"}, []),
    ("consent_withdrawn", {"scope": "all"}, []),
    ("case_erased", {}, []),
    ("notification_sent", {"audience": "person"}, []),
    ("something_new", {"anything": 1}, []),
])
def test_each_event_plans_its_messages(event_type, data, expected):
    assert summary(plan(event_type, data)) == expected


def test_addresses_follow_the_audience(group):
    messages = {m.audience: m for m in plan("referral_received", {})}
    assert messages["referrer"].to == {"email": "sam@example.org"}
    assert messages["coordinator"].to == {"email": group["coordinator"]["email"]}
    assert messages["person"].to == {"email": "ada@example.org"}
    (alert,) = plan("visit_requested", {"priority": "high", "due_by": "2026-12-01T12:00:00Z"})
    assert alert.to == {"email": group["fire_team"]["email"]}


def test_alert_addresses_come_from_the_group(group):
    changed = deepcopy(group)
    changed["coordinator"]["email"] = "someone-else@example.net"
    changed["fire_team"]["email"] = "crew@example.net"
    (overdue,) = plan("visit_overdue", {"priority": "high", "due_by": "2026-12-01T12:00:00Z"},
                      group=changed)
    (alert,) = plan("visit_requested", {"priority": "high", "due_by": "2026-12-01T12:00:00Z"},
                    group=changed)
    assert overdue.to == {"email": "someone-else@example.net"}
    assert alert.to == {"email": "crew@example.net"}


@pytest.mark.parametrize("preferred, phone, channel, to", [
    ("email", "07700 900123", "email", {"email": "ada@example.org"}),
    ("sms", "07700 900123", "sms", {"phone": "+447700900123"}),
    ("sms", "+44 7700 900123", "sms", {"phone": "+447700900123"}),
    # "phone" means a call; written messages reach a mobile by text...
    ("phone", "07700-900-123", "sms", {"phone": "+447700900123"}),
    # ...and a landline by post.
    ("phone", "020 8123 4567", "letter", {"name": "Ada Jones", "address": ADDRESS}),
    ("sms", "020 8123 4567", "letter", {"name": "Ada Jones", "address": ADDRESS}),
    ("letter", "07700 900123", "letter", {"name": "Ada Jones", "address": ADDRESS}),
])
def test_person_messages_use_the_preferred_channel(preferred, phone, channel, to):
    contacts = make_contacts(preferred=preferred, phone=phone)
    for event_type, data in [("referral_received", {}), ("case_status_changed", {"to": "accepted"}),
                             ("visit_not_requested", {"reason": "low_risk"})]:
        (person,) = [m for m in plan(event_type, data, contacts) if m.audience == "person"]
        assert (person.channel, person.to, person.suppressed) == (channel, to, None)


def test_missing_preferred_detail_falls_back_to_a_letter():
    contacts = make_contacts(preferred="email", email=None)
    (person,) = [m for m in plan("referral_received", {}, contacts) if m.audience == "person"]
    assert person.channel == "letter"


def test_no_way_to_reach_the_person_is_recorded_not_dropped():
    contacts = make_contacts(preferred="email", email=None, address=None)
    (person,) = [m for m in plan("referral_received", {}, contacts) if m.audience == "person"]
    assert person.suppressed == NO_CONTACT_DETAIL


PERSON_EVENTS = [
    ("referral_received", {}),
    ("case_status_changed", {"to": "accepted"}),
    ("visit_not_requested", {"reason": "low_risk"}),
    ("case_status_changed", {"from": "received", "to": "rejected", "reason": "Lives outside Harrow"}),
    ("visit_status_changed", {"visit_id": "v-1", "status": "scheduled", "from": "acknowledged",
                              "scheduled_for": "2026-12-02T10:00:00+00:00"}),
]


@pytest.mark.parametrize("event_type, data", PERSON_EVENTS)
def test_do_not_contact_suppresses_person_messages_only(event_type, data):
    messages = plan(event_type, data, make_contacts(do_not_contact=True))
    person = [m for m in messages if m.audience == "person"]
    others = [m for m in messages if m.audience != "person"]
    assert [m.suppressed for m in person] == [DO_NOT_CONTACT]
    assert person[0].channel == "email"  # still planned on the channel it would have used
    assert all(m.suppressed is None for m in others)


TRIAGED = make_contacts(triage={"priority": "very_high", "visit": "requested"})


def test_referrer_receipt_context_has_no_clinical_detail():
    (receipt,) = [m for m in plan("referral_received", {}, TRIAGED)
                  if m.template == "referrer_receipt"]
    assert set(receipt.context) == {"reference", "referrer_name", "first_contact", "do_not_contact"}


def test_coordinator_alert_carries_level_cir_and_the_triage_when_known():
    (alert,) = [m for m in plan("referral_received", {}, TRIAGED) if m.template == "coordinator_alert"]
    assert alert.context["level"] == 3
    assert alert.context["cir_max"] == 8
    assert alert.context["hfsv_priority"] == "very_high"
    assert alert.context["hfsv_visit"] == "requested"
    assert alert.context["agency"] == "Mind in Harrow"
    assert alert.awaiting_triage is None  # nothing to wait for


def test_coordinator_alert_waits_for_the_triage_of_its_own_referral():
    (alert,) = [m for m in plan("referral_received", {}) if m.template == "coordinator_alert"]
    assert alert.awaiting_triage == "HRW-2026-000123"
    assert (alert.context["hfsv_priority"], alert.context["hfsv_visit"]) == (None, None)
    # triage of another referral of the case does not count
    other = make_contacts()
    other["triage"] = {"HRW-2026-000999": {"priority": "high", "visit": "requested"}}
    (alert,) = [m for m in plan("referral_received", {}, other) if m.template == "coordinator_alert"]
    assert alert.awaiting_triage == "HRW-2026-000123"


@pytest.mark.parametrize("event_type, data, expected", [
    ("visit_requested", {"visit_id": "v-1", "reference": "HRW-1", "priority": "high", "due_by": "x"},
     ("HRW-1", {"priority": "high", "visit": "requested"})),
    ("visit_not_requested", {"reason": "low_risk", "priority": "low", "reference": "HRW-1"},
     ("HRW-1", {"priority": "low", "visit": "low_risk"})),
    ("visit_not_requested", {"reason": "no_consent", "priority": "very_high", "reference": "HRW-1"},
     ("HRW-1", {"priority": "very_high", "visit": "no_consent"})),
    ("visit_not_requested", {"reason": "low_risk"}, None),   # no reference: nothing to match
    ("visit_status_changed", {"status": "scheduled", "reference": "HRW-1"}, None),
    # a duplicate referral that raised the open visit's priority: that is its triage
    ("visit_status_changed", {"status": "scheduled", "change": "priority_raised", "priority": "very_high",
                              "previous_priority": "high", "reference": "HRW-2",
                              "case_reference": "HRW-1"},
     ("HRW-2", {"priority": "very_high", "visit": "priority_raised"})),
    ("visit_status_changed", {"status": "cancelled", "change": "consent_withdrawn", "reference": "HRW-1"},
     None),
    ("referral_received", {"reference": "HRW-1"}, None),
])
def test_triage_comes_from_safetys_verdict(event_type, data, expected):
    assert triage_of(event_type, data) == expected


def test_each_referral_gets_its_own_receipt_and_alert():
    """A second referral for an open case: its referrer gets their own reference, the person
    is not welcomed twice."""
    data = {"reference": "HRW-2026-000200", "duplicate_of": "case-1", "level": 2, "cir_max": 5,
            "referrer": {"name": "Jo Reed", "email": "jo@rethink.example.org", "agency": "rethink"}}
    messages = plan("referral_received", data)
    assert summary(messages) == [("referrer", "referrer_receipt", "email"),
                                 ("coordinator", "coordinator_alert", "email")]
    receipt, alert = messages
    assert receipt.to == {"email": "jo@rethink.example.org"}
    assert receipt.context == {"reference": "HRW-2026-000200", "referrer_name": "Jo Reed",
                               "first_contact": "call", "do_not_contact": False}
    assert alert.context["reference"] == "HRW-2026-000200"
    assert alert.context["duplicate"] is True
    assert (alert.context["level"], alert.context["cir_max"]) == (2, 5)
    assert alert.awaiting_triage == "HRW-2026-000200"


def test_fire_service_alert_context_is_reference_priority_due_only():
    (alert,) = plan("visit_requested", {"visit_id": "v-1", "priority": "high",
                                        "due_by": "2026-12-01T12:00:00Z", "name": "Ada Jones"})
    assert alert.context == {"reference": "HRW-2026-000123", "priority": "high",
                             "due_by": "2026-12-01T12:00:00Z"}


def test_rejection_reason_goes_back_to_the_referrer_but_no_other_reason_does():
    person, rejected = plan("case_status_changed", {"to": "rejected", "reason": "Lives outside Harrow"})
    (cancelled,) = plan("case_status_changed", {"to": "cancelled", "reason": "private detail"})
    assert rejected.context["reason"] == "Lives outside Harrow"
    assert rejected.context["update"] == "rejected"
    assert "reason" not in cancelled.context
    assert person.audience == "person" and "reason" not in person.context  # the referrer's words


@pytest.mark.parametrize("status, update", [("scheduled", "visit_scheduled"),
                                            ("completed", "visit_completed")])
def test_visit_progress_reaches_the_referrer_without_detail(status, update):
    (message,) = [m for m in plan("visit_status_changed", {"visit_id": "v-1", "status": status,
                                                          "scheduled_for": "2026-12-02T10:00:00Z"})
                  if m.audience == "referrer"]
    assert message.context == {"reference": "HRW-2026-000123", "referrer_name": "Sam Patel",
                               "update": update}


def test_person_context_names_who_referred_them():
    (welcome,) = [m for m in plan("referral_received", {}) if m.audience == "person"]
    assert welcome.context["referred_by"] == "Sam Patel at Mind in Harrow"
    assert welcome.context["date"] == "2026-11-25"


@pytest.mark.parametrize("event_type, data, template, keys", [
    ("referral_received", {}, "referrer_receipt",
     {"reference", "referrer_name", "first_contact", "do_not_contact"}),
    ("referral_received", {}, "coordinator_alert",
     {"reference", "agency", "level", "cir_max", "duplicate", "hfsv_priority", "hfsv_visit",
      "first_contact", "do_not_contact"}),
    ("referral_received", {}, "person_welcome", {"given_name", "date", "referred_by", "first_contact"}),
    ("case_status_changed", {"to": "rejected", "reason": "x"}, "person_not_going_ahead",
     {"given_name", "date"}),
    ("visit_status_changed", {"visit_id": "v-1", "status": "scheduled", "from": "acknowledged",
                              "scheduled_for": "2026-12-02T10:00:00Z"}, "person_visit_booked",
     {"given_name", "date", "visit_at", "moved"}),
    ("case_status_changed", {"to": "accepted"}, "person_invitation", {"given_name", "date", "sessions"}),
    ("case_status_changed", {"to": "accepted"}, "referrer_update",
     {"reference", "referrer_name", "update"}),
    ("visit_status_changed", {"visit_id": "v-1", "status": "no_access"}, "coordinator_visit_update",
     {"reference", "visit_status", "visit_id"}),
    ("visit_overdue", {"visit_id": "v-1", "priority": "high", "due_by": "2026-12-01T12:00:00Z"},
     "coordinator_visit_overdue", {"reference", "visit_id", "priority", "due_by"}),
    ("fire_risk_without_consent", {"priority": "very_high"}, "coordinator_fire_risk_without_consent",
     {"reference", "level", "cir_max", "priority"}),
    ("visit_not_requested", {"reason": "low_risk"}, "person_fire_safety_signpost",
     {"given_name", "date"}),
])
def test_each_audience_gets_only_its_context(event_type, data, template, keys):
    (message,) = [m for m in plan(event_type, data) if m.template == template]
    assert set(message.context) == keys


@pytest.mark.parametrize("event_type, data", PERSON_EVENTS)
@pytest.mark.parametrize("scope, person_reason", [
    ("contact", CONSENT_WITHDRAWN), ("all", CONSENT_WITHDRAWN), ("fire_service", None),
])
def test_withdrawn_consent_suppresses_person_messages(event_type, data, scope, person_reason):
    messages = plan(event_type, data, make_contacts(withdrawn=[scope]))
    assert [m.suppressed for m in messages if m.audience == "person"] == [person_reason]
    assert all(m.suppressed is None for m in messages if m.audience != "person")


def test_withdrawal_wins_over_do_not_contact_as_the_recorded_reason():
    messages = plan("referral_received", {}, make_contacts(do_not_contact=True, withdrawn=["all"]))
    assert [m.suppressed for m in messages if m.audience == "person"] == [CONSENT_WITHDRAWN]


@pytest.mark.parametrize("scope, suppressed", [("fire_service", CONSENT_WITHDRAWN),
                                               ("all", CONSENT_WITHDRAWN), ("contact", None)])
def test_fire_service_alert_needs_consent_to_share(scope, suppressed):
    (alert,) = plan("visit_requested", {"priority": "high", "due_by": "2026-12-01T12:00:00Z"},
                    make_contacts(withdrawn=[scope]))
    assert alert.suppressed == suppressed


def test_an_erased_case_plans_nothing():
    for event_type, data in [("referral_received", {}), ("case_status_changed", {"to": "accepted"}),
                             ("visit_overdue", {"visit_id": "v-1"})]:
        assert plan(event_type, data, {"erased_at": "2026-11-25T10:00:00Z"}) == []


def test_today_dates_person_messages():
    (welcome,) = [m for m in plan_messages("referral_received", {}, make_contacts(), load_group(),
                                           today=date(2027, 1, 4)) if m.audience == "person"]
    assert welcome.context["date"] == "2027-01-04"


# --- the fire service team: priority raised, request withdrawn ----------------------------------

PRIORITY_RAISED = {"visit_id": "v-1", "status": "acknowledged", "change": "priority_raised",
                   "priority": "very_high", "due_by": "2026-11-26T12:00:00+00:00",
                   "previous_priority": "medium", "reference": "HRW-2026-000200",
                   "case_reference": "HRW-2026-000123", "actor": "safety:triage", "rule": "r"}


def test_priority_raised_tells_the_crew_under_the_visits_own_reference(group):
    (alert,) = plan("visit_status_changed", PRIORITY_RAISED)
    assert alert.to == {"email": group["fire_team"]["email"]}
    # the reference the crew knows the visit by, not the duplicate referral's; no personal detail
    assert alert.context == {"reference": "HRW-2026-000123", "priority": "very_high",
                             "previous_priority": "medium", "due_by": "2026-11-26T12:00:00+00:00"}


@pytest.mark.parametrize("scope, suppressed", [("fire_service", CONSENT_WITHDRAWN),
                                               ("all", CONSENT_WITHDRAWN), ("contact", None)])
def test_priority_raised_alert_needs_consent_to_share(scope, suppressed):
    (alert,) = plan("visit_status_changed", PRIORITY_RAISED, make_contacts(withdrawn=[scope]))
    assert alert.suppressed == suppressed


def test_priority_raised_releases_the_duplicates_alert_with_the_new_priority():
    contacts = make_contacts()
    contacts["triage"] = {"HRW-2026-000200": triage_of("visit_status_changed", PRIORITY_RAISED)[1]}
    data = {"reference": "HRW-2026-000200", "duplicate_of": "case-1",
            "referrer": {"name": "Jo Reed", "email": "jo@rethink.example.org", "agency": "rethink"}}
    (alert,) = [m for m in plan("referral_received", data, contacts) if m.template == "coordinator_alert"]
    assert alert.awaiting_triage is None
    assert (alert.context["hfsv_priority"], alert.context["hfsv_visit"]) == ("very_high", "priority_raised")


@pytest.mark.parametrize("withdrawn", [(), ("fire_service",), ("all",), ("contact",)])
@pytest.mark.parametrize("change", ["consent_withdrawn", "status"])
def test_a_cancelled_visit_is_withdrawn_from_the_crew_whatever_the_consent(withdrawn, change, group):
    """The notice carries only the reference, so a withdrawal of consent must not hold it back:
    it is what stops a crew turning up."""
    (notice,) = plan("visit_status_changed",
                     {"visit_id": "v-1", "status": "cancelled", "change": change,
                      "reference": "HRW-2026-000123", "priority": "high", "due_by": "x"},
                     make_contacts(withdrawn=withdrawn))
    assert (notice.audience, notice.template, notice.suppressed) == (
        "fire_service", "fire_service_request_withdrawn", None)
    assert notice.to == {"email": group["fire_team"]["email"]}
    assert notice.context == {"reference": "HRW-2026-000123"}


def test_fire_service_messages_use_the_visits_reference():
    """A visit raised by a second referral is listed under that referral's reference."""
    (alert,) = plan("visit_requested", {"visit_id": "v-1", "reference": "HRW-2026-000200",
                                        "priority": "high", "due_by": "2026-12-01T12:00:00Z"})
    (notice,) = plan("visit_status_changed", {"visit_id": "v-1", "status": "cancelled",
                                              "change": "status", "reference": "HRW-2026-000200"})
    assert alert.context["reference"] == notice.context["reference"] == "HRW-2026-000200"


# --- visit booked: the referrer hears once per visit, not on every rebooking ----------------------

def booked(told=None):
    contacts = make_contacts()
    if told is not None:
        contacts["visit_booked_told"] = told
    return contacts


def test_visit_booked_is_told_by_the_event_that_recorded_it():
    data = {"visit_id": "v-1", "status": "scheduled", "change": "status"}
    assert summary(plan_messages("visit_status_changed", data, booked({"v-1": "e-1"}), load_group(),
                                 today=TODAY, event_id="e-1")) == [("referrer", "referrer_update", "email")]
    # a reschedule: another event of the same visit already told the referrer
    assert plan_messages("visit_status_changed", data, booked({"v-1": "e-1"}), load_group(),
                         today=TODAY, event_id="e-2") == []
    # another visit of the case (a later referral raised a new one) is news again
    other = {**data, "visit_id": "v-2"}
    assert summary(plan_messages("visit_status_changed", other, booked({"v-1": "e-1", "v-2": "e-3"}),
                                 load_group(), today=TODAY, event_id="e-3")) == [
        ("referrer", "referrer_update", "email")]


# --- "a visit isn't needed" goes only to someone who asked for one -----------------------------------

def test_no_visit_needed_is_news_only_to_a_person_who_asked_for_a_visit():
    assert summary(plan("visit_not_requested", {"reason": "low_risk", "reference": "HRW-2026-000123"},
                        make_contacts(visit_asked=False))) == []
    assert summary(plan("visit_not_requested", {"reason": "low_risk", "reference": "HRW-2026-000123"},
                        make_contacts(visit_asked=True))) == [("person", "person_fire_safety_signpost", "email")]
    # contacts stored before we kept the question: not known to have asked, so nothing is sent
    contacts = make_contacts()
    del contacts["visit_asked"]
    assert plan("visit_not_requested", {"reason": "low_risk"}, contacts) == []


def test_the_visit_asked_for_is_the_one_of_the_referral_the_verdict_is_about():
    contacts = make_contacts(visit_asked=False)
    contacts["visit_asked"]["HRW-2026-000200"] = True  # a later referral that did ask
    assert summary(plan("visit_not_requested", {"reason": "low_risk", "reference": "HRW-2026-000200"},
                        contacts)) == [("person", "person_fire_safety_signpost", "email")]
    assert plan("visit_not_requested", {"reason": "low_risk", "reference": "HRW-2026-000123"}, contacts) == []


# --- a booked visit: the person hears the day and time of every booking ---------------------------

def test_a_booked_visit_tells_the_person_when_and_the_referrer_once():
    data = {"visit_id": "v-1", "status": "scheduled", "from": "acknowledged",
            "scheduled_for": "2026-12-02T10:00:00+00:00"}
    first = plan_messages("visit_status_changed", data, booked({"v-1": "e-1"}), load_group(),
                          today=TODAY, event_id="e-1")
    assert summary(first) == [("person", "person_visit_booked", "email"), ("referrer", "referrer_update", "email")]
    assert first[0].context["visit_at"] == "2026-12-02T10:00:00+00:00" and first[0].context["moved"] is False
    # rebooked: the person hears the new time, the referrer nothing new
    moved = {**data, "from": "scheduled", "scheduled_for": "2026-12-04T10:00:00+00:00"}
    (again,) = plan_messages("visit_status_changed", moved, booked({"v-1": "e-1"}), load_group(),
                             today=TODAY, event_id="e-2")
    assert (again.template, again.context["visit_at"], again.context["moved"]) == (
        "person_visit_booked", "2026-12-04T10:00:00+00:00", True)
