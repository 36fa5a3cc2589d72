"""Reading a whole file with a size cap: the one place that opens, reads and words the
errors, so every loader refuses a huge or unreadable file the same way."""

from __future__ import annotations

import sys

from pystep.errors import InputError, PystepError


def read_bounded(
    path: str,
    limit: int,
    *,
    error: type[PystepError] = InputError,
    too_large: str = "file is too large",
    dash_is_stdin: bool = False,
) -> bytes:
    """The bytes of ``path`` (at most ``limit``), or ``error`` with the message
    ``error reading <path>: <reason>`` — the OS's reason, or ``too_large`` when the file
    holds more than ``limit`` bytes. With ``dash_is_stdin``, ``-`` reads standard input."""
    try:
        if dash_is_stdin and path == "-":
            data = sys.stdin.buffer.read(limit + 1)
        else:
            with open(path, "rb") as handle:
                data = handle.read(limit + 1)
    except OSError as exc:
        raise error(f"error reading {path}: {exc.strerror or exc}") from exc
    if len(data) > limit:
        raise error(f"error reading {path}: {too_large}")
    return data
