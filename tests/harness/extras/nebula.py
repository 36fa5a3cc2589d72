"""A Nebula provisioner ``nebula`` whose root is a Nebula CA made by ``nebula-cert``.

Files under ``<workdir>/extras/nebula/``: ``ca.crt``/``ca.key`` (the Nebula CA),
``host.crt``/``host.key`` (host ``HOST_NAME`` with overlay IP ``HOST_IP``), and
``other.crt``/``other.key`` (a second host, for key/cert mismatch tests). Without
``nebula-cert`` on PATH no provisioner is added (the Nebula tests then skip).
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.harness.pki import Pki

NAME = "nebula"
HOST_NAME = "host1.pystep.test"
HOST_IP = "10.42.0.5"


def paths(workdir: Path) -> Path:
    return Path(workdir) / "extras" / "nebula"


def _run(*args: str) -> None:
    subprocess.run(["nebula-cert", *args], check=True, capture_output=True, timeout=60)


def provisioners(workdir: Path, pki: Pki) -> list[dict[str, Any]]:
    if shutil.which("nebula-cert") is None:
        return []
    out = paths(workdir)
    out.mkdir(parents=True, exist_ok=True)
    ca_crt, ca_key = str(out / "ca.crt"), str(out / "ca.key")
    _run("ca", "-name", "pystep test nebula CA", "-duration", "240h",
         "-out-crt", ca_crt, "-out-key", ca_key)
    hosts = (("host", HOST_NAME, HOST_IP), ("other", "other.pystep.test", "10.42.0.6"))
    for stem, name, ip in hosts:
        _run("sign", "-ca-crt", ca_crt, "-ca-key", ca_key, "-name", name, "-ip", f"{ip}/16",
             "-out-crt", str(out / f"{stem}.crt"), "-out-key", str(out / f"{stem}.key"))
    roots = base64.b64encode((out / "ca.crt").read_bytes()).decode()
    return [{"type": "Nebula", "name": NAME, "roots": roots, "claims": {"enableSSHCA": True}}]
