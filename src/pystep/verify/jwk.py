"""JWK provisioner checks (spec ca.md §5.1, ``jwk.go`` authorizeToken and friends)."""

from __future__ import annotations

from pystep.errors import InputError
from pystep.jose.jwk import public_key_from_jwk
from pystep.verify.context import (
    Ctx,
    op_audiences,
    require_ssh_ca,
    signature_ok,
    standard_claims,
)
from pystep.verify.result import Operation

SUPPORTED = (Operation.SIGN, Operation.REVOKE, Operation.SSH_SIGN, Operation.SSH_REVOKE)


def authorize(ctx: Ctx) -> None:
    assert ctx.record is not None
    rec, name = ctx.rec, ctx.record.name
    if ctx.op not in SUPPORTED:
        what = {Operation.SSH_RENEW: "AuthorizeSSHRenew", Operation.SSH_REKEY: "AuthorizeSSHRekey",
                Operation.RENEW: "AuthorizeRenew"}.get(ctx.op, ctx.op.value)
        raise rec.fail("operation", f"provisioner.{what} not implemented for JWK provisioners")
    rec.ok("operation", f"JWK provisioners support {ctx.op.value}")
    require_ssh_ca(ctx, "jwk", "the CA's global claims are not visible online; assuming "
                   "enableSSHCA is true (use --ca-config to know)")
    key_json = ctx.record.raw.get("key")
    try:
        key = public_key_from_jwk(key_json if isinstance(key_json, dict) else {})
    except (InputError, ValueError) as exc:
        raise rec.fail("signature", f"provisioner key unusable: {exc}") from None
    problem = signature_ok(ctx, key)
    rec.require(problem is None, "signature",
                f"jwk.authorizeToken; error parsing jwk claims: {problem}",
                reason_ok=f"{ctx.decoded.header.get('alg')} by the provisioner key "
                f"{ctx.record.kid}")
    standard_claims(ctx, "jwk.authorizeToken", name, op_audiences(ctx))
    if ctx.op is Operation.SSH_SIGN:
        step = ctx.claims.raw.get("step")
        ssh = step.get("ssh") if isinstance(step, dict) else None
        rec.require(isinstance(ssh, dict), "step.ssh",
                    "jwk token must be an SSH provisioning token", reason_ok="present")
