"""Nebula tokens against the real step-ca 0.19; the Nebula CA and host certificates are
made by `nebula-cert` (tests/harness/extras/nebula.py)."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from tests.ci import tools_mark
from tests.conftest import RunPystep
from tests.harness.extras import nebula as extra
from tests.harness.stepca import StepCA
from tests.integration.test_x5c import _fails, claims_of, ok_token, pystep_token

pytestmark = tools_mark("nebula-cert", why="Debian package nebula")
HOST, IP = extra.HOST_NAME, extra.HOST_IP


def nebula_args(step_ca: StepCA, cert: str = "host", key: str = "host") -> list[str | Path]:
    d = extra.paths(step_ca.workdir)
    return ["--provisioner", extra.NAME,
            "--nebula-cert", d / f"{cert}.crt", "--nebula-key", d / f"{key}.key"]


def test_sign_201(step_ca: StepCA, run_pystep: RunPystep) -> None:
    args = ["--san", HOST, "--san", IP, *nebula_args(step_ca)]
    token = ok_token(pystep_token(run_pystep, step_ca, HOST, *args))
    header, claims = claims_of(token)
    assert header["alg"] == "XEdDSA" and "nebula" in header
    assert claims["aud"] == f"{step_ca.url}/1.0/sign#nebula/nebula"
    assert claims["sans"] == [HOST, IP]
    result = step_ca.sign(token, HOST, [HOST, IP])
    assert result.status == 201, result.body
    assert sorted(result.sans) == sorted([HOST, IP])


def test_default_sans_and_offline_201(step_ca: StepCA, run_pystep: RunPystep) -> None:
    proc = pystep_token(run_pystep, step_ca, HOST, "--offline", *nebula_args(step_ca))
    token = ok_token(proc)
    assert "warning" not in proc.stderr
    claims = claims_of(token)[1]
    assert claims["sans"] == [HOST]
    assert claims["aud"] == "https://127.0.0.1/sign#nebula/nebula"
    assert step_ca.sign(token, HOST).status == 201


def test_ssh_host_sign_201(step_ca: StepCA, run_pystep: RunPystep) -> None:
    args = ["--ssh", "--host", "--principal", HOST, "--principal", IP, *nebula_args(step_ca)]
    token = ok_token(pystep_token(run_pystep, step_ca, HOST, *args))
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    result = step_ca.ssh_sign(token, "host", [HOST, IP], HOST, key)
    assert result.status == 201, result.body


def test_sans_outside_the_certificate_warn(step_ca: StepCA, run_pystep: RunPystep) -> None:
    proc = pystep_token(run_pystep, step_ca, "elsewhere.pystep.test", *nebula_args(step_ca))
    token = ok_token(proc)
    assert "warning" in proc.stderr and "elsewhere.pystep.test" in proc.stderr
    assert step_ca.sign(token, "elsewhere.pystep.test").status == 403


def test_key_of_another_host(step_ca: StepCA, run_pystep: RunPystep) -> None:
    proc = pystep_token(run_pystep, step_ca, HOST, *nebula_args(step_ca, "host", "other"))
    _fails(proc, "don't match")


def test_not_a_nebula_certificate(step_ca: StepCA, run_pystep: RunPystep) -> None:
    args = nebula_args(step_ca)
    args[args.index("--nebula-cert") + 1] = step_ca.root_path
    _fails(pystep_token(run_pystep, step_ca, HOST, *args), "not a proper nebula certificate")


def test_ssh_renew_refused(step_ca: StepCA, run_pystep: RunPystep) -> None:
    proc = pystep_token(run_pystep, step_ca, HOST, "--ssh", "--renew", *nebula_args(step_ca))
    _fails(proc, "Nebula", "SSH renew")
