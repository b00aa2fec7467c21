"""The adult social care referral pack (referrals/safeguarding.py): minimised, lawful, printable."""
import json
import uuid
from datetime import datetime, timezone

from services.common.mongo import storable
from services.referrals import domain, safeguarding
from services.referrals.schemas import ReferralSchema
from tests.support import referral

AT = datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)


def a_case(body=None, **changes):
    loaded = storable(ReferralSchema().load(body or referral()))
    record = domain.referral_record(loaded, referral_id=str(uuid.uuid4()), reference="HRW-2026-000011",
                                    agency="mind", received_at=datetime(2026, 9, 1, 10, tzinfo=timezone.utc),
                                    key_id="k1")
    case = domain.new_case(loaded, record, case_id="c1", person_key="k")
    case["cir_ratings"].append(domain.coordinator_rating({"living_room": 5, "kitchen": 4}, rated_on=AT.date(),
                                                         actor="coordinator:k2", reference="HRW-2026-000011",
                                                         recorded_at=AT))
    case.update(changes)
    return case


def a_pack(case, basis="consent"):
    return safeguarding.pack(case, basis=basis, note="Home getting worse; lives alone and smokes.",
                             actor="coordinator:k2", at=AT, pack_id="p1")


def test_the_pack_holds_only_what_a_self_neglect_referral_needs():
    document = a_pack(a_case())
    assert set(document) == {"pack_id", "produced_at", "case_reference", "concern", "lawful_basis", "person",
                             "clutter_image_rating", "fire_risk", "fire_safety_visit", "referred_by"}
    assert document["person"] == {"name": "Ada Jones", "date_of_birth": "1956-02-29", "phone": "+447700900123",
                                  "address": {"line1": "12 Station Road", "line2": None, "town": "Harrow",
                                              "postcode": "HA1 2AB"}}
    text = json.dumps(document)
    for never in ("narrative", "hard of hearing", "ada@example.org", "sam@example.org", "+442079460000",
                  "MIND-2026-0042", "attendance", "rated_by"):
        assert never not in text
    assert "Care Act 2014, section 42" in document["concern"]
    assert document["referred_by"] == {"organisation": "Harrow Peer Support Group", "coordinator": "coordinator:k2",
                                       "reason": "Home getting worse; lives alone and smokes."}


def test_the_ratings_come_with_their_trend_and_the_fire_risks_in_words():
    document = a_pack(a_case(visit={"visit_id": "v1", "status": "no_access", "priority": "high",
                                    "changed_at": datetime(2026, 10, 2, 9, tzinfo=timezone.utc)}))
    rating = document["clutter_image_rating"]
    assert rating["latest"] == {"rated_on": "2026-11-25", "ratings": {"living_room": 5, "kitchen": 4}}
    assert rating["trend"]["living_room"] == [{"rated_on": "2026-09-01", "score": 7},
                                              {"rated_on": "2026-11-25", "score": 5}]
    assert rating["trend"]["bedroom"] == [{"rated_on": "2026-09-01", "score": 6}]
    assert document["fire_risk"]["flags"] == ["Smokes", "Lives alone", "Exits blocked by clutter",
                                              "Not known whether a smoke alarm works"]
    assert document["fire_safety_visit"] == {"status": "no_access", "priority": "high",
                                             "as_of": "2026-10-02T09:00:00+00:00"}


def test_consent_must_be_on_record_and_an_erased_case_has_nothing_to_refer():
    case = a_case()
    assert safeguarding.refusal(case, "consent") is None
    withdrawn = a_case(consent=domain.consent_after_withdrawal(case["consent"], "all", at=AT, actor="c", reason=None))
    assert "consent is not on record" in safeguarding.refusal(withdrawn, "consent")
    assert safeguarding.refusal(withdrawn, "vital_interests") is None
    assert "erased" in safeguarding.refusal(a_case(erased_at=AT), "public_task")


def test_the_basis_is_named_with_who_recorded_it_and_consent_with_who_obtained_it():
    basis = a_pack(a_case())["lawful_basis"]
    assert (basis["basis"], basis["recorded_by"], basis["recorded_at"]) == ("consent", "coordinator:k2",
                                                                            "2026-11-25T10:00:00+00:00")
    assert (basis["consent_obtained_by"], basis["consent_obtained_on"]) == ("Sam Patel", "2026-11-20")
    other = a_pack(a_case(), basis="vital_interests")["lawful_basis"]
    assert "consent_obtained_by" not in other and "Art. 6(1)(d)" in other["explanation"]


def test_the_pack_prints_as_a_page_and_as_text_escaping_what_people_typed():
    case = a_case()
    case["person"]["family_name"] = "<Jones>"
    document = a_pack(case)
    page = safeguarding.render(document, "html")
    assert "Ada &lt;Jones&gt;" in page and "<Jones>" not in page
    assert "@media print" in page and "Exits blocked by clutter" in page
    assert "7 (2026-09-01) &rarr; 5 (2026-11-25)" in page
    text = safeguarding.render(document, "text")
    assert "Name: Ada <Jones>" in text
    assert "Living room: 7 (2026-09-01) -> 5 (2026-11-25)" in text
    assert "Home Fire Safety Visit: none requested" in text
