"""azurekms: tested at the SDK client boundary. A fake KeyClient returns the SDK's own
KeyVaultKey / SignResult objects built the way Key Vault answers (JWK public key, raw
R||S ECDSA signatures made with a real key) and raises the SDK's exceptions."""

from __future__ import annotations

import os
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    Prehashed,
    decode_dss_signature,
    encode_dss_signature,
)

from pystep.errors import KMSError, MissingExtraError
from pystep.kms import KmsOptions
from pystep.kms.uri import parse

if os.environ.get("CI"):
    import azure.keyvault.keys as akeys
else:
    akeys = pytest.importorskip("azure.keyvault.keys")
from azure.core.exceptions import ClientAuthenticationError, ResourceNotFoundError
from azure.identity import ClientSecretCredential, DefaultAzureCredential
from azure.keyvault.keys.crypto import SignatureAlgorithm, SignResult

from pystep import kms
from pystep.kms import azurekms

_HASH = {"ES256": hashes.SHA256(), "ES384": hashes.SHA384(), "RS256": hashes.SHA256()}


def _jwk(key: Any) -> dict[str, Any]:
    pub = key.public_key()
    if isinstance(pub, ec.EllipticCurvePublicKey):
        nums = pub.public_numbers()
        size = (pub.curve.key_size + 7) // 8
        crv = {"secp256r1": "P-256", "secp384r1": "P-384"}[pub.curve.name]
        return {
            "kty": "EC-HSM",
            "crv": crv,
            "x": nums.x.to_bytes(size),
            "y": nums.y.to_bytes(size),
            "key_ops": ["sign", "verify"],
        }
    nums = pub.public_numbers()
    return {"kty": "RSA", "n": nums.n.to_bytes(pub.key_size // 8), "e": nums.e.to_bytes(3)}


class FakeCrypto:
    def __init__(self, vault: FakeVault, key: Any, key_id: str) -> None:
        self._vault, self._key, self._key_id = vault, key, key_id

    def sign(self, algorithm: SignatureAlgorithm, digest: bytes) -> SignResult:
        self._vault.sign_calls.append((self._key_id, algorithm, digest))
        if self._vault.fail_sign:
            raise ClientAuthenticationError("Authentication failed: token expired\nmore")
        h = _HASH[algorithm.value]
        assert len(digest) == h.digest_size
        if isinstance(self._key, ec.EllipticCurvePrivateKey):
            r, s = decode_dss_signature(self._key.sign(digest, ec.ECDSA(Prehashed(h))))
            size = (self._key.curve.key_size + 7) // 8
            sig = r.to_bytes(size) + s.to_bytes(size)  # Key Vault returns raw R||S
        else:
            sig = self._key.sign(digest, padding.PKCS1v15(), Prehashed(h))
        return SignResult(key_id=self._key_id, algorithm=algorithm, signature=sig)


class FakeVault:
    """A KeyClient for one vault: keys by name, each with versions (last = latest)."""

    def __init__(self, url: str, credential: Any) -> None:
        self.url, self.credential = url, credential
        self.keys: dict[str, list[tuple[str, Any]]] = {}
        self.sign_calls: list[tuple[str, Any, bytes]] = []
        self.fail_sign = False

    def _find(self, name: str, version: str | None) -> tuple[str, Any]:
        for ver, key in reversed(self.keys.get(name, [])):
            if version in (None, ver):
                return ver, key
        raise ResourceNotFoundError(
            f"(KeyNotFound) A key with (name/id) {name} was not found in this key vault.\n"
            "Code: KeyNotFound"
        )

    def get_key(self, name: str, version: str | None = None) -> Any:
        ver, key = self._find(name, version)
        return akeys.KeyVaultKey(f"{self.url}keys/{name}/{ver}", jwk=_jwk(key))

    def get_cryptography_client(self, name: str, *, key_version: str | None = None) -> FakeCrypto:
        ver, key = self._find(name, key_version)
        return FakeCrypto(self, key, f"{self.url}keys/{name}/{ver}")


@pytest.fixture()
def vaults() -> dict[str, FakeVault]:
    return {}


@pytest.fixture()
def factory(vaults: dict[str, FakeVault]) -> Any:
    def make(url: str, credential: Any) -> FakeVault:
        vault = vaults.setdefault(url, FakeVault(url, credential))
        vault.credential = credential
        return vault

    return make


def _open(factory: Any, key: str, kms_uri: str | None = None) -> Any:
    return azurekms.open_signer(
        parse(key), parse(kms_uri) if kms_uri else None, KmsOptions(), client_factory=factory
    )


def _ec_verify(key: Any, sig: bytes, data: bytes, h: hashes.HashAlgorithm) -> None:
    half = len(sig) // 2
    der = encode_dss_signature(int.from_bytes(sig[:half]), int.from_bytes(sig[half:]))
    key.public_key().verify(der, data, ec.ECDSA(h))


def test_es256_latest_version(vaults: dict[str, FakeVault], factory: Any) -> None:
    url = "https://my-vault.vault.azure.net/"
    old, new = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    factory(url, None).keys["tok"] = [("v1", old), ("v2", new)]
    kms_uri = "azurekms:tenant-id=t1;client-id=c1;client-secret=s3cret"
    signer = _open(factory, "azurekms:name=tok;vault=my-vault", kms_uri)
    assert signer.alg == "ES256"
    assert signer.public_key().public_numbers() == new.public_key().public_numbers()
    sig = signer.sign(b"header.payload")
    assert len(sig) == 64
    _ec_verify(new, sig, b"header.payload", hashes.SHA256())
    key_id, algorithm, digest = vaults[url].sign_calls[-1]
    assert key_id == f"{url}keys/tok/v2"  # signs with the version whose public key we read
    assert algorithm is SignatureAlgorithm.es256
    h = hashes.Hash(hashes.SHA256())
    h.update(b"header.payload")
    assert digest == h.finalize()
    cred = vaults[url].credential
    assert isinstance(cred, ClientSecretCredential)


def test_pinned_version_p384_and_rsa(vaults: dict[str, FakeVault], factory: Any) -> None:
    url = "https://v2.vault.azure.net/"
    p384, rkey = ec.generate_private_key(ec.SECP384R1()), rsa.generate_private_key(65537, 2048)
    factory(url, None).keys.update({"ec": [("a", p384), ("b", rkey)], "rsa": [("r1", rkey)]})
    signer = _open(factory, "azurekms:name=ec;vault=v2;version=a")
    assert signer.alg == "ES384"
    _ec_verify(p384, signer.sign(b"abc"), b"abc", hashes.SHA384())
    assert vaults[url].sign_calls[-1][0].endswith("/keys/ec/a")
    signer = _open(factory, "azurekms:name=rsa;vault=v2")
    assert signer.alg == "RS256"
    rkey.public_key().verify(signer.sign(b"abc"), b"abc", padding.PKCS1v15(), hashes.SHA256())
    assert vaults[url].sign_calls[-1][1] is SignatureAlgorithm.rs256


def test_vault_urls_and_credentials(vaults: dict[str, FakeVault], factory: Any) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    cases = {
        "azurekms:name=k;vault=cn?environment=AzureChinaCloud": "https://cn.vault.azure.cn/",
        "azurekms:name=k;vault=h;hsm=true": "https://h.managedhsm.azure.net/",
        "azurekms:name=k;vault=https://x.example.com": "https://x.example.com/",
        "azurekms:name=k;vault=gov?environment=azureusgovernmentcloud": (
            "https://gov.vault.usgovcloudapi.net/"
        ),
    }
    for uri, url in cases.items():
        factory(url, None).keys["k"] = [("1", key)]
        _open(factory, uri)
        assert isinstance(vaults[url].credential, DefaultAzureCredential)


def test_through_front_door(vaults: dict[str, FakeVault], factory: Any) -> None:
    factory("https://fd.vault.azure.net/", None).keys["k"] = [
        ("1", ec.generate_private_key(ec.SECP256R1()))
    ]
    res = kms.resolve("azurekms:name=k;vault=fd", KmsOptions(kms_uri="azurekms:"))
    signer = azurekms.open_signer(res.key_uri, res.kms_uri, KmsOptions(), client_factory=factory)
    assert signer.alg == "ES256"


def test_errors_are_one_line_and_secret_free(vaults: dict[str, FakeVault], factory: Any) -> None:
    kms_uri = "azurekms:tenant-id=t;client-id=c;client-secret=hunter2"
    with pytest.raises(KMSError, match=r"^azurekms: get key nope from .*was not found") as info:
        _open(factory, "azurekms:name=nope;vault=v3", kms_uri)
    assert "\n" not in str(info.value) and "hunter2" not in str(info.value)
    url = "https://v3.vault.azure.net/"
    vaults[url].keys["k"] = [("1", ec.generate_private_key(ec.SECP256R1()))]
    signer = _open(factory, "azurekms:name=k;vault=v3", kms_uri)
    vaults[url].fail_sign = True
    with pytest.raises(KMSError, match=r"^azurekms: sign with key k: .*token expired$"):
        signer.sign(b"x")


def test_bad_parameters(factory: Any) -> None:
    with pytest.raises(KMSError, match="has no name="):
        _open(factory, "azurekms:vault=v")
    with pytest.raises(KMSError, match="has no vault="):
        _open(factory, "azurekms:name=k")
    with pytest.raises(KMSError, match="invalid vault name"):
        _open(factory, "azurekms:name=k;vault=a.b")
    with pytest.raises(KMSError, match="unknown environment 'Mars'"):
        _open(factory, "azurekms:name=k;vault=v?environment=Mars")
    with pytest.raises(KMSError, match="client-secret needs tenant-id and client-id") as info:
        _open(factory, "azurekms:name=k;vault=v", "azurekms:client-secret=hunter2")
    assert "hunter2" not in str(info.value)


def test_default_client_is_the_sdk_key_client() -> None:
    cred = azurekms.make_credential(parse("azurekms:tenant-id=t;client-id=c;client-secret=s"), None)
    client = azurekms.default_client("https://v.vault.azure.net/", cred)
    assert isinstance(client, akeys.KeyClient)
    assert client.vault_url == "https://v.vault.azure.net"


def test_missing_package(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    import azure.keyvault

    monkeypatch.setitem(sys.modules, "azure.keyvault.keys", None)
    monkeypatch.delattr(azure.keyvault, "keys", raising=False)
    with pytest.raises(MissingExtraError, match=r"pystep\[azurekms\]"):
        azurekms.open_signer(parse("azurekms:name=k;vault=v"), None, KmsOptions())
