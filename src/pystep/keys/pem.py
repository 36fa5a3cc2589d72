"""One PEM splitter for every reader of PEM files (keys, certificate bundles, Nebula).

It finds the blocks a ``-----BEGIN L-----\\n(.*?)-----END L-----`` regex would find
(leftmost first, the body ending at the first matching END), but in linear time: the END
markers are indexed once and each BEGIN line looks up the next END of its label, where
the regex rescans the rest of the file for every BEGIN line without an END (minutes for
a 1 MiB file of BEGIN lines).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterator
from typing import NamedTuple

MAX_BLOCKS = 1024
"""More blocks than this in one file is refused (a bundle has a handful)."""

ANY_LABEL = rb"[^-\r\n]+"
UPPER_LABEL = rb"[A-Z0-9 ]+"

_END = re.compile(rb"-----END ([^-\r\n]+)-----")
_BEGIN: dict[bytes, re.Pattern[bytes]] = {}


class PemError(ValueError):
    """The data has more PEM blocks than the limit."""


class PemBlock(NamedTuple):
    """One block: its label, the raw text between the BEGIN line and the END marker,
    and where the block starts and ends in the data."""

    label: bytes
    body: bytes
    start: int
    end: int


def _begin(label: bytes) -> re.Pattern[bytes]:
    pattern = _BEGIN.get(label)
    if pattern is None:
        pattern = _BEGIN[label] = re.compile(rb"-----BEGIN (" + label + rb")-----\r?\n")
    return pattern


def _iter_blocks(data: bytes, label: bytes) -> Iterator[PemBlock]:
    if b"-----BEGIN " not in data:
        return
    ends: dict[bytes, list[int]] = {}
    for m in _END.finditer(data):
        ends.setdefault(m.group(1), []).append(m.start())
    pos = 0
    for m in _begin(label).finditer(data):
        if m.start() < pos:
            continue  # inside the previous block's body
        name = m.group(1)
        starts = ends.get(name)
        i = bisect_left(starts, m.end()) if starts else 0
        if not starts or i == len(starts):
            continue  # no END for this BEGIN line
        pos = starts[i] + len(b"-----END -----") + len(name)
        yield PemBlock(name, data[m.end() : starts[i]], m.start(), pos)


def pem_blocks(
    data: bytes, *, label: bytes = ANY_LABEL, max_blocks: int = MAX_BLOCKS
) -> list[PemBlock]:
    """The PEM blocks of ``data`` in order. ``label`` is the regex the BEGIN label must
    match. Raises :class:`PemError` for more than ``max_blocks`` blocks."""
    blocks: list[PemBlock] = []
    for block in _iter_blocks(data, label):
        if len(blocks) == max_blocks:
            raise PemError(f"more than {max_blocks} PEM blocks")
        blocks.append(block)
    return blocks


def first_pem_block(data: bytes, *, label: bytes = ANY_LABEL) -> PemBlock | None:
    """The first PEM block of ``data``, or None."""
    return next(_iter_blocks(data, label), None)
