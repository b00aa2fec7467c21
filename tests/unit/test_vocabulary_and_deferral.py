from datetime import timedelta

import pytest

from services.common.consumer import DEFER_HOPS_MS, HOP_SLACK_MS, next_hop_ms
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
    (timedelta(minutes=59, seconds=59, milliseconds=500), 3_600_000),  # half a second late at most
    (timedelta(minutes=59), 300_000),
    (timedelta(seconds=61), 60_000),
    (timedelta(seconds=59, milliseconds=995), 60_000),  # the triage wait, first seen 5 ms after publishing
    (timedelta(seconds=31), 30_000),
    (timedelta(seconds=29, milliseconds=980), 30_000),  # back from a first 30 s hop of a 60 s wait
    (timedelta(seconds=28, milliseconds=900), 5_000),
    (timedelta(seconds=4), 5_000),
    (timedelta(seconds=3, milliseconds=900), 1_000),
    (timedelta(milliseconds=200), 1_000),  # less than the shortest hop: one short hop
    (timedelta(seconds=-5), 1_000),        # already late: as soon as the shortest hop allows
])
def test_next_hop_overshoots_by_at_most_the_slack(remaining, hop):
    ms = remaining.total_seconds() * 1000
    assert next_hop_ms(ms) == hop
    if ms >= min(DEFER_HOPS_MS):
        assert hop <= ms + HOP_SLACK_MS


@pytest.mark.parametrize("wait_ms, expected_hops", [(60_000, 1), (90_000, 2), (13 * 3_600_000, 13)])
def test_a_wait_takes_few_hops_even_when_each_comes_back_a_little_late(wait_ms, expected_hops):
    remaining, hops = wait_ms - 5.0, 0  # first seen 5 ms after it was published
    while remaining > 0:
        hop = next_hop_ms(remaining)
        remaining -= hop + 15  # each hop's message comes back 15 ms after its TTL
        hops += 1
    assert hops == expected_hops and remaining > -HOP_SLACK_MS
