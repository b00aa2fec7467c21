"""HFSV triage: every rule boundary, consent, requests, due times and rules-file validation."""

import copy
import json
from datetime import datetime, timedelta, timezone
from importlib.resources import files

import pytest

from services.safety.triage import (
    RiskInput,
    TriageConfigError,
    cir_level,
    load_rules,
    parse_rules,
    triage_visit,
)

RECEIVED_AT = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)
DEFAULT_RULES_DATA = json.loads(files("services.safety").joinpath("triage_rules.json").read_text(encoding="utf-8"))


def risk(cir=1, *, consent=True, requested=False, alarm="yes", **flags):
    """A referral's risk with no flags, consent given and no visit asked for, unless overridden."""
    values = dict(
        smoker=False,
        oxygen_use=False,
        lives_alone=False,
        mobility_impaired=False,
        previous_fire=False,
        blocked_exits=False,
    )
    unknown = set(flags) - set(values)
    assert not unknown, f"unknown flags {unknown}"
    values.update(flags)
    return RiskInput(
        cir=cir if isinstance(cir, dict) else {"living_room": cir},
        working_smoke_alarm=alarm,
        share_with_fire_service=consent,
        visit_requested=requested,
        **values,
    )


def edited_rules_data(changes=(), remove=()):
    """A copy of the default rules file's content with {"dotted.key": value} changes and keys removed."""
    data = copy.deepcopy(DEFAULT_RULES_DATA)

    def parent_of(dotted):
        *parents, last = dotted.split(".")
        target = data
        for key in parents:
            target = target[key]
        return target, last

    for dotted, value in dict(changes).items():
        target, last = parent_of(dotted)
        target[last] = value
    for dotted in remove:
        target, last = parent_of(dotted)
        del target[last]
    return data


def rules_with(changes):
    return parse_rules(edited_rules_data(changes))


# --- RiskInput ----------------------------------------------------------------


def test_cir_max_is_the_highest_room():
    assert risk({"living_room": 3, "kitchen": 8, "bedroom": 5, "other": 1}).cir_max == 8


def test_flags_are_the_present_flags_sorted():
    r = risk(alarm="no", smoker=True, lives_alone=True, blocked_exits=True)
    assert r.flags == ["blocked_exits", "lives_alone", "no_working_smoke_alarm", "smoker"]


@pytest.mark.parametrize(
    ("alarm", "expected"),
    [("yes", []), ("no", ["no_working_smoke_alarm"]), ("unknown", ["smoke_alarm_unknown"])],
)
def test_smoke_alarm_answer_becomes_a_flag(alarm, expected):
    assert risk(alarm=alarm).flags == expected


@pytest.mark.parametrize(
    "bad",
    [
        dict(cir={}),
        dict(cir={"living_room": 0}),
        dict(cir={"living_room": 10}),
        dict(cir={"living_room": True}),
        dict(cir={"garage": 3}),
        dict(alarm="maybe"),
    ],
)
def test_risk_input_rejects_impossible_values(bad):
    with pytest.raises(ValueError):
        risk(**bad)


# --- priority rules -----------------------------------------------------------


@pytest.mark.parametrize(
    ("cir", "flags", "priority", "rule"),
    [
        # CIR 3/4: low -> medium
        (3, {}, "low", "low.no_rule_matched"),
        (4, {}, "medium", "medium.cir4"),
        # CIR 4/5 with a fire-risk flag: medium -> high
        (4, {"smoker": True}, "medium", "medium.cir4"),
        (5, {"smoker": True}, "high", "high.cir5_with_fire_risk"),
        (4, {"lives_alone": True}, "medium", "medium.cir4"),
        (5, {"lives_alone": True}, "high", "high.cir5_with_fire_risk"),
        (5, {}, "medium", "medium.cir4"),
        # CIR 6/7: medium -> high without flags, high -> very_high with one of very_high's hazards
        (6, {}, "medium", "medium.cir4"),
        (7, {}, "high", "high.cir7"),
        (9, {}, "high", "high.cir7"),
        (6, {"blocked_exits": True}, "high", "high.cir5_with_fire_risk"),
        (7, {"blocked_exits": True}, "very_high", "very_high.cir7_with_hazard"),
        (7, {"lives_alone": True}, "high", "high.cir7"),
    ],
)
def test_cir_boundaries(cir, flags, priority, rule):
    decision = triage_visit(risk(cir, **flags), RECEIVED_AT)
    assert (decision.priority, decision.rule) == (priority, rule)


