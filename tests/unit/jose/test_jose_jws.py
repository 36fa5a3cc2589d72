"""Compact JWS: our tokens verify under jwcrypto, step's tokens verify under ours."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwcrypto import jwk as jwc_jwk
from jwcrypto import jws as jwc_jws

from pystep.errors import InputError
from pystep.jose.encoding import b64url_decode, b64url_encode
from pystep.jose.jwk import public_key_from_jwk
from pystep.jose.jws import VERIFIERS, decode_compact, sign_compact, verify_signature
from pystep.keys.signers import KeySigner

FIXTURES = Path(__file__).parents[2] / "fixtures" / "step-v0.19"
PROVISIONERS = json.loads((FIXTURES / "pki" / "ca.json").read_text())["authority"][
    "provisioners"
]
KEYS_BY_KID = {p["key"]["kid"]: p["key"] for p in PROVISIONERS if p.get("key")}
# Tokens signed by a JWK provisioner key (other kinds are checked by their own modules).
TOKENS = sorted(
    p
    for p in (FIXTURES / "tokens").glob("*.json")
    if json.loads(p.read_text()).get("header", {}).get("kid") in KEYS_BY_KID
)

_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
CASES = [
    ("ES256", ec.generate_private_key(ec.SECP256R1())),
    ("ES384", ec.generate_private_key(ec.SECP384R1())),
    ("ES512", ec.generate_private_key(ec.SECP521R1())),
    ("RS256", _RSA),
    ("RS384", _RSA),
    ("RS512", _RSA),
    ("PS256", _RSA),
    ("PS384", _RSA),
    ("PS512", _RSA),
    ("EdDSA", ed25519.Ed25519PrivateKey.generate()),
]
CLAIMS = {"sub": "app.example.com", "aud": "https://ca/1.0/sign", "sans": ["a", "b"],
          "nbf": 1700000000, "note": "<&>"}


def _jwcrypto_key(key: Any) -> jwc_jwk.JWK:
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return jwc_jwk.JWK.from_pem(pem)


@pytest.mark.parametrize(("alg", "key"), CASES, ids=[c[0] for c in CASES])
def test_signed_token_verifies_under_jwcrypto_and_ours(alg: str, key: Any) -> None:
    token = sign_compact({"kid": "k1"}, CLAIMS, KeySigner(key, alg))
    other = jwc_jws.JWS()
    other.deserialize(token)
    other.verify(_jwcrypto_key(key), alg=alg)  # raises on a bad signature
    assert json.loads(other.payload) == CLAIMS
    decoded = decode_compact(token)
    assert decoded.header == {"alg": alg, "kid": "k1", "typ": "JWT"}
    assert decoded.claims == CLAIMS
    assert verify_signature(decoded, key.public_key(), alg)


@pytest.mark.parametrize(("alg", "key"), CASES, ids=[c[0] for c in CASES])
def test_jwcrypto_token_verifies_under_ours(alg: str, key: Any) -> None:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    signer = jwc_jws.JWS(json.dumps(CLAIMS).encode())
    signer.add_signature(jwc_jwk.JWK.from_pem(pem), alg=alg,
                         protected=json.dumps({"alg": alg}))
    decoded = decode_compact(signer.serialize(compact=True))
    assert verify_signature(decoded, key.public_key(), alg)
    # The JWS JSON serialization (general, one signature) parses to the same thing.
    general = decode_compact(signer.serialize(compact=False))
    assert general == decoded
    assert verify_signature(general, key.public_key(), alg)


def test_header_and_payload_are_sorted_go_json() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    token = sign_compact({"z": 1, "kid": "k", "alg": "none", "typ": "JOSE"},
                         {"b": 1, "a": "<"}, KeySigner(key, "ES256"))
    header, payload, signature = token.split(".")
    assert b64url_decode(header) == b'{"alg":"ES256","kid":"k","typ":"JOSE","z":1}'
    assert b64url_decode(payload) == b'{"a":"\\u003c","b":1}'
    assert len(b64url_decode(signature)) == 64


@pytest.mark.parametrize("path", TOKENS, ids=lambda p: p.stem)
def test_step_tokens_verify(path: Path) -> None:
    record = json.loads(path.read_text())
    decoded = decode_compact(record["token"])
    assert decoded.header == record["header"]
    assert decoded.claims == record["claims"]
    key = public_key_from_jwk(KEYS_BY_KID[decoded.header["kid"]])
    alg = decoded.header["alg"]
    assert verify_signature(decoded, key, alg)
    # A single flipped bit in the signature or the payload breaks it.
    sig = bytearray(decoded.signature)
    sig[len(sig) // 2] ^= 1
    assert not verify_signature(
        decode_compact(".".join([*record["token"].split(".")[:2], b64url_encode(bytes(sig))])),
        key, alg)
    head, _payload, tail = record["token"].split(".")
    claims = dict(record["claims"], sub="evil.example.com")
    forged = ".".join([head, b64url_encode(json.dumps(claims).encode()), tail])
    assert not verify_signature(decode_compact(forged), key, alg)


def test_wrong_key_alg_or_signature_size_fails() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    decoded = decode_compact(sign_compact({}, CLAIMS, KeySigner(key, "ES256")))
    assert not verify_signature(decoded, ec.generate_private_key(ec.SECP256R1()).public_key(),
                                "ES256")
    assert not verify_signature(decoded, key.public_key(), "ES384")  # header says ES256
    assert not verify_signature(decoded, _RSA.public_key(), "ES256")
    # DER-encoded (non-JOSE) ECDSA signatures are refused.
    from cryptography.hazmat.primitives import hashes

    der = key.sign(decoded.signing_input, ec.ECDSA(hashes.SHA256()))
    assert not verify_signature(
        decode_compact(decoded.signing_input.decode() + "." + b64url_encode(der)),
        key.public_key(), "ES256")


def test_unknown_alg_and_registry_hook() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    decoded = decode_compact(sign_compact({}, CLAIMS, KeySigner(key, "EdDSA")))
    with pytest.raises(InputError, match="unsupported signature algorithm 'HS256'"):
        verify_signature(decoded, key.public_key(), "HS256")
    assert "XEdDSA" not in VERIFIERS  # registered by the XEdDSA module when it exists


@pytest.mark.parametrize(
    "token, message",
    [
        ("a.b", "three parts"),
        ("a.b.c.d", "three parts"),
        ("!!.e30.AA", "not valid base64url"),
        (b64url_encode(b"[1]") + ".e30.AA", "header is not a JSON object"),
        (b64url_encode(b"{") + ".e30.AA", "header is not valid JSON"),
        ("e30." + b64url_encode(b"nope") + ".AA", "payload is not valid JSON"),
        ('{"payload": "e30"}', "incomplete JWS JSON"),
        ('{"payload": "e30", "signatures": []}', "exactly one signature"),
        ("{not json", "JWS JSON serialization is not valid JSON"),
        ("e30.e30." + "A" * (1 << 20), "too large"),
    ],
)
def test_decode_malformed(token: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        decode_compact(token)


def test_decode_flattened_json_serialization() -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    token = sign_compact({}, CLAIMS, KeySigner(key, "ES384"))
    h, p, s = token.split(".")
    decoded = decode_compact(json.dumps({"protected": h, "payload": p, "signature": s}))
    assert decoded == decode_compact(token.encode())
    assert verify_signature(decoded, key.public_key(), "ES384")
