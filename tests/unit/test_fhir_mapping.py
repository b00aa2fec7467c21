"""A case as FHIR R4: the mapping, checked against the R4 (4.0.1) models of fhir.resources."""
import json
import uuid
from datetime import datetime, timezone

import pytest
from fhir.resources import __fhir_version__
from fhir.resources.bundle import Bundle
from fhir.resources.servicerequest import ServiceRequest
from fhir.resources.task import Task

from services.common.mongo import storable
from services.referrals import domain, fhir
from services.referrals.lifecycle import CaseStatus
from services.referrals.schemas import ReferralSchema
from tests.support import referral

RECEIVED = datetime(2026, 11, 20, 9, 30, tzinfo=timezone.utc)  # a Friday


def a_case(body=None, **changes):
    loaded = storable(ReferralSchema().load(body or referral()))
    record = domain.referral_record(loaded, referral_id=str(uuid.uuid4()), reference="HRW-2026-000007",
                                    agency="mind", received_at=RECEIVED, key_id="k1")
    case = domain.new_case(loaded, record, case_id=str(uuid.uuid4()), person_key="ada|1956-02-29|HA12AB")
    case.update(changes)
    return case


def valid(model, resource):
    """Parsed by the R4 model (raises on anything R4 does not allow), and back to the same JSON."""
    return model.parse_obj(json.loads(json.dumps(resource)))


def test_the_models_are_fhir_r4():
    assert __fhir_version__ == "4.0.1"


def test_a_case_is_a_valid_r4_bundle_of_its_service_request_and_task():
    case = a_case()
    bundle = valid(Bundle, fhir.bundle(case))
    assert bundle.type == "collection"
    kinds = [entry.resource.resource_type for entry in bundle.entry]
    assert kinds == ["ServiceRequest", "Task"]
    request, task = (entry.resource for entry in bundle.entry)
    # the Task points at the ServiceRequest by the entry's full URL
    assert task.focus.reference == bundle.entry[0].fullUrl == f"urn:uuid:{request.id}"
    assert [r.reference for r in task.basedOn] == [bundle.entry[0].fullUrl]


def test_the_service_request_says_who_asked_for_what_for_whom_and_when():
    case = a_case()
    request = valid(ServiceRequest, fhir.service_request(case, case["referrals"][0]))
    assert request.status == "active" and request.intent == "order"
    assert [(i.system, i.value) for i in request.identifier] == [
        (fhir.REFERENCE_SYSTEM, "HRW-2026-000007"),
        (f"{fhir.EXTERNAL_REFERENCE_SYSTEM}:mind", "MIND-2026-0042")]
    assert request.category[0].coding[0].code == "3457005"  # SNOMED CT: patient referral
    assert request.reasonCode[0].coding[0].code == "hoarding"
    assert "highest 7" in request.reasonCode[0].text
    assert request.orderDetail[0].coding[0].code == "home-fire-safety-visit"
    contained = {r.resource_type: r for r in request.contained}
    assert request.requester.reference == "#requester"
    assert contained["Organization"].identifier[0].value == "mind"
    assert request.subject.reference == "#patient"
    assert request.authoredOn.isoformat() == "2026-11-20T09:30:00+00:00"
    # first contact promised within 5 working days: Friday 20 November -> Friday 27 November, London
    assert request.occurrencePeriod.end.isoformat() == "2026-11-27T23:59:59+00:00"


def test_the_person_is_minimised_to_name_birth_date_address_and_contact():
    case = a_case()
    resource = fhir.service_request(case, case["referrals"][0])
    [person] = [r for r in resource["contained"] if r["resourceType"] == "Patient"]
    assert set(person) == {"resourceType", "id", "name", "birthDate", "address", "telecom"}
    assert person["name"] == [{"use": "official", "family": "Jones", "given": ["Ada"]}]
    assert person["birthDate"] == "1956-02-29"
    assert person["address"][0]["postalCode"] == "HA1 2AB"
    assert {t["system"]: t["value"] for t in person["telecom"]} == {"phone": "+447700900123",
                                                                   "email": "ada@example.org"}
    text = json.dumps(resource)
    for never in ("narrative", "hard of hearing", "smoker", "blocked_exits", "Sam Patel"):
        assert never not in text


