"""AWS provisioners whose ``iidRoots`` is a test certificate instead of AWS's own.

A fresh RSA 2048 key and its self-signed certificate are written under
``<workdir>/aws-iid/`` (``iid.key`` PKCS#8 PEM, ``iid.crt``); tests sign instance identity
documents with the key (:func:`sign_document`) and serve them from a local IMDS
(tests/harness/metadata_servers.py), which is what the CA then verifies with the
certificate, as it does with AWS's.

* ``aws-test``: custom SANs allowed (the certificate's SANs come from the CSR);
* ``aws-fixed``: ``disableCustomSANs`` (the CA fixes the SANs to the private IP and
  ``ip-<a-b-c-d>.<region>.compute.internal``; the subject must be one of those or the
  instance ID).

Both have ``disableTrustOnFirstUse`` so one instance can get many certificates.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

from tests.harness.pki import Pki

NAME = "aws-test"
FIXED = "aws-fixed"

# An instance identity document as EC2 serves it (fields as AWS documents them).
DOCUMENT: dict[str, Any] = {
    "accountId": "123456789012",
    "architecture": "x86_64",
    "availabilityZone": "us-east-1a",
    "imageId": "ami-0abcdef1234567890",
    "instanceId": "i-0123456789abcdef0",
    "instanceType": "t3.micro",
    "pendingTime": "2024-05-01T11:00:00Z",
    "privateIp": "10.0.0.12",
    "region": "us-east-1",
    "version": "2017-09-30",
}
INTERNAL_DNS = "ip-10-0-0-12.us-east-1.compute.internal"


def paths(workdir: Path) -> dict[str, Path]:
    d = workdir / "aws-iid"
    return {"dir": d, "key": d / "iid.key", "cert": d / "iid.crt"}


def _make_signer(key_path: Path, cert_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pystep test ec2.amazonaws.com")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))  # fmt: skip
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def provisioners(workdir: Path, pki: Pki) -> list[dict[str, Any]]:
    p = paths(workdir)
    p["dir"].mkdir(parents=True, exist_ok=True)
    _make_signer(p["key"], p["cert"])
    common = {"type": "AWS", "iidRoots": str(p["cert"]), "disableTrustOnFirstUse": True}
    return [
        {**common, "name": NAME},
        {**common, "name": FIXED, "disableCustomSANs": True},
    ]


def document_bytes(**changes: Any) -> bytes:
    """The document as IMDS serves it (pretty-printed JSON), with ``changes`` applied."""
    return json.dumps({**DOCUMENT, **changes}, indent=2).encode()


def sign_document(workdir: Path, document: bytes) -> bytes:
    """The base64 PKCS#1 v1.5 SHA-256 signature IMDS serves at .../signature."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = serialization.load_pem_private_key(paths(workdir)["key"].read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return base64.b64encode(key.sign(document, padding.PKCS1v15(), hashes.SHA256()))
