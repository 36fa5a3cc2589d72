"""Compact JWS: sign over any :class:`~pystep.jose.signer.Signer`, decode, verify.

Verification goes through :data:`VERIFIERS`, a registry of ``alg -> verifier``; modules
that add algorithms (XEdDSA) register themselves with :func:`register_verifier`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils

from pystep import _json
from pystep.errors import InputError
from pystep.jose.encoding import b64url_encode, go_json_dumps
from pystep.jose.jwk import b64url_decode_strict
from pystep.jose.signer import PublicKey, Signer

MAX_TOKEN_SIZE = 1 << 20  # step-ca tokens with x5c chains are a few KiB

Verifier = Callable[[PublicKey, bytes, bytes], bool]
"""``verifier(public_key, signing_input, signature) -> bool``; False on any mismatch."""


class Decoded(NamedTuple):
    """A parsed JWS: its protected header, JSON payload, and what the signature covers."""

    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes


def encode_header(header: Mapping[str, Any], signer: Signer) -> str:
    """The encoded protected header (base64url of Go-style JSON) ``sign_compact`` writes:
    ``alg`` from the signer, ``typ`` defaulting to ``JWT``."""
    full = dict(header)
    full["alg"] = signer.alg
    full.setdefault("typ", "JWT")
    return b64url_encode(go_json_dumps(full))


def sign_compact(header: Mapping[str, Any], claims: Mapping[str, Any], signer: Signer) -> str:
    """Sign ``claims`` as a compact JWS. ``alg`` always comes from the signer; ``typ``
    defaults to ``JWT``. Header and payload are serialised with sorted keys, like go-jose."""
    return sign_with_header(encode_header(header, signer), claims, signer)


def sign_with_header(protected: str, claims: Mapping[str, Any], signer: Signer) -> str:
    """Like :func:`sign_compact` with the header already encoded by :func:`encode_header`
    (minters encode their constant header once, not once per token)."""
    signing_input = protected + "." + b64url_encode(
        go_json_dumps(claims if isinstance(claims, dict) else dict(claims))
    )
    signature = signer.sign(signing_input.encode("ascii"))
    return signing_input + "." + b64url_encode(signature)


class CompactSigner:
    """Signs many claim sets under one protected header, encoded once."""

    __slots__ = ("protected", "signer")

    def __init__(self, header: Mapping[str, Any], signer: Signer) -> None:
        self.signer = signer
        self.protected = encode_header(header, signer)

    def sign(self, claims: Mapping[str, Any]) -> str:
        return sign_with_header(self.protected, claims, self.signer)


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = _json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InputError(f"error parsing token: {what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise InputError(f"error parsing token: {what} is not a JSON object")
    return value


def _b64(part: Any, what: str) -> bytes:
    if not isinstance(part, str):
        raise InputError(f"error parsing token: missing {what}")
    try:
        return b64url_decode_strict(part)
    except ValueError:
        raise InputError(f"error parsing token: {what} is not valid base64url") from None


def _from_json_serialization(text: str) -> tuple[str, str, str]:
    """(protected, payload, signature) segments of a JWS JSON serialization with one
    signature, as go-jose's ParseSigned accepts it."""
    obj = _json_object(text.encode("utf-8"), "JWS JSON serialization")
    sigs = obj.get("signatures")
    if sigs is not None:
        if not isinstance(sigs, list) or len(sigs) != 1 or not isinstance(sigs[0], dict):
            raise InputError("error parsing token: exactly one signature is supported")
        entry: dict[str, Any] = sigs[0]
    else:
        entry = obj
    protected, payload, signature = (
        entry.get("protected"),
        obj.get("payload"),
        entry.get("signature"),
    )
    if not all(isinstance(v, str) for v in (protected, payload, signature)):
        raise InputError("error parsing token: incomplete JWS JSON serialization")
    return str(protected), str(payload), str(signature)


