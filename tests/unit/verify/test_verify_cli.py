"""The two commands, run as a user would (subprocess), on step-made tokens."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import RunPystep

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "step-v0.19"


def _token(name: str) -> str:
    return str(json.loads((FIX / "tokens" / f"{name}.json").read_text())["token"])


def test_inspect_token_json_and_text(run_pystep: RunPystep, tmp_path: Path) -> None:
    env = {"STEPPATH": str(tmp_path)}
    r = run_pystep("ca", "inspect-token", _token("x5c-dns"), "--format", "json", env=env)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["kind"] == "X5C" and info["operation"] == "sign"
    assert info["claims"]["sub"] == "x5c-client.example.com"
    assert info["times"]["exp"]["relative"].endswith("ago")
    assert info["validity"].startswith("expired ")
    r = run_pystep("ca", "inspect-token", "-", input=_token("nebula-dns"), env=env)
    assert r.returncode == 0 and "kind: Nebula" in r.stdout and "iat:" in r.stdout
    r = run_pystep("ca", "inspect-token", "garbage", env=env)
    assert r.returncode == 1 and "three parts" in r.stderr


def test_verify_token_offline_explains_expiry(run_pystep: RunPystep, tmp_path: Path) -> None:
    args = ("ca", "verify-token", _token("online-jwk-dns"), "--ca-config",
            str(FIX / "pki" / "ca.json"), "--root", str(FIX / "pki" / "root_ca.crt"))
    r = run_pystep(*args, "--format", "json", cwd=FIX / "pki", env={"STEPPATH": str(tmp_path)})
    assert r.returncode == 1, r.stderr
    verdict = json.loads(r.stdout)
    assert verdict["provisioner"] == "admin" and verdict["http"] == 401
    statuses = {c["check"]: c["status"] for c in verdict["checks"]}
    assert statuses["signature"] == "pass" and statuses["iss"] == "pass"
    assert statuses["time"] == "fail"
    r = run_pystep(*args, "--for", "revoke", cwd=FIX / "pki", env={"STEPPATH": str(tmp_path)})
    assert r.returncode == 1 and "refuse" in r.stdout
    r = run_pystep(*args, "--for", "bogus", env={"STEPPATH": str(tmp_path)})
    assert r.returncode == 1 and "--for" in r.stderr
