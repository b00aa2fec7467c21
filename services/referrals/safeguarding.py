"""An adult social care referral pack for a self-neglect concern (Care Act 2014 s.42).

Minimised to what that referral needs: who the person is and how to reach them (name, date of
birth, address, phone), how cluttered the home is and how that has changed (the Clutter Image
Ratings and their trend), the fire risks and what became of the fire safety visit, and who is
referring and why (the coordinator's note). Never the referral narrative, access needs, email,
diagnoses or anything about group attendance.

Produced only on a recorded lawful basis: the person's consent as recorded with the referral
(and not withdrawn), or another basis the coordinator records now. The case keeps who produced
a pack, when and on which basis (`safeguarding_packs`); the note goes on the timeline as the
move's reason, so erasure clears it with the rest of the timeline's free text.
"""
from __future__ import annotations

import uuid
from datetime import datetime

from jinja2 import Environment, PackageLoader, select_autoescape

from services.common.envelope import utcnow
from services.common.http import Conflict
from services.common.logs import get_logger

from . import domain
from .fhir import GROUP_NAME

log = get_logger(__name__)

CONCERN = "Self-neglect (hoarding): adult safeguarding concern under the Care Act 2014, section 42"
TIMELINE_TYPE = "safeguarding_pack_produced"

# UK GDPR Article 6 basis, and for health data the Article 9 condition that goes with it
LAWFUL_BASES = {
    "consent": "The person's consent (UK GDPR Art. 6(1)(a) and Art. 9(2)(a))",
    "vital_interests": "Vital interests: to protect the person's life (UK GDPR Art. 6(1)(d) and Art. 9(2)(c))",
    "public_task": "Public task (UK GDPR Art. 6(1)(e); Art. 9(2)(g) with DPA 2018 Sch. 1 para. 18, "
                   "safeguarding of individuals at risk)",
    "legal_obligation": "Legal obligation (UK GDPR Art. 6(1)(c); Art. 9(2)(g) with DPA 2018 Sch. 1 para. 18)",
    "legitimate_interests": "Legitimate interests (UK GDPR Art. 6(1)(f); Art. 9(2)(g) with DPA 2018 Sch. 1 "
                            "para. 18, safeguarding of individuals at risk)",
}

FIRE_RISK_WORDS = {"smoker": "Smokes", "oxygen_use": "Uses home oxygen", "lives_alone": "Lives alone",
                   "mobility_impaired": "Mobility impaired", "previous_fire": "Has had a fire at home before",
                   "blocked_exits": "Exits blocked by clutter"}
SMOKE_ALARM_WORDS = {"no": "No working smoke alarm", "unknown": "Not known whether a smoke alarm works"}

_templates = Environment(loader=PackageLoader("services.referrals", "templates"),
                         autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)


def refusal(case: dict, basis: str) -> str | None:
    """Why a pack cannot be produced on this basis, or None when it can."""
    if case.get("erased_at"):
        return "this case was erased; there is nothing to refer"
    if basis == "consent" and not (case.get("consent") or {}).get("referral"):
        others = ", ".join(b for b in LAWFUL_BASES if b != "consent")
        return ("the person's consent is not on record (it was withdrawn); record the lawful basis you rely on "
                f"instead: one of {others}")
    return None


def pack(case: dict, *, basis: str, note: str, actor: str, at: datetime, pack_id: str) -> dict:
    """The pack's content (pure): only what an adult social care self-neglect referral needs."""
    person = case["person"]
    ratings = sorted(case.get("cir_ratings", []), key=lambda r: str(r["rated_on"]))
    latest_referral = max(case["referrals"], key=lambda r: r["received_at"])
    fire_risk = latest_referral.get("fire_risk") or {}
    flags = [words for flag, words in FIRE_RISK_WORDS.items() if fire_risk.get(flag)]
    if fire_risk.get("working_smoke_alarm") in SMOKE_ALARM_WORDS:
        flags.append(SMOKE_ALARM_WORDS[fire_risk["working_smoke_alarm"]])
    visit = case.get("visit") or {}
    consent = case.get("consent") or {}
    return {
        "pack_id": pack_id, "produced_at": at.isoformat(), "case_reference": case["reference"],
        "concern": CONCERN,
        "lawful_basis": {"basis": basis, "explanation": LAWFUL_BASES[basis], "recorded_by": actor,
                         "recorded_at": at.isoformat(),
                         **({"consent_obtained_by": consent.get("obtained_by"),
                             "consent_obtained_on": consent.get("obtained_on")} if basis == "consent" else {})},
        "person": {"name": f"{person['given_name']} {person['family_name']}",
                   "date_of_birth": str(person["date_of_birth"])[:10],
                   "address": {k: person["address"].get(k) for k in ("line1", "line2", "town", "postcode")},
                   "phone": person.get("phone")},
        "clutter_image_rating": {
            "level": case.get("level"), "highest": case.get("cir_max"),
            "latest": {"rated_on": str(ratings[-1]["rated_on"])[:10], "ratings": ratings[-1]["ratings"]}
            if ratings else None,
            "trend": {room: [{"rated_on": p["rated_on"], "score": p["score"]} for p in points]
                      for room, points in domain.cir_trend(ratings).items()}},
        "fire_risk": {"flags": flags},
        "fire_safety_visit": {"status": visit.get("status"), "priority": visit.get("priority"),
                              "as_of": visit["changed_at"].isoformat() if visit.get("changed_at") else None}
        if visit else None,
        "referred_by": {"organisation": GROUP_NAME, "coordinator": actor, "reason": note},
    }


def render(document: dict, kind: str) -> str:
    """The pack as a printable page (`html`) or plain text (`text`)."""
    template = _templates.get_template(f"safeguarding_pack.{'html' if kind == 'html' else 'txt'}")
    return template.render(pack=document, words=lambda code: str(code).replace("_", " ") if code else "none")


def produce(store, audit, case: dict, basis: str, note: str, principal, correlation_id: str) -> dict:
    """Check the basis, record who produced a pack and why (audited, on the timeline), return the pack."""
    refused = refusal(case, basis)
    if refused:
        raise Conflict(refused)
    at, pack_id = utcnow(), str(uuid.uuid4())
    document = pack(case, basis=basis, note=note, actor=principal.actor, at=at, pack_id=pack_id)
    # recorded before anything is shown: a pack that fails later was still asked for
    audit.disclosed(TIMELINE_TYPE, case["_id"], correlation_id, principal=principal)
    produced = {"pack_id": pack_id, "at": at, "actor": principal.actor, "lawful_basis": basis}
    entry = {"event_id": pack_id, "at": at, "type": TIMELINE_TYPE,
             "summary": f"Adult social care referral pack produced (self-neglect concern; lawful basis: "
                        f"{basis.replace('_', ' ')})",
             "source": "referrals", "correlation_id": correlation_id, "actor": principal.actor, "reason": note}
    store.update_case(case["_id"], case["version"],
                      {"safeguarding_packs": [*case.get("safeguarding_packs", []), produced]}, [entry], [])
    log.info("safeguarding_pack_produced", lawful_basis=basis)
    return document
