"""The step-kms-plugin bridge against a fake plugin written by the test.

The fake is a Python script that appends its argv and stdin to a log and answers like
step-kms-plugin with key files made here (it signs with cryptography)."""

from __future__ import annotations

import base64
import datetime
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from pystep.errors import KMSError, MissingExtraError
from pystep.kms import KmsOptions, load_certificates, open_signer
from pystep.kms._sig import digest, verify

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX fake plugin")

FAKE = r"""#!{python}
import base64, json, os, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

d = os.environ["FAKE_PLUGIN_DIR"]
args = sys.argv[1:]
data = sys.stdin.buffer.read()
with open(os.path.join(d, "log.jsonl"), "a") as log:
    log.write(json.dumps({{"argv": args, "stdin": base64.b64encode(data).decode()}}) + "\n")
name = args[-1]
if "fail" in name:
    sys.stderr.write("error opening " + name + ": bad things\nsecond line\n")
    sys.exit(1)
kind = "rsa" if "rsa" in name else "ed" if "ed" in name else "p384" if "384" in name else "p256"
with open(os.path.join(d, kind + ".pem"), "rb") as fh:
    key = serialization.load_pem_private_key(fh.read(), None)
if args[0] == "key":
    sys.stdout.buffer.write(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
elif args[0] == "certificate":
    with open(os.path.join(d, "chain.pem"), "rb") as fh:
        sys.stdout.buffer.write(fh.read())
elif args[0] == "sign":
    if isinstance(key, ec.EllipticCurvePrivateKey):
        h = hashes.SHA384() if kind == "p384" else hashes.SHA256()
        sig = key.sign(data, ec.ECDSA(utils.Prehashed(h)))
    elif isinstance(key, rsa.RSAPrivateKey):
        sig = key.sign(data, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
    else:
        sig = key.sign(data)
    sys.stdout.write(base64.b64encode(sig).decode() + "\n")
"""

INPUT = b"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJwbHVnaW4ifQ"


def _cert(key: Any, issuer_key: Any, cn: str, issuer: str) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + datetime.timedelta(hours=1))
        .sign(issuer_key, hashes.SHA256())
    )  # fmt: skip


@pytest.fixture
def fake(tmp_path: Path) -> dict[str, Any]:
    keys: dict[str, Any] = {
        "p256": ec.generate_private_key(ec.SECP256R1()),
        "p384": ec.generate_private_key(ec.SECP384R1()),
        "rsa": rsa.generate_private_key(65537, 2048),
        "ed": ed25519.Ed25519PrivateKey.generate(),
    }
    for kind, key in keys.items():
        (tmp_path / f"{kind}.pem").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))  # fmt: skip
    ca = ec.generate_private_key(ec.SECP256R1())
    chain = [_cert(keys["p256"], ca, "leaf", "ca"), _cert(ca, ca, "ca", "ca")]
    (tmp_path / "chain.pem").write_bytes(
        b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)
    )
    steppath = tmp_path / "step"
    (steppath / "plugins").mkdir(parents=True)
    plugin = steppath / "plugins" / "step-kms-plugin"
    plugin.write_text(FAKE.format(python=sys.executable))
    plugin.chmod(0o755)
    env = {"FAKE_PLUGIN_DIR": str(tmp_path), "PATH": os.defpath}
    return {"dir": tmp_path, "keys": keys, "chain": chain, "steppath": str(steppath),
            "plugin": str(plugin), "env": env}  # fmt: skip


def _log(fake: dict[str, Any]) -> list[dict[str, Any]]:
    lines = (fake["dir"] / "log.jsonl").read_text().splitlines()
    return [
        {"argv": e["argv"], "stdin": base64.b64decode(e["stdin"])} for e in map(json.loads, lines)
    ]


@pytest.mark.parametrize(
    ("name", "kind", "alg", "extra"),
    [("kms:name=p256", "p256", "ES256", []), ("capi:key=p384", "p384", "ES384", []),
     ("mackms:label=rsa", "rsa", "RS256", ["--alg", "SHA256"]),
     ("softkms:path=ed.pem", "ed", "EdDSA", [])],
)  # fmt: skip
def test_sign(fake: dict[str, Any], name: str, kind: str, alg: str, extra: list[str]) -> None:
    opts = KmsOptions(steppath=fake["steppath"], env=fake["env"])
    signer = open_signer(name, opts)
    assert signer.alg == alg
    assert signer.public_key() == fake["keys"][kind].public_key()
    sig = signer.sign(INPUT)
    assert verify(signer.public_key(), alg, INPUT, sig)
    assert not verify(signer.public_key(), alg, INPUT + b"x", sig)
    stdin = INPUT if alg == "EdDSA" else digest(alg, INPUT)
    assert _log(fake) == [
        {"argv": ["key", name], "stdin": b""},
        {"argv": ["sign", "--format", "base64", *extra, name], "stdin": stdin},
    ]


