"""What a case needs from the coordinator now, and how urgently: a pure rule, no I/O.

Two steps, so the coordinator's list can stay cached while the clock moves:
- ``facts_of(case)``: what the rule reads from a case (status, first referral, visit, ratings,
  consent, dismissals). The list keeps them on each listing (``repository.listing_of``), so they
  are refreshed with every case write and every event that changes the case.
- ``needs_action(facts, now, threshold)``: the reasons, each ``{"reason", "since", "due_by"}``,
  most urgent first, computed at read time with ``now``.

Reasons (API.md, ``GET /cases?needs_action=true``):

==========================  ===========================================================  ==========================
reason                      when                                                         since / due_by
==========================  ===========================================================  ==========================
``fire_risk_no_consent``    safety found a high fire risk but the person did not         the event / 2 working days
                            consent to share with the LFB (its fire_risk_without_consent
                            event); clears when a visit is requested after it
``safeguarding``            any room's latest Clutter Image Rating >= threshold          the newest such rating
                            (DOMAIN.md level 3: self-neglect concern)                    recorded / 2 working days
``visit_overdue``           an open visit past its due_by, or safety said so             due_by / due_by
                            (visit_overdue event for this visit)
``visit_due_soon``          an open visit due within 24 hours                            due_by - 24 h / due_by
``visit_no_access``         the visit's latest status                                    its change / none
``visit_declined``          the visit's latest status                                    its change / none
``visit_cancelled``         the visit's latest status (e.g. fire consent withdrawn)      its change / none
``first_contact_due``       open, first contact not yet made (never in_progress):        first referral /
                            the group's promise of a call within 5 working days          5 working days (England)
``do_not_contact``          the person may not be contacted: another approach is needed  withdrawal or referral / none
``new_referral``            status ``received``                                          first referral / none
==========================  ===========================================================  ==========================

Closed cases (rejected, completed, cancelled) and erased ones need nothing.

A coordinator can mark some reasons as dealt with (``DISMISSIBLE``); the dismissal hides the
reason until a newer one of that kind arrives (its ``since`` is later than the dismissal). The
others clear only by the case or the visit moving on.

Urgency (``reason_key``, ``case_key``): a reason is in the first tier when it is overdue (due_by
passed) or is a risk to life or wellbeing (fire risk without consent, safeguarding, an overdue
visit); then by ``RANK`` (the order of the table above); then the earliest due_by (none last);
then the oldest ``since``. A case ranks by its most urgent reason, then the oldest case first.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from services.common.vocabulary import CONTACT_SCOPES
from services.common.working_days import promise_due_by

FIRE_RISK_NO_CONSENT = "fire_risk_no_consent"
SAFEGUARDING = "safeguarding"
VISIT_OVERDUE = "visit_overdue"
VISIT_DUE_SOON = "visit_due_soon"
VISIT_NO_ACCESS = "visit_no_access"
VISIT_DECLINED = "visit_declined"
VISIT_CANCELLED = "visit_cancelled"
FIRST_CONTACT_DUE = "first_contact_due"
DO_NOT_CONTACT = "do_not_contact"
NEW_REFERRAL = "new_referral"

# the ranking, most urgent first
REASONS = (FIRE_RISK_NO_CONSENT, SAFEGUARDING, VISIT_OVERDUE, VISIT_DUE_SOON, VISIT_NO_ACCESS, VISIT_DECLINED,
           VISIT_CANCELLED, FIRST_CONTACT_DUE, DO_NOT_CONTACT, NEW_REFERRAL)
RANK = {reason: rank for rank, reason in enumerate(REASONS)}
# how a timeline line names each reason
WORDS = {FIRE_RISK_NO_CONSENT: "high fire risk without consent to share with the LFB",
         SAFEGUARDING: "safeguarding concern (high Clutter Image Rating)",
         VISIT_OVERDUE: "Home Fire Safety Visit overdue", VISIT_DUE_SOON: "Home Fire Safety Visit due within a day",
         VISIT_NO_ACCESS: "no access at the Home Fire Safety Visit",
         VISIT_DECLINED: "Home Fire Safety Visit declined", VISIT_CANCELLED: "Home Fire Safety Visit cancelled",
         FIRST_CONTACT_DUE: "first contact due", DO_NOT_CONTACT: "do not contact: another approach needed",
         NEW_REFERRAL: "new referral"}
# always in the first tier, overdue or not
FIRST_TIER = frozenset({FIRE_RISK_NO_CONSENT, SAFEGUARDING, VISIT_OVERDUE})
# what a coordinator may mark as dealt with; the rest clear by the case or the visit moving
DISMISSIBLE = frozenset({FIRE_RISK_NO_CONSENT, SAFEGUARDING, VISIT_NO_ACCESS, VISIT_DECLINED, VISIT_CANCELLED,
                         DO_NOT_CONTACT})

DEFAULT_SAFEGUARDING_CIR_THRESHOLD = 7  # DOMAIN.md: level 3 prompts a self-neglect concern
SAFEGUARDING_WORKING_DAYS = 2
FIRST_CONTACT_WORKING_DAYS = 5  # the group's promise of a first call
DUE_SOON = timedelta(hours=24)

CLOSED_STATUSES = frozenset({"rejected", "completed", "cancelled"})
BEFORE_FIRST_CONTACT = frozenset({"received", "accepted"})  # in_progress = first contact made
OPEN_VISIT = frozenset({"requested", "acknowledged", "scheduled"})
VISIT_OUTCOME_REASONS = {"no_access": VISIT_NO_ACCESS, "declined": VISIT_DECLINED, "cancelled": VISIT_CANCELLED}
# a visit going ahead (or done) after a fire-risk alert answers it: consent to share was given after all
VISIT_ANSWERS_FIRE_RISK = OPEN_VISIT | {"completed"}

_UTC = timezone.utc
_LAST = datetime.max.replace(tzinfo=_UTC)


class NotDismissible(Exception):
    """This reason clears by the case or the visit moving on, not by a coordinator's mark (409)."""

    def __init__(self, reason: str):
        super().__init__(f"'{reason}' cannot be marked as dealt with: it clears when the "
                         f"{'visit' if reason.startswith('visit') else 'case'} moves on")


