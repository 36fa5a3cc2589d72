"""Writing the token: stdout, or a file created 0600 with no partial writes."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable

from pystep.errors import InputError


def write_token_file(
    path: str,
    data: str,
    *,
    force: bool,
    confirm: Callable[[str], bool] | None,
) -> None:
    """Write ``data`` (no newline, as step) to ``path`` with mode 0600.

    An existing file is replaced only with ``force`` or a yes from ``confirm``; a directory is
    refused. The data goes to a temporary file in the same folder that is renamed into place,
    so a failure never leaves a partial token behind.
    """
    if os.path.isdir(path):
        raise InputError(f"error writing {path}: file is a directory")
    if os.path.lexists(path) and not force:
        if confirm is None:
            raise InputError(
                f"error writing {path}: file exists", hint="use --force to overwrite it"
            )
        if not confirm(f"Would you like to overwrite {path}"):
            raise InputError(f"error writing {path}: file exists")
    folder = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, data.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise InputError(f"error writing {path}: {exc.strerror or exc}") from None


def print_stdout(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
