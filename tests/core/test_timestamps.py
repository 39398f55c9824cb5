"""RFC 3339 timestamps -> ns, checked against datetime for every form venues send."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedhandler.core.fixedpoint import timestamp_ns

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def reference_ns(moment: datetime, extra_ns: int = 0) -> int:
    delta = moment - EPOCH
    return (delta.days * 86400 + delta.seconds) * 10**9 + delta.microseconds * 1000 + extra_ns


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-02-09T20:32:50.714964855Z", 1675974770714964855),   # Coinbase, 9 digits
        ("2023-10-06T17:35:55.440295Z", 1696613755440295000),      # Kraken, 6 digits
        ("1970-01-01T00:00:00Z", 0),
        ("2024-02-29T23:59:59.9Z", 1709251199900000000),
        ("2000-03-01 00:00:00+00:00", 951868800000000000),
        ("2023-02-09T20:32:50.7149648551234Z", 1675974770714964855),  # extra digits truncate
    ],
)
def test_known_timestamps(text: str, expected: int) -> None:
    assert timestamp_ns(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "2023-02-09", "2023-02-09T20:32:50", "2023-13-09T20:32:50Z", "2023-02-09T20:32:50.Z",
     "2023-02-09T20:32:50+01:00", "2023-02-09T25:32:50Z", "2023-02-09X20:32:50Z",
     "2023-02-09T20:32:50ZZ", "abcd-ef-ghTij:kl:mnZ"],
)
def test_rejects_what_is_not_a_utc_timestamp(text: str) -> None:
    with pytest.raises(ValueError):
        timestamp_ns(text)


@settings(max_examples=2000, deadline=None)
@given(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1)),
       st.integers(0, 999))
def test_matches_datetime(moment: datetime, nanos: int) -> None:
    moment = moment.replace(tzinfo=UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + f"{nanos:03d}Z"
    assert timestamp_ns(text) == reference_ns(moment, nanos)
    assert timestamp_ns(moment.strftime("%Y-%m-%dT%H:%M:%SZ")) == reference_ns(
        moment - timedelta(microseconds=moment.microsecond))
