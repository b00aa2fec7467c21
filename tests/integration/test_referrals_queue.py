"""The coordinator's queue over the real wire: GET /cases?needs_action=true, the list's new fields,
and POST /cases/{case_id}/attention (services/referrals/attention.py holds the rule)."""
from datetime import datetime, timedelta, timezone

from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_waiter

from services.common.audit import AuditChain
from services.common.envelope import new_event
from services.common.working_days import promise_due_by
from services.referrals.service import ReferralsService
from tests.integration.conftest import Api
from tests.support import referral

CALM = {"hoarding.clutter_image_rating": {"kitchen": 3}}  # below the safeguarding threshold


def deliver(api, source, event_type, case_id, data, occurred_at=None):
    """Another service's event, as record_on_timeline receives it."""
    event = new_event(event_type, case_id=case_id, correlation_id="c-queue", producer=source, data=data)
    if occurred_at:
        event["occurred_at"] = occurred_at.isoformat()
    with entrypoint_waiter(api.container, "record_on_timeline", timeout=10):
        event_dispatcher(api.config)(source, event_type, event)


def queue(api, **params):
    response = api.call("GET", "/cases", "coordinator", params={"needs_action": "true", **params})
    assert response.status_code == 200, response.text
    return response.json()


def reasons_of(item):
    return [n["reason"] for n in item["needs_action"]]


def dismiss(api, case_id, reason, note=None, who="coordinator"):
    return api.call("POST", f"/cases/{case_id}/attention", who, {"reason": reason, **({"note": note} if note else {})})


def contacted(api, body):
    """A case past first contact (in_progress): it needs the coordinator only for what else it holds."""
    case_id = api.refer(body).json()["case_id"]
    assert api.move(case_id, "accepted").status_code == 200
    assert api.move(case_id, "in_progress", "first call made").status_code == 200
    return case_id


def audit_actions(api, case_id):
    db = api.cases.database
    return [e["action"] for e in AuditChain(db, "referrals").for_case(case_id)]


# -- the list's fields ------------------------------------------------------------------------------
def test_every_case_in_the_list_shows_name_postcode_dates_and_its_needs(api):
    created = api.refer().json()
    response = api.call("GET", "/cases", "coordinator")
    assert response.status_code == 200
    [item] = response.json()["items"]
    assert (item["name"], item["postcode"], item["visit_due_by"]) == ("Ada Jones", "HA1 2AB", None)
    received = datetime.fromisoformat(item["received_at"])
    assert abs(received - datetime.now(timezone.utc)) < timedelta(minutes=5)
    # the default referral rates the living room 7: a safeguarding task besides the first call
    assert reasons_of(item) == ["safeguarding", "first_contact_due", "new_referral"]
    first_call = item["needs_action"][1]
    assert datetime.fromisoformat(first_call["due_by"]) == promise_due_by(received, 5)
    assert datetime.fromisoformat(first_call["since"]) == received
    detail = api.case(created["case_id"])
    assert detail["needs_action"] == item["needs_action"]
    # the list now shows names and postcodes: reading it is audited per case shown
    assert "case_list_read" in audit_actions(api, created["case_id"])


def test_the_visit_due_time_shows_in_the_list(api):
    case_id = contacted(api, referral(CALM))
    due = (datetime.now(timezone.utc) + timedelta(hours=3)).replace(microsecond=0)
    deliver(api, "safety", "visit_requested", case_id,
            {"visit_id": "v-1", "priority": "very_high", "due_by": due.isoformat()})
    [item] = api.call("GET", "/cases", "coordinator").json()["items"]
    assert datetime.fromisoformat(item["visit_due_by"]) == due
    assert item["needs_action"] == [{"reason": "visit_due_soon", "since": (due - timedelta(hours=24)).isoformat(),
                                     "due_by": due.isoformat()}]


def test_an_erased_case_lists_without_name_or_postcode_and_needs_nothing(api):
    case_id = api.refer().json()["case_id"]
    assert api.call("POST", f"/cases/{case_id}/erasure", "coordinator", {"reason": "asked"}).status_code == 200
    [item] = api.call("GET", "/cases", "coordinator").json()["items"]
    assert (item["name"], item["postcode"], item["needs_action"]) == ("", "", [])
    assert queue(api) == {"items": [], "total": 0, "page": 1, "per_page": 20}


