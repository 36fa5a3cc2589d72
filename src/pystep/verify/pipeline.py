"""``verify_token``: step-ca 0.19's checks for one operation, in the CA's order
(spec ca.md §1, §13). The first failure is the CA's answer; later checks are not run.

Things only the CA knows are reported as warnings and do not change the verdict:
whether a ``jti`` was already used, whether a certificate was revoked, and (online) the
CA's start time, its real ``dnsNames`` and its global claims.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from pystep.errors import InputError
from pystep.jose.jws import decode_compact
from pystep.verify.audience import load_by_token
from pystep.verify.authority import Authority
from pystep.verify.claims import Claims, parse_claims
from pystep.verify.context import Ctx
from pystep.verify.result import Check, Failed, Operation, Recorder, Verdict

Authorize = Callable[[Ctx], None]


def _type_check(kind: str) -> Authorize | None:
    if kind == "JWK":
        from pystep.verify.jwk import authorize
    elif kind == "X5C":
        from pystep.verify.x5c import authorize
    elif kind == "SSHPOP":
        from pystep.verify.sshpop import authorize
    elif kind == "Nebula":
        from pystep.verify.nebula import authorize
    elif kind == "K8sSA":
        from pystep.verify.k8ssa import authorize
    else:
        return None
    return authorize


def verify_token(
    token: str,
    authority: Authority,
    op: Operation = Operation.SIGN,
    *,
    csr: bytes | None = None,
    now: float | None = None,
) -> Verdict:
    """Predict step-ca 0.19's answer to ``token`` at the ``op`` endpoint."""
    verdict = Verdict(operation=op)
    rec = Recorder(verdict)
    if authority.dns_source == "ca-url":
        verdict.notes.append(
            f"audiences derived from the --ca-url host {list(authority.dns_names)} (the CA "
            "ignores the port); the CA's real dnsNames are unknown online")
    moment = time.time() if now is None else now
    try:
        if op is Operation.RENEW:
            from pystep.verify.renew import verify_renew

            verify_renew(token, authority, rec, moment)
        else:
            _run(token, authority, op, csr, moment, rec, verdict)
    except Failed:
        pass
    return verdict


def _parse(token: str, rec: Recorder) -> tuple[object, Claims]:
    try:
        decoded = decode_compact(token)
    except InputError as exc:
        raise rec.fail("parse", f"error parsing token: {exc}") from None
    crit = decoded.header.get("crit")
    if crit is not None and crit != ["b64"]:
        raise rec.fail("parse", "square/go-jose: unsupported crit header")
    try:
        claims = parse_claims(decoded.claims)
    except ValueError as exc:
        raise rec.fail("claims", f"error unmarshaling token claims: {exc}") from None
    rec.ok("parse", f"JWS with alg {decoded.header.get('alg')}; claims have the right types")
    return decoded, claims


def _run(token: str, authority: Authority, op: Operation, csr_pem: bytes | None,
         now: float, rec: Recorder, verdict: Verdict) -> None:
    from pystep.verify import csr as csr_checks

    # 1. The handler's own checks.
    if op in (Operation.SSH_SIGN, Operation.SSH_RENEW, Operation.SSH_REKEY):
        configured = authority.ssh_configured
        if configured is False:
            raise rec.fail("ssh ca", "ssh certificate flows are not enabled", 501)
        if configured is None:
            rec.warn("ssh ca", "whether the CA has SSH keys is unknown")
    csr = csr_checks.handler_check(rec, csr_pem) if op is Operation.SIGN else None
    # 2. The JWS and its claims (unverified).
    decoded, claims = _parse(token, rec)
    ctx = Ctx(token=token, decoded=decoded, claims=claims,  # type: ignore[arg-type]
              authority=authority, op=op, now=now, rec=rec, csr_pem=csr_pem)
    # 3. iat against the CA's start.
    if claims.iat is None:
        rec.skip("iat vs CA start", "no iat claim")
    elif authority.disable_iat_check:
        rec.skip("iat vs CA start", "disableIssuedAtCheck is set")
    elif authority.started_at is None:
        rec.warn("iat vs CA start", "the CA refuses tokens issued before it started; its "
                 "start time is unknown (give --ca-start)")
    else:
        rec.require(math.floor(claims.iat) >= math.floor(authority.started_at),
                    "iat vs CA start", "token issued before the bootstrap of certificate "
                    "authority", reason_ok="issued after the CA started")
    # 4. Provisioner lookup.
    kid = decoded.header.get("kid")  # type: ignore[attr-defined]
    record, how = load_by_token(authority.provisioners, authority.dns_names, claims.raw,
                                claims.aud, kid if isinstance(kid, str) else "")
    if record is None:
        raise rec.fail("provisioner", f"provisioner not found or invalid audience "
                       f"({' '.join(claims.aud)}): looked up {how}")
    ctx.record = record
    verdict.provisioner, verdict.provisioner_type = record.name, record.type
    rec.ok("provisioner", f"{record.label}, found {how}")
    # 4b. ACME and SCEP: 0.19 accepts any token for sign (security bug, fixed v0.29.0).
    if record.type in ("ACME", "SCEP"):
        if op is Operation.SIGN:
            rec.warn("token bypass", f"step-ca 0.19 ignores the token entirely for {record.type} "
                     "provisioners (fixed in v0.29.0): accepted, but dangerous")
            return
        raise rec.fail("operation", f"could not get ID for token ({record.type})", 500 if
                       op is Operation.REVOKE else 401)
    # 5. Replay.
    if record.type == "K8sSA":
        rec.info("replay", "K8sSA tokens have no replay protection")
    else:
        key = claims.jti or "sha256 of the token"
        rec.warn("replay", f"the CA refuses a token whose replay key ({key}) was already used; "
                 "the verifier cannot know")
    # 6. Type checks.
    authorize = _type_check(record.type)
    if authorize is None:
        raise rec.fail("provisioner type", f"{record.type} tokens cannot be verified here (the "
                       "checks need the identity provider's keys)", 0)
    authorize(ctx)
    # 7. Sign-time checks.
    if csr is not None:
        csr_checks.sign_checks(ctx, csr)
    if op is Operation.SSH_SIGN:
        _ssh_request_note(ctx)
    _sha_note(ctx)


def _ssh_request_note(ctx: Ctx) -> None:
    """The /ssh/sign body is not given to the verifier; say what the CA checks in it."""
    step = ctx.claims.raw.get("step")
    if isinstance(step, dict) and isinstance(step.get("ssh"), dict):
        ctx.rec.warn("ssh request", "the CA also checks the request's certType, principals "
                     "and keyID against the token's step.ssh (403 when they differ)")
    else:
        ctx.rec.warn("ssh request", f"{ctx.kind} tokens carry no step.ssh: certType, "
                     "principals and keyID come from the request, and the CA refuses empty "
                     "principals (400)")


def _sha_note(ctx: Ctx) -> None:
    sha = ctx.claims.raw.get("sha")
    if not isinstance(sha, str) or not ctx.authority.roots:
        return
    from cryptography.hazmat.primitives.serialization import Encoding

    from pystep.claims import root_sha

    shas = {root_sha(r.public_bytes(Encoding.DER)) for r in ctx.authority.roots}
    if sha.lower() in shas:
        ctx.rec.info("sha", "matches the root (the CA ignores sha; clients use it)")
    else:
        ctx.rec.warn("sha", "does not match the root (the CA ignores sha, but a client "
                     "bootstrapping from this token would refuse the CA)")


__all__ = ["Check", "Operation", "Verdict", "verify_token"]
