"""Tokens signed through each KMS backend that runs here, judged by the real step-ca.

The session CA has one JWK provisioner per backend (tests/harness/extras/kms.py) whose
public key is a key that exists only inside that backend (SoftHSM2 token, ssh-agent,
swtpm, moto's AWS KMS). ``pystep ca token`` signs through the backend; the CA must
answer 201 to /1.0/sign with the token.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RunPystep
from tests.harness.extras.kms import require, ssh_agent
from tests.harness.stepca import StepCA


def _header(token: str) -> dict[str, Any]:
    head = token.split(".")[0]
    result: dict[str, Any] = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    return result


def mint(
    run_pystep: RunPystep,
    step_ca: StepCA,
    details: dict[str, Any],
    subject: str,
    *args: str,
    env: dict[str, str] | None = None,
    provisioner: str | None = None,
) -> str:
    res = run_pystep(
        "ca", "token", subject,
        "--provisioner", provisioner or details["provisioner"], *args,
        env={"STEPPATH": str(step_ca.steppath), **details.get("env", {}), **(env or {})},
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    token = res.stdout.strip()
    assert token.count(".") == 2 and "\n" not in token
    return token


def assert_accepted(step_ca: StepCA, token: str, subject: str, kid: str | None) -> None:
    if kid is not None:
        assert _header(token)["kid"] == kid
    result = step_ca.sign(token, subject)
    assert result.status == 201, result.body
    assert result.certificate is not None
    assert result.common_name == subject


# --- PKCS#11 (SoftHSM2) ------------------------------------------------------------------


@pytest.fixture(scope="module")
def hsm(step_ca: StepCA) -> dict[str, Any]:
    return require(step_ca.workdir, "pkcs11")


def test_pkcs11_pin_in_kms_uri(run_pystep: RunPystep, step_ca: StepCA, hsm: dict[str, Any]) -> None:
    subject = "pkcs11.kms.example.com"
    token = mint(run_pystep, step_ca, hsm, subject, "--kms", hsm["kms_with_pin"],
                 "--key", hsm["key"])  # fmt: skip
    assert_accepted(step_ca, token, subject, hsm["kid"])


def test_pkcs11_full_key_uri_with_pin_source(
    run_pystep: RunPystep, step_ca: StepCA, hsm: dict[str, Any], tmp_path: Path
) -> None:
    """No --kms: the key URI carries module, token and a PIN file."""
    pin_file = tmp_path / "pin"
    pin_file.write_text(hsm["pin"] + "\n")
    key = (
        f"pkcs11:module-path={hsm['module']};token={hsm['token']};id=%a1"
        f"?pin-source={pin_file}"
    )
    subject = "pkcs11-src.kms.example.com"
    token = mint(run_pystep, step_ca, hsm, subject, "--key", key)
    assert_accepted(step_ca, token, subject, hsm["kid"])


def test_pkcs11_token_used_twice_is_refused(
    run_pystep: RunPystep, step_ca: StepCA, hsm: dict[str, Any]
) -> None:
    """The acceptance is the CA's own judgement: a replayed token is refused."""
    subject = "pkcs11-ott.kms.example.com"
    token = mint(run_pystep, step_ca, hsm, subject, "--kms", hsm["kms_with_pin"],
                 "--key", hsm["key"])  # fmt: skip
    assert step_ca.sign(token, subject).status == 201
    assert step_ca.sign(token, subject).status == 401


@pytest.mark.parametrize("cert_from", ["file", "token"])
def test_x5c_leaf_key_in_pkcs11(
    run_pystep: RunPystep, step_ca: StepCA, hsm: dict[str, Any], cert_from: str
) -> None:
    """X5C: the leaf key is in the HSM; the certificate is a file or read from the token."""
    cert = hsm["x5c_leaf"] if cert_from == "file" else hsm["key"]
    subject = "kms-x5c.example.com"
    token = mint(
        run_pystep, step_ca, hsm, subject,
        "--kms", hsm["kms_with_pin"], "--x5c-cert", cert, "--x5c-key", hsm["key"],
        provisioner="kms-x5c",
    )  # fmt: skip
    assert "x5c" in _header(token)
    assert_accepted(step_ca, token, subject, None)


