"""The state one verification carries from check to check."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pystep.jose.jws import VERIFIERS, Decoded, register_verifier, verify_signature
from pystep.jose.signer import PublicKey
from pystep.provisioners.base import ProvisionerRecord
from pystep.verify.audience import audiences, matches
from pystep.verify.authority import Authority
from pystep.verify.claims import Claims, time_problem
from pystep.verify.result import Operation, Recorder


@dataclass
class Ctx:
    token: str
    decoded: Decoded
    claims: Claims
    authority: Authority
    op: Operation
    now: float
    rec: Recorder
    record: ProvisionerRecord | None = None
    csr_pem: bytes | None = None
    # What the type checks learnt, for the sign-time checks.
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.record.type if self.record else ""


def alg_fits(alg: str, key: PublicKey) -> bool:
    """go-jose: the header ``alg`` must be one the key type can verify."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa, x25519

    if isinstance(key, ec.EllipticCurvePublicKey):
        return alg in ("ES256", "ES384", "ES512")
    if isinstance(key, rsa.RSAPublicKey):
        return alg[:2] in ("RS", "PS") and alg[2:] in ("256", "384", "512")
    if isinstance(key, ed25519.Ed25519PublicKey):
        return alg == "EdDSA"
    if isinstance(key, x25519.X25519PublicKey):
        return alg == "XEdDSA"
    return False


def _xeddsa(key: object, message: bytes, signature: bytes) -> bool:
    from cryptography.hazmat.primitives.asymmetric import x25519

    from pystep.keys.xeddsa import xeddsa_verify

    return isinstance(key, x25519.X25519PublicKey) and xeddsa_verify(key, message, signature)


def signature_ok(ctx: Ctx, key: PublicKey) -> str | None:
    """None when the JWS verifies with ``key``, else go-jose's reason."""
    alg = ctx.decoded.header.get("alg")
    if not isinstance(alg, str) or not alg:
        return "square/go-jose: missing alg header"
    if alg == "XEdDSA" and "XEdDSA" not in VERIFIERS:
        register_verifier("XEdDSA", _xeddsa)
    if not alg_fits(alg, key) or alg not in VERIFIERS:
        return f"square/go-jose: unexpected signature algorithm '{alg}' for this key type"
    if not verify_signature(ctx.decoded, key, alg):
        return "square/go-jose: error in cryptographic primitive"
    return None


def standard_claims(ctx: Ctx, prefix: str, name: str, aud_list: list[str],
                    *, check_time: bool = True, check_aud: bool = True) -> None:
    """iss, time (±60 s), aud for the operation, non-empty sub — in the CA's order."""
    c, rec = ctx.claims, ctx.rec
    rec.require(c.iss == name, "iss", f"{prefix}: invalid issuer claim (iss): got '{c.iss}', "
                f"want '{name}'", reason_ok=f"'{c.iss}'")
    if check_time:
        problem = time_problem(c, ctx.now)
        rec.require(problem is None, "time", f"{prefix}: {problem}",
                    reason_ok="nbf, exp and iat within the CA's 60s leeway")
    if check_aud:
        rec.require(matches(c.aud, aud_list), "aud",
                    f"{prefix}: invalid audience claim (aud) for {ctx.op.value}; want one of "
                    f"{aud_list}, got {c.aud}",
                    reason_ok=f"matches the {ctx.op.value} audiences")
    rec.require(c.sub != "", "sub", f"{prefix}: token subject cannot be empty",
                reason_ok=f"'{c.sub}'")


def require_supported(ctx: Ctx, supported: tuple[Operation, ...], kind: str) -> None:
    """The provisioner type must implement the operation (step-ca's message)."""
    ctx.rec.require(ctx.op in supported, "operation",
                    f"provisioner {ctx.op.value} not implemented for {kind} provisioners",
                    reason_ok=f"{kind} provisioners support {ctx.op.value}")


def require_ssh_ca(ctx: Ctx, kind: str, unknown: str | None = None) -> None:
    """For an SSH sign, enableSSHCA must not be false (``sshCA is disabled for <kind>
    provisioner '<name>'``). Without ``unknown`` only a failure is recorded; with it a
    pass is recorded too, or that warning when the CA's global claims are not known."""
    if ctx.op is not Operation.SSH_SIGN:
        return
    assert ctx.record is not None
    enabled = ctx.authority.ssh_enabled(ctx.record)
    if enabled is False:
        raise ctx.rec.fail("enableSSHCA",
                           f"sshCA is disabled for {kind} provisioner '{ctx.record.name}'")
    if unknown is None:
        return
    if enabled is None:
        ctx.rec.warn("enableSSHCA", unknown)
    else:
        ctx.rec.ok("enableSSHCA")


def op_audiences(ctx: Ctx, fragment: str = "") -> list[str]:
    return audiences(ctx.authority.dns_names, ctx.op, fragment)


def claims_of(ctx: Ctx) -> Claims:
    return ctx.claims
