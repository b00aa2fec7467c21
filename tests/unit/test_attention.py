"""The coordinator's queue rule (services/referrals/attention.py): each reason appears and clears, dismissals,
ordering, and due dates counted in England's working days."""
from datetime import datetime, timedelta, timezone

import pytest

from services.referrals import attention
from services.referrals.attention import NotDismissible, NotNeeded, facts_of, needs_action, queue

UTC = timezone.utc
RECEIVED = datetime(2026, 11, 16, 10, 0, tzinfo=UTC)  # a Monday
NOW = datetime(2026, 11, 17, 12, 0, tzinfo=UTC)       # the Tuesday after


def a_case(status="received", cir=5, consent=None, visit=None, **extra):
    """A case as the referrals service stores it, reduced to what the rule reads."""
    return {"_id": extra.pop("_id", "c-1"), "status": status, "held_from": extra.pop("held_from", None),
            "created_at": RECEIVED, "referrals": [{"reference": "HRW-2026-000001", "received_at": RECEIVED}],
            "cir_ratings": [{"ratings": {"living_room": cir, "kitchen": 2}, "rated_on": "2026-11-16",
                             "recorded_at": RECEIVED, "rater_role": "referrer", "reference": "HRW-2026-000001"}],
            "consent": {"referral": True, "share_with_fire_service": True, "contact": True, "withdrawn": [],
                        **(consent or {})},
            "visit": visit, **extra}


def reasons(case, now=NOW, threshold=7):
    return [n["reason"] for n in needs_action(facts_of(case), now, threshold)]


def need(case, reason, now=NOW, threshold=7):
    return next(n for n in needs_action(facts_of(case), now, threshold) if n["reason"] == reason)


def a_visit(status="requested", due_in=timedelta(days=5), changed_at=RECEIVED, visit_id="v-1"):
    return {"visit_id": visit_id, "status": status, "priority": "high", "due_by": NOW + due_in,
            "changed_at": changed_at}


# -- the case itself ---------------------------------------------------------------------------------
def test_a_new_referral_needs_first_contact_within_five_working_days():
    assert reasons(a_case()) == ["first_contact_due", "new_referral"]
    first = need(a_case(), "first_contact_due")
    assert first["since"] == RECEIVED
    # Mon 16 Nov + 5 working days = Mon 23 Nov, to the end of that day in London (GMT in November)
    assert first["due_by"] == datetime(2026, 11, 23, 23, 59, 59, tzinfo=UTC)
    assert need(a_case(), "new_referral") == {"reason": "new_referral", "since": RECEIVED, "due_by": None}


def test_first_contact_due_skips_christmas_bank_holidays():
    christmas_eve = datetime(2026, 12, 24, 15, 0, tzinfo=UTC)  # Thursday
    case = a_case(created_at=christmas_eve, referrals=[{"reference": "HRW-1", "received_at": christmas_eve}])
    # Fri 25 Christmas, Mon 28 Boxing Day (substitute), Fri 1 Jan New Year: 29, 30, 31 Dec, 4, 5 Jan
    assert need(case, "first_contact_due", now=christmas_eve)["due_by"] == \
        datetime(2027, 1, 5, 23, 59, 59, tzinfo=UTC)


def test_first_contact_stays_overdue_until_contact_is_made():
    later = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    accepted = a_case(status="accepted")
    assert reasons(accepted, now=later) == ["first_contact_due"]  # accepted: no longer a new referral
    assert attention.overdue(need(accepted, "first_contact_due", now=later), later)
    assert reasons(a_case(status="on_hold", held_from="accepted"), now=later) == ["first_contact_due"]
    for contacted in (a_case(status="in_progress"), a_case(status="on_hold", held_from="in_progress")):
        assert reasons(contacted, now=later) == []


@pytest.mark.parametrize("status", ["rejected", "completed", "cancelled"])
def test_a_closed_case_needs_nothing_whatever_it_holds(status):
    case = a_case(status=status, cir=9, fire_risk_without_consent_at=RECEIVED,
                  visit=a_visit(due_in=-timedelta(days=1)), consent={"contact": False})
    assert reasons(case) == []


def test_an_erased_case_needs_nothing():
    assert reasons(a_case(cir=9, erased_at=NOW)) == []


def test_do_not_contact_since_the_referral_or_the_withdrawal():
    assert "do_not_contact" not in reasons(a_case())
    assert need(a_case(consent={"contact": False}), "do_not_contact")["since"] == RECEIVED
    withdrawn_at = RECEIVED + timedelta(hours=5)
    case = a_case(status="in_progress",
                  consent={"contact": False, "withdrawn": [{"scope": "contact", "at": withdrawn_at},
                                                          {"scope": "fire_service", "at": NOW}]})
    assert needs_action(facts_of(case), NOW) == [{"reason": "do_not_contact", "since": withdrawn_at, "due_by": None}]


