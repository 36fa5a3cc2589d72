"""The verifier against the real step-ca 0.19's recorded answers (tokens/*.json:
ca_check / ca_accepted), at each token's own minting time."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from pystep.verify.authority import Authority, from_ca_config
from pystep.verify.pipeline import verify_token
from pystep.verify.result import Operation
from tests.harness.client import make_csr

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "step-v0.19"
OPS = {"/1.0/sign": Operation.SIGN, "/1.0/revoke": Operation.REVOKE,
       "/1.0/ssh/sign": Operation.SSH_SIGN, "/1.0/ssh/revoke": Operation.SSH_REVOKE,
       "/1.0/ssh/renew": Operation.SSH_RENEW, "/1.0/ssh/rekey": Operation.SSH_REKEY,
       "/1.0/renew": Operation.RENEW}


def _records() -> list[dict[str, Any]]:
    out = []
    for path in sorted((FIX / "tokens").glob("*.json")):
        rec = json.loads(path.read_text())
        request = rec.get("ca_check", {}).get("request", "")
        parts = request.split()
        if "token" in rec and len(parts) > 1 and parts[1] in OPS:
            out.append(rec)
    return out


RECORDS = _records()


@pytest.fixture(scope="module")
def authority() -> Authority:
    cwd = os.getcwd()
    os.chdir(FIX / "pki")  # ca.json paths are relative to its folder
    try:
        auth = from_ca_config("ca.json", "root_ca.crt")
    finally:
        os.chdir(cwd)
    # The CA accepted these tokens, so it started no later than the earliest of their iat.
    auth.started_at = min(r["claims"]["iat"] for r in RECORDS
                          if r["ca_accepted"] and "iat" in r["claims"])
    return auth


def test_corpus_covers_every_kind() -> None:
    kinds = {r["name"].split("-")[0] for r in RECORDS}
    assert {"x5c", "sshpop", "nebula", "k8ssa", "online", "offline", "renew"} <= kinds
    assert len(RECORDS) >= 30


@pytest.mark.parametrize("rec", RECORDS, ids=[r["name"] for r in RECORDS])
def test_verdict_matches_step_ca(rec: dict[str, Any], authority: Authority) -> None:
    check = rec["ca_check"]
    op = OPS[check["request"].split()[1]]
    csr = None
    if op is Operation.SIGN and "csr" in check:
        pem, _ = make_csr(check["csr"]["cn"], check["csr"].get("sans", []))
        csr = pem.encode()
    verdict = verify_token(rec["token"], authority, op, csr=csr, now=rec["minted_at"] + 1)
    assert verdict.accepted == bool(rec["ca_accepted"]), verdict.to_json()
    if not verdict.accepted:
        assert verdict.http_status == check["status"], (verdict.to_json(), check)


def test_same_tokens_are_refused_later(authority: Authority) -> None:
    """The corpus tokens are long expired: at a real 'now' each accepted one fails on exp
    (K8sSA has no time check, so it stays accepted)."""
    for rec in RECORDS:
        if not rec["ca_accepted"] or "exp" not in rec["claims"]:
            continue
        op = OPS[rec["ca_check"]["request"].split()[1]]
        verdict = verify_token(rec["token"], authority, op, now=rec["claims"]["exp"] + 61)
        assert not verdict.accepted, rec["name"]
        failure = verdict.failure
        assert failure is not None and "expired" in failure.reason, (rec["name"], failure)
