"""Password-based JWE (PBES2-HS*+A*KW with A*GCM), as step encrypts its private JWKs.

Reads the compact form (provisioner ``encryptedKey``) and the flattened/general JSON forms
(``step crypto jwk create`` files). The PBKDF2 iteration count ``p2c`` is checked against
bounds before any key derivation, so a hostile file cannot make us spin.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, NamedTuple

from pystep import _json
from pystep.errors import InputError, PasswordError
from pystep.jose.encoding import b64url_encode, go_json_dumps
from pystep.jose.jwk import b64url_decode_strict

MAX_JWE_SIZE = 1 << 20
MAX_P2S_SIZE = 1024
MIN_P2S_SIZE = 8  # RFC 7518 §4.8.1.1

# alg -> (hash name, key-wrapping key length); enc -> content key length
_PBES2 = {
    "PBES2-HS256+A128KW": ("sha256", 16),
    "PBES2-HS384+A192KW": ("sha384", 24),
    "PBES2-HS512+A256KW": ("sha512", 32),
}
_ENC = {"A128GCM": 16, "A192GCM": 24, "A256GCM": 32}


class InvalidPassword(PasswordError):
    """The password does not unwrap the content key (the only wrong-password signal)."""

    def __init__(self) -> None:
        super().__init__("failed to decrypt JWE: invalid password")


class _Parts(NamedTuple):
    protected_b64: str
    header: dict[str, Any]
    encrypted_key: bytes
    iv: bytes
    ciphertext: bytes
    tag: bytes
    aad: str | None


def _bad(what: str) -> InputError:
    return InputError(f"error parsing JWE: {what}")


def _b64(value: Any, name: str) -> bytes:
    if not isinstance(value, str):
        raise _bad(f"missing or invalid '{name}'")
    try:
        return b64url_decode_strict(value)
    except ValueError:
        raise _bad(f"'{name}' is not valid base64url") from None


def _protected_header(protected_b64: str) -> dict[str, Any]:
    try:
        header = _json.loads(_b64(protected_b64, "protected"))
    except (ValueError, UnicodeDecodeError):
        raise _bad("protected header is not valid JSON") from None
    if not isinstance(header, dict):
        raise _bad("protected header is not a JSON object")
    return header


def _merge(header: dict[str, Any], extra: Any, name: str) -> None:
    if extra is None:
        return
    if not isinstance(extra, dict):
        raise _bad(f"'{name}' is not a JSON object")
    for key, value in extra.items():
        if key in header:
            raise _bad(f"duplicate header parameter '{key}'")
        header[key] = value


def _from_mapping(obj: Mapping[str, Any]) -> _Parts:
    protected_b64 = obj.get("protected")
    if not isinstance(protected_b64, str):
        raise _bad("missing 'protected' header")
    header = _protected_header(protected_b64)
    _merge(header, obj.get("unprotected"), "unprotected")
    recipients = obj.get("recipients")
    if recipients is not None:
        if not isinstance(recipients, list) or len(recipients) != 1:
            raise _bad("exactly one recipient is supported")
        recipient = recipients[0]
        if not isinstance(recipient, dict):
            raise _bad("invalid recipient")
    else:
        recipient = obj
    _merge(header, recipient.get("header"), "header")
    aad = obj.get("aad")
    if aad is not None and not isinstance(aad, str):
        raise _bad("invalid 'aad'")
    return _Parts(
        protected_b64=protected_b64,
        header=header,
        encrypted_key=_b64(recipient.get("encrypted_key"), "encrypted_key"),
        iv=_b64(obj.get("iv"), "iv"),
        ciphertext=_b64(obj.get("ciphertext"), "ciphertext"),
        tag=_b64(obj.get("tag"), "tag"),
        aad=aad,
    )


def _parse(data: str | bytes | Mapping[str, Any]) -> _Parts:
    if isinstance(data, Mapping):
        return _from_mapping(data)
    if len(data) > MAX_JWE_SIZE:
        raise _bad("input is too large")
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise _bad("not valid UTF-8") from None
    text = data.strip()
    if text.startswith("{"):
        try:
            obj = _json.loads(text)
        except ValueError:
            raise _bad("invalid JSON") from None
        if not isinstance(obj, dict):
            raise _bad("not a JSON object")
        return _from_mapping(obj)
    parts = text.split(".")
    if len(parts) != 5:
        raise _bad("compact JWE format must have five parts")
    return _Parts(
        protected_b64=parts[0],
        header=_protected_header(parts[0]),
        encrypted_key=_b64(parts[1], "encrypted_key"),
        iv=_b64(parts[2], "iv"),
        ciphertext=_b64(parts[3], "ciphertext"),
        tag=_b64(parts[4], "tag"),
        aad=None,
    )


def is_jwe(data: str | bytes | Mapping[str, Any]) -> bool:
    """Whether ``data`` parses as a JWE (compact or JSON); says nothing about decryptability."""
    try:
        _parse(data)
    except InputError:
        return False
    return True


def _kdf_params(
    header: Mapping[str, Any], min_p2c: int, max_p2c: int
) -> tuple[str, int, int, bytes]:
    """(hash name, KEK length, p2c, PBKDF2 salt), validated before any derivation."""
    alg = header.get("alg")
    if alg not in _PBES2:
        raise InputError(f"unsupported JWE algorithm '{alg}'")
    hash_name, kek_len = _PBES2[str(alg)]
    p2c = header.get("p2c")
    if not isinstance(p2c, int) or isinstance(p2c, bool):
        raise _bad("missing or invalid 'p2c'")
    if not min_p2c <= p2c <= max_p2c:
        raise InputError(
            f"refusing to decrypt: JWE p2c {p2c} is outside {min_p2c}..{max_p2c}"
        )
    p2s = _b64(header.get("p2s"), "p2s")
    if not MIN_P2S_SIZE <= len(p2s) <= MAX_P2S_SIZE:
        raise _bad(f"'p2s' must be {MIN_P2S_SIZE} to {MAX_P2S_SIZE} bytes")
    return hash_name, kek_len, p2c, str(alg).encode("ascii") + b"\x00" + p2s


def _derive(password: bytes, hash_name: str, length: int, p2c: int, salt: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

    algorithm: hashes.HashAlgorithm
    if hash_name == "sha256":
        algorithm = hashes.SHA256()
    elif hash_name == "sha384":
        algorithm = hashes.SHA384()
    else:
        algorithm = hashes.SHA512()
    kdf = PBKDF2HMAC(algorithm=algorithm, length=length, salt=salt,
                     iterations=p2c)
    return kdf.derive(password)


def decrypt(
    data: str | bytes | Mapping[str, Any],
    password: bytes,
    *,
    min_p2c: int = 1000,
    max_p2c: int = 1_000_000,
) -> bytes:
    """Decrypt a PBES2 JWE. Malformed input or p2c out of bounds → InputError (raised
    before PBKDF2 runs); wrong password → :class:`InvalidPassword`."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap

    parts = _parse(data)
    hash_name, kek_len, p2c, salt = _kdf_params(parts.header, min_p2c, max_p2c)
    enc = parts.header.get("enc")
    if enc not in _ENC:
        raise InputError(f"unsupported JWE encryption '{enc}'")
    cek_len = _ENC[str(enc)]
    if len(parts.encrypted_key) != cek_len + 8:
        raise _bad("encrypted key has the wrong size")
    if len(parts.iv) != 12 or len(parts.tag) != 16:
        raise _bad("invalid IV or tag size")
    if "zip" in parts.header:
        raise InputError("unsupported JWE compression")

    kek = _derive(password, hash_name, kek_len, p2c, salt)
    try:
        cek = aes_key_unwrap(kek, parts.encrypted_key)
    except InvalidUnwrap:
        raise InvalidPassword() from None
    aad = parts.protected_b64.encode("ascii")
    if parts.aad is not None:
        aad += b"." + parts.aad.encode("ascii")
    try:
        return AESGCM(cek).decrypt(parts.iv, parts.ciphertext + parts.tag, aad)
    except InvalidTag:
        raise InputError("failed to decrypt JWE: message authentication failed") from None