# -- the queue ----------------------------------------------------------------------------------------
def test_the_queue_holds_only_cases_needing_the_coordinator_most_urgent_first(api):
    calm = contacted(api, referral({**CALM, "person.given_name": "Calm"}))
    new = api.refer(referral({**CALM, "person.given_name": "Newly"})).json()["case_id"]
    no_access = contacted(api, referral({**CALM, "person.given_name": "Nora"}))
    fire = api.refer(referral({**CALM, "person.given_name": "Fay", "consent.share_with_fire_service": False})).json()
    closed = api.refer(referral({"person.given_name": "Closed"})).json()["case_id"]
    api.move(closed, "rejected", "outside Harrow")
    deliver(api, "safety", "fire_risk_without_consent", fire["case_id"],
            {"priority": "very_high", "cir_max": 3, "reference": fire["reference"]})
    deliver(api, "safety", "visit_status_changed", no_access,
            {"visit_id": "v-2", "status": "no_access", "priority": "high", "from": "scheduled",
             "due_by": (datetime.now(timezone.utc) - timedelta(days=1)).isoformat()})

    body = queue(api)
    assert [i["case_id"] for i in body["items"]] == [fire["case_id"], no_access, new]
    assert body["total"] == 3
    assert reasons_of(body["items"][0]) == ["fire_risk_no_consent", "first_contact_due", "new_referral"]
    assert reasons_of(body["items"][1]) == ["visit_no_access"]
    assert calm not in {i["case_id"] for i in body["items"]}
    # the filters still apply inside the queue, and paging counts the queue
    assert [i["case_id"] for i in queue(api, q="nora")["items"]] == [no_access]
    second = queue(api, per_page=2, page=2)
    assert ([i["case_id"] for i in second["items"]], second["total"]) == ([new], 3)
    # without the filter every case is listed, each with its needs (none for the calm and the closed one)
    every = {i["case_id"]: i for i in api.call("GET", "/cases", "coordinator").json()["items"]}
    assert len(every) == 5 and every[calm]["needs_action"] == [] and every[closed]["needs_action"] == []


def test_safeties_overdue_event_puts_the_case_at_the_top(api):
    """record_on_timeline refreshes the cached listing for visit_overdue (it changed nothing on the case before)."""
    waiting = api.refer(referral({**CALM, "person.given_name": "Wait"})).json()["case_id"]
    late = contacted(api, referral({**CALM, "person.given_name": "Late"}))
    due = datetime.now(timezone.utc) + timedelta(days=6)  # safety's clock said overdue: the event counts
    deliver(api, "safety", "visit_requested", late, {"visit_id": "v-3", "priority": "high", "due_by": due.isoformat()})
    assert [i["case_id"] for i in queue(api)["items"]] == [waiting]  # read once: the list is now cached
    deliver(api, "safety", "visit_overdue", late,
            {"visit_id": "v-3", "reference": "x", "status": "requested", "priority": "high", "due_by": due.isoformat()})
    top = queue(api)["items"][0]
    assert (top["case_id"], reasons_of(top)) == (late, ["visit_overdue"])


def test_needs_action_must_be_a_boolean(api):
    response = api.call("GET", "/cases", "coordinator", params={"needs_action": "maybe"})
    assert response.status_code == 400 and set(response.json()["fields"]) == {"needs_action"}


def test_a_safeguarding_threshold_from_configuration(container_factory, service_config, tokens, mongo_client,
                                                     databases):
    config = service_config("referrals", SAFEGUARDING_CIR_THRESHOLD="8")
    container = container_factory(ReferralsService, config)
    container.start()
    api = Api(f"http://{config['WEB_SERVER_ADDRESS']}", tokens, config, container,
              mongo_client[databases["referrals"]]["cases"])
    seven = api.refer().json()["case_id"]  # living room 7
    eight = api.refer(referral({"person.given_name": "Eight", "hoarding.clutter_image_rating": {"kitchen": 8}})).json()
    items = {i["case_id"]: reasons_of(i) for i in queue(api)["items"]}
    assert "safeguarding" not in items[seven] and items[eight["case_id"]][0] == "safeguarding"


