"""cloudkms: the real google-cloud-kms client talks gRPC to an in-process fake
KeyManagementService that answers like Cloud KMS (PEM public key; DER ECDSA signatures
made with a real key). No Google account is involved."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from pystep.errors import KMSError, MissingExtraError
from pystep.kms import KmsOptions
from pystep.kms.uri import parse

if os.environ.get("CI"):
    from google.cloud import kms as gkms
else:
    gkms = pytest.importorskip("google.cloud.kms")
import grpc
from google.cloud.kms_v1.services.key_management_service.transports import (
    KeyManagementServiceGrpcTransport,
)

from pystep import kms
from pystep.kms import cloudkms

PARENT = "projects/p1/locations/global/keyRings/ring/cryptoKeys"
Algorithm = gkms.CryptoKeyVersion.CryptoKeyVersionAlgorithm


class FakeCloudKms:
    """Key versions by resource name -> (private key, algorithm); records requests."""

    def __init__(self) -> None:
        self.keys: dict[str, tuple[Any, Any]] = {}
        self.sign_requests: list[Any] = []

    def add(self, short: str, key: Any, algorithm: Any) -> str:
        name = f"{PARENT}/{short}/cryptoKeyVersions/1"
        self.keys[name] = (key, algorithm)
        return name

    def get_public_key(self, request: Any, context: grpc.ServicerContext) -> Any:
        if request.name not in self.keys:
            context.abort(grpc.StatusCode.NOT_FOUND, f"CryptoKeyVersion {request.name} not found.")
        key, algorithm = self.keys[request.name]
        pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return gkms.PublicKey(pem=pem.decode(), algorithm=algorithm, name=request.name)

    def asymmetric_sign(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.sign_requests.append(request)
        key, _ = self.keys[request.name]
        if isinstance(key, ed25519.Ed25519PrivateKey):
            sig = key.sign(request.data)
        else:
            which = gkms.Digest.pb(request.digest).WhichOneof("digest")
            h = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384()}[which]
            from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

            value = getattr(request.digest, which)
            if isinstance(key, ec.EllipticCurvePrivateKey):
                sig = key.sign(value, ec.ECDSA(Prehashed(h)))  # DER, as Cloud KMS returns
            else:
                sig = key.sign(value, padding.PKCS1v15(), Prehashed(h))
        return gkms.AsymmetricSignResponse(signature=sig, name=request.name)


@pytest.fixture(scope="module")
def service() -> Iterator[tuple[FakeCloudKms, str]]:
    fake = FakeCloudKms()
    handler = grpc.method_handlers_generic_handler(
        "google.cloud.kms.v1.KeyManagementService",
        {
            "GetPublicKey": grpc.unary_unary_rpc_method_handler(
                fake.get_public_key,
                request_deserializer=gkms.GetPublicKeyRequest.deserialize,
                response_serializer=gkms.PublicKey.serialize,
            ),
            "AsymmetricSign": grpc.unary_unary_rpc_method_handler(
                fake.asymmetric_sign,
                request_deserializer=gkms.AsymmetricSignRequest.deserialize,
                response_serializer=gkms.AsymmetricSignResponse.serialize,
            ),
        },
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield fake, f"127.0.0.1:{port}"
    finally:
        server.stop(None)


@pytest.fixture()
def factory(service: tuple[FakeCloudKms, str]) -> Any:
    _, address = service
    seen: list[str | None] = []

    def make(credentials_file: str | None) -> Any:
        seen.append(credentials_file)
        channel = grpc.insecure_channel(address)
        return gkms.KeyManagementServiceClient(
            transport=KeyManagementServiceGrpcTransport(channel=channel)
        )

    make.seen = seen  # type: ignore[attr-defined]
    return make


def _open(factory: Any, key: str, kms_uri: str | None = None) -> Any:
    return cloudkms.open_signer(
        parse(key), parse(kms_uri) if kms_uri else None, KmsOptions(), client_factory=factory
    )


def test_es256_bare_resource(service: tuple[FakeCloudKms, str], factory: Any) -> None:
    fake, _ = service
    key = ec.generate_private_key(ec.SECP256R1())
    name = fake.add("es256", key, Algorithm.EC_SIGN_P256_SHA256)
    signer = _open(factory, f"cloudkms:{name}", "cloudkms:credentials-file=/tmp/creds.json")
    assert factory.seen == ["/tmp/creds.json"]
    assert signer.alg == "ES256"
    assert signer.public_key().public_numbers() == key.public_key().public_numbers()
    data = b"header.payload"
    sig = signer.sign(data)
    assert len(sig) == 64
    der = encode_dss_signature(int.from_bytes(sig[:32]), int.from_bytes(sig[32:]))
    key.public_key().verify(der, data, ec.ECDSA(hashes.SHA256()))
    req = fake.sign_requests[-1]
    assert req.name == name
    assert bytes(req.digest.sha256) == _sha(hashes.SHA256(), data)


def _sha(h: hashes.HashAlgorithm, data: bytes) -> bytes:
    ctx = hashes.Hash(h)
    ctx.update(data)
    return ctx.finalize()


def test_es384_resource_param(service: tuple[FakeCloudKms, str], factory: Any) -> None:
    fake, _ = service
    key = ec.generate_private_key(ec.SECP384R1())
    name = fake.add("es384", key, Algorithm.EC_SIGN_P384_SHA384)
    signer = _open(factory, f"cloudkms:resource={name}")
    assert signer.alg == "ES384"
    sig = signer.sign(b"abc")
    der = encode_dss_signature(int.from_bytes(sig[:48]), int.from_bytes(sig[48:]))
    key.public_key().verify(der, b"abc", ec.ECDSA(hashes.SHA384()))
    assert bytes(fake.sign_requests[-1].digest.sha384) == _sha(hashes.SHA384(), b"abc")


def test_rs256_and_ed25519(service: tuple[FakeCloudKms, str], factory: Any) -> None:
    fake, _ = service
    rkey = rsa.generate_private_key(65537, 2048)
    rname = fake.add("rsa", rkey, Algorithm.RSA_SIGN_PKCS1_2048_SHA256)
    signer = _open(factory, f"cloudkms:{rname}")
    assert signer.alg == "RS256"
    rkey.public_key().verify(signer.sign(b"abc"), b"abc", padding.PKCS1v15(), hashes.SHA256())
    ekey = ed25519.Ed25519PrivateKey.generate()
    ename = fake.add("ed", ekey, Algorithm.EC_SIGN_ED25519)
    signer = _open(factory, f"cloudkms:{ename}")
    assert signer.alg == "EdDSA"
    ekey.public_key().verify(signer.sign(b"abc"), b"abc")
    assert fake.sign_requests[-1].data == b"abc"


def test_bare_name_through_front_door(service: tuple[FakeCloudKms, str], factory: Any) -> None:
    fake, _ = service
    name = fake.add("front", ec.generate_private_key(ec.SECP256R1()), Algorithm.EC_SIGN_P256_SHA256)
    res = kms.resolve(name, KmsOptions(kms_uri="cloudkms:"))
    signer = cloudkms.open_signer(res.key_uri, res.kms_uri, KmsOptions(), client_factory=factory)
    assert signer.alg == "ES256"


def test_unusable_algorithms(service: tuple[FakeCloudKms, str], factory: Any) -> None:
    fake, _ = service
    pss = fake.add("pss", rsa.generate_private_key(65537, 2048), Algorithm.RSA_SIGN_PSS_2048_SHA256)
    with pytest.raises(KMSError, match="key algorithm RSA_SIGN_PSS_2048_SHA256 cannot sign"):
        _open(factory, f"cloudkms:{pss}")
    k1 = fake.add("k1", ec.generate_private_key(ec.SECP256K1()), Algorithm.EC_SIGN_SECP256K1_SHA256)
    with pytest.raises(KMSError, match="EC_SIGN_SECP256K1_SHA256 cannot sign"):
        _open(factory, f"cloudkms:{k1}")


def test_not_found_is_one_line(factory: Any) -> None:
    name = f"{PARENT}/missing/cryptoKeyVersions/9"
    with pytest.raises(KMSError, match=rf"^cloudkms: GetPublicKey {name}: .*not found") as info:
        _open(factory, f"cloudkms:{name}")
    assert "\n" not in str(info.value)


def test_bad_resource_names(factory: Any) -> None:
    for key in (
        "cloudkms:projects/p/locations/l/keyRings/r/cryptoKeys/k",
        "cloudkms:resource=projects/p",
        "cloudkms:",
    ):
        with pytest.raises(KMSError, match="is not a key version resource name"):
            _open(factory, key)


def test_default_client_with_credentials_file(tmp_path: Path) -> None:
    """The real client is built from a service-account file (no network needed)."""
    pem = rsa.generate_private_key(65537, 2048).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    creds = tmp_path / "sa.json"
    creds.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "p1",
                "private_key_id": "1",
                "private_key": pem.decode(),
                "client_email": "pystep@p1.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": "https://oauth2.googleapis.com/token",
            }
        )
    )
    client = cloudkms.default_client(str(creds))
    assert isinstance(client, gkms.KeyManagementServiceClient)
    with pytest.raises(KMSError, match=r"^cloudkms: cannot read credentials-file .*missing"):
        cloudkms.default_client(str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"type": "service_account"}))
    with pytest.raises(KMSError, match=r"^cloudkms: cannot load Google credentials: ") as info:
        cloudkms.default_client(str(bad))
    assert "\n" not in str(info.value)


def test_missing_package(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    import google.cloud

    monkeypatch.setitem(sys.modules, "google.cloud.kms", None)
    monkeypatch.delattr(google.cloud, "kms", raising=False)
    with pytest.raises(MissingExtraError, match=r"pystep\[cloudkms\]"):
        cloudkms.open_signer(parse(f"cloudkms:{PARENT}/k/cryptoKeyVersions/1"), None, KmsOptions())
