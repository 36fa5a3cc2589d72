"""PKCS#11 keys (HSMs, smart cards, SoftHSM) through python-pkcs11.

KMS URI: ``pkcs11:module-path=<lib>;token=<label>`` (or ``serial=``/``slot-id=``) with
``pin-value``/``pin-source``; key name ``pkcs11:id=<hex|%xx>;object=<label>``. The key URI's
parameters win over the ``--kms`` URI's. ECDSA signs the digest with ``CKM_ECDSA`` (raw
``r||s``), RSA the whole input with ``CKM_SHA256_RSA_PKCS``, Ed25519 with ``CKM_EDDSA``.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from pystep.errors import KMSError, MissingExtraError
from pystep.kms import KmsOptions, get_pin, param, param_bytes
from pystep.kms._sig import KeySigner, digest, normalize_raw
from pystep.kms.uri import KmsUri, redact_uri

if TYPE_CHECKING:
    from pystep.jose.signer import PublicKey

# DER encodings of CKA_EC_PARAMS (named curve OIDs, or Ed25519's printable string).
_CURVES: dict[bytes, ec.EllipticCurve] = {
    bytes.fromhex("06082a8648ce3d030107"): ec.SECP256R1(),
    bytes.fromhex("06052b81040022"): ec.SECP384R1(),
    bytes.fromhex("06052b81040023"): ec.SECP521R1(),
}
_OTHER_CURVES = {bytes.fromhex("06052b8104000a"): "secp256k1"}
_ED25519_PARAMS = {bytes.fromhex("06032b6570"), b"\x13\x0cedwards25519"}


def _pkcs11() -> Any:
    try:
        import pkcs11
    except ImportError:
        raise MissingExtraError("PKCS#11 keys", "pkcs11", "python-pkcs11") from None
    return pkcs11


class Pkcs11Signer(KeySigner):
    """A Signer over a private key object in an open, logged-in session."""

    def __init__(self, session: Any, private_key: Any, public_key: PublicKey) -> None:
        super().__init__(public_key)
        self._session = session
        self._key = private_key

    def sign(self, signing_input: bytes) -> bytes:
        mech = _pkcs11().Mechanism
        try:
            if self._alg == "EdDSA":
                return bytes(self._key.sign(signing_input, mechanism=mech.EDDSA))
            if self._alg == "RS256":
                return bytes(self._key.sign(signing_input, mechanism=mech.SHA256_RSA_PKCS))
            raw = self._key.sign(digest(self._alg, signing_input), mechanism=mech.ECDSA)
        except _pkcs11().PKCS11Error as exc:
            raise KMSError(f"pkcs11: signing failed: {_describe(exc)}") from None
        return normalize_raw(bytes(raw), self._alg)


def _describe(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


def _load_lib(path: str) -> Any:
    pkcs11 = _pkcs11()
    try:
        return pkcs11.lib(path)
    except (OSError, RuntimeError) as exc:
        reason = _describe(exc).rsplit(f"{path}: ", 1)[-1]
        raise KMSError(f"pkcs11: cannot load module {path}: {reason}") from None


def _find_token(lib: Any, key_uri: KmsUri, kms_uri: KmsUri | None) -> Any:
    pkcs11 = _pkcs11()
    label = param("token", key_uri, kms_uri)
    serial = param("serial", key_uri, kms_uri)
    slot_id = param("slot-id", key_uri, kms_uri)
    if label is None and serial is None and slot_id is None:
        raise KMSError("pkcs11: the KMS URI needs one of token, serial or slot-id")
    wanted = ", ".join(
        f"{k} '{v}'" for k, v in (("token", label), ("serial", serial), ("slot-id", slot_id)) if v
    )
    try:
        if slot_id is not None:
            try:
                sid = int(slot_id, 0)
            except ValueError:
                raise KMSError(f"pkcs11: invalid slot-id '{slot_id}'") from None
            tokens = [s.get_token() for s in lib.get_slots(token_present=True) if s.slot_id == sid]
        else:
            tokens = list(lib.get_tokens(token_label=label))
        if label is not None:
            tokens = [t for t in tokens if t.label == label]
        if serial is not None:
            tokens = [t for t in tokens if _serial(t) == serial]
    except pkcs11.PKCS11Error as exc:
        raise KMSError(f"pkcs11: cannot list tokens: {_describe(exc)}") from None
    if not tokens:
        raise KMSError(f"pkcs11: no token found with {wanted}")
    if len(tokens) > 1:
        raise KMSError(f"pkcs11: more than one token found with {wanted}")
    return tokens[0]


def _serial(token: Any) -> str:
    s = token.serial
    return (s.decode("ascii", "replace") if isinstance(s, bytes) else str(s)).strip()


# One logged-in session per (module, slot) for the life of the process: PKCS#11 login
# state belongs to the application, not the session, so a second C_Login fails and a
# C_Logout would log every other signer out. The PIN's digest is kept (never the PIN)
# to refuse a different PIN for an already open token.
_SESSIONS: dict[tuple[str, int], tuple[Any, bytes]] = {}


def _pin_digest(pin: str) -> bytes:
    return hashlib.sha256(pin.encode("utf-8")).digest()


def _login(path: str, token: Any, key_uri: KmsUri, kms_uri: KmsUri | None, opts: KmsOptions) -> Any:
    pkcs11 = _pkcs11()
    cache_key = (path, int(token.slot.slot_id))
    cached = _SESSIONS.get(cache_key)
    if cached is not None:
        session, pin_digest = cached
        given = next((p for p in (key_uri.pin(), kms_uri and kms_uri.pin()) if p), None)
        if given is not None and not hmac.compare_digest(_pin_digest(given), pin_digest):
            raise KMSError(f"pkcs11: wrong PIN for token '{token.label}'")
        return session
    pin = get_pin(key_uri, kms_uri, opts, what=f"token '{token.label}'")
    try:
        session = token.open(user_pin=pin)
    except pkcs11.exceptions.PinIncorrect:
        raise KMSError(f"pkcs11: wrong PIN for token '{token.label}'") from None
    except pkcs11.exceptions.PinLocked:
        raise KMSError(f"pkcs11: the PIN of token '{token.label}' is locked") from None
    except pkcs11.PKCS11Error as exc:
        raise KMSError(
            f"pkcs11: cannot log in to token '{token.label}': {_describe(exc)}"
        ) from None
    _SESSIONS[cache_key] = (session, _pin_digest(pin))
    return session


def close_all() -> None:
    """Log out of and close every token session this process opened."""
    while _SESSIONS:
        _, (session, _) = _SESSIONS.popitem()
        with contextlib.suppress(Exception):  # closing is best effort
            session.close()


def _key_template(key_uri: KmsUri, kms_uri: KmsUri | None) -> dict[Any, Any]:
    attr = _pkcs11().Attribute
    key_id = param_bytes("id", key_uri, kms_uri)
    label = param("object", key_uri, kms_uri)
    if key_id is None and label is None:
        raise KMSError(f"pkcs11: key name '{redact_uri(key_uri.raw)}' needs an id or an object")
    template: dict[Any, Any] = {}
    if key_id is not None:
        template[attr.ID] = key_id
    if label is not None:
        template[attr.LABEL] = label
    return template


def _describe_key(key_uri: KmsUri, kms_uri: KmsUri | None) -> str:
    parts = []
    key_id = param_bytes("id", key_uri, kms_uri)
    label = param("object", key_uri, kms_uri)
    if key_id is not None:
        parts.append(f"id={key_id.hex()}")
    if label is not None:
        parts.append(f"object={label}")
    return ";".join(parts)


def _find_one(session: Any, cls: Any, template: dict[Any, Any]) -> Any | None:
    attr = _pkcs11().Attribute
    found = list(session.get_objects({attr.CLASS: cls, **template}))
    if len(found) > 1:
        raise KMSError("pkcs11: more than one object matches the key name; add id or object")
    return found[0] if found else None


def _ec_point(data: bytes) -> bytes:
    """CKA_EC_POINT is usually a DER OCTET STRING, sometimes the bare point."""
    if len(data) > 2 and data[0] == 0x04:
        n = data[1]
        if n < 0x80 and n == len(data) - 2:
            return data[2:]
        if n == 0x81 and len(data) > 3 and data[2] == len(data) - 3:
            return data[3:]
    return data


def _public_from_attrs(obj: Any) -> PublicKey | None:
    pkcs11 = _pkcs11()
    attr, key_type = pkcs11.Attribute, pkcs11.KeyType
    try:
        kt = obj[attr.KEY_TYPE]
        if kt == key_type.RSA:
            n = int.from_bytes(obj[attr.MODULUS], "big")
            e = int.from_bytes(obj[attr.PUBLIC_EXPONENT], "big")
            return rsa.RSAPublicNumbers(e, n).public_key()
        params = bytes(obj[attr.EC_PARAMS])
        point = bytes(obj[attr.EC_POINT])
    except (pkcs11.PKCS11Error, KeyError):
        return None
    if params in _ED25519_PARAMS:
        raw = _ec_point(point) if len(point) != 32 else point
        return ed25519.Ed25519PublicKey.from_public_bytes(raw)
    curve = _CURVES.get(params)
    if curve is None:
        name = _OTHER_CURVES.get(params, params.hex())
        raise KMSError(f'unsupported elliptic curve "{name}"')
    for candidate in (point, _ec_point(point)):
        try:
            return ec.EllipticCurvePublicKey.from_encoded_point(curve, candidate)
        except ValueError:
            continue
    raise KMSError("pkcs11: the token returned a malformed EC public key")


def _public_key(session: Any, priv: Any, template: dict[Any, Any]) -> PublicKey:
    pkcs11 = _pkcs11()
    pub_obj = _find_one(session, pkcs11.ObjectClass.PUBLIC_KEY, template)
    if pub_obj is not None:
        pub = _public_from_attrs(pub_obj)
        if pub is not None:
            return pub
    cert_obj = _find_one(session, pkcs11.ObjectClass.CERTIFICATE, template)
    if cert_obj is not None:
        cert = x509.load_der_x509_certificate(bytes(cert_obj[pkcs11.Attribute.VALUE]))
        key = cert.public_key()
        if isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
            return key
    pub = _public_from_attrs(priv)  # RSA private keys carry modulus and exponent
    if pub is None:
        raise KMSError("pkcs11: no public key or certificate found for the private key")
    return pub


def _open(key_uri: KmsUri, kms_uri: KmsUri | None, opts: KmsOptions) -> Any:
    path = param("module-path", key_uri, kms_uri)
    if not path:
        raise KMSError("pkcs11: the KMS URI needs module-path=<PKCS#11 library>")
    token = _find_token(_load_lib(path), key_uri, kms_uri)
    return _login(path, token, key_uri, kms_uri, opts)


def _open_object(
    key_uri: KmsUri, kms_uri: KmsUri | None, opts: KmsOptions, object_class: Any, what: str
) -> tuple[Any, dict[Any, Any], Any]:
    """Log in and find the one ``object_class`` object the key name selects:
    ``(session, search template, object)``."""
    template = _key_template(key_uri, kms_uri)
    session = _open(key_uri, kms_uri, opts)
    obj = _find_one(session, object_class, template)
    if obj is None:
        raise KMSError(f"pkcs11: no {what} found with {_describe_key(key_uri, kms_uri)}")
    return session, template, obj


def open_signer(key_uri: KmsUri, kms_uri: KmsUri | None, opts: KmsOptions) -> Pkcs11Signer:
    """A signer for the private key named by ``key_uri`` (see the module docstring)."""
    session, template, priv = _open_object(
        key_uri, kms_uri, opts, _pkcs11().ObjectClass.PRIVATE_KEY, "private key"
    )
    public_key = _public_key(session, priv, template)
    return Pkcs11Signer(session, priv, public_key)


def load_certificates(
    key_uri: KmsUri, kms_uri: KmsUri | None, opts: KmsOptions
) -> list[x509.Certificate]:
    """The certificate object stored under the key name's id/object."""
    _, _, obj = _open_object(
        key_uri, kms_uri, opts, _pkcs11().ObjectClass.CERTIFICATE, "certificate"
    )
    return [x509.load_der_x509_certificate(bytes(obj[_pkcs11().Attribute.VALUE]))]
