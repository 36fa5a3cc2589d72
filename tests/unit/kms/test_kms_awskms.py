"""AWS KMS signer against moto in server mode (a real HTTP endpoint on 127.0.0.1)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from pystep.errors import KMSError
from pystep.kms import KmsOptions, open_signer
from pystep.kms._sig import digest, verify
from tests.ci import require_module
from tests.harness.ports import free_port

boto3 = require_module("boto3", module_level=True)
require_module("moto.server", module_level=True)

REGION = "us-west-2"
INPUT = b"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhd3MifQ"


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        url = f"http://127.0.0.1:{port}"
        d = tmp_path_factory.mktemp("aws")
        creds = d / "credentials"
        creds.write_text("[pystep]\naws_access_key_id = AKIDTEST\naws_secret_access_key = x\n")
        client = boto3.client(
            "kms", region_name=REGION, endpoint_url=url,
            aws_access_key_id="AKIDTEST", aws_secret_access_key="x",
        )  # fmt: skip
        keys = {}
        for spec in ("ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521", "RSA_2048",
                     "ECC_SECG_P256K1"):  # fmt: skip
            meta = client.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]
            keys[spec] = meta
        enc = client.create_key(KeySpec="SYMMETRIC_DEFAULT", KeyUsage="ENCRYPT_DECRYPT")
        keys["enc"] = enc["KeyMetadata"]
        client.create_alias(AliasName="alias/pystep", TargetKeyId=keys["ECC_NIST_P256"]["KeyId"])
        env = {"AWS_ENDPOINT_URL": url, "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
               "AWS_CONFIG_FILE": "/nonexistent", "AWS_EC2_METADATA_DISABLED": "true"}  # fmt: skip
        yield {"client": client, "keys": keys, "env": env, "creds": creds, "url": url}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def aws_env(moto: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """No ambient AWS credentials: only the test's credentials file provides them."""
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                "AWS_DEFAULT_REGION", "AWS_REGION"):  # fmt: skip
        monkeypatch.delenv(var, raising=False)
    for k, v in moto["env"].items():
        monkeypatch.setenv(k, v)
    return moto


def _verify_moto(pub: Any, alg: str, signing_input: bytes, sig: bytes) -> bool:
    """moto (5.2.x) ignores MessageType=DIGEST and hashes the Message once more, so its
    signature is over the digest we sent; verify exactly that. Real KMS signs the digest
    as is, which makes the same signature a valid JOSE signature over the input."""
    return verify(pub, alg, digest(alg, signing_input), sig)


def _kms(moto: dict[str, Any]) -> str:
    return f"awskms:region={REGION};profile=pystep;credentials-file={moto['creds']}"


def _aws_public_key(moto: dict[str, Any], key_id: str) -> Any:
    der = moto["client"].get_public_key(KeyId=key_id)["PublicKey"]
    return serialization.load_der_public_key(der)


@pytest.mark.parametrize(
    ("spec", "alg", "size"),
    [("ECC_NIST_P256", "ES256", 64), ("ECC_NIST_P384", "ES384", 96),
     ("ECC_NIST_P521", "ES512", 132), ("RSA_2048", "RS256", 256)],
)  # fmt: skip
def test_sign_and_verify(aws_env: dict[str, Any], spec: str, alg: str, size: int) -> None:
    meta = aws_env["keys"][spec]
    signer = open_signer(f"awskms:key-id={meta['KeyId']}", KmsOptions(kms_uri=_kms(aws_env)))
    assert signer.alg == alg
    pub = signer.public_key()
    assert pub == _aws_public_key(aws_env, meta["KeyId"])
    sig = signer.sign(INPUT)
    assert len(sig) == size
    assert _verify_moto(pub, alg, INPUT, sig)
    assert not _verify_moto(pub, alg, INPUT + b"!", sig)


