"""Shared test helpers: running the pystep CLI as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"

# `tests.harness` is imported by absolute name from the test modules.
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

RunPystep = Callable[..., "subprocess.CompletedProcess[str]"]


def pystep_env(env: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """The environment for a pystep subprocess.

    Starts from os.environ without STEPPATH and STEP_* (so the developer's own
    step configuration never leaks into a test), puts <repo>/src first on
    PYTHONPATH, then applies ``env`` (a value of None removes that variable).
    """
    base = {k: v for k, v in os.environ.items() if k != "STEPPATH" and not k.startswith("STEP_")}
    base["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(SRC), os.environ.get("PYTHONPATH", "")) if p
    )
    for key, value in (env or {}).items():
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value
    return base


def run_pystep_cmd(
    *args: str | os.PathLike[str],
    env: Mapping[str, str | None] | None = None,
    input: str | None = None,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float = 120.0,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m pystep *args``; the CompletedProcess (text; never raises on exit code)."""
    return subprocess.run(
        [sys.executable, "-m", "pystep", *(os.fspath(a) for a in args)],
        env=pystep_env(env),
        input=input,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=None if input is not None else subprocess.DEVNULL,
        check=False,
    )


@pytest.fixture
def run_pystep() -> RunPystep:
    """``run_pystep(*args, env=None, input=None, cwd=None)`` -> CompletedProcess[str]."""
    return run_pystep_cmd
