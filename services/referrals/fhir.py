"""A case as HL7 FHIR R4 resources: pure mapping, no I/O.

Each referral of a case is a `ServiceRequest` (the request for peer support, from the referring
agency, about the person); the case itself is one `Task` tracking that request through the case
lifecycle (whose statuses are FHIR Task codes already, DOMAIN.md). `bundle` puts them in a
`Bundle` of type `collection` whose entries refer to each other by `urn:uuid:` full URLs; the
bulk export (`service_requests` / `task` with `bundled=False`) writes plain relative references
(`ServiceRequest/<id>`), as FHIR bulk data does.

Minimised: the person is a Patient contained in each ServiceRequest with their name, date of
birth, address and phone/email only; never the referral narrative, access needs, fire-risk
flags or anything from the other services. An erased case keeps its references, agencies, dates
and statuses, and its ServiceRequests name nobody.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone

from services.common.working_days import promise_due_by

from .attention import FIRST_CONTACT_WORKING_DAYS
from .lifecycle import CaseStatus

# Identifier and code systems of our own (URNs: the group has no FHIR server or registered URLs).
SYSTEM = "urn:referral-hub:harrow"
REFERENCE_SYSTEM = f"{SYSTEM}:referral-reference"
CASE_REFERENCE_SYSTEM = f"{SYSTEM}:case-reference"
EXTERNAL_REFERENCE_SYSTEM = f"{SYSTEM}:agency-reference"  # + ":<agency>": each agency's own numbering
AGENCY_SYSTEM = f"{SYSTEM}:agency"
SERVICE_SYSTEM = f"{SYSTEM}:service"
REASON_SYSTEM = f"{SYSTEM}:referral-reason"
BUSINESS_STATUS_SYSTEM = f"{SYSTEM}:case-stage"
SNOMED = "http://snomed.info/sct"

GROUP_NAME = "Harrow Peer Support Group"
GROUP_IDENTIFIER = {"system": AGENCY_SYSTEM, "value": "harrow-peer-support-group"}

# The case's status is a FHIR Task status code already, spelt with an underscore.
TASK_STATUS = {status: status.value.replace("_", "-") for status in CaseStatus}

# The ServiceRequest's own status (draft | active | on-hold | revoked | completed | ...).
REQUEST_STATUS = {
    CaseStatus.RECEIVED: "active", CaseStatus.ACCEPTED: "active", CaseStatus.IN_PROGRESS: "active",
    CaseStatus.ON_HOLD: "on-hold", CaseStatus.COMPLETED: "completed",
    CaseStatus.REJECTED: "revoked", CaseStatus.CANCELLED: "revoked",
}

# Task.businessStatus: where the case stands in the group's own terms.
BUSINESS_STATUS = {
    CaseStatus.RECEIVED: ("awaiting-review", "Referral received; awaiting the coordinator's review"),
    CaseStatus.ACCEPTED: ("awaiting-first-contact", "Accepted; first contact not yet made"),
    CaseStatus.IN_PROGRESS: ("in-support", "First contact made; in peer support"),
    CaseStatus.ON_HOLD: ("on-hold", "On hold"),
    CaseStatus.COMPLETED: ("support-ended", "Support ended with an outcome"),
    CaseStatus.REJECTED: ("not-accepted", "Not accepted"),
    CaseStatus.CANCELLED: ("cancelled", "Cancelled (consent withdrawn or data erased)"),
}

REFERRAL_CATEGORY = {"coding": [{"system": SNOMED, "code": "3457005", "display": "Patient referral"}]}
PEER_SUPPORT = {"coding": [{"system": SERVICE_SYSTEM, "code": "hoarding-peer-support",
                            "display": "Peer support for people who hoard"}],
                "text": "Hoarding peer support group"}
FIRE_SAFETY_VISIT = {"coding": [{"system": SERVICE_SYSTEM, "code": "home-fire-safety-visit",
                                 "display": "Home Fire Safety Visit (London Fire Brigade)"}]}
HOARDING_REASON = {"system": REASON_SYSTEM, "code": "hoarding", "display": "Hoarding: clutter in the home"}

PATIENT_ID, REQUESTER_ID, GROUP_ID = "patient", "requester", "group"
ERASED = "personal data erased"


def bundle(case: dict, *, promise_days: int = FIRST_CONTACT_WORKING_DAYS) -> dict:
    """GET /cases/{case_id}/fhir: the case's ServiceRequests and its Task, in a collection Bundle."""
    resources = [*service_requests(case, promise_days=promise_days), task(case, bundled=True)]
    return {"resourceType": "Bundle", "id": f"{case['_id']}-export", "type": "collection",
            "timestamp": _instant(case.get("updated_at") or case["created_at"]),
            "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources]}


def service_requests(case: dict, *, promise_days: int = FIRST_CONTACT_WORKING_DAYS) -> list[dict]:
    """One ServiceRequest per referral of the case, the one that opened it first."""
    return [service_request(case, record, promise_days=promise_days) for record in case.get("referrals", [])]


def service_request(case: dict, record: dict, *, promise_days: int = FIRST_CONTACT_WORKING_DAYS) -> dict:
    """A referral as a ServiceRequest: who asked (the agency) for what (peer support) for whom, when."""
    erased = bool(case.get("erased_at") or record.get("erased"))
    received_at = record["received_at"]
    identifiers = [{"use": "official", "system": REFERENCE_SYSTEM, "value": record["reference"]}]
    if record.get("external_ref") and not erased:
        identifiers.append({"use": "secondary", "system": f"{EXTERNAL_REFERENCE_SYSTEM}:{record['agency']}",
                            "value": record["external_ref"]})
    contained = [] if erased else [patient(case["person"])]
    contained.append({"resourceType": "Organization", "id": REQUESTER_ID,
                      "identifier": [{"system": AGENCY_SYSTEM, "value": record["agency"]}]})
    resource = {
        "resourceType": "ServiceRequest", "id": record["referral_id"], "contained": contained,
        "identifier": identifiers,
        "status": REQUEST_STATUS[CaseStatus(case["status"])], "intent": "order",
        "category": [REFERRAL_CATEGORY], "code": PEER_SUPPORT,
        "subject": {"display": ERASED} if erased else {"reference": f"#{PATIENT_ID}"},
        # when the service should start: the group's promise of a first call
        "occurrencePeriod": {"start": _instant(received_at),
                             "end": _instant(promise_due_by(received_at, promise_days))},
        "authoredOn": _instant(received_at),
        "requester": {"reference": f"#{REQUESTER_ID}", "display": record["agency"]},
        "performer": [{"identifier": GROUP_IDENTIFIER, "display": GROUP_NAME}],
        "reasonCode": [_reason(record, erased)],
    }
    if not erased and (record.get("requested") or {}).get("home_fire_safety_visit"):
        resource["orderDetail"] = [FIRE_SAFETY_VISIT]
    return resource


def patient(person: dict) -> dict:
    """The person, contained: only what identifies and reaches them."""
    address = person.get("address") or {}
    resource = {"resourceType": "Patient", "id": PATIENT_ID,
                "name": [{"use": "official", "family": person["family_name"], "given": [person["given_name"]]}],
                "birthDate": str(person["date_of_birth"])[:10],
                "address": [{"use": "home", "line": [line for line in (address.get("line1"), address.get("line2"))
                                                     if line],
                             "city": address.get("town"), "postalCode": address.get("postcode"),
                             "country": "GB"}]}
    telecom = [{"system": system, "value": person[key], "use": "home"}
               for system, key in (("phone", "phone"), ("email", "email")) if person.get(key)]
    if telecom:
        resource["telecom"] = telecom
    return resource


def task(case: dict, *, bundled: bool = False) -> dict:
    """The case as the Task that fulfils its referrals: status, stage, owner, dates."""
    status = CaseStatus(case["status"])
    code, text = BUSINESS_STATUS[status]
    if status is CaseStatus.ON_HOLD and case.get("held_from"):
        text = f"On hold (was {str(case['held_from']).replace('_', ' ')})"
    visit = case.get("visit") or {}
    if visit.get("status"):
        text += f"; Home Fire Safety Visit {str(visit['status']).replace('_', ' ')}"
    requests = [_reference("ServiceRequest", r["referral_id"], bundled) for r in case.get("referrals", [])]
    resource = {
        "resourceType": "Task", "id": case["_id"],
        "contained": [{"resourceType": "Organization", "id": GROUP_ID, "identifier": [GROUP_IDENTIFIER],
                       "name": GROUP_NAME}],
        "identifier": [{"use": "official", "system": CASE_REFERENCE_SYSTEM, "value": case["reference"]}],
        "basedOn": requests,
        "status": TASK_STATUS[status],
        "businessStatus": {"coding": [{"system": BUSINESS_STATUS_SYSTEM, "code": code}], "text": text},
        "intent": "order",
        "code": PEER_SUPPORT,
        "authoredOn": _instant(case["created_at"]),
        "lastModified": _instant(case.get("updated_at") or case["created_at"]),
        "owner": {"reference": f"#{GROUP_ID}", "display": GROUP_NAME},
    }
    if requests:
        resource["focus"] = requests[0]
    return resource


def resources_of(case: dict, resource_type: str, *, promise_days: int = FIRST_CONTACT_WORKING_DAYS) -> list[dict]:
    """The bulk export's lines for one case: its ServiceRequests, or its Task."""
    if resource_type == "ServiceRequest":
        return service_requests(case, promise_days=promise_days)
    if resource_type == "Task":
        return [task(case)]
    raise ValueError(f"no FHIR export of {resource_type}")


EXPORT_TYPES = ("ServiceRequest", "Task")


def ndjson(cases: Iterable[dict], resource_type: str, *,
           promise_days: int = FIRST_CONTACT_WORKING_DAYS) -> Iterator[bytes]:
    """The bulk export: one resource of `resource_type` a line (FHIR bulk data NDJSON), case by case."""
    for case in cases:
        for resource in resources_of(case, resource_type, promise_days=promise_days):
            yield (json.dumps(resource, separators=(",", ":"), ensure_ascii=False) + "\n").encode("utf-8")


def _reason(record: dict, erased: bool) -> dict:
    ratings = (record.get("hoarding") or {}).get("clutter_image_rating") or {}
    reason = {"coding": [HOARDING_REASON]}
    if ratings and not erased:
        reason["text"] = f"Clutter Image Rating at referral: highest {max(ratings.values())} of 9"
    return reason


def _reference(resource_type: str, resource_id: str, bundled: bool) -> dict:
    return {"reference": f"urn:uuid:{resource_id}" if bundled else f"{resource_type}/{resource_id}"}


def _instant(moment: datetime) -> str:
    """A FHIR dateTime: UTC with an offset (BSON keeps milliseconds)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")
