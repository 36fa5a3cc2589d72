"""AWS, GCP and Azure identity tokens against local metadata services
(tests/harness/metadata_servers.py)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from pystep.errors import ProvisionerError
from pystep.provisioners import aws, azure, gcp
from pystep.provisioners.base import Audience, MintContext, ProvisionerRecord
from pystep.request import TokenRequest
from tests.harness.metadata_servers import IMDS, serve

NOW = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
DOC = {
    "accountId": "123456789012", "architecture": "x86_64", "availabilityZone": "us-east-1a",
    "imageId": "ami-0abc", "instanceId": "i-0123456789abcdef0", "instanceType": "t3.micro",
    "pendingTime": "2024-05-01T11:00:00Z", "privateIp": "10.0.0.12", "region": "us-east-1",
    "version": "2017-09-30",
}


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    """A test RSA key and its self-signed certificate (the CA's iidRoots file)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test ec2.amazonaws.com")])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    path = tmp_path_factory.mktemp("iid") / "iid-roots.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, path


def sign_doc(key: Any, doc: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    return base64.b64encode(key.sign(doc, padding.PKCS1v15(), hashes.SHA256()))


def ctx(base_url: str = "https://ca.example.com:9000", **extra: Any) -> MintContext:
    return MintContext(audience=Audience(base_url), now=lambda: NOW, extra=extra)


def aws_record(name: str = "aws prov", **raw: Any) -> ProvisionerRecord:
    return ProvisionerRecord({"type": "AWS", "name": name, **raw})


def b64url_json(part: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def imds_for(signer: tuple[Any, Path], **kw: Any) -> IMDS:
    doc = json.dumps(DOC, indent=2).encode()
    return IMDS(document=doc, signature_b64=sign_doc(signer[0], doc), **kw)


def test_aws_token_imdsv2(signer: tuple[Any, Path]) -> None:
    from jwcrypto import jwk, jws

    state = imds_for(signer, v1=False)
    with serve(state) as base:
        rec = aws_record(iidRoots=str(signer[1]))
        token = aws.prepare(rec, ctx(aws_metadata_url=base)).mint(
            TokenRequest(subject="10.0.0.12"))
    head, payload, _ = token.split(".")
    assert base64.urlsafe_b64decode(head + "==") == b'{"alg":"HS256","typ":"JWT"}'
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    claims = json.loads(raw)
    # step's field order (Go struct order), and its values
    assert list(claims) == ["iss", "sub", "aud", "exp", "nbf", "iat", "jti", "amazon", "sans"]
    assert claims["iss"] == "ec2.amazonaws.com" and claims["sub"] == "10.0.0.12"
    assert claims["aud"] == "https://ca.example.com:9000/1.0/sign#aws/aws%20prov"
    now = int(NOW.timestamp())
    assert (claims["iat"], claims["nbf"], claims["exp"]) == (now, now, now + 300)
    expected_jti = hashlib.sha256(b"aws/aws prov.i-0123456789abcdef0").hexdigest()
    assert claims["jti"] == expected_jti and claims["sans"] is None
    assert base64.b64decode(claims["amazon"]["document"]) == state.document
    sig = base64.b64decode(claims["amazon"]["signature"])
    assert claims["amazon"]["signature"] == state.signature_b64.decode()
    # the HMAC, checked by an independent JOSE library keyed by the signature bytes
    key = jwk.JWK(kty="oct", k=base64.urlsafe_b64encode(sig).rstrip(b"=").decode())
    verifier = jws.JWS()
    verifier.deserialize(token)
    verifier.verify(key, alg="HS256")
    # IMDSv2 protocol: PUT with the TTL header, then GETs carrying the session token
    puts = [r for r in state.requests if r.method == "PUT"]
    gets = [r for r in state.requests if r.method == "GET"]
    assert puts and all(r.headers["x-aws-ec2-metadata-token-ttl-seconds"] == "30" for r in puts)
    assert {r.path for r in gets} == {"/latest/dynamic/instance-identity/document",
                                       "/latest/dynamic/instance-identity/signature"}
    assert all(r.headers.get("x-aws-ec2-metadata-token") in state.tokens for r in gets)


def test_aws_document_signature_checks_with_openssl(signer: tuple[Any, Path],
                                                    tmp_path: Path) -> None:
    state = imds_for(signer)
    with serve(state) as base:
        token = aws.prepare(aws_record(iidRoots=str(signer[1])),
                            ctx(aws_metadata_url=base)).mint(TokenRequest(subject="x"))
    claims = b64url_json(token.split(".")[1])
    (tmp_path / "doc").write_bytes(base64.b64decode(claims["amazon"]["document"]))
    (tmp_path / "sig").write_bytes(base64.b64decode(claims["amazon"]["signature"]))
    subprocess.run(["openssl", "x509", "-in", str(signer[1]), "-pubkey", "-noout", "-out",
                    str(tmp_path / "pub")], check=True)
    out = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(tmp_path / "pub"),
                          "-signature", str(tmp_path / "sig"), str(tmp_path / "doc")],
                         capture_output=True, text=True)
    assert out.stdout.strip() == "Verified OK"


def test_aws_falls_back_to_v1_when_allowed(signer: tuple[Any, Path]) -> None:
    state = imds_for(signer, v2=False)
    with serve(state) as base:
        token = aws.prepare(aws_record(iidRoots=str(signer[1])),
                            ctx(aws_metadata_url=base)).mint(TokenRequest(subject="x"))
        assert b64url_json(token.split(".")[1])["iss"] == "ec2.amazonaws.com"
        assert any(r.method == "GET" and "x-aws-ec2-metadata-token" not in r.headers
                   for r in state.requests)
        with pytest.raises(ProvisionerError, match="IMDSv2 status 403"):
            aws.prepare(aws_record(iidRoots=str(signer[1]), imdsVersions=["v2"]),
                        ctx(aws_metadata_url=base)).mint(TokenRequest(subject="x"))


def test_aws_v1_only_provisioner_against_v2_only_instance(signer: tuple[Any, Path]) -> None:
    state = imds_for(signer, v1=False)
    with serve(state) as base:
        minter = aws.prepare(aws_record(iidRoots=str(signer[1]), imdsVersions=["v1"]),
                             ctx(aws_metadata_url=base))
        with pytest.raises(ProvisionerError, match="IMDSv1 status 401"):
            minter.mint(TokenRequest(subject="x"))


def test_aws_signature_from_another_key_is_refused(signer: tuple[Any, Path]) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    doc = json.dumps(DOC).encode()
    state = IMDS(document=doc, signature_b64=sign_doc(other, doc))
    with serve(state) as base:
        for rec in (aws_record(iidRoots=str(signer[1])), aws_record()):  # built-in AWS certs
            with pytest.raises(ProvisionerError,
                               match=r"^error validating identity document signature$"):
                aws.prepare(rec, ctx(aws_metadata_url=base)).mint(TokenRequest(subject="x"))


def test_aws_builtin_certificates_are_step_cas() -> None:
    certs = aws.load_certificates(None)
    assert len(certs) == 5
    assert all(c.public_key().key_size == 1024 for c in certs)


def test_aws_bad_imds_versions_and_missing_roots(tmp_path: Path) -> None:
    with pytest.raises(ProvisionerError, match="v3: not a supported"):
        aws.prepare(aws_record(imdsVersions=["v3"]), ctx())
    with pytest.raises(Exception, match="error reading"):
        aws.prepare(aws_record(iidRoots=str(tmp_path / "none.pem")), ctx())


def _closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_absent_metadata_service_fails_fast(signer: tuple[Any, Path]) -> None:
    base = _closed_port()
    cases = [
        (aws, aws_record(iidRoots=str(signer[1])), "aws_metadata_url"),
        (gcp, ProvisionerRecord({"type": "GCP", "name": "g"}), "gcp_metadata_url"),
        (azure, ProvisionerRecord({"type": "Azure", "name": "a"}), "azure_metadata_url"),
    ]
    for module, rec, knob in cases:
        start = time.monotonic()
        with pytest.raises(ProvisionerError, match=r"^no instance metadata service at 127") as ei:
            module.prepare(rec, ctx(**{knob: base})).mint(TokenRequest(subject="x"))
        assert time.monotonic() - start < 1.5
        assert "?" in str(ei.value)  # ends with the question the user can act on


def test_slow_metadata_service_times_out(signer: tuple[Any, Path]) -> None:
    state = IMDS(delay=3.0)
    with serve(state) as base:
        start = time.monotonic()
        with pytest.raises(ProvisionerError, match="did not answer in 2s"):
            gcp.prepare(ProvisionerRecord({"type": "GCP", "name": "g"}),
                        ctx(gcp_metadata_url=base)).mint(TokenRequest(subject="x"))
        assert time.monotonic() - start < 2.9


def test_env_variable_gives_the_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    state = IMDS(gcp_token="from-env")
    with serve(state) as base:
        monkeypatch.setenv("PYSTEP_GCP_METADATA_URL", base)
        tok = gcp.prepare(ProvisionerRecord({"type": "GCP", "name": "g"}), ctx()).mint(
            TokenRequest(subject="x"))
    assert tok == "from-env"


def test_gcp_identity_request() -> None:
    state = IMDS(gcp_token="header.payload.sig")
    with serve(state) as base:
        tok = gcp.prepare(ProvisionerRecord({"type": "GCP", "name": "my prov"}),
                          ctx(gcp_metadata_url=base)).mint(TokenRequest(subject="x"))
    assert tok == "header.payload.sig"  # trimmed
    (seen,) = state.requests
    assert seen.method == "GET" and seen.headers["metadata-flavor"] == "Google"
    import urllib.parse

    url = urllib.parse.urlsplit(seen.path)
    assert url.path == "/computeMetadata/v1/instance/service-accounts/default/identity"
    assert urllib.parse.parse_qsl(url.query) == [
        ("audience", "https://ca.example.com:9000/1.0/sign#gcp/my%20prov"),
        ("format", "full"), ("licenses", "FALSE")]


def test_gcp_offline_audience_and_4xx() -> None:
    state = IMDS(status_override=403)
    with serve(state) as base:
        minter = gcp.prepare(ProvisionerRecord({"type": "GCP", "name": "g"}),
                             ctx("https://ca.internal", gcp_metadata_url=base))
        msg = r"^error on identity request: status=403, response=denied by test$"
        with pytest.raises(ProvisionerError, match=msg):
            minter.mint(TokenRequest(subject="x"))
    assert "audience=https%3A%2F%2Fca.internal%2F1.0%2Fsign%23gcp%2Fg" in state.requests[0].path


@pytest.mark.parametrize(
    ("environment", "resource"),
    [("AzurePublicCloud", "https://management.azure.com/"),
     ("AzureUSGovernmentCloud", "https://management.usgovcloudapi.net/"),
     ("AZURECHINACLOUD", "https://management.chinacloudapi.cn/"),
     ("AzureGermanCloud", "https://management.microsoftazure.de/"),
     ("AzureStackHub", "https://management.azure.com/")],
)
def test_azure_token_for_the_vm_cloud(environment: str, resource: str) -> None:
    state = IMDS(azure_environment=environment)
    with serve(state) as base:
        rec = ProvisionerRecord({"type": "Azure", "name": "az", "tenantID": "t"})
        tok = azure.prepare(rec, ctx(azure_metadata_url=base)).mint(TokenRequest(subject="x"))
    assert tok == f"azure-token-for:{resource}"
    env_req, token_req = state.requests
    assert env_req.path == ("/metadata/instance/compute/azEnvironment"
                            "?api-version=2021-02-01&format=text")
    assert token_req.path.startswith("/metadata/identity/oauth2/token?api-version=2018-02-01&")
    assert all(r.headers["metadata"] == "true" for r in state.requests)


def test_azure_4xx() -> None:
    state = IMDS(status_override=400)
    with serve(state) as base:
        rec = ProvisionerRecord({"type": "Azure", "name": "az"})
        with pytest.raises(ProvisionerError, match=r"^error getting identity token: status=400"):
            azure.prepare(rec, ctx(azure_metadata_url=base)).mint(TokenRequest(subject="x"))
