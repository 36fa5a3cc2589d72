"""The claim rules every token check shares (spec ca.md §1 step 4, §4).

``parse_claims`` reads the payload the way step-ca's Go struct does: registered claims
plus ``sans``, ``email`` and ``nonce``, each of the right JSON type (a wrong type is a
401 before anything else). ``time_problem`` is go-jose's ``ValidateWithLeeway`` with the
CA's one-minute leeway.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

LEEWAY = 60.0
_STRINGS = ("iss", "sub", "jti", "email", "nonce")
_DATES = ("exp", "nbf", "iat")


@dataclass(frozen=True)
class Claims:
    raw: dict[str, Any]
    iss: str = ""
    sub: str = ""
    aud: list[str] = field(default_factory=list)
    exp: float | None = None
    nbf: float | None = None
    iat: float | None = None
    jti: str = ""
    sans: list[str] | None = None


def _go_lookup(raw: dict[str, Any], name: str) -> Any:
    """Go's encoding/json matches keys case-insensitively; an exact match wins."""
    if name in raw:
        return raw[name]
    for key, value in raw.items():
        if key.lower() == name:
            return value
    return None


def _numeric_date(name: str, value: Any) -> float:
    """A finite float, or ValueError (also for an int too large for a float, such as
    10**400, as Go's float64 parse fails on it)."""
    bad = ValueError(f"claim '{name}' must be a number (NumericDate)")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad
    try:
        number = float(value)
    except OverflowError:
        raise bad from None
    if not math.isfinite(number):
        raise bad
    return number


def parse_claims(raw: dict[str, Any]) -> Claims:
    """Raise ValueError naming the first claim of the wrong JSON type."""
    strings: dict[str, str] = {}
    for name in _STRINGS:
        value = _go_lookup(raw, name)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"claim '{name}' must be a string")
        strings[name] = value or ""
    dates: dict[str, float | None] = {}
    for name in _DATES:
        value = _go_lookup(raw, name)
        if value is None:
            dates[name] = None
        else:
            dates[name] = _numeric_date(name, value)
    aud_raw = _go_lookup(raw, "aud")
    if aud_raw is None:
        aud: list[str] = []
    elif isinstance(aud_raw, str):
        aud = [aud_raw]
    elif isinstance(aud_raw, list) and all(isinstance(a, str) for a in aud_raw):
        aud = list(aud_raw)
    else:
        raise ValueError("claim 'aud' must be a string or an array of strings")
    sans_raw = _go_lookup(raw, "sans")
    if sans_raw is not None and not (
        isinstance(sans_raw, list) and all(isinstance(s, str) for s in sans_raw)
    ):
        raise ValueError("claim 'sans' must be an array of strings")
    return Claims(
        raw=raw,
        iss=strings["iss"],
        sub=strings["sub"],
        aud=aud,
        exp=dates["exp"],
        nbf=dates["nbf"],
        iat=dates["iat"],
        jti=strings["jti"],
        sans=list(sans_raw) if sans_raw is not None else None,
    )


def time_problem(c: Claims, now: float, leeway: float = LEEWAY) -> str | None:
    """go-jose's messages for nbf, exp and iat outside now±leeway (all optional)."""
    if c.nbf is not None and now + leeway < math.floor(c.nbf):
        return f"token not valid yet (nbf): nbf is {human_delta(c.nbf - now)} from now"
    if c.exp is not None and now - leeway > math.floor(c.exp):
        return f"token is expired (exp): expired {human_delta(now - c.exp)} ago"
    if c.iat is not None and now + leeway < math.floor(c.iat):
        return f"token issued in the future (iat): iat is {human_delta(c.iat - now)} from now"
    return None


def human_delta(seconds: float) -> str:
    """``4m12s``, ``1h0m5s``, ``2d3h``: Go-like and short."""
    s = int(abs(seconds))
    days, s = divmod(s, 86400)
    hours, s = divmod(s, 3600)
    minutes, s = divmod(s, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes}m{s}s"
    if minutes:
        return f"{minutes}m{s}s"
    return f"{s}s"


def relative(t: float, now: float) -> str:
    if t >= now:
        return f"in {human_delta(t - now)}"
    return f"{human_delta(now - t)} ago"
