"""JWK import/export, RFC 7638 thumbprints and the JWS ``alg`` a key implies.

Keys are `cryptography` objects throughout; JWKs are plain dicts. Malformed JWKs raise
:class:`~pystep.errors.KeyLoadError` with a one-line message that never shows key material.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa, x25519

from pystep.errors import KeyLoadError
from pystep.jose.encoding import b64url_decode, b64url_encode, go_json_dumps
from pystep.jose.signer import PublicKey

PrivateKey = (
    ec.EllipticCurvePrivateKey
    | rsa.RSAPrivateKey
    | ed25519.Ed25519PrivateKey
    | x25519.X25519PrivateKey
)

_CURVES: dict[str, tuple[type[ec.EllipticCurve], int, str]] = {
    # JWK crv -> (cryptography curve, coordinate size in bytes, JWS alg)
    "P-256": (ec.SECP256R1, 32, "ES256"),
    "P-384": (ec.SECP384R1, 48, "ES384"),
    "P-521": (ec.SECP521R1, 66, "ES512"),
}
_CURVE_BY_NAME = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}


_B64URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")


def b64url_decode_strict(text: str) -> bytes:
    """base64url that also refuses characters outside the alphabet (ValueError), which
    :func:`pystep.jose.encoding.b64url_decode` silently drops."""
    if not _B64URL.fullmatch(text):
        raise ValueError("invalid base64url")
    return b64url_decode(text)


def _int_to_b64(value: int, size: int | None = None) -> str:
    length = size if size is not None else max(1, (value.bit_length() + 7) // 8)
    return b64url_encode(value.to_bytes(length, "big"))


def _b64_field(jwk: Mapping[str, Any], name: str) -> bytes:
    value = jwk.get(name)
    if not isinstance(value, str) or not value:
        raise KeyLoadError(f"invalid JWK: missing or invalid '{name}'")
    try:
        return b64url_decode_strict(value)
    except ValueError:
        raise KeyLoadError(f"invalid JWK: '{name}' is not valid base64url") from None


def _int_field(jwk: Mapping[str, Any], name: str) -> int:
    return int.from_bytes(_b64_field(jwk, name), "big")


def _as_public(key: PublicKey | PrivateKey) -> PublicKey:
    if isinstance(
        key,
        ec.EllipticCurvePrivateKey
        | rsa.RSAPrivateKey
        | ed25519.Ed25519PrivateKey
        | x25519.X25519PrivateKey,
    ):
        return key.public_key()
    return key


def _ec_curve_name(key: ec.EllipticCurvePublicKey) -> str:
    crv = _CURVE_BY_NAME.get(key.curve.name)
    if crv is None:
        raise KeyLoadError(f'unsupported elliptic curve "{key.curve.name}"')
    return crv


def public_jwk(public_key: PublicKey | PrivateKey) -> dict[str, str]:
    """The public JWK members (kty, crv, x, y, n, e) of a key; private keys give their
    public half."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    key = _as_public(public_key)
    if isinstance(key, ec.EllipticCurvePublicKey):
        crv = _ec_curve_name(key)
        size = _CURVES[crv][1]
        nums = key.public_numbers()
        return {
            "kty": "EC",
            "crv": crv,
            "x": _int_to_b64(nums.x, size),
            "y": _int_to_b64(nums.y, size),
        }
    if isinstance(key, rsa.RSAPublicKey):
        rnums = key.public_numbers()
        return {"kty": "RSA", "n": _int_to_b64(rnums.n), "e": _int_to_b64(rnums.e)}
    if isinstance(key, ed25519.Ed25519PublicKey | x25519.X25519PublicKey):
        crv = "Ed25519" if isinstance(key, ed25519.Ed25519PublicKey) else "X25519"
        raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return {"kty": "OKP", "crv": crv, "x": b64url_encode(raw)}
    raise KeyLoadError("unsupported key type")


_THUMBPRINT_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n"),
                       "OKP": ("crv", "kty", "x")}


def thumbprint(public_key: PublicKey | PrivateKey) -> str:
    """RFC 7638 SHA-256 thumbprint, base64url without padding (step's default ``kid``)."""
    jwk = public_jwk(public_key)
    members = {name: jwk[name] for name in _THUMBPRINT_MEMBERS[jwk["kty"]]}
    import hashlib

    return b64url_encode(hashlib.sha256(go_json_dumps(members)).digest())


def alg_for_key(key: PublicKey | PrivateKey) -> str:
    """The JWS alg step picks for a key: ES256/384/512 by curve, RS256, EdDSA, XEdDSA."""
    pub = _as_public(key)
    if isinstance(pub, ec.EllipticCurvePublicKey):
        return _CURVES[_ec_curve_name(pub)][2]
    if isinstance(pub, rsa.RSAPublicKey):
        return "RS256"
    if isinstance(pub, ed25519.Ed25519PublicKey):
        return "EdDSA"
    if isinstance(pub, x25519.X25519PublicKey):
        return "XEdDSA"
    raise KeyLoadError("unsupported key type")


def _kty(jwk: Mapping[str, Any]) -> str:
    kty = jwk.get("kty")
    if not isinstance(kty, str) or not kty:
        raise KeyLoadError("invalid JWK: missing 'kty'")
    return kty


