"""Tokens of the X5C, renew, SSHPOP, Nebula and K8sSA kinds, compared with the tokens the
real step v0.19 minted from the same inputs (tests/fixtures/step-v0.19/tokens/*.json):
same header keys and credential header values, same kid, same claim keys, same aud, iss,
sub, sans and step claims, same times relative to iat."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pystep.jose.jws import decode_compact, verify_signature
from pystep.passwords import Passwords
from pystep.provisioners import prepare
from pystep.provisioners.base import Audience, Credentials, MintContext, ProvisionerRecord
from pystep.provisioners.renew import prepare_renew
from pystep.request import TokenKind, TokenRequest

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "step-v0.19"
TOKENS = CORPUS / "tokens"
BOOL_FLAGS = {"--ssh", "--host", "--renew", "--rekey", "--revoke", "--x5c-insecure", "--offline"}
MULTI = {"--san", "--principal"}

CASES = [
    "x5c-dns", "x5c-insecure", "x5c-ssh-user", "x5c-revoke", "offline-x5c",
    "renew", "offline-renew",
    "sshpop-renew", "sshpop-rekey", "sshpop-revoke", "offline-sshpop-renew",
    "nebula-dns", "nebula-ssh-host", "nebula-revoke", "offline-nebula",
    "k8ssa",
]


def parse_argv(argv: list[str]) -> tuple[str, dict[str, Any]]:
    subject, i = "", 3  # step ca token ...
    flags: dict[str, Any] = {}
    while i < len(argv):
        arg = argv[i]
        if arg in BOOL_FLAGS:
            flags[arg] = True
        elif arg.startswith("--"):
            i += 1
            if arg in MULTI:
                flags.setdefault(arg, []).append(argv[i])
            else:
                flags[arg] = argv[i]
        else:
            subject = arg
        i += 1
    return subject, flags


def ca_json() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CORPUS / "pki" / "ca.json").read_text())
    return data


def mint(case: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(CORPUS)
    subject, f = parse_argv(case["argv"])
    kind = TokenKind.from_flags(ssh="--ssh" in f, revoke="--revoke" in f, renew="--renew" in f,
                                rekey="--rekey" in f, host="--host" in f)
    offline = "--offline" in f
    audience = Audience("https://ca.example.com", versioned=False) if offline else Audience(
        f["--ca-url"])
    pw = f.get("--password-file")
    minted_at = datetime.fromtimestamp(case["claims"]["iat"], UTC)
    ctx = MintContext(
        audience=audience,
        root_sha=case["claims"].get("sha"),
        offline=offline,
        credentials=Credentials(
            x5c_cert=f.get("--x5c-cert"), x5c_key=f.get("--x5c-key"),
            x5c_insecure="--x5c-insecure" in f,
            sshpop_cert=f.get("--sshpop-cert"), sshpop_key=f.get("--sshpop-key"),
            nebula_cert=f.get("--nebula-cert"), nebula_key=f.get("--nebula-key"),
            k8ssa_token_path=f.get("--k8ssa-token-path"),
        ),
        passwords=Passwords(fixed=Path(pw).read_bytes().strip() if pw else None),
        now=lambda: minted_at,
    )
    req = TokenRequest(subject=subject, kind=kind, sans=tuple(f.get("--san", ())),
                       principals=tuple(f.get("--principal", ())))
    if kind is TokenKind.RENEW:
        return prepare_renew(ctx).mint(req)
    kind_type = {"x5c": "X5C", "sshpop": "SSHPOP", "nebula": "Nebula", "k8ssa": "K8sSA"}
    wanted = next(v for k, v in kind_type.items() if any(k in a for a in f))
    raw = next(p for p in ca_json()["authority"]["provisioners"] if p["type"] == wanted)
    return prepare(ProvisionerRecord(raw), ctx).mint(req)


def relative(claims: dict[str, Any]) -> dict[str, int]:
    return {k: claims[k] - claims["iat"] for k in ("nbf", "exp") if k in claims}


@pytest.mark.parametrize("name", CASES)
def test_same_shape_as_step(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    case = json.loads((TOKENS / f"{name}.json").read_text())
    token = mint(case, monkeypatch)
    if name == "k8ssa":
        assert token == case["token"]
        return
    got = decode_compact(token)
    want_h, want_c = case["header"], case["claims"]
    assert set(got.header) == set(want_h)
    for key in ("kid", "typ", "alg", "x5c", "x5cInsecure", "sshpop", "nebula"):
        assert got.header.get(key) == want_h.get(key), key
    assert set(got.claims) == set(want_c)
    for key in ("aud", "iss", "sub", "sans", "step", "sha", "iat"):
        assert got.claims.get(key) == want_c.get(key), key
    assert relative(got.claims) == relative(want_c)
    if "jti" in want_c:
        assert len(got.claims["jti"]) == 64 and got.claims["jti"] != want_c["jti"]


@pytest.mark.parametrize("name", ["x5c-dns", "renew", "sshpop-renew"])
def test_signed_with_the_certificate_key(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from pystep.keys.files import load_signing_key

    case = json.loads((TOKENS / f"{name}.json").read_text())
    got = decode_compact(mint(case, monkeypatch))
    _, f = parse_argv(case["argv"])
    key_file = f.get("--x5c-key") or f["--sshpop-key"]
    pw = f.get("--password-file")
    key = load_signing_key(os.fspath(key_file),
                           Passwords(fixed=Path(pw).read_bytes().strip() if pw else None))
    assert verify_signature(got, key.public_key, "ES256")
