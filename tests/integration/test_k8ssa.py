"""K8sSA tokens against the real step-ca 0.19 (tests/harness/extras/k8ssa.py)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import RunPystep
from tests.harness.extras import k8ssa as extra
from tests.harness.stepca import StepCA
from tests.integration.test_x5c import _fails, ok_token, pystep_token


def test_token_is_the_service_account_token_201(
    step_ca: StepCA, run_pystep: RunPystep, tmp_path: Path
) -> None:
    sa = extra.service_account_token(step_ca.workdir)  # made after the CA started
    path = tmp_path / "token"
    path.write_text(sa + "\n")
    token = ok_token(pystep_token(run_pystep, step_ca, "ignored.pystep.test",
                                  "--k8ssa-token-path", path))
    assert token == sa
    result = step_ca.sign(token, "k8s.pystep.test")
    assert result.status == 201, result.body
    assert result.common_name == "k8s.pystep.test"


def test_token_with_another_issuer_is_refused(
    step_ca: StepCA, run_pystep: RunPystep, tmp_path: Path
) -> None:
    sa = extra.service_account_token(step_ca.workdir, issuer="https://kubernetes.default.svc")
    path = tmp_path / "token"
    path.write_text(sa)
    token = ok_token(pystep_token(run_pystep, step_ca, "x", "--k8ssa-token-path", path))
    assert step_ca.sign(token, "k8s.pystep.test").status == 401


def test_missing_token_file(step_ca: StepCA, run_pystep: RunPystep, tmp_path: Path) -> None:
    proc = pystep_token(run_pystep, step_ca, "x", "--k8ssa-token-path", tmp_path / "nope")
    _fails(proc, "no such file or directory")


def test_not_a_jwt(step_ca: StepCA, run_pystep: RunPystep, tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("hello world\n")
    _fails(pystep_token(run_pystep, step_ca, "x", "--k8ssa-token-path", path), "not a JWT")
