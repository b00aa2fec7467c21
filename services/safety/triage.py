"""Home Fire Safety Visit (HFSV) triage: pure rules, no I/O beyond loading the rules file.

Every threshold comes from ``triage_rules.json`` (see its ``notes``), because
borough protocols differ. Rules are tried most urgent first; the first match wins.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import os
import pathlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

VERY_HIGH = "very_high"
HIGH = "high"
MEDIUM = "medium"
LOW = "low"
PRIORITIES = (VERY_HIGH, HIGH, MEDIUM, LOW)  # most urgent first
VISIT_PRIORITIES = (VERY_HIGH, HIGH, MEDIUM)  # low never raises a visit

ROOMS = frozenset({"living_room", "kitchen", "bedroom", "other"})
CIR_MIN, CIR_MAX = 1, 9
SMOKE_ALARM_ANSWERS = frozenset({"yes", "no", "unknown"})

# Every flag RiskInput.flags can report; rules may only name these.
RISK_FLAGS = frozenset(
    {
        "smoker",
        "oxygen_use",
        "lives_alone",
        "mobility_impaired",
        "previous_fire",
        "blocked_exits",
        "no_working_smoke_alarm",
        "smoke_alarm_unknown",
    }
)

REASON_LOW_RISK = "low_risk"
REASON_NO_CONSENT = "no_consent"
REASON_NOT_REQUESTED = "not_requested"

_DEFAULT_RULES_FILE = "triage_rules.json"


class TriageConfigError(ValueError):
    """The triage rules file is unreadable or invalid; the message names the bad key."""

    def __init__(self, message: str, errors: Mapping[str, str] | None = None):
        super().__init__(message)
        self.errors = dict(errors or {})  # dotted key -> what is wrong with it


@dataclass(frozen=True)
class RiskInput:
    cir: dict[str, int]  # room -> Clutter Image Rating 1..9
    smoker: bool
    oxygen_use: bool
    lives_alone: bool
    mobility_impaired: bool
    previous_fire: bool
    blocked_exits: bool
    working_smoke_alarm: str  # "yes" | "no" | "unknown"
    share_with_fire_service: bool  # consent to share with the fire service
    visit_requested: bool  # requested.home_fire_safety_visit

    def __post_init__(self) -> None:
        if not self.cir:
            raise ValueError("cir needs at least one rated room")
        for room, rating in self.cir.items():
            if room not in ROOMS:
                raise ValueError(f"cir: unknown room {room!r}")
            if isinstance(rating, bool) or not isinstance(rating, int) or not CIR_MIN <= rating <= CIR_MAX:
                raise ValueError(f"cir: {room!r} must be a whole number from {CIR_MIN} to {CIR_MAX}")
        if self.working_smoke_alarm not in SMOKE_ALARM_ANSWERS:
            raise ValueError(f"working_smoke_alarm must be one of {sorted(SMOKE_ALARM_ANSWERS)}")

    @property
    def cir_max(self) -> int:
        return max(self.cir.values())

    @property
    def flags(self) -> list[str]:
        """Names of the risk flags present, sorted."""
        present = {
            name
            for name in ("smoker", "oxygen_use", "lives_alone", "mobility_impaired", "previous_fire", "blocked_exits")
            if getattr(self, name)
        }
        if self.working_smoke_alarm == "no":
            present.add("no_working_smoke_alarm")
        elif self.working_smoke_alarm == "unknown":
            present.add("smoke_alarm_unknown")
        return sorted(present)


@dataclass(frozen=True)
class TriageDecision:
    priority: str  # always set, "low" included
    visit: bool  # True -> raise a visit request
    due_by: datetime | None  # UTC; set only when visit is True
    reason: str | None  # set only when visit is False
    rule: str  # id of the rule that set the priority, e.g. "very_high.cir7_with_hazard"
    fire_risk_without_consent: bool
    cir_max: int
    flags: tuple[str, ...]


# --- rules -----------------------------------------------------------------


@dataclass(frozen=True)
class CirLevels:
    level_2_from: int
    level_3_from: int


@dataclass(frozen=True)
class VeryHighRules:
    target: timedelta
    cir_with_hazard_from: int  # with any of TriageRules.hazard_flags
    flag_combinations: tuple[tuple[str, ...], ...]  # all flags of any one combination -> very_high


@dataclass(frozen=True)
class NoWorkingAlarmRule:
    min_count: int
    any_of: tuple[str, ...]


@dataclass(frozen=True)
class HighRules:
    target: timedelta
    cir_from: int
    cir_with_fire_risk_from: int  # with any of TriageRules.fire_risk_flags
    no_working_alarm_with: NoWorkingAlarmRule


@dataclass(frozen=True)
class MediumRules:
    target: timedelta
    cir_from: int


@dataclass(frozen=True)
class ConsentAlertRules:
    cir_from: int
    priorities: frozenset[str]


@dataclass(frozen=True)
class TriageRules:
    cir_levels: CirLevels
    hazard_flags: frozenset[str]  # very_high's "CIR >= 7 with any of" list
    fire_risk_flags: frozenset[str]  # "any fire-risk flag" of the high and medium rules
    very_high: VeryHighRules
    high: HighRules
    medium: MediumRules
    raise_unrequested_from: str | None  # None: never raise a visit the referral did not ask for
    fire_risk_without_consent: ConsentAlertRules

    def target_for(self, priority: str) -> timedelta:
        return {VERY_HIGH: self.very_high.target, HIGH: self.high.target, MEDIUM: self.medium.target}[priority]


_REQUIRED = "is required"
_POSITIVE = "must be a positive number"
_CIR = f"must be a whole number from {CIR_MIN} to {CIR_MAX}"
_FLAG = f"must be one of: {', '.join(sorted(RISK_FLAGS))}"


class _RulesSchema(Schema):
    error_messages = {"type": "must be an object", "unknown": "is not a known key"}


class _StrictNumber(fields.Float):
    """A JSON number; rejects strings and booleans that Float would coerce."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


