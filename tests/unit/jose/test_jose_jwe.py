"""PBES2 JWE: step's encrypted keys, jwcrypto's JWEs, bounds and failures."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jwcrypto import jwa as jwc_jwa
from jwcrypto import jwe as jwc_jwe
from jwcrypto import jwk as jwc_jwk

from pystep.errors import InputError, PasswordError
from pystep.jose import jwe
from pystep.jose.encoding import b64url_decode, b64url_encode
from pystep.jose.jwk import private_key_from_jwk, thumbprint

FIXTURES = Path(__file__).parents[2] / "fixtures" / "step-v0.19"
MANIFEST = json.loads((FIXTURES / "keys" / "manifest.json").read_text())["keys"]
ENCRYPTED_JWKS = [k for k in MANIFEST if k["id"].startswith("jwk-") and k["encrypted"]]
PROVISIONERS = [
    p
    for p in json.loads((FIXTURES / "pki" / "ca.json").read_text())["authority"]["provisioners"]
    if "encryptedKey" in p
]
PASSWORD = (FIXTURES / "password.txt").read_bytes()


@pytest.fixture
def jwcrypto_high_p2c() -> Iterator[None]:
    saved = jwc_jwa.default_max_pbkdf2_iterations
    jwc_jwa.default_max_pbkdf2_iterations = 1_000_000
    yield
    jwc_jwa.default_max_pbkdf2_iterations = saved


@pytest.mark.parametrize("entry", ENCRYPTED_JWKS, ids=lambda k: k["id"])
def test_decrypt_step_json_serialized_jwk(entry: dict[str, Any]) -> None:
    text = (FIXTURES / entry["files"]["private"]).read_text()
    assert jwe.is_jwe(text) and jwe.is_jwe(json.loads(text))
    for data in (text, text.encode(), json.loads(text)):
        jwk = json.loads(jwe.decrypt(data, PASSWORD))
        assert jwk["kid"] == entry["kid"]
        assert thumbprint(private_key_from_jwk(jwk)) == entry["thumbprint"]


@pytest.mark.parametrize("prov", PROVISIONERS, ids=lambda p: p["name"])
def test_decrypt_step_compact_encrypted_key(prov: dict[str, Any]) -> None:
    jwk = json.loads(jwe.decrypt(prov["encryptedKey"], PASSWORD))
    assert jwk["kid"] == prov["key"]["kid"]
    assert thumbprint(private_key_from_jwk(jwk)) == prov["key"]["kid"]


def test_wrong_password_is_a_distinct_error() -> None:
    with pytest.raises(jwe.InvalidPassword) as info:
        jwe.decrypt(PROVISIONERS[0]["encryptedKey"], b"wrong")
    assert isinstance(info.value, PasswordError)
    assert str(info.value) == "failed to decrypt JWE: invalid password"


def _jwcrypto_encrypt(plaintext: bytes, password: bytes, alg: str, enc: str, p2c: int,
                      compact: bool) -> str:
    token = jwc_jwe.JWE(plaintext, protected=json.dumps({"alg": alg, "enc": enc, "p2c": p2c,
                                                         "cty": "jwk+json"}))
    token.add_recipient(jwc_jwk.JWK.from_password(password.decode()))
    return str(token.serialize(compact=compact))


@pytest.mark.usefixtures("jwcrypto_high_p2c")
@pytest.mark.parametrize("p2c", [100_000, 600_000])
@pytest.mark.parametrize("compact", [True, False], ids=["compact", "json"])
def test_decrypt_jwcrypto_jwe(p2c: int, compact: bool) -> None:
    secret = b'{"kty":"oct","k":"c2VjcmV0"}'
    data = _jwcrypto_encrypt(secret, b"s3cret", "PBES2-HS256+A128KW", "A256GCM", p2c, compact)
    header = json.loads(b64url_decode(json.loads(data)["protected"] if not compact
                                      else data.split(".")[0]))
    assert header["p2c"] == p2c
    assert jwe.decrypt(data, b"s3cret") == secret
    with pytest.raises(jwe.InvalidPassword):
        jwe.decrypt(data, b"s3cret!")


@pytest.mark.parametrize(
    "alg, enc",
    [("PBES2-HS384+A192KW", "A192GCM"), ("PBES2-HS512+A256KW", "A128GCM"),
     ("PBES2-HS256+A128KW", "A128GCM")],
)
def test_decrypt_jwcrypto_other_algorithms(alg: str, enc: str) -> None:
    data = _jwcrypto_encrypt(b"hello", b"pw", alg, enc, 2000, compact=True)
    assert jwe.decrypt(data, b"pw") == b"hello"


@pytest.mark.usefixtures("jwcrypto_high_p2c")
@pytest.mark.parametrize("enc", ["A128GCM", "A192GCM", "A256GCM"])
def test_our_jwe_decrypts_under_jwcrypto(enc: str) -> None:
    data = jwe.encrypt(b'{"a":1}', b"pw", enc=enc)
    header = json.loads(b64url_decode(data.split(".")[0]))
    assert header["p2c"] == 600_000 and header["cty"] == "jwk+json"
    assert len(b64url_decode(header["p2s"])) == 16
    other = jwc_jwe.JWE()
    other.deserialize(data, key=jwc_jwk.JWK.from_password("pw"))
    assert other.payload == b'{"a":1}'
    assert jwe.decrypt(data, b"pw") == b'{"a":1}'


def _with_header(data: str, **changes: Any) -> str:
    parts = data.split(".")
    header = json.loads(b64url_decode(parts[0]))
    for key, value in changes.items():
        if value is None:
            header.pop(key, None)
        else:
            header[key] = value
    parts[0] = b64url_encode(json.dumps(header).encode())
    return ".".join(parts)


@pytest.mark.parametrize("p2c", [5_000_000, 10**12, 999, 0, -1])
def test_p2c_out_of_bounds_is_refused_before_derivation(p2c: int) -> None:
    data = _with_header(PROVISIONERS[0]["encryptedKey"], p2c=p2c)
    start = time.perf_counter()
    with pytest.raises(InputError) as info:
        jwe.decrypt(data, PASSWORD)
    # 10**12 PBKDF2 rounds would take hours; refusing must not derive anything.
    assert time.perf_counter() - start < 0.5
    assert not isinstance(info.value, PasswordError)
    assert str(info.value) == f"refusing to decrypt: JWE p2c {p2c} is outside 1000..1000000"


def test_p2c_bounds_are_configurable() -> None:
    data = PROVISIONERS[0]["encryptedKey"]  # p2c 100000
    with pytest.raises(InputError, match=r"outside 1000\.\.50000"):
        jwe.decrypt(data, PASSWORD, max_p2c=50_000)
    assert jwe.decrypt(data, PASSWORD, min_p2c=100_000, max_p2c=100_000)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"p2s": None}, "missing or invalid 'p2s'"),
        ({"p2s": "AAAA"}, "'p2s' must be 8 to 1024 bytes"),
        ({"p2s": "A" * 2000}, "'p2s' must be 8 to 1024 bytes"),
        ({"p2c": None}, "missing or invalid 'p2c'"),
        ({"p2c": "100000"}, "missing or invalid 'p2c'"),
        ({"alg": "dir"}, "unsupported JWE algorithm 'dir'"),
        ({"enc": "A128CBC-HS256"}, "unsupported JWE encryption 'A128CBC-HS256'"),
        ({"zip": "DEF"}, "unsupported JWE compression"),
    ],
)
def test_bad_headers(changes: dict[str, Any], message: str) -> None:
    data = _with_header(PROVISIONERS[0]["encryptedKey"], **changes)
    with pytest.raises(InputError, match=message):
        jwe.decrypt(data, PASSWORD)


def test_truncated_and_tampered_jwe() -> None:
    data = PROVISIONERS[0]["encryptedKey"]
    parts = data.split(".")
    with pytest.raises(InputError, match="five parts"):
        jwe.decrypt(".".join(parts[:4]), PASSWORD)
    with pytest.raises(InputError, match="invalid IV or tag size"):
        jwe.decrypt(".".join([*parts[:4], parts[4][:10]]), PASSWORD)
    with pytest.raises(InputError, match="encrypted key has the wrong size"):
        jwe.decrypt(".".join([parts[0], parts[1][:20], *parts[2:]]), PASSWORD)
    with pytest.raises(InputError, match="not valid base64url"):
        jwe.decrypt(".".join([*parts[:3], parts[3] + "*", parts[4]]), PASSWORD)
    # A right password with a modified ciphertext is not reported as a wrong password.
    ct = bytearray(b64url_decode(parts[3]))
    ct[0] ^= 1
    tampered = ".".join([*parts[:3], b64url_encode(bytes(ct)), parts[4]])
    with pytest.raises(InputError, match="message authentication failed") as info:
        jwe.decrypt(tampered, PASSWORD)
    assert not isinstance(info.value, PasswordError)
    assert not jwe.is_jwe(".".join(parts[:4]))
    assert not jwe.is_jwe('{"kty":"EC"}')
    assert not jwe.is_jwe(b"\xff\xfe")


def test_general_json_with_unprotected_headers() -> None:
    # jwcrypto's general serialization puts per-recipient parameters under "header".
    text = _jwcrypto_encrypt(b"x", b"pw", "PBES2-HS256+A128KW", "A128GCM", 1000, compact=False)
    obj = json.loads(text)
    general = {
        "protected": obj["protected"], "iv": obj["iv"], "ciphertext": obj["ciphertext"],
        "tag": obj["tag"],
        "recipients": [{"encrypted_key": obj["encrypted_key"], "header": obj["header"]}],
    }
    assert "p2s" in obj["header"]
    assert jwe.decrypt(general, b"pw") == b"x"
    without_p2s = {**general, "recipients": [{"encrypted_key": obj["encrypted_key"]}]}
    with pytest.raises(InputError, match="missing or invalid 'p2s'"):
        jwe.decrypt(without_p2s, b"pw")
    with pytest.raises(InputError, match="exactly one recipient"):
        jwe.decrypt({**general, "recipients": general["recipients"] * 2}, b"pw")
    header = json.loads(b64url_decode(obj["protected"]))
    with pytest.raises(InputError, match="duplicate header parameter 'enc'"):
        jwe.decrypt({**general, "unprotected": {"enc": header["enc"]}}, b"pw")


def test_input_size_is_bounded() -> None:
    with pytest.raises(InputError, match="too large"):
        jwe.decrypt("A" * (jwe.MAX_JWE_SIZE + 1), PASSWORD)
