"""Numeric dates too large for a float (exp=10**400) are a failed claims check (verify)
and shown as written (inspect), never an OverflowError."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pystep.jose.encoding import b64url_encode
from pystep.verify.claims import parse_claims
from pystep.verify.inspect import inspect_token
from tests.conftest import RunPystep

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "step-v0.19"
HUGE = 10**400


def _token(claims: str) -> str:
    head = b64url_encode(json.dumps({"alg": "ES256", "kid": "k"}).encode())
    return f"{head}.{b64url_encode(claims.encode())}.c2ln"


@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("value", [HUGE, -HUGE, float("inf"), float("nan")],
                         ids=["huge", "-huge", "inf", "nan"])
def test_parse_claims(name: str, value: float) -> None:
    with pytest.raises(ValueError, match=rf"^claim '{name}' must be a number \(NumericDate\)$"):
        parse_claims({name: value})
    assert parse_claims({name: 10**9}).raw == {name: 10**9}


@pytest.mark.parametrize("text", [str(HUGE), "1e400", "-1e400"], ids=["10**400", "1e400", "-1e400"])
def test_inspect(text: str) -> None:
    info = inspect_token(_token(f'{{"sub": "x", "exp": {text}, "iat": {text}}}'), now=0)
    assert info["validity"] == ""
    assert info["times"]["exp"] == info["claims"]["exp"]


def test_verify_token_cli(run_pystep: RunPystep, tmp_path: Path) -> None:
    token = _token(f'{{"sub": "x", "iss": "admin", "exp": {HUGE}}}')
    r = run_pystep("ca", "verify-token", token, "--ca-config", str(FIX / "pki" / "ca.json"),
                   "--root", str(FIX / "pki" / "root_ca.crt"), "--format", "json",
                   cwd=FIX / "pki", env={"STEPPATH": str(tmp_path)})  # fmt: skip
    assert r.returncode == 1, r.stderr
    assert "unexpected error" not in r.stderr
    checks = {c["check"]: c for c in json.loads(r.stdout)["checks"]}
    assert checks["claims"]["status"] == "fail"
    assert "claim 'exp' must be a number" in json.dumps(checks["claims"])
    r = run_pystep("ca", "inspect-token", token, env={"STEPPATH": str(tmp_path)})
    assert r.returncode == 0, r.stderr
