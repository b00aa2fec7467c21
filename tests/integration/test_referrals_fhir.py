"""FHIR R4 over the real wire: a case's Bundle, the admins' bulk NDJSON export, both audited."""
import json

import pytest
from fhir.resources.bundle import Bundle
from fhir.resources.servicerequest import ServiceRequest
from fhir.resources.task import Task

from tests.support import referral


@pytest.fixture
def admin(api, key_store):
    api.tokens["admin"] = key_store.create("admin")[1]
    return "admin"


@pytest.fixture
def audit(api, mongo_client, databases):
    return mongo_client[databases["referrals"]]["audit"]


def test_a_case_comes_as_a_valid_r4_bundle_and_the_read_is_audited(api, audit):
    created = api.refer().json()
    api.move(created["case_id"], "accepted")
    response = api.call("GET", f"/cases/{created['case_id']}/fhir", "coordinator")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/fhir+json"
    bundle = Bundle.parse_obj(response.json())
    request, task = (entry.resource for entry in bundle.entry)
    assert request.identifier[0].value == created["reference"]
    assert request.id == created["referral_id"]
    assert (request.status, task.status, task.businessStatus.coding[0].code) == (
        "active", "accepted", "awaiting-first-contact")
    assert task.focus.reference == f"urn:uuid:{created['referral_id']}"
    [entry] = list(audit.find({"action": "case_fhir_read"}))
    assert entry["case_id"] == created["case_id"] and entry["role"] == "coordinator"


def test_only_a_coordinator_reads_a_case_as_fhir(api, admin, audit):
    case_id = api.refer().json()["case_id"]
    assert api.call("GET", f"/cases/{case_id}/fhir", "mind").status_code == 403
    assert api.call("GET", f"/cases/{case_id}/fhir", admin).status_code == 403
    missing = api.call("GET", "/cases/no-such-case/fhir", "coordinator")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert audit.count_documents({"action": "case_fhir_read"}) == 0


def test_the_bulk_export_streams_one_valid_resource_a_line_and_erased_cases_name_nobody(api, admin, audit):
    ada = api.refer().json()
    bea = api.refer(referral({"person.given_name": "Bea", "person.family_name": "Khan",
                              "person.email": "bea@example.org", "external_ref": "MIND-77"})).json()
    api.call("POST", f"/cases/{bea['case_id']}/erasure", "coordinator", {"reason": "asked to be forgotten"})

    requests_ = api.call("GET", "/exports/fhir", admin, params={"type": "ServiceRequest"})
    assert requests_.status_code == 200
    assert requests_.headers["Content-Type"] == "application/fhir+ndjson"
    lines = requests_.text.splitlines()
    assert len(lines) == 2 and requests_.text.endswith("\n")
    parsed = {r.identifier[0].value: r for r in (ServiceRequest.parse_obj(json.loads(line)) for line in lines)}
    assert set(parsed) == {ada["reference"], bea["reference"]}
    assert parsed[ada["reference"]].subject.reference == "#patient"
    assert parsed[bea["reference"]].subject.display == "personal data erased"
    erased_line = next(line for line in lines if bea["reference"] in line)
    for personal in ("Bea", "Khan", "bea@example.org", "1956-02-29", "HA1 2AB", "MIND-77", '"Patient"'):
        assert personal not in erased_line

    tasks = api.call("GET", "/exports/fhir", admin, params={"type": "Task"})
    found = [Task.parse_obj(json.loads(line)) for line in tasks.text.splitlines()]
    assert {t.id: t.status for t in found} == {ada["case_id"]: "received", bea["case_id"]: "cancelled"}
    assert {t.focus.reference for t in found} == {f"ServiceRequest/{ada['referral_id']}",
                                                  f"ServiceRequest/{bea['referral_id']}"}
    # each export is recorded against every case whose personal data left; the erased case has none
    exported = [e["case_id"] for e in audit.find({"action": "fhir_bulk_export"})]
    assert sorted(exported) == [ada["case_id"], ada["case_id"]]


def test_the_bulk_export_is_for_admins_and_needs_a_known_type(api, admin, audit):
    api.refer()
    assert api.call("GET", "/exports/fhir", "coordinator", params={"type": "Task"}).status_code == 403
    missing = api.call("GET", "/exports/fhir", admin)
    assert missing.status_code == 400 and "type" in missing.json()["fields"]
    wrong = api.call("GET", "/exports/fhir", admin, params={"type": "Patient"})
    assert wrong.status_code == 400
    assert wrong.json()["fields"]["type"] == ["must be one of: ServiceRequest, Task"]
    assert audit.count_documents({"action": "fhir_bulk_export"}) == 0


def test_the_openapi_document_names_the_fhir_routes_and_media_types(api):
    spec = api.call("GET", "/openapi.json", "coordinator").json()
    bundle = spec["paths"]["/cases/{case_id}/fhir"]["get"]["responses"]["200"]["content"]
    assert set(bundle) == {"application/fhir+json"}
    bulk = spec["paths"]["/exports/fhir"]["get"]
    assert set(bulk["responses"]["200"]["content"]) == {"application/fhir+ndjson"}
    assert "admin" in bulk["description"]
