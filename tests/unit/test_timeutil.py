from datetime import UTC, datetime, timedelta

import pytest

from pystep.timeutil import (
    TimeDuration,
    format_go_duration,
    parse_go_duration,
    parse_rfc3339,
    parse_time_or_duration,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("300ms", timedelta(milliseconds=300)),
        ("-1.5h", -timedelta(hours=1, minutes=30)),
        ("2h45m", timedelta(hours=2, minutes=45)),
        ("1m30s", timedelta(seconds=90)),
        ("0", timedelta(0)),
        ("1us", timedelta(microseconds=1)),
        ("1µs", timedelta(microseconds=1)),
        (".5s", timedelta(milliseconds=500)),
        ("+5m", timedelta(minutes=5)),
    ],
)
def test_parse_go_duration(text: str, expected: timedelta) -> None:
    assert parse_go_duration(text) == expected


@pytest.mark.parametrize("bad", ["", "5", "1d", "h", "-", "1h 2m", "1.2.3s", "tomorrow"])
def test_parse_go_duration_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_go_duration(bad)


@pytest.mark.parametrize(
    ("d", "text"),
    [
        (timedelta(hours=1, minutes=30), "1h30m0s"),
        (timedelta(minutes=5), "5m0s"),
        (-timedelta(hours=1), "-1h0m0s"),
        (timedelta(seconds=1.5), "1.5s"),
        (timedelta(milliseconds=300), "300ms"),
        (timedelta(0), "0s"),
        (timedelta(seconds=10), "10s"),
    ],
)
def test_format_go_duration(d: timedelta, text: str) -> None:
    assert format_go_duration(d) == text


def test_rfc3339_offsets_and_fractions() -> None:
    t = parse_rfc3339("2024-01-02T03:04:05.5+02:00")
    assert t.astimezone(UTC) == datetime(2024, 1, 2, 1, 4, 5, 500000, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_rfc3339("2024-01-02")


def test_time_or_duration_is_relative_to_now() -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    assert parse_time_or_duration("10m", now) == now + timedelta(minutes=10)
    assert parse_time_or_duration("2025-01-01T00:30:00Z", now) == now + timedelta(minutes=30)


def test_time_duration_json_forms() -> None:
    assert TimeDuration.parse("").to_json() == ""
    assert TimeDuration.parse("8h").to_json() == "8h0m0s"
    assert TimeDuration.parse("2024-01-02T03:04:05.5+02:00").to_json() == "2024-01-02T01:04:05.5Z"
    assert TimeDuration.parse("2024-01-02T01:04:05Z").to_json() == "2024-01-02T01:04:05Z"
