"""Offline mode with a ca.json: read the CA's configuration file and nothing else.

step's ``--offline`` starts a whole in-process authority (it opens the CA database and
decrypts the intermediate key), so it fails while the CA runs on the same $STEPPATH (the
database is locked) and needs the CA key's password. A token needs none of that: only
``root``, ``dnsNames[0]`` and ``authority.provisioners``. pystep reads just those — a
deliberate difference from step (see docs/compatibility.md).
"""

from __future__ import annotations

import ipaddress
from typing import Any, NamedTuple

from pystep import _json
from pystep._files import read_bounded
from pystep.errors import ConfigError
from pystep.provisioners.base import ProvisionerRecord

MAX_CA_JSON_BYTES = 16 << 20
DEFAULT_DNS_NAMES = ("localhost", "127.0.0.1", "::1")  # what step-ca fills in when unset


class OfflineCA(NamedTuple):
    path: str
    root: str  # the first root path, verbatim (relative paths resolve against the CWD)
    dns_names: tuple[str, ...]
    provisioners: tuple[ProvisionerRecord, ...]

    @property
    def base_url(self) -> str:
        """``https://<dnsNames[0]>``: offline audiences have no port and no /1.0."""
        return "https://" + bracket_host(self.dns_names[0])


def bracket_host(host: str) -> str:
    """``[host]`` for an IPv6 address (as it goes into a URL), anything else unchanged."""
    try:
        if isinstance(ipaddress.ip_address(host), ipaddress.IPv6Address):
            return f"[{host}]"
    except ValueError:
        pass
    return host


def load_ca_config(path: str) -> OfflineCA:
    """Read ``path`` as ca.json; errors in step's wording."""
    data = read_bounded(path, MAX_CA_JSON_BYTES, error=ConfigError, too_large="file too large")
    try:
        cfg: Any = _json.loads(data)
    except ValueError as exc:
        raise ConfigError(f"error reading {path}: {exc}") from None
    if not isinstance(cfg, dict):
        raise ConfigError(f"error reading {path}: not a JSON object")
    authority = cfg.get("authority")
    provs = authority.get("provisioners") if isinstance(authority, dict) else None
    if not isinstance(provs, list) or not provs:
        raise ConfigError(f"error parsing {path}: no provisioners found")
    root = cfg.get("root")
    if isinstance(root, list):
        root = root[0] if root else None
    if not isinstance(root, str) or not root:
        raise ConfigError(f"error parsing {path}: no root certificate configured")
    dns = cfg.get("dnsNames")
    if isinstance(dns, list) and dns and all(isinstance(d, str) and d for d in dns):
        dns_names = tuple(dns)
    else:
        dns_names = DEFAULT_DNS_NAMES
    return OfflineCA(
        path=path,
        root=root,
        dns_names=dns_names,
        provisioners=tuple(ProvisionerRecord(p) for p in provs if isinstance(p, dict)),
    )
