"""OpenSSH certificates for SSHPOP tokens (``--sshpop-cert``).

The file is one authorized_keys-style line (``<type> <base64> [comment]``) that must be
a certificate. The ``sshpop`` header is the standard base64 of its wire encoding, and
the signing key must be the certificate's own key.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    SSHCertificate,
    SSHCertificateType,
    load_ssh_public_identity,
)

from pystep.errors import KeyLoadError
from pystep.jose.signer import PublicKey

MAX_CERT_FILE_SIZE = 64 * 1024
_SSHPOP_PREFIX = "error validating SSH certificate and key for use in sshpop header"
_INFINITY = 2**64 - 1


@dataclass(frozen=True)
class SSHCert:
    """An SSH certificate and what a token client may want to show or check."""

    cert: SSHCertificate
    wire: bytes
    cert_type: Literal["user", "host"]
    principals: list[str]
    key_id: str
    serial: int
    valid_after: int
    valid_before: int

    def public_key(self) -> ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | rsa.RSAPublicKey:
        return self.cert.public_key()

    def valid_after_time(self) -> datetime:
        return datetime.fromtimestamp(self.valid_after, UTC)

    def valid_before_time(self) -> datetime | None:
        """None when the certificate never expires."""
        if self.valid_before >= _INFINITY:
            return None
        return datetime.fromtimestamp(min(self.valid_before, 253402300799), UTC)


def parse_ssh_certificate(data: bytes, path: str = "certificate") -> SSHCert:
    """Parse one authorized_keys-format line that holds an SSH certificate."""
    fields = data.strip().split()
    try:
        if len(fields) < 2:
            raise ValueError("missing key type or key data")
        wire = base64.b64decode(fields[1], validate=True)
        identity = load_ssh_public_identity(b" ".join(fields[:2]))
    except (ValueError, binascii.Error, UnsupportedAlgorithm) as exc:
        detail = str(exc) or "invalid format"
        raise KeyLoadError(
            f"{_SSHPOP_PREFIX}: error parsing ssh public key from {path}: {detail}"
        ) from exc
    if not isinstance(identity, SSHCertificate):
        raise KeyLoadError(f"{_SSHPOP_PREFIX}: error casting ssh public key to ssh certificate")
    return SSHCert(
        cert=identity,
        wire=wire,
        cert_type="user" if identity.type == SSHCertificateType.USER else "host",
        principals=[p.decode("utf-8", "replace") for p in identity.valid_principals],
        key_id=identity.key_id.decode("utf-8", "replace"),
        serial=identity.serial,
        valid_after=identity.valid_after,
        valid_before=identity.valid_before,
    )


def load_ssh_certificate(path: str) -> SSHCert:
    """Read ``--sshpop-cert`` (bounded)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_CERT_FILE_SIZE + 1)
    except OSError as exc:
        raise KeyLoadError(
            f"{_SSHPOP_PREFIX}: error reading ssh certificate from {path}: {exc.strerror or exc}"
        ) from exc
    if len(data) > MAX_CERT_FILE_SIZE:
        raise KeyLoadError(f"{_SSHPOP_PREFIX}: {path} is too large")
    return parse_ssh_certificate(data, path)


def sshpop_header_value(cert: SSHCert) -> str:
    """The ``sshpop`` header: standard padded base64 of the certificate wire blob."""
    return base64.b64encode(cert.wire).decode("ascii")


def check_key_matches(cert: SSHCert, public_key: PublicKey) -> None:
    """Refuse a signing key that is not the certificate's key."""
    expected = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    try:
        got = public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    except (ValueError, TypeError):
        got = b""
    if got != expected:
        raise KeyLoadError(
            f"{_SSHPOP_PREFIX}: error verifying ssh key pair: private key does not match public key"
        )
