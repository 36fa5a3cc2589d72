"""Signers over in-memory `cryptography` private keys (file keys, decrypted JWKs)."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils

from pystep.errors import KeyLoadError
from pystep.jose.jwk import PrivateKey, alg_for_key
from pystep.jose.signer import PublicKey, Signer

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
_EC_ALGS = {"ES256": ("secp256r1", 32), "ES384": ("secp384r1", 48), "ES512": ("secp521r1", 66)}
_RSA_ALGS = {f"{p}S{bits}" for p in "RP" for bits in _HASHES}


class KeySigner:
    """A :class:`~pystep.jose.signer.Signer` over an EC, RSA or Ed25519 private key.

    ECDSA signatures come out as fixed-width raw ``R||S``; RSA as PKCS#1 v1.5 (RS*) or
    PSS (PS*); Ed25519 as EdDSA. Construction only checks that ``alg`` fits the key.
    """

    def __init__(self, key: PrivateKey, alg: str) -> None:
        if isinstance(key, ec.EllipticCurvePrivateKey):
            fit = alg in _EC_ALGS and _EC_ALGS[alg][0] == key.curve.name
        elif isinstance(key, rsa.RSAPrivateKey):
            fit = alg in _RSA_ALGS
        elif isinstance(key, ed25519.Ed25519PrivateKey):
            fit = alg == "EdDSA"
        else:
            raise KeyLoadError("unsupported key type")
        if not fit:
            raise KeyLoadError(f"invalid algorithm '{alg}' for this key")
        self._key = key
        self._alg = alg
        self._hash: type[hashes.HashAlgorithm] | None = _HASHES.get(alg[2:])
        # Built once: every token of a batch signs with the same algorithm object.
        self._ec: tuple[ec.EllipticCurvePrivateKey, ec.ECDSA, int] | None = None
        if isinstance(key, ec.EllipticCurvePrivateKey) and self._hash is not None:
            self._ec = (key, ec.ECDSA(self._hash()), _EC_ALGS[alg][1])

    @property
    def alg(self) -> str:
        return self._alg

    @property
    def private_key(self) -> PrivateKey:
        return self._key

    def public_key(self) -> PublicKey:
        return self._key.public_key()

    def sign(self, signing_input: bytes) -> bytes:
        if self._ec is not None:
            ec_key, ecdsa, size = self._ec
            r, s = utils.decode_dss_signature(ec_key.sign(signing_input, ecdsa))
            return r.to_bytes(size, "big") + s.to_bytes(size, "big")
        key = self._key
        if isinstance(key, ed25519.Ed25519PrivateKey):
            return key.sign(signing_input)
        assert self._hash is not None
        if isinstance(key, rsa.RSAPrivateKey):
            pad: padding.AsymmetricPadding
            if self._alg.startswith("PS"):
                pad = padding.PSS(mgf=padding.MGF1(self._hash()),
                                  salt_length=padding.PSS.DIGEST_LENGTH)
            else:
                pad = padding.PKCS1v15()
            return key.sign(signing_input, pad, self._hash())
        raise KeyLoadError("unsupported key type")  # pragma: no cover


def signer_from_private_key(key: PrivateKey, alg: str | None = None) -> Signer:
    """A Signer for ``key``; ``alg`` defaults to step's choice for the key type.

    X25519 keys sign with XEdDSA, which lives in :mod:`pystep.keys.xeddsa`
    (``XEdDSASigner(key)``); without that module they raise KeyLoadError.
    """
    from cryptography.hazmat.primitives.asymmetric import x25519

    if isinstance(key, x25519.X25519PrivateKey):
        if alg not in (None, "XEdDSA"):
            raise KeyLoadError(f"invalid algorithm '{alg}' for this key")
        try:
            from pystep.keys import xeddsa  # type: ignore[attr-defined,unused-ignore]
        except ImportError:
            raise KeyLoadError("XEdDSA signing is not available") from None
        signer: Signer = xeddsa.XEdDSASigner(key)
        return signer
    return KeySigner(key, alg or alg_for_key(key))
