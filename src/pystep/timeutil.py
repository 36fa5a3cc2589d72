"""Go's time formats as step uses them: durations, RFC 3339, and step-ca's TimeDuration."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

_UNITS_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # U+00B5 micro sign
    "μs": 1_000,  # U+03BC greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
}
_COMPONENT = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_MAX_NS = (1 << 63) - 1


def parse_go_duration(text: str) -> timedelta:
    """Parse a Go ``time.ParseDuration`` string (``300ms``, ``-1.5h``, ``2h45m``).

    Raises ValueError for anything Go would refuse (no unit, unknown unit such as ``d``).
    """
    s = text
    if not s:
        raise ValueError("invalid duration")
    sign = 1
    if s[0] in "+-":
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return timedelta(0)
    if not s:
        raise ValueError("invalid duration")
    total_ns = 0
    pos = 0
    while pos < len(s):
        m = _COMPONENT.match(s, pos)
        if not m:
            raise ValueError(f"invalid duration {text!r}")
        number, unit = m.group(1), m.group(2)
        if "." in number:
            whole, _, frac = number.partition(".")
            ns = int(whole or "0") * _UNITS_NS[unit]
            if frac:
                ns += int(frac) * _UNITS_NS[unit] // (10 ** len(frac))
        else:
            ns = int(number) * _UNITS_NS[unit]
        total_ns += ns
        if total_ns > _MAX_NS:
            raise ValueError(f"invalid duration {text!r}")
        pos = m.end()
    return timedelta(microseconds=sign * total_ns // 1000) if sign > 0 else -timedelta(
        microseconds=total_ns // 1000
    )


def format_go_duration(d: timedelta) -> str:
    """Format like Go's ``Duration.String`` (``1h30m0s``, ``5m0s``, ``-1h0m0s``, ``1.5s``)."""
    us = d // timedelta(microseconds=1)
    if us == 0:
        return "0s"
    neg = us < 0
    us = abs(us)
    ns = us * 1000
    if ns < 1_000_000_000:
        # sub-second: Go prints in the largest unit below a second
        out = _frac(ns, 1000) + "µs" if ns < 1_000_000 else _frac(ns, 1_000_000) + "ms"
    else:
        h, rem = divmod(ns, 3600 * 1_000_000_000)
        m, rem = divmod(rem, 60 * 1_000_000_000)
        out = ""
        if h:
            out += f"{h}h"
        if h or m:
            out += f"{m}m"
        out += _frac(rem, 1_000_000_000) + "s"
    return ("-" if neg else "") + out


def _frac(value: int, unit: int) -> str:
    whole, frac = divmod(value, unit)
    if not frac:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}." + f"{frac:0{digits}d}".rstrip("0")


_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)


def parse_rfc3339(text: str) -> datetime:
    """Parse an RFC 3339 timestamp as Go's ``time.Time.UnmarshalText`` does
    (fractional seconds and offsets accepted; a date alone is refused)."""
    m = _RFC3339.match(text)
    if not m:
        raise ValueError(f"invalid RFC 3339 time {text!r}")
    year, month, day, hh, mm, ss = (int(m.group(i)) for i in range(1, 7))
    frac = m.group(7) or ""
    micro = int((frac[1:] + "000000")[:6]) if frac else 0
    off = m.group(8)
    if off in ("Z", "z"):
        tz = UTC
    else:
        from datetime import timezone

        sign = -1 if off[0] == "-" else 1
        tz = timezone(sign * timedelta(hours=int(off[1:3]), minutes=int(off[4:6])))
    return datetime(year, month, day, hh, mm, ss, micro, tzinfo=tz)


def parse_time_or_duration(text: str, now: datetime) -> datetime:
    """step's ``--not-before``/``--not-after``: RFC 3339, else a Go duration from ``now``."""
    try:
        return parse_rfc3339(text)
    except ValueError:
        return now + parse_go_duration(text)


class TimeDuration(NamedTuple):
    """step-ca's TimeDuration: an absolute time or a duration the CA resolves itself."""

    time: datetime | None = None
    duration: timedelta | None = None

    @classmethod
    def parse(cls, text: str) -> TimeDuration:
        if not text:
            return cls()
        try:
            return cls(time=parse_rfc3339(text).astimezone(UTC))
        except ValueError:
            return cls(duration=parse_go_duration(text))

    def is_zero(self) -> bool:
        return self.time is None and self.duration is None

    def to_json(self) -> str:
        """The claim form: ``""`` when unset, RFC 3339 (UTC, trimmed fraction), or Go duration."""
        if self.time is not None:
            t = self.time.astimezone(UTC)
            s = t.strftime("%Y-%m-%dT%H:%M:%S")
            if t.microsecond:
                s += ("." + f"{t.microsecond:06d}").rstrip("0")
            return s + "Z"
        if self.duration is not None:
            return format_go_duration(self.duration)
        return ""
