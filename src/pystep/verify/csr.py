"""Sign-time checks of a CSR against the token (spec ca.md §6.1, §6.2, §5.4)."""

from __future__ import annotations

import ipaddress
import re

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from pystep.verify.context import Ctx
from pystep.verify.result import Recorder

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_FORBID = 403


def load_csr(data: bytes) -> x509.CertificateSigningRequest:
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_csr(data)
    return x509.load_der_x509_csr(data)


def split_sans(sans: list[str]) -> tuple[list[str], list[str], list[str], list[str]]:
    """x509util.SplitSANs: (dns, ips, emails, uris) — IP, then URL with a scheme, then
    ``@``, else DNS."""
    dns: list[str] = []
    ips: list[str] = []
    emails: list[str] = []
    uris: list[str] = []
    for san in sans:
        try:
            ips.append(str(ipaddress.ip_address(san)))
            continue
        except ValueError:
            pass
        if _SCHEME.match(san):
            uris.append(san)
        elif "@" in san:
            emails.append(san)
        else:
            dns.append(san)
    return dns, ips, emails, uris


def csr_sans(csr: x509.CertificateSigningRequest) -> tuple[list[str], ...]:
    try:
        ext = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], [], [], []
    return (
        [str(v) for v in ext.get_values_for_type(x509.DNSName)],
        [str(v) for v in ext.get_values_for_type(x509.IPAddress)],
        [str(v) for v in ext.get_values_for_type(x509.RFC822Name)],
        [str(v) for v in ext.get_values_for_type(x509.UniformResourceIdentifier)],
    )


def common_name(csr: x509.CertificateSigningRequest) -> str:
    names = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def _go_list(items: list[str]) -> str:
    return "[" + " ".join(items) + "]"


def handler_check(rec: Recorder, csr_pem: bytes | None) -> x509.CertificateSigningRequest | None:
    """Step 1 for /sign: the CSR parses and its self-signature verifies (400)."""
    if csr_pem is None:
        rec.skip("csr", "no --csr given: CSR checks skipped (the CA checks the CSR's "
                     "signature, CN, SANs and key)")
        return None
    try:
        csr = load_csr(csr_pem)
        valid = csr.is_signature_valid
    except ValueError as exc:
        raise rec.fail("csr", f"invalid csr: {exc}", 400) from None
    rec.require(valid, "csr", "invalid csr: signature does not verify", 400,
                    reason_ok="parses, self-signature valid")
    return csr


def sign_checks(ctx: Ctx, csr: x509.CertificateSigningRequest) -> None:
    """Validators after the token is accepted, in the CA's order (JWK/X5C/Nebula)."""
    kind, rec, sub = ctx.kind, ctx.rec, ctx.claims.sub
    if kind in ("K8sSA", "ACME", "SCEP"):
        rec.info("csr vs token", f"{kind}: the CA copies the CSR's subject and SANs unchecked")
        return
    cn = common_name(csr)
    rec.require(cn in ("", sub), "csr common name",
                "certificate request does not contain the valid common name - "
                f"got {cn}, want {sub}", _FORBID, reason_ok=f"'{cn}'" if cn else "empty")
    _key_check(ctx, csr)
    if kind == "Nebula":
        _nebula_sans(ctx, csr)
        return
    sans = ctx.claims.sans if ctx.claims.sans is not None else [sub]
    want = split_sans(sans)
    got = csr_sans(csr)
    labels = {0: "DNS names", 1: "IP addresses", 2: "email addresses", 3: "URIs"}
    for i in (0, 2, 1, 3):  # DNS, email, IP, URI: the CA's order
        if got[i] and set(got[i]) != set(want[i]):
            raise rec.fail("csr sans", f"certificate request does not contain the valid "
                           f"{labels[i]} - got {_go_list(got[i])}, want {_go_list(want[i])}",
                           _FORBID)
    rec.ok("csr sans", f"CSR SANs agree with the token's sans {sans}")
    _cnf_note(ctx, csr)


def _key_check(ctx: Ctx, csr: x509.CertificateSigningRequest) -> None:
    key = csr.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        ctx.rec.require(key.key_size >= 2048, "csr key",
                        f"rsa key in CSR must be at least 2048 bits (2048 bytes) - got "
                        f"{key.key_size}", _FORBID, reason_ok=f"RSA {key.key_size}")
    elif isinstance(key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
        ctx.rec.ok("csr key", type(key).__name__.replace("_", ""))
    else:
        raise ctx.rec.fail("csr key", "unsupported public key type in CSR", 400)


def _nebula_sans(ctx: Ctx, csr: x509.CertificateSigningRequest) -> None:
    cert = ctx.extra.get("nebula")
    if cert is None:
        return
    name = cert.name
    try:
        ipaddress.ip_address(name)
        name_is_ip = True
    except ValueError:
        name_is_ip = False
    dns, ips, emails, uris = csr_sans(csr)
    rec = ctx.rec
    if dns and not name_is_ip:
        rec.require(dns == [name], "csr sans", "certificate request does not contain the valid "
                    f"DNS names - got {_go_list(dns)}, want [{name}]", _FORBID)
    allowed_ips = {str(ipaddress.ip_interface(i).ip) for i in cert.ips} | (
        {name} if name_is_ip else set())
    for ip in ips:
        rec.require(ip in allowed_ips, "csr sans", f"IP address {ip} not in nebula certificate",
                    _FORBID)
    if emails or uris:
        rec.warn("csr sans", "emails/URIs are compared with the nebula name; not modelled")
    rec.ok("csr sans", "CSR SANs agree with the nebula certificate")


def _cnf_note(ctx: Ctx, csr: x509.CertificateSigningRequest) -> None:
    cnf = ctx.claims.raw.get("cnf")
    if not isinstance(cnf, dict) or "x5rt#S256" not in cnf:
        return
    import hashlib

    from cryptography.hazmat.primitives.serialization import Encoding

    from pystep.jose.encoding import b64url_encode

    fp = b64url_encode(hashlib.sha256(csr.public_bytes(Encoding.DER)).digest())
    if cnf["x5rt#S256"] == fp:
        ctx.rec.info("cnf", "cnf x5rt#S256 matches the CSR (0.19 ignores cnf)")
    else:
        ctx.rec.warn("cnf", "cnf x5rt#S256 does not match the CSR: step-ca 0.19 ignores "
                     "it, step-ca ≥ 0.27.3 refuses (403)")