class NotNeeded(Exception):
    """The case does not need this now (already dealt with, or it never did) (409)."""

    def __init__(self, reason: str):
        super().__init__(f"this case does not need '{reason}' now: it was dealt with already or has cleared")


def check_threshold(value) -> int:
    """SAFEGUARDING_CIR_THRESHOLD from configuration: a rating from 1 to 9 (absent or blank: 7)."""
    if value is None or str(value).strip() == "":
        return DEFAULT_SAFEGUARDING_CIR_THRESHOLD
    try:
        threshold = int(str(value).strip())
    except ValueError:
        raise ValueError(f"SAFEGUARDING_CIR_THRESHOLD must be a whole number from 1 to 9, not {value!r}") from None
    if not 1 <= threshold <= 9:
        raise ValueError(f"SAFEGUARDING_CIR_THRESHOLD must be from 1 to 9, not {threshold}")
    return threshold


# -- facts --------------------------------------------------------------------------------------
def facts_of(case: dict) -> dict:
    """What the rule reads from a case; small, and stored on its listing."""
    visit = case.get("visit") or None
    consent = case.get("consent") or {}
    return {
        "status": case.get("status"), "held_from": case.get("held_from"), "erased": bool(case.get("erased_at")),
        "received_at": received_at(case),
        "visit": {k: visit.get(k) for k in ("visit_id", "status", "due_by", "changed_at")} if visit else None,
        "visit_overdue": case.get("visit_overdue"),
        "fire_risk_at": case.get("fire_risk_without_consent_at"),
        "rooms": latest_room_ratings(case.get("cir_ratings", [])),
        "do_not_contact_since": _do_not_contact_since(consent, received_at(case)),
        "dismissed": {reason: mark.get("at") for reason, mark in (case.get("attention_dismissed") or {}).items()},
    }


def received_at(case: dict) -> datetime | None:
    """When the first referral arrived: the 5-working-day promise counts from here."""
    referrals = case.get("referrals") or []
    return (referrals[0].get("received_at") if referrals else None) or case.get("created_at")


def recorded_at(rating: dict) -> datetime:
    """When a rating reached the group (ratings stored before this was kept: their day, 00:00 UTC)."""
    if rating.get("recorded_at"):
        return rating["recorded_at"]
    return datetime.combine(date.fromisoformat(str(rating["rated_on"])[:10]), time(0), tzinfo=_UTC)


def latest_room_ratings(ratings: list[dict]) -> dict:
    """Each room's latest rating (by the day rated, then when recorded): {room: {score, recorded_at}}."""
    latest: dict[str, dict] = {}
    for rating in sorted(ratings, key=lambda r: (str(r["rated_on"])[:10], _aware(recorded_at(r)))):
        for room, score in rating["ratings"].items():
            latest[room] = {"score": score, "recorded_at": recorded_at(rating)}
    return latest


def _do_not_contact_since(consent: dict, received: datetime | None) -> datetime | None:
    if consent.get("erased") or consent.get("contact", True):
        return None
    withdrawals = [w["at"] for w in consent.get("withdrawn", []) if w.get("scope") in CONTACT_SCOPES and w.get("at")]
    return max(withdrawals, key=_aware) if withdrawals else received  # else: the referral said so


# -- the rule ----------------------------------------------------------------------------------
def needs_action(facts: dict | None, now: datetime,
                 threshold: int = DEFAULT_SAFEGUARDING_CIR_THRESHOLD) -> list[dict]:
    """Why the case needs the coordinator now, most urgent first (empty: it needs nothing)."""
    if not facts or facts.get("erased") or facts.get("status") in CLOSED_STATUSES:
        return []
    now = _aware(now)
    found = [*_fire_risk(facts), *_safeguarding(facts, threshold), *_visit(facts, now), *_case(facts)]
    dismissed = {reason: _aware(at) for reason, at in (facts.get("dismissed") or {}).items() if at}
    kept = [r for r in found if not (r["reason"] in dismissed and _aware(r["since"]) <= dismissed[r["reason"]])]
    return sorted(kept, key=lambda r: reason_key(r, now))


