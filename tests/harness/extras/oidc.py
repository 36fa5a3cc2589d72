"""An OIDC provisioner backed by a real OpenID Provider (tests/oidc/provider: panva's
oidc-provider on Node) running on loopback for the whole session.

step-ca 0.19 fetches the provisioner's ``configurationEndpoint`` and the provider's JWKS
(plain HTTP is fine) when it starts, so the provider is started here, before the CA, and
stopped by an ``atexit`` handler (it also gets SIGTERM from the kernel if the test process
dies first).

Provisioners (the provider signs anyone in, devInteractions; the account ``alice`` has the
email ``alice@example.com``):

* ``idp``: ``clientID`` ``pystep-ca``, ``clientSecret`` ``s3cret``;
* ``idp-listen``: client ``pystep-ca-listen`` (step-ca keys OIDC provisioners by client ID,
  so a second one needs its own), with ``listenAddress`` ``127.0.0.1:<port>`` (the state's
  ``listen_port``): the loopback redirect must use that port.

What the tests need is in ``<workdir>/oidc/state.json`` (:func:`load_state`): the issuer
and client, or ``{"missing": reason}`` (node or the npm packages are not installed; run
``npm ci --prefix tests/oidc/provider``) or ``{"error": reason}``. Without the provider the
CA still starts, without the ``idp`` provisioner; :func:`require` then fails the OIDC tests
on CI (CI=true) and skips them elsewhere.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.harness.pki import Pki
from tests.harness.ports import free_port
from tests.harness.processes import die_with_parent, keep_for_session

NAME = "idp"
CLIENT_ID = "pystep-ca"
LISTEN_NAME = "idp-listen"
LISTEN_CLIENT_ID = "pystep-ca-listen"
CLIENT_SECRET = "s3cret"
STATE = "state.json"
PROVIDER_DIR = Path(__file__).resolve().parents[2] / "oidc" / "provider"
HOW_TO_INSTALL = "install Node.js >= 20 and run `npm ci --prefix tests/oidc/provider`"

class Missing(Exception):
    """Node or the provider's npm packages are not installed."""


def start_provider(base: Path, timeout: float = 30.0) -> dict[str, Any]:
    """Start ``node server.js``; its issuer once it listens (it prints one JSON line)."""
    node = shutil.which("node")
    if node is None:
        raise Missing(f"node is not installed ({HOW_TO_INSTALL})")
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        raise Missing(f"the provider's npm packages are not installed ({HOW_TO_INSTALL})")
    base.mkdir(parents=True, exist_ok=True)
    out, log = base / "provider.out", base / "provider.log"
    env = {**os.environ, "CLIENT_ID": CLIENT_ID, "CLIENT_SECRET": CLIENT_SECRET,
           "EXTRA_CLIENT_IDS": LISTEN_CLIENT_ID}
    with out.open("wb") as stdout, log.open("wb") as stderr:
        proc = subprocess.Popen(
            [node, "server.js"], cwd=PROVIDER_DIR, env=env, stdin=subprocess.DEVNULL,
            stdout=stdout, stderr=stderr, preexec_fn=die_with_parent,
        )  # fmt: skip
    keep_for_session(proc)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        first = out.read_text().partition("\n")
        if first[1]:
            info: dict[str, Any] = json.loads(first[0])
            return {"issuer": info["issuer"], "port": info["port"], "pid": proc.pid,
                    "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}  # fmt: skip
        if proc.poll() is not None:
            raise RuntimeError(
                f"the OIDC provider exited with code {proc.returncode}: "
                f"{log.read_text(errors='replace')[-500:]}"
            )
        time.sleep(0.05)
    raise RuntimeError(f"the OIDC provider did not start in {timeout:.0f}s")


def provisioners(workdir: Path, pki: Pki) -> list[dict[str, Any]]:
    base = workdir / "oidc"
    base.mkdir(parents=True, exist_ok=True)
    provs: list[dict[str, Any]] = []
    try:
        state: dict[str, Any] = start_provider(base)
    except Missing as exc:
        state = {"missing": str(exc)}
    except Exception as exc:  # the session CA must start all the same
        state = {"error": f"{type(exc).__name__}: {exc}"}
    if "issuer" in state:
        common = {
            "type": "OIDC",
            "clientSecret": CLIENT_SECRET,
            "configurationEndpoint": f"{state['issuer']}/.well-known/openid-configuration",
        }
        state["listen_port"] = free_port()
        provs.append({**common, "name": NAME, "clientID": CLIENT_ID})
        provs.append({**common, "name": LISTEN_NAME, "clientID": LISTEN_CLIENT_ID,
                      "listenAddress": f"127.0.0.1:{state['listen_port']}"})  # fmt: skip
    else:
        print(f"tests/harness/extras/oidc.py: no OIDC provisioner: {state}", file=sys.stderr)
    (base / STATE).write_text(json.dumps(state, indent=2) + "\n")
    return provs


def load_state(workdir: Path) -> dict[str, Any]:
    state: dict[str, Any] = json.loads((workdir / "oidc" / STATE).read_text())
    return state


def require(workdir: Path) -> dict[str, Any]:
    """The provider's details for a test. Not set up: on CI (CI=true) or after a setup
    error the test fails; elsewhere, when node or the packages are missing, it skips."""
    import pytest

    state = load_state(workdir)
    if "error" in state:
        pytest.fail(f"oidc extras: the OpenID provider failed to start: {state['error']}")
    if "missing" in state:
        message = f"oidc extras: no OpenID provider: {state['missing']}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {message}")
        pytest.skip(message)
    return state