# -- safeguarding ------------------------------------------------------------------------------------
def test_safeguarding_from_a_rating_at_the_threshold_due_in_two_working_days():
    assert "safeguarding" not in reasons(a_case(cir=6))
    found = need(a_case(cir=7), "safeguarding")
    assert found["since"] == RECEIVED
    assert found["due_by"] == datetime(2026, 11, 18, 23, 59, 59, tzinfo=UTC)  # Mon + 2 working days
    assert "safeguarding" not in reasons(a_case(cir=7), threshold=8)
    assert "safeguarding" in reasons(a_case(cir=5), threshold=5)


def test_safeguarding_reads_each_rooms_latest_rating():
    case = a_case(cir=8)
    lower = {"ratings": {"living_room": 4}, "rated_on": "2026-11-17", "recorded_at": NOW, "rater_role": "coordinator",
             "reference": "HRW-2026-000001"}
    assert "safeguarding" not in reasons({**case, "cir_ratings": [*case["cir_ratings"], lower]})
    kitchen_only = {**lower, "ratings": {"kitchen": 3}}
    assert "safeguarding" in reasons({**case, "cir_ratings": [*case["cir_ratings"], kitchen_only]})


def test_safeguarding_since_is_the_newest_high_rating():
    case = a_case(cir=8)
    high_kitchen = {"ratings": {"kitchen": 9}, "rated_on": "2026-11-17", "recorded_at": NOW,
                    "rater_role": "coordinator", "reference": "HRW-2026-000001"}
    assert need({**case, "cir_ratings": [*case["cir_ratings"], high_kitchen]}, "safeguarding")["since"] == NOW


def test_ratings_stored_before_recorded_at_was_kept_count_from_their_day():
    case = a_case(cir=8)
    del case["cir_ratings"][0]["recorded_at"]
    assert need(case, "safeguarding")["since"] == datetime(2026, 11, 16, tzinfo=UTC)


# -- fire risk without consent -------------------------------------------------------------------------
def test_fire_risk_without_consent_until_a_visit_is_requested_after_it():
    raised = RECEIVED + timedelta(minutes=1)
    case = a_case(consent={"share_with_fire_service": False}, fire_risk_without_consent_at=raised)
    found = need(case, "fire_risk_no_consent")
    assert (found["since"], found["due_by"]) == (raised, datetime(2026, 11, 18, 23, 59, 59, tzinfo=UTC))
    answered = {**case, "visit": a_visit(changed_at=raised + timedelta(days=1))}
    assert "fire_risk_no_consent" not in reasons(answered)
    # a visit that ended before the alert does not answer it
    earlier = {**case, "visit": a_visit(status="declined", changed_at=raised - timedelta(days=1))}
    assert "fire_risk_no_consent" in reasons(earlier)


# -- the visit ---------------------------------------------------------------------------------------
def test_an_open_visit_past_due_is_overdue():
    for status in ("requested", "acknowledged", "scheduled"):
        case = a_case(status="in_progress", visit=a_visit(status, due_in=-timedelta(hours=1)))
        assert needs_action(facts_of(case), NOW) == [
            {"reason": "visit_overdue", "since": NOW - timedelta(hours=1), "due_by": NOW - timedelta(hours=1)}]


def test_safeties_overdue_event_counts_only_for_the_visit_it_names():
    visit = a_visit(due_in=timedelta(days=3))
    said = {"visit_id": "v-1", "at": NOW}
    assert reasons(a_case(status="in_progress", visit=visit, visit_overdue=said)) == ["visit_overdue"]
    old = {"visit_id": "v-0", "at": NOW}
    assert reasons(a_case(status="in_progress", visit=visit, visit_overdue=old)) == []


def test_an_open_visit_due_within_a_day_is_due_soon():
    soon = a_case(status="in_progress", visit=a_visit(due_in=timedelta(hours=23)))
    assert needs_action(facts_of(soon), NOW) == [
        {"reason": "visit_due_soon", "since": NOW - timedelta(hours=1), "due_by": NOW + timedelta(hours=23)}]
    assert reasons(a_case(status="in_progress", visit=a_visit(due_in=timedelta(hours=25)))) == []


@pytest.mark.parametrize("status, reason", [("no_access", "visit_no_access"), ("declined", "visit_declined"),
                                            ("cancelled", "visit_cancelled")])
def test_a_visit_that_did_not_happen_needs_the_coordinator(status, reason):
    changed = NOW - timedelta(hours=2)
    case = a_case(status="in_progress", visit=a_visit(status, due_in=-timedelta(days=1), changed_at=changed))
    assert needs_action(facts_of(case), NOW) == [{"reason": reason, "since": changed, "due_by": None}]


def test_a_visit_done_or_rebooked_clears_the_visit_reasons():
    assert reasons(a_case(status="in_progress", visit=a_visit("completed", due_in=-timedelta(days=1)))) == []
    rebooked = a_visit("scheduled", due_in=timedelta(days=3))  # no_access -> scheduled
    assert reasons(a_case(status="in_progress", visit=rebooked)) == []


