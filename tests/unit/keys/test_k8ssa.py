"""The K8sSA token file reader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pystep.errors import InputError
from pystep.keys.k8ssa import read_service_account_token

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "step-v0.19" / "tokens"


def test_step_testdata_token_is_returned_as_is() -> None:
    token = read_service_account_token(str(FIXTURES / "inputs" / "k8s-sa.token"))
    record = json.loads((FIXTURES / "k8ssa.json").read_text())
    assert token == record["token"]  # step sent the file's bytes as the token


def test_trailing_newline_is_trimmed(tmp_path: Path) -> None:
    raw = (FIXTURES / "inputs" / "k8s-sa.token").read_text()
    path = tmp_path / "token"
    path.write_text(raw + "\n")
    assert read_service_account_token(str(path)) == raw


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\n",
        b"hello",
        b"a.b",
        b"a.b.c",
        b"eyJhbGciOiJub25lIn0.e30.x.y",
        b"bm90IGpzb24.e30.sig",
        b"WzFd.e30.sig",
        b"eyJhIjoxfQ e30.sig",
        b"\xff\xfe",
    ],
)
def test_not_a_jwt(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "token"
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        read_service_account_token(str(path))
    assert str(info.value) == (
        f"error reading kubernetes service account token: {path} is not a JWT"
    )


def test_missing_file_names_the_flag(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        read_service_account_token(str(tmp_path / "nope"))
    assert "error reading kubernetes service account token" in str(info.value)
    assert "--k8ssa-token-path" in info.value.diagnostics()
