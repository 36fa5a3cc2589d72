"""Helper processes of a test session (the CA, swtpm, moto, the OpenID provider): each dies
with the process that started it, and the session-long ones are stopped at exit."""

from __future__ import annotations

import atexit
import contextlib
import signal
import subprocess

_SESSION: list[subprocess.Popen[bytes]] = []


def die_with_parent() -> None:  # pragma: no cover - runs in the child
    """``preexec_fn``: on Linux the child gets SIGTERM if its parent dies."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def keep_for_session(proc: subprocess.Popen[bytes]) -> None:
    """Stop ``proc`` when the test session's interpreter exits."""
    _SESSION.append(proc)


def _stop_all() -> None:
    while _SESSION:
        proc = _SESSION.pop()
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


atexit.register(_stop_all)
