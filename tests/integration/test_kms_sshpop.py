"""SSHPOP with the host key in a KMS backend, judged by the real step-ca.

For each backend an SSH host certificate is first obtained for the backend key's public
key: a JWK ``--ssh --host`` token signed *through the backend* (the ``kms-<backend>``
provisioners have the SSH CA enabled), then ``/1.0/ssh/sign``. SSHPOP renew, rekey and
revoke tokens signed through the backend (``--sshpop-key sshagentkms:…`` /
``--sshpop-key pkcs11:…``) must then be accepted: 201, 201, 200.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.conftest import RunPystep
from tests.harness.extras.kms import require, ssh_agent
from tests.harness.stepca import StepCA

OPENSSH = (serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)


def _claims(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    parts = [json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
             for p in token.split(".")[:2]]  # fmt: skip
    return parts[0], parts[1]


def _token(run_pystep: RunPystep, step_ca: StepCA, env: dict[str, str], *args: str) -> str:
    res = run_pystep("ca", "token", *args, env={"STEPPATH": str(step_ca.steppath), **env})
    assert res.returncode == 0, res.stderr
    token = res.stdout.strip()
    assert token.count(".") == 2
    return token


def _host_cert(
    run_pystep: RunPystep, step_ca: StepCA, backend: dict[str, Any], host: str,
    public_line: str, key_args: list[str], out: Path,
) -> int:  # fmt: skip
    """An SSH host certificate for the backend key (JWK token signed through it)."""
    token = _token(run_pystep, step_ca, backend["env"], host, "--ssh", "--host",
                   "--principal", host, "--provisioner", backend["provisioner"],
                   *key_args)  # fmt: skip
    result = step_ca.ssh_sign(token, "host", [host], host, public_line)
    assert result.status == 201, result.body
    assert result.certificate is not None
    assert result.certificate.public_key().public_bytes(*OPENSSH).split()[:2] == \
        public_line.encode().split()[:2]  # fmt: skip
    out.write_bytes(result.certificate.public_bytes() + b"\n")
    return int(result.certificate.serial)


def _renew_rekey_revoke(
    run_pystep: RunPystep, step_ca: StepCA, env: dict[str, str], host: str, serial: int,
    sshpop_args: list[str],
) -> None:  # fmt: skip
    renew = _token(run_pystep, step_ca, env, host, "--ssh", "--renew", *sshpop_args)
    header, claims = _claims(renew)
    assert "sshpop" in header
    assert claims["aud"] == f"{step_ca.url}/1.0/ssh/renew#sshpop/sshpop"
    renewed = step_ca.ssh_renew(renew)
    assert renewed.status == 201, renewed.body

    rekey = _token(run_pystep, step_ca, env, host, "--ssh", "--rekey", *sshpop_args)
    new_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    rekeyed = step_ca.ssh_rekey(rekey, new_key)
    assert rekeyed.status == 201, rekeyed.body
    assert rekeyed.certificate is not None
    assert rekeyed.certificate.public_key().public_bytes(*OPENSSH) == \
        new_key.public_bytes(*OPENSSH)  # fmt: skip

    revoke = _token(run_pystep, step_ca, env, str(serial), "--ssh", "--revoke", *sshpop_args)
    status, body = step_ca.ssh_revoke(revoke, serial)
    assert status == 200, body
    # the revocation was recorded: a second one is refused (step-ca 0.19 still renews a
    # revoked SSH certificate, ca.md §7.3, so renew cannot show it)
    again = _token(run_pystep, step_ca, env, str(serial), "--ssh", "--revoke", *sshpop_args)
    status, body = step_ca.ssh_revoke(again, serial)
    assert status == 400 and "already revoked" in json.dumps(body), body


# --- ssh-agent ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def agent(step_ca: StepCA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    details = require(step_ca.workdir, "sshagent")
    sock = tmp_path_factory.mktemp("agent-sshpop") / "agent.sock"
    with ssh_agent(details["key_file"], sock) as env:
        yield {**details, "env": env}


def test_sshpop_key_in_ssh_agent(
    run_pystep: RunPystep, step_ca: StepCA, agent: dict[str, Any], tmp_path: Path
) -> None:
    host = "agent-host.kms.example.com"
    public_line = Path(agent["key_file"] + ".pub").read_text()
    cert = tmp_path / "host-cert.pub"
    serial = _host_cert(run_pystep, step_ca, agent, host, public_line,
                        ["--key", agent["key"]], cert)  # fmt: skip
    sshpop = ["--provisioner", "sshpop", "--sshpop-cert", str(cert),
              "--sshpop-key", agent["key"]]  # fmt: skip
    _renew_rekey_revoke(run_pystep, step_ca, agent["env"], host, serial, sshpop)


def test_sshpop_agent_key_by_comment_relative_to_kms(
    run_pystep: RunPystep, step_ca: StepCA, agent: dict[str, Any], tmp_path: Path
) -> None:
    """``--kms sshagentkms: --sshpop-key <comment>``: a renew token the CA accepts."""
    host = "agent-host2.kms.example.com"
    public_line = Path(agent["key_file"] + ".pub").read_text()
    cert = tmp_path / "host-cert.pub"
    _host_cert(run_pystep, step_ca, agent, host, public_line, ["--key", agent["key"]], cert)
    comment = agent["key"].split(":", 1)[1]
    token = _token(run_pystep, step_ca, agent["env"], host, "--ssh", "--renew",
                   "--provisioner", "sshpop", "--sshpop-cert", str(cert),
                   "--kms", "sshagentkms:", "--sshpop-key", comment)  # fmt: skip
    assert step_ca.ssh_renew(token).status == 201


# --- PKCS#11 (SoftHSM2) ------------------------------------------------------------------


def test_sshpop_key_in_pkcs11(run_pystep: RunPystep, step_ca: StepCA, tmp_path: Path) -> None:
    hsm = require(step_ca.workdir, "pkcs11")
    host = "hsm-host.kms.example.com"
    # the HSM key's public key, from the X5C leaf the token stores for it
    leaf = x509.load_pem_x509_certificate(Path(hsm["x5c_leaf"]).read_bytes())
    public_line = leaf.public_key().public_bytes(*OPENSSH).decode()
    cert = tmp_path / "host-cert.pub"
    kms = ["--kms", hsm["kms_with_pin"]]
    serial = _host_cert(run_pystep, step_ca, hsm, host, public_line,
                        [*kms, "--key", hsm["key"]], cert)  # fmt: skip
    sshpop = ["--provisioner", "sshpop", "--sshpop-cert", str(cert), *kms,
              "--sshpop-key", hsm["key"]]  # fmt: skip
    _renew_rekey_revoke(run_pystep, step_ca, hsm["env"], host, serial, sshpop)


def test_sshpop_wrong_kms_key_is_refused(
    run_pystep: RunPystep, step_ca: StepCA, agent: dict[str, Any], tmp_path: Path
) -> None:
    """Control: a certificate for the agent key with the HSM key as --sshpop-key is refused
    by pystep before anything is signed (the keys differ)."""
    hsm = require(step_ca.workdir, "pkcs11")
    host = "agent-host3.kms.example.com"
    public_line = Path(agent["key_file"] + ".pub").read_text()
    cert = tmp_path / "host-cert.pub"
    _host_cert(run_pystep, step_ca, agent, host, public_line, ["--key", agent["key"]], cert)
    res = run_pystep("ca", "token", host, "--ssh", "--renew", "--provisioner", "sshpop",
                     "--sshpop-cert", str(cert), "--kms", hsm["kms_with_pin"],
                     "--sshpop-key", hsm["key"],
                     env={"STEPPATH": str(step_ca.steppath), **hsm["env"]})  # fmt: skip
    assert res.returncode == 1 and res.stdout == ""
    assert "does not match" in res.stderr
    assert hsm["pin"] not in res.stderr