# DOMAIN.md: "any fire-risk flag" (high with CIR >= 5, medium) is every fire_risk flag:
# smoker, oxygen_use, lives_alone, mobility_impaired, previous_fire, blocked_exits, alarm "no".
# very_high's "CIR >= 7 with any of" has its own list, without lives_alone and mobility_impaired.
# Alarm "unknown" counts in neither.
@pytest.mark.parametrize(
    ("flag", "cir", "priority", "rule"),
    [
        ("smoker", 1, "medium", "medium.fire_risk"),
        ("oxygen_use", 1, "medium", "medium.fire_risk"),
        ("previous_fire", 1, "medium", "medium.fire_risk"),
        ("blocked_exits", 1, "medium", "medium.fire_risk"),
        ("alarm_no", 1, "medium", "medium.fire_risk"),
        ("lives_alone", 1, "medium", "medium.fire_risk"),
        ("mobility_impaired", 1, "medium", "medium.fire_risk"),
        ("alarm_unknown", 1, "low", "low.no_rule_matched"),
        ("smoker", 5, "high", "high.cir5_with_fire_risk"),
        ("oxygen_use", 5, "high", "high.cir5_with_fire_risk"),
        ("previous_fire", 5, "high", "high.cir5_with_fire_risk"),
        ("blocked_exits", 5, "high", "high.cir5_with_fire_risk"),
        ("alarm_no", 5, "high", "high.cir5_with_fire_risk"),
        ("lives_alone", 5, "high", "high.cir5_with_fire_risk"),
        ("mobility_impaired", 5, "high", "high.cir5_with_fire_risk"),
        ("alarm_unknown", 5, "medium", "medium.cir4"),
        ("smoker", 7, "very_high", "very_high.cir7_with_hazard"),
        ("oxygen_use", 7, "very_high", "very_high.cir7_with_hazard"),
        ("previous_fire", 7, "very_high", "very_high.cir7_with_hazard"),
        ("blocked_exits", 7, "very_high", "very_high.cir7_with_hazard"),
        ("alarm_no", 7, "very_high", "very_high.cir7_with_hazard"),
        ("lives_alone", 7, "high", "high.cir7"),
        ("mobility_impaired", 7, "high", "high.cir7"),
        ("alarm_unknown", 7, "high", "high.cir7"),
    ],
)
def test_each_flag_alone(flag, cir, priority, rule):
    if flag == "alarm_no":
        r = risk(cir, alarm="no")
    elif flag == "alarm_unknown":
        r = risk(cir, alarm="unknown")
    else:
        r = risk(cir, **{flag: True})
    decision = triage_visit(r, RECEIVED_AT)
    assert (decision.priority, decision.rule) == (priority, rule)


@pytest.mark.parametrize(
    ("alarm", "flags", "priority", "rule"),
    [
        ("no", {}, "medium", "medium.fire_risk"),
        ("no", {"lives_alone": True}, "medium", "medium.fire_risk"),
        ("no", {"mobility_impaired": True}, "medium", "medium.fire_risk"),
        ("no", {"lives_alone": True, "mobility_impaired": True}, "high", "high.no_alarm_with_2_risk_factors"),
        ("no", {"lives_alone": True, "smoker": True}, "high", "high.no_alarm_with_2_risk_factors"),
        ("no", {"smoker": True, "mobility_impaired": True}, "high", "high.no_alarm_with_2_risk_factors"),
        (
            "no",
            {"lives_alone": True, "smoker": True, "mobility_impaired": True},
            "high",
            "high.no_alarm_with_2_risk_factors",
        ),
        # The rule needs the alarm to be known missing; the flags alone are still fire-risk flags.
        ("unknown", {"lives_alone": True, "mobility_impaired": True}, "medium", "medium.fire_risk"),
        ("yes", {"lives_alone": True, "smoker": True, "mobility_impaired": True}, "medium", "medium.fire_risk"),
    ],
)
def test_no_working_alarm_rule(alarm, flags, priority, rule):
    decision = triage_visit(risk(1, alarm=alarm, **flags), RECEIVED_AT)
    assert (decision.priority, decision.rule) == (priority, rule)