# -- dismissal ---------------------------------------------------------------------------------------
def test_a_dismissed_reason_stays_away_until_a_newer_one_arrives():
    changed = NOW - timedelta(hours=2)
    case = a_case(status="in_progress", visit=a_visit("no_access", changed_at=changed))
    dealt = {**case, "attention_dismissed": {"visit_no_access": {"at": NOW, "actor": "coordinator:k"}}}
    assert reasons(dealt, now=NOW + timedelta(hours=1)) == []
    again = {**dealt, "visit": a_visit("no_access", changed_at=NOW + timedelta(minutes=30))}
    assert reasons(again, now=NOW + timedelta(hours=1)) == ["visit_no_access"]


def test_dismissing_a_safeguarding_task_holds_until_a_newer_high_rating():
    dealt = {**a_case(status="in_progress", cir=8), "attention_dismissed": {"safeguarding": {"at": NOW}}}
    assert reasons(dealt) == []
    rerated = {"ratings": {"living_room": 8}, "rated_on": "2026-11-18", "recorded_at": NOW + timedelta(days=1),
               "rater_role": "coordinator", "reference": "HRW-2026-000001"}
    assert reasons({**dealt, "cir_ratings": [*dealt["cir_ratings"], rerated]},
                   now=NOW + timedelta(days=1)) == ["safeguarding"]


@pytest.mark.parametrize("reason", ["first_contact_due", "new_referral", "visit_due_soon", "visit_overdue"])
def test_reasons_that_clear_by_moving_cannot_be_dismissed(reason):
    with pytest.raises(NotDismissible):
        attention.dismissal(facts_of(a_case()), reason, NOW)


def test_dismissing_what_the_case_does_not_need_is_refused():
    with pytest.raises(NotNeeded):
        attention.dismissal(facts_of(a_case(cir=5)), "safeguarding", NOW)
    assert attention.dismissal(facts_of(a_case(cir=7)), "safeguarding", NOW)["since"] == RECEIVED


def test_every_reason_is_named_ranked_and_either_dismissible_or_clears_by_moving():
    assert set(attention.WORDS) == set(attention.RANK) == set(attention.REASONS)
    assert attention.DISMISSIBLE < set(attention.REASONS)
    assert attention.FIRST_TIER < set(attention.REASONS)


# -- urgency -------------------------------------------------------------------------------------------
def test_reasons_within_a_case_most_urgent_first():
    case = a_case(cir=8, consent={"share_with_fire_service": False, "contact": False},
                  fire_risk_without_consent_at=RECEIVED, visit=a_visit("cancelled"))
    assert reasons(case) == ["fire_risk_no_consent", "safeguarding", "visit_cancelled", "first_contact_due",
                             "do_not_contact", "new_referral"]


def test_an_overdue_first_contact_ranks_before_a_visit_due_soon_but_after_risks():
    later = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # the first call was due by Mon 23 Nov
    case = a_case(status="accepted", visit=a_visit(due_in=later - NOW + timedelta(hours=2)))
    assert reasons(case, now=later) == ["first_contact_due", "visit_due_soon"]
    risky = a_case(status="accepted", cir=8)
    assert reasons(risky, now=later) == ["safeguarding", "first_contact_due"]


def test_the_queue_orders_cases_by_their_most_urgent_reason():
    def line(case_id, received=RECEIVED, **case):
        built = a_case(_id=case_id, created_at=received, referrals=[{"reference": case_id, "received_at": received}],
                       **case)
        return {"_id": case_id, "attention": facts_of(built)}

    lines = [
        line("calm", status="in_progress"),
        line("new-today", received=NOW - timedelta(hours=1)),
        line("new-yesterday", received=NOW - timedelta(days=1)),
        line("no-access", status="in_progress", visit=a_visit("no_access")),
        line("due-soon", status="in_progress", visit=a_visit(due_in=timedelta(hours=3))),
        line("first-call-late", received=NOW - timedelta(days=14)),
        line("overdue-visit", status="in_progress", visit=a_visit(due_in=-timedelta(hours=3))),
        line("safeguarding", status="in_progress", cir=9),
        line("fire", status="in_progress", fire_risk_without_consent_at=NOW - timedelta(hours=1)),
        line("closed", status="completed", cir=9),
    ]
    order = [l["_id"] for l, _ in queue(lines, NOW)]
    assert order == ["fire", "safeguarding", "overdue-visit", "first-call-late", "due-soon", "no-access",
                     "new-yesterday", "new-today"]


@pytest.mark.parametrize("raw, expected", [(None, 7), ("", 7), ("8", 8), (6, 6)])
def test_the_safeguarding_threshold_setting(raw, expected):
    assert attention.check_threshold(raw) == expected


@pytest.mark.parametrize("raw", ["0", "10", "seven", "7.5"])
def test_a_bad_safeguarding_threshold_is_refused(raw):
    with pytest.raises(ValueError, match="SAFEGUARDING_CIR_THRESHOLD"):
        attention.check_threshold(raw)
