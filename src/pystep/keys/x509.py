"""X.509 certificate bundles for X5C and renew tokens (``--x5c-cert``).

step reads every ``CERTIFICATE`` PEM block in file order (blocks with headers are
skipped) or a single DER certificate, puts them in the ``x5c``/``x5cInsecure`` header
as standard base64 DER, and before minting an X5C token checks only two things about
the leaf (the first certificate): that its key is the signing key and that it allows
``digitalSignature``. Chain order, expiry and trust are the CA's business; we also
offer :func:`leaf_expired` so a caller can warn early about an expired leaf.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from pystep._files import read_bounded
from pystep.errors import KeyLoadError
from pystep.jose.signer import PublicKey
from pystep.keys.pem import PemError, pem_blocks

MAX_BUNDLE_SIZE = 1024 * 1024
MAX_CERTIFICATES = 64

_X5C_PREFIX = "error validating x5c certificate chain and key for use in x5c header: ValidateX5C"


def parse_cert_bundle(data: bytes, path: str = "certificate") -> list[x509.Certificate]:
    """All CERTIFICATE PEM blocks of ``data`` in order, or ``data`` as one DER cert."""
    invalid = KeyLoadError(f"file {path} does not contain a valid certificate")
    certs: list[x509.Certificate] = []
    if b"-----BEGIN " in data:
        try:
            blocks = pem_blocks(data)
        except PemError:
            raise KeyLoadError(f"file {path} contains too many PEM blocks") from None
        for block in blocks:
            body = block.body
            if block.label != b"CERTIFICATE" or b":" in body:
                continue  # other blocks and blocks with headers are skipped, as in step
            try:
                der = base64.b64decode(b"".join(body.split()), validate=True)
                certs.append(x509.load_der_x509_certificate(der))
            except (binascii.Error, ValueError) as exc:
                raise invalid from exc
            if len(certs) > MAX_CERTIFICATES:
                raise KeyLoadError(f"file {path} contains too many certificates")
    else:
        try:
            certs.append(x509.load_der_x509_certificate(data))
        except ValueError as exc:
            raise invalid from exc
    if not certs:
        raise invalid
    return certs


def load_cert_bundle(path: str) -> list[x509.Certificate]:
    """Read ``--x5c-cert``: a PEM bundle (leaf first, as written) or one DER certificate."""
    return parse_cert_bundle(read_bounded(path, MAX_BUNDLE_SIZE, error=KeyLoadError), path)


def _public_der(key: object) -> bytes:
    public_bytes = getattr(key, "public_bytes", None)
    if public_bytes is None:
        return b""
    der: bytes = public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return der


def validate_x5c(certs: list[x509.Certificate], signer_public_key: PublicKey) -> None:
    """step's client-side ValidateX5C: the leaf's key is the signer's and it may sign.

    Errors read ``error validating x5c certificate chain and key for use in x5c header:
    ValidateX5C: ...`` as step prints them.
    """
    if not certs:
        raise KeyLoadError(f"{_X5C_PREFIX}: certs cannot be empty")
    leaf = certs[0]
    if _public_der(leaf.public_key()) != _public_der(signer_public_key):
        raise KeyLoadError(
            f"{_X5C_PREFIX}: error verifying certificate and key: "
            "private key does not match public key"
        )
    try:
        usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
        allowed = usage.digital_signature
    except x509.ExtensionNotFound:
        allowed = False
    if not allowed:
        raise KeyLoadError(
            f"{_X5C_PREFIX}: certificate/private-key pair used to sign token "
            "is not approved for digital signature"
        )


def leaf_expired(certs: list[x509.Certificate], now: datetime | None = None) -> bool:
    """Whether the leaf is outside its validity window (the CA would refuse X5C)."""
    moment = now or datetime.now(UTC)
    leaf = certs[0]
    return not leaf.not_valid_before_utc <= moment <= leaf.not_valid_after_utc


def x5c_header_value(certs: list[x509.Certificate]) -> list[str]:
    """The ``x5c``/``x5cInsecure`` header: standard padded base64 DER, in file order."""
    return [base64.b64encode(cert.public_bytes(Encoding.DER)).decode("ascii") for cert in certs]
