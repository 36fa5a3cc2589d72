"""Replay the argv of real `step ca token` runs (step v0.19 corpus) with pystep.

The corpus (tests/fixtures/step-v0.19, copied from the shared testdata) records, for every
offline token, the argv step ran in that folder and the token it printed. pystep runs the
same argv there and must produce a token of the same shape: same header, same claims
(times relative to iat), signed by the same key. Refusals recorded in tokens/errors/ must be
refused with step's message (where pystep keeps step's behaviour).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pystep.jose.jwk import public_key_from_jwk
from pystep.jose.jws import decode_compact, verify_signature
from tests.conftest import RunPystep

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "step-v0.19"
CA_JSON = json.loads((CORPUS / "pki" / "ca.json").read_text())
KEYS = {p["name"]: p["key"] for p in CA_JSON["authority"]["provisioners"] if "key" in p}

# Deliberate differences (docs/compatibility.md): step mints an unusable audience here.
DIFFERENT_ON_PURPOSE = {"offline-key-no-ca-url"}

OFFLINE = sorted(
    p for p in (CORPUS / "tokens").glob("offline-*.json")
    if p.stem.startswith(("offline-jwk-", "offline-key-")) and p.stem not in DIFFERENT_ON_PURPOSE
)


def _replay(run: RunPystep, record: dict[str, Any], tmp_path: Path) -> Any:
    env = {k: str(tmp_path) if v == "<empty-dir>" else v for k, v in record["env"].items()}
    return run(*record["argv"][1:], env=env, cwd=CORPUS)


@pytest.mark.parametrize("path", OFFLINE, ids=[p.stem for p in OFFLINE])
def test_offline_tokens_match_step(run_pystep: RunPystep, path: Path, tmp_path: Path) -> None:
    record = json.loads(path.read_text())
    res = _replay(run_pystep, record, tmp_path)
    assert res.returncode == 0, res.stderr
    ours = decode_compact(res.stdout.strip())
    assert ours.header == record["header"]
    theirs = record["claims"]
    assert set(ours.claims) == set(theirs)
    for key in ("iss", "sub", "aud", "sans", "step", "sha"):
        assert ours.claims.get(key) == theirs.get(key), key
    rel = record["claim_times_relative"]
    assert ours.claims["nbf"] - ours.claims["iat"] == pytest.approx(rel["nbf"], abs=1)
    assert ours.claims["exp"] - ours.claims["iat"] == pytest.approx(rel["exp"], abs=1)
    assert ours.claims["jti"] != theirs["jti"] and len(ours.claims["jti"]) == 64
    key = public_key_from_jwk(KEYS[ours.claims["iss"]])
    assert verify_signature(ours, key, ours.header["alg"])


# step's refusals that pystep reproduces word for word (the last line of step's stderr).
SAME_REFUSALS = [
    "err-ssh-with-san",
    "err-host-without-ssh",
    "err-principal-without-ssh",
    "err-revoke-with-san",
    "err-no-subject",
    "err-two-subjects",
    "err-no-root",
    "err-no-ca-url",
    "err-bad-not-after",
    "err-offline-no-root",
    "err-ca-url-http",
    "err-offline-no-key",
]


@pytest.mark.parametrize("name", SAME_REFUSALS)
def test_refusals_match_step(run_pystep: RunPystep, name: str, tmp_path: Path) -> None:
    record = json.loads((CORPUS / "tokens" / "errors" / f"{name}.json").read_text())
    res = _replay(run_pystep, record, tmp_path)
    step_last = record["stderr"].strip().splitlines()[-1]
    assert res.returncode == 1
    assert res.stdout == ""
    assert res.stderr.strip().splitlines()[-1] == step_last
