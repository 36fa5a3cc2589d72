"""PKCS#11 signer against a real SoftHSM2 token (keys generated inside the token)."""

from __future__ import annotations

import datetime
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from pystep.errors import InteractionRequired, KMSError
from pystep.kms import KmsOptions, load_certificates, open_signer
from pystep.kms._sig import verify
from pystep.kms.pkcs11 import close_all
from tests.ci import require_file, require_module, require_tools

pkcs11 = require_module("pkcs11", module_level=True)

MODULES = ["/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"]
MODULE = next((m for m in MODULES if os.path.exists(m)), None)
PIN = "4321"

require_tools("softhsm2-util", why="Debian package softhsm2", module_level=True)
require_file(MODULE, "libsofthsm2.so (Debian package softhsm2)", module_level=True)


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A fresh SoftHSM2 token 'pystep' with EC P-256 (id 01), RSA (id 02), Ed25519 (id 03),
    P-384 (id 04), an RSA key without a public object (id 05) and a certificate (id 01)."""
    from pkcs11 import Attribute, CertificateType, KeyType, Mechanism, ObjectClass
    from pkcs11.util.ec import encode_named_curve_parameters

    d = tmp_path_factory.mktemp("softhsm")
    (d / "tokens").mkdir()
    conf = d / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {d / 'tokens'}\nobjectstore.backend = file\n")
    old = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", "pystep",
         "--pin", PIN, "--so-pin", "87654321"],
        check=True, capture_output=True,
    )  # fmt: skip
    lib = pkcs11.lib(MODULE)
    tok = lib.get_token(token_label="pystep")
    with tok.open(user_pin=PIN, rw=True) as s:

        def ec_key(curve: str, label: str, kid: bytes, kt: Any = KeyType.EC, **kw: Any) -> None:
            params = s.create_domain_parameters(
                kt, {Attribute.EC_PARAMS: encode_named_curve_parameters(curve)}, local=True
            )
            params.generate_keypair(store=True, label=label, id=kid, **kw)

        ec_key("secp256r1", "ec-key", b"\x01")
        s.generate_keypair(KeyType.RSA, 2048, store=True, label="rsa-key", id=b"\x02")
        ec_key("1.3.101.112", "ed-key", b"\x03", KeyType.EC_EDWARDS,
               mechanism=Mechanism.EC_EDWARDS_KEY_PAIR_GEN)  # fmt: skip
        ec_key("secp384r1", "ec384", b"\x04")
        pub, _ = s.generate_keypair(KeyType.RSA, 2048, store=True, label="rsa-nopub", id=b"\x05")
        pub.destroy()
        # a self-signed certificate for a software key, stored under id 01
        sw = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pkcs11 test")])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(sw.public_key()).serial_number(7)
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(sw, hashes.SHA256())
        )  # fmt: skip
        s.create_object({
            Attribute.CLASS: ObjectClass.CERTIFICATE,
            Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
            Attribute.TOKEN: True, Attribute.ID: b"\x01", Attribute.LABEL: "ec-key",
            Attribute.VALUE: cert.public_bytes(serialization.Encoding.DER),
            Attribute.SUBJECT: name.public_bytes(),
        })  # fmt: skip
    yield {"serial": tok.serial.decode().strip(), "slot": tok.slot.slot_id, "cert": cert}
    if old is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = old


@pytest.fixture(autouse=True)
def fresh_sessions() -> Iterator[None]:
    """Each test logs in for real (the backend keeps one session per token)."""
    close_all()
    yield
    close_all()


KMS = f"pkcs11:module-path={MODULE};token=pystep?pin-value={PIN}"
INPUT = b"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0"


def _check(signer: Any, alg: str, key_type: type) -> None:
    assert signer.alg == alg
    pub = signer.public_key()
    assert isinstance(pub, key_type)
    sig = signer.sign(INPUT)
    assert verify(pub, alg, INPUT, sig)
    assert not verify(pub, alg, INPUT + b"x", sig)


def test_ec_p256_full_uri(token: dict[str, Any]) -> None:
    signer = open_signer(f"pkcs11:module-path={MODULE};token=pystep;id=01?pin-value={PIN}",
                         KmsOptions())  # fmt: skip
    _check(signer, "ES256", ec.EllipticCurvePublicKey)
    assert len(signer.sign(INPUT)) == 64


def test_key_relative_to_kms_by_object_label(token: dict[str, Any]) -> None:
    _check(open_signer("pkcs11:object=ec384", KmsOptions(kms_uri=KMS)), "ES384",
           ec.EllipticCurvePublicKey)  # fmt: skip


def test_rsa_and_bare_name(token: dict[str, Any]) -> None:
    _check(open_signer("pkcs11:id=02", KmsOptions(kms_uri=KMS)), "RS256", rsa.RSAPublicKey)
    # a name without a scheme is read relative to --kms
    _check(open_signer("object=rsa-key", KmsOptions(kms_uri=KMS)), "RS256", rsa.RSAPublicKey)


def test_ed25519(token: dict[str, Any]) -> None:
    signer = open_signer("pkcs11:id=%03", KmsOptions(kms_uri=KMS))
    _check(signer, "EdDSA", ed25519.Ed25519PublicKey)


def test_public_key_from_rsa_private_attributes(token: dict[str, Any]) -> None:
    _check(open_signer("pkcs11:id=05", KmsOptions(kms_uri=KMS)), "RS256", rsa.RSAPublicKey)


def test_public_key_matches_certificate(token: dict[str, Any]) -> None:
    certs = load_certificates("pkcs11:id=01", KmsOptions(kms_uri=KMS))
    assert certs == [token["cert"]]


def test_select_by_serial_and_slot(token: dict[str, Any]) -> None:
    base = f"pkcs11:module-path={MODULE};pin-value={PIN}"
    _check(open_signer(f"pkcs11:id=01;serial={token['serial']}", KmsOptions(kms_uri=base)),
           "ES256", ec.EllipticCurvePublicKey)  # fmt: skip
    _check(open_signer(f"pkcs11:id=01;slot-id={token['slot']}", KmsOptions(kms_uri=base)),
           "ES256", ec.EllipticCurvePublicKey)  # fmt: skip
    with pytest.raises(KMSError, match="no token found with serial '0000'"):
        open_signer("pkcs11:id=01;serial=0000", KmsOptions(kms_uri=base))


def test_key_params_override_kms_params(token: dict[str, Any]) -> None:
    kms = f"pkcs11:module-path={MODULE};token=other?pin-value={PIN}"
    _check(open_signer("pkcs11:id=01;token=pystep", KmsOptions(kms_uri=kms)), "ES256",
           ec.EllipticCurvePublicKey)  # fmt: skip


def test_pin_prompt(token: dict[str, Any]) -> None:
    prompts: list[str] = []

    def prompter(text: str) -> str:
        prompts.append(text)
        return PIN

    kms = f"pkcs11:module-path={MODULE};token=pystep"
    signer = open_signer("pkcs11:id=01", KmsOptions(kms_uri=kms, pin_prompter=prompter))
    _check(signer, "ES256", ec.EllipticCurvePublicKey)
    assert prompts == ["Please enter the PIN for token 'pystep'"]
    close_all()
    with pytest.raises(InteractionRequired, match="pin-value or pin-source"):
        open_signer("pkcs11:id=01", KmsOptions(kms_uri=kms))


def test_pin_source(token: dict[str, Any], tmp_path: Path) -> None:
    pin_file = tmp_path / "pin"
    pin_file.write_text(PIN + "\n")
    kms = f"pkcs11:module-path={MODULE};token=pystep;pin-source={pin_file}"
    _check(open_signer("pkcs11:id=01", KmsOptions(kms_uri=kms)), "ES256",
           ec.EllipticCurvePublicKey)  # fmt: skip


def test_wrong_pin(token: dict[str, Any]) -> None:
    kms = f"pkcs11:module-path={MODULE};token=pystep?pin-value=0000"
    with pytest.raises(KMSError) as err:
        open_signer("pkcs11:id=01", KmsOptions(kms_uri=kms))
    assert str(err.value) == "pkcs11: wrong PIN for token 'pystep'"
    assert "0000" not in str(err.value)


def test_two_signers_share_the_login(token: dict[str, Any]) -> None:
    a = open_signer("pkcs11:id=01", KmsOptions(kms_uri=KMS))
    b = open_signer("pkcs11:id=02", KmsOptions(kms_uri=KMS))  # no second C_Login
    _check(a, "ES256", ec.EllipticCurvePublicKey)
    _check(b, "RS256", rsa.RSAPublicKey)
    kms = f"pkcs11:module-path={MODULE};token=pystep?pin-value=1111"
    with pytest.raises(KMSError, match=r"^pkcs11: wrong PIN for token 'pystep'$"):
        open_signer("pkcs11:id=01", KmsOptions(kms_uri=kms))
    _check(a, "ES256", ec.EllipticCurvePublicKey)


def test_missing_object_and_token(token: dict[str, Any]) -> None:
    with pytest.raises(KMSError) as err:
        open_signer("pkcs11:id=7f;object=nope", KmsOptions(kms_uri=KMS))
    assert str(err.value) == "pkcs11: no private key found with id=7f;object=nope"
    with pytest.raises(KMSError, match="no certificate found with id=02"):
        load_certificates("pkcs11:id=02", KmsOptions(kms_uri=KMS))
    kms = f"pkcs11:module-path={MODULE};token=absent?pin-value={PIN}"
    with pytest.raises(KMSError, match=r"^pkcs11: no token found with token 'absent'$"):
        open_signer("pkcs11:id=01", KmsOptions(kms_uri=kms))
    with pytest.raises(KMSError, match="needs an id or an object"):
        open_signer("pkcs11:token=pystep", KmsOptions(kms_uri=KMS))


def test_missing_module(token: dict[str, Any], tmp_path: Path) -> None:
    missing = tmp_path / "nope.so"
    with pytest.raises(KMSError) as err:
        open_signer(f"pkcs11:module-path={missing};token=pystep;id=01", KmsOptions())
    assert str(err.value) == (
        f"pkcs11: cannot load module {missing}: cannot open shared object file: "
        "No such file or directory"
    )
    with pytest.raises(KMSError, match="needs module-path"):
        open_signer("pkcs11:token=pystep;id=01", KmsOptions())
