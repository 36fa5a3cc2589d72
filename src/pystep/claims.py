"""Claim sets for step tokens, one small function per claim group (spec client.md §6).

The provisioner modules pick the groups that fit the token kind; this keeps the claim sets
of the kinds readable side by side, as step's own ``token`` options do.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from pystep.errors import TokenError
from pystep.request import TokenKind, TokenRequest

DEFAULT_VALIDITY = timedelta(minutes=5)
MIN_VALIDITY = timedelta(seconds=10)
MAX_VALIDITY = timedelta(hours=1)
MAX_VALIDITY_DELAY = timedelta(minutes=30)


def new_jti() -> str:
    """64 lowercase hex characters from the OS RNG (256 bits), as step's randutil.Hex(64)."""
    return os.urandom(32).hex()


def root_sha(der: bytes) -> str:
    """The ``sha`` claim: hex SHA-256 of the root certificate's DER (with cryptography's
    hash, loaded anyway: :mod:`hashlib` would cost start-up time of its own)."""
    from cryptography.hazmat.primitives import hashes

    digest = hashes.Hash(hashes.SHA256())
    digest.update(der)
    return digest.finalize().hex()


def _go_time(t: datetime) -> str:
    """Go's time.Time String() shape, for step's validity error messages."""
    return t.strftime("%Y-%m-%d %H:%M:%S +0000 UTC")


def _go_dur(d: timedelta) -> str:
    from pystep.timeutil import format_go_duration

    return format_go_duration(d)


class Times(NamedTuple):
    iat: int
    nbf: int
    exp: int


def token_times(req: TokenRequest, now: datetime) -> Times:
    """iat/nbf/exp with step's defaults and limits (10 s ≤ validity ≤ 1 h, delay ≤ 30 min)."""
    iat = int(now.timestamp())
    if req.not_before is None and req.not_after is None:
        return Times(iat=iat, nbf=iat, exp=int((now + DEFAULT_VALIDITY).timestamp()))
    nbf = req.not_before or now
    exp = req.not_after or (nbf + DEFAULT_VALIDITY)
    if exp < nbf:
        raise TokenError(f"nbf < exp: nbf={_go_time(nbf)}, exp={_go_time(exp)}")
    delay = nbf - now
    if delay > MAX_VALIDITY_DELAY:
        raise TokenError(
            "requested validity delay is too long: "
            f"'requested validity delay'={_go_dur(delay)}, "
            f"'max validity delay'={_go_dur(MAX_VALIDITY_DELAY)}"
        )
    validity = exp - nbf
    if validity < MIN_VALIDITY:
        raise TokenError(
            "requested token validity is too short: "
            f"'requested token validity'={_go_dur(validity)}, "
            f"'minimum token validity'={_go_dur(MIN_VALIDITY)}"
        )
    if validity > MAX_VALIDITY:
        raise TokenError(
            "requested token validity is too long: "
            f"'requested token validity'={_go_dur(validity)}, "
            f"'maximum token validity'={_go_dur(MAX_VALIDITY)}"
        )
    return Times(iat=iat, nbf=int(nbf.timestamp()), exp=int(exp.timestamp()))


def base_claims(
    req: TokenRequest,
    *,
    issuer: str,
    audience: str,
    now: datetime,
    sha: str | None,
    jti: str | None = None,
) -> dict[str, Any]:
    """sub, iss, aud, iat, nbf, exp, jti and sha: the claims every step token carries."""
    if not req.subject:
        raise TokenError("subject cannot be empty")
    if not issuer:
        raise TokenError("issuer cannot be empty")
    times = token_times(req, now)
    claims: dict[str, Any] = {
        "sub": req.subject,
        "iss": issuer,
        "aud": audience,
        "iat": times.iat,
        "nbf": times.nbf,
        "exp": times.exp,
        "jti": jti or new_jti(),
    }
    if sha:
        claims["sha"] = sha
    return claims


def sans_claim(req: TokenRequest) -> list[str]:
    """``--san`` values verbatim, or ``[subject]`` when none."""
    return list(req.sans) if req.sans else [req.subject]


def ssh_claim(req: TokenRequest) -> dict[str, Any]:
    """The ``step`` claim of SSH user/host sign tokens."""
    cert_type = "host" if req.kind is TokenKind.SSH_HOST_SIGN else "user"
    return {
        "ssh": {
            "certType": cert_type,
            "keyID": req.subject,
            "principals": list(req.principals),
            "validAfter": req.cert_not_before.to_json() if req.cert_not_before else "",
            "validBefore": req.cert_not_after.to_json() if req.cert_not_after else "",
        }
    }


def step_claims(
    req: TokenRequest,
    *,
    issuer: str,
    audience: str,
    now: datetime,
    sha: str | None,
    jti: str | None = None,
) -> dict[str, Any]:
    """The claim set JWK, X5C and Nebula tokens use for every kind (spec §6, §9b).

    Sign: base + sans (+ cnf) (+ user). SSH user/host sign: base + step.ssh (+ user).
    Revoke and SSH revoke/renew/rekey: base only.
    """
    claims = base_claims(req, issuer=issuer, audience=audience, now=now, sha=sha, jti=jti)
    if req.kind is TokenKind.SIGN:
        claims["sans"] = sans_claim(req)
        if req.cnf:
            claims["cnf"] = {"x5rt#S256": req.cnf}
        if req.user is not None:
            claims["user"] = dict(req.user)
    elif req.kind.is_ssh_sign:
        claims["step"] = ssh_claim(req)
        if req.user is not None:
            claims["user"] = dict(req.user)
    return claims