def decode_compact(token: str | bytes) -> Decoded:
    """Parse a compact JWS (or its JSON serialization) without verifying it."""
    if isinstance(token, bytes):
        try:
            token = token.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError("error parsing token: not valid UTF-8") from None
    if len(token) > MAX_TOKEN_SIZE:
        raise InputError("error parsing token: token is too large")
    token = token.strip()
    if token.startswith("{"):
        protected, payload, signature = _from_json_serialization(token)
    else:
        parts = token.split(".")
        if len(parts) != 3:
            raise InputError("error parsing token: compact JWS format must have three parts")
        protected, payload, signature = parts
    header = _json_object(_b64(protected, "header"), "header")
    claims = _json_object(_b64(payload, "payload"), "payload")
    return Decoded(
        header=header,
        claims=claims,
        signing_input=f"{protected}.{payload}".encode("ascii", errors="replace"),
        signature=_b64(signature, "signature"),
    )


_EC_ALGS = {"ES256": (hashes.SHA256, 32, "secp256r1"), "ES384": (hashes.SHA384, 48, "secp384r1"),
            "ES512": (hashes.SHA512, 66, "secp521r1")}
_RSA_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}


def _ecdsa_verifier(alg: str) -> Verifier:
    hash_cls, size, curve = _EC_ALGS[alg]

    def verify(key: PublicKey, signing_input: bytes, signature: bytes) -> bool:
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != curve:
            return False
        if len(signature) != 2 * size:
            return False
        r = int.from_bytes(signature[:size], "big")
        s = int.from_bytes(signature[size:], "big")
        try:
            key.verify(utils.encode_dss_signature(r, s), signing_input, ec.ECDSA(hash_cls()))
        except InvalidSignature:
            return False
        return True

    return verify


def _rsa_verifier(alg: str) -> Verifier:
    hash_cls = _RSA_HASHES[alg[2:]]
    pss = alg.startswith("PS")

    def verify(key: PublicKey, signing_input: bytes, signature: bytes) -> bool:
        if not isinstance(key, rsa.RSAPublicKey):
            return False
        pad: padding.AsymmetricPadding
        if pss:
            pad = padding.PSS(mgf=padding.MGF1(hash_cls()), salt_length=padding.PSS.DIGEST_LENGTH)
        else:
            pad = padding.PKCS1v15()
        try:
            key.verify(signature, signing_input, pad, hash_cls())
        except InvalidSignature:
            return False
        return True

    return verify


def _eddsa_verify(key: PublicKey, signing_input: bytes, signature: bytes) -> bool:
    if not isinstance(key, ed25519.Ed25519PublicKey):
        return False
    try:
        key.verify(signature, signing_input)
    except InvalidSignature:
        return False
    return True


VERIFIERS: dict[str, Verifier] = {
    **{alg: _ecdsa_verifier(alg) for alg in _EC_ALGS},
    **{f"{p}S{bits}": _rsa_verifier(f"{p}S{bits}") for p in "RP" for bits in _RSA_HASHES},
    "EdDSA": _eddsa_verify,
}


def register_verifier(alg: str, verifier: Verifier) -> None:
    """Add (or replace) the verifier for ``alg``; used by the XEdDSA module."""
    VERIFIERS[alg] = verifier


def verify_signature(decoded: Decoded, public_key: PublicKey, alg: str) -> bool:
    """True if ``decoded`` carries a valid ``alg`` signature by ``public_key``.

    The caller chooses ``alg`` (normally the provisioner's); a header ``alg`` that differs
    is refused, so a token cannot pick a weaker algorithm. Unknown algs raise InputError.
    """
    verifier = VERIFIERS.get(alg)
    if verifier is None:
        raise InputError(f"unsupported signature algorithm '{alg}'")
    if decoded.header.get("alg") != alg:
        return False
    return verifier(public_key, decoded.signing_input, decoded.signature)
