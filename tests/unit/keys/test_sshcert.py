"""SSHPOP certificates: real ssh-keygen certificates and the step testdata."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pystep.errors import KeyLoadError
from pystep.jose.encoding import b64url_decode
from pystep.keys.sshcert import check_key_matches, load_ssh_certificate, sshpop_header_value
from tests.ci import tools_mark

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "step-v0.19" / "tokens"
SSH_KEYGEN = shutil.which("ssh-keygen")
needs_keygen = tools_mark("ssh-keygen")
PREFIX = "error validating SSH certificate and key for use in sshpop header: "


def _keygen(*args: str) -> None:
    subprocess.run([SSH_KEYGEN, "-q", *args], check=True, capture_output=True)  # type: ignore[list-item]


@needs_keygen
@pytest.mark.parametrize("key_type", ["ed25519", "ecdsa"])
@pytest.mark.parametrize("host", [True, False])
def test_ssh_keygen_certificates(tmp_path: Path, key_type: str, host: bool) -> None:
    _keygen("-t", "ed25519", "-N", "", "-f", str(tmp_path / "ca"))
    _keygen("-t", key_type, "-N", "", "-f", str(tmp_path / "id"))
    args = [
        "-s",
        str(tmp_path / "ca"),
        "-I",
        "my-key-id",
        "-n",
        "web1,web1.example.com",
        "-z",
        "4242",
        "-V",
        "20200101000000:20400101000000",
    ]
    if host:
        args.append("-h")
    _keygen(*args, str(tmp_path / "id.pub"))
    cert = load_ssh_certificate(str(tmp_path / "id-cert.pub"))
    assert cert.cert_type == ("host" if host else "user")
    assert cert.principals == ["web1", "web1.example.com"]
    assert cert.serial == 4242 and cert.key_id == "my-key-id"
    assert cert.valid_after_time().year == 2020
    before = cert.valid_before_time()
    assert before is not None and before.year == 2040
    line = (tmp_path / "id-cert.pub").read_text().split()
    assert sshpop_header_value(cert) == line[1]
    private = serialization.load_ssh_private_key((tmp_path / "id").read_bytes(), None)
    check_key_matches(cert, private.public_key())  # type: ignore[arg-type]
    # the CA key is not the certificate's key
    ca_private = serialization.load_ssh_private_key((tmp_path / "ca").read_bytes(), None)
    with pytest.raises(KeyLoadError) as info:
        check_key_matches(cert, ca_private.public_key())  # type: ignore[arg-type]
    assert str(info.value) == PREFIX + (
        "error verifying ssh key pair: private key does not match public key"
    )


@needs_keygen
def test_plain_public_key_is_not_a_certificate(tmp_path: Path) -> None:
    _keygen("-t", "ed25519", "-N", "", "-f", str(tmp_path / "id"))
    with pytest.raises(KeyLoadError) as info:
        load_ssh_certificate(str(tmp_path / "id.pub"))
    assert str(info.value) == PREFIX + "error casting ssh public key to ssh certificate"


def test_garbage_and_missing(tmp_path: Path) -> None:
    path = tmp_path / "bad-cert.pub"
    path.write_text("ssh-ed25519-cert-v01@openssh.com AAAA!!!\n")
    with pytest.raises(KeyLoadError, match="error parsing ssh public key from"):
        load_ssh_certificate(str(path))
    with pytest.raises(KeyLoadError, match="error reading ssh certificate from"):
        load_ssh_certificate(str(tmp_path / "none"))


def test_step_testdata_sshpop() -> None:
    cert = load_ssh_certificate(str(FIXTURES / "inputs" / "sshpop-host-ecdsa-cert.pub"))
    assert cert.cert_type == "host"
    record = json.loads((FIXTURES / "sshpop-renew.json").read_text())
    header = json.loads(b64url_decode(record["token"].split(".")[0]))
    assert sshpop_header_value(cert) == header["sshpop"]
    public = serialization.load_ssh_public_key(
        (FIXTURES / "inputs" / "sshpop-host-ecdsa.pub").read_bytes()
    )
    check_key_matches(cert, public)  # type: ignore[arg-type]
    assert base64.b64decode(header["sshpop"]) == cert.wire
    with pytest.raises(KeyLoadError):
        check_key_matches(cert, ec.generate_private_key(ec.SECP256R1()).public_key())
