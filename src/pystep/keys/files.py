"""Loading a signing key from a file, as step's ``--key`` does (client spec §8.3).

PEM (exactly one block: PKCS#1, SEC1, PKCS#8, encrypted PKCS#8, legacy encrypted PEM,
OpenSSH, Nebula X25519) or JWK JSON, optionally wrapped in a JWE. Passwords come from a
:class:`~pystep.passwords.Passwords`: one try for a password file, three prompts otherwise.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any, NamedTuple

from pystep import _json
from pystep.errors import InputError, KeyLoadError, MissingExtraError, PasswordError
from pystep.jose import jwe
from pystep.jose.jwk import PrivateKey, alg_for_key, private_key_from_jwk
from pystep.jose.signer import PublicKey, Signer
from pystep.keys import pkcs8
from pystep.keys.pem import UPPER_LABEL, PemError, pem_blocks
from pystep.keys.signers import signer_from_private_key
from pystep.passwords import Passwords, try_passwords

MAX_KEY_FILE_SIZE = 1 << 20

_PUBLIC_ONLY = {"PUBLIC KEY", "RSA PUBLIC KEY", "CERTIFICATE", "CERTIFICATE REQUEST",
                "NEW CERTIFICATE REQUEST", "NEBULA CERTIFICATE", "NEBULA X25519 PUBLIC KEY",
                "NEBULA ED25519 PUBLIC KEY", "OPENSSH PUBLIC KEY", "SSH2 PUBLIC KEY"}


class LoadedKey(NamedTuple):
    """A key ready to sign: ``kid`` is the JWK file's own ``kid`` (None for PEM files)."""

    signer: Signer
    public_key: PublicKey
    kid: str | None
    alg: str


