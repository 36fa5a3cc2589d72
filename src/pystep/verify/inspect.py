"""``inspect_token``: a token's header and claims, times in human and relative form, and
the provisioner kind the header suggests. No key and no CA needed."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from pystep.jose.jws import decode_compact
from pystep.verify.audience import fragment_of
from pystep.verify.claims import relative


def guess_kind(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """The provisioner kind a token's header (and issuer) points to."""
    aud = claims.get("aud")
    auds = [aud] if isinstance(aud, str) else [a for a in aud or [] if isinstance(a, str)] \
        if isinstance(aud, list) else []
    frag = fragment_of(auds)
    if "x5cInsecure" in header:
        # Renew tokens have no fragment; `ca token --x5c-insecure` for an X5C provisioner
        # keeps its "#x5c/<name>" audience (and the CA then refuses it: no x5c header).
        if frag.startswith("x5c/"):
            return "X5C (x5cInsecure header, which X5C provisioners refuse)"
        return "renew (x5cInsecure)"
    for field, kind in (("x5c", "X5C"), ("sshpop", "SSHPOP"), ("nebula", "Nebula")):
        if field in header:
            return kind
    iss = claims.get("iss")
    if iss == "kubernetes/serviceaccount":
        return "K8sSA"
    if iss == "ec2.amazonaws.com":
        return "AWS"
    if iss == "https://accounts.google.com" and isinstance(claims.get("google"), dict):
        return "GCP"
    if isinstance(iss, str) and ("sts.windows.net" in iss or "microsoftonline" in iss) and (
            "xms_mirid" in claims):
        return "Azure"
    if frag:
        return frag.split("/", 1)[0].upper().replace("K8SSA", "K8sSA")
    if isinstance(iss, str) and iss.startswith("https://"):
        return "OIDC"
    if "kid" in header:
        return "JWK"
    return "unknown"


def _finite(value: Any) -> float | None:
    """``value`` as a finite float; None for non-numbers, inf/nan and huge integers."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _time(value: Any, now: float) -> dict[str, Any] | Any:
    number = _finite(value)
    if number is None:
        return value
    try:
        text = datetime.fromtimestamp(int(number), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return value
    return {"unix": value, "time": text, "relative": relative(number, now)}


def inspect_token(token: str, now: float | None = None) -> dict[str, Any]:
    """{"header", "claims", "times", "kind", "operation"}; raises InputError if unparsable."""
    import time

    moment = time.time() if now is None else now
    decoded = decode_compact(token)
    claims = decoded.claims
    times = {k: _time(claims[k], moment) for k in ("iat", "nbf", "exp") if k in claims}
    summary = ""
    exp = _finite(claims.get("exp"))
    if exp is not None:
        summary = ("expires " if exp >= moment else "expired ") + relative(exp, moment)
    aud = claims.get("aud")
    first = aud if isinstance(aud, str) else (aud[0] if isinstance(aud, list) and aud else "")
    op = ""
    if isinstance(first, str) and "://" in first:
        path = first.split("://", 1)[1].partition("/")[2].split("#")[0]
        op = path.removeprefix("1.0/").replace("/", "-")
    return {
        "header": decoded.header,
        "claims": claims,
        "times": times,
        "validity": summary,
        "kind": guess_kind(decoded.header, claims),
        "operation": op,
    }
