"""What the two verifier-vs-step-ca corpora share: the CSR a case's token is checked with
and one ``pystep ca verify-token`` run against the session CA."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import RunPystep
from tests.harness.client import make_csr
from tests.harness.stepca import StepCA


def case_csr(claims: dict[str, Any], cn: str | None, sans: list[str] | None) -> str:
    """A CSR PEM for the case: ``cn`` (else the token's sub) and ``sans`` (else the token's
    sans, else [sub]); a token without a string sub gets ``x``."""
    sub = claims.get("sub") if isinstance(claims.get("sub"), str) else "x"
    common_name = cn if cn is not None else sub
    names = sans if sans is not None else (
        claims["sans"] if isinstance(claims.get("sans"), list) else [sub])
    csr_pem, _ = make_csr(str(common_name), [str(s) for s in names])
    return csr_pem


def verify_online(
    run_pystep: RunPystep, step_ca: StepCA, tmp_path: Path, token: str, op: str, csr_pem: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """``pystep ca verify-token --format json`` for ``op`` against the CA's URL (with the
    CSR for a sign): the process and its parsed verdict. Exit 0 or 1 only."""
    csr_file = tmp_path / "req.csr"
    csr_file.write_text(csr_pem)
    args = ["ca", "verify-token", token, "--ca-url", step_ca.url, "--root",
            str(step_ca.root_path), "--for", op, "--ca-start", str(step_ca.started_at),
            "--format", "json"]
    if op == "sign":
        args += ["--csr", str(csr_file)]
    result = run_pystep(*args, env={"STEPPATH": str(tmp_path / "none")})
    assert result.returncode in (0, 1), result.stderr
    verdict: dict[str, Any] = json.loads(result.stdout)
    return result, verdict
