"""tpmkms against a real software TPM (swtpm) driven by the real tpm2-tools."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from pystep import kms
from pystep.errors import KMSError
from pystep.kms import KmsOptions, tpm
from pystep.kms.uri import parse
from tests.harness.ports import free_port_pair

_TOOLS = ("swtpm", "tpm2_createprimary", "tpm2_sign", "tpm2_readpublic", "tpm2_flushcontext")
if any(shutil.which(t) is None for t in _TOOLS):
    if os.environ.get("CI"):
        pytest.fail("swtpm and tpm2-tools must be installed in CI", pytrace=False)
    pytest.skip("swtpm/tpm2-tools not installed", allow_module_level=True)


@pytest.fixture(scope="module")
def swtpm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One swtpm for this module; yields its TCTI string."""
    state = tmp_path_factory.mktemp("swtpm-state")
    port = free_port_pair()
    proc = subprocess.Popen(
        [
            "swtpm", "socket", "--tpm2",
            "--server", f"type=tcp,port={port},bindaddr=127.0.0.1",
            "--ctrl", f"type=tcp,port={port + 1},bindaddr=127.0.0.1",
            "--tpmstate", f"dir={state}", "--flags", "startup-clear",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"swtpm did not start: {proc.stderr!r}") from None
                time.sleep(0.05)
        yield f"swtpm:host=127.0.0.1,port={port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture()
def opts(swtpm: str, tmp_path: Path) -> KmsOptions:
    return KmsOptions(kms_uri=f"tpmkms:device={swtpm};storage-directory={tmp_path / 'keys'}")


def _verify(public_key: object, alg: str, data: bytes, sig: bytes) -> None:
    """Independent check with cryptography (raises InvalidSignature on a bad signature)."""
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        half = len(sig) // 2
        der = encode_dss_signature(int.from_bytes(sig[:half]), int.from_bytes(sig[half:]))
        h = hashes.SHA256() if alg == "ES256" else hashes.SHA384()
        public_key.verify(der, data, ec.ECDSA(h))
    else:
        assert isinstance(public_key, rsa.RSAPublicKey)
        public_key.verify(sig, data, padding.PKCS1v15(), hashes.SHA256())


@pytest.mark.parametrize(("alg", "sig_len"), [("ES256", 64), ("ES384", 96), ("RS256", 256)])
def test_create_sign_verify(opts: KmsOptions, alg: str, sig_len: int) -> None:
    created = tpm.create_key(f"k-{alg}", opts, alg=alg)
    signer = kms.open_signer(f"tpmkms:name=k-{alg}", opts)
    assert signer.alg == alg
    assert signer.public_key().public_numbers() == created.public_numbers()  # type: ignore[union-attr]
    data = b"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0"
    sig = signer.sign(data)
    assert len(sig) == sig_len
    _verify(signer.public_key(), alg, data, sig)
    with pytest.raises(Exception):  # noqa: B017 - any InvalidSignature
        _verify(signer.public_key(), alg, data + b"x", sig)


def test_storage_layout_and_many_signatures(opts: KmsOptions, tmp_path: Path) -> None:
    tpm.create_key("layout", opts)
    pub, priv = tmp_path / "keys" / "layout.pub", tmp_path / "keys" / "layout.priv"
    assert pub.is_file() and priv.is_file()
    assert stat.S_IMODE(priv.stat().st_mode) == 0o600
    signer = kms.open_signer("tpmkms:name=layout", opts)
    # Without a resource manager leaked objects would exhaust swtpm's 3 slots quickly.
    for i in range(6):
        data = f"input-{i}".encode()
        _verify(signer.public_key(), "ES256", data, signer.sign(data))


def test_tcti_from_environment(swtpm: str, tmp_path: Path) -> None:
    env = {**os.environ, "TPM2TOOLS_TCTI": swtpm}
    o = KmsOptions(kms_uri=f"tpmkms:storage-directory={tmp_path}", env=env)
    tpm.create_key("envkey", o)
    signer = tpm.open_signer(parse("tpmkms:name=envkey"), parse(o.kms_uri or ""), o)
    _verify(signer.public_key(), "ES256", b"abc", signer.sign(b"abc"))


def test_storage_directory_defaults_to_steppath(swtpm: str, tmp_path: Path) -> None:
    o = KmsOptions(kms_uri=f"tpmkms:device={swtpm}", steppath=str(tmp_path))
    tpm.create_key("dflt", o)
    assert (tmp_path / "tpm" / "dflt.pub").is_file()


def test_unknown_key_name(opts: KmsOptions) -> None:
    with pytest.raises(KMSError, match=r"key 'missing' not found in .*keys"):
        kms.open_signer("tpmkms:name=missing", opts)


def test_bad_key_names(opts: KmsOptions) -> None:
    with pytest.raises(KMSError, match="invalid key name"):
        kms.open_signer("tpmkms:name=../etc", opts)
    with pytest.raises(KMSError, match="has no name="):
        kms.open_signer("tpmkms:device=/dev/null", opts)


def test_create_refuses_to_overwrite(opts: KmsOptions) -> None:
    tpm.create_key("once", opts)
    with pytest.raises(KMSError, match="already exists"):
        tpm.create_key("once", opts)
    with pytest.raises(KMSError, match="cannot create a ES512 key"):
        tpm.create_key("p521", opts, alg="ES512")


def test_corrupt_key_blob(opts: KmsOptions, tmp_path: Path) -> None:
    tpm.create_key("corrupt", opts)
    priv = tmp_path / "keys" / "corrupt.priv"
    blob = bytearray(priv.read_bytes())
    blob[-1] ^= 0xFF
    priv.write_bytes(bytes(blob))
    with pytest.raises(
        KMSError, match=r"^tpmkms: tpm2_load: the key was not created by this TPM"
    ) as info:
        kms.open_signer("tpmkms:name=corrupt", opts)
    assert "\n" not in str(info.value)


def test_no_tpm_reachable(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = int(s.getsockname()[1])
    (tmp_path / "k.pub").write_bytes(b"x")
    (tmp_path / "k.priv").write_bytes(b"x")
    uri = f"tpmkms:device=swtpm:host=127.0.0.1,port={closed};storage-directory={tmp_path}"
    with pytest.raises(KMSError) as info:
        kms.open_signer("tpmkms:name=k", KmsOptions(kms_uri=uri))
    msg = str(info.value)
    assert msg.startswith(f"tpmkms: cannot reach a TPM through swtpm:host=127.0.0.1,port={closed}")
    assert "\n" not in msg


def test_missing_device_path(tmp_path: Path) -> None:
    (tmp_path / "k.pub").write_bytes(b"x")
    (tmp_path / "k.priv").write_bytes(b"x")
    uri = f"tpmkms:device=/dev/pystep-no-tpm;storage-directory={tmp_path}"
    with pytest.raises(KMSError, match=r"cannot reach a TPM through device:/dev/pystep-no-tpm"):
        kms.open_signer("tpmkms:name=k", KmsOptions(kms_uri=uri))