def _is_wrong_password(exc: Exception) -> bool:
    return isinstance(exc, jwe.InvalidPassword | pkcs8.WrongKeyPassword)


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_KEY_FILE_SIZE + 1)
    except OSError as exc:
        raise InputError(f"error reading {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_KEY_FILE_SIZE:
        raise InputError(f"error reading {path}: file is too large")
    return data


def _pem_block(path: str, data: bytes) -> tuple[str, dict[str, str], bytes]:
    try:
        blocks = pem_blocks(data, label=UPPER_LABEL, max_blocks=8)
    except PemError:
        blocks = []
        more = True
    else:
        more = len(blocks) > 1 or bool(blocks and data[blocks[0].end :].strip())
    if more:
        raise KeyLoadError(f"error decoding {path}: contains more than one PEM encoded block")
    if not blocks:
        raise KeyLoadError(f"error decoding {path}: not a valid PEM encoded block")
    kind = blocks[0].label.decode("ascii")
    text = blocks[0].body.decode("ascii", errors="replace")
    headers: dict[str, str] = {}
    body = text
    if ":" in text.split("\n", 1)[0]:
        head, _, body = text.replace("\r\n", "\n").partition("\n\n")
        for line in head.splitlines():
            name, _, value = line.partition(":")
            headers[name.strip()] = value.strip()
    try:
        der = base64.b64decode("".join(body.split()), validate=True)
    except (binascii.Error, ValueError):
        raise KeyLoadError(f"error decoding {path}: invalid PEM base64") from None
    return kind, headers, der


def _openssh_encrypted(der: bytes) -> bool:
    magic = b"openssh-key-v1\x00"
    if not der.startswith(magic) or len(der) < len(magic) + 4:
        return False
    size = int.from_bytes(der[len(magic):len(magic) + 4], "big")
    cipher = der[len(magic) + 4:len(magic) + 4 + size]
    return cipher != b"none"


def _load_openssh(path: str, pem: bytes, der: bytes, passwords: Passwords, prompt: str) -> Any:
    from cryptography.hazmat.primitives.serialization import load_ssh_private_key

    if not _openssh_encrypted(der):
        try:
            return load_ssh_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise KeyLoadError(f"error parsing {path}: invalid OpenSSH private key") from exc
    import importlib.util

    if importlib.util.find_spec("bcrypt") is None:
        raise MissingExtraError("encrypted OpenSSH private keys", "ssh", "bcrypt")

    def attempt(password: bytes) -> Any:
        try:
            return load_ssh_private_key(pem, password=password)
        except ValueError:
            # cryptography says "Corrupt data: broken checksum" for a wrong passphrase
            raise pkcs8.WrongKeyPassword() from None

    return try_passwords(passwords, prompt, attempt, is_wrong_password=_is_wrong_password,
                         failure=f"error decrypting {path}: invalid password")


def _decrypt_pkcs8(der: bytes, password: bytes) -> Any:
    """Our lenient PBES2 reader first; other schemes (PBES1, 3DES…) via `cryptography`,
    whose ValueError cannot tell a wrong password from a bad file."""
    from cryptography.hazmat.primitives.serialization import load_der_private_key

    try:
        return pkcs8.decrypt_pkcs8(der, password)
    except pkcs8.UnsupportedEncryption:
        try:
            return load_der_private_key(der, password=password)
        except ValueError:
            raise pkcs8.WrongKeyPassword() from None
        except Exception as exc:  # UnsupportedAlgorithm
            raise KeyLoadError("unsupported PKCS#8 encryption") from exc


def _load_pem(path: str, data: bytes, passwords: Passwords, prompt: str) -> Any:
    from cryptography.hazmat.primitives.asymmetric import x25519
    from cryptography.hazmat.primitives.serialization import load_der_private_key

    kind, headers, der = _pem_block(path, data)
    failure = f"error decrypting {path}: invalid password"
    if kind in _PUBLIC_ONLY:
        raise KeyLoadError(f"file {path} does not contain a private key")
    if kind == "OPENSSH PRIVATE KEY":
        return _load_openssh(path, data, der, passwords, prompt)
    if kind == "NEBULA X25519 PRIVATE KEY":
        if len(der) != 32:
            raise KeyLoadError(f"error parsing {path}: invalid Nebula X25519 private key")
        return x25519.X25519PrivateKey.from_private_bytes(der)
    if kind == "ENCRYPTED PRIVATE KEY":
        return try_passwords(passwords, prompt, lambda pw: _decrypt_pkcs8(der, pw),
                             is_wrong_password=_is_wrong_password, failure=failure)
    if headers.get("Proc-Type", "").replace(" ", "") == "4,ENCRYPTED":
        return try_passwords(
            passwords, prompt, lambda pw: pkcs8.decrypt_legacy_pem(headers, der, pw),
            is_wrong_password=_is_wrong_password, failure=failure)
    if kind in ("PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"):
        try:
            return load_der_private_key(der, password=None)
        except (ValueError, TypeError):
            raise KeyLoadError(f"error parsing {path}: invalid private key") from None
        except Exception as exc:  # cryptography.exceptions.UnsupportedAlgorithm
            raise KeyLoadError(f"error parsing {path}: unsupported key type") from exc
    raise KeyLoadError(f"error decoding {path}: contains an unexpected header '{kind}'")


def _jwk_object(path: str, plaintext: bytes | str) -> dict[str, Any]:
    try:
        obj = _json.loads(plaintext)
    except (ValueError, UnicodeDecodeError):
        raise InputError(f"error reading {path}: unsupported format") from None
    if not isinstance(obj, dict):
        raise InputError(f"error reading {path}: unsupported format")
    return obj


def _decrypt_jwe(data: str | bytes | Mapping[str, Any], passwords: Passwords,
                 prompt: str) -> bytes:
    return try_passwords(passwords, prompt, lambda pw: jwe.decrypt(data, pw),
                         is_wrong_password=_is_wrong_password)


def decrypt_jwk(data: str | bytes, passwords: Passwords, prompt: str) -> dict[str, Any]:
    """The private JWK inside a JWE (compact or JSON); a plain JWK JSON is used as-is.

    Wrong password(s) → PasswordError ``failed to decrypt JWE: invalid password``; a
    plaintext that is not a JSON object → InputError ``error unmarshaling provisioning key``.
    """
    plaintext: bytes | str = _decrypt_jwe(data, passwords, prompt) if jwe.is_jwe(data) else data
    try:
        obj = _json.loads(plaintext)
    except (ValueError, UnicodeDecodeError):
        raise InputError("error unmarshaling provisioning key") from None
    if not isinstance(obj, dict):
        raise InputError("error unmarshaling provisioning key")
    return obj


def signer_from_jwk(jwk: Mapping[str, Any]) -> Signer:
    """A Signer for a private JWK, using the JWK's own ``alg`` when it has one."""
    key = private_key_from_jwk(jwk)
    alg = jwk.get("alg")
    return signer_from_private_key(key, alg if isinstance(alg, str) and alg else None)


def _loaded(key: Any, path: str, alg: str | None, kid: str | None) -> LoadedKey:
    if not hasattr(key, "public_key") or not hasattr(key, "private_bytes"):
        raise KeyLoadError(f"file {path} does not contain a private key")
    private: PrivateKey = key
    signer = signer_from_private_key(private, alg)
    return LoadedKey(signer=signer, public_key=signer.public_key(), kid=kid,
                     alg=signer.alg)


def load_signing_key(path: str, passwords: Passwords, *,
                     prompt: str | None = None) -> LoadedKey:
    """Load a private key from ``path`` (PEM or JWK/JWE JSON) into a Signer.

    Errors are KeyLoadError/InputError with step's wording; wrong passwords raise
    PasswordError after the last candidate; a file holding only a public key says so.
    """
    prompt = prompt or f"Please enter the password to decrypt {path}"
    data = _read(path)
    if data.lstrip().startswith(b"-----BEGIN "):
        key = _load_pem(path, data, passwords, prompt)
        alg = alg_for_key(key) if hasattr(key, "public_key") else None
        return _loaded(key, path, alg, None)
    if jwe.is_jwe(data):
        obj = _jwk_object(path, _decrypt_jwe(data, passwords, prompt))
    else:
        obj = _jwk_object(path, data)
    if obj.get("kty") in ("EC", "RSA", "OKP") and "d" not in obj:
        raise KeyLoadError(f"file {path} does not contain a private key")
    try:
        key = private_key_from_jwk(obj)
    except PasswordError:
        raise
    except KeyLoadError as exc:
        raise KeyLoadError(f"error reading {path}: {exc}") from None
    alg = obj.get("alg")
    kid = obj.get("kid")
    return _loaded(key, path, alg if isinstance(alg, str) and alg else None,
                   kid if isinstance(kid, str) else None)