def _need(reason: str, since, due_by=None) -> dict:
    return {"reason": reason, "since": _aware(since) if since else None, "due_by": _aware(due_by) if due_by else None}


def _fire_risk(facts: dict) -> list[dict]:
    raised = facts.get("fire_risk_at")
    if not raised:
        return []
    visit = facts.get("visit") or {}
    if visit.get("status") in VISIT_ANSWERS_FIRE_RISK and visit.get("changed_at") \
            and _aware(visit["changed_at"]) >= _aware(raised):
        return []
    return [_need(FIRE_RISK_NO_CONSENT, raised, promise_due_by(_aware(raised), SAFEGUARDING_WORKING_DAYS))]


def _safeguarding(facts: dict, threshold: int) -> list[dict]:
    high = [room["recorded_at"] for room in (facts.get("rooms") or {}).values() if room["score"] >= threshold]
    if not high:
        return []
    since = max(_aware(at) for at in high)  # the newest rating that raised it: a dismissal holds until the next
    return [_need(SAFEGUARDING, since, promise_due_by(since, SAFEGUARDING_WORKING_DAYS))]


def _visit(facts: dict, now: datetime) -> list[dict]:
    visit = facts.get("visit") or {}
    status, due_by = visit.get("status"), visit.get("due_by")
    if status in OPEN_VISIT:
        announced = (facts.get("visit_overdue") or {})
        announced = announced if announced.get("visit_id") == visit.get("visit_id") else {}
        if (due_by and _aware(due_by) <= now) or announced:
            return [_need(VISIT_OVERDUE, due_by or announced.get("at"), due_by)]
        if due_by and _aware(due_by) - DUE_SOON <= now:
            return [_need(VISIT_DUE_SOON, _aware(due_by) - DUE_SOON, due_by)]
        return []
    if status in VISIT_OUTCOME_REASONS:
        return [_need(VISIT_OUTCOME_REASONS[status], visit.get("changed_at"))]
    return []


def _case(facts: dict) -> list[dict]:
    status, received = facts.get("status"), facts.get("received_at")
    needs = []
    first_contact_pending = status in BEFORE_FIRST_CONTACT or (
        status == "on_hold" and facts.get("held_from") in BEFORE_FIRST_CONTACT)
    if first_contact_pending and received:
        needs.append(_need(FIRST_CONTACT_DUE, received,
                           promise_due_by(_aware(received), FIRST_CONTACT_WORKING_DAYS)))
    if facts.get("do_not_contact_since"):
        needs.append(_need(DO_NOT_CONTACT, facts["do_not_contact_since"]))
    if status == "received" and received:
        needs.append(_need(NEW_REFERRAL, received))
    return needs


# -- urgency -----------------------------------------------------------------------------------
def overdue(need: dict, now: datetime) -> bool:
    return bool(need["due_by"]) and need["due_by"] <= _aware(now)


def reason_key(need: dict, now: datetime) -> tuple:
    """Sorts reasons most urgent first: first tier (overdue, or a risk), rank, due_by (none last), since."""
    tier = 0 if need["reason"] in FIRST_TIER or overdue(need, now) else 1
    return (tier, RANK[need["reason"]], need["due_by"] or _LAST, need["since"] or _LAST)


def case_key(needs: list[dict], now: datetime, received: datetime | None = None) -> tuple:
    """Sorts cases by their most urgent reason (cases needing nothing last), then the oldest referral."""
    first = min((reason_key(n, now) for n in needs), default=(2, len(REASONS), _LAST, _LAST))
    return (*first, _aware(received) if received else _LAST)


def queue(lines: list[dict], now: datetime, threshold: int = DEFAULT_SAFEGUARDING_CIR_THRESHOLD,
          facts=lambda line: line.get("attention")) -> list[tuple[dict, list[dict]]]:
    """The coordinator's queue: (line, its reasons) for each line needing something, most urgent first."""
    needing = [(line, needs) for line in lines if (needs := needs_action(facts(line), now, threshold))]
    return sorted(needing, key=lambda pair: case_key(pair[1], now, (facts(pair[0]) or {}).get("received_at")))


def dismissal(facts: dict, reason: str, now: datetime, threshold: int = DEFAULT_SAFEGUARDING_CIR_THRESHOLD) -> dict:
    """The reason a coordinator marks as dealt with, as the case needs it now; raises NotDismissible or NotNeeded."""
    if reason not in DISMISSIBLE:
        raise NotDismissible(reason)
    current = next((n for n in needs_action(facts, now, threshold) if n["reason"] == reason), None)
    if current is None:
        raise NotNeeded(reason)
    return current


def _aware(moment: datetime) -> datetime:
    """Datetimes read back from the database are naive UTC."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=_UTC)
