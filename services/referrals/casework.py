"""A coordinator's work on a case: lifecycle moves, consent withdrawal and erasure.

Each verb reads nothing itself: it takes the case as read, decides the change,
its timeline entries and its events, and writes them in one version-checked
update (`store.update_case`), so two coordinators acting at once cannot both
win (the loser gets StaleCase, a 409). The HTTP layer only loads the request
and calls these.
"""
from __future__ import annotations

import uuid

from services.common.auth import Principal
from services.common.envelope import utcnow
from services.common.http import Conflict
from services.common.logs import get_logger
from services.common.vocabulary import CIR_RATING_RECORDED, CONSENT_ALL, CONSENT_CONTACT

from . import attention, domain
from .events import referral_event, timeline_entry
from .lifecycle import TERMINAL_STATUSES, CaseStatus, next_status

log = get_logger(__name__)


def status_move(case, to, reason, principal, correlation_id) -> dict:
    """A lifecycle move: the new status, its timeline entry and its event (raises IllegalTransition)."""
    current = case["status"]
    target = next_status(current, to, case.get("held_from")).value
    event = referral_event("case_status_changed", case, correlation_id,
                           {"from": current, "to": target, "reason": reason, "actor": principal.actor,
                            "reference": case["reference"]})
    return {"changes": {"status": target, "held_from": current if target == "on_hold" else None,
                        **domain.closing_changes(case["_id"], target, TERMINAL_STATUSES)},
            "entry": timeline_entry(event, f"Case moved from {current} to {target}",
                                    actor=principal.actor, reason=reason),
            "event": event}


def move(store, case, to, reason, principal, correlation_id) -> None:
    moved = status_move(case, to, reason, principal, correlation_id)
    store.update_case(case["_id"], case["version"], moved["changes"], [moved["entry"]], [moved["event"]])
    log.info("case_status_changed", from_status=case["status"], to_status=moved["changes"]["status"])


def record_rating(store, case, ratings, rated_on, principal, correlation_id) -> None:
    """The coordinator's own rating: kept with who and when, and it sets the level (domain.rating_levels).

    Its event carries numbers only (each room's first and latest rating, and whether the person
    opted in to hear their progress): notifications writes to the person from it."""
    if case.get("erased_at"):
        raise Conflict("this case was erased")
    now = utcnow()
    rating = domain.coordinator_rating(ratings, rated_on=rated_on, actor=principal.actor,
                                       reference=case["reference"], recorded_at=now)
    all_ratings = [*case.get("cir_ratings", []), rating]
    levels = domain.rating_levels(all_ratings, now.date())
    event = referral_event(CIR_RATING_RECORDED, case, correlation_id,
                           {"rooms": domain.room_progress(domain.cir_trend(all_ratings)),
                            "progress_updates_opted_in": bool((case.get("progress_updates") or {})
                                                              .get("opted_in"))})
    entry = timeline_entry(event, f"Clutter Image Rating recorded by the coordinator (highest "
                                  f"{max(ratings.values())}, level {levels['level']})", actor=principal.actor)
    store.update_case(case["_id"], case["version"], {"cir_ratings": all_ratings, **levels}, [entry], [event])
    log.info("cir_rating_recorded", level=levels["level"])


def set_progress_updates(store, case, opted_in, principal, correlation_id) -> None:
    """The person opted in to (or out of) hearing their progress after each rating: who and when."""
    if case.get("erased_at"):
        raise Conflict("this case was erased")
    now = utcnow()
    entry = {"event_id": str(uuid.uuid4()), "at": now, "type": "progress_updates_changed",
             "summary": "The person wants messages about their progress" if opted_in
             else "The person does not want messages about their progress",
             "source": "referrals", "correlation_id": correlation_id, "actor": principal.actor, "reason": None}
    store.update_case(case["_id"], case["version"],
                      {"progress_updates": domain.progress_updates(opted_in, at=now, actor=principal.actor)},
                      [entry], [])
    log.info("progress_updates_changed", opted_in=opted_in)


