"""inspect-token's kind guess on tokens made by the real step v0.19 (every kind it mints)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pystep.verify.inspect import guess_kind, inspect_token
from tests.conftest import RunPystep

TOKENS = Path(__file__).resolve().parents[2] / "fixtures" / "step-v0.19" / "tokens"

EXPECTED = {
    "online-jwk-dns": ("JWK", "sign"),
    "offline-jwk-dns": ("JWK", "sign"),
    "online-jwk-ssh-revoke": ("JWK", "ssh-revoke"),
    "x5c-dns": ("X5C", "sign"),
    "x5c-revoke": ("X5C", "revoke"),
    "x5c-ssh-user": ("X5C", "ssh-sign"),
    "x5c-insecure": ("X5C (x5cInsecure header, which X5C provisioners refuse)", "sign"),
    "renew": ("renew (x5cInsecure)", "renew"),
    "offline-renew": ("renew (x5cInsecure)", "renew"),
    "sshpop-renew": ("SSHPOP", "ssh-renew"),
    "sshpop-rekey": ("SSHPOP", "ssh-rekey"),
    "sshpop-revoke": ("SSHPOP", "ssh-revoke"),
    "nebula-dns": ("Nebula", "sign"),
    "nebula-ssh-host": ("Nebula", "ssh-sign"),
    "k8ssa": ("K8sSA", ""),
}


def _token(name: str) -> str:
    return str(json.loads((TOKENS / f"{name}.json").read_text())["token"])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_kind_and_operation(name: str) -> None:
    info = inspect_token(_token(name))
    assert (info["kind"], info["operation"]) == EXPECTED[name]


def test_cloud_and_oidc_guesses_from_claims() -> None:
    assert guess_kind({"kid": "k"}, {"iss": "ec2.amazonaws.com"}) == "AWS"
    assert guess_kind({"kid": "k"}, {"iss": "https://accounts.google.com",
                                     "google": {}}) == "GCP"
    assert guess_kind({"kid": "k"}, {"iss": "https://sts.windows.net/t/",
                                     "xms_mirid": "x"}) == "Azure"
    assert guess_kind({"kid": "k"}, {"iss": "https://accounts.google.com"}) == "OIDC"
    assert guess_kind({}, {"iss": "x"}) == "unknown"


@pytest.mark.parametrize("name", ["sshpop-renew", "k8ssa", "renew"])
def test_cli_text_prints_the_kind(name: str, run_pystep: RunPystep, tmp_path: Path) -> None:
    r = run_pystep("ca", "inspect-token", _token(name), env={"STEPPATH": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == f"kind: {EXPECTED[name][0]} (guessed from the header)"
