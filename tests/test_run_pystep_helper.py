"""The run_pystep helper (tests/conftest.py) builds a hermetic environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SRC, pystep_env, run_pystep_cmd


def test_env_drops_step_settings_and_puts_src_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEPPATH", "/somewhere/.step")
    monkeypatch.setenv("STEP_CA_URL", "https://elsewhere")
    monkeypatch.setenv("KEEP_ME", "1")
    env = pystep_env({"STEP_PROVISIONER": "admin", "KEEP_ME": None})
    assert "STEPPATH" not in env and "STEP_CA_URL" not in env
    assert env["STEP_PROVISIONER"] == "admin"
    assert "KEEP_ME" not in env
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(SRC)


def test_runs_the_pystep_package_from_src(tmp_path: Path) -> None:
    probe = "import pystep; print(list(pystep.__path__)[0])"
    # Same environment and interpreter as run_pystep, but a probe instead of the CLI.
    out = subprocess.run(
        [sys.executable, "-c", probe],
        env=pystep_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(out.stdout.strip()).resolve().is_relative_to(SRC.resolve())
    result = run_pystep_cmd("--help", cwd=tmp_path)
    assert result.args[:3] == [sys.executable, "-m", "pystep"]
    assert isinstance(result.returncode, int)
