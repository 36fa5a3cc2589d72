"""What the verifier knows about the CA: provisioners, dnsNames, roots, SSH keys, start.

Two sources, as for ``ca token``: ca.json (``--ca-config``: everything the CA reads,
including ``dnsNames`` and the global claims) or the running CA (``--ca-url``: the
provisioner list and SSH roots; ``dnsNames`` unknown, so the expected host comes from the
URL, port dropped, exactly as the CA ignores the port).
"""

from __future__ import annotations

import base64
import contextlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509

from pystep import _json
from pystep.errors import ConfigError
from pystep.provisioners.base import ProvisionerRecord


@dataclass
class Authority:
    provisioners: Sequence[ProvisionerRecord]
    dns_names: tuple[str, ...]
    dns_source: str = "ca.json"  # or "ca-url": derived, the CA's real dnsNames unknown
    roots: list[x509.Certificate] = field(default_factory=list)
    ssh_user_keys: list[bytes] | None = None  # SSH wire format; None = unknown
    ssh_host_keys: list[bytes] | None = None
    started_at: float | None = None  # unknown online unless given
    disable_iat_check: bool = False
    global_claims: Mapping[str, Any] | None = None  # None = unknown (online)

    def ssh_enabled(self, record: ProvisionerRecord) -> bool | None:
        """The provisioner's enableSSHCA (its own claim, else the global one); None when
        the CA's global claims are not known."""
        claims = record.raw.get("claims")
        if isinstance(claims, Mapping) and isinstance(claims.get("enableSSHCA"), bool):
            return bool(claims["enableSSHCA"])
        if self.global_claims is None:
            return None
        return bool(self.global_claims.get("enableSSHCA", False))

    @property
    def ssh_configured(self) -> bool | None:
        if self.ssh_user_keys is None and self.ssh_host_keys is None:
            return None
        return bool(self.ssh_user_keys or self.ssh_host_keys)


def _load_pem_certs(path: str) -> list[x509.Certificate]:
    try:
        with open(path, "rb") as fh:
            data = fh.read(4 << 20)
    except OSError as exc:
        raise ConfigError(f"error reading {path}: {exc.strerror or exc}") from None
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise ConfigError(f"error parsing {path}: {exc}") from None


def _ssh_pub_wire(path: str, config_dir: str) -> list[bytes]:
    """The public half of an SSH CA key named in ca.json: ``<path>.pub``, or step's layout
    (``certs/<name>.pub`` beside ``secrets/``), or ``<name>.pub`` beside ca.json."""
    base = os.path.basename(path)
    candidates = (
        path + ".pub",
        os.path.join(os.path.dirname(os.path.dirname(path)), "certs", base + ".pub"),
        os.path.join(config_dir, base + ".pub"),
        os.path.join(os.path.dirname(config_dir), "certs", base + ".pub"),
    )
    for candidate in candidates:
        try:
            with open(candidate, "rb") as fh:
                fields = fh.read(64 << 10).split()
        except OSError:
            continue
        if len(fields) >= 2 and fields[0].startswith((b"ssh-", b"ecdsa-")):
            try:
                return [base64.b64decode(fields[1], validate=True)]
            except ValueError:
                return []
    return []


def from_ca_config(path: str, root: str | None = None) -> Authority:
    """Read ca.json (``--ca-config``)."""
    from pystep.ca.offline import load_ca_config

    offline = load_ca_config(path)
    with open(path, "rb") as fh:
        cfg: dict[str, Any] = _json.loads(fh.read())
    auth = cfg.get("authority") if isinstance(cfg.get("authority"), dict) else {}
    assert isinstance(auth, dict)
    root_path = root or (offline.root if os.path.exists(offline.root) else None)
    roots = _load_pem_certs(root_path) if root_path else []
    ssh = cfg.get("ssh") if isinstance(cfg.get("ssh"), dict) else None
    user_keys: list[bytes] | None = []
    host_keys: list[bytes] | None = []
    config_dir = os.path.dirname(os.path.abspath(path))
    if isinstance(ssh, dict):
        for name, out in (("userKey", user_keys), ("hostKey", host_keys)):
            key_path = ssh.get(name)
            if isinstance(key_path, str) and key_path:
                found = _ssh_pub_wire(key_path, config_dir)
                if not found:  # configured, but its public half is not readable here
                    user_keys, host_keys = None, None
                    break
                assert out is not None
                out += found
        # ssh.keys[] (extra JWK-form SSH keys) are not read: rare; see docs.
    claims = auth.get("claims")
    return Authority(
        provisioners=offline.provisioners,
        dns_names=offline.dns_names,
        dns_source="ca.json",
        roots=roots,
        ssh_user_keys=user_keys,
        ssh_host_keys=host_keys,
        disable_iat_check=bool(auth.get("disableIssuedAtCheck", False)),
        global_claims=claims if isinstance(claims, dict) else {},
    )


def from_ca_url(ca_url: str, root: str) -> Authority:
    """Ask the running CA: GET /provisioners and GET /ssh/roots."""
    from pystep.ca.client import CAClient

    host = urlsplit(ca_url).hostname or ""
    with CAClient(ca_url, root) as client:
        provisioners = client.provisioners()
        status, body = client.request("GET", "/ssh/roots")
    user_keys: list[bytes] = []
    host_keys: list[bytes] = []
    if status == 200 and isinstance(body, dict):
        for name, out in (("userKey", user_keys), ("hostKey", host_keys)):
            for item in body.get(name) or []:
                if isinstance(item, str):
                    with contextlib.suppress(ValueError):
                        out.append(base64.b64decode(item))
    return Authority(
        provisioners=provisioners,
        dns_names=(host,),
        dns_source="ca-url",
        roots=_load_pem_certs(root),
        ssh_user_keys=user_keys,
        ssh_host_keys=host_keys,
        global_claims=None,
    )
