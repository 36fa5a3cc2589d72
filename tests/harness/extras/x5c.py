"""An X5C provisioner ``x5c`` with its own PKI (root → intermediate → leaves).

Files under ``<workdir>/extras/x5c/`` (see :func:`paths`): the root, and for each
leaf a bundle ``<leaf>.crt`` (leaf then intermediate, as step writes it) and a key
``<leaf>.key``. Leaves: ``good`` (digitalSignature + clientAuth, key encrypted with
``password``), ``nods`` (no digitalSignature), ``expired`` (validity ended an hour ago).
``other.key`` is a key that belongs to no certificate.
"""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path
from typing import Any

from tests.harness.pki import Pki

NAME = "x5c"
LEAF_CN = "x5c-client.pystep.test"
KEY_PASSWORD = b"password"


def paths(workdir: Path) -> Path:
    return Path(workdir) / "extras" / "x5c"


def _name(cn: str) -> Any:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _usage(*, sign: bool, ca: bool) -> Any:
    from cryptography import x509

    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=False,
        key_encipherment=not sign and not ca,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def make_cert(
    subject: str,
    public: Any,
    issuer: Any,
    issuer_key: Any,
    *,
    ca: bool,
    sign: bool = True,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> Any:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID

    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer.subject if issuer is not None else _name(subject))
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - dt.timedelta(minutes=5))
        .not_valid_after(not_after or now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca and issuer else None),
                       critical=True)
        .add_extension(_usage(sign=sign, ca=ca), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        ).add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def provisioners(workdir: Path, pki: Pki) -> list[dict[str, Any]]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    out = paths(workdir)
    out.mkdir(parents=True, exist_ok=True)
    pem = serialization.Encoding.PEM
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = make_cert("pystep X5C Root", root_key.public_key(), None, root_key, ca=True)
    int_key = ec.generate_private_key(ec.SECP256R1())
    inter = make_cert("pystep X5C Intermediate", int_key.public_key(), root, root_key, ca=True)
    (out / "root.crt").write_bytes(root.public_bytes(pem))
    now = dt.datetime.now(dt.UTC)
    leaves: dict[str, dict[str, Any]] = {
        "good": {"sign": True},
        "nods": {"sign": False},
        "expired": {
            "sign": True,
            "not_before": now - dt.timedelta(days=2),
            "not_after": now - dt.timedelta(hours=1),
        },
    }
    for leaf_name, opts in leaves.items():
        key = ec.generate_private_key(ec.SECP256R1())
        cert = make_cert(LEAF_CN, key.public_key(), inter, int_key, ca=False, **opts)
        (out / f"{leaf_name}.crt").write_bytes(cert.public_bytes(pem) + inter.public_bytes(pem))
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(KEY_PASSWORD)
            if leaf_name == "good"
            else serialization.NoEncryption()
        )
        (out / f"{leaf_name}.key").write_bytes(
            key.private_bytes(pem, serialization.PrivateFormat.PKCS8, encryption)
        )
    other = ec.generate_private_key(ec.SECP256R1())
    (out / "other.key").write_bytes(
        other.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (out / "password.txt").write_bytes(KEY_PASSWORD)
    return [
        {
            "type": "X5C",
            "name": NAME,
            "roots": base64.b64encode(root.public_bytes(pem)).decode(),
            "claims": {"enableSSHCA": True},
        }
    ]
