"""read_bounded and the messages of the loaders built on it (unchanged wording)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from pystep import batch
from pystep._files import read_bounded
from pystep.ca import offline
from pystep.errors import ConfigError, InputError, KeyLoadError
from pystep.keys.nebula import load_nebula_cert
from pystep.keys.x509 import load_cert_bundle


def test_reads_up_to_the_limit(tmp_path: Path) -> None:
    p = tmp_path / "f"
    p.write_bytes(b"x" * 10)
    assert read_bounded(str(p), 10) == b"x" * 10


def test_one_byte_over_the_limit(tmp_path: Path) -> None:
    p = tmp_path / "f"
    p.write_bytes(b"x" * 11)
    with pytest.raises(InputError) as info:
        read_bounded(str(p), 10)
    assert str(info.value) == f"error reading {p}: file is too large"


def test_error_class_and_wording(tmp_path: Path) -> None:
    p = tmp_path / "f"
    p.write_bytes(b"x" * 11)
    with pytest.raises(ConfigError) as info:
        read_bounded(str(p), 10, error=ConfigError, too_large="too big")
    assert str(info.value) == f"error reading {p}: too big"
    missing = tmp_path / "absent"
    with pytest.raises(KeyLoadError) as kinfo:
        read_bounded(str(missing), 10, error=KeyLoadError)
    assert str(kinfo.value) == f"error reading {missing}: No such file or directory"


def test_dash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"from stdin")))
    assert read_bounded("-", 100, dash_is_stdin=True) == b"from stdin"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "-").write_bytes(b"a file named dash")
    assert read_bounded("-", 100) == b"a file named dash"


def test_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        read_bounded(str(tmp_path), 10)
    assert str(info.value) == f"error reading {tmp_path}: Is a directory"


# The callers keep the messages they had before the helper existed.


def test_ca_json_too_large(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(offline, "MAX_CA_JSON_BYTES", 8)
    p = tmp_path / "ca.json"
    p.write_text('{"root": "x"}')
    with pytest.raises(ConfigError) as info:
        offline.load_ca_config(str(p))
    assert str(info.value) == f"error reading {p}: file too large"


def test_batch_too_large(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch, "MAX_BATCH_BYTES", 2 << 20)
    p = tmp_path / "batch.txt"
    p.write_bytes(b"a\n" * ((1 << 20) + 1))
    with pytest.raises(InputError) as info:
        batch.read_batch_lines(str(p))
    assert str(info.value) == f"error reading {p}: larger than 2 MiB"


def test_batch_from_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    data = b"\xef\xbb\xbfone\ntwo\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    assert batch.read_batch_lines("-") == ["one", "two"]


def test_missing_credential_files(tmp_path: Path) -> None:
    missing = tmp_path / "nope.crt"
    want = f"error reading {missing}: No such file or directory"
    for load in (load_nebula_cert, load_cert_bundle):
        with pytest.raises(KeyLoadError) as info:
            load(str(missing))
        assert str(info.value) == want
