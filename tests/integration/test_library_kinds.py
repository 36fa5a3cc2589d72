"""The library (TokenSession.unlock with X5C, SSHPOP, Nebula, renew and K8sSA credentials),
``--batch`` with X5C credentials and ``ca token --format json`` for every kind, against the
real step-ca 0.19: every token must be accepted."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from pystep.errors import ProvisionerError
from pystep.jose.jws import decode_compact
from pystep.provisioners.base import Credentials
from pystep.session import TokenSession
from tests.conftest import RunPystep, run_pystep_cmd
from tests.harness.extras import k8ssa as k8s_extra
from tests.harness.extras import nebula as neb_extra
from tests.harness.extras import x5c as x5c_extra
from tests.harness.stepca import StepCA
from tests.integration.test_renew import CN as RENEW_CN
from tests.integration.test_renew import obtain_cert
from tests.integration.test_sshpop import HOST as SSH_HOST
from tests.integration.test_sshpop import host_cert

X5C_CN = x5c_extra.LEAF_CN
needs_nebula = pytest.mark.skipif(shutil.which("nebula-cert") is None,
                                  reason="needs nebula-cert (Debian package nebula)")


def _session(ca: StepCA) -> TokenSession:
    return TokenSession(ca.url, str(ca.root_path))


def _x5c_creds(ca: StepCA) -> Credentials:
    d = x5c_extra.paths(ca.workdir)
    return Credentials(x5c_cert=str(d / "good.crt"), x5c_key=str(d / "good.key"))


def _ssh_key() -> ec.EllipticCurvePublicKey:
    return ec.generate_private_key(ec.SECP256R1()).public_key()


def test_x5c_unlock_once_sign_revoke_ssh(step_ca: StepCA) -> None:
    pw = str(x5c_extra.paths(step_ca.workdir) / "password.txt")
    with _session(step_ca) as session:
        # No name: the X5C credentials imply the type (the session CA has two X5C ones).
        with pytest.raises(ProvisionerError) as err:
            session.unlock(credentials=_x5c_creds(step_ca), password_file=pw)
        assert "(X5C)" in str(err.value) and "(JWK)" not in str(err.value)
        minter = session.unlock(x5c_extra.NAME, credentials=_x5c_creds(step_ca),
                                password_file=pw)
        assert minter.provisioner is not None and minter.provisioner.name == x5c_extra.NAME
        token = minter.sign(X5C_CN)
        assert decode_compact(token).header["x5c"]
        signed = step_ca.sign(token, X5C_CN)
        assert signed.status == 201, (signed.body, step_ca.log_tail(3))
        assert signed.certificate is not None
        serial = signed.certificate.serial_number
        assert step_ca.revoke(minter.revoke(serial), serial)[0] == 200
        ssh = step_ca.ssh_sign(minter.ssh_user("erin@pystep.test", ["erin"]), "user",
                               ["erin"], "erin@pystep.test", _ssh_key())
        assert ssh.status == 201, ssh.body
        second = minter.sign(X5C_CN, sans=[X5C_CN])
        assert decode_compact(second).claims["jti"] != decode_compact(token).claims["jti"]
        assert step_ca.sign(second, X5C_CN).status == 201


def test_sshpop_unlock_renew_rekey_revoke(step_ca: StepCA, tmp_path: Path) -> None:
    serial = host_cert(step_ca, run_pystep_cmd, tmp_path)
    creds = Credentials(sshpop_cert=str(tmp_path / "host-cert.pub"),
                        sshpop_key=str(tmp_path / "host"))
    with _session(step_ca) as session:
        minter = session.unlock(credentials=creds)
        assert minter.provisioner is not None and minter.provisioner.type == "SSHPOP"
        renew = minter.ssh_renew(SSH_HOST)
        assert decode_compact(renew).claims["aud"].endswith("/1.0/ssh/renew#sshpop/sshpop")
        assert step_ca.ssh_renew(renew).status == 201
        assert step_ca.ssh_rekey(minter.ssh_rekey(SSH_HOST), _ssh_key()).status == 201
        status, body = step_ca.ssh_revoke(minter.ssh_revoke(serial), serial)
        assert status == 200, body


@needs_nebula
def test_nebula_unlock_sign_ssh_revoke(step_ca: StepCA) -> None:
    d = neb_extra.paths(step_ca.workdir)
    host, ip = neb_extra.HOST_NAME, neb_extra.HOST_IP
    creds = Credentials(nebula_cert=str(d / "host.crt"), nebula_key=str(d / "host.key"))
    with _session(step_ca) as session:
        minter = session.unlock(credentials=creds)
        token = minter.sign(host, sans=[host, ip])
        assert decode_compact(token).header["alg"] == "XEdDSA"
        signed = step_ca.sign(token, host, [host, ip])
        assert signed.status == 201, signed.body
        assert signed.certificate is not None
        serial = signed.certificate.serial_number
        assert step_ca.revoke(minter.revoke(serial), serial)[0] == 200
        ssh = step_ca.ssh_sign(minter.ssh_host(host, [host]), "host", [host], host, _ssh_key())
        assert ssh.status == 201, ssh.body


def test_renew_unlock(step_ca: StepCA, tmp_path: Path) -> None:
    old = obtain_cert(step_ca, run_pystep_cmd, tmp_path, "renew-strict")
    creds = Credentials(x5c_cert=str(tmp_path / "leaf.crt"), x5c_key=str(tmp_path / "leaf.key"))
    with _session(step_ca) as session:
        minter = session.unlock(credentials=creds, renew=True)
        token = minter.renew()
        assert decode_compact(token).claims["sub"] == RENEW_CN
        new = step_ca.renew_with_token(token)
        assert new.status == 201, new.body
        assert new.certificate is not None and old.certificate is not None
        assert new.certificate.serial_number != old.certificate.serial_number


def test_k8ssa_unlock(step_ca: StepCA, tmp_path: Path) -> None:
    sa = k8s_extra.service_account_token(step_ca.workdir)
    (tmp_path / "token").write_text(sa + "\n")
    with _session(step_ca) as session:
        minter = session.unlock(k8s_extra.NAME,
                                credentials=Credentials(k8ssa_token_path=str(tmp_path / "token")))
        token = minter.sign("k8s-lib.pystep.test")
        assert token == sa
        assert step_ca.sign(token, "k8s-lib.pystep.test").status == 201


def _x5c_flags(ca: StepCA) -> list[str]:
    d = x5c_extra.paths(ca.workdir)
    return ["--provisioner", x5c_extra.NAME, "--x5c-cert", str(d / "good.crt"),
            "--x5c-key", str(d / "good.key"), "--password-file", str(d / "password.txt")]


def test_x5c_batch_all_accepted(run_pystep: RunPystep, step_ca: StepCA) -> None:
    lines = [
        X5C_CN,
        json.dumps({"subject": X5C_CN, "sans": [X5C_CN, "10.7.7.7"]}),
        json.dumps({"subject": "frank@pystep.test", "ssh": True, "principals": ["frank"]}),
        json.dumps({"subject": X5C_CN, "not-after": "2m"}),
    ]
    run = run_pystep("ca", "token", "--batch", "-", *_x5c_flags(step_ca), "--format", "json",
                     input="\n".join(lines) + "\n", env={"STEPPATH": str(step_ca.steppath)})
    assert run.returncode == 0, run.stderr
    objs = [json.loads(line) for line in run.stdout.splitlines()]
    assert [o["line"] for o in objs] == [1, 2, 3, 4]
    claims = [decode_compact(o["token"]).claims for o in objs]
    assert len({c["jti"] for c in claims}) == 4
    assert all(c["iss"] == x5c_extra.NAME for c in claims)
    assert claims[3]["exp"] - claims[3]["nbf"] == 120
    for o, c in zip(objs, claims, strict=True):
        if "step" in c:
            res = step_ca.ssh_sign(o["token"], "user", ["frank"], "frank@pystep.test", _ssh_key())
            assert res.status == 201, res.body
        else:
            res2 = step_ca.sign(o["token"], X5C_CN, list(c["sans"]))
            assert res2.status == 201, (c, res2.body)


def _json_args(kind: str, ca: StepCA, tmp: Path) -> tuple[list[str], Callable[[str], int]]:
    """`ca token` arguments for one kind, and how the CA judges the token (status)."""

    if kind == "x5c":
        return [X5C_CN, *_x5c_flags(ca)], lambda t: ca.sign(t, X5C_CN).status
    if kind == "renew":
        obtain_cert(ca, run_pystep_cmd, tmp, "renew-strict")
        return ([RENEW_CN, "--renew", "--x5c-cert", str(tmp / "leaf.crt"), "--x5c-key",
                 str(tmp / "leaf.key")], lambda t: ca.renew_with_token(t).status)
    if kind == "sshpop":
        host_cert(ca, run_pystep_cmd, tmp)
        return ([SSH_HOST, "--ssh", "--renew", "--provisioner", "sshpop", "--sshpop-cert",
                 str(tmp / "host-cert.pub"), "--sshpop-key", str(tmp / "host")],
                lambda t: ca.ssh_renew(t).status)
    if kind == "nebula":
        d = neb_extra.paths(ca.workdir)
        return ([neb_extra.HOST_NAME, "--provisioner", neb_extra.NAME, "--nebula-cert",
                 str(d / "host.crt"), "--nebula-key", str(d / "host.key")],
                lambda t: ca.sign(t, neb_extra.HOST_NAME).status)
    assert kind == "k8ssa"
    (tmp / "sa").write_text(k8s_extra.service_account_token(ca.workdir))
    return (["k8s-json.pystep.test", "--k8ssa-token-path", str(tmp / "sa")],
            lambda t: ca.sign(t, "k8s-json.pystep.test").status)


@pytest.mark.parametrize("kind", ["x5c", "renew", "sshpop",
                                  pytest.param("nebula", marks=needs_nebula), "k8ssa"])
def test_token_format_json_every_kind(
    kind: str, run_pystep: RunPystep, step_ca: StepCA, tmp_path: Path
) -> None:
    args, judge = _json_args(kind, step_ca, tmp_path)
    run = run_pystep("ca", "token", *args, "--format", "json",
                     env={"STEPPATH": str(step_ca.steppath)})
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("\n") == 1
    obj = json.loads(run.stdout)
    decoded = decode_compact(obj["token"])
    assert obj["header"] == decoded.header and obj["claims"] == decoded.claims
    assert judge(obj["token"]) in (200, 201)
