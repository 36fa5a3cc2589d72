"""Nebula certificates and private keys for Nebula tokens.

A Nebula token carries the raw certificate in its ``nebula`` header and is signed with
the host key: X25519 (XEdDSA), or for P-256 networks an ECDSA key (ES256). This module
reads both and checks that they belong together, as step does before minting. The
certificate byte formats live in :mod:`pystep.keys.nebula_wire`.
"""

from __future__ import annotations

import base64
import binascii

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from pystep._files import read_bounded
from pystep.errors import KeyLoadError
from pystep.jose.signer import Signer
from pystep.keys import pem
from pystep.keys.nebula_wire import (
    CERT_BANNER,
    CERT_V2_BANNER,
    Curve,
    NebulaCert,
    NebulaFormatError,
    parse_raw,
)

__all__ = [
    "NebulaCert",
    "check_key_matches",
    "load_nebula_cert",
    "load_nebula_key",
    "load_nebula_private_key",
    "parse_nebula_cert",
]

MAX_FILE_SIZE = 256 * 1024  # a Nebula certificate is at most 64 KiB of DER


# --- files ----------------------------------------------------------------------



def _read_bounded(path: str) -> bytes:
    return read_bounded(path, MAX_FILE_SIZE, error=KeyLoadError)


def first_pem_block(data: bytes) -> tuple[str, bytes] | None:
    """The type and decoded body of the first PEM block, or None (headers refused)."""
    block = pem.first_pem_block(data, label=pem.UPPER_LABEL)
    if block is None:
        return None
    label, body = block.label, block.body
    if b":" in body or b"-" in body:
        return None
    try:
        return label.decode("ascii"), base64.b64decode(
            b"".join(body.split()), validate=True
        )
    except (binascii.Error, ValueError):
        return None


def parse_nebula_cert(data: bytes, path: str = "") -> NebulaCert:
    """Parse a Nebula certificate from PEM (v1 or v2 banner) or raw v1 bytes."""
    name = path or "certificate"
    version = 1
    if data.startswith(b"-----BEGIN"):
        block = first_pem_block(data)
        if block is None or block[0] not in (CERT_BANNER, CERT_V2_BANNER):
            raise KeyLoadError(f"error reading {name}: not a proper nebula certificate")
        version = 2 if block[0] == CERT_V2_BANNER else 1
        data = block[1]
    try:
        cert = parse_raw(data, version)
    except NebulaFormatError as exc:
        raise KeyLoadError(f"error reading {name}: {exc}") from exc
    if not cert.public_key:
        raise KeyLoadError(f"error reading {name}: certificate has no public key")
    return NebulaCert(**{**cert.__dict__, "path": path})


def load_nebula_cert(path: str) -> NebulaCert:
    """Read ``--nebula-cert``: the first PEM block, or the whole file as raw v1 bytes."""
    return parse_nebula_cert(_read_bounded(path), path)


def _public_bytes(key: object) -> tuple[Curve, bytes] | None:
    if isinstance(key, x25519.X25519PublicKey | ed25519.Ed25519PublicKey):
        return "CURVE25519", key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return "P256", key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return None


def check_key_matches(cert: NebulaCert, signer: Signer, path: str | None = None) -> None:
    """Refuse a key that is not the certificate's (``error validating <cert file>: ...``).

    X25519 and Ed25519 keys compare the 32 raw bytes, P-256 keys the uncompressed point.
    """
    name = path or cert.path or "certificate"
    found = _public_bytes(signer.public_key())
    if found is None:
        raise KeyLoadError(f"error validating {name}: key content is not a valid nebula key")
    curve, public = found
    if curve != cert.curve:
        raise KeyLoadError(f"error validating {name}: public key does not match private key curve")
    if public != cert.public_key:
        raise KeyLoadError(
            f"error validating {name}: public key in cert and private key supplied don't match"
        )


# --- keys -----------------------------------------------------------------------

NebulaPrivateKey = x25519.X25519PrivateKey | ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey


def _nebula_block_key(path: str, kind: str, body: bytes) -> NebulaPrivateKey | None:
    if kind == "NEBULA X25519 PRIVATE KEY":
        if len(body) != 32:
            raise KeyLoadError(f"error reading {path}: invalid X25519 private key")
        return x25519.X25519PrivateKey.from_private_bytes(body)
    if kind == "NEBULA ED25519 PRIVATE KEY":
        # seed || public key, as Go's ed25519.PrivateKey
        key = ed25519.Ed25519PrivateKey.from_private_bytes(body[:32]) if len(body) == 64 else None
        if key is None or key.public_key().public_bytes_raw() != body[32:]:
            raise KeyLoadError(f"error reading {path}: invalid Ed25519 private key")
        return key
    if kind in ("NEBULA P256 PRIVATE KEY", "NEBULA ECDSA P256 PRIVATE KEY"):
        scalar = int.from_bytes(body, "big")
        if len(body) != 32 or not 0 < scalar < _P256_ORDER:
            raise KeyLoadError(f"error reading {path}: invalid P256 private key")
        return ec.derive_private_key(scalar, ec.SECP256R1())
    if kind.startswith("NEBULA ") and "ENCRYPTED" in kind:
        raise KeyLoadError(f"error reading {path}: encrypted nebula keys are not supported")
    return None


_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def load_nebula_private_key(path: str, password: bytes | None = None) -> NebulaPrivateKey:
    """Read ``--nebula-key``: a Nebula PEM key, or an ordinary PEM EC P-256, Ed25519 or
    X25519 key (``password`` decrypts an encrypted PKCS#8/SEC1 one)."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    data = _read_bounded(path)
    block = first_pem_block(data)
    if block is not None:
        key = _nebula_block_key(path, *block)
        if key is not None:
            return key
    try:
        loaded = load_pem_private_key(data, password)
    except TypeError as exc:  # encrypted without a password, or a password for a plain key
        raise KeyLoadError(f"error reading {path}: {exc}") from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise KeyLoadError(f"error reading {path}: unsupported format") from exc
    if isinstance(loaded, x25519.X25519PrivateKey | ed25519.Ed25519PrivateKey):
        return loaded
    if isinstance(loaded, ec.EllipticCurvePrivateKey) and isinstance(loaded.curve, ec.SECP256R1):
        return loaded
    raise KeyLoadError(f"error reading {path}: key content is not a valid nebula key")


def load_nebula_key(path: str, password: bytes | None = None) -> Signer:
    """A Signer for ``--nebula-key``: XEdDSA for X25519, EdDSA for Ed25519, ES256 for P-256."""
    key = load_nebula_private_key(path, password)
    if isinstance(key, x25519.X25519PrivateKey):
        from pystep.keys.xeddsa import XEdDSASigner

        return XEdDSASigner(key)
    # keys/signers.py is written on another branch; the ignores go once it is merged.
    from pystep.keys.signers import (  # type: ignore[import-not-found,unused-ignore]
        signer_from_private_key,
    )

    signer: Signer = signer_from_private_key(key)
    return signer
