"""Nebula certificates and keys.

v1 certificates with X25519 keys come from the real ``nebula-cert`` (Debian 1.6.1, run
by the tests in a temporary folder) and from the step testdata. ``nebula-cert`` 1.6.1
can make neither v2 (ASN.1) certificates nor P-256 ones, so those are encoded here by
hand from the format specification (slackhq/nebula ``cert/cert_v2.asn1`` and
``cert_v1.proto``); the signatures in them are arbitrary bytes, since the parser does
not verify them (that is step-ca's job).
"""

from __future__ import annotations

import base64
import ipaddress
import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519

from pystep.errors import KeyLoadError
from pystep.jose.encoding import b64url_decode
from pystep.keys.nebula import (
    check_key_matches,
    load_nebula_cert,
    load_nebula_key,
    load_nebula_private_key,
    parse_nebula_cert,
)
from pystep.keys.xeddsa import XEdDSASigner, xeddsa_verify
from tests.ci import require_tools, tools_mark

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "step-v0.19"
NEBULA_CERT = shutil.which("nebula-cert")
needs_nebula_cert = tools_mark("nebula-cert", why="Debian package nebula")


class _PublicOnly:
    """A test-only stand-in for a Signer: check_key_matches only asks for the public key."""

    def __init__(self, public: object, alg: str = "ES256") -> None:
        self._public = public
        self.alg = alg

    def public_key(self) -> object:
        return self._public

    def sign(self, signing_input: bytes) -> bytes:
        raise NotImplementedError


def _pem(banner: str, body: bytes) -> bytes:
    lines = base64.b64encode(body).decode()
    wrapped = "\n".join(lines[i : i + 64] for i in range(0, len(lines), 64))
    return f"-----BEGIN {banner}-----\n{wrapped}\n-----END {banner}-----\n".encode()


# --- hand encoders (test side), from the format specification -----------------------


