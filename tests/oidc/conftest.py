"""Starts the real OpenID Provider (tests/oidc/provider, oidc-provider on Node) on loopback.

CI must run ``npm ci --prefix tests/oidc/provider`` first (scripts/setup does). Without node
or the installed package the tests here are skipped with that instruction, except on CI
(CI=true), where they fail: a skip there would hide that nothing was tested."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PROVIDER_DIR = Path(__file__).parent / "provider"


@dataclass(frozen=True)
class RunningProvider:
    issuer: str
    client_id: str
    client_secret: str


def _start(env_extra: dict[str, str]) -> tuple[subprocess.Popen[str], RunningProvider]:
    node = shutil.which("node")
    if node is None or not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        message = "needs node (>= 20) and `npm ci --prefix tests/oidc/provider`"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and the OIDC tests cannot run: {message}")
        pytest.skip(message)
    env = {**os.environ, "CLIENT_ID": "pystep-ca", "CLIENT_SECRET": "s3cret", **env_extra}
    proc = subprocess.Popen(
        [node, "server.js"], cwd=PROVIDER_DIR, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        raise RuntimeError("the OIDC provider did not start")
    info = json.loads(line)
    return proc, RunningProvider(info["issuer"], env["CLIENT_ID"], env["CLIENT_SECRET"])


@pytest.fixture(scope="session")
def start_provider() -> Iterator[Callable[..., RunningProvider]]:
    procs: list[subprocess.Popen[str]] = []

    def start(**env: str) -> RunningProvider:
        proc, prov = _start(env)
        procs.append(proc)
        return prov

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def provider(start_provider: Callable[..., RunningProvider]) -> RunningProvider:
    return start_provider()
