"""JSON nested deeper than Python's recursion limit is malformed input with the module's
usual clear error, never a RecursionError ("unexpected error")."""

from __future__ import annotations

from pathlib import Path

import pytest

from pystep import _json
from pystep.ca.offline import load_ca_config
from pystep.errors import ConfigError, InputError, PystepError
from pystep.jose import jwe, jws
from pystep.jose.encoding import b64url_encode
from pystep.keys.files import decrypt_jwk, load_signing_key
from pystep.keys.k8ssa import read_service_account_token
from pystep.passwords import Passwords
from tests.conftest import RunPystep

DEEP = "[" * 100_000
FIX = Path(__file__).resolve().parents[1] / "fixtures" / "step-v0.19"


def test_loads() -> None:
    with pytest.raises(ValueError, match="nested too deeply"):
        _json.loads(DEEP)
    with pytest.raises(ValueError, match="nested too deeply"):
        _json.loads(("{" + '"a":' * 1) * 100_000)
    assert _json.loads(b'{"a": [[1]]}') == {"a": [[1]]}


def test_key_file(tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    path.write_text(DEEP)
    with pytest.raises(PystepError):
        load_signing_key(str(path), Passwords(fixed=b"x"))
    with pytest.raises(PystepError):
        decrypt_jwk(DEEP, Passwords(fixed=b"x"), "password")


def test_token_and_jwe_headers() -> None:
    head = b64url_encode(DEEP.encode())
    with pytest.raises(InputError, match="error parsing token"):
        jws.decode_compact(f"{head}.e30.c2ln")
    compact = f"{head}.a.b.c.d"
    assert jwe.is_jwe(compact) is False
    assert jwe.is_jwe(DEEP) is False
    with pytest.raises(InputError):
        jwe.decrypt(compact, b"x")


def test_k8ssa_token(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(f"{b64url_encode(b'[' * 5000)}.e30.c2ln")  # under the size limit
    with pytest.raises(InputError, match="is not a JWT"):
        read_service_account_token(str(path))


def test_ca_json(tmp_path: Path) -> None:
    path = tmp_path / "ca.json"
    path.write_text(DEEP)
    with pytest.raises(ConfigError, match=r"^error reading .*: JSON value is nested too deeply$"):
        load_ca_config(str(path))


@pytest.mark.parametrize("what", ["key", "ca-config"])
def test_cli(run_pystep: RunPystep, tmp_path: Path, what: str) -> None:
    deep = tmp_path / "deep"
    deep.write_text(DEEP)
    files = {"key": str(FIX / "pki" / "secrets" / "root_ca_key"),
             "ca-config": str(FIX / "pki" / "ca.json")} | {what: str(deep)}  # fmt: skip
    run = run_pystep("ca", "token", "sub", "--provisioner", "admin", "--offline",
                     "--password-file", str(FIX / "password.txt"), "--root",
                     str(FIX / "pki" / "root_ca.crt"), "--key", files["key"],
                     "--ca-config", files["ca-config"],
                     env={"STEP_NON_INTERACTIVE": "1"})  # fmt: skip
    assert run.returncode == 1, run.stderr
    assert "unexpected error" not in run.stderr and str(deep) in run.stderr