def _der(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + content


def _der_int(tag: int, value: int) -> bytes:
    return _der(tag, value.to_bytes((value.bit_length() + 8) // 8 or 1, "big", signed=True))


def _v2_cert(
    name: str,
    networks: list[str],
    groups: list[str],
    public: bytes,
    curve: int,
    not_before: int,
    not_after: int,
    issuer: bytes = b"\x11" * 32,
) -> bytes:
    nets = b"".join(
        _der(
            0x04,
            ipaddress.ip_interface(n).ip.packed
            + bytes([ipaddress.ip_interface(n).network.prefixlen]),
        )
        for n in networks
    )
    details = _der(0x80, name.encode())
    details += _der(0xA1, nets)
    details += _der(0xA3, b"".join(_der(0x0C, g.encode()) for g in groups))
    details += _der_int(0x85, not_before) + _der_int(0x86, not_after) + _der(0x87, issuer)
    body = _der(0xA0, details)
    if curve:
        body += _der(0x81, bytes([curve]))
    body += _der(0x82, public) + _der(0x83, b"\x55" * 64)
    return _der(0x30, body)


def _varint(n: int) -> bytes:
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _pb(number: int, value: int | bytes) -> bytes:
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    return _varint(number << 3 | 2) + _varint(len(value)) + value


def _v1_p256_cert(name: str, public: bytes) -> bytes:
    ips = _varint(int(ipaddress.IPv4Address("10.9.8.7"))) + _varint(0xFFFFFF00)
    details = _pb(1, name.encode()) + _pb(2, ips) + _pb(4, b"g1") + _pb(5, 1700000000)
    details += _pb(6, 1900000000) + _pb(7, public) + _pb(9, b"\xaa" * 32) + _pb(100, 1)
    return _pb(1, details) + _pb(2, b"\x01" * 64)


# --- real nebula-cert output --------------------------------------------------------


@pytest.fixture(scope="module")
def nebula_pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_tools("nebula-cert", why="Debian package nebula")
    assert NEBULA_CERT is not None
    tmp = tmp_path_factory.mktemp("nebula")
    run = {"cwd": tmp, "check": True, "capture_output": True}
    subprocess.run([NEBULA_CERT, "ca", "-name", "Test CA"], **run)  # type: ignore[call-overload]
    subprocess.run(  # type: ignore[call-overload]
        [
            NEBULA_CERT,
            "sign",
            "-name",
            "host1",
            "-ip",
            "10.1.0.1/16",
            "-groups",
            "a,b",
            "-subnets",
            "192.168.7.0/24",
        ],
        **run,
    )
    subprocess.run(  # type: ignore[call-overload]
        [NEBULA_CERT, "sign", "-name", "host2", "-ip", "10.1.0.2/16"], **run
    )
    return tmp


@needs_nebula_cert
def test_nebula_cert_host_fields_match_nebula_cert_print(nebula_pki: Path) -> None:
    cert = load_nebula_cert(str(nebula_pki / "host1.crt"))
    printed = json.loads(
        subprocess.run(
            [NEBULA_CERT, "print", "-json", "-path", str(nebula_pki / "host1.crt")],  # type: ignore[list-item]
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    details = printed["details"]
    assert cert.version == 1
    assert cert.name == details["name"] == "host1"
    assert cert.networks == details["ips"] == ["10.1.0.1/16"]
    assert cert.ips == ["10.1.0.1"]
    assert cert.unsafe_networks == details["subnets"]
    assert cert.groups == details["groups"] == ["a", "b"]
    assert cert.public_key.hex() == details["publicKey"]
    assert cert.issuer == details["issuer"]
    assert cert.is_ca is False and cert.curve == "CURVE25519"
    assert cert.signature.hex() == printed["signature"]
    assert cert.not_after == datetime.fromisoformat(details["notAfter"].replace("Z", "+00:00"))
    assert cert.not_before == datetime.fromisoformat(details["notBefore"].replace("Z", "+00:00"))
    assert not cert.is_expired()


@needs_nebula_cert
def test_nebula_cert_ca_and_raw_v1_bytes(nebula_pki: Path, tmp_path: Path) -> None:
    ca = load_nebula_cert(str(nebula_pki / "ca.crt"))
    assert ca.is_ca and ca.name == "Test CA" and ca.issuer == "" and ca.ips == []
    host = load_nebula_cert(str(nebula_pki / "host1.crt"))
    raw = tmp_path / "host1.raw"
    raw.write_bytes(host.raw)  # a file that is not PEM is the raw v1 certificate
    again = load_nebula_cert(str(raw))
    assert again.raw == host.raw and again.name == "host1"


@needs_nebula_cert
def test_nebula_cert_keys_match_and_mismatch(nebula_pki: Path) -> None:
    host1 = load_nebula_cert(str(nebula_pki / "host1.crt"))
    key1 = load_nebula_key(str(nebula_pki / "host1.key"))
    assert isinstance(key1, XEdDSASigner) and key1.alg == "XEdDSA"
    check_key_matches(host1, key1)
    key2 = load_nebula_key(str(nebula_pki / "host2.key"))
    with pytest.raises(KeyLoadError) as info:
        check_key_matches(host1, key2)
    assert str(info.value) == (
        f"error validating {nebula_pki / 'host1.crt'}: "
        "public key in cert and private key supplied don't match"
    )
    # the CA key is a NEBULA ED25519 PRIVATE KEY (seed || public) and matches the CA cert
    ca_key = load_nebula_private_key(str(nebula_pki / "ca.key"))
    assert isinstance(ca_key, ed25519.Ed25519PrivateKey)
    ca = load_nebula_cert(str(nebula_pki / "ca.crt"))
    check_key_matches(ca, _PublicOnly(ca_key.public_key(), "EdDSA"))  # type: ignore[arg-type]
    with pytest.raises(KeyLoadError):
        check_key_matches(host1, _PublicOnly(ca_key.public_key(), "EdDSA"))  # type: ignore[arg-type]


# --- step testdata ------------------------------------------------------------------


def test_step_testdata_cert_and_token_header() -> None:
    path = FIXTURES / "tokens" / "inputs" / "nebula-host1.crt"
    cert = load_nebula_cert(str(path))
    assert cert.name == "host1.example.com"
    assert cert.ips == ["10.42.0.5"] and cert.networks == ["10.42.0.5/16"]
    assert cert.groups == ["servers", "corpus"]
    ca = load_nebula_cert(str(FIXTURES / "pki" / "nebula_ca.crt"))
    assert ca.is_ca and ca.name == "Corpus Nebula CA"
    # the token's nebula header is the PEM body, standard base64
    token = json.loads((FIXTURES / "tokens" / "nebula-dns.json").read_text())["token"]
    header = json.loads(b64url_decode(token.split(".")[0]))
    assert header["nebula"] == base64.b64encode(cert.raw).decode()
    signer = load_nebula_key(str(FIXTURES / "tokens" / "inputs" / "nebula-host1.key"))
    check_key_matches(cert, signer)
    sig = signer.sign(b"a.b")
    assert xeddsa_verify(x25519.X25519PublicKey.from_public_bytes(cert.public_key), b"a.b", sig)


# --- v2 and P-256, encoded from the specification -----------------------------------


def test_v2_curve25519_certificate(tmp_path: Path) -> None:
    private = x25519.X25519PrivateKey.generate()
    der = _v2_cert(
        "host-v2",
        ["10.3.0.4/24", "fd00::5/64"],
        ["ops", "web"],
        private.public_key().public_bytes_raw(),
        0,
        1700000000,
        1900000000,
    )
    path = tmp_path / "v2.crt"
    path.write_bytes(_pem("NEBULA CERTIFICATE V2", der))
    cert = load_nebula_cert(str(path))
    assert cert.version == 2 and cert.curve == "CURVE25519" and cert.raw == der
    assert cert.name == "host-v2"
    assert cert.networks == ["10.3.0.4/24", "fd00::5/64"]
    assert cert.ips == ["10.3.0.4", "fd00::5"]
    assert cert.groups == ["ops", "web"]
    assert cert.not_before == datetime.fromtimestamp(1700000000, UTC)
    assert cert.not_after == datetime.fromtimestamp(1900000000, UTC)
    assert cert.issuer == "11" * 32 and not cert.is_ca
    check_key_matches(cert, XEdDSASigner(private))


def test_v2_p256_certificate_with_pem_ec_key(tmp_path: Path) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    point = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    der = _v2_cert("p256-host", ["10.5.0.1/16"], [], point, 1, 1700000000, 1900000000)
    cert_path = tmp_path / "p256.crt"
    cert_path.write_bytes(_pem("NEBULA CERTIFICATE V2", der))
    key_path = tmp_path / "p256.key"
    key_path.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    cert = load_nebula_cert(str(cert_path))
    assert cert.curve == "P256" and cert.public_key == point
    loaded = load_nebula_private_key(str(key_path))
    assert isinstance(loaded, ec.EllipticCurvePrivateKey)
    check_key_matches(cert, _PublicOnly(loaded.public_key()))  # type: ignore[arg-type]
    # a curve25519 key against a P-256 certificate
    with pytest.raises(KeyLoadError, match="public key does not match private key curve"):
        check_key_matches(cert, XEdDSASigner(x25519.X25519PrivateKey.generate()))
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(KeyLoadError, match="don't match"):
        check_key_matches(cert, _PublicOnly(other))  # type: ignore[arg-type]


@pytest.mark.parametrize("banner", ["NEBULA P256 PRIVATE KEY", "NEBULA ECDSA P256 PRIVATE KEY"])
def test_v1_p256_certificate_with_nebula_p256_key(tmp_path: Path, banner: str) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    point = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    raw = _v1_p256_cert("p256-v1", point)
    cert_path = tmp_path / "p256v1.crt"
    cert_path.write_bytes(_pem("NEBULA CERTIFICATE", raw))
    cert = load_nebula_cert(str(cert_path))
    assert (cert.version, cert.curve, cert.name) == (1, "P256", "p256-v1")
    assert cert.networks == ["10.9.8.7/24"] and cert.groups == ["g1"]
    key_path = tmp_path / "p256.key"
    key_path.write_bytes(_pem(banner, private.private_numbers().private_value.to_bytes(32, "big")))
    loaded = load_nebula_private_key(str(key_path))
    assert isinstance(loaded, ec.EllipticCurvePrivateKey)
    check_key_matches(cert, _PublicOnly(loaded.public_key()))  # type: ignore[arg-type]


def test_load_nebula_key_ecdsa_uses_keys_signers(tmp_path: Path) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    key_path = tmp_path / "p256.key"
    key_path.write_bytes(
        _pem("NEBULA P256 PRIVATE KEY", private.private_numbers().private_value.to_bytes(32, "big"))
    )
    signer = load_nebula_key(str(key_path))
    assert signer.alg == "ES256"


# --- refusals -----------------------------------------------------------------------


def test_wrong_pem_banner(tmp_path: Path) -> None:
    path = tmp_path / "x.crt"
    path.write_bytes(_pem("CERTIFICATE", b"\x30\x00"))
    with pytest.raises(KeyLoadError) as info:
        load_nebula_cert(str(path))
    assert str(info.value) == f"error reading {path}: not a proper nebula certificate"


@pytest.mark.parametrize(
    "blob",
    [b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", b"\x0a\x05abc", b"\x12\x02zz", b"\xff"],
)
def test_malformed_v1_is_refused(tmp_path: Path, blob: bytes) -> None:
    path = tmp_path / "bad.crt"
    path.write_bytes(_pem("NEBULA CERTIFICATE", blob))
    with pytest.raises(KeyLoadError, match=r"^error reading .*bad\.crt: "):
        load_nebula_cert(str(path))


def test_truncated_v2_is_refused(tmp_path: Path) -> None:
    der = _v2_cert("h", ["10.0.0.1/8"], [], b"\x01" * 32, 0, 1, 2)
    for cut in (1, 5, len(der) // 2, len(der) - 1):
        with pytest.raises(KeyLoadError):
            parse_nebula_cert(_pem("NEBULA CERTIFICATE V2", der[:cut]), "cut.crt")


def test_missing_file_and_bad_keys(tmp_path: Path) -> None:
    with pytest.raises(KeyLoadError, match=r"error reading .*nope\.crt"):
        load_nebula_cert(str(tmp_path / "nope.crt"))
    short = tmp_path / "short.key"
    short.write_bytes(_pem("NEBULA X25519 PRIVATE KEY", b"\x01" * 31))
    with pytest.raises(KeyLoadError, match="invalid X25519 private key"):
        load_nebula_private_key(str(short))
    rsa_path = tmp_path / "rsa.key"
    from cryptography.hazmat.primitives.asymmetric import rsa

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    rsa_path.write_bytes(
        rsa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(KeyLoadError, match="not a valid nebula key"):
        load_nebula_private_key(str(rsa_path))


def test_pkcs8_x25519_key_gives_xeddsa(tmp_path: Path) -> None:
    private = x25519.X25519PrivateKey.generate()
    path = tmp_path / "x.key"
    path.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    signer = load_nebula_key(str(path))
    assert isinstance(signer, XEdDSASigner)
    assert signer.public_key().public_bytes_raw() == private.public_key().public_bytes_raw()
