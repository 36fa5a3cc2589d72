"""KeySigner: JOSE signature shapes, verified with cryptography directly."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils, x25519

from pystep.errors import KeyLoadError
from pystep.jose.signer import Signer
from pystep.keys.signers import KeySigner, signer_from_private_key

MSG = b"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0"


@pytest.mark.parametrize(
    "curve, alg, size, hash_cls",
    [(ec.SECP256R1(), "ES256", 32, hashes.SHA256), (ec.SECP384R1(), "ES384", 48, hashes.SHA384),
     (ec.SECP521R1(), "ES512", 66, hashes.SHA512)],
)
def test_ecdsa_raw_r_s(curve: ec.EllipticCurve, alg: str, size: int, hash_cls: Any) -> None:
    key = ec.generate_private_key(curve)
    signer = signer_from_private_key(key)
    assert isinstance(signer, Signer) and signer.alg == alg
    for _ in range(20):  # short R or S values must still be padded to full width
        sig = signer.sign(MSG)
        assert len(sig) == 2 * size
        r, s = int.from_bytes(sig[:size], "big"), int.from_bytes(sig[size:], "big")
        key.public_key().verify(utils.encode_dss_signature(r, s), MSG, ec.ECDSA(hash_cls()))


@pytest.mark.parametrize("alg", ["RS256", "RS384", "RS512", "PS256", "PS512"])
def test_rsa(alg: str) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signer = KeySigner(key, alg)
    hash_cls: Any = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}[alg[2:]]
    pad: padding.AsymmetricPadding = (
        padding.PKCS1v15() if alg.startswith("RS")
        else padding.PSS(mgf=padding.MGF1(hash_cls()), salt_length=hash_cls().digest_size))
    key.public_key().verify(signer.sign(MSG), MSG, pad, hash_cls())
    assert signer_from_private_key(key).alg == "RS256"


def test_ed25519() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    signer = signer_from_private_key(key)
    assert signer.alg == "EdDSA"
    key.public_key().verify(signer.sign(MSG), MSG)
    assert signer.public_key() == key.public_key()


def test_alg_must_fit_key() -> None:
    with pytest.raises(KeyLoadError, match="invalid algorithm 'ES256'"):
        KeySigner(ec.generate_private_key(ec.SECP384R1()), "ES256")
    with pytest.raises(KeyLoadError, match="invalid algorithm 'EdDSA'"):
        KeySigner(rsa.generate_private_key(public_exponent=65537, key_size=2048), "EdDSA")
    with pytest.raises(KeyLoadError, match="unsupported key type"):
        KeySigner(x25519.X25519PrivateKey.generate(), "XEdDSA")


def test_x25519_goes_to_the_xeddsa_module() -> None:
    key = x25519.X25519PrivateKey.generate()
    try:
        import pystep.keys.xeddsa  # type: ignore[import-not-found,unused-ignore]  # noqa: F401
    except ImportError:
        with pytest.raises(KeyLoadError, match="XEdDSA signing is not available"):
            signer_from_private_key(key)
    else:
        assert signer_from_private_key(key).alg == "XEdDSA"
    with pytest.raises(KeyLoadError, match="invalid algorithm 'EdDSA'"):
        signer_from_private_key(key, "EdDSA")
