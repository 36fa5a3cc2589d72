"""Signature plumbing shared by every KMS backend.

Hardware and cloud keys answer in their own formats (DER ECDSA, raw ``r||s``, separate
integers, SSH blobs); JOSE wants fixed-width ``R||S``. Everything that converts between
them, picks the JOSE ``alg`` for a public key and hashes a signing input lives here so
every backend does it the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from pystep.errors import KMSError
from pystep.jose.signer import PublicKey

KmsPublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey

_EC_ALGS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
_COORD_SIZE = {"ES256": 32, "ES384": 48, "ES512": 66}
_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "ES256": hashes.SHA256,
    "ES384": hashes.SHA384,
    "ES512": hashes.SHA512,
    "RS256": hashes.SHA256,
}


def alg_for_key(public_key: PublicKey) -> str:
    """The JOSE alg a KMS key signs with: ES256/384/512 by curve, RS256, EdDSA."""
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        alg = _EC_ALGS.get(public_key.curve.name)
        if alg is None:
            raise KMSError(f'unsupported elliptic curve "{public_key.curve.name}"')
        return alg
    if isinstance(public_key, rsa.RSAPublicKey):
        return "RS256"
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return "EdDSA"
    raise KMSError(f"unsupported key type {type(public_key).__name__}")


def hash_for_alg(alg: str) -> hashes.HashAlgorithm | None:
    """The hash the alg signs over; None for EdDSA (which signs the whole input)."""
    factory = _HASHES.get(alg)
    return factory() if factory else None


def hash_name(alg: str) -> str:
    """``SHA256``/``SHA384``/``SHA512`` for an alg (step-kms-plugin ``--alg`` spelling)."""
    h = hash_for_alg(alg)
    if h is None:
        raise KMSError(f"{alg} does not sign a digest")
    return h.name.replace("sha", "SHA")


def digest(alg: str, data: bytes) -> bytes:
    """``data`` hashed with the alg's hash."""
    h = hash_for_alg(alg)
    if h is None:
        raise KMSError(f"{alg} does not sign a digest")
    ctx = hashes.Hash(h)
    ctx.update(data)
    return ctx.finalize()


def coordinate_size(alg: str) -> int:
    """Bytes per coordinate in a JOSE ECDSA signature (32, 48, 66)."""
    try:
        return _COORD_SIZE[alg]
    except KeyError:
        raise KMSError(f"{alg} is not an ECDSA algorithm") from None


def ints_to_raw(r: int, s: int, alg: str) -> bytes:
    """Fixed-width big-endian ``r||s``."""
    size = coordinate_size(alg)
    if r < 0 or s < 0 or r.bit_length() > size * 8 or s.bit_length() > size * 8:
        raise KMSError("malformed ECDSA signature from the KMS")
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def der_to_raw(der: bytes, alg: str) -> bytes:
    """ASN.1 ``ECDSA-Sig-Value`` → JOSE ``R||S``."""
    try:
        r, s = decode_dss_signature(der)
    except ValueError:
        raise KMSError("malformed ECDSA signature from the KMS: not ASN.1 DER") from None
    return ints_to_raw(r, s, alg)


def raw_to_der(raw: bytes) -> bytes:
    """JOSE ``R||S`` (any even width) → ASN.1 DER."""
    if not raw or len(raw) % 2:
        raise KMSError("malformed ECDSA signature: odd length")
    half = len(raw) // 2
    return encode_dss_signature(
        int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
    )


def normalize_raw(raw: bytes, alg: str) -> bytes:
    """A raw ``r||s`` of any even width (e.g. PKCS#11's) re-padded to the JOSE width."""
    if not raw or len(raw) % 2:
        raise KMSError("malformed ECDSA signature from the KMS: odd length")
    half = len(raw) // 2
    return ints_to_raw(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"), alg)


def verify(public_key: PublicKey, alg: str, signing_input: bytes, signature: bytes) -> bool:
    """Check a JOSE signature; backends may use it as a sanity check, tests to verify."""
    try:
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            h = hash_for_alg(alg)
            assert h is not None
            public_key.verify(raw_to_der(signature), signing_input, ec.ECDSA(h))
        elif isinstance(public_key, rsa.RSAPublicKey):
            h = hash_for_alg(alg)
            assert h is not None
            public_key.verify(signature, signing_input, padding.PKCS1v15(), h)
        elif isinstance(public_key, ed25519.Ed25519PublicKey):
            public_key.verify(signature, signing_input)
        else:
            return False
    except (InvalidSignature, KMSError):
        return False
    return True


SigFormat = Literal["raw", "der"]


class KeySigner:
    """The Signer protocol's ``alg`` and ``public_key()`` for a KMS key: the alg follows
    from the public key (:func:`alg_for_key`). Backends subclass it and add ``sign``."""

    def __init__(self, public_key: PublicKey) -> None:
        self._public_key = public_key
        self._alg = alg_for_key(public_key)

    @property
    def alg(self) -> str:
        return self._alg

    def public_key(self) -> PublicKey:
        return self._public_key


class DigestSigner(KeySigner):
    """A Signer over a "sign this" callback, for backends that sign remotely.

    ``sign_fn`` gets the digest (ECDSA/RSA) or the whole signing input (EdDSA) and
    returns the backend's signature; ``ec_format`` says whether its ECDSA answers are
    DER or raw ``r||s`` (any width). RSA and EdDSA answers pass through unchanged.
    """

    def __init__(
        self,
        public_key: PublicKey,
        sign_fn: Callable[[bytes], bytes],
        *,
        ec_format: SigFormat = "der",
    ) -> None:
        super().__init__(public_key)
        self._sign_fn = sign_fn
        self._ec_format = ec_format

    def sign(self, signing_input: bytes) -> bytes:
        if self._alg == "EdDSA":
            return self._sign_fn(signing_input)
        sig = self._sign_fn(digest(self._alg, signing_input))
        if self._alg.startswith("ES"):
            if self._ec_format == "der":
                return der_to_raw(sig, self._alg)
            return normalize_raw(sig, self._alg)
        return sig
