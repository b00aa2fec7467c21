"""The partner's pages: refer someone, your referrals, a referral. Each calls the referrals API as the person."""
from __future__ import annotations

import uuid

from services.common.logs import get_logger

from . import referral_form, web
from .dependencies import ApiError

log = get_logger(__name__)


def new_form(page, values=None, errors=None, status: int = 200):
    person = page.person or {}
    values = values or {"referrer.name": person.get("name") or "", "referrer.email": person.get("email", ""),
                        "consent.contact": "yes", "requested.peer_support": "yes",
                        "submission_id": uuid.uuid4().hex}
    return page.render("referral_new.html", status=status, values=values, errors=errors or [],
                       error_for={e["path"]: e["text"] for e in (errors or [])},
                       rooms=referral_form.ROOMS, fire_flags=referral_form.FIRE_FLAGS)


def submit(services, page):
    form = page.request.form
    values = {key: form.get(key) for key in form.keys()}  # everything typed comes back on an error
    body = referral_form.body_from_form(form)
    try:
        created = services.as_person(page).call("referrals", "POST", "/referrals", json=body,
                                                idempotency_key=form.get("submission_id") or None)
    except ApiError as exc:
        if exc.status == 400 and exc.body.get("error") == "validation_error":
            errors = referral_form.errors_from_api(exc.body.get("fields", {}))
            log.info("referral_form_refused", fields=sorted(exc.body.get("fields", {})))
            return new_form(page, values, errors, 400)
        raise
    log.info("referral_submitted", case_id=created["case_id"])
    return page.redirect(f"/referrals/{created['reference']}?sent=1")


def your_referrals(services, page):
    reference = page.request.args.get("reference", "").strip().upper()
    page_number = web.page_number(page.request.args)
    params = {"page": page_number, "per_page": 25, **({"reference": reference} if reference else {})}
    listing = services.as_person(page).call("referrals", "GET", "/referrals", params=params)
    return page.render("referrals.html", listing=listing, reference=reference, page_number=page_number)


def one_referral(services, page, reference: str):
    try:
        referral = services.as_person(page).call("referrals", "GET", f"/referrals/{reference}")
    except ApiError as exc:
        if exc.status in (403, 404):
            # another agency's reference looks exactly like a missing one; the log says which, not whose
            log.info("referral_not_shown", status=exc.status)
            return page.render("problem.html", status=404, title="Referral not found",
                               message="We cannot find a referral with that reference among your "
                                       "agency's referrals. Check the reference, or see your referrals.",
                               link=("/referrals", "See your referrals"))
        raise
    return page.render("referral.html", referral=referral, sent=page.request.args.get("sent") == "1")
