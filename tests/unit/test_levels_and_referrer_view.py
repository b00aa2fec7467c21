"""The case level (safety first) and what a referrer sees of its own referral."""
from datetime import date, datetime, timedelta, timezone

from services.referrals.domain import cir_trend, rating_levels, referrer_view

TODAY = date(2026, 11, 29)


def rating(max_score, days_ago, role="referrer"):
    return {"ratings": {"living_room": max_score, "kitchen": 1}, "rated_on": (TODAY - timedelta(days=days_ago)).isoformat(),
            "reference": "HRW-2026-000001", "rated_by": "x", "rater_role": role}


def test_a_later_lower_rating_from_another_referral_never_lowers_the_level():
    assert rating_levels([rating(8, 10), rating(5, 0)], TODAY) == {"cir_max": 8, "level": 3}


def test_ratings_older_than_six_months_give_way_to_recent_ones():
    assert rating_levels([rating(8, 400), rating(5, 3)], TODAY) == {"cir_max": 5, "level": 2}
    # none recent: the latest counts
    assert rating_levels([rating(8, 500), rating(3, 400)], TODAY) == {"cir_max": 3, "level": 1}


def test_a_coordinators_own_latest_rating_wins():
    ratings = [rating(9, 30), rating(4, 20, "coordinator"), rating(8, 5), rating(2, 1, "coordinator")]
    assert rating_levels(ratings, TODAY) == {"cir_max": 2, "level": 1}
    assert rating_levels(ratings[:3], TODAY) == {"cir_max": 4, "level": 2}


def test_ratings_stored_before_roles_count_as_referrers():
    old = rating(7, 2)
    del old["rater_role"]
    assert rating_levels([old, rating(4, 1)], TODAY)["level"] == 3


def test_the_trend_lists_each_room_oldest_first():
    trend = cir_trend([rating(5, 1, "coordinator"), rating(8, 30)])
    assert [p["score"] for p in trend["living_room"]] == [8, 5]
    assert trend["living_room"][1]["rater_role"] == "coordinator"


AT = datetime(2026, 11, 20, 10, tzinfo=timezone.utc)


def case_with(second_at):
    first = {"referral_id": "r1", "reference": "HRW-1", "received_at": AT}
    second = {"referral_id": "r2", "reference": "HRW-2", "received_at": second_at}
    return {"status": "accepted", "updated_at": AT + timedelta(days=1),
            "visit": {"status": "scheduled", "changed_at": AT + timedelta(hours=5)},
            "timeline": [{"type": "case_status_changed", "at": AT + timedelta(hours=2)}],
            "referrals": [first, second]}, first, second


def test_the_referral_that_opened_the_case_follows_it():
    case, first, _ = case_with(AT + timedelta(days=2))
    assert referrer_view(case, first) == {"status": "accepted", "updated_at": case["updated_at"],
                                          "visit": {"status": "scheduled"}}


def test_a_later_referral_sees_nothing_from_before_it_arrived():
    arrived = AT + timedelta(days=2)
    case, _, second = case_with(arrived)
    assert referrer_view(case, second) == {"status": "received", "updated_at": arrived, "visit": None}


def test_a_later_referral_sees_what_happens_after_it_arrived():
    arrived = AT + timedelta(hours=1)
    case, _, second = case_with(arrived)
    view = referrer_view(case, second)
    assert view["status"] == "accepted" and view["visit"] == {"status": "scheduled"}
    assert view["updated_at"] == AT + timedelta(hours=5)