def test_kms_flag_and_relative_name(fake: dict[str, Any]) -> None:
    kms = "capi:store=My;store-location=user"
    opts = KmsOptions(kms_uri=kms, steppath=fake["steppath"], env=fake["env"])
    signer = open_signer("rsa-key", opts)  # bare name relative to --kms
    sig = signer.sign(INPUT)
    assert verify(signer.public_key(), "RS256", INPUT, sig)
    assert _log(fake) == [
        {"argv": ["key", "--kms", kms, "rsa-key"], "stdin": b""},
        {"argv": ["sign", "--format", "base64", "--kms", kms, "--alg", "SHA256", "rsa-key"],
         "stdin": digest("RS256", INPUT)},
    ]  # fmt: skip


def test_certificates(fake: dict[str, Any]) -> None:
    opts = KmsOptions(kms_uri="kms:", steppath=fake["steppath"], env=fake["env"])
    assert load_certificates("kms:name=leaf", opts) == fake["chain"]
    assert _log(fake) == [{"argv": ["certificate", "--kms", "kms:", "kms:name=leaf"],
                           "stdin": b""}]  # fmt: skip


def test_found_on_path(fake: dict[str, Any], tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    os.rename(fake["plugin"], bindir / "step-kms-plugin")
    env = {**fake["env"], "PATH": f"{bindir}{os.pathsep}{os.defpath}"}
    signer = open_signer("kms:name=ed", KmsOptions(steppath=fake["steppath"], env=env))
    assert signer.alg == "EdDSA"
    with pytest.raises(KMSError) as err:
        open_signer("kms:name=ed", KmsOptions(steppath=fake["steppath"], env=fake["env"]))
    assert str(err.value) == (
        f"kms:name=ed: step-kms-plugin is needed for this key but was not found in "
        f"{fake['steppath']}/plugins or in PATH"
    )


def test_failure_message_redacts_pin(fake: dict[str, Any]) -> None:
    kms = "capi:provider=x;pin-value=123456"
    opts = KmsOptions(kms_uri=kms, steppath=fake["steppath"], env=fake["env"])
    with pytest.raises(KMSError) as err:
        open_signer("capi:key=fail?pin-value=999999", opts)
    msg = str(err.value)
    assert msg == (
        f'command "{fake["plugin"]} key --kms capi:provider=x;pin-value=***** '
        f'capi:key=fail?pin-value=*****" failed with: error opening '
        f"capi:key=fail?pin-value=*****: bad things"
    )
    # the plugin itself got the real values
    assert _log(fake)[0]["argv"] == ["key", "--kms", kms, "capi:key=fail?pin-value=999999"]


def test_unknown_names(fake: dict[str, Any]) -> None:
    opts = KmsOptions(steppath=fake["steppath"], env=fake["env"])
    for name in ("nosuchfile.pem", "foo:bar=1"):
        with pytest.raises(KMSError) as err:
            open_signer(name, opts)
        assert str(err.value).startswith(f"{name} is not a file and not a KMS URI (known schemes: ")
        assert "pkcs11" in str(err.value)
    assert not (fake["dir"] / "log.jsonl").exists()


def test_missing_extra_falls_back_to_plugin(
    fake: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A native scheme whose optional package is missing is served by the plugin."""
    monkeypatch.setitem(sys.modules, "boto3", None)  # makes `import boto3` fail
    opts = KmsOptions(steppath=fake["steppath"], env=fake["env"])
    signer = open_signer("awskms:key-id=p256", opts)
    assert verify(signer.public_key(), "ES256", INPUT, signer.sign(INPUT))
    with pytest.raises(MissingExtraError, match=r"pip install 'pystep\[awskms\]'"):
        open_signer("awskms:key-id=p256", KmsOptions(steppath=str(fake["dir"]), env={}))
