"""Renew tokens (`--renew --x5c-cert crt --x5c-key key`) against the real step-ca 0.19.

Certificates to renew are obtained from the CA with JWK tokens minted by pystep for the
provisioners of tests/harness/extras/renew.py, and written as step writes them
(leaf + intermediate bundle, key in PEM).
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from tests.conftest import RunPystep
from tests.harness.client import SignResult
from tests.harness.extras import renew as extra
from tests.harness.stepca import StepCA
from tests.integration.test_x5c import _fails, claims_of, ok_token, pystep_token

CN = "renew.pystep.test"


def obtain_cert(
    step_ca: StepCA, run_pystep: RunPystep, out: Path, provisioner: str, *,
    not_after: str | None = None, password: bytes | None = None,
) -> SignResult:
    """A certificate from the CA (JWK token by pystep); writes out/{leaf.crt,leaf.key}."""
    key = extra.key_path(step_ca.workdir, provisioner)
    token = ok_token(
        pystep_token(run_pystep, step_ca, CN, "--provisioner", provisioner, "--key", key)
    )
    result = step_ca.sign(token, CN, not_after=not_after)
    assert result.status == 201, result.body
    pem = serialization.Encoding.PEM
    (out / "leaf.crt").write_bytes(b"".join(c.public_bytes(pem) for c in result.chain))
    assert result.key is not None
    enc: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password) if password else
        serialization.NoEncryption()
    )
    (out / "leaf.key").write_bytes(
        result.key.private_bytes(pem, serialization.PrivateFormat.TraditionalOpenSSL, enc)
    )
    return result


def renew_args(out: Path) -> list[str | Path]:
    return ["--renew", "--x5c-cert", out / "leaf.crt", "--x5c-key", out / "leaf.key"]


def test_renew_201(step_ca: StepCA, run_pystep: RunPystep, tmp_path: Path) -> None:
    old = obtain_cert(step_ca, run_pystep, tmp_path, "renew-strict")
    token = ok_token(pystep_token(run_pystep, step_ca, CN, *renew_args(tmp_path)))
    header, claims = claims_of(token)
    assert len(header["x5cInsecure"]) == 2
    assert claims["iss"] == "step-ca-client/1.0" and claims["sub"] == CN
    assert claims["aud"] == f"{step_ca.url}/1.0/renew"
    assert not {"jti", "sha", "sans", "user"} & set(claims)
    assert claims["exp"] - claims["iat"] == 300 and claims["nbf"] == claims["iat"]
    new = step_ca.renew_with_token(token)
    assert new.status == 201, new.body
    assert new.common_name == CN and old.certificate is not None and new.certificate is not None
    assert new.certificate.serial_number != old.certificate.serial_number


def test_renew_without_subject_and_encrypted_key(
    step_ca: StepCA, run_pystep: RunPystep, tmp_path: Path
) -> None:
    obtain_cert(step_ca, run_pystep, tmp_path, "renew-strict", password=b"s3cret")
    (tmp_path / "pw").write_text("s3cret\n")
    args = [*renew_args(tmp_path), "--password-file", tmp_path / "pw"]
    token = ok_token(pystep_token(run_pystep, step_ca, "", *args))
    assert claims_of(token)[1]["sub"] == CN
    assert step_ca.renew_with_token(token).status == 201


def test_renew_offline_audience_201(
    step_ca: StepCA, run_pystep: RunPystep, tmp_path: Path
) -> None:
    obtain_cert(step_ca, run_pystep, tmp_path, "renew-strict")
    token = ok_token(pystep_token(run_pystep, step_ca, CN, "--offline", *renew_args(tmp_path)))
    assert claims_of(token)[1]["aud"] == "https://127.0.0.1/renew"
    assert step_ca.renew_with_token(token).status == 201


@pytest.mark.parametrize(("provisioner", "status"),
                         [("renew-after-expiry", 201), ("renew-strict", 401)])
def test_renew_after_expiry(
    step_ca: StepCA, run_pystep: RunPystep, tmp_path: Path, provisioner: str, status: int
) -> None:
    not_after = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3)
    old = obtain_cert(step_ca, run_pystep, tmp_path, provisioner,
                      not_after=not_after.strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert old.certificate is not None
    # step-ca compares with its clock truncated to the second: wait a full second more.
    expired_at = old.certificate.not_valid_after_utc + dt.timedelta(seconds=1.2)
    while dt.datetime.now(dt.UTC) <= expired_at:
        time.sleep(0.5)
    token = ok_token(pystep_token(run_pystep, step_ca, CN, *renew_args(tmp_path)))
    result = step_ca.renew_with_token(token)
    assert result.status == status, result.body


def test_subject_must_match_cn(step_ca: StepCA, run_pystep: RunPystep, tmp_path: Path) -> None:
    obtain_cert(step_ca, run_pystep, tmp_path, "renew-strict")
    proc = pystep_token(run_pystep, step_ca, "other.pystep.test", *renew_args(tmp_path))
    _fails(proc, "positional argument other.pystep.test must match the certificate common name")


def test_renew_key_mismatch(step_ca: StepCA, run_pystep: RunPystep, tmp_path: Path) -> None:
    obtain_cert(step_ca, run_pystep, tmp_path, "renew-strict")
    args = renew_args(tmp_path)
    args[-1] = extra.key_path(step_ca.workdir, "renew-strict")
    _fails(pystep_token(run_pystep, step_ca, CN, *args), "private key does not match")


def test_renew_missing_cert_file(step_ca: StepCA, run_pystep: RunPystep, tmp_path: Path) -> None:
    args = renew_args(tmp_path)  # nothing written there
    _fails(pystep_token(run_pystep, step_ca, CN, *args), "leaf.crt")