def _ec_public_numbers(jwk: Mapping[str, Any]) -> tuple[ec.EllipticCurvePublicNumbers, int]:
    crv = jwk.get("crv")
    if crv not in _CURVES:
        raise KeyLoadError(f'unsupported elliptic curve "{crv}"')
    curve_cls, size, _ = _CURVES[str(crv)]
    x, y = _b64_field(jwk, "x"), _b64_field(jwk, "y")
    if len(x) != size or len(y) != size:
        raise KeyLoadError(f"invalid JWK: wrong coordinate size for {crv}")
    nums = ec.EllipticCurvePublicNumbers(
        int.from_bytes(x, "big"), int.from_bytes(y, "big"), curve_cls()
    )
    return nums, size


def _okp_crv(jwk: Mapping[str, Any]) -> str:
    crv = jwk.get("crv")
    if crv not in ("Ed25519", "X25519"):
        raise KeyLoadError(f'unsupported OKP curve "{crv}"')
    return str(crv)


def public_key_from_jwk(jwk: Mapping[str, Any]) -> PublicKey:
    """Import the public half of a JWK (private members, if any, are ignored)."""
    kty = _kty(jwk)
    try:
        if kty == "EC":
            nums, _ = _ec_public_numbers(jwk)
            return nums.public_key()
        if kty == "RSA":
            return rsa.RSAPublicNumbers(_int_field(jwk, "e"), _rsa_modulus(jwk)).public_key()
        if kty == "OKP":
            crv = _okp_crv(jwk)
            x = _b64_field(jwk, "x")
            if crv == "Ed25519":
                return ed25519.Ed25519PublicKey.from_public_bytes(x)
            return x25519.X25519PublicKey.from_public_bytes(x)
    except ValueError:
        raise KeyLoadError(f"invalid JWK: not a valid {kty} public key") from None
    raise KeyLoadError(f'unsupported JWK key type "{kty}"')


MAX_RSA_BITS = 16384
"""Larger moduli are refused before any arithmetic (recovering p and q from n, e and d
costs cubic time in the size of n)."""


def _rsa_modulus(jwk: Mapping[str, Any]) -> int:
    n = _int_field(jwk, "n")
    if n.bit_length() > MAX_RSA_BITS:
        raise KeyLoadError(
            f"invalid JWK: RSA keys larger than {MAX_RSA_BITS} bits are not supported"
        )
    return n


def _rsa_private(jwk: Mapping[str, Any]) -> rsa.RSAPrivateKey:
    n, e, d = _rsa_modulus(jwk), _int_field(jwk, "e"), _int_field(jwk, "d")
    if e.bit_length() > n.bit_length() or d.bit_length() > n.bit_length():
        raise KeyLoadError("invalid JWK: not a valid RSA private key")
    if "p" in jwk and "q" in jwk:
        p, q = _int_field(jwk, "p"), _int_field(jwk, "q")
    else:
        p, q = rsa.rsa_recover_prime_factors(n, e, d)
    # go-jose writes only n, e, d, p, q: compute the CRT members it leaves out.
    dp = _int_field(jwk, "dp") if "dp" in jwk else rsa.rsa_crt_dmp1(d, p)
    dq = _int_field(jwk, "dq") if "dq" in jwk else rsa.rsa_crt_dmq1(d, q)
    qi = _int_field(jwk, "qi") if "qi" in jwk else rsa.rsa_crt_iqmp(p, q)
    public = rsa.RSAPublicNumbers(e, n)
    return rsa.RSAPrivateNumbers(p, q, d, dp, dq, qi, public).private_key()


def private_key_from_jwk(jwk: Mapping[str, Any]) -> PrivateKey:
    """Import a private JWK: EC P-256/384/521, RSA (CRT members backfilled when absent),
    OKP Ed25519 and X25519. A JWK without ``d`` raises KeyLoadError."""
    kty = _kty(jwk)
    if kty in ("EC", "RSA", "OKP") and "d" not in jwk:
        raise KeyLoadError("invalid JWK: the key does not contain a private key")
    try:
        if kty == "EC":
            nums, size = _ec_public_numbers(jwk)
            d = _b64_field(jwk, "d")
            if len(d) != size:
                raise KeyLoadError("invalid JWK: wrong private key size")
            return ec.EllipticCurvePrivateNumbers(int.from_bytes(d, "big"), nums).private_key()
        if kty == "RSA":
            return _rsa_private(jwk)
        if kty == "OKP":
            crv = _okp_crv(jwk)
            raw = _b64_field(jwk, "d")
            okp: ed25519.Ed25519PrivateKey | x25519.X25519PrivateKey
            if crv == "Ed25519":
                okp = ed25519.Ed25519PrivateKey.from_private_bytes(raw)
            else:
                okp = x25519.X25519PrivateKey.from_private_bytes(raw)
            if "x" in jwk and public_jwk(okp)["x"] != jwk["x"]:
                raise KeyLoadError("invalid JWK: public and private key do not match")
            return okp
    except ValueError:
        raise KeyLoadError(f"invalid JWK: not a valid {kty} private key") from None
    raise KeyLoadError(f'unsupported JWK key type "{kty}"')
