"""Times in API answers: RFC 3339 in UTC, always with microseconds and `Z`."""

import datetime

import pytest

from servicedesk.api import format_utc

MSK = datetime.timezone(datetime.timedelta(hours=3))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            datetime.datetime(2026, 11, 20, 10, 15, tzinfo=datetime.UTC),
            "2026-11-20T10:15:00.000000Z",
        ),
        (datetime.datetime(2026, 11, 20, 13, 15, 0, 5, tzinfo=MSK), "2026-11-20T10:15:00.000005Z"),
        (datetime.datetime(2027, 1, 1, 2, 0, tzinfo=MSK), "2026-12-31T23:00:00.000000Z"),
        (
            datetime.datetime(9, 2, 3, 4, 5, 6, 789, tzinfo=datetime.UTC),
            "0009-02-03T04:05:06.000789Z",
        ),
        (None, None),
    ],
)
def test_format_utc(value, expected):
    assert format_utc(value) == expected
