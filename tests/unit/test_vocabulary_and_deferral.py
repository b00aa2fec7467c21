from datetime import timedelta

import pytest

from services.common.consumer import DEFER_HOPS_MS, next_hop_ms
from services.common.vocabulary import uk_mobile


@pytest.mark.parametrize("phone, expected", [
    ("07700 900123", "+447700900123"),
    ("+447700900123", "+447700900123"),
    ("0044 7700 900123", "+447700900123"),
    ("(07700) 900-123", "+447700900123"),
    ("07123 456789", "+447123456789"),
    ("07623 456789", None),   # 076: pagers, not a phone that takes a text
    ("07023 456789", None),   # 070: personal numbers
    ("020 8123 4567", None),
    ("0800 123 4567", None),
    ("0770090012", None),
    ("", None),
    (None, None),
])
def test_uk_mobile(phone, expected):
    assert uk_mobile(phone) == expected


@pytest.mark.parametrize("remaining, hop", [
    (timedelta(hours=13), 3_600_000),     # a quiet-hours wait hops an hour at a time
    (timedelta(minutes=59), 300_000),
    (timedelta(seconds=31), 30_000),
    (timedelta(seconds=29), 5_000),
    (timedelta(seconds=4), 1_000),
    (timedelta(milliseconds=200), 1_000),  # less than the shortest hop: one short hop
    (timedelta(seconds=-5), 1_000),        # already late: as soon as the shortest hop allows
])
def test_next_hop_never_overshoots_more_than_the_shortest_hop(remaining, hop):
    ms = remaining.total_seconds() * 1000
    assert next_hop_ms(ms) == hop
    if ms >= min(DEFER_HOPS_MS):
        assert hop <= ms