def _target_hours() -> fields.Field:
    return _StrictNumber(
        required=True,
        validate=validate.Range(min=0, min_inclusive=False, error=_POSITIVE),
        error_messages={"required": _REQUIRED, "null": _POSITIVE, "invalid": _POSITIVE, "special": _POSITIVE},
    )


def _cir_threshold() -> fields.Field:
    return fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=CIR_MIN, max=CIR_MAX, error=_CIR),
        error_messages={"required": _REQUIRED, "null": _CIR, "invalid": _CIR},
    )


def _flag_name() -> fields.Field:
    return fields.String(
        validate=validate.OneOf(RISK_FLAGS, error=_FLAG),
        error_messages={"invalid": _FLAG, "null": _FLAG},
    )


def _flag_list(*, non_empty: bool = False) -> fields.Field:
    message = "must be a non-empty list of flag names" if non_empty else "must be a list of flag names"
    return fields.List(
        _flag_name(),
        required=True,
        validate=validate.Length(min=1 if non_empty else 0, error=message),
        error_messages={"required": _REQUIRED, "null": message, "invalid": message},
    )


def _nested(schema: type[Schema]) -> fields.Field:
    return fields.Nested(schema, required=True, error_messages={"required": _REQUIRED, "null": "must be an object"})


class _CirLevelsSchema(_RulesSchema):
    level_2_from = _cir_threshold()
    level_3_from = _cir_threshold()

    @validates_schema
    def _levels_ascend(self, data: dict, **kwargs: Any) -> None:
        if data["level_3_from"] <= data["level_2_from"]:
            raise ValidationError("must be greater than 'cir_levels.level_2_from'", field_name="level_3_from")

    @post_load
    def _build(self, data: dict, **kwargs: Any) -> CirLevels:
        return CirLevels(**data)


class _VeryHighSchema(_RulesSchema):
    target_hours = _target_hours()
    cir_with_hazard_from = _cir_threshold()
    flag_combinations = fields.List(
        _flag_list(non_empty=True),
        required=True,
        error_messages={"required": _REQUIRED, "invalid": "must be a list of lists of flag names"},
    )

    @post_load
    def _build(self, data: dict, **kwargs: Any) -> VeryHighRules:
        return VeryHighRules(
            target=timedelta(hours=data["target_hours"]),
            cir_with_hazard_from=data["cir_with_hazard_from"],
            flag_combinations=tuple(tuple(combination) for combination in data["flag_combinations"]),
        )


class _NoWorkingAlarmSchema(_RulesSchema):
    min_count = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=1, error="must be a whole number of at least 1"),
        error_messages={"required": _REQUIRED, "invalid": "must be a whole number of at least 1"},
    )
    any_of = _flag_list(non_empty=True)

    @validates_schema
    def _count_reachable(self, data: dict, **kwargs: Any) -> None:
        if data["min_count"] > len(data["any_of"]):
            raise ValidationError("must not exceed the number of flags in 'any_of'", field_name="min_count")

    @post_load
    def _build(self, data: dict, **kwargs: Any) -> NoWorkingAlarmRule:
        return NoWorkingAlarmRule(min_count=data["min_count"], any_of=tuple(data["any_of"]))


