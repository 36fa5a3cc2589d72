"""ssh-agent signer against a real ssh-agent with keys made by ssh-keygen."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from pystep.errors import KMSError
from pystep.kms import KmsOptions, open_signer
from pystep.kms._sig import verify
from tests.ci import require_tools

require_tools("ssh-agent", "ssh-add", "ssh-keygen", why="Debian package openssh-client",
              module_level=True)

KEYS = {
    "p256@test": ["-t", "ecdsa", "-b", "256"],
    "p384@test": ["-t", "ecdsa", "-b", "384"],
    "p521@test": ["-t", "ecdsa", "-b", "521"],
    "ed@test": ["-t", "ed25519"],
    "rsa@test": ["-t", "rsa", "-b", "2048"],
}
INPUT = b"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhZ2VudCJ9"


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], Path]]:
    d = tmp_path_factory.mktemp("agent")
    sock = d / "agent.sock"
    proc = subprocess.Popen(
        ["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        for _ in range(100):
            if sock.exists():
                break
            time.sleep(0.05)
        env = {**os.environ, "SSH_AUTH_SOCK": str(sock)}
        for comment, args in KEYS.items():
            path = d / comment.split("@")[0]
            subprocess.run(["ssh-keygen", *args, "-N", "", "-C", comment, "-f", str(path), "-q"],
                           check=True)  # fmt: skip
            subprocess.run(["ssh-add", str(path)], env=env, check=True, capture_output=True)
        yield env, d
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _pub(d: Path, comment: str) -> object:
    data = (d / (comment.split("@")[0] + ".pub")).read_bytes()
    return serialization.load_ssh_public_key(data)


@pytest.mark.parametrize(
    ("comment", "alg", "key_type", "sig_len"),
    [
        ("p256@test", "ES256", ec.EllipticCurvePublicKey, 64),
        ("p384@test", "ES384", ec.EllipticCurvePublicKey, 96),
        ("p521@test", "ES512", ec.EllipticCurvePublicKey, 132),
        ("ed@test", "EdDSA", ed25519.Ed25519PublicKey, 64),
        ("rsa@test", "RS256", rsa.RSAPublicKey, 256),
    ],
)
def test_sign_by_comment(
    agent: tuple[dict[str, str], Path], comment: str, alg: str, key_type: type, sig_len: int
) -> None:
    env, d = agent
    signer = open_signer(f"sshagentkms:{comment}", KmsOptions(env=env))
    assert signer.alg == alg
    pub = signer.public_key()
    assert isinstance(pub, key_type)
    assert pub == _pub(d, comment)
    for _ in range(3):  # ECDSA r/s with leading zero bytes must still be fixed width
        sig = signer.sign(INPUT)
        assert len(sig) == sig_len
        assert verify(pub, alg, INPUT, sig)
        assert not verify(pub, alg, INPUT + b".", sig)


def test_by_fingerprint_and_relative_to_kms(agent: tuple[dict[str, str], Path]) -> None:
    env, d = agent
    out = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(d / "ed.pub")],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    fingerprint = out.split()[1]
    assert fingerprint.startswith("SHA256:")
    signer = open_signer(f"sshagentkms:{fingerprint}", KmsOptions(env=env))
    assert signer.public_key() == _pub(d, "ed@test")
    signer = open_signer("rsa@test", KmsOptions(kms_uri="sshagentkms:", env=env))
    assert signer.public_key() == _pub(d, "rsa@test")
    assert verify(signer.public_key(), "RS256", INPUT, signer.sign(INPUT))


def test_errors(agent: tuple[dict[str, str], Path], tmp_path: Path) -> None:
    env, _ = agent
    with pytest.raises(KMSError) as err:
        open_signer("sshagentkms:nobody@test", KmsOptions(env=env))
    assert str(err.value) == (
        "sshagentkms: no key with comment or fingerprint 'nobody@test' in the ssh-agent"
    )
    with pytest.raises(KMSError, match="SSH_AUTH_SOCK is not set"):
        open_signer("sshagentkms:p256@test", KmsOptions(env={}))
    missing = tmp_path / "none.sock"
    with pytest.raises(KMSError) as err:
        open_signer("sshagentkms:p256@test", KmsOptions(env={"SSH_AUTH_SOCK": str(missing)}))
    assert str(err.value) == (
        f"sshagentkms: cannot talk to the ssh-agent at {missing}: No such file or directory"
    )


def test_key_removed_after_open(agent: tuple[dict[str, str], Path]) -> None:
    env, d = agent
    signer = open_signer("sshagentkms:p384@test", KmsOptions(env=env))
    subprocess.run(["ssh-add", "-d", str(d / "p384")], env=env, check=True, capture_output=True)
    try:
        with pytest.raises(KMSError, match="refused to sign with 'p384@test'"):
            signer.sign(INPUT)
    finally:
        subprocess.run(["ssh-add", str(d / "p384")], env=env, check=True, capture_output=True)
