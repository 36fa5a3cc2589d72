"""The linear PEM splitter (pystep.keys.pem) and its users against hostile files."""

from __future__ import annotations

import random
import re
import time
from pathlib import Path

import pytest

from pystep.errors import KeyLoadError
from pystep.keys.files import load_signing_key
from pystep.keys.nebula import parse_nebula_cert
from pystep.keys.pem import PemError, first_pem_block, pem_blocks
from pystep.keys.x509 import parse_cert_bundle
from pystep.passwords import Passwords

# The regex the splitter replaces: the reference for what counts as a block.
_REFERENCE = re.compile(rb"-----BEGIN ([^-\r\n]+)-----\r?\n(.*?)-----END \1-----", re.S)

ONE_MIB = 1 << 20


def _hostile() -> list[bytes]:
    same = b"-----BEGIN CERTIFICATE-----\n"
    distinct = b"".join(b"-----BEGIN K%d-----\n" % i for i in range(60000))
    return [
        (same * (ONE_MIB // len(same)))[:ONE_MIB],
        distinct[:ONE_MIB],
        (b"-----BEGIN A-----\n" + b"-----END B-----\n") * (ONE_MIB // 34),
    ]


@pytest.mark.parametrize("data", _hostile(), ids=["same", "distinct", "mismatched"])
def test_hostile_files_are_refused_quickly(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "key.pem"
    path.write_bytes(data[:ONE_MIB])
    start = time.perf_counter()
    with pytest.raises(KeyLoadError):
        load_signing_key(str(path), Passwords(fixed=b"x"))
    with pytest.raises(KeyLoadError):
        parse_cert_bundle(data, "bundle.pem")
    with pytest.raises(KeyLoadError):
        parse_nebula_cert(data, "ca.crt")
    assert time.perf_counter() - start < 1.0


def test_too_many_blocks() -> None:
    block = b"-----BEGIN X-----\nAA==\n-----END X-----\n"
    assert len(pem_blocks(block * 1024)) == 1024
    with pytest.raises(PemError):
        pem_blocks(block * 1025)
    with pytest.raises(KeyLoadError, match="too many PEM blocks"):
        parse_cert_bundle(block * 2000, "bundle.pem")


def test_same_blocks_as_the_regex() -> None:
    rng = random.Random(1234)
    pieces = [b"-----BEGIN A-----\n", b"-----BEGIN B-----\n", b"-----END A-----",
              b"-----END B-----", b"-----BEGIN A-----\r\n", b"QUJD\n", b"\n",
              b"-----BEGIN A-----", b"x:y\n", b"-----END AB-----"]  # fmt: skip
    for _ in range(3000):
        data = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        want = [(m.group(1), m.group(2), m.start(), m.end()) for m in _REFERENCE.finditer(data)]
        got = [tuple(b) for b in pem_blocks(data)]
        assert got == want, data
        assert first_pem_block(data) == (got[0] if got else None)


def test_label_pattern() -> None:
    data = b"-----BEGIN a b-----\nx\n-----END a b-----\n-----BEGIN A B-----\ny\n-----END A B-----"
    assert [b.label for b in pem_blocks(data)] == [b"a b", b"A B"]
    assert [b.label for b in pem_blocks(data, label=rb"[A-Z0-9 ]+")] == [b"A B"]
