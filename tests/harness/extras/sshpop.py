"""An SSHPOP provisioner ``sshpop`` (it trusts the session CA's own SSH keys)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.harness.pki import Pki

NAME = "sshpop"


def provisioners(workdir: Path, pki: Pki) -> list[dict[str, Any]]:
    return [{"type": "SSHPOP", "name": NAME, "claims": {"enableSSHCA": True}}]