def test_name_spellings(aws_env: dict[str, Any]) -> None:
    meta = aws_env["keys"]["ECC_NIST_P256"]
    kms = _kms(aws_env)
    expected = _aws_public_key(aws_env, meta["KeyId"])
    for name, kms_uri in [
        (f"awskms:{meta['KeyId']}", kms),  # bare id after the scheme
        (meta["Arn"], kms),  # an ARN relative to --kms
        (meta["KeyId"], kms),  # a bare id relative to --kms
        ("awskms:key-id=alias/pystep", kms),
        (f"awskms:key-id={meta['KeyId']};region={REGION};profile=pystep;"
         f"credentials-file={aws_env['creds']}", None),  # everything in the key URI
    ]:  # fmt: skip
        signer = open_signer(name, KmsOptions(kms_uri=kms_uri))
        assert signer.public_key() == expected, name
        assert _verify_moto(expected, "ES256", INPUT, signer.sign(INPUT))
    assert isinstance(expected, ec.EllipticCurvePublicKey)


def test_endpoint_from_options_env(
    aws_env: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    meta = aws_env["keys"]["RSA_2048"]
    opts = KmsOptions(kms_uri=_kms(aws_env), env={"AWS_ENDPOINT_URL": aws_env["url"]})
    signer = open_signer(f"awskms:key-id={meta['KeyId']}", opts)
    assert isinstance(signer.public_key(), rsa.RSAPublicKey)


def test_errors(aws_env: dict[str, Any], tmp_path: Path) -> None:
    kms = _kms(aws_env)
    with pytest.raises(KMSError) as err:
        open_signer("awskms:key-id=00000000-0000-0000-0000-000000000000", KmsOptions(kms_uri=kms))
    assert str(err.value).startswith("awskms: GetPublicKey failed: NotFoundException")
    enc = aws_env["keys"]["enc"]["KeyId"]
    with pytest.raises(KMSError, match="is not a signing key"):
        open_signer(f"awskms:key-id={enc}", KmsOptions(kms_uri=kms))
    k1 = aws_env["keys"]["ECC_SECG_P256K1"]["KeyId"]
    with pytest.raises(KMSError, match=r'^unsupported elliptic curve "secp256k1"$'):
        open_signer(f"awskms:key-id={k1}", KmsOptions(kms_uri=kms))
    with pytest.raises(KMSError, match="needs key-id"):
        open_signer("awskms:region=us-east-1", KmsOptions(kms_uri=kms))
    # no credentials anywhere
    empty = tmp_path / "empty"
    empty.write_text("")
    nocreds = f"awskms:region={REGION};credentials-file={empty}"
    meta = aws_env["keys"]["ECC_NIST_P256"]
    with pytest.raises(KMSError, match="GetPublicKey failed: Unable to locate credentials"):
        open_signer(f"awskms:key-id={meta['KeyId']}", KmsOptions(kms_uri=nocreds))


def test_ed25519_request_shape() -> None:
    """moto cannot make Ed25519 keys: check the Sign request at the SDK boundary (botocore
    Stubber) and that the answer is used as is."""
    from botocore.stub import Stubber
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from pystep.kms.awskms import AwsKmsSigner

    private = ed25519.Ed25519PrivateKey.generate()
    client = boto3.client("kms", region_name=REGION, aws_access_key_id="a",
                          aws_secret_access_key="b")  # fmt: skip
    signer = AwsKmsSigner(client, "kid", private.public_key())
    assert signer.alg == "EdDSA"
    with Stubber(client) as stub:
        stub.add_response(
            "sign",
            {"Signature": private.sign(INPUT), "KeyId": "kid"},
            {"KeyId": "kid", "Message": INPUT, "MessageType": "RAW",
             "SigningAlgorithm": "ED25519_SHA_512"},
        )  # fmt: skip
        sig = signer.sign(INPUT)
        stub.assert_no_pending_responses()
    assert verify(private.public_key(), "EdDSA", INPUT, sig)