@pytest.mark.parametrize("cert_from", ["token+chain-file", "bundle-file"])
def test_x5c_leaf_in_pkcs11_intermediate_from_chain_file(
    run_pystep: RunPystep, step_ca: StepCA, hsm: dict[str, Any], cert_from: str
) -> None:
    """The token stores only the leaf, which an intermediate issued: ``--x5c-cert
    pkcs11:...`` plus ``--x5c-chain <intermediate.pem>`` (or one bundle file) is accepted."""
    if cert_from == "bundle-file":
        certs = ["--x5c-cert", hsm["x5c_chain_bundle"]]
    else:
        certs = ["--x5c-cert", hsm["chain_key"], "--x5c-chain", hsm["x5c_intermediate"]]
    subject = "kms-x5c-chain.example.com"
    token = mint(run_pystep, step_ca, hsm, subject, "--kms", hsm["kms_with_pin"], *certs,
                 "--x5c-key", hsm["chain_key"], provisioner="kms-x5c")  # fmt: skip
    assert len(_header(token)["x5c"]) == 2
    assert_accepted(step_ca, token, subject, None)


def test_x5c_leaf_from_pkcs11_without_its_intermediate_is_refused(
    run_pystep: RunPystep, step_ca: StepCA, hsm: dict[str, Any]
) -> None:
    """Control: the same leaf without --x5c-chain cannot be verified by the CA."""
    subject = "kms-x5c-chain.example.com"
    token = mint(run_pystep, step_ca, hsm, subject, "--kms", hsm["kms_with_pin"],
                 "--x5c-cert", hsm["chain_key"], "--x5c-key", hsm["chain_key"],
                 provisioner="kms-x5c")  # fmt: skip
    assert len(_header(token)["x5c"]) == 1
    assert step_ca.sign(token, subject).status == 401


def test_x5c_chain_with_renew_is_a_usage_error(
    run_pystep: RunPystep, step_ca: StepCA, hsm: dict[str, Any]
) -> None:
    res = run_pystep(
        "ca", "token", "x.example.com", "--renew", "--x5c-cert", hsm["x5c_chain_bundle"],
        "--x5c-key", hsm["chain_key"], "--x5c-chain", hsm["x5c_intermediate"],
        env={"STEPPATH": str(step_ca.steppath), **hsm["env"]},
    )  # fmt: skip
    assert res.returncode == 1 and res.stdout == ""
    assert "'--x5c-chain' is only used with X5C provisioners" in res.stderr


# --- ssh-agent ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def agent(step_ca: StepCA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A real ssh-agent holding the provisioner's key (stopped after the module)."""
    details = require(step_ca.workdir, "sshagent")
    sock = tmp_path_factory.mktemp("agent") / "agent.sock"
    with ssh_agent(details["key_file"], sock) as env:
        yield {**details, "env": env}


def test_sshagent(run_pystep: RunPystep, step_ca: StepCA, agent: dict[str, Any]) -> None:
    subject = "agent.kms.example.com"
    token = mint(run_pystep, step_ca, agent, subject, "--key", agent["key"])
    assert_accepted(step_ca, token, subject, agent["kid"])


def test_sshagent_bare_name_relative_to_kms(
    run_pystep: RunPystep, step_ca: StepCA, agent: dict[str, Any]
) -> None:
    subject = "agent2.kms.example.com"
    comment = agent["key"].split(":", 1)[1]
    token = mint(run_pystep, step_ca, agent, subject, "--kms", "sshagentkms:", "--key", comment)
    assert_accepted(step_ca, token, subject, agent["kid"])


# --- TPM 2.0 (swtpm) ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def tpm(step_ca: StepCA) -> dict[str, Any]:
    return require(step_ca.workdir, "tpm")


def test_tpm(run_pystep: RunPystep, step_ca: StepCA, tpm: dict[str, Any]) -> None:
    subject = "tpm.kms.example.com"
    token = mint(run_pystep, step_ca, tpm, subject, "--kms", tpm["kms"], "--key", tpm["key"])
    assert_accepted(step_ca, token, subject, tpm["kid"])


