"""Issue 2: `pystep ca token` with JWK provisioners, judged by the real step-ca 0.19.

Every token here is minted by the pystep CLI as a subprocess (the way users run it) and
exchanged with the session CA; the CA's HTTP status is the verdict.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from pystep.jose.jws import decode_compact
from tests.conftest import RunPystep
from tests.harness.stepca import StepCA

FIXTURE_KEYS = Path(__file__).resolve().parents[1] / "fixtures" / "step-v0.19" / "keys"


def online(ca: StepCA, *extra: str) -> list[str]:
    return ["ca", "token", *extra, "--ca-url", ca.url, "--root", str(ca.root_path)]


def mint(run: RunPystep, args: list[str], **kw: Any) -> str:
    res = run(*args, **kw)
    assert res.returncode == 0, res.stderr
    assert res.stdout.endswith("\n") and res.stdout.count("\n") == 1, res.stdout
    return res.stdout.strip()


def refused(res: subprocess.CompletedProcess[str], message: str) -> None:
    assert res.returncode == 1, (res.returncode, res.stderr)
    assert res.stdout == ""
    assert message in res.stderr, res.stderr
    assert "Traceback" not in res.stderr
    # One error line; step's own "✔ Provisioner: …" notice may come before it.
    lines = [ln for ln in res.stderr.strip().splitlines() if not ln.startswith("✔ ")]
    assert len(lines) == 1, res.stderr


@pytest.mark.parametrize(
    "provisioner", ["admin", "jwk-600k", "jwk-p384", "jwk-p521", "jwk-ed25519", "jwk-rsa"]
)
def test_online_sign_each_key_type(
    step_ca: StepCA, run_pystep: RunPystep, provisioner: str
) -> None:
    res = run_pystep(
        *online(step_ca, "svc.example.com", "--provisioner", provisioner,
                "--provisioner-password-file", str(step_ca.password_file)),
    )
    assert res.returncode == 0, res.stderr
    assert f"✔ Provisioner: {provisioner} (JWK)" in res.stderr
    token = res.stdout.strip()
    decoded = decode_compact(token)
    assert decoded.header["kid"] == step_ca.provisioners[provisioner]["key"]["kid"]
    assert decoded.claims["aud"] == f"{step_ca.url}/1.0/sign"
    assert decoded.claims["sha"] == step_ca.root_fingerprint
    result = step_ca.sign(token, "svc.example.com")
    assert result.status == 201, result.body
    assert result.common_name == "svc.example.com"


def test_sans_flags_and_csr_mismatch(step_ca: StepCA, run_pystep: RunPystep) -> None:
    args = online(step_ca, "app.example.com", "--provisioner", "admin", "--password-file",
                  str(step_ca.password_file), "--san", "app.example.com", "--san=10.0.0.7",
                  "-san", "::1")
    token = mint(run_pystep, args)
    assert decode_compact(token).claims["sans"] == ["app.example.com", "10.0.0.7", "::1"]
    ok = step_ca.sign(token, "app.example.com", ["app.example.com", "10.0.0.7", "::1"])
    assert ok.status == 201, ok.body
    assert sorted(ok.sans) == sorted(["app.example.com", "10.0.0.7", "::1"])
    # The CA refuses a CSR whose SANs differ from the token's.
    bad = step_ca.sign(mint(run_pystep, args), "app.example.com", ["evil.example.com"])
    assert bad.status == 403, bad.body


def test_expired_and_future_tokens_are_refused(step_ca: StepCA, run_pystep: RunPystep) -> None:
    base = online(step_ca, "late.example.com", "--provisioner", "admin", "--password-file",
                  str(step_ca.password_file))
    expired = mint(run_pystep, [*base, "--not-before", "-10m", "--not-after", "-5m"])
    assert step_ca.sign(expired, "late.example.com").status == 401
    future = mint(run_pystep, [*base, "--not-before", "5m"])
    assert step_ca.sign(future, "late.example.com").status == 401
    fine = mint(run_pystep, [*base, "--not-after", "2m"])
    claims = decode_compact(fine).claims
    assert 118 <= claims["exp"] - claims["nbf"] <= 120  # "2m" counts from parse time
    assert step_ca.sign(fine, "late.example.com").status == 201


def test_revoke_with_serial_before_flags(step_ca: StepCA, run_pystep: RunPystep) -> None:
    pw = str(step_ca.password_file)
    token = mint(run_pystep, online(step_ca, "rev.example.com", "--provisioner", "admin",
                                    "--password-file", pw))
    issued = step_ca.sign(token, "rev.example.com")
    assert issued.status == 201 and issued.certificate is not None
    serial = str(issued.certificate.serial_number)
    # The seed's own form: a bool flag never swallows the serial after it.
    args = ["ca", "token", "--revoke", serial, "--provisioner", "admin", "--password-file", pw,
            "--ca-url", step_ca.url, "--root", str(step_ca.root_path)]
    revoke = mint(run_pystep, args)
    claims = decode_compact(revoke).claims
    assert claims["sub"] == serial and claims["aud"].endswith("/1.0/revoke")
    assert "sans" not in claims
    status, body = step_ca.revoke(revoke, serial)
    assert status == 200, body
    refused(run_pystep(*args, "--san", "x"), "flag '--san' is incompatible with '--revoke'")


def _ssh_key() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH)


def test_ssh_user_host_and_revoke(step_ca: StepCA, run_pystep: RunPystep) -> None:
    pw = str(step_ca.password_file)
    user_tok = mint(run_pystep, online(step_ca, "alice@example.com", "--ssh", "-n", "alice",
                                       "--principal=ops", "--provisioner", "admin",
                                       "--password-file", pw, "--cert-not-after", "1h"))
    ssh = decode_compact(user_tok).claims["step"]["ssh"]
    assert ssh == {"certType": "user", "keyID": "alice@example.com",
                   "principals": ["alice", "ops"], "validAfter": "", "validBefore": "1h0m0s"}
    res = step_ca.ssh_sign(user_tok, "user", ["alice", "ops"], "alice@example.com", _ssh_key())
    assert res.status == 201, res.body
    assert res.certificate is not None
    assert sorted(p.decode() for p in res.certificate.valid_principals) == ["alice", "ops"]

    host_tok = mint(run_pystep, online(step_ca, "host.example.com", "--ssh", "--host",
                                       "--principal", "host.example.com",
                                       "--provisioner", "admin", "--password-file", pw))
    res = step_ca.ssh_sign(host_tok, "host", ["host.example.com"], "host.example.com", _ssh_key())
    assert res.status == 201, res.body
    assert res.certificate is not None
    serial = str(res.certificate.serial)

    rev_tok = mint(run_pystep, online(step_ca, serial, "--ssh", "--revoke",
                                      "--provisioner", "admin", "--password-file", pw))
    assert decode_compact(rev_tok).claims["aud"].endswith("/1.0/ssh/revoke")
    status, body = step_ca.ssh_revoke(rev_tok, serial)
    assert status == 200, body


def test_ssh_renew_with_jwk_is_refused_clearly(step_ca: StepCA, run_pystep: RunPystep) -> None:
    res = run_pystep(*online(step_ca, "h", "--ssh", "--renew", "--provisioner", "admin",
                             "--password-file", str(step_ca.password_file)))
    refused(res, "JWK provisioners cannot renew SSH certificates")


@pytest.mark.parametrize(
    ("provisioner", "key_file"),
    [("pem-ec", "pem-ec-p256.key"), ("pem-ed25519", "pem-okp-ed25519.key"),
     ("pem-rsa", "pem-rsa-2048.key"), ("pem-ec-plain", "pem-ec-p256-plain.key"),
     ("jwk-ed25519", "jwk-okp-ed25519.key.json")],
)
def test_online_with_key_file(
    step_ca: StepCA, run_pystep: RunPystep, provisioner: str, key_file: str
) -> None:
    token = mint(run_pystep, online(step_ca, "k.example.com", "--provisioner", provisioner,
                                    "--key", str(FIXTURE_KEYS / key_file),
                                    "--password-file", str(step_ca.password_file)))
    assert decode_compact(token).header["kid"] == step_ca.provisioners[provisioner]["key"]["kid"]
    assert step_ca.sign(token, "k.example.com").status == 201


def test_offline_with_ca_json_while_ca_runs(step_ca: StepCA, run_pystep: RunPystep) -> None:
    # step's --offline opens the CA database and dies on its lock; pystep reads ca.json only.
    token = mint(run_pystep, ["ca", "token", "off.example.com", "--offline", "--provisioner",
                              "admin", "--ca-config", str(step_ca.ca_config_path),
                              "--password-file", str(step_ca.password_file),
                              "--root", str(step_ca.root_path)])
    claims = decode_compact(token).claims
    assert claims["aud"] == "https://127.0.0.1/sign"
    assert "user" not in claims
    assert step_ca.sign(token, "off.example.com").status == 201
    ssh = mint(run_pystep, ["ca", "token", "bob", "--offline", "--ssh", "-n", "bob",
                            "--provisioner", "admin", "--ca-config", str(step_ca.ca_config_path),
                            "--password-file", str(step_ca.password_file),
                            "--root", str(step_ca.root_path)])
    assert step_ca.ssh_sign(ssh, "user", ["bob"], "bob", _ssh_key()).status == 201


def test_offline_key_without_ca_json(
    step_ca: StepCA, run_pystep: RunPystep, tmp_path: Path
) -> None:
    base = ["ca", "token", "kid.example.com", "--offline", "--issuer", "pem-ec",
            "--key", str(FIXTURE_KEYS / "pem-ec-p256.key"), "--password-file",
            str(step_ca.password_file), "--ca-url", step_ca.url, "--root", str(step_ca.root_path),
            "--ca-config", str(tmp_path / "absent.json")]
    token = mint(run_pystep, base, env={"STEPPATH": str(tmp_path)})
    # kid is the key's thumbprint, which is how pem-ec's kid was made.
    assert decode_compact(token).header["kid"] == step_ca.provisioners["pem-ec"]["key"]["kid"]
    assert step_ca.sign(token, "kid.example.com").status == 201
    refused(run_pystep(*[a for a in base if a != "--offline"][:2], "x", "--offline",
                       "--key", str(FIXTURE_KEYS / "pem-ec-p256.key"),
                       "--root", str(step_ca.root_path), "--ca-url", step_ca.url,
                       "--ca-config", str(tmp_path / "absent.json"),
                       env={"STEPPATH": str(tmp_path)}),
            "flag '--offline' requires the '--provisioner' flag")


def test_steppath_defaults_and_env(step_ca: StepCA, run_pystep: RunPystep) -> None:
    env = {"STEPPATH": str(step_ca.steppath), "STEP_PROVISIONER": "jwk-p384",
           "STEP_PASSWORD_FILE": str(step_ca.password_file)}
    res = run_pystep("ca", "token", "env.example.com", env=env)
    assert res.returncode == 0, res.stderr
    claims = decode_compact(res.stdout.strip()).claims
    assert claims["iss"] == "jwk-p384"
    assert step_ca.sign(res.stdout.strip(), "env.example.com").status == 201
    # A flag beats the environment.
    res = run_pystep("ca", "token", "env.example.com", "--provisioner", "admin", env=env)
    assert decode_compact(res.stdout.strip()).claims["iss"] == "admin"


def test_contexts(step_ca: StepCA, run_pystep: RunPystep, tmp_path: Path) -> None:
    base = tmp_path / "step"
    auth = base / "authorities" / "test-ca"
    (auth / "config").mkdir(parents=True)
    (auth / "certs").mkdir()
    (auth / "certs" / "root_ca.crt").write_bytes(step_ca.root_path.read_bytes())
    (auth / "config" / "defaults.json").write_text(json.dumps({"ca-url": step_ca.url}))
    prof = base / "profiles" / "me" / "config"
    prof.mkdir(parents=True)
    (prof / "defaults.json").write_text(json.dumps({"provisioner": "jwk-p521"}))
    (base / "contexts.json").write_text(
        json.dumps({"test-ca": {"authority": "test-ca", "profile": "me"}}))
    res = run_pystep("ca", "token", "ctx.example.com", "--context", "test-ca",
                     "--password-file", str(step_ca.password_file),
                     env={"STEPPATH": str(base)})
    assert res.returncode == 0, res.stderr
    assert decode_compact(res.stdout.strip()).claims["iss"] == "jwk-p521"
    assert step_ca.sign(res.stdout.strip(), "ctx.example.com").status == 201
    refused(run_pystep("ca", "token", "x", "--context", "nope", env={"STEPPATH": str(base)}),
            "could not load context 'nope'")


def test_output_file(step_ca: StepCA, run_pystep: RunPystep, tmp_path: Path) -> None:
    out = tmp_path / "token.txt"
    args = online(step_ca, "file.example.com", "--provisioner", "admin", "--password-file",
                  str(step_ca.password_file), "--output-file", str(out))
    res = run_pystep(*args)
    assert res.returncode == 0 and res.stdout == ""
    token = out.read_text()
    assert not token.endswith("\n")
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    refused(run_pystep(*args), "file exists")
    assert out.read_text() == token
    assert run_pystep(*args, "--force").returncode == 0
    assert out.read_text() != token
    assert step_ca.sign(out.read_text(), "file.example.com").status == 201


def test_errors(step_ca: StepCA, run_pystep: RunPystep, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-password\n")
    refused(run_pystep(*online(step_ca, "x", "--provisioner", "admin", "--password-file",
                               str(wrong))), "failed to decrypt JWE: invalid password")
    refused(run_pystep(*online(step_ca, "x", "--provisioner", "nope")),
            "invalid value 'nope' for flag '--provisioner'")
    refused(run_pystep(*online(step_ca, "x", "--kid", "no-such-kid")),
            "invalid value 'no-such-kid' for flag '--kid'")
    refused(run_pystep(*online(step_ca, "x", "--provisioner", "acme")),
            "do not support token auth flows")
    # Several provisioners fit and there is no terminal: the error lists them.
    res = run_pystep(*online(step_ca, "x"))
    refused(res, "admin (JWK) [kid:")
    assert "--provisioner" in res.stderr
    # No password and no terminal: a clear line naming the flags.
    refused(run_pystep(*online(step_ca, "x", "--provisioner", "admin")), "--password-file")
    refused(run_pystep("ca", "token", "x", "--ca-url", step_ca.url, "--root",
                       str(tmp_path / "missing.crt"), "--provisioner", "admin"),
            "missing.crt")
    refused(run_pystep("ca", "token", "x", "--ca-url", "http://127.0.0.1:1", "--root",
                       str(step_ca.root_path)), "must have https scheme")
    refused(run_pystep(*online(step_ca, "x", "--not-after", "tomorrow")),
            "invalid value 'tomorrow' for flag '--not-after'")
    # A CA that is not there: one line, quickly.
    refused(run_pystep("ca", "token", "x", "--ca-url", "https://127.0.0.1:1", "--root",
                       str(step_ca.root_path), "--provisioner", "admin"),
            "client GET https://127.0.0.1:1/provisioners")
