"""The lenient PBES2 / legacy PEM decryption, against keys made by OpenSSL and cryptography."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from pystep.errors import KeyLoadError, PasswordError
from pystep.jose.jwk import public_jwk
from pystep.keys.files import load_signing_key
from pystep.passwords import Passwords
from tests.ci import tools_mark, unavailable

needs_openssl = tools_mark("openssl")


def _plain_pem(key: object) -> bytes:
    return key.private_bytes(  # type: ignore[attr-defined,no-any-return]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())


@needs_openssl
@pytest.mark.parametrize("cipher", ["aes-128-cbc", "aes-192-cbc", "aes-256-cbc"])
@pytest.mark.parametrize("prf", ["hmacWithSHA1", "hmacWithSHA256", "hmacWithSHA512"])
def test_openssl_pkcs8(tmp_path: Path, cipher: str, prf: str) -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    (tmp_path / "in.pem").write_bytes(_plain_pem(key))
    subprocess.run(
        ["openssl", "pkcs8", "-topk8", "-in", str(tmp_path / "in.pem"), "-out",
         str(tmp_path / "out.pem"), "-v2", cipher, "-v2prf", prf, "-iter", "2048",
         "-passout", "pass:secret"],
        check=True, capture_output=True)
    loaded = load_signing_key(str(tmp_path / "out.pem"), Passwords(fixed=b"secret"))
    assert public_jwk(loaded.public_key) == public_jwk(key)
    with pytest.raises(PasswordError):
        load_signing_key(str(tmp_path / "out.pem"), Passwords(fixed=b"secreT"))


@needs_openssl
@pytest.mark.parametrize("cipher", ["-aes128", "-aes256"])
def test_openssl_legacy_encrypted_pem(tmp_path: Path, cipher: str) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (tmp_path / "in.pem").write_bytes(_plain_pem(key))
    subprocess.run(
        ["openssl", "rsa", "-traditional", "-in", str(tmp_path / "in.pem"), "-out",
         str(tmp_path / "out.pem"), cipher, "-passout", "pass:secret"],
        check=True, capture_output=True)
    assert b"Proc-Type: 4,ENCRYPTED" in (tmp_path / "out.pem").read_bytes()
    loaded = load_signing_key(str(tmp_path / "out.pem"), Passwords(fixed=b"secret"))
    assert public_jwk(loaded.public_key) == public_jwk(key)
    with pytest.raises(PasswordError):
        load_signing_key(str(tmp_path / "out.pem"), Passwords(fixed=b"nope"))


def test_cryptography_best_available_encryption(tmp_path: Path) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.BestAvailableEncryption(b"pw"))
    (tmp_path / "k.pem").write_bytes(pem)
    loaded = load_signing_key(str(tmp_path / "k.pem"), Passwords(fixed=b"pw"))
    assert public_jwk(loaded.public_key) == public_jwk(key)


def test_truncated_encrypted_pkcs8_is_a_format_error(tmp_path: Path) -> None:
    import base64

    fixture = Path(__file__).parents[2] / "fixtures/step-v0.19/keys/pem-okp-ed25519.key"
    der = base64.b64decode("".join(fixture.read_text().splitlines()[1:-1]))
    body = base64.encodebytes(der[:40]).decode()
    path = tmp_path / "cut.pem"
    path.write_text(f"-----BEGIN ENCRYPTED PRIVATE KEY-----\n{body}"
                    "-----END ENCRYPTED PRIVATE KEY-----\n")
    with pytest.raises(KeyLoadError) as info:
        load_signing_key(str(path), Passwords(fixed=b"password"))
    assert not isinstance(info.value, PasswordError)


@needs_openssl
def test_pkcs8_scheme_we_do_not_parse_falls_back_to_cryptography(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "in.pem").write_bytes(_plain_pem(key))
    done = subprocess.run(
        ["openssl", "pkcs8", "-topk8", "-in", str(tmp_path / "in.pem"), "-out",
         str(tmp_path / "out.pem"), "-v2", "des3", "-passout", "pass:secret"],
        capture_output=True)
    if done.returncode != 0:
        unavailable("openssl cannot write 3DES PKCS#8 here: "
                    + done.stderr.decode(errors="replace")[-200:])
    loaded = load_signing_key(str(tmp_path / "out.pem"), Passwords(fixed=b"secret"))
    assert public_jwk(loaded.public_key) == public_jwk(key)
    with pytest.raises(PasswordError):
        load_signing_key(str(tmp_path / "out.pem"), Passwords(fixed=b"nope"))
