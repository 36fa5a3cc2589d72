"""A throwaway PKI for the test step-ca, made with python ``cryptography``.

Root CA (EC P-256) -> intermediate CA (EC P-256, the CA's signing key, encrypted
with the CA password the way ``step`` writes it: traditional PEM, AES-256-CBC),
plus SSH host and user CA keys (OpenSSH format, unencrypted).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

CA_PASSWORD = "password"


@dataclass(frozen=True)
class Pki:
    """Where the PKI's files are; every path is absolute."""

    root_cert: Path
    root_key: Path
    intermediate_cert: Path
    intermediate_key: Path
    ssh_host_key: Path
    ssh_user_key: Path
    password_file: Path
    root_fingerprint: str

    @property
    def ssh_host_public(self) -> Path:
        return self.ssh_host_key.with_name(self.ssh_host_key.name + ".pub")

    @property
    def ssh_user_public(self) -> Path:
        return self.ssh_user_key.with_name(self.ssh_user_key.name + ".pub")


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "pystep tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _ca_cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey,
    path_length: int,
) -> x509.Certificate:
    now = _dt.datetime.now(_dt.UTC)
    public = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer.subject if issuer is not None else _name(subject))
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _dt.timedelta(minutes=5))
        .not_valid_after(now + _dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(mode)


def _write_ssh_ca_key(path: Path, comment: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    _write(path, private, 0o600)
    _write(path.with_name(path.name + ".pub"), public + b" " + comment.encode() + b"\n")


def root_fingerprint(cert_path: Path) -> str:
    """Lowercase hex SHA-256 of the certificate's DER, as step prints it."""
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def make_pki(cadir: Path, name: str = "pystep Test") -> Pki:
    """Create root, intermediate and SSH CA keys under ``cadir`` (certs/, secrets/)."""
    certs = cadir / "certs"
    secrets = cadir / "secrets"

    root_key = ec.generate_private_key(ec.SECP256R1())
    root = _ca_cert(f"{name} Root CA", root_key, None, root_key, path_length=1)
    int_key = ec.generate_private_key(ec.SECP256R1())
    intermediate = _ca_cert(f"{name} Intermediate CA", int_key, root, root_key, path_length=0)

    pem = serialization.Encoding.PEM
    _write(certs / "root_ca.crt", root.public_bytes(pem))
    _write(certs / "intermediate_ca.crt", intermediate.public_bytes(pem))
    _write(
        secrets / "root_ca_key",
        root_key.private_bytes(
            pem,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.BestAvailableEncryption(CA_PASSWORD.encode()),
        ),
        0o600,
    )
    _write(
        secrets / "intermediate_ca_key",
        int_key.private_bytes(
            pem,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.BestAvailableEncryption(CA_PASSWORD.encode()),
        ),
        0o600,
    )
    _write_ssh_ca_key(secrets / "ssh_host_ca_key", "pystep-test-ssh-host-ca")
    _write_ssh_ca_key(secrets / "ssh_user_ca_key", "pystep-test-ssh-user-ca")
    _write(secrets / "password", CA_PASSWORD.encode(), 0o600)

    return Pki(
        root_cert=certs / "root_ca.crt",
        root_key=secrets / "root_ca_key",
        intermediate_cert=certs / "intermediate_ca.crt",
        intermediate_key=secrets / "intermediate_ca_key",
        ssh_host_key=secrets / "ssh_host_ca_key",
        ssh_user_key=secrets / "ssh_user_ca_key",
        password_file=secrets / "password",
        root_fingerprint=root_fingerprint(certs / "root_ca.crt"),
    )