class _HighSchema(_RulesSchema):
    target_hours = _target_hours()
    cir_from = _cir_threshold()
    cir_with_fire_risk_from = _cir_threshold()
    no_working_alarm_with = _nested(_NoWorkingAlarmSchema)

    @post_load
    def _build(self, data: dict, **kwargs: Any) -> HighRules:
        return HighRules(
            target=timedelta(hours=data["target_hours"]),
            cir_from=data["cir_from"],
            cir_with_fire_risk_from=data["cir_with_fire_risk_from"],
            no_working_alarm_with=data["no_working_alarm_with"],
        )


class _MediumSchema(_RulesSchema):
    target_hours = _target_hours()
    cir_from = _cir_threshold()

    @post_load
    def _build(self, data: dict, **kwargs: Any) -> MediumRules:
        return MediumRules(target=timedelta(hours=data["target_hours"]), cir_from=data["cir_from"])


class _PrioritiesSchema(_RulesSchema):
    very_high = _nested(_VeryHighSchema)
    high = _nested(_HighSchema)
    medium = _nested(_MediumSchema)


_VISIT_PRIORITY = f"must be one of: {', '.join(VISIT_PRIORITIES)}"


class _ConsentAlertSchema(_RulesSchema):
    cir_from = _cir_threshold()
    priorities = fields.List(
        fields.String(validate=validate.OneOf(VISIT_PRIORITIES, error=_VISIT_PRIORITY)),
        required=True,
        error_messages={"required": _REQUIRED, "invalid": "must be a list of priorities"},
    )

    @post_load
    def _build(self, data: dict, **kwargs: Any) -> ConsentAlertRules:
        return ConsentAlertRules(cir_from=data["cir_from"], priorities=frozenset(data["priorities"]))


class _TriageRulesSchema(_RulesSchema):
    notes = fields.List(  # documentation only
        fields.String(error_messages={"invalid": "must be text"}),
        load_default=list,
        error_messages={"invalid": "must be a list of text"},
    )
    cir_levels = _nested(_CirLevelsSchema)
    hazard_flags = _flag_list()
    fire_risk_flags = _flag_list()
    priorities = _nested(_PrioritiesSchema)
    raise_unrequested_from = fields.String(
        required=True,
        allow_none=True,
        validate=validate.OneOf(VISIT_PRIORITIES, error=_VISIT_PRIORITY + " (or null)"),
        error_messages={"required": _REQUIRED, "invalid": _VISIT_PRIORITY + " (or null)"},
    )
    fire_risk_without_consent = _nested(_ConsentAlertSchema)

    @post_load
    def _build(self, data: dict, **kwargs: Any) -> TriageRules:
        priorities = data["priorities"]
        return TriageRules(
            cir_levels=data["cir_levels"],
            hazard_flags=frozenset(data["hazard_flags"]),
            fire_risk_flags=frozenset(data["fire_risk_flags"]),
            very_high=priorities["very_high"],
            high=priorities["high"],
            medium=priorities["medium"],
            raise_unrequested_from=data["raise_unrequested_from"],
            fire_risk_without_consent=data["fire_risk_without_consent"],
        )


def _dotted_errors(messages: Any, path: tuple[str, ...] = ()) -> dict[str, str]:
    """Flatten marshmallow's nested error messages to {"a.b.c": "what is wrong"}."""
    if isinstance(messages, list):
        return {".".join(path): "; ".join(str(message) for message in messages)}
    flat: dict[str, str] = {}
    for key, value in messages.items():
        # "_schema" holds errors about the object itself, so they belong to its own key.
        flat.update(_dotted_errors(value, path if key == "_schema" else (*path, str(key))))
    return flat


def parse_rules(data: Any) -> TriageRules:
    """Validate already-decoded rules (the JSON file's content) and build TriageRules."""
    if not isinstance(data, Mapping):
        raise TriageConfigError("triage rules: the rules must be a JSON object")
    try:
        return _TriageRulesSchema().load(data)
    except ValidationError as error:
        errors = _dotted_errors(error.messages)
        described = "; ".join(f"'{key}' {message}" for key, message in sorted(errors.items()))
        raise TriageConfigError(f"triage rules: {described}", errors) from None