def encrypt(
    plaintext: bytes,
    password: bytes,
    *,
    p2c: int = 600_000,
    alg: str = "PBES2-HS256+A128KW",
    enc: str = "A256GCM",
    cty: str | None = "jwk+json",
) -> str:
    """Encrypt ``plaintext`` as a compact PBES2 JWE (what step writes since 2023)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.keywrap import aes_key_wrap

    if alg not in _PBES2:
        raise InputError(f"unsupported JWE algorithm '{alg}'")
    if enc not in _ENC:
        raise InputError(f"unsupported JWE encryption '{enc}'")
    if p2c < 1:
        raise InputError("JWE p2c must be positive")
    header: dict[str, Any] = {"alg": alg, "enc": enc, "p2c": p2c,
                              "p2s": b64url_encode(os.urandom(16))}
    if cty:
        header["cty"] = cty
    hash_name, kek_len, _, salt = _kdf_params(header, 1, p2c)
    kek = _derive(password, hash_name, kek_len, p2c, salt)
    cek = os.urandom(_ENC[enc])
    iv = os.urandom(12)
    protected_b64 = b64url_encode(go_json_dumps(header))
    sealed = AESGCM(cek).encrypt(iv, plaintext, protected_b64.encode("ascii"))
    return ".".join(
        [
            protected_b64,
            b64url_encode(aes_key_wrap(kek, cek)),
            b64url_encode(iv),
            b64url_encode(sealed[:-16]),
            b64url_encode(sealed[-16:]),
        ]
    )
