"""The harness itself: the real step-ca runs and judges tokens made independently.

Tokens here are built with jwcrypto only (never with pystep), following
spec/client.md §6, so that a pystep bug cannot make these tests pass.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwcrypto import jwa, jwe, jwk, jwt

from tests.harness.stepca import StepCA

REPO = Path(__file__).resolve().parents[2]
FIXTURE_CA_JSON = REPO / "tests" / "fixtures" / "step-v0.19" / "pki" / "ca.json"


def decrypt_provisioner_key(encrypted_key: str, password: str = "password") -> jwk.JWK:
    """Decrypt a provisioner's compact-JWE encryptedKey with jwcrypto."""
    header = json.loads(base64.urlsafe_b64decode(encrypted_key.split(".")[0] + "=="))
    jwa.default_max_pbkdf2_iterations = max(jwa.default_max_pbkdf2_iterations, header["p2c"])
    token = jwe.JWE()
    token.deserialize(encrypted_key, key=jwk.JWK.from_password(password))
    return jwk.JWK.from_json(token.payload.decode())


def make_token(
    ca: StepCA,
    provisioner: str,
    key: jwk.JWK,
    sub: str,
    *,
    sans: list[str] | None = None,
    aud_path: str = "/1.0/sign",
    extra: dict[str, Any] | None = None,
    header: dict[str, Any] | None = None,
) -> str:
    """A one-time token like `step ca token` makes (spec client.md §6)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": provisioner,
        "sub": sub,
        "aud": f"{ca.url}{aud_path}",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": secrets.token_hex(32),
        "sha": ca.root_fingerprint,
    }
    if sans is not None:
        claims["sans"] = sans
    claims.update(extra or {})
    alg = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}[key.get("crv")]
    hdr = {"alg": alg, "typ": "JWT", "kid": key.get("kid") or key.thumbprint()}
    hdr.update(header or {})
    token = jwt.JWT(header=hdr, claims=claims)
    token.make_signed_token(key)
    return str(token.serialize())


@pytest.fixture(scope="module")
def admin_key(step_ca: StepCA) -> jwk.JWK:
    return decrypt_provisioner_key(step_ca.provisioners["admin"]["encryptedKey"])


def test_ca_is_healthy_and_serves_our_root(step_ca: StepCA) -> None:
    assert step_ca.is_running()
    assert step_ca.get("/health") == (200, {"status": "ok"})
    status, body = step_ca.get(f"/root/{step_ca.root_fingerprint}")
    assert status == 200
    assert body["ca"].encode() == step_ca.root_path.read_bytes()
    defaults = json.loads((step_ca.steppath / "config" / "defaults.json").read_text())
    assert defaults["ca-url"] == step_ca.url
    assert defaults["fingerprint"] == step_ca.root_fingerprint
    assert Path(defaults["root"]).read_bytes() == step_ca.root_path.read_bytes()
    assert step_ca.password_file.read_text() == "password"


def test_provisioners_listing_is_paginated(step_ca: StepCA) -> None:
    status, first = step_ca.get("/provisioners?limit=2")
    assert status == 200
    assert len(first["provisioners"]) == 2
    assert first["nextCursor"]
    names = [p["name"] for p in step_ca.list_provisioners(limit=2)]
    assert names == list(step_ca.provisioners)  # every one, in ca.json order
    for expected in ("admin", "jwk-600k", "jwk-p384", "jwk-rsa", "pem-ec", "pem-ed25519"):
        assert expected in names
    real = {
        p["name"]: p for p in json.loads(FIXTURE_CA_JSON.read_text())["authority"]["provisioners"]
    }
    listed = {p["name"]: p for p in step_ca.list_provisioners()}
    assert listed["admin"]["encryptedKey"] == real["admin"]["encryptedKey"]
    assert listed["admin"]["key"] == real["admin"]["key"]


def test_jwk_token_is_accepted_once(step_ca: StepCA, admin_key: jwk.JWK) -> None:
    kid = step_ca.provisioners["admin"]["key"]["kid"]
    assert admin_key.thumbprint() == kid
    sans = ["harness.example.com", "127.0.0.9"]
    token = make_token(step_ca, "admin", admin_key, "harness.example.com", sans=sans)
    first = step_ca.sign(token, "harness.example.com", sans)
    assert first.status == 201, (first.body, step_ca.log_tail())
    assert first.common_name == "harness.example.com"
    assert sorted(first.sans) == sorted(sans)
    assert (
        first.chain[1].subject
        == x509.load_pem_x509_certificate(step_ca.pki.intermediate_cert.read_bytes()).subject
    )
    replay = step_ca.sign(token, "harness.example.com", sans)
    assert replay.status == 401
    assert "token already used" in step_ca.log_tail(5)


def test_token_signed_with_another_key_is_refused(step_ca: StepCA) -> None:
    kid = step_ca.provisioners["admin"]["key"]["kid"]
    impostor = jwk.JWK.generate(kty="EC", crv="P-256")
    token = make_token(step_ca, "admin", impostor, "x.example.com", header={"kid": kid})
    assert step_ca.sign(token, "x.example.com").status == 401


def test_600k_provisioner_key_decrypts_and_signs(step_ca: StepCA) -> None:
    record = step_ca.provisioners["jwk-600k"]
    header = json.loads(base64.urlsafe_b64decode(record["encryptedKey"].split(".")[0] + "=="))
    assert header["p2c"] == 600_000
    assert header["alg"] == "PBES2-HS256+A128KW"
    assert header["enc"] == "A256GCM"
    assert header["cty"] == "jwk+json"
    key = decrypt_provisioner_key(record["encryptedKey"])
    assert key.thumbprint() == record["key"]["kid"]
    token = make_token(step_ca, "jwk-600k", key, "k600.example.com", sans=["k600.example.com"])
    result = step_ca.sign(token, "k600.example.com")
    assert result.status == 201, (result.body, step_ca.log_tail())
    assert result.sans == ["k600.example.com"]


def test_revoke_with_token_uses_the_db(step_ca: StepCA, admin_key: jwk.JWK) -> None:
    token = make_token(step_ca, "admin", admin_key, "rev.example.com", sans=["rev.example.com"])
    signed = step_ca.sign(token, "rev.example.com")
    assert signed.status == 201 and signed.certificate is not None
    serial = str(signed.certificate.serial_number)
    revoke_token = make_token(step_ca, "admin", admin_key, serial, aud_path="/1.0/revoke")
    assert step_ca.revoke(revoke_token, serial) == (200, {"status": "ok"})
    again = make_token(step_ca, "admin", admin_key, serial, aud_path="/1.0/revoke")
    status, body = step_ca.revoke(again, serial)
    assert status == 400 and "already revoked" in body["message"]


def test_ssh_user_certificate(step_ca: StepCA, admin_key: jwk.JWK) -> None:
    user_key = ec.generate_private_key(ec.SECP256R1())
    step = {
        "ssh": {
            "certType": "user",
            "keyID": "alice@example.com",
            "principals": ["alice"],
            "validAfter": "",
            "validBefore": "",
        }
    }
    token = make_token(
        step_ca,
        "admin",
        admin_key,
        "alice@example.com",
        aud_path="/1.0/ssh/sign",
        extra={"step": step},
    )
    result = step_ca.ssh_sign(token, "user", ["alice"], "alice@example.com", user_key.public_key())
    assert result.status == 201, (result.body, step_ca.log_tail())
    cert = result.certificate
    assert cert is not None
    assert cert.valid_principals == [b"alice"]
    assert cert.key_id == b"alice@example.com"
    assert cert.type == serialization.SSHCertificateType.USER
    user_ca = serialization.load_ssh_public_key(step_ca.pki.ssh_user_public.read_bytes())
    cert.verify_cert_signature()
    assert cert.signature_key().public_numbers() == user_ca.public_numbers()  # type: ignore[union-attr]


def test_renew_with_bearer_token(step_ca: StepCA, admin_key: jwk.JWK) -> None:
    token = make_token(step_ca, "admin", admin_key, "renew.example.com", sans=["renew.example.com"])
    signed = step_ca.sign(token, "renew.example.com")
    assert signed.status == 201 and signed.key is not None
    leaf_key = jwk.JWK.from_pem(
        signed.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    chain = [
        base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode() for c in signed.chain
    ]
    renew = make_token(
        step_ca,
        "step-ca-client/1.0",
        leaf_key,
        "renew.example.com",
        aud_path="/1.0/renew",
        header={"x5cInsecure": chain},
    )
    renewed = step_ca.renew_with_token(renew)
    assert renewed.status == 201, (renewed.body, step_ca.log_tail())
    assert renewed.certificate is not None and signed.certificate is not None
    assert renewed.certificate.serial_number != signed.certificate.serial_number
    assert renewed.sans == ["renew.example.com"]


def _pytest_without_ca(env_ci: str | None, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYSTEP_STEP_CA", "CI")}
    env["PYSTEP_BUILD_DIR"] = str(tmp_path / "no-build")
    if env_ci is not None:
        env["CI"] = env_ci
    test = "tests/integration/test_harness.py::test_ca_is_healthy_and_serves_our_root"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_without_binary_tests_are_skipped_with_instructions(tmp_path: Path) -> None:
    run = _pytest_without_ca(None, tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 skipped" in run.stdout
    assert "scripts/build-step-ca.sh" in run.stdout and "PYSTEP_STEP_CA" in run.stdout


def test_without_binary_ci_fails_loudly(tmp_path: Path) -> None:
    run = _pytest_without_ca("true", tmp_path)
    assert run.returncode != 0
    assert "skipped" not in run.stdout
    assert "CI=true" in run.stdout + run.stderr


def test_custom_provisioner_list_and_extra(step_ca: StepCA, tmp_path: Path) -> None:
    """A second, separate CA built from an explicit list plus `extra` entries."""
    from tests.harness.provisioners import corpus_provisioners, make_jwk_provisioner_p2c
    from tests.harness.stepca import start_step_ca

    extra = make_jwk_provisioner_p2c("tiny", tmp_path, p2c=1000)
    with start_step_ca(
        tmp_path, provisioners=corpus_provisioners(["admin"]), extra=[extra], discover_extras=False
    ) as ca:
        assert ca.url != step_ca.url
        assert [p["name"] for p in ca.list_provisioners()] == ["admin", "tiny"]
        key = decrypt_provisioner_key(extra["encryptedKey"])
        token = make_token(ca, "tiny", key, "tiny.example.com", sans=["tiny.example.com"])
        assert ca.sign(token, "tiny.example.com").status == 201
    assert not ca.is_running()


def test_bad_config_fails_with_the_ca_log(tmp_path: Path) -> None:
    from tests.harness.stepca import StepCAError, start_step_ca

    broken = {"type": "JWK", "name": "broken"}  # no key: step-ca refuses to start
    with pytest.raises(StepCAError) as err:
        start_step_ca(tmp_path, provisioners=[broken], discover_extras=False, timeout=20)
    assert "exited with code" in str(err.value)
    assert "step-ca.log" in str(err.value)
