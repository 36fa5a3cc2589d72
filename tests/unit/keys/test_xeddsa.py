"""XEdDSA: against signatures made by Go step, and against an independent library.

The independent implementation is the ``xeddsa`` package from PyPI (Python bindings of
libxeddsa, C over ref10). With the same 64 random bytes it must produce byte-identical
signatures, and its verifier must accept ours. Go step's own tokens (made by
go.step.sm/crypto/x25519.Sign) must verify with our verifier.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import x25519
from hypothesis import given, settings
from hypothesis import strategies as st

from pystep.errors import MissingExtraError
from pystep.jose.encoding import b64url_decode
from pystep.keys.nebula import parse_nebula_cert
from pystep.keys.xeddsa import (
    XEdDSASigner,
    x25519_to_ed25519_public,
    xeddsa_sign_raw,
    xeddsa_verify,
)
from tests.ci import require_module

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "step-v0.19" / "tokens"
STEP_TOKENS = sorted(FIXTURES.glob("*nebula*.json"))


def _host_private_key() -> x25519.X25519PrivateKey:
    text = (FIXTURES / "inputs" / "nebula-host1.key").read_text().splitlines()
    return x25519.X25519PrivateKey.from_private_bytes(base64.b64decode(text[1]))


def test_fixture_tokens_present() -> None:
    assert len(STEP_TOKENS) >= 5


@pytest.mark.parametrize("path", STEP_TOKENS, ids=lambda p: p.stem)
def test_step_made_tokens_verify(path: Path) -> None:
    record = json.loads(path.read_text())
    token: str = record["token"]
    head, payload, sig = token.split(".")
    header = json.loads(b64url_decode(head))
    assert header["alg"] == "XEdDSA"
    # the public key comes from the certificate step put in the token's header
    cert = parse_nebula_cert(base64.b64decode(header["nebula"]))
    public = x25519.X25519PublicKey.from_public_bytes(cert.public_key)
    signing_input = f"{head}.{payload}".encode()
    signature = b64url_decode(sig)
    assert xeddsa_verify(public, signing_input, signature)
    # tampering with the message or the signature must fail
    assert not xeddsa_verify(public, signing_input + b"x", signature)
    bad = bytearray(signature)
    bad[5] ^= 1
    assert not xeddsa_verify(public, signing_input, bytes(bad))
    # and another key must not verify it
    other = x25519.X25519PrivateKey.generate().public_key()
    assert not xeddsa_verify(other, signing_input, signature)


def test_token_key_is_the_host_key() -> None:
    record = json.loads((FIXTURES / "nebula-dns.json").read_text())
    header = json.loads(b64url_decode(record["token"].split(".")[0]))
    cert = parse_nebula_cert(base64.b64decode(header["nebula"]))
    assert _host_private_key().public_key().public_bytes_raw() == cert.public_key


def test_our_signature_of_step_input_verifies() -> None:
    signer = XEdDSASigner(_host_private_key())
    assert signer.alg == "XEdDSA"
    sig = signer.sign(b"header.payload")
    assert len(sig) == 64
    assert xeddsa_verify(signer.public_key(), b"header.payload", sig)


def test_identical_to_libxeddsa_with_same_nonce() -> None:
    """Same key and nonce: byte-identical signatures.

    The nonce hashes the private scalar ``a``. Go step (edwards25519 ``Scalar.Bytes``)
    and we use its canonical encoding (reduced mod q); libxeddsa's ``priv_force_sign``
    leaves a non-negated clamped key unreduced, so we hand it the reduced scalar, which
    it signs with as-is. Both encodings give valid signatures; only the nonce differs.
    """
    xeddsa = require_module("xeddsa")
    nacl_bindings = require_module("nacl.bindings")
    for _ in range(40):
        k, z, m = os.urandom(32), os.urandom(64), os.urandom(40)
        forced = bytes(xeddsa.priv_force_sign(k, False))
        a = nacl_bindings.crypto_core_ed25519_scalar_reduce(forced + bytes(32))
        assert xeddsa_sign_raw(k, m, z) == bytes(xeddsa.ed25519_priv_sign(a, m, z))


def test_libxeddsa_verifies_ours_and_we_verify_theirs() -> None:
    xeddsa = require_module("xeddsa")
    private = x25519.X25519PrivateKey.generate()
    raw = private.private_bytes_raw()
    pub = private.public_key().public_bytes_raw()
    ed_pub = bytes(xeddsa.curve25519_pub_to_ed25519_pub(pub, False))
    assert ed_pub == x25519_to_ed25519_public(pub)
    ours = XEdDSASigner(private).sign(b"message")
    assert xeddsa.ed25519_verify(ours, ed_pub, b"message")
    assert not xeddsa.ed25519_verify(ours, ed_pub, b"messagf")
    theirs = bytes(xeddsa.ed25519_priv_sign(xeddsa.priv_force_sign(raw, False), b"m", None))
    assert xeddsa_verify(private.public_key(), b"m", theirs)


def test_signatures_are_randomised() -> None:
    signer = XEdDSASigner(x25519.X25519PrivateKey.generate())
    assert signer.sign(b"same") != signer.sign(b"same")


def test_rejects_malformed_signatures() -> None:
    private = x25519.X25519PrivateKey.generate()
    sig = XEdDSASigner(private).sign(b"m")
    assert not xeddsa_verify(private.public_key(), b"m", sig[:63])
    high = bytearray(sig)
    high[63] |= 0x20  # s >= 2^253 is refused outright, as in step
    assert not xeddsa_verify(private.public_key(), b"m", bytes(high))


@settings(max_examples=60, deadline=None)
@given(
    seed=st.binary(min_size=32, max_size=32),
    message=st.binary(max_size=256),
    flip=st.integers(min_value=0, max_value=64 * 8 - 1),
)
def test_property_round_trip_and_tamper(seed: bytes, message: bytes, flip: int) -> None:
    private = x25519.X25519PrivateKey.from_private_bytes(seed)
    signer = XEdDSASigner(private)
    sig = signer.sign(message)
    assert xeddsa_verify(signer.public_key(), message, sig)
    tampered = bytearray(sig)
    tampered[flip // 8] ^= 1 << (flip % 8)
    assert not xeddsa_verify(signer.public_key(), message, bytes(tampered))
    assert not xeddsa_verify(signer.public_key(), message + b"\x00", sig)


def test_missing_pynacl_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes "import nacl.bindings" raise ImportError
    monkeypatch.setitem(sys.modules, "nacl.bindings", None)
    with pytest.raises(MissingExtraError) as info:
        XEdDSASigner(x25519.X25519PrivateKey.generate())
    assert "pystep[nebula]" in str(info.value)
    assert "pynacl" in str(info.value)
