"""X5C tokens from `pystep ca token`, judged by the real step-ca 0.19.

The provisioner `x5c` and its PKI come from tests/harness/extras/x5c.py.
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.conftest import RunPystep
from tests.harness.extras import x5c as extra
from tests.harness.stepca import StepCA

CN = extra.LEAF_CN


def claims_of(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    head, body, _ = token.split(".")
    return _b64json(head), _b64json(body)


def _b64json(part: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return value


def pystep_token(
    run_pystep: RunPystep, step_ca: StepCA, *args: str | Path
) -> subprocess.CompletedProcess[str]:
    return run_pystep("ca", "token", *args, env={"STEPPATH": str(step_ca.steppath)})


def x5c_args(step_ca: StepCA, leaf: str = "good", key: str | None = None) -> list[str | Path]:
    d = extra.paths(step_ca.workdir)
    return [
        "--provisioner", extra.NAME,
        "--x5c-cert", d / f"{leaf}.crt",
        "--x5c-key", d / f"{key or leaf}.key",
        "--password-file", d / "password.txt",
    ]


def ok_token(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, proc.stderr
    token = proc.stdout.strip()
    assert proc.stdout == token + "\n"
    return token


def test_x5c_sign_201(step_ca: StepCA, run_pystep: RunPystep) -> None:
    token = ok_token(pystep_token(run_pystep, step_ca, CN, *x5c_args(step_ca)))
    header, claims = claims_of(token)
    assert len(header["x5c"]) == 2 and "x5cInsecure" not in header
    assert claims["aud"] == f"{step_ca.url}/1.0/sign#x5c/x5c"
    assert claims["iss"] == "x5c" and claims["sans"] == [CN]
    result = step_ca.sign(token, CN)
    assert result.status == 201, result.body
    assert result.common_name == CN and result.sans == [CN]


def test_x5c_ssh_user_sign_201(step_ca: StepCA, run_pystep: RunPystep) -> None:
    args = ["--ssh", "--principal", "alice", *x5c_args(step_ca)]
    token = ok_token(pystep_token(run_pystep, step_ca, "alice@pystep.test", *args))
    assert claims_of(token)[1]["step"]["ssh"]["principals"] == ["alice"]
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    result = step_ca.ssh_sign(token, "user", ["alice"], "alice@pystep.test", key)
    assert result.status == 201, result.body
    assert result.certificate is not None
    assert result.certificate.valid_principals == [b"alice"]


def test_x5c_revoke_200(step_ca: StepCA, run_pystep: RunPystep) -> None:
    signed = step_ca.sign(ok_token(pystep_token(run_pystep, step_ca, CN, *x5c_args(step_ca))), CN)
    assert signed.status == 201 and signed.certificate is not None
    serial = str(signed.certificate.serial_number)
    token = ok_token(pystep_token(run_pystep, step_ca, serial, "--revoke", *x5c_args(step_ca)))
    assert claims_of(token)[1]["aud"] == f"{step_ca.url}/1.0/revoke#x5c/x5c"
    status, body = step_ca.revoke(token, serial)
    assert status == 200, body


def test_x5c_insecure_header_is_refused_by_the_ca(step_ca: StepCA, run_pystep: RunPystep) -> None:
    # --x5c-insecure moves the chain to x5cInsecure; X5C provisioners need `x5c` (as step).
    proc = pystep_token(run_pystep, step_ca, CN, "--x5c-insecure", *x5c_args(step_ca))
    header, _ = claims_of(ok_token(proc))
    assert "x5c" not in header and len(header["x5cInsecure"]) == 2
    assert step_ca.sign(proc.stdout.strip(), CN).status == 401


def test_x5c_offline_with_ca_json_201(step_ca: StepCA, run_pystep: RunPystep) -> None:
    token = ok_token(pystep_token(run_pystep, step_ca, CN, "--offline", *x5c_args(step_ca)))
    assert claims_of(token)[1]["aud"] == "https://127.0.0.1/sign#x5c/x5c"
    assert step_ca.sign(token, CN).status == 201


def _fails(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    assert proc.returncode != 0
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    for word in words:
        assert word in last, proc.stderr


def test_mismatched_key_and_cert(step_ca: StepCA, run_pystep: RunPystep) -> None:
    proc = pystep_token(run_pystep, step_ca, CN, *x5c_args(step_ca, "good", key="other"))
    _fails(proc, "private key does not match public key")


def test_leaf_without_digital_signature(step_ca: StepCA, run_pystep: RunPystep) -> None:
    proc = pystep_token(run_pystep, step_ca, CN, *x5c_args(step_ca, "nods"))
    _fails(proc, "not approved for digital signature")


def test_expired_leaf(step_ca: StepCA, run_pystep: RunPystep) -> None:
    proc = pystep_token(run_pystep, step_ca, CN, *x5c_args(step_ca, "expired"))
    _fails(proc, "expired")


def test_wrong_provisioner_kind(step_ca: StepCA, run_pystep: RunPystep) -> None:
    args = x5c_args(step_ca)
    args[1] = "admin"  # a JWK provisioner: the X5C type filter leaves no such name
    _fails(pystep_token(run_pystep, step_ca, CN, *args), "--provisioner")


@pytest.mark.parametrize("which", ["--x5c-cert", "--x5c-key"])
def test_unreadable_files(step_ca: StepCA, run_pystep: RunPystep, which: str) -> None:
    args = x5c_args(step_ca)
    args[args.index(which) + 1] = step_ca.workdir / "no-such-file.pem"
    _fails(pystep_token(run_pystep, step_ca, CN, *args), "no-such-file.pem")


def test_wrong_password(step_ca: StepCA, run_pystep: RunPystep, tmp_path: Path) -> None:
    bad = tmp_path / "bad-password.txt"
    bad.write_text("not-the-password")
    args = x5c_args(step_ca)
    args[args.index("--password-file") + 1] = bad
    proc = pystep_token(run_pystep, step_ca, CN, *args)
    assert proc.returncode != 0 and proc.stdout == "" and "Traceback" not in proc.stderr
