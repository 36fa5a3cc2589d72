"""YubiKey PIV keys (``yubikey:``) through yubikey-manager's ``yubikit.piv``.

KMS URI: ``yubikey:serial=<n>;pin-value=<pin>`` (or ``pin-source=<file>``; the PIN
defaults to the factory ``123456``, ``pin-prompt`` asks for it). Key name:
``yubikey:slot-id=<9a|9c|9d|9e|82…95>`` (default ``9c``). ``management-key`` /
``management-key-source`` are accepted (and ``management-key`` checked) for
compatibility with step, but signing never needs the management key.

The public key comes from the slot's certificate, else (firmware ≥ 5.3) from the slot
metadata. ``PivSession.sign`` hashes the signing input itself and, for ECDSA, returns DER,
converted here to JOSE ``R||S``. Each signature opens its own PC/SC connection, so no
card handle outlives a call.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

from pystep.errors import KMSError, MissingExtraError
from pystep.kms import KmsOptions, get_pin, param
from pystep.kms._sig import KeySigner, der_to_raw, hash_for_alg
from pystep.kms.uri import KmsUri

if TYPE_CHECKING:
    from cryptography import x509

    from pystep.jose.signer import PublicKey

DEFAULT_PIN = "123456"
DEFAULT_SLOT = "9c"
SLOTS: dict[str, int] = {
    "9a": 0x9A,
    "9c": 0x9C,
    "9d": 0x9D,
    "9e": 0x9E,
    **{f"{n:x}": n for n in range(0x82, 0x96)},
}

SessionFactory = Callable[[int | None], AbstractContextManager[Any]]
"""``serial or None`` → a context manager yielding a ``yubikit.piv.PivSession``."""


def _yubikit() -> Any:
    try:
        import yubikit.piv as piv
    except ImportError:
        raise MissingExtraError("yubikey: keys", "yubikey", "yubikey-manager") from None
    return piv


@contextmanager
def _device_session(serial: int | None) -> Iterator[Any]:
    """A PivSession on the YubiKey with ``serial`` (or the first one found)."""
    piv = _yubikit()
    from ykman.device import list_all_devices
    from yubikit.core.smartcard import SmartCardConnection

    try:
        devices = list_all_devices([SmartCardConnection])
    except Exception as exc:  # pyscard raises its own types when PC/SC is absent
        raise KMSError(f"yubikey: cannot list smart cards: {_one_line(exc)}") from None
    if serial is not None:
        devices = [(dev, info) for dev, info in devices if info.serial == serial]
    if not devices:
        which = f"with serial {serial} " if serial is not None else ""
        raise KMSError(f"yubikey: no YubiKey {which}found")
    with devices[0][0].open_connection(SmartCardConnection) as conn:
        yield piv.PivSession(conn)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _slot(key_uri: KmsUri) -> int:
    value = (key_uri.get("slot-id") or DEFAULT_SLOT).lower()
    if value not in SLOTS:
        raise KMSError(f"yubikey: invalid slot-id '{value}' (use 9a, 9c, 9d, 9e or 82 to 95)")
    return SLOTS[value]


def _serial(key_uri: KmsUri, kms_uri: KmsUri | None) -> int | None:
    value = param("serial", key_uri, kms_uri)
    if value is None or value == "":
        return None
    if not value.isdigit():
        raise KMSError(f"yubikey: invalid serial '{value}'")
    return int(value)


def _check_management_key(key_uri: KmsUri, kms_uri: KmsUri | None) -> None:
    value = param("management-key", key_uri, kms_uri)
    if value is not None and not re.fullmatch(
        r"(?:[0-9A-Fa-f]{2}){16}|(?:[0-9A-Fa-f]{2}){24}"
        r"|(?:[0-9A-Fa-f]{2}){32}",
        value,
    ):
        raise KMSError("yubikey: management-key must be 16, 24 or 32 bytes in hex")


def _device_error(action: str, exc: Exception) -> KMSError:
    from yubikit.core import InvalidPinError

    if isinstance(exc, InvalidPinError):
        return KMSError(f"yubikey: invalid PIN, {exc.attempts_remaining} attempts left")
    return KMSError(f"yubikey: {action} failed: {_one_line(exc)}")


class YubiKeySigner(KeySigner):
    """Signs with the key in one PIV slot; implements the Signer protocol."""

    def __init__(
        self,
        factory: SessionFactory,
        serial: int | None,
        slot: int,
        pin: str,
    ) -> None:
        self._factory = factory
        self._serial = serial
        self._slot = slot
        self._pin = pin
        public, self._key_type = self._read_public()
        super().__init__(public)

    def _read_public(self) -> tuple[PublicKey, Any]:
        piv = _yubikit()
        from yubikit.core import CommandError, NotSupportedError

        with self._factory(self._serial) as session:
            try:
                public = session.get_certificate(piv.SLOT(self._slot)).public_key()
                return public, piv.KEY_TYPE.from_public_key(public)
            except (CommandError, NotSupportedError):
                pass
            try:
                meta = session.get_slot_metadata(piv.SLOT(self._slot))
                return meta.public_key, meta.key_type
            except (CommandError, NotSupportedError):
                raise KMSError(
                    f"yubikey: slot {self._slot:x} holds no certificate or key"
                ) from None

    def sign(self, signing_input: bytes) -> bytes:
        piv = _yubikit()
        from cryptography.hazmat.primitives.asymmetric import padding
        from yubikit.core import CommandError

        h = hash_for_alg(self._alg)  # None for EdDSA: the card signs the whole input
        pad = padding.PKCS1v15() if self._alg == "RS256" else None
        with self._factory(self._serial) as session:
            try:
                session.verify_pin(self._pin)
            except (CommandError, ValueError) as exc:
                raise _device_error("PIN verification", exc) from None
            try:
                sig: bytes = session.sign(
                    piv.SLOT(self._slot), self._key_type, signing_input, h, pad
                )
            except (CommandError, ValueError) as exc:
                raise _device_error("signing", exc) from None
        if self._alg.startswith("ES"):
            return der_to_raw(sig, self._alg)
        return sig


def open_signer(
    key_uri: KmsUri,
    kms_uri: KmsUri | None,
    opts: KmsOptions,
    *,
    session_factory: SessionFactory | None = None,
) -> YubiKeySigner:
    """The signer for ``yubikey:slot-id=…``. ``session_factory`` replaces the PC/SC
    lookup (tests, or a caller that already holds a connection)."""
    slot = _slot(key_uri)
    serial = _serial(key_uri, kms_uri)
    _check_management_key(key_uri, kms_uri)
    _yubikit()
    pin = get_pin(key_uri, kms_uri, opts, what="YubiKey", default=DEFAULT_PIN)
    return YubiKeySigner(session_factory or _device_session, serial, slot, pin)


def load_certificates(
    key_uri: KmsUri,
    kms_uri: KmsUri | None,
    opts: KmsOptions,
    *,
    session_factory: SessionFactory | None = None,
) -> list[x509.Certificate]:
    """The certificate in the slot (a YubiKey holds no chain)."""
    slot = _slot(key_uri)
    serial = _serial(key_uri, kms_uri)
    piv = _yubikit()
    from yubikit.core import CommandError, NotSupportedError

    with (session_factory or _device_session)(serial) as session:
        try:
            return [session.get_certificate(piv.SLOT(slot))]
        except (CommandError, NotSupportedError):
            raise KMSError(f"yubikey: slot {slot:x} holds no certificate") from None