@pytest.mark.parametrize(
    ("flags", "priority", "rule"),
    [
        ({"oxygen_use": True, "smoker": True}, "very_high", "very_high.oxygen_use_with_smoker"),
        ({"oxygen_use": True}, "medium", "medium.fire_risk"),
        ({"smoker": True}, "medium", "medium.fire_risk"),
    ],
)
def test_oxygen_with_smoking_at_cir_1(flags, priority, rule):
    decision = triage_visit(risk(1, **flags), RECEIVED_AT)
    assert (decision.priority, decision.rule) == (priority, rule)


def test_visit_requested_alone_is_medium():
    decision = triage_visit(risk(1, requested=True), RECEIVED_AT)
    assert (decision.priority, decision.rule, decision.visit) == ("medium", "medium.visit_requested", True)


def test_decision_reports_cir_max_and_flags():
    decision = triage_visit(risk({"kitchen": 6, "bedroom": 2}, alarm="unknown", lives_alone=True), RECEIVED_AT)
    assert decision.cir_max == 6
    assert decision.flags == ("lives_alone", "smoke_alarm_unknown")


# --- consent ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("r", "priority", "visit", "reason", "fire_risk_without_consent"),
    [
        (risk(7, consent=False, requested=True), "high", False, "no_consent", True),
        (risk(1, consent=False, requested=True, oxygen_use=True, smoker=True), "very_high", False, "no_consent", True),
        (risk(4, consent=False, requested=True), "medium", False, "no_consent", False),
        # high by CIR 5 + a fire-risk flag but below CIR 7 and not very_high: no alert
        (risk(6, consent=False, requested=True, smoker=True), "high", False, "no_consent", False),
        # low risk says so, whatever the consent
        (risk(1, consent=False), "low", False, "low_risk", False),
        # with consent there is nothing to alert
        (risk(7, consent=True, requested=True, smoker=True), "very_high", True, None, False),
        (risk(7, consent=True, requested=True), "high", True, None, False),
    ],
)
def test_consent(r, priority, visit, reason, fire_risk_without_consent):
    decision = triage_visit(r, RECEIVED_AT)
    assert decision.priority == priority
    assert decision.visit is visit
    assert decision.reason == reason
    assert decision.fire_risk_without_consent is fire_risk_without_consent
    if not visit:
        assert decision.due_by is None


# --- visit not requested --------------------------------------------------------


@pytest.mark.parametrize(
    ("r", "priority", "visit", "reason"),
    [
        (risk(7, smoker=True), "very_high", True, None),
        (risk(7), "high", True, None),
        # DOMAIN.md's table decides, not the form: CIR >= 4 or any fire-risk flag gets a visit
        (risk(4), "medium", True, None),
        (risk(1, smoker=True), "medium", True, None),
        (risk(2, lives_alone=True), "medium", True, None),
        (risk(1, mobility_impaired=True), "medium", True, None),
        (risk(3), "low", False, "low_risk"),
        (risk(1), "low", False, "low_risk"),
        # still only with consent to share
        (risk(4, consent=False), "medium", False, "no_consent"),
        (risk(2, consent=False, lives_alone=True), "medium", False, "no_consent"),
    ],
)
def test_not_requested_at_each_priority(r, priority, visit, reason):
    assert not r.visit_requested
    decision = triage_visit(r, RECEIVED_AT)
    assert (decision.priority, decision.visit, decision.reason) == (priority, visit, reason)
    assert (decision.due_by is not None) is visit


def test_an_unrequested_medium_visit_is_due_in_a_month():
    decision = triage_visit(risk(2, lives_alone=True), RECEIVED_AT)
    assert (decision.rule, decision.visit) == ("medium.fire_risk", True)
    assert decision.due_by == RECEIVED_AT + timedelta(days=30)


@pytest.mark.parametrize(
    ("r", "priority"),
    [(risk(7, requested=True, smoker=True), "very_high"), (risk(7, requested=True), "high"), (risk(4, requested=True), "medium")],
)
def test_requested_with_consent_raises_a_visit_at_each_priority(r, priority):
    decision = triage_visit(r, RECEIVED_AT)
    assert (decision.priority, decision.visit, decision.reason) == (priority, True, None)


