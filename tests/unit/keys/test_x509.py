"""X5C/renew certificate bundles: cryptography-made chains and the step testdata."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from pystep.errors import KeyLoadError
from pystep.jose.encoding import b64url_decode
from pystep.keys.x509 import leaf_expired, load_cert_bundle, validate_x5c, x5c_header_value

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "step-v0.19" / "tokens"
PREFIX = "error validating x5c certificate chain and key for use in x5c header: ValidateX5C: "
NOW = dt.datetime.now(dt.UTC)


def _cert(
    cn: str,
    key: object,
    issuer_key: object,
    issuer_cn: str,
    *,
    ca: bool,
    usage: x509.KeyUsage | None,
    days: int = 30,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_cn)]))
        .public_key(key.public_key())  # type: ignore[attr-defined]
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if usage is not None:
        builder = builder.add_extension(usage, critical=True)
    algorithm = None if isinstance(issuer_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(issuer_key, algorithm)  # type: ignore[arg-type]


def _usage(digital_signature: bool, cert_sign: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature, False, False, False, False, cert_sign, cert_sign, False, False
    )


@pytest.fixture()
def chain() -> tuple[list[x509.Certificate], ec.EllipticCurvePrivateKey]:
    root_key = ec.generate_private_key(ec.SECP256R1())
    int_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    root = _cert("root", root_key, root_key, "root", ca=True, usage=_usage(False, True))
    inter = _cert("int", int_key, root_key, "root", ca=True, usage=_usage(False, True))
    leaf = _cert("leaf.example.com", leaf_key, int_key, "int", ca=False, usage=_usage(True))
    return [leaf, inter, root], leaf_key


def _write_pem(path: Path, certs: list[x509.Certificate], extra: bytes = b"") -> None:
    path.write_bytes(extra + b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs))


def test_bundle_order_and_header(
    tmp_path: Path, chain: tuple[list[x509.Certificate], ec.EllipticCurvePrivateKey]
) -> None:
    certs, key = chain
    path = tmp_path / "bundle.pem"
    # a key block and a block with headers are skipped, as step does
    other = (
        b"-----BEGIN CERTIFICATE-----\nProc-Type: 4,ENCRYPTED\n\nAAAA\n-----END CERTIFICATE-----\n"
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write_pem(path, certs, key_pem + other)
    loaded = load_cert_bundle(str(path))
    assert [c.subject for c in loaded] == [c.subject for c in certs]
    validate_x5c(loaded, key.public_key())
    header = x5c_header_value(loaded)
    assert [x509.load_der_x509_certificate(base64.b64decode(h)) for h in header] == certs
    assert not leaf_expired(loaded)
    assert leaf_expired(loaded, NOW + dt.timedelta(days=60))


def test_der_file(
    tmp_path: Path, chain: tuple[list[x509.Certificate], ec.EllipticCurvePrivateKey]
) -> None:
    certs, _ = chain
    path = tmp_path / "leaf.der"
    path.write_bytes(certs[0].public_bytes(serialization.Encoding.DER))
    assert load_cert_bundle(str(path)) == [certs[0]]


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not a cert",
        b"-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----\n",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    ],
)
def test_invalid_files(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.crt"
    path.write_bytes(content)
    with pytest.raises(KeyLoadError) as info:
        load_cert_bundle(str(path))
    assert str(info.value) == f"file {path} does not contain a valid certificate"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(KeyLoadError, match="error reading"):
        load_cert_bundle(str(tmp_path / "none.crt"))


def test_wrong_key(chain: tuple[list[x509.Certificate], ec.EllipticCurvePrivateKey]) -> None:
    certs, _ = chain
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(KeyLoadError) as info:
        validate_x5c(certs, other)
    # the exact line step v0.19 printed (tokens/errors/err-x5c-wrong-key.json)
    assert (
        str(info.value)
        == PREFIX + "error verifying certificate and key: private key does not match public key"
    )
    with pytest.raises(KeyLoadError):
        validate_x5c(certs, ed25519.Ed25519PrivateKey.generate().public_key())
    with pytest.raises(KeyLoadError, match="certs cannot be empty"):
        validate_x5c([], other)


@pytest.mark.parametrize("usage", [None, _usage(False, True)])
def test_leaf_without_digital_signature(usage: x509.KeyUsage | None) -> None:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ed25519.Ed25519PrivateKey.generate()
    leaf = _cert("leaf", leaf_key, ca_key, "ca", ca=False, usage=usage)
    with pytest.raises(KeyLoadError) as info:
        validate_x5c([leaf], leaf_key.public_key())
    assert str(info.value) == PREFIX + (
        "certificate/private-key pair used to sign token is not approved for digital signature"
    )


@pytest.mark.parametrize(
    ("token", "cert", "key", "header"),
    [
        ("x5c-dns.json", "x5c-leaf.crt", "x5c-leaf.key", "x5c"),
        ("renew.json", "renew-leaf.crt", "renew-leaf.key", "x5cInsecure"),
    ],
)
def test_step_testdata(token: str, cert: str, key: str, header: str) -> None:
    certs = load_cert_bundle(str(FIXTURES / "inputs" / cert))
    assert len(certs) == 2  # leaf + intermediate, as step writes a bundle
    password = b"password" if b"ENCRYPTED" in (FIXTURES / "inputs" / key).read_bytes() else None
    private = serialization.load_pem_private_key((FIXTURES / "inputs" / key).read_bytes(), password)
    validate_x5c(certs, private.public_key())  # type: ignore[arg-type]
    record = json.loads((FIXTURES / token).read_text())
    step_header = json.loads(b64url_decode(record["token"].split(".")[0]))
    assert x5c_header_value(certs) == step_header[header]
