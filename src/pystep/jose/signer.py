"""The one signing interface every token path uses.

A signer exposes its public key and JOSE ``alg`` and turns a JWS signing input into the
JOSE signature bytes (raw ``R||S`` for ECDSA, PKCS#1 v1.5 for RS256, 64 bytes for EdDSA
and XEdDSA). File keys, KMS keys, ssh-agent keys and XEdDSA all implement it.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa, x25519

PublicKey = (
    ec.EllipticCurvePublicKey
    | rsa.RSAPublicKey
    | ed25519.Ed25519PublicKey
    | x25519.X25519PublicKey
)


@runtime_checkable
class Signer(Protocol):
    """Anything that can sign a JWS."""

    @property
    def alg(self) -> str:
        """The JWS ``alg`` (ES256, ES384, ES512, RS256, EdDSA, XEdDSA)."""
        ...

    def public_key(self) -> PublicKey:
        """The public half, used for the RFC 7638 kid and key/certificate matching."""
        ...

    def sign(self, signing_input: bytes) -> bytes:
        """Sign ``base64url(header) + '.' + base64url(payload)``; return JOSE signature bytes."""
        ...
