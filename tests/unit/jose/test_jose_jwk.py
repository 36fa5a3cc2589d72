"""JWK import/export and RFC 7638 thumbprints, checked against step's kids and jwcrypto."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa, x25519
from jwcrypto import jwk as jwc_jwk

from pystep.errors import KeyLoadError
from pystep.jose.jwk import (
    alg_for_key,
    private_key_from_jwk,
    public_jwk,
    public_key_from_jwk,
    thumbprint,
)

KEYS = Path(__file__).parents[2] / "fixtures" / "step-v0.19" / "keys"
MANIFEST = json.loads((KEYS / "manifest.json").read_text())["keys"]
JWK_KEYS = [k for k in MANIFEST if k["id"].startswith("jwk-")]
PLAIN_JWK_KEYS = [k for k in JWK_KEYS if not k["encrypted"]]


def _load(rel: str) -> dict[str, Any]:
    return json.loads((KEYS.parent / rel).read_text())  # type: ignore[no-any-return]


@pytest.mark.parametrize("entry", JWK_KEYS, ids=lambda k: k["id"])
def test_thumbprint_of_step_public_jwk_equals_step_kid(entry: dict[str, Any]) -> None:
    pub = public_key_from_jwk(_load(entry["files"]["public"]))
    assert thumbprint(pub) == entry["thumbprint"] == entry["kid"]
    assert alg_for_key(pub) == entry["alg"]


@pytest.mark.parametrize("entry", [k for k in MANIFEST if "public_jwk" in k["files"]],
                         ids=lambda k: k["id"])
def test_thumbprint_of_pem_public_key_equals_step(entry: dict[str, Any]) -> None:
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    pub = load_pem_public_key((KEYS.parent / entry["files"]["public"]).read_bytes())
    assert thumbprint(pub) == entry["thumbprint"]  # type: ignore[arg-type]
    # The JWK step made from the same PEM has the same public members.
    step_jwk = _load(entry["files"]["public_jwk"])
    ours = public_jwk(pub)  # type: ignore[arg-type]
    assert {k: step_jwk[k] for k in ours} == ours


@pytest.mark.parametrize("entry", PLAIN_JWK_KEYS, ids=lambda k: k["id"])
def test_private_jwk_import_matches_public_half(entry: dict[str, Any]) -> None:
    priv = private_key_from_jwk(_load(entry["files"]["private"]))
    assert thumbprint(priv) == entry["thumbprint"]
    assert public_jwk(priv) == public_jwk(public_key_from_jwk(_load(entry["files"]["public"])))


def _fresh_keys() -> list[Any]:
    return [
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP384R1()),
        ec.generate_private_key(ec.SECP521R1()),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ed25519.Ed25519PrivateKey.generate(),
        x25519.X25519PrivateKey.generate(),
    ]


@pytest.mark.parametrize("key", _fresh_keys(), ids=["p256", "p384", "p521", "rsa", "ed25519",
                                                    "x25519"])
def test_thumbprint_and_jwk_match_jwcrypto(key: Any) -> None:
    from cryptography.hazmat.primitives import serialization

    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    other = jwc_jwk.JWK.from_pem(pem)
    assert thumbprint(key) == other.thumbprint()
    assert thumbprint(key.public_key()) == other.thumbprint()
    exported = json.loads(other.export_private())
    assert public_jwk(private_key_from_jwk(exported)) == public_jwk(key)


def test_x25519_thumbprint_canonical_json() -> None:
    import base64
    import hashlib

    key = x25519.X25519PrivateKey.generate().public_key()
    x = public_jwk(key)["x"]
    canonical = f'{{"crv":"X25519","kty":"OKP","x":"{x}"}}'
    digest = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=")
    assert thumbprint(key) == digest.decode()
    assert alg_for_key(key) == "XEdDSA"


def test_rsa_backfills_missing_crt_members() -> None:
    full = _load("keys/jwk-rsa-2048-plain.key.json")
    reference: Any = private_key_from_jwk(full).private_numbers()  # type: ignore[union-attr]
    go_jose_style = {k: full[k] for k in ("kty", "n", "e", "d", "p", "q")}
    numbers = private_key_from_jwk(go_jose_style).private_numbers()  # type: ignore[union-attr]
    assert numbers == reference
    only_d = {k: full[k] for k in ("kty", "n", "e", "d")}
    recovered: Any = private_key_from_jwk(only_d).private_numbers()  # type: ignore[union-attr]
    assert {recovered.p, recovered.q} == {reference.p, reference.q}


def test_alg_for_key_by_type() -> None:
    keys = _fresh_keys()
    assert [alg_for_key(k) for k in keys] == ["ES256", "ES384", "ES512", "RS256", "EdDSA",
                                              "XEdDSA"]
    with pytest.raises(KeyLoadError, match="unsupported key type"):
        alg_for_key(ed448.Ed448PrivateKey.generate())  # type: ignore[arg-type]
    with pytest.raises(KeyLoadError, match='unsupported elliptic curve "secp256k1"'):
        alg_for_key(ec.generate_private_key(ec.SECP256K1()))


@pytest.mark.parametrize(
    "bad, message",
    [
        ({}, "missing 'kty'"),
        ({"kty": "oct", "k": "AAAA"}, 'unsupported JWK key type "oct"'),
        ({"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA", "d": "AAAA"},
         "wrong coordinate size"),
        ({"kty": "EC", "crv": "P-999", "x": "AA", "y": "AA", "d": "AA"},
         "unsupported elliptic curve"),
        ({"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}, "does not contain a private key"),
        ({"kty": "OKP", "crv": "Ed448", "x": "AA", "d": "AA"}, "unsupported OKP curve"),
        ({"kty": "OKP", "crv": "Ed25519", "d": "AAAAA"}, "not valid base64url"),
        ({"kty": "OKP", "crv": "Ed25519", "d": "AAAA"}, "not a valid OKP private key"),
    ],
)
def test_private_key_from_bad_jwk(bad: dict[str, str], message: str) -> None:
    with pytest.raises(KeyLoadError, match=message):
        private_key_from_jwk(bad)


def test_private_okp_with_mismatched_x_is_refused() -> None:
    jwk = _load("keys/jwk-okp-ed25519-plain.key.json")
    other = public_jwk(ed25519.Ed25519PrivateKey.generate())
    with pytest.raises(KeyLoadError, match="do not match"):
        private_key_from_jwk({**jwk, "x": other["x"]})


def test_ec_point_not_on_curve_is_refused() -> None:
    jwk = _load("keys/jwk-ec-p256-plain.pub.json")
    y = bytearray(jwk["y"].encode())
    y[5] = ord("A") if y[5] != ord("A") else ord("B")
    with pytest.raises(KeyLoadError, match="not a valid EC public key"):
        public_key_from_jwk({**jwk, "y": y.decode()})


def _b64int(value: int) -> str:
    import base64

    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize("bits", [16385, 65536])
def test_huge_rsa_jwk_is_refused_before_any_arithmetic(bits: int) -> None:
    import random
    import time

    rng = random.Random(bits)
    n = rng.getrandbits(bits) | (1 << (bits - 1)) | 1
    d = rng.getrandbits(bits - 8) | 1
    jwk = {"kty": "RSA", "n": _b64int(n), "e": "AQAB", "d": _b64int(d)}
    start = time.perf_counter()
    for load in (private_key_from_jwk, public_key_from_jwk):
        with pytest.raises(KeyLoadError) as err:
            load(jwk)
        assert str(err.value) == "invalid JWK: RSA keys larger than 16384 bits are not supported"
    assert time.perf_counter() - start < 0.5


def test_rsa_jwk_with_oversized_d_is_refused() -> None:
    full = _load("keys/jwk-rsa-2048-plain.key.json")
    bad = {"kty": "RSA", "n": full["n"], "e": full["e"], "d": _b64int(1 << 3000)}
    with pytest.raises(KeyLoadError, match="not a valid RSA private key"):
        private_key_from_jwk(bad)