# --- due_by ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("r", "due_by"),
    [
        (risk(7, requested=True, smoker=True), datetime(2026, 11, 20, 14, 0, tzinfo=timezone.utc)),
        (risk(7, requested=True), datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)),
        (risk(4, requested=True), datetime(2026, 12, 20, 10, 0, tzinfo=timezone.utc)),
        (risk(1), None),
    ],
)
def test_due_by_for_each_priority(r, due_by):
    assert triage_visit(r, RECEIVED_AT).due_by == due_by


def test_due_by_is_utc_for_a_non_utc_received_at():
    london_summer = timezone(timedelta(hours=1))
    received_at = datetime(2026, 7, 1, 9, 0, tzinfo=london_summer)
    due_by = triage_visit(risk(7, requested=True, smoker=True), received_at).due_by
    assert due_by == datetime(2026, 7, 1, 12, 0, tzinfo=timezone.utc)
    assert due_by.utcoffset() == timedelta(0)


def test_naive_received_at_is_rejected():
    with pytest.raises(ValueError, match="timezone-aware"):
        triage_visit(risk(7, requested=True), datetime(2026, 11, 20, 10, 0))


# --- CIR level -----------------------------------------------------------------


@pytest.mark.parametrize(("cir_max", "level"), [(1, 1), (3, 1), (4, 2), (6, 2), (7, 3), (9, 3)])
def test_cir_level(cir_max, level):
    assert cir_level(cir_max) == level


@pytest.mark.parametrize("cir_max", [0, 10, True])
def test_cir_level_rejects_impossible_ratings(cir_max):
    with pytest.raises(ValueError):
        cir_level(cir_max)


def test_cir_level_thresholds_come_from_rules():
    rules = rules_with({"cir_levels.level_2_from": 5, "cir_levels.level_3_from": 8})
    assert [cir_level(n, rules) for n in (4, 5, 7, 8)] == [1, 2, 2, 3]


# --- custom thresholds -------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "r", "priority", "rule"),
    [
        ({"priorities.medium.cir_from": 5}, risk(4), "low", "low.no_rule_matched"),
        ({"priorities.high.cir_from": 8}, risk(7), "medium", "medium.cir4"),
        ({"priorities.high.cir_with_fire_risk_from": 6}, risk(5, smoker=True), "medium", "medium.cir4"),
        ({"priorities.high.cir_with_fire_risk_from": 6}, risk(6, lives_alone=True), "high", "high.cir6_with_fire_risk"),
        (
            {"priorities.very_high.cir_with_hazard_from": 8},
            risk(7, smoker=True),
            "high",
            "high.cir7",
        ),
        ({"priorities.very_high.cir_with_hazard_from": 8}, risk(8, smoker=True), "very_high", "very_high.cir8_with_hazard"),
        (
            {"priorities.high.no_working_alarm_with.min_count": 3},
            risk(1, alarm="no", lives_alone=True, mobility_impaired=True),
            "medium",
            "medium.fire_risk",
        ),
        (
            {"priorities.high.no_working_alarm_with.min_count": 3},
            risk(1, alarm="no", lives_alone=True, mobility_impaired=True, smoker=True),
            "high",
            "high.no_alarm_with_3_risk_factors",
        ),
        ({"priorities.very_high.flag_combinations": []}, risk(1, oxygen_use=True, smoker=True), "medium", "medium.fire_risk"),
        # Treating an unknown alarm as a fire-risk flag, or as a very_high hazard
        (
            {"fire_risk_flags": ["no_working_smoke_alarm", "smoke_alarm_unknown"]},
            risk(1, alarm="unknown"),
            "medium",
            "medium.fire_risk",
        ),
        (
            {"hazard_flags": ["no_working_smoke_alarm", "smoke_alarm_unknown"]},
            risk(7, alarm="unknown"),
            "very_high",
            "very_high.cir7_with_hazard",
        ),
        # The two lists are separate: very_high's does not change high's or medium's, nor back
        ({"fire_risk_flags": []}, risk(1, smoker=True), "low", "low.no_rule_matched"),
        ({"fire_risk_flags": []}, risk(7, smoker=True), "very_high", "very_high.cir7_with_hazard"),
        ({"hazard_flags": []}, risk(7, smoker=True), "high", "high.cir7"),
        ({"hazard_flags": []}, risk(5, smoker=True), "high", "high.cir5_with_fire_risk"),
        ({"hazard_flags": ["smoker", "lives_alone"]}, risk(7, lives_alone=True), "very_high", "very_high.cir7_with_hazard"),
        ({"fire_risk_flags": ["smoker"]}, risk(5, lives_alone=True), "medium", "medium.cir4"),
    ],
)
def test_custom_thresholds_change_the_priority(changes, r, priority, rule):
    decision = triage_visit(r, RECEIVED_AT, rules_with(changes))
    assert (decision.priority, decision.rule) == (priority, rule)


