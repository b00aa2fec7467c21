"""The services accept a signed-in person's session token as Bearer; the person's role and agency decide."""
import json
from datetime import timedelta

import pytest
import requests

from services.common.envelope import utcnow
from services.common.people import PeopleStore
from services.referrals.service import ReferralsService
from tests.support import referral

PASSWORD = "teal kettle harbour lantern"


@pytest.fixture
def referrals(container_factory, service_config):
    config = service_config("referrals")
    container_factory(ReferralsService, config).start()
    return f"http://{config['WEB_SERVER_ADDRESS']}"


@pytest.fixture
def people(mongo_client, databases):
    store = PeopleStore(mongo_client[databases["auth"]])
    store.ensure_indexes()
    return store


def session_for(people, email, role, agency=None):
    person, link = people.create(email, role, agency)
    people.set_password(link, PASSWORD)
    signed_in = people.sign_in(email, PASSWORD)
    return people.start_session(signed_in.person)


def bearer(token):
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def test_a_partner_person_refers_and_sees_only_their_agencys_referrals(referrals, people, tokens, mongo_client,
                                                                       databases):
    sam = session_for(people, "sam@example.org", "partner", "mind")
    mine = requests.post(f"{referrals}/referrals", data=json.dumps(referral()), headers=bearer(sam), timeout=10)
    assert mine.status_code == 201, mine.text
    theirs = requests.post(f"{referrals}/referrals", headers=bearer(tokens["rethink"]), timeout=10,
                           data=json.dumps(referral({"referrer.agency": "rethink", "person.given_name": "Bo"})))
    assert theirs.status_code == 201, theirs.text

    listing = requests.get(f"{referrals}/referrals", headers=bearer(sam), timeout=10).json()
    assert [item["reference"] for item in listing["items"]] == [mine.json()["reference"]]
    assert requests.get(f"{referrals}/referrals/{theirs.json()['reference']}", headers=bearer(sam),
                        timeout=10).status_code == 404
    everyone = requests.get(f"{referrals}/referrals", headers=bearer(tokens["coordinator"]), timeout=10).json()
    assert everyone["total"] == 2
    searched = requests.get(f"{referrals}/referrals", params={"reference": mine.json()["reference"]},
                            headers=bearer(tokens["coordinator"]), timeout=10).json()
    assert [i["reference"] for i in searched["items"]] == [mine.json()["reference"]]
    # the stored referral names the person who sent it, not "the portal"
    case = mongo_client[databases["referrals"]]["cases"].find_one({"_id": mine.json()["case_id"]})
    person_id = people.find("sam@example.org")["person_id"]
    assert case["referrals"][0]["submitted_by_key"] == f"person-{person_id}"


def test_roles_are_exact_an_admin_reads_no_cases(referrals, people):
    admin = session_for(people, "admin@example.org", "admin")
    assert requests.get(f"{referrals}/cases", headers=bearer(admin), timeout=10).status_code == 403
    assert requests.get(f"{referrals}/referrals", headers=bearer(admin), timeout=10).status_code == 403
    officer = session_for(people, "fo@example.org", "fire_officer")
    assert requests.get(f"{referrals}/cases", headers=bearer(officer), timeout=10).status_code == 403


def test_an_expired_or_ended_session_or_disabled_person_is_refused(referrals, people):
    sam = session_for(people, "sam@example.org", "partner", "mind")
    assert requests.get(f"{referrals}/referrals", headers=bearer(sam), timeout=10).status_code == 200
    people.sessions.update_many({}, {"$set": {"expires_at": utcnow() - timedelta(seconds=1)}})
    assert requests.get(f"{referrals}/referrals", headers=bearer(sam), timeout=10).status_code == 401

    kim = session_for(people, "kim@example.org", "partner", "gp")
    people.disable("kim@example.org")
    assert requests.get(f"{referrals}/referrals", headers=bearer(kim), timeout=10).status_code == 401
    assert requests.get(f"{referrals}/referrals", headers=bearer("rs_made-up"), timeout=10).status_code == 401


def test_only_hashes_of_secrets_are_stored(people):
    person, link = people.create("sam@example.org", "partner", "mind")
    stored = json.dumps([*people.links.find(), *people.people.find()], default=str)
    assert link not in stored
    people.set_password(link, PASSWORD)
    token = people.start_session(people.sign_in("sam@example.org", PASSWORD).person)
    stored = json.dumps([*people.sessions.find(), *people.people.find()], default=str)
    assert token not in stored and PASSWORD not in stored
    assert people.find("sam@example.org")["password_hash"].startswith("$argon2id$")


def test_listings_written_before_they_carried_referrals_are_filled_in_once(referrals, people, mongo_client,
                                                                         databases):
    from services.referrals.repository import CaseRepository

    sam = session_for(people, "sam@example.org", "partner", "mind")
    sent = requests.post(f"{referrals}/referrals", data=json.dumps(referral()), headers=bearer(sam), timeout=10)
    assert sent.status_code == 201, sent.text
    db = mongo_client[databases["referrals"]]
    db["case_list"].update_many({}, {"$unset": {"referrals": ""}})       # as an older version wrote them
    db["migrations"].delete_one({"_id": "case_list.referrals"})
    assert requests.get(f"{referrals}/referrals", headers=bearer(sam), timeout=10).json()["total"] == 0
    CaseRepository(db).ensure_indexes()
    listing = requests.get(f"{referrals}/referrals", headers=bearer(sam), timeout=10).json()
    assert [item["reference"] for item in listing["items"]] == [sent.json()["reference"]]


def test_the_list_shows_each_referral_as_its_own_agency_sees_it(referrals, people, tokens):
    first = requests.post(f"{referrals}/referrals", headers=bearer(tokens["rethink"]), timeout=10,
                          data=json.dumps(referral({"referrer.agency": "rethink"})))
    assert first.status_code == 201, first.text
    moved = requests.post(f"{referrals}/cases/{first.json()['case_id']}/transitions", timeout=10,
                          headers=bearer(tokens["coordinator"]), data=json.dumps({"to": "accepted", "reason": "fits"}))
    assert moved.status_code == 200, moved.text
    sam = session_for(people, "sam@example.org", "partner", "mind")
    second = requests.post(f"{referrals}/referrals", data=json.dumps(referral({"external_ref": "MIND-2"})),
                           headers=bearer(sam), timeout=10)
    assert second.status_code == 201 and second.json()["case_id"] == first.json()["case_id"], second.text

    listing = requests.get(f"{referrals}/referrals", headers=bearer(sam), timeout=10).json()
    one = requests.get(f"{referrals}/referrals/{second.json()['reference']}", headers=bearer(sam), timeout=10).json()
    assert [(i["reference"], i["status"]) for i in listing["items"]] == [(second.json()["reference"], "received")]
    assert one["status"] == "received"          # Mind is not told that Rethink's referral was accepted
    rethink = requests.get(f"{referrals}/referrals", headers=bearer(tokens["rethink"]), timeout=10).json()
    assert [(i["reference"], i["status"]) for i in rethink["items"]] == [(first.json()["reference"], "accepted")]
