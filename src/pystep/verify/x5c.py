"""X5C provisioner checks (spec ca.md §5.2) and the chain walk they need.

The chain is built the way Go's ``x509.Verify`` would: leaf first, intermediates only from
the header, anchored in the given roots, every certificate valid at ``now``, issuers
must be CAs, and the ClientAuth EKU must be allowed along the whole path.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from pystep.verify.context import (
    Ctx,
    op_audiences,
    require_ssh_ca,
    require_supported,
    signature_ok,
    standard_claims,
)
from pystep.verify.result import Operation

SUPPORTED = (Operation.SIGN, Operation.REVOKE, Operation.SSH_SIGN)
_ANY_EKU = x509.ObjectIdentifier("2.5.29.37.0")


def header_certs(value: object, name: str = "x5c") -> list[x509.Certificate]:
    """The ``x5c``/``x5cInsecure`` header: standard base64 DER, leaf first."""
    if not isinstance(value, list) or not value:
        raise ValueError(f"{name} header is missing or empty")
    out = []
    for item in value:
        if not isinstance(item, str):
            raise ValueError(f"{name} header entries must be strings")
        try:
            out.append(x509.load_der_x509_certificate(base64.b64decode(item, validate=True)))
        except (ValueError, binascii.Error) as exc:
            raise ValueError(f"{name} header: {exc}") from None
    return out


def _eku_allows_client(cert: x509.Certificate) -> bool:
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return ExtendedKeyUsageOID.CLIENT_AUTH in eku or _ANY_EKU in eku


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return cert.version == x509.Version.v1


def _signed_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, Exception):  # InvalidSignature and friends
        return False
    return True


def _valid_at(cert: x509.Certificate, now: datetime) -> bool:
    return cert.not_valid_before_utc <= now <= cert.not_valid_after_utc


def verify_chain(
    leaf: x509.Certificate,
    intermediates: list[x509.Certificate],
    roots: list[x509.Certificate],
    now: datetime,
    *,
    client_auth: bool = True,
) -> str | None:
    """None when a path exists, else Go's reason."""
    if not _valid_at(leaf, now):
        return "x509: certificate has expired or is not yet valid"
    root_ders = {r.tbs_certificate_bytes for r in roots}
    if leaf.tbs_certificate_bytes in root_ders:
        return None if not client_auth or _eku_allows_client(leaf) else (
            "x509: certificate specifies an incompatible key usage")
    found_path_bad_eku = False

    def walk(cert: x509.Certificate, depth: int, used: set[int]) -> bool:
        nonlocal found_path_bad_eku
        if depth > 10:
            return False
        for root in roots:
            if root.subject == cert.issuer and _signed_by(cert, root) and _valid_at(root, now):
                return True
        for i, inter in enumerate(intermediates):
            if i in used or inter.subject != cert.issuer or not _is_ca(inter):
                continue
            if not _valid_at(inter, now) or not _signed_by(cert, inter):
                continue
            if client_auth and not _eku_allows_client(inter):
                found_path_bad_eku = True
                continue
            if walk(inter, depth + 1, used | {i}):
                return True
        return False

    if not walk(leaf, 0, set()):
        if found_path_bad_eku:
            return "x509: certificate specifies an incompatible key usage"
        return "x509: certificate signed by unknown authority"
    if client_auth and not _eku_allows_client(leaf):
        return "x509: certificate specifies an incompatible key usage"
    return None


def roots_of(raw: object) -> list[x509.Certificate]:
    """The provisioner's ``roots``: standard base64 of a PEM bundle."""
    if not isinstance(raw, str):
        return []
    try:
        data = base64.b64decode(raw, validate=True)
    except (ValueError, binascii.Error):
        data = raw.encode()
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        return []


def has_digital_signature(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature)
    except x509.ExtensionNotFound:
        return False


def authorize(ctx: Ctx) -> None:
    assert ctx.record is not None
    rec, name = ctx.rec, ctx.record.name
    require_supported(ctx, SUPPORTED, "X5C")
    require_ssh_ca(ctx, "x5c", "global claims unknown online; assuming enabled")
    try:
        certs = header_certs(ctx.decoded.header.get("x5c"))
    except ValueError as exc:
        raise rec.fail("x5c chain", f"x5c.authorizeToken; {exc}") from None
    now = datetime.fromtimestamp(ctx.now, UTC)
    problem = verify_chain(certs[0], certs[1:], roots_of(ctx.record.raw.get("roots")), now)
    rec.require(problem is None, "x5c chain",
                f"x5c.authorizeToken; error verifying x5c certificate chain in token: {problem}",
                reason_ok="leaf chains to the provisioner roots with the ClientAuth EKU")
    leaf = certs[0]
    rec.require(has_digital_signature(leaf), "x5c leaf key usage",
                "x5c.authorizeToken; certificate used to sign x5c token cannot be used for "
                "digital signature", reason_ok="digitalSignature")
    sig = signature_ok(ctx, leaf.public_key())  # type: ignore[arg-type]
    rec.require(sig is None, "signature",
                f"x5c.authorizeToken; error parsing x5c claims: {sig}",
                reason_ok="by the x5c leaf key")
    standard_claims(ctx, "x5c.authorizeToken", name, op_audiences(ctx, f"x5c/{name}"))
    ctx.extra["leaf"] = leaf
    if ctx.op is Operation.SSH_SIGN:
        step = ctx.claims.raw.get("step")
        ssh = step.get("ssh") if isinstance(step, dict) else None
        rec.require(isinstance(ssh, dict), "step.ssh",
                    "x5c token must be an SSH provisioning token", reason_ok="present")