# -- marking a reason as dealt with -------------------------------------------------------------------
def test_a_coordinator_marks_a_safeguarding_task_dealt_with_until_a_newer_high_rating(api):
    case_id = contacted(api, referral())  # living room 7
    response = dismiss(api, case_id, "safeguarding", "self-neglect concern sent to adult social care")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["needs_action"] == []
    [entry] = [e for e in body["timeline"] if e["type"] == "attention_dismissed"]
    assert entry["actor"].startswith("coordinator:")
    assert entry["reason"] == "self-neglect concern sent to adult social care"
    assert "safeguarding" in entry["summary"]
    assert "attention_dismissed" in audit_actions(api, case_id)
    assert queue(api)["total"] == 0
    # dealt with once is dealt with: marking it again is refused and changes nothing
    version = api.cases.find_one({"_id": case_id})["version"]
    again = dismiss(api, case_id, "safeguarding")
    assert (again.status_code, again.json()["error"]) == (409, "not_needed")
    assert api.cases.find_one({"_id": case_id})["version"] == version
    # a newer rating of 7 or more raises it again
    rated = api.call("POST", f"/cases/{case_id}/cir-ratings", "coordinator",
                     {"ratings": {"kitchen": 8}, "rated_on": datetime.now(timezone.utc).date().isoformat()})
    assert rated.status_code == 201
    assert reasons_of(rated.json()) == ["safeguarding"]
    assert [i["case_id"] for i in queue(api)["items"]] == [case_id]


def test_a_visit_outcome_marked_dealt_with_returns_when_the_visit_changes_again(api):
    case_id = contacted(api, referral(CALM))
    past = (datetime.now(timezone.utc) - timedelta(days=1)).isoformat()
    outcome = {"visit_id": "v-4", "status": "no_access", "priority": "high", "from": "scheduled", "due_by": past}
    deliver(api, "safety", "visit_status_changed", case_id, outcome,
            occurred_at=datetime.now(timezone.utc) - timedelta(minutes=5))
    assert dismiss(api, case_id, "visit_no_access", "rang the person").status_code == 200
    assert queue(api)["total"] == 0
    deliver(api, "safety", "visit_status_changed", case_id, outcome,
            occurred_at=datetime.now(timezone.utc) + timedelta(seconds=1))  # a second no access after a rebooking
    assert [reasons_of(i) for i in queue(api)["items"]] == [["visit_no_access"]]


def test_reasons_that_clear_by_moving_cannot_be_marked(api):
    case_id = api.refer(referral(CALM)).json()["case_id"]
    before = api.cases.find_one({"_id": case_id})["version"]
    for reason in ("first_contact_due", "new_referral", "visit_due_soon", "visit_overdue"):
        response = dismiss(api, case_id, reason)
        assert response.status_code == 409, reason
        assert response.json()["error"] == "not_dismissible"
        assert "cannot be marked" in response.json()["message"]
    assert api.cases.find_one({"_id": case_id})["version"] == before


def test_a_bad_attention_request_is_400_and_changes_nothing(api):
    case_id = api.refer().json()["case_id"]
    before = api.cases.find_one({"_id": case_id})["version"]
    unknown = dismiss(api, case_id, "feeling_lucky")
    assert unknown.status_code == 400 and set(unknown.json()["fields"]) == {"reason"}
    extra = api.call("POST", f"/cases/{case_id}/attention", "coordinator", {"reason": "safeguarding", "by": "me"})
    assert extra.status_code == 400 and set(extra.json()["fields"]) == {"by"}
    missing = api.call("POST", f"/cases/{case_id}/attention", "coordinator", {})
    assert missing.status_code == 400 and set(missing.json()["fields"]) == {"reason"}
    assert api.cases.find_one({"_id": case_id})["version"] == before
    assert dismiss(api, "no-such-case", "safeguarding").status_code == 404
    assert dismiss(api, case_id, "safeguarding", who="mind").status_code == 403


def test_erasure_takes_the_coordinators_note_with_it(api):
    case_id = contacted(api, referral())
    assert dismiss(api, case_id, "safeguarding", "spoke to Ada's daughter").status_code == 200
    assert api.call("POST", f"/cases/{case_id}/erasure", "coordinator", {"reason": "asked"}).status_code == 200
    stored = str(api.cases.find_one({"_id": case_id}, {"outbox": 0}))
    assert "daughter" not in stored
    assert "safeguarding" in api.cases.find_one({"_id": case_id})["attention_dismissed"]


def test_openapi_documents_the_queue_and_the_dismissal(api):
    import requests
    spec = requests.get(f"{api.base}/openapi.json", timeout=10).json()
    assert "post" in spec["paths"]["/cases/{case_id}/attention"]
    parameters = {p["name"] for p in spec["paths"]["/cases"]["get"]["parameters"]}
    assert {"needs_action", "q", "status", "level"} <= parameters
    summary = spec["components"]["schemas"]["CaseSummary"]
    assert {"needs_action", "name", "postcode", "received_at"} <= set(summary["required"])
    assert "visit_due_by" in summary["properties"]
    reason = spec["components"]["schemas"]["NeedsAction"]["properties"]["reason"]
    assert "safeguarding" in reason["enum"] and "first_contact_due" in reason["enum"]
