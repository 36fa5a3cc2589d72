"""Name resolution, PIN rules and signature helpers of pystep.kms."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from pystep.errors import InteractionRequired, KMSError
from pystep.kms import KmsOptions, get_pin, is_kms_name, param, resolve
from pystep.kms._sig import (
    DigestSigner,
    alg_for_key,
    der_to_raw,
    hash_name,
    normalize_raw,
    raw_to_der,
    verify,
)
from pystep.kms.uri import parse


def test_import_is_lazy() -> None:
    code = (
        "import sys, pystep.kms; "
        "print(sorted(m for m in sys.modules if m.startswith(('pystep.kms.', 'pkcs11', 'boto'))))"
    )
    src = str(Path(__file__).resolve().parents[3] / "src")
    out = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": src},
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert out.strip() == "['pystep.kms.uri']"


def test_resolve_rules() -> None:
    r = resolve("pkcs11:id=01", KmsOptions(kms_uri="pkcs11:module-path=/m;token=t"))
    assert (r.module, r.key_uri.get("id"), r.kms_uri and r.kms_uri.get("token")) == (
        "pystep.kms.pkcs11", "01", "t")  # fmt: skip
    # a --kms of another scheme does not apply
    r = resolve("yubikey:slot-id=9a", KmsOptions(kms_uri="pkcs11:token=t"))
    assert (r.module, r.kms_uri) == ("pystep.kms.yubikey", None)
    # bare names and ARNs are relative to --kms; the plugin gets the name as written
    arn = "arn:aws:kms:us-east-1:1:key/abc"
    r = resolve(arn, KmsOptions(kms_uri="awskms:region=us-east-1"))
    assert (r.module, r.key_uri.scheme, r.key_uri.raw) == ("pystep.kms.awskms", "awskms", arn)
    for scheme in ("capi", "mackms", "kms", "softkms"):
        assert resolve(f"{scheme}:x=1", KmsOptions()).module == "pystep.kms.plugin"
    for name, kms in (("key.pem", None), ("foo:bar", None), ("k", "foo:bar")):
        with pytest.raises(KMSError, match="is not a file and not a KMS URI"):
            resolve(name, KmsOptions(kms_uri=kms))


def test_param_override() -> None:
    key, kms = parse("pkcs11:id=01;token=a"), parse("pkcs11:token=b;module-path=/m")
    assert param("token", key, kms) == "a"
    assert param("module-path", key, kms) == "/m"
    assert param("serial", key, kms, "d") == "d"


def test_is_kms_name(tmp_path: Path) -> None:
    f = tmp_path / "pkcs11:id=01"
    f.write_text("x")
    assert not is_kms_name(str(f))  # an existing file is a file
    assert is_kms_name("pkcs11:id=01")
    assert is_kms_name("yubikey:slot-id=9a")
    assert not is_kms_name("nope.pem")
    assert not is_kms_name("foo:bar")
    assert is_kms_name("some-key", kms_uri="awskms:")


def test_get_pin(tmp_path: Path) -> None:
    seen: list[str] = []

    def prompt(text: str) -> str:
        seen.append(text)
        return "typed"

    key = parse("yubikey:slot-id=9a")
    opts = KmsOptions(pin_prompter=prompt)
    assert get_pin(parse("yubikey:pin-value=1"), parse("yubikey:pin-value=2"), opts,
                   what="x") == "1"  # fmt: skip
    assert get_pin(key, parse("yubikey:pin-value=2"), opts, what="x") == "2"
    assert get_pin(key, None, opts, what="YubiKey", default="123456") == "123456"
    assert get_pin(key, parse("yubikey:pin-prompt=Your PIN:"), opts, what="x") == "typed"
    assert get_pin(key, None, opts, what="YubiKey") == "typed"
    assert seen == ["Your PIN:", "Please enter the PIN for YubiKey"]
    with pytest.raises(InteractionRequired):
        get_pin(key, None, KmsOptions(), what="YubiKey")


def test_alg_and_signature_helpers() -> None:
    with pytest.raises(KMSError, match=r'^unsupported elliptic curve "secp256k1"$'):
        alg_for_key(ec.generate_private_key(ec.SECP256K1()).public_key())
    assert alg_for_key(rsa.generate_private_key(65537, 2048).public_key()) == "RS256"
    assert alg_for_key(ed25519.Ed25519PrivateKey.generate().public_key()) == "EdDSA"
    assert hash_name("ES384") == "SHA384"
    key = ec.generate_private_key(ec.SECP521R1())
    der = key.sign(b"data", ec.ECDSA(hashes.SHA512()))
    raw = der_to_raw(der, "ES512")
    assert len(raw) == 132
    assert decode_dss_signature(raw_to_der(raw)) == decode_dss_signature(der)
    assert verify(key.public_key(), "ES512", b"data", raw)
    # raw r||s of another width (tokens drop or add leading zeros) gets the JOSE width
    assert normalize_raw(b"\x05\x07", "ES256") == (5).to_bytes(32, "big") + (7).to_bytes(32, "big")
    wide = b"\0\0" + raw[:66] + b"\0\0" + raw[66:]
    assert normalize_raw(wide, "ES512") == raw
    with pytest.raises(KMSError, match=r"not ASN\.1 DER"):
        der_to_raw(b"\x01\x02", "ES256")


def test_digest_signer_with_software_key() -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    signer = DigestSigner(key.public_key(),
                          lambda d: key.sign(d, ec.ECDSA(Prehashed(hashes.SHA384()))))  # fmt: skip
    sig = signer.sign(b"a.b")
    assert signer.alg == "ES384" and len(sig) == 96
    assert verify(key.public_key(), "ES384", b"a.b", sig)