def dismiss_attention(store, case, reason, note, principal, correlation_id, *, threshold: int) -> None:
    """The coordinator dealt with one reason the case needed them (attention.py): kept with who, when and
    their note, on the timeline too. It stays dealt with until a newer reason of that kind arrives.
    Raises NotDismissible / NotNeeded (409) for a reason that cannot be, or need not be, marked."""
    now = utcnow()
    need = attention.dismissal(attention.facts_of(case), reason, now, threshold)
    entry = {"event_id": str(uuid.uuid4()), "at": now, "type": "attention_dismissed",
             "summary": f"Marked as dealt with: {attention.WORDS[reason]}", "source": "referrals",
             "correlation_id": correlation_id, "actor": principal.actor, "reason": note}
    mark = {"at": now, "actor": principal.actor, "note": note, "since": need["since"]}
    store.update_case(case["_id"], case["version"], {f"attention_dismissed.{reason}": mark}, [entry], [])
    log.info("attention_dismissed", attention_reason=reason)


def withdraw_consent(store, case, scope, reason, principal, correlation_id) -> None:
    """Consent off for the scope's purposes; withdrawing it all also cancels an open case."""
    if case.get("erased_at"):
        raise Conflict("this case was erased; there is no consent left to withdraw")
    event = referral_event("consent_withdrawn", case, correlation_id,
                           {"scope": scope, "reason": reason, "actor": principal.actor})
    changes = {"consent": domain.consent_after_withdrawal(case["consent"], scope, at=utcnow(),
                                                          actor=principal.actor, reason=reason)}
    entries = [timeline_entry(event, f"Consent withdrawn ({scope})", actor=principal.actor, reason=reason)]
    events = [event]
    if scope == CONSENT_ALL and case["status"] not in TERMINAL_STATUSES:
        moved = status_move(case, CaseStatus.CANCELLED, "consent withdrawn", principal, correlation_id)
        changes.update(moved["changes"])
        entries.append(moved["entry"])
        events.append(moved["event"])
    store.update_case(case["_id"], case["version"], changes, entries, events)
    log.info("consent_withdrawn", scope=scope)


# Who withdraws consent when the person texts STOP: the person, through the SMS provider.
PERSON_BY_SMS = Principal(key_id="sms", role="person")


def stop_by_sms(store, case_id, correlation_id) -> bool:
    """The person texted STOP (notifications' sms_stop_received): consent to contact withdrawn,
    exactly as a coordinator would record it. False when there was nothing left to withdraw
    (already withdrawn, a redelivery, an erased case). A StaleCase is retried by the consumer."""
    case = store.get(case_id)
    if case is None:
        raise LookupError("no such case yet")  # retried, then parked for a person to look at
    if case.get("erased_at") or case["consent"].get("contact") is False:
        return False
    withdraw_consent(store, case, CONSENT_CONTACT, "The person texted STOP", PERSON_BY_SMS, correlation_id)
    return True


def erase(store, case, reason, principal, correlation_id) -> bool:
    """Personal data out of the case, its timeline's free text and its parked events; False if done before."""
    if case.get("erased_at"):
        return False
    event = referral_event("case_erased", case, correlation_id, {"actor": principal.actor})
    changes = domain.erased_case(case, at=utcnow())
    entries = [timeline_entry(event, "Personal data erased on request", actor=principal.actor, reason=reason)]
    events = [event]
    if case["status"] not in TERMINAL_STATUSES:
        moved = status_move(case, CaseStatus.CANCELLED, "personal data erased on request", principal,
                            correlation_id)
        changes.update(moved["changes"])
        entries.insert(0, moved["entry"])
        events.insert(0, moved["event"])
    # coordinators' reasons are free text and may name the person: they go too
    changes["timeline"] = [{**e, "reason": None} for e in case.get("timeline", [])] + \
        [{**e, "reason": None} for e in entries]
    person = case.get("person") or {}
    store.update_case(case["_id"], case["version"], changes, [], events)
    if person.get("date_of_birth") and person.get("address"):
        store.forget_birth_date(case["_id"], person)
    store.erase_parked_events(case["_id"])
    log.info("case_erased", reason_given=bool(reason))
    return True
