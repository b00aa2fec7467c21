"""Words the services share on the wire: one place for each (ARCHITECTURE.md, Events).

These are the contract between services, not domain rules: which consent
scopes exist, which events each service publishes, and what a UK mobile
number looks like (a fact of the Ofcom numbering plan that intake validates
and notifications relies on when it chooses SMS).
"""
from __future__ import annotations

import re

# consent_withdrawn scopes (DOMAIN.md, Privacy)
CONSENT_ALL = "all"
CONSENT_FIRE_SERVICE = "fire_service"
CONSENT_CONTACT = "contact"
CONSENT_SCOPES = (CONSENT_ALL, CONSENT_FIRE_SERVICE, CONSENT_CONTACT)
# scopes that withdraw consent to share with the fire service / to contact the person
FIRE_SERVICE_SCOPES = frozenset({CONSENT_ALL, CONSENT_FIRE_SERVICE})
CONTACT_SCOPES = frozenset({CONSENT_ALL, CONSENT_CONTACT})

# event types by producer
REFERRAL_RECEIVED = "referral_received"
CASE_STATUS_CHANGED = "case_status_changed"
CONSENT_WITHDRAWN = "consent_withdrawn"
CASE_ERASED = "case_erased"
CIR_RATING_RECORDED = "cir_rating_recorded"  # numbers only: per room first and latest, and the opt-in
VISIT_REQUESTED = "visit_requested"
VISIT_NOT_REQUESTED = "visit_not_requested"
FIRE_RISK_WITHOUT_CONSENT = "fire_risk_without_consent"
VISIT_STATUS_CHANGED = "visit_status_changed"
VISIT_OVERDUE = "visit_overdue"
NOTIFICATION_SENT = "notification_sent"
NOTIFICATION_FAILED = "notification_failed"
# the person's own answers, heard by notifications (POST /inbound/sms, /inbound/email-bounce)
SMS_STOP_RECEIVED = "sms_stop_received"    # texted STOP: referrals withdraws consent to contact
PERSON_REPLIED = "person_replied"          # texted anything else: a task for the coordinator
EMAIL_BOUNCED = "email_bounced"            # an address of theirs refuses mail for good
# group sessions (notifications owns them): a person's answer to an invitation, their attendance
SESSION_REPLY_RECORDED = "session_reply_recorded"
SESSION_ATTENDANCE_RECORDED = "session_attendance_recorded"

EVENT_TYPES = {
    "referrals": (REFERRAL_RECEIVED, CASE_STATUS_CHANGED, CONSENT_WITHDRAWN, CASE_ERASED, CIR_RATING_RECORDED),
    "safety": (VISIT_REQUESTED, VISIT_NOT_REQUESTED, FIRE_RISK_WITHOUT_CONSENT, VISIT_STATUS_CHANGED,
               VISIT_OVERDUE),
    "notifications": (NOTIFICATION_SENT, NOTIFICATION_FAILED, SMS_STOP_RECEIVED, PERSON_REPLIED,
                      EMAIL_BOUNCED, SESSION_REPLY_RECORDED, SESSION_ATTENDANCE_RECORDED),
}

# 071-075 and 077-079 are mobiles; 070 and 076 are personal numbers and pagers (Ofcom).
_UK_MOBILE = re.compile(r"^(?:\+44|0044|0)(7[1-57-9]\d{8})$")


def uk_mobile(phone: str | None) -> str | None:
    """The number in +447… form if it is a UK mobile, else None (spaces, dashes, brackets ignored)."""
    if not phone:
        return None
    match = _UK_MOBILE.match(re.sub(r"[\s\-().]", "", phone))
    return f"+44{match.group(1)}" if match else None