@pytest.mark.parametrize(
    ("raise_unrequested_from", "r", "visit", "reason"),
    [
        ("very_high", risk(7), False, "not_requested"),
        ("very_high", risk(7, smoker=True), True, None),
        ("medium", risk(4), True, None),
        ("high", risk(4), False, "not_requested"),
        ("high", risk(1, lives_alone=True), False, "not_requested"),
        ("high", risk(5, lives_alone=True), True, None),
        (None, risk(7, smoker=True), False, "not_requested"),
    ],
)
def test_raise_unrequested_from_is_configurable(raise_unrequested_from, r, visit, reason):
    rules = rules_with({"raise_unrequested_from": raise_unrequested_from})
    decision = triage_visit(r, RECEIVED_AT, rules)
    assert (decision.visit, decision.reason) == (visit, reason)


def test_target_hours_are_configurable():
    rules = rules_with({"priorities.high.target_hours": 72})
    assert triage_visit(risk(7, requested=True), RECEIVED_AT, rules).due_by == RECEIVED_AT + timedelta(days=3)


@pytest.mark.parametrize(
    ("changes", "r", "expected"),
    [
        ({"fire_risk_without_consent.cir_from": 6}, risk(6, consent=False), True),
        ({"fire_risk_without_consent.cir_from": 8}, risk(7, consent=False), False),
        ({"fire_risk_without_consent.priorities": ["very_high", "high"]}, risk(5, consent=False, smoker=True), True),
        ({"fire_risk_without_consent.priorities": []}, risk(1, consent=False, oxygen_use=True, smoker=True), False),
    ],
)
def test_fire_risk_without_consent_thresholds_are_configurable(changes, r, expected):
    assert triage_visit(r, RECEIVED_AT, rules_with(changes)).fire_risk_without_consent is expected


# --- loading rules --------------------------------------------------------------


def test_default_rules_hold_the_domain_defaults():
    rules = load_rules()
    assert (rules.cir_levels.level_2_from, rules.cir_levels.level_3_from) == (4, 7)
    assert rules.hazard_flags == {"smoker", "oxygen_use", "previous_fire", "blocked_exits", "no_working_smoke_alarm"}
    assert rules.fire_risk_flags == {"smoker", "oxygen_use", "lives_alone", "mobility_impaired", "previous_fire",
                                     "blocked_exits", "no_working_smoke_alarm"}
    assert (rules.very_high.cir_with_hazard_from, rules.high.cir_from, rules.high.cir_with_fire_risk_from,
            rules.medium.cir_from) == (7, 7, 5, 4)
    assert rules.very_high.target == timedelta(hours=4)
    assert rules.high.target == timedelta(days=7)
    assert rules.medium.target == timedelta(days=30)
    assert rules.raise_unrequested_from == "medium"


def test_load_rules_reads_a_file(tmp_path):
    path = write_rules(tmp_path, {"priorities.medium.cir_from": 6})
    assert load_rules(path).medium.cir_from == 6
    assert load_rules(str(path)).medium.cir_from == 6


