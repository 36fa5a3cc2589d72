"""The library API offline, against the real step v0.19 ca.json and keys (no CA needed).

Tokens are checked with jwcrypto (not pystep) against the provisioner's public key."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from jwcrypto import jwk, jws

from pystep.errors import ConfigError, InteractionRequired, PasswordError, TokenError, UsageError
from pystep.session import TokenSession, root_sha_of

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "step-v0.19"
CA_JSON = FIX / "pki" / "ca.json"
ROOT = FIX / "pki" / "root_ca.crt"
PASSWORD = FIX / "password.txt"
SRC = Path(__file__).resolve().parents[2] / "src"


def _verify(token: str, public: dict[str, Any]) -> dict[str, Any]:
    obj = jws.JWS()
    obj.deserialize(token)
    obj.verify(jwk.JWK(**public))
    claims: dict[str, Any] = json.loads(obj.payload)
    return claims


def _record(name: str) -> dict[str, Any]:
    cfg = json.loads(CA_JSON.read_text())
    return next(p for p in cfg["authority"]["provisioners"] if p["name"] == name)


@pytest.fixture
def session() -> TokenSession:
    return TokenSession(root=str(ROOT), offline=True, ca_config=str(CA_JSON))


def test_provisioners_come_from_ca_json(session: TokenSession) -> None:
    names = [p.name for p in session.provisioners()]
    expected = [p["name"] for p in json.loads(CA_JSON.read_text())["authority"]["provisioners"]]
    assert names == expected


def test_unlock_once_mint_three_kinds(session: TokenSession) -> None:
    minter = session.unlock("admin", password_file=str(PASSWORD))
    assert minter.provisioner is not None and minter.provisioner.name == "admin"
    public = _record("admin")["key"]
    sign = _verify(minter.sign("a.example.com", sans=["a.example.com", "10.1.2.3"]), public)
    revoke = _verify(minter.revoke(1234567), public)
    ssh = _verify(minter.ssh_host("h.example.com", ["h.example.com"], cert_not_after="8h"), public)
    assert sign["sans"] == ["a.example.com", "10.1.2.3"]
    assert sign["aud"] == "https://ca.example.com/sign"  # offline: dnsNames[0], no /1.0
    assert sign["sha"] == root_sha_of(str(ROOT))
    assert "user" not in sign  # offline tokens carry no user claim
    assert revoke["sub"] == "1234567" and revoke["aud"] == "https://ca.example.com/revoke"
    assert ssh["step"]["ssh"]["certType"] == "host"
    assert ssh["step"]["ssh"]["validBefore"] == "8h0m0s"
    assert len({sign["jti"], revoke["jti"], ssh["jti"]}) == 3


def test_validity_accepts_durations_and_checks_limits(session: TokenSession) -> None:
    from datetime import timedelta

    minter = session.unlock("admin", password=PASSWORD.read_bytes().strip())
    claims = _verify(minter.sign("a", not_after=timedelta(minutes=10)), _record("admin")["key"])
    assert 599 <= claims["exp"] - claims["nbf"] <= 600
    claims = _verify(minter.sign("a", not_before="1m", not_after="3m"), _record("admin")["key"])
    assert claims["exp"] - claims["nbf"] == 120
    with pytest.raises(TokenError, match="too long"):
        minter.sign("a", not_after="2h")
    with pytest.raises(TokenError, match="invalid value 'soon'"):
        minter.sign("a", not_after="soon")


def test_no_password_and_no_prompt_names_the_arguments(session: TokenSession) -> None:
    with pytest.raises(InteractionRequired) as err:
        session.unlock("admin")
    assert "password= or password_file=" in err.value.diagnostics()


def test_prompt_gets_three_attempts(session: TokenSession) -> None:
    asked: list[str] = []

    def prompt(question: str) -> bytes:
        asked.append(question)
        return b"wrong" if len(asked) < 3 else PASSWORD.read_bytes().strip()

    minter = session.unlock("admin", prompt=prompt)
    assert len(asked) == 3 and minter.sign("a.example.com")
    with pytest.raises(PasswordError):
        session.unlock("admin", password="nope")


def test_user_claim_is_refused_offline(session: TokenSession) -> None:
    minter = session.unlock("admin", password_file=str(PASSWORD))
    with pytest.raises(TokenError, match="offline"):
        minter.sign("a", user={"k": "v"})


def test_several_fit_without_chooser_lists_them(session: TokenSession) -> None:
    from pystep.errors import ProvisionerError

    with pytest.raises(ProvisionerError, match="pem-ec"):
        session.unlock(password_file=str(PASSWORD))
    chosen = session.unlock(
        password_file=str(PASSWORD), chooser=lambda items: items[0]
    )
    assert chosen.provisioner is not None and chosen.provisioner.name == "admin"


def test_standalone_key(tmp_path: Path) -> None:
    standalone = TokenSession(ca_url="https://ca.example.com:9000", root=str(ROOT), offline=True)
    assert standalone.standalone
    key_file = FIX / "keys" / "jwk-ec-p256-plain.key.json"
    minter = standalone.unlock("me@example.com", key=str(key_file))
    public = json.loads((FIX / "keys" / "jwk-ec-p256-plain.pub.json").read_text())
    claims = _verify(minter.sign("x.example.com"), public)
    assert claims["iss"] == "me@example.com"
    assert claims["aud"] == "https://ca.example.com:9000/1.0/sign"
    with pytest.raises(ConfigError):
        standalone.provisioners()
    no_url = TokenSession(root=str(ROOT), offline=True)
    with pytest.raises(UsageError, match="--ca-url"):
        no_url.unlock("me", key=str(key_file))


def test_constructor_checks() -> None:
    with pytest.raises(ConfigError, match="ca_url"):
        TokenSession(root=str(ROOT))
    with pytest.raises(ConfigError, match="root"):
        TokenSession(ca_url="https://ca.example.com")
    with pytest.raises(ConfigError, match="no such file"):
        TokenSession(root=str(ROOT), offline=True, ca_config="/nonexistent/ca.json")


def test_from_steppath_reads_defaults(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "defaults.json").write_text(
        json.dumps({"ca-url": "ca.example.com:4443", "root": str(ROOT)})
    )
    s = TokenSession.from_steppath(environ={"STEPPATH": str(tmp_path), "HOME": str(tmp_path)})
    assert s.ca_url == "https://ca.example.com:4443" and s.root == str(ROOT)
    assert not s.offline and s.steppath == str(tmp_path)


def test_import_pystep_is_lazy() -> None:
    code = (
        "import sys, pystep; print('pystep.session' in sys.modules, "
        "'cryptography' in sys.modules); print(pystep.TokenSession.__module__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env={"PYTHONPATH": str(SRC)},
        capture_output=True, text=True, check=True,
    ).stdout.split()
    assert out == ["False", "False", "pystep.session"]


def test_ssh_revoke_and_refused_kinds(session: TokenSession) -> None:
    from pystep.errors import PystepError

    minter = session.unlock("admin", password_file=str(PASSWORD))
    claims = _verify(minter.ssh_revoke(424242, not_after="2m"), _record("admin")["key"])
    assert claims["sub"] == "424242" and claims["aud"] == "https://ca.example.com/ssh/revoke"
    assert claims["exp"] - claims["nbf"] == 120 and "step" not in claims  # as step writes it
    # JWK provisioners mint no SSH renew/rekey or X.509 renew tokens (as step refuses).
    for make in (lambda: minter.ssh_renew("h"), lambda: minter.ssh_rekey("h"),
                 lambda: minter.renew()):
        with pytest.raises(PystepError):
            make()
