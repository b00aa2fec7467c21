"""The case page's "Refer to adult social care" form: the lawful basis in plain words, and why.

`pack_from_form` returns `(body, [])` with the body of the referrals service's
`POST /cases/{case_id}/safeguarding-pack`, or `(None, errors)`; nothing is sent while there is an
error. Whether a basis holds (consent still on record, the case not erased) is the service's rule:
its 409 comes back as `refused_in_words`.
"""
from __future__ import annotations

from .visit_form import error

NOTE_MAX = 2000  # the referrals service's limit for the pack's note
# the service's lawful_basis codes, in a coordinator's words, with the law each one rests on
LAWFUL_BASES = (
    ("consent", "They agreed to it", "Their consent, recorded with the referral (UK GDPR Art. 6(1)(a), 9(2)(a))"),
    ("vital_interests", "To protect their life", "Their life is at risk and they cannot agree (Art. 6(1)(d), 9(2)(c))"),
    ("public_task", "Safeguarding as a public task", "On behalf of a public body (Art. 6(1)(e))"),
    ("legal_obligation", "The law requires it", "A legal duty to share (Art. 6(1)(c))"),
    ("legitimate_interests", "To keep an adult at risk safe", "Their safety outweighs their privacy (Art. 6(1)(f))"),
)


def offered(case: dict) -> list[tuple[str, str, str]]:
    """The bases to offer: consent only while the person's consent to the referral is on record."""
    has_consent = bool((case.get("consent") or {}).get("referral"))
    return [basis for basis in LAWFUL_BASES if basis[0] != "consent" or has_consent]


def pack_from_form(form) -> tuple[dict | None, list[dict]]:
    basis, note = form.get("lawful-basis", ""), form.get("pack-note", "").strip()
    errors = []
    if basis not in {code for code, _, _ in LAWFUL_BASES}:
        errors.append(error("lawful-basis", "Select the lawful basis for sharing their details"))
    if not note:
        errors.append(error("pack-note", "Enter why you are referring them to adult social care"))
    elif len(note) > NOTE_MAX:
        errors.append(error("pack-note", f"Why you are referring them must be {NOTE_MAX} characters or fewer"))
    return (None, errors) if errors else ({"lawful_basis": basis, "note": note}, [])


def refused_in_words(case_now: dict | None, basis: str) -> str:
    """The service's 409, said plainly: the case as it is now tells which rule refused it."""
    if case_now is None or case_now.get("erased_at"):
        return "The pack was not made: their personal data has been erased, so there is nothing to refer"
    if basis == "consent":
        return ("The pack was not made: their consent is no longer on record. Choose another lawful basis "
                "if one applies")
    return "The pack was not made: the case has changed. Check it below and try again"
