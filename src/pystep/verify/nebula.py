"""Nebula provisioner checks (spec ca.md §5.4): the ``nebula`` header's certificate is
verified against the provisioner's Nebula CAs, and its X25519 key signs the token
(XEdDSA). Only v1 (protobuf) certificates, as in step-ca 0.19."""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519

from pystep.keys.nebula import NebulaCert
from pystep.keys.nebula_wire import parse_raw
from pystep.verify.context import (
    Ctx,
    op_audiences,
    require_ssh_ca,
    require_supported,
    signature_ok,
    standard_claims,
)
from pystep.verify.result import Operation

SUPPORTED = (Operation.SIGN, Operation.REVOKE, Operation.SSH_SIGN, Operation.SSH_REVOKE)
_PEM = b"-----BEGIN NEBULA CERTIFICATE-----"


def _proto_field1(raw: bytes) -> bytes | None:
    """The Details bytes (field 1, length-delimited) of a v1 certificate."""
    pos = 0
    while pos < len(raw):
        tag, pos = _varint(raw, pos)
        wire = tag & 7
        if wire == 2:
            n, pos = _varint(raw, pos)
            if tag >> 3 == 1:
                return raw[pos : pos + n]
            pos += n
        elif wire == 0:
            _, pos = _varint(raw, pos)
        else:
            return None
    return None


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while pos < len(buf) and shift < 64:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, pos
    raise ValueError("truncated varint")


def ca_pool(raw: object) -> list[tuple[NebulaCert, str]]:
    """(CA cert, fingerprint) for the provisioner's ``roots`` (b64 of a PEM bundle)."""
    if not isinstance(raw, str):
        return []
    try:
        data = base64.b64decode(raw, validate=True)
    except (ValueError, binascii.Error):
        data = raw.encode()
    out = []
    for chunk in data.split(_PEM)[1:]:
        body = chunk.split(b"-----END")[0]
        try:
            der = base64.b64decode(b"".join(body.split()))
            out.append((parse_raw(der, 1), hashlib.sha256(der).hexdigest()))
        except Exception:
            continue
    return out


def verify_cert(raw: bytes, pool: list[tuple[NebulaCert, str]], now: datetime) -> str | None:
    """nebula 1.6.1 ``Verify(now, pool)``, the parts a token check meets."""
    cert = parse_raw(raw, 1)
    issuer = next((ca for ca, fp in pool if fp == cert.issuer), None)
    if issuer is None:
        return "could not find ca for the certificate"
    if now < issuer.not_before or now > issuer.not_after:
        return "root certificate is expired"
    if now < cert.not_before or now > cert.not_after:
        return "certificate is expired"
    details = _proto_field1(raw)
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(issuer.public_key).verify(
            cert.signature, details or b"")
    except (InvalidSignature, ValueError):
        return "certificate signature did not match"
    if issuer.groups and any(g not in issuer.groups for g in cert.groups):
        return "certificate contained a group not present on the signing ca"
    if cert.not_after > issuer.not_after or cert.not_before < issuer.not_before:
        return "certificate validity outside of the signing ca"
    return None


def header_cert(value: object) -> tuple[bytes, NebulaCert]:
    if not isinstance(value, str):
        raise ValueError("failed to parse token: nebula header is missing")
    try:
        raw = base64.b64decode(value, validate=True)
        return raw, parse_raw(raw, 1)
    except Exception as exc:
        raise ValueError(f"failed to parse nebula certificate: {exc}") from None


def authorize(ctx: Ctx) -> None:
    assert ctx.record is not None
    rec, name = ctx.rec, ctx.record.name
    require_supported(ctx, SUPPORTED, "Nebula")
    require_ssh_ca(ctx, "nebula")
    try:
        raw, cert = header_cert(ctx.decoded.header.get("nebula"))
    except ValueError as exc:
        raise rec.fail("nebula certificate", f"nebula.authorizeToken; {exc}") from None
    now = datetime.fromtimestamp(ctx.now, UTC)
    problem = verify_cert(raw, ca_pool(ctx.record.raw.get("roots")), now)
    rec.require(problem is None, "nebula certificate",
                "token is not valid: failed to verify certificate against configured CA: "
                f"{problem}", reason_ok=f"'{cert.name}' verified by the provisioner's CA")
    try:
        key = (ed25519.Ed25519PublicKey.from_public_bytes(cert.public_key) if cert.is_ca
               else x25519.X25519PublicKey.from_public_bytes(cert.public_key))
    except ValueError:
        raise rec.fail("signature", "token is not valid: invalid claims") from None
    sig = signature_ok(ctx, key)
    rec.require(sig is None, "signature", f"token is not valid: invalid claims: {sig}",
                reason_ok="XEdDSA by the certificate's X25519 key")
    standard_claims(ctx, "nebula.authorizeToken", name, op_audiences(ctx, f"nebula/{name}"))
    ctx.extra["nebula"] = cert