def test_tpm_x5c(run_pystep: RunPystep, step_ca: StepCA, tpm: dict[str, Any]) -> None:
    """X5C with the leaf key in the TPM; leaf + intermediate from a file."""
    subject = "kms-x5c-tpm.example.com"
    token = mint(run_pystep, step_ca, tpm, subject, "--kms", tpm["kms"],
                 "--x5c-cert", tpm["x5c_bundle"], "--x5c-key", tpm["key"],
                 provisioner="kms-x5c")  # fmt: skip
    assert len(_header(token)["x5c"]) == 2
    assert_accepted(step_ca, token, subject, None)


# --- AWS KMS (moto server) ---------------------------------------------------------------


@pytest.fixture(scope="module")
def aws(step_ca: StepCA) -> dict[str, Any]:
    return require(step_ca.workdir, "awskms")


def test_awskms_key_uri(run_pystep: RunPystep, step_ca: StepCA, aws: dict[str, Any]) -> None:
    subject = "aws.kms.example.com"
    token = mint(run_pystep, step_ca, aws, subject, "--kms", aws["kms"], "--key", aws["key"])
    assert_accepted(step_ca, token, subject, aws["kid"])


def test_awskms_bare_key_id(run_pystep: RunPystep, step_ca: StepCA, aws: dict[str, Any]) -> None:
    subject = "aws2.kms.example.com"
    token = mint(run_pystep, step_ca, aws, subject, "--kms", aws["kms"], "--key", aws["key_id"])
    assert_accepted(step_ca, token, subject, aws["kid"])


def test_wrong_backend_key_is_refused_by_the_ca(
    run_pystep: RunPystep, step_ca: StepCA, hsm: dict[str, Any], aws: dict[str, Any]
) -> None:
    """Control: a token signed by the HSM key but claiming the AWS provisioner fails at
    the CA, so the 201s above really depend on which key signed."""
    subject = "mixed.kms.example.com"
    token = mint(run_pystep, step_ca, hsm, subject, "--kms", hsm["kms_with_pin"],
                 "--key", hsm["key"], "--kid", aws["kid"], provisioner="kms-awskms")  # fmt: skip
    assert _header(token)["kid"] == aws["kid"]
    assert step_ca.sign(token, subject).status == 401


_X5C_CHILD = r"""
import base64, json, secrets, sys, time
from cryptography.hazmat.primitives.serialization import Encoding
from pystep.jose.jws import sign_compact
from pystep.kms import KmsOptions, load_certificates, open_signer

kms, key, iss, sub, aud, sha = sys.argv[1:]
opts = KmsOptions(kms_uri=kms)
signer = open_signer(key, opts)
chain = [base64.b64encode(c.public_bytes(Encoding.DER)).decode()
         for c in load_certificates(key, opts)]
now = int(time.time())
claims = {"iss": iss, "sub": sub, "aud": aud, "sans": [sub], "sha": sha, "iat": now,
          "nbf": now, "exp": now + 300, "jti": secrets.token_hex(32)}
print(sign_compact({"x5c": chain}, claims, signer))
"""


def test_x5c_leaf_key_and_cert_in_pkcs11_library_level(
    step_ca: StepCA, hsm: dict[str, Any]
) -> None:
    """Until the X5C provisioner lands: the leaf key signs in SoftHSM2 and the leaf
    certificate comes from the token (pystep.kms.load_certificates), and step-ca's X5C
    provisioner ``kms-x5c`` accepts the result. (A child process: python-pkcs11 keeps one
    library per process.)"""
    from tests.conftest import pystep_env

    subject = "kms-x5c.example.com"
    done = subprocess.run(
        [sys.executable, "-c", _X5C_CHILD, hsm["kms_with_pin"], hsm["key"], "kms-x5c",
         subject, f"{step_ca.url}/1.0/sign#x5c/kms-x5c", step_ca.root_fingerprint],
        env=pystep_env(hsm["env"]), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert len(_header(token)["x5c"]) == 1
    assert_accepted(step_ca, token, subject, None)
