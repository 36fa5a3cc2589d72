"""SSHPOP provisioner checks (spec ca.md §5.3): the ``sshpop`` header's SSH certificate,
signed by one of the CA's SSH keys, signs the token."""

from __future__ import annotations

import base64
import binascii

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from pystep.keys.sshcert import SSHCert, parse_ssh_certificate
from pystep.verify.context import (
    Ctx,
    op_audiences,
    require_supported,
    signature_ok,
    standard_claims,
)
from pystep.verify.result import Operation

SUPPORTED = (Operation.SSH_RENEW, Operation.SSH_REKEY, Operation.SSH_REVOKE)
_INFINITY = 2**64 - 1


def header_cert(value: object) -> SSHCert:
    if not isinstance(value, str):
        raise ValueError("sshpop header is missing")
    try:
        wire = base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        raise ValueError("error decoding sshpop header") from None
    if len(wire) < 4:
        raise ValueError("error parsing ssh public key")
    n = int.from_bytes(wire[:4], "big")
    key_type = wire[4 : 4 + n]
    return parse_ssh_certificate(key_type + b" " + value.encode(), "sshpop header")


def _wire(key: object) -> bytes:
    line = key.public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH)  # type: ignore[attr-defined]
    return base64.b64decode(line.split()[1])


def authorize(ctx: Ctx) -> None:
    assert ctx.record is not None
    rec, name = ctx.rec, ctx.record.name
    require_supported(ctx, SUPPORTED, "SSHPOP")
    try:
        cert = header_cert(ctx.decoded.header.get("sshpop"))
    except Exception as exc:  # KeyLoadError, ValueError
        raise rec.fail("sshpop certificate", f"sshpop.authorizeToken; {exc}") from None
    rec.ok("sshpop certificate", f"{cert.cert_type} certificate, serial {cert.serial}")
    rec.warn("revocation", "the CA refuses a revoked certificate; the verifier cannot see its "
             "revocation list")
    if ctx.op in (Operation.SSH_REVOKE, Operation.SSH_REKEY):
        if ctx.now < cert.valid_after:
            raise rec.fail("sshpop validity", "sshpop certificate validAfter is in the future")
        rec.require(cert.valid_before >= _INFINITY or ctx.now < cert.valid_before,
                    "sshpop validity", "sshpop certificate validBefore is in the past",
                    reason_ok="certificate currently valid")
    keys = ctx.authority.ssh_user_keys if cert.cert_type == "user" else ctx.authority.ssh_host_keys
    signer = _wire(cert.cert.signature_key())
    if keys is None:
        rec.warn("sshpop signer", "the CA's SSH keys are unknown")
    else:
        signed = signer in keys
        if signed:
            try:
                cert.cert.verify_cert_signature()
            except Exception:
                signed = False
        rec.require(signed, "sshpop signer",
                    "sshpop.authorizeToken; could not find valid ca signer to verify sshpop "
                    "certificate", reason_ok=f"signed by the CA's SSH {cert.cert_type} key")
    sig = signature_ok(ctx, cert.public_key())
    rec.require(sig is None, "signature", f"sshpop.authorizeToken; error parsing sshpop claims: "
                f"{sig}", reason_ok="by the certificate's key")
    standard_claims(ctx, "sshpop.authorizeToken", name, op_audiences(ctx, f"sshpop/{name}"))
    if ctx.op is Operation.SSH_REVOKE:
        rec.require(ctx.claims.sub == str(cert.serial), "sshpop serial",
                    "sshpop token subject must be equivalent to sshpop certificate serial "
                    "number", http=400, reason_ok="sub is the certificate serial")
    else:
        rec.require(cert.cert_type == "host", "sshpop host",
                    "sshpop certificate must be a host ssh certificate", http=400,
                    reason_ok="host certificate")