def load_rules(path: str | os.PathLike[str] | None = None) -> TriageRules:
    """Load and validate triage rules; None loads the packaged default triage_rules.json."""
    if path is None:
        source = importlib.resources.files(__package__).joinpath(_DEFAULT_RULES_FILE)
        where = _DEFAULT_RULES_FILE
    else:
        source = pathlib.Path(path)
        where = os.fspath(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as error:
        raise TriageConfigError(f"triage rules: cannot read {where}: {error.strerror or error}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise TriageConfigError(
            f"triage rules: {where} is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    return parse_rules(data)


@functools.cache
def default_rules() -> TriageRules:
    """The packaged rules, loaded once (TriageRules is immutable, so sharing is safe)."""
    return load_rules()


# --- decisions ---------------------------------------------------------------


def cir_level(cir_max: int, rules: TriageRules | None = None) -> int:
    """Hoarding protocol level 1, 2 or 3 from the highest room CIR."""
    if isinstance(cir_max, bool) or not isinstance(cir_max, int) or not CIR_MIN <= cir_max <= CIR_MAX:
        raise ValueError(f"cir_max must be a whole number from {CIR_MIN} to {CIR_MAX}")
    levels = (rules or default_rules()).cir_levels
    if cir_max >= levels.level_3_from:
        return 3
    if cir_max >= levels.level_2_from:
        return 2
    return 1


def _match_priority(risk: RiskInput, rules: TriageRules) -> tuple[str, str]:
    """(priority, rule id) of the first rule that matches, most urgent first."""
    cir = risk.cir_max
    flags = set(risk.flags)
    has_hazard = bool(flags & rules.hazard_flags)  # very_high's own list
    has_fire_risk = bool(flags & rules.fire_risk_flags)  # "any fire-risk flag" (high, medium)

    very_high = rules.very_high
    if cir >= very_high.cir_with_hazard_from and has_hazard:
        return VERY_HIGH, f"very_high.cir{very_high.cir_with_hazard_from}_with_hazard"
    for combination in very_high.flag_combinations:
        if flags.issuperset(combination):
            return VERY_HIGH, "very_high." + "_with_".join(combination)

    high = rules.high
    if cir >= high.cir_from:
        return HIGH, f"high.cir{high.cir_from}"
    if cir >= high.cir_with_fire_risk_from and has_fire_risk:
        return HIGH, f"high.cir{high.cir_with_fire_risk_from}_with_fire_risk"
    no_alarm = high.no_working_alarm_with
    if "no_working_smoke_alarm" in flags and len(flags & set(no_alarm.any_of)) >= no_alarm.min_count:
        return HIGH, f"high.no_alarm_with_{no_alarm.min_count}_risk_factors"

    if cir >= rules.medium.cir_from:
        return MEDIUM, f"medium.cir{rules.medium.cir_from}"
    if has_fire_risk:
        return MEDIUM, "medium.fire_risk"
    if risk.visit_requested:
        return MEDIUM, "medium.visit_requested"

    return LOW, "low.no_rule_matched"


def _raised_without_request(priority: str, rules: TriageRules) -> bool:
    if rules.raise_unrequested_from is None:
        return False
    return PRIORITIES.index(priority) <= PRIORITIES.index(rules.raise_unrequested_from)


def _reason_for_no_visit(priority: str, risk: RiskInput, rules: TriageRules) -> str | None:
    if priority == LOW:
        return REASON_LOW_RISK
    # Without consent nothing may be shared with the fire service, whatever the risk.
    if not risk.share_with_fire_service:
        return REASON_NO_CONSENT
    # Below raise_unrequested_from the person's choice not to ask for a visit stands; from it,
    # safety wins (by default from medium: DOMAIN.md's table decides, consent still required).
    if not risk.visit_requested and not _raised_without_request(priority, rules):
        return REASON_NOT_REQUESTED
    return None


def triage_visit(risk: RiskInput, received_at: datetime, rules: TriageRules | None = None) -> TriageDecision:
    """Decide the HFSV priority and whether to raise a visit request for one referral."""
    if received_at.tzinfo is None or received_at.utcoffset() is None:
        raise ValueError("received_at must be timezone-aware")
    rules = rules or default_rules()

    priority, rule = _match_priority(risk, rules)
    reason = _reason_for_no_visit(priority, risk, rules)
    visit = reason is None
    alert = rules.fire_risk_without_consent
    fire_risk_without_consent = not risk.share_with_fire_service and (
        risk.cir_max >= alert.cir_from or priority in alert.priorities
    )
    return TriageDecision(
        priority=priority,
        visit=visit,
        due_by=received_at.astimezone(timezone.utc) + rules.target_for(priority) if visit else None,
        reason=reason,
        rule=rule,
        fire_risk_without_consent=fire_risk_without_consent,
        cir_max=risk.cir_max,
        flags=tuple(risk.flags),
    )
