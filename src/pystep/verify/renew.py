"""``POST /renew`` with ``Authorization: Bearer`` (x5cInsecure): its own order of checks
(spec ca.md §7.1, ``AuthorizeRenewToken``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.x509.oid import NameOID

from pystep.errors import InputError
from pystep.jose.jws import decode_compact
from pystep.verify.audience import audiences, matches
from pystep.verify.authority import Authority
from pystep.verify.claims import parse_claims, time_problem
from pystep.verify.context import Ctx, signature_ok
from pystep.verify.result import Operation, Recorder
from pystep.verify.x5c import has_digital_signature, header_certs, verify_chain

STEP_OID = x509.ObjectIdentifier("1.3.6.1.4.1.37476.9000.64.1")
CLIENT_ISSUER = "step-ca-client/1.0"
_MSG = "error validating renew token"


def _der_items(data: bytes) -> list[tuple[int, bytes]]:
    """The (tag, content) items of one DER SEQUENCE's content (short and long lengths)."""
    out = []
    pos = 0
    while pos + 2 <= len(data):
        tag, length = data[pos], data[pos + 1]
        pos += 2
        if length & 0x80:
            n = length & 0x7F
            length = int.from_bytes(data[pos : pos + n], "big")
            pos += n
        out.append((tag, data[pos : pos + length]))
        pos += length
    return out


def provisioner_extension(cert: x509.Certificate) -> tuple[int, str, str] | None:
    """(type, name, credential id) from step's provisioner extension, if present."""
    try:
        ext = cert.extensions.get_extension_for_oid(STEP_OID).value
    except x509.ExtensionNotFound:
        return None
    raw = ext.value if isinstance(ext, x509.UnrecognizedExtension) else b""
    outer = _der_items(raw)
    if not outer or outer[0][0] != 0x30:
        return None
    items = _der_items(outer[0][1])
    if len(items) < 3:
        return None
    return (int.from_bytes(items[0][1], "big"), items[1][1].decode("utf-8", "replace"),
            items[2][1].decode("utf-8", "replace"))


def verify_renew(token: str, authority: Authority, rec: Recorder, now: float) -> None:
    try:
        decoded = decode_compact(token)
        claims = parse_claims(decoded.claims)
    except (InputError, ValueError) as exc:
        raise rec.fail("parse", f"{_MSG}: {exc}") from None
    try:
        certs = header_certs(decoded.header.get("x5cInsecure"), "x5cInsecure")
    except ValueError as exc:
        raise rec.fail("x5cInsecure chain", f"{_MSG}: {exc}") from None
    rec.ok("parse", "JWS with an x5cInsecure header")
    leaf = certs[0]
    at = leaf.not_valid_after_utc - timedelta(minutes=1)
    problem = verify_chain(leaf, certs[1:], authority.roots, at, client_auth=False)
    if problem is None and not has_digital_signature(leaf):
        problem = "certificate cannot be used for digital signature"
    rec.require(problem is None, "x5cInsecure chain", f"{_MSG}: {problem}",
                reason_ok="chains to the CA root (checked at the leaf's expiry minus 1m)")
    ctx = Ctx(token=token, decoded=decoded, claims=claims, authority=authority,
              op=Operation.RENEW, now=now, rec=rec)
    sig = signature_ok(ctx, leaf.public_key())  # type: ignore[arg-type]
    rec.require(sig is None, "signature", f"{_MSG}: {sig}", 500, reason_ok="by the leaf key")
    ext = provisioner_extension(leaf)
    record = None
    if ext is not None:
        record = next((p for p in authority.provisioners if p.name == ext[1]), None)
    rec.require(record is not None, "provisioner",
                f"{_MSG}: cannot get provisioner from certificate",
                reason_ok=f"{record.label if record else ''} (from the certificate)")
    assert record is not None
    rec.warn("replay", "the CA refuses a replayed token; the verifier cannot know")
    cns = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    cn = str(cns[0].value) if cns else ""
    rec.require(claims.sub == cn, "sub", f"{_MSG}: invalid subject claim (sub)",
                reason_ok=f"'{cn}' is the leaf CN")
    tp = time_problem(claims, now)
    rec.require(tp is None, "time", f"{_MSG}: {tp}", reason_ok="within the 60s leeway")
    rec.require(matches(claims.aud, audiences(authority.dns_names, Operation.RENEW)), "aud",
                f"{_MSG}: invalid audience claim (aud)", 500, reason_ok="a renew audience")
    rec.require(claims.iss in (CLIENT_ISSUER, record.name), "iss",
                f"{_MSG}: invalid issuer claim (iss)", reason_ok=f"'{claims.iss}'")
    rec.warn("revocation", "the CA refuses a revoked certificate; the verifier cannot know")
    pclaims = record.raw.get("claims")
    pclaims = pclaims if isinstance(pclaims, dict) else {}
    global_claims = authority.global_claims or {}
    disabled = pclaims.get("disableRenewal", global_claims.get("disableRenewal", False))
    rec.require(not disabled, "renewal", f"renew is disabled for provisioner '{record.name}'",
                reason_ok="renewal allowed")
    moment = datetime.fromtimestamp(now, UTC)
    rec.require(moment >= leaf.not_valid_before_utc, "certificate validity",
                "certificate is not yet valid")
    after_expiry = pclaims.get("allowRenewalAfterExpiry",
                               global_claims.get("allowRenewalAfterExpiry", False))
    rec.require(moment <= leaf.not_valid_after_utc or bool(after_expiry),
                "certificate validity", f"certificate expired on {leaf.not_valid_after_utc}",
                reason_ok="certificate within its validity")
