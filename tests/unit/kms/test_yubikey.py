"""yubikey: tested at the yubikit boundary with a fake PivSession that answers like a
device (real yubikit types and exceptions, real keys, DER ECDSA signatures); plus an
opt-in hardware test (PYSTEP_YUBIKEY_TEST=1)."""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID

from pystep.errors import InteractionRequired, KMSError
from pystep.kms import KmsOptions
from pystep.kms.uri import parse

if os.environ.get("CI"):
    import yubikit.piv as piv
else:
    piv = pytest.importorskip("yubikit.piv")
from yubikit.core import InvalidPinError, NotSupportedError, Tlv
from yubikit.core.smartcard import SW, ApduError

from pystep.kms import yubikey


def _cert(key: Any) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "yubikey test")])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    algo = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(key, algo)


class FakePiv:
    """Behaves like yubikit.piv.PivSession on a YubiKey with some loaded slots."""

    def __init__(self, version: tuple[int, int, int] = (5, 7, 0), pin: str = "123456") -> None:
        self.version = version
        self._pin = pin
        self.attempts = 3
        self.verified = False
        self.slots: dict[int, tuple[Any, Any, x509.Certificate | None]] = {}
        self.sign_calls: list[tuple[Any, Any, bytes, Any, Any]] = []

    def load(self, slot: int, key: Any, key_type: Any, with_cert: bool = True) -> None:
        self.slots[slot] = (key, key_type, _cert(key) if with_cert else None)

    def verify_pin(self, pin: str) -> None:
        if pin != self._pin:
            self.attempts -= 1
            raise InvalidPinError(self.attempts)
        self.attempts = 3
        self.verified = True

    def get_certificate(self, slot: Any) -> x509.Certificate:
        entry = self.slots.get(int(slot))
        if entry is None or entry[2] is None:
            raise ApduError(b"", SW.FILE_NOT_FOUND)
        return entry[2]

    def get_slot_metadata(self, slot: Any) -> Any:
        if self.version < (5, 3, 0):
            raise NotSupportedError("This action requires YubiKey 5.3.0 or later")
        entry = self.slots.get(int(slot))
        if entry is None:
            raise ApduError(b"", SW.REFERENCE_DATA_NOT_FOUND)
        key, key_type, _ = entry
        pub = key.public_key()
        # The device answers a TLV: 0x81 modulus / 0x82 exponent, or 0x86 EC point.
        if isinstance(pub, rsa.RSAPublicKey):
            nums = pub.public_numbers()
            encoded = bytes(Tlv(0x81, nums.n.to_bytes(pub.key_size // 8)))
            encoded += bytes(Tlv(0x82, nums.e.to_bytes(3)))
        elif isinstance(pub, ec.EllipticCurvePublicKey):
            point = pub.public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
            encoded = bytes(Tlv(0x86, point))
        else:
            raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            encoded = bytes(Tlv(0x86, raw))
        return piv.SlotMetadata(
            key_type, piv.PIN_POLICY.ONCE, piv.TOUCH_POLICY.NEVER, True, encoded
        )

    def sign(self, slot: Any, key_type: Any, message: bytes, hash_alg: Any, pad: Any) -> bytes:
        self.sign_calls.append((slot, key_type, message, hash_alg, pad))
        if not self.verified:
            raise ApduError(b"", SW.SECURITY_CONDITION_NOT_SATISFIED)
        key, real_type, _ = self.slots[int(slot)]
        assert key_type == real_type
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(message, ec.ECDSA(hash_alg))  # DER, as the card answers
        if isinstance(key, rsa.RSAPrivateKey):
            return key.sign(message, pad, hash_alg)
        return key.sign(message)


def factory_for(card: FakePiv, serials: list[int | None]) -> Any:
    @contextmanager
    def open_session(serial: int | None) -> Iterator[FakePiv]:
        serials.append(serial)
        card.verified = False  # a new connection forgets the PIN
        yield card

    return open_session


def _open(card: FakePiv, key: str, kms: str | None = None, **kw: Any) -> Any:
    serials: list[int | None] = []
    opts = KmsOptions(kms_uri=kms, **kw)
    signer = yubikey.open_signer(
        parse(key), parse(kms) if kms else None, opts, session_factory=factory_for(card, serials)
    )
    return signer, serials


def _ec_verify(pub: Any, sig: bytes, data: bytes, h: hashes.HashAlgorithm) -> None:
    half = len(sig) // 2
    der = encode_dss_signature(int.from_bytes(sig[:half]), int.from_bytes(sig[half:]))
    pub.verify(der, data, ec.ECDSA(h))


def test_default_slot_9c_es256_with_default_pin() -> None:
    card = FakePiv()
    key = ec.generate_private_key(ec.SECP256R1())
    card.load(0x9C, key, piv.KEY_TYPE.ECCP256)
    signer, serials = _open(card, "yubikey:", "yubikey:serial=1234567")
    assert signer.alg == "ES256"
    assert signer.public_key().public_numbers() == key.public_key().public_numbers()
    data = b"header.payload"
    sig = signer.sign(data)
    assert len(sig) == 64
    _ec_verify(key.public_key(), sig, data, hashes.SHA256())
    slot, key_type, message, hash_alg, pad = card.sign_calls[-1]
    assert (int(slot), key_type, message, pad) == (0x9C, piv.KEY_TYPE.ECCP256, data, None)
    assert isinstance(hash_alg, hashes.SHA256)
    assert serials == [1234567, 1234567]


def test_p384_retired_slot_from_metadata_without_certificate() -> None:
    card = FakePiv()
    key = ec.generate_private_key(ec.SECP384R1())
    card.load(0x82, key, piv.KEY_TYPE.ECCP384, with_cert=False)
    signer, _ = _open(card, "yubikey:slot-id=82?pin-value=123456")
    assert signer.alg == "ES384"
    sig = signer.sign(b"abc")
    assert len(sig) == 96
    _ec_verify(key.public_key(), sig, b"abc", hashes.SHA384())
    assert isinstance(card.sign_calls[-1][3], hashes.SHA384)


def test_rsa_pkcs1v15() -> None:
    card = FakePiv()
    key = rsa.generate_private_key(65537, 2048)
    card.load(0x9A, key, piv.KEY_TYPE.RSA2048)
    signer, _ = _open(card, "yubikey:slot-id=9A")
    assert signer.alg == "RS256"
    sig = signer.sign(b"abc")
    key.public_key().verify(sig, b"abc", padding.PKCS1v15(), hashes.SHA256())
    assert isinstance(card.sign_calls[-1][4], padding.PKCS1v15)


def test_ed25519_signs_whole_input() -> None:
    card = FakePiv()
    key = ed25519.Ed25519PrivateKey.generate()
    card.load(0x9C, key, piv.KEY_TYPE.ED25519)
    signer, _ = _open(card, "yubikey:slot-id=9c")
    assert signer.alg == "EdDSA"
    key.public_key().verify(signer.sign(b"abc"), b"abc")
    assert card.sign_calls[-1][3] is None


def test_pin_from_source_and_wrong_pin(tmp_path: Any) -> None:
    card = FakePiv(pin="654321")
    card.load(0x9C, ec.generate_private_key(ec.SECP256R1()), piv.KEY_TYPE.ECCP256)
    (tmp_path / "pin").write_text("654321\n")
    signer, _ = _open(card, "yubikey:slot-id=9c", f"yubikey:pin-source={tmp_path / 'pin'}")
    signer.sign(b"x")
    wrong, _ = _open(card, "yubikey:slot-id=9c", "yubikey:pin-value=000000")
    with pytest.raises(KMSError, match=r"^yubikey: invalid PIN, 2 attempts left$") as info:
        wrong.sign(b"x")
    assert "000000" not in str(info.value)


def test_pin_prompt_uses_prompter() -> None:
    card = FakePiv(pin="112233")
    card.load(0x9C, ec.generate_private_key(ec.SECP256R1()), piv.KEY_TYPE.ECCP256)
    asked: list[str] = []

    def prompter(text: str) -> str:
        asked.append(text)
        return "112233"

    signer, _ = _open(card, "yubikey:slot-id=9c?pin-prompt", pin_prompter=prompter)
    signer.sign(b"x")
    assert len(asked) == 1
    with pytest.raises(InteractionRequired):
        _open(card, "yubikey:slot-id=9c?pin-prompt")


def test_old_firmware_empty_slot() -> None:
    card = FakePiv(version=(4, 3, 5))
    with pytest.raises(KMSError, match="slot 9d holds no certificate or key"):
        _open(card, "yubikey:slot-id=9d")


def test_bad_parameters() -> None:
    card = FakePiv()
    with pytest.raises(KMSError, match="invalid slot-id '9b'"):
        _open(card, "yubikey:slot-id=9b")
    with pytest.raises(KMSError, match="invalid slot-id '96'"):
        _open(card, "yubikey:slot-id=96")
    with pytest.raises(KMSError, match="invalid serial"):
        _open(card, "yubikey:slot-id=9c", "yubikey:serial=abc")
    with pytest.raises(KMSError, match="management-key must be"):
        _open(card, "yubikey:slot-id=9c", "yubikey:management-key=0102")


def test_load_certificates() -> None:
    card = FakePiv()
    key = ec.generate_private_key(ec.SECP256R1())
    card.load(0x9E, key, piv.KEY_TYPE.ECCP256)
    certs = yubikey.load_certificates(
        parse("yubikey:slot-id=9e"), None, KmsOptions(), session_factory=factory_for(card, [])
    )
    assert certs == [card.slots[0x9E][2]]
    with pytest.raises(KMSError, match="slot 9a holds no certificate"):
        yubikey.load_certificates(
            parse("yubikey:slot-id=9a"), None, KmsOptions(), session_factory=factory_for(card, [])
        )


@pytest.mark.hardware
def test_real_yubikey() -> None:
    """Needs a YubiKey plugged in; deselected unless ``pytest -m hardware`` (docs/kms.md)."""
    slot = os.environ.get("PYSTEP_YUBIKEY_SLOT", "9c")
    pin = os.environ.get("PYSTEP_YUBIKEY_PIN", "123456")
    from pystep import kms

    signer = kms.open_signer(
        f"yubikey:slot-id={slot}", KmsOptions(kms_uri=f"yubikey:pin-value={pin}")
    )
    data = b"pystep hardware test"
    sig = signer.sign(data)
    pub = signer.public_key()
    if isinstance(pub, ec.EllipticCurvePublicKey):
        h = {"ES256": hashes.SHA256(), "ES384": hashes.SHA384()}[signer.alg]
        _ec_verify(pub, sig, data, h)
    elif isinstance(pub, rsa.RSAPublicKey):
        pub.verify(sig, data, padding.PKCS1v15(), hashes.SHA256())
    else:
        assert isinstance(pub, ed25519.Ed25519PublicKey)
        pub.verify(sig, data)


@pytest.mark.skipif(os.environ.get("PYSTEP_YUBIKEY_TEST") == "1", reason="a YubiKey is present")
def test_real_library_without_a_device() -> None:
    """The real ykman/pyscard lookup on a machine with no YubiKey (or no pcscd). (Not a
    missing-tool skip: it only skips where PYSTEP_YUBIKEY_TEST=1 says a key is plugged in.)"""
    from pystep import kms

    with pytest.raises(KMSError, match=r"^yubikey: (no YubiKey found|cannot list smart cards)"):
        kms.open_signer("yubikey:slot-id=9c", KmsOptions(kms_uri="yubikey:pin-value=123456"))
    with pytest.raises(KMSError, match=r"^yubikey: no YubiKey with serial 42 found|cannot list"):
        kms.open_signer("yubikey:slot-id=9c", KmsOptions(kms_uri="yubikey:serial=42"))


def test_missing_package(monkeypatch: pytest.MonkeyPatch) -> None:
    from pystep.errors import MissingExtraError

    monkeypatch.setitem(__import__("sys").modules, "yubikit.piv", None)
    with pytest.raises(MissingExtraError, match=r"pystep\[yubikey\]"):
        yubikey.open_signer(parse("yubikey:slot-id=9c"), None, KmsOptions())