@pytest.mark.parametrize("status, task_status, request_status", [
    ("received", "received", "active"), ("accepted", "accepted", "active"),
    ("in_progress", "in-progress", "active"), ("on_hold", "on-hold", "on-hold"),
    ("completed", "completed", "completed"), ("rejected", "rejected", "revoked"),
    ("cancelled", "cancelled", "revoked"),
])
def test_each_case_status_maps_to_the_task_and_request_status(status, task_status, request_status):
    case = a_case(status=status, held_from="accepted" if status == "on_hold" else None)
    task = valid(Task, fhir.task(case))
    request = valid(ServiceRequest, fhir.service_request(case, case["referrals"][0]))
    assert (task.status, request.status) == (task_status, request_status)


def test_every_case_status_has_a_task_status():
    assert set(fhir.TASK_STATUS) == set(CaseStatus) == set(fhir.BUSINESS_STATUS) == set(fhir.REQUEST_STATUS)


def test_the_task_tracks_the_case_for_the_group():
    updated = datetime(2026, 11, 25, 14, 0, tzinfo=timezone.utc)
    case = a_case(status="on_hold", held_from="in_progress", updated_at=updated,
                  visit={"visit_id": "v1", "status": "scheduled", "priority": "high"})
    task = valid(Task, fhir.task(case))
    assert task.id == case["_id"]
    assert task.identifier[0].value == case["reference"]
    assert task.focus.reference == f"ServiceRequest/{case['referrals'][0]['referral_id']}"
    assert task.businessStatus.coding[0].code == "on-hold"
    assert task.businessStatus.text == "On hold (was in progress); Home Fire Safety Visit scheduled"
    assert task.authoredOn.isoformat() == "2026-11-20T09:30:00+00:00"
    assert task.lastModified.isoformat() == "2026-11-25T14:00:00+00:00"
    assert task.owner.display == "Harrow Peer Support Group"
    assert task.contained[0].name == "Harrow Peer Support Group"


def test_a_linked_referral_is_a_second_service_request_the_task_is_based_on():
    case = a_case()
    second = {**case["referrals"][0], "referral_id": str(uuid.uuid4()), "reference": "HRW-2026-000009",
              "agency": "rethink", "external_ref": None}
    case["referrals"].append(second)
    bundle = valid(Bundle, fhir.bundle(case))
    requests = [e.resource for e in bundle.entry if e.resource.resource_type == "ServiceRequest"]
    assert [r.identifier[0].value for r in requests] == ["HRW-2026-000007", "HRW-2026-000009"]
    task = bundle.entry[-1].resource
    assert task.focus.reference == f"urn:uuid:{requests[0].id}"
    assert len(task.basedOn) == 2


def test_an_erased_case_exports_nothing_personal():
    case = a_case()
    case.update(domain.erased_case(case, at=datetime(2026, 12, 1, tzinfo=timezone.utc)), status="cancelled")
    bundle = fhir.bundle(case)
    valid(Bundle, bundle)
    text = json.dumps(bundle)
    for never in ("Ada", "Jones", "1956", "HA1 2AB", "Station Road", "+447700900123", "ada@example.org",
                  "MIND-2026-0042", '"resourceType": "Patient"'):
        assert never not in text
    request = bundle["entry"][0]["resource"]
    assert request["subject"] == {"display": "personal data erased"}
    assert request["identifier"] == [{"use": "official", "system": fhir.REFERENCE_SYSTEM,
                                      "value": "HRW-2026-000007"}]


def test_the_bulk_lines_are_one_kind_of_resource_with_plain_references():
    case = a_case()
    [request] = fhir.resources_of(case, "ServiceRequest")
    [task] = fhir.resources_of(case, "Task")
    assert request["resourceType"] == "ServiceRequest" and task["resourceType"] == "Task"
    assert task["focus"] == {"reference": f"ServiceRequest/{request['id']}"}
    with pytest.raises(ValueError):
        fhir.resources_of(case, "Patient")