def write_rules(tmp_path, changes=(), remove=()):
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(edited_rules_data(changes, remove)), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"priorities.high.target_hours": 0}, "'priorities.high.target_hours' must be a positive number"),
        ({"priorities.high.target_hours": -4}, "'priorities.high.target_hours' must be a positive number"),
        ({"priorities.high.target_hours": "168"}, "'priorities.high.target_hours' must be a positive number"),
        ({"priorities.high.target_hours": True}, "'priorities.high.target_hours' must be a positive number"),
        ({"priorities.very_high.target_hours": None}, "'priorities.very_high.target_hours' must be a positive number"),
        ({"priorities.medium.cir_from": 0}, "'priorities.medium.cir_from' must be a whole number from 1 to 9"),
        ({"priorities.medium.cir_from": 10}, "'priorities.medium.cir_from' must be a whole number from 1 to 9"),
        ({"priorities.high.cir_from": 7.5}, "'priorities.high.cir_from' must be a whole number from 1 to 9"),
        ({"fire_risk_without_consent.cir_from": "7"}, "'fire_risk_without_consent.cir_from' must be a whole number"),
        ({"cir_levels.level_3_from": 4}, "'cir_levels.level_3_from' must be greater than 'cir_levels.level_2_from'"),
        ({"priorities.high.targt_hours": 3}, "'priorities.high.targt_hours' is not a known key"),
        ({"priority": {}}, "'priority' is not a known key"),
        ({"priorities.high": 168}, "'priorities.high' must be an object"),
        ({"hazard_flags": ["smoker", "smoking"]}, "'hazard_flags.1' must be one of:"),
        ({"hazard_flags": "smoker"}, "'hazard_flags' must be a list of flag names"),
        ({"fire_risk_flags": ["lives_alone", "alone"]}, "'fire_risk_flags.1' must be one of:"),
        ({"fire_risk_flags": None}, "'fire_risk_flags' must be a list of flag names"),
        ({"priorities.high.cir_with_fire_risk_from": 0}, "'priorities.high.cir_with_fire_risk_from' must be a whole number"),
        ({"priorities.very_high.flag_combinations": [[]]}, "'priorities.very_high.flag_combinations.0' must be a non-empty"),
        (
            {"priorities.high.no_working_alarm_with.min_count": 4},
            "'priorities.high.no_working_alarm_with.min_count' must not exceed the number of flags in 'any_of'",
        ),
        ({"priorities.high.no_working_alarm_with.min_count": 0}, "'priorities.high.no_working_alarm_with.min_count' must be"),
        ({"raise_unrequested_from": "urgent"}, "'raise_unrequested_from' must be one of: very_high, high, medium"),
        ({"fire_risk_without_consent.priorities": ["low"]}, "'fire_risk_without_consent.priorities.0' must be one of"),
    ],
)
def test_load_rules_names_the_bad_key(tmp_path, changes, message):
    with pytest.raises(TriageConfigError) as raised:
        load_rules(write_rules(tmp_path, changes))
    assert str(raised.value).startswith("triage rules: ")
    assert message in str(raised.value)


@pytest.mark.parametrize(
    "missing",
    ["priorities.high.target_hours", "priorities.medium", "cir_levels", "raise_unrequested_from", "hazard_flags",
     "fire_risk_flags", "priorities.high.cir_with_fire_risk_from"],
)
def test_load_rules_names_a_missing_key(tmp_path, missing):
    with pytest.raises(TriageConfigError) as raised:
        load_rules(write_rules(tmp_path, remove=[missing]))
    assert str(raised.value) == f"triage rules: '{missing}' is required"
    assert raised.value.errors == {missing: "is required"}


def test_load_rules_reports_every_bad_key(tmp_path):
    path = write_rules(tmp_path, {"priorities.high.target_hours": -1, "priorities.medium.cir_from": 0})
    with pytest.raises(TriageConfigError) as raised:
        load_rules(path)
    assert set(raised.value.errors) == {"priorities.high.target_hours", "priorities.medium.cir_from"}


def test_target_error_message_matches_the_contract(tmp_path):
    with pytest.raises(TriageConfigError) as raised:
        load_rules(write_rules(tmp_path, {"priorities.high.target_hours": -1}))
    assert str(raised.value) == "triage rules: 'priorities.high.target_hours' must be a positive number"


def test_load_rules_missing_file_names_the_path(tmp_path):
    path = tmp_path / "nowhere.json"
    with pytest.raises(TriageConfigError, match="cannot read .*nowhere.json"):
        load_rules(path)


def test_load_rules_invalid_json_names_the_path_and_line(tmp_path):
    path = tmp_path / "rules.json"
    path.write_text('{\n  "cir_levels": {,\n}', encoding="utf-8")
    with pytest.raises(TriageConfigError, match=r"rules.json is not valid JSON: .* line 2"):
        load_rules(path)


def test_load_rules_rejects_a_file_that_is_not_an_object(tmp_path):
    path = tmp_path / "rules.json"
    path.write_text("[]", encoding="utf-8")
    with pytest.raises(TriageConfigError, match="must be a JSON object"):
        load_rules(path)


def test_config_error_is_a_value_error():
    assert issubclass(TriageConfigError, ValueError)
