"""XEdDSA (Signal's specification) over X25519 keys, as step signs Nebula tokens.

step's ``go.step.sm/crypto/x25519`` signs with the XEdDSA construction of
https://signal.org/docs/specifications/xeddsa/: the Montgomery private key ``k`` is
clamped, ``E = kB`` is computed on the Edwards curve, the public Edwards point ``A`` is
``E`` with its sign bit forced to 0 and the private scalar ``a`` is ``k`` or ``-k``
accordingly. The nonce is ``SHA-512(0xFE || 0xFF*31 || a || M || Z)`` with 64 random
bytes ``Z``; the rest is Ed25519 (``R || s``).

Signing uses libsodium's scalar and point primitives through PyNaCl (the ``nebula``
extra). Verification needs no extra: a valid XEdDSA signature is an ordinary Ed25519
signature under the Edwards form of the X25519 public key (sign bit 0), so
cryptography's Ed25519 verifier checks it once the key is converted.
"""

from __future__ import annotations

import hashlib
import os
from types import ModuleType

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from pystep.errors import MissingExtraError

_P = 2**255 - 19
# hash1 prefix of the XEdDSA specification (the same 32 bytes libsignal and step use).
_HASH1_PREFIX = b"\xfe" + b"\xff" * 31
SIGNATURE_SIZE = 64
RANDOM_SIZE = 64


def _nacl() -> ModuleType:
    try:
        import nacl.bindings as bindings
    except ImportError as exc:
        raise MissingExtraError("XEdDSA signing for Nebula keys", "nebula", "pynacl") from exc
    return bindings


def _reduce(nacl: ModuleType, digest: bytes) -> bytes:
    """A 64-byte hash reduced modulo the group order ``q``."""
    reduced: bytes = nacl.crypto_core_ed25519_scalar_reduce(digest)
    return reduced


def _calculate_key_pair(nacl: ModuleType, k: bytes) -> tuple[bytes, bytes]:
    """XEdDSA ``calculate_key_pair``: (A with sign bit 0, matching scalar a)."""
    clamped = bytearray(k)
    clamped[0] &= 248
    clamped[31] &= 127
    clamped[31] |= 64
    scalar = _reduce(nacl, bytes(clamped) + bytes(32))
    edwards = bytearray(nacl.crypto_scalarmult_ed25519_base_noclamp(scalar))
    if edwards[31] & 0x80:
        scalar = nacl.crypto_core_ed25519_scalar_negate(scalar)
        edwards[31] &= 0x7F
    return bytes(edwards), scalar


def xeddsa_sign_raw(private: bytes, message: bytes, random: bytes) -> bytes:
    """XEdDSA signature of ``message`` with the 32-byte X25519 private key ``private``.

    ``random`` is the 64-byte ``Z`` of the specification; callers other than tests
    should use :class:`XEdDSASigner`, which draws it from the OS.
    """
    if len(private) != 32:
        raise ValueError("an X25519 private key is 32 bytes")
    if len(random) != RANDOM_SIZE:
        raise ValueError("XEdDSA needs 64 random bytes")
    nacl = _nacl()
    public_a, a = _calculate_key_pair(nacl, private)
    r = _reduce(nacl, hashlib.sha512(_HASH1_PREFIX + a + message + random).digest())
    big_r: bytes = nacl.crypto_scalarmult_ed25519_base_noclamp(r)
    h = _reduce(nacl, hashlib.sha512(big_r + public_a + message).digest())
    s: bytes = nacl.crypto_core_ed25519_scalar_add(r, nacl.crypto_core_ed25519_scalar_mul(h, a))
    return big_r + s


def x25519_to_ed25519_public(u: bytes) -> bytes:
    """XEdDSA ``convert_mont``: the Edwards encoding (sign bit 0) of a Montgomery ``u``.

    ``y = (u - 1) / (u + 1) mod p``; the top bit of ``u`` is masked as in the spec.
    """
    if len(u) != 32:
        raise ValueError("an X25519 public key is 32 bytes")
    value = int.from_bytes(u, "little") & ((1 << 255) - 1)
    value %= _P
    y = (value - 1) * pow((value + 1) % _P, _P - 2, _P) % _P
    return y.to_bytes(32, "little")  # y < p < 2**255, so the sign bit is 0


def xeddsa_verify(public: x25519.X25519PublicKey, message: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is a valid XEdDSA signature of ``message`` by ``public``."""
    if len(signature) != SIGNATURE_SIZE or signature[63] & 0xE0:
        return False
    edwards = x25519_to_ed25519_public(public.public_bytes(Encoding.Raw, PublicFormat.Raw))
    try:
        key = ed25519.Ed25519PublicKey.from_public_bytes(edwards)
        key.verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


class XEdDSASigner:
    """A :class:`pystep.jose.signer.Signer` for X25519 keys (JWS ``alg: XEdDSA``)."""

    def __init__(self, private: x25519.X25519PrivateKey) -> None:
        _nacl()  # fail at load time, not at signing time, when PyNaCl is missing
        self._private = private
        self._public = private.public_key()

    @property
    def alg(self) -> str:
        return "XEdDSA"

    def public_key(self) -> x25519.X25519PublicKey:
        return self._public

    def sign(self, signing_input: bytes) -> bytes:
        raw = self._private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return xeddsa_sign_raw(raw, signing_input, os.urandom(RANDOM_SIZE))
