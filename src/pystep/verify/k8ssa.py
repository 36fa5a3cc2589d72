"""K8sSA provisioner checks (spec ca.md §5.5): signature by one of ``publicKeys``,
``iss``, non-empty ``sub``; no time, audience or replay checks."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives.serialization import load_pem_public_key

from pystep.jose.signer import PublicKey
from pystep.verify.context import (
    Ctx,
    require_ssh_ca,
    require_supported,
    signature_ok,
    standard_claims,
)
from pystep.verify.result import Operation

ISSUER = "kubernetes/serviceaccount"
SUPPORTED = (Operation.SIGN, Operation.REVOKE, Operation.SSH_SIGN)


def public_keys(raw: object) -> list[PublicKey]:
    """``publicKeys``: standard base64 of a PEM bundle (or the PEM text itself)."""
    if not isinstance(raw, str):
        return []
    try:
        data = base64.b64decode(raw, validate=True)
    except ValueError:
        data = raw.encode()
    keys: list[PublicKey] = []
    marker = b"-----BEGIN PUBLIC KEY-----"
    for chunk in data.split(marker)[1:]:
        try:
            key = load_pem_public_key(marker + chunk)
        except ValueError:
            continue
        keys.append(key)  # type: ignore[arg-type]
    return keys


def authorize(ctx: Ctx) -> None:
    assert ctx.record is not None
    rec = ctx.rec
    require_supported(ctx, SUPPORTED, "K8sSA")
    require_ssh_ca(ctx, "k8sSA")
    keys = public_keys(ctx.record.raw.get("publicKeys"))
    ok = any(signature_ok(ctx, k) is None for k in keys)
    rec.require(ok, "signature", "k8ssa.authorizeToken; error validating k8sSA token and "
                "extracting claims", reason_ok="by one of the provisioner's publicKeys")
    standard_claims(ctx, "k8ssa.authorizeToken", ISSUER, [], check_time=False, check_aud=False)
    rec.info("time", "K8sSA tokens have no time or audience check in step-ca")
