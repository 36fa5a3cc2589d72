"""KMS failures through the CLI: each one exits 1 with one clear error line on stderr,
nothing on stdout, no traceback and no PIN (the real backends, the session CA's
provisioners from tests/harness/extras/kms.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SRC, RunPystep
from tests.harness.extras.kms import require
from tests.harness.stepca import StepCA

WRONG_PIN = "999111"


def fail(
    run_pystep: RunPystep,
    step_ca: StepCA,
    details: dict[str, Any],
    *args: str,
    env: Mapping[str, str | None] | None = None,
    secrets: tuple[str, ...] = (),
) -> str:
    """Run ``ca token`` expecting a clean failure; returns the error line."""
    res = run_pystep(
        "ca", "token", "fail.kms.example.com", "--provisioner", details["provisioner"], *args,
        env={"STEPPATH": str(step_ca.steppath), **details.get("env", {}), **(env or {})},
    )  # fmt: skip
    assert res.returncode == 1, (res.returncode, res.stdout, res.stderr)
    assert res.stdout == ""
    assert "Traceback" not in res.stderr
    # step's informational "✔ Provisioner: …" line may precede the error
    errors = [ln for ln in res.stderr.splitlines() if ln.strip() and not ln.startswith("✔")]
    assert len(errors) == 1, res.stderr
    for secret in secrets:
        assert secret not in res.stderr
    return errors[0]


@pytest.fixture(scope="module")
def hsm(step_ca: StepCA) -> dict[str, Any]:
    return require(step_ca.workdir, "pkcs11")


@pytest.fixture(scope="module")
def tpm(step_ca: StepCA) -> dict[str, Any]:
    return require(step_ca.workdir, "tpm")


@pytest.fixture(scope="module")
def aws(step_ca: StepCA) -> dict[str, Any]:
    return require(step_ca.workdir, "awskms")


def test_wrong_pin(run_pystep: RunPystep, step_ca: StepCA, hsm: dict[str, Any]) -> None:
    line = fail(run_pystep, step_ca, hsm, "--kms", f"{hsm['kms']}?pin-value={WRONG_PIN}",
                "--key", hsm["key"], secrets=(WRONG_PIN, hsm["pin"]))  # fmt: skip
    assert line == f"pkcs11: wrong PIN for token '{hsm['token']}'"


def test_wrong_pin_from_file(
    run_pystep: RunPystep, step_ca: StepCA, hsm: dict[str, Any], tmp_path: Path
) -> None:
    pin_file = tmp_path / "pin"
    pin_file.write_text(WRONG_PIN)
    line = fail(run_pystep, step_ca, hsm, "--kms", f"{hsm['kms']}?pin-source={pin_file}",
                "--key", hsm["key"], secrets=(WRONG_PIN, hsm["pin"]))  # fmt: skip
    assert line == f"pkcs11: wrong PIN for token '{hsm['token']}'"


def test_missing_pkcs11_key(run_pystep: RunPystep, step_ca: StepCA, hsm: dict[str, Any]) -> None:
    line = fail(run_pystep, step_ca, hsm, "--kms", hsm["kms_with_pin"], "--key", "pkcs11:id=%7f",
                secrets=(hsm["pin"],))  # fmt: skip
    assert line == "pkcs11: no private key found with id=7f"


def test_missing_aws_key(run_pystep: RunPystep, step_ca: StepCA, aws: dict[str, Any]) -> None:
    missing = "00000000-1111-2222-3333-444444444444"
    line = fail(run_pystep, step_ca, aws, "--kms", aws["kms"], "--key", f"awskms:key-id={missing}")
    assert missing in line


def test_missing_tpm_key(run_pystep: RunPystep, step_ca: StepCA, tpm: dict[str, Any]) -> None:
    line = fail(run_pystep, step_ca, tpm, "--kms", tpm["kms"], "--key", "tpmkms:name=nope")
    assert "nope" in line


@pytest.mark.parametrize("which", ["pkcs11", "awskms"])
def test_unsupported_key_type(
    run_pystep: RunPystep,
    step_ca: StepCA,
    hsm: dict[str, Any],
    aws: dict[str, Any],
    which: str,
) -> None:
    """secp256k1 keys: no JOSE alg step-ca accepts."""
    d = hsm if which == "pkcs11" else aws
    kms = hsm["kms_with_pin"] if which == "pkcs11" else aws["kms"]
    line = fail(run_pystep, step_ca, d, "--kms", kms, "--key", d["k1_key"],
                secrets=(hsm["pin"],))  # fmt: skip
    assert line == 'unsupported elliptic curve "secp256k1"'


def test_device_absent(run_pystep: RunPystep, step_ca: StepCA, tpm: dict[str, Any]) -> None:
    kms = f"tpmkms:device=/dev/pystep-no-such-tpm;storage-directory={tpm['storage']}"
    line = fail(run_pystep, step_ca, tpm, "--kms", kms, "--key", tpm["key"])
    assert "/dev/pystep-no-such-tpm" in line


def test_swtpm_not_listening(run_pystep: RunPystep, step_ca: StepCA, tpm: dict[str, Any]) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    kms = f"tpmkms:device=swtpm:host=127.0.0.1,port={port};storage-directory={tpm['storage']}"
    fail(run_pystep, step_ca, tpm, "--kms", kms, "--key", tpm["key"])


def test_unknown_scheme(run_pystep: RunPystep, step_ca: StepCA, hsm: dict[str, Any]) -> None:
    line = fail(run_pystep, step_ca, hsm, "--key", "foo:bar")
    assert "foo:bar" in line


def test_unknown_kms_scheme(run_pystep: RunPystep, step_ca: StepCA, hsm: dict[str, Any]) -> None:
    line = fail(run_pystep, step_ca, hsm, "--kms", "foo:bar", "--key", "mykey")
    assert "foo:bar" in line


@pytest.mark.parametrize("with_kms", [False, True])
def test_mistyped_path(
    run_pystep: RunPystep, step_ca: StepCA, hsm: dict[str, Any], tmp_path: Path, with_kms: bool
) -> None:
    kms = ("--kms", hsm["kms_with_pin"]) if with_kms else ()
    line = fail(run_pystep, step_ca, hsm, *kms, "--key", "./nope.key",
                secrets=(hsm["pin"],))  # fmt: skip
    assert line == "open ./nope.key: no such file or directory"


def _hide(tmp_path: Path, *modules: str) -> dict[str, str]:
    """An environment where ``import <module>`` fails, as if the extra were not installed."""
    shim = tmp_path / "shim"
    for module in modules:
        (shim / module).mkdir(parents=True)
        (shim / module / "__init__.py").write_text(
            f"raise ImportError('{module} hidden by the test')\n"
        )
    return {"PYTHONPATH": os.pathsep.join([str(shim), str(SRC)])}


def test_missing_extra_pkcs11(
    run_pystep: RunPystep, step_ca: StepCA, hsm: dict[str, Any], tmp_path: Path
) -> None:
    env = _hide(tmp_path, "pkcs11")
    probe = subprocess.run([sys.executable, "-c", "import pkcs11"], env={**os.environ, **env},
                           capture_output=True)  # fmt: skip
    assert probe.returncode != 0  # the shim works
    line = fail(run_pystep, step_ca, hsm, "--kms", hsm["kms_with_pin"], "--key", hsm["key"],
                env=env, secrets=(hsm["pin"],))  # fmt: skip
    assert "pystep[pkcs11]" in line


def test_missing_extra_awskms(
    run_pystep: RunPystep, step_ca: StepCA, aws: dict[str, Any], tmp_path: Path
) -> None:
    line = fail(run_pystep, step_ca, aws, "--kms", aws["kms"], "--key", aws["key"],
                env=_hide(tmp_path, "boto3"))  # fmt: skip
    assert "pystep[awskms]" in line


def test_sshagent_without_agent(run_pystep: RunPystep, step_ca: StepCA) -> None:
    d = require(step_ca.workdir, "sshagent")
    line = fail(run_pystep, step_ca, d, "--key", d["key"], env={"SSH_AUTH_SOCK": None})
    assert "SSH_AUTH_SOCK" in line
