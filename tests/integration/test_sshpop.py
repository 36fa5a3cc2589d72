"""SSHPOP tokens against the real step-ca 0.19: an SSH host certificate is obtained with a
JWK `--ssh --host` token (pystep), then renewed, rekeyed and revoked with SSHPOP tokens.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.conftest import RunPystep
from tests.harness.stepca import StepCA
from tests.integration.test_x5c import _fails, claims_of, ok_token, pystep_token

HOST = "host.pystep.test"


def host_cert(step_ca: StepCA, run_pystep: RunPystep, out: Path, passphrase: str = "") -> int:
    """ssh-keygen key out/host (+ out/host-cert.pub from the CA); returns the serial."""
    key = out / "host"
    subprocess.run(["ssh-keygen", "-q", "-t", "ecdsa", "-b", "256", "-N", passphrase,
                    "-f", str(key)], check=True, timeout=30)
    args: list[str | Path] = ["--ssh", "--host", "--principal", HOST, "--provisioner", "admin",
            "--password-file", step_ca.password_file]
    token = ok_token(pystep_token(run_pystep, step_ca, HOST, *args))
    public = (out / "host.pub").read_text()
    result = step_ca.ssh_sign(token, "host", [HOST], HOST, public)
    assert result.status == 201, result.body
    assert result.certificate is not None
    wire = result.certificate.public_bytes()
    (out / "host-cert.pub").write_bytes(wire + b"\n")
    return int(result.certificate.serial)


def sshpop_args(out: Path, op: str) -> list[str | Path]:
    return ["--ssh", op, "--provisioner", "sshpop",
            "--sshpop-cert", out / "host-cert.pub", "--sshpop-key", out / "host"]


def test_renew_rekey_revoke(step_ca: StepCA, run_pystep: RunPystep, tmp_path: Path) -> None:
    serial = host_cert(step_ca, run_pystep, tmp_path)

    token = ok_token(pystep_token(run_pystep, step_ca, HOST, *sshpop_args(tmp_path, "--renew")))
    header, claims = claims_of(token)
    assert "sshpop" in header
    assert claims["aud"] == f"{step_ca.url}/1.0/ssh/renew#sshpop/sshpop"
    assert set(claims) == {"aud", "exp", "iat", "iss", "jti", "nbf", "sha", "sub"}
    renewed = step_ca.ssh_renew(token)
    assert renewed.status == 201, renewed.body

    token = ok_token(pystep_token(run_pystep, step_ca, HOST, *sshpop_args(tmp_path, "--rekey")))
    new_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    rekeyed = step_ca.ssh_rekey(token, new_key)
    assert rekeyed.status == 201, rekeyed.body
    assert rekeyed.certificate is not None
    assert rekeyed.certificate.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ) == new_key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)

    args = sshpop_args(tmp_path, "--revoke")
    token = ok_token(pystep_token(run_pystep, step_ca, str(serial), *args))
    assert claims_of(token)[1]["aud"] == f"{step_ca.url}/1.0/ssh/revoke#sshpop/sshpop"
    status, body = step_ca.ssh_revoke(token, serial)
    assert status == 200, body


def test_encrypted_openssh_key_offline(
    step_ca: StepCA, run_pystep: RunPystep, tmp_path: Path
) -> None:
    host_cert(step_ca, run_pystep, tmp_path, passphrase="hostpass")
    (tmp_path / "pw").write_text("hostpass")
    args = [*sshpop_args(tmp_path, "--renew"), "--offline", "--password-file", tmp_path / "pw"]
    token = ok_token(pystep_token(run_pystep, step_ca, HOST, *args))
    assert claims_of(token)[1]["aud"] == "https://127.0.0.1/ssh/renew#sshpop/sshpop"
    assert step_ca.ssh_renew(token).status == 201


@pytest.mark.parametrize("flags", [[], ["--ssh"], ["--ssh", "--host"], ["--revoke"]])
def test_sign_kinds_refused(
    step_ca: StepCA, run_pystep: RunPystep, tmp_path: Path, flags: list[str]
) -> None:
    host_cert(step_ca, run_pystep, tmp_path)
    args: list[str | Path] = [*flags, "--provisioner", "sshpop",
                              "--sshpop-cert", tmp_path / "host-cert.pub",
                              "--sshpop-key", tmp_path / "host"]
    _fails(pystep_token(run_pystep, step_ca, HOST, *args), "SSHPOP", "--ssh")


def test_key_mismatch(step_ca: StepCA, run_pystep: RunPystep, tmp_path: Path) -> None:
    host_cert(step_ca, run_pystep, tmp_path)
    other = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "other").write_bytes(other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption()))
    args = sshpop_args(tmp_path, "--renew")
    args[-1] = tmp_path / "other"
    _fails(pystep_token(run_pystep, step_ca, HOST, *args), "private key does not match")


def test_not_a_certificate(step_ca: StepCA, run_pystep: RunPystep, tmp_path: Path) -> None:
    host_cert(step_ca, run_pystep, tmp_path)
    args = sshpop_args(tmp_path, "--renew")
    args[args.index("--sshpop-cert") + 1] = tmp_path / "host.pub"
    _fails(pystep_token(run_pystep, step_ca, HOST, *args), "ssh certificate")
