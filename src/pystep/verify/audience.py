"""The CA's audience lists (from dnsNames), step-ca's matching rule, and provisioner
lookup by token (``LoadByToken``): spec ca.md §3."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit, urlunsplit

from pystep.ca.offline import bracket_host
from pystep.provisioners.base import ProvisionerRecord
from pystep.verify.result import Operation

LEGACY = "step-certificate-authority"

_PATHS: dict[Operation, tuple[str, ...]] = {
    Operation.SIGN: ("/1.0/sign", "/sign", "/1.0/ssh/sign", "/ssh/sign"),
    Operation.REVOKE: ("/1.0/revoke", "/revoke"),
    Operation.RENEW: ("/1.0/renew", "/renew"),
    Operation.SSH_SIGN: ("/1.0/ssh/sign", "/ssh/sign", "/1.0/sign", "/sign"),
    Operation.SSH_REVOKE: ("/1.0/ssh/revoke", "/ssh/revoke"),
    Operation.SSH_RENEW: ("/1.0/ssh/renew", "/ssh/renew"),
    Operation.SSH_REKEY: ("/1.0/ssh/rekey", "/ssh/rekey"),
}


def audiences(dns_names: Iterable[str], op: Operation, fragment: str = "") -> list[str]:
    """What the CA accepts as ``aud`` for ``op``; with ``fragment`` every URL gets
    ``#fragment`` (X5C, SSHPOP, Nebula, AWS, GCP) and the legacy value stops matching."""
    out: list[str] = []
    if op in (Operation.SIGN, Operation.REVOKE):
        out.append(LEGACY if not fragment else f"{LEGACY}#{fragment}")
    for h in dns_names:
        for path in _PATHS[op]:
            url = f"https://{bracket_host(h)}{path}"
            out.append(f"{url}#{fragment}" if fragment else url)
    return out


def all_audiences(dns_names: Sequence[str], fragment: str = "") -> list[str]:
    out: list[str] = []
    for op in Operation:
        out.extend(a for a in audiences(dns_names, op, fragment) if a not in out)
    return out


def _strip_port(raw: str) -> str:
    """Go's ``stripPort``: the URL with the port removed from the host (case kept)."""
    try:
        parts = urlsplit(raw)
    except ValueError:
        return raw
    if not parts.netloc:
        return raw
    user, at, hostport = parts.netloc.rpartition("@")
    if hostport.startswith("["):
        host = hostport[: hostport.find("]") + 1] if "]" in hostport else hostport
    else:
        host = hostport.split(":", 1)[0]
    return urlunsplit((parts.scheme, user + at + host, parts.path, parts.query, parts.fragment))


def matches(token_aud: Sequence[str], expected: Sequence[str]) -> bool:
    """step-ca's ``matchesAudience``: any token value equals any expected value, as is or
    with the ports removed."""
    if not token_aud or not expected:
        return False
    stripped = {_strip_port(e) for e in expected}
    return any(a in expected or _strip_port(a) in stripped for a in token_aud)


def fragment_of(token_aud: Sequence[str]) -> str:
    """The fragment of the first ``aud`` value that has one (``extractFragment``)."""
    for a in token_aud:
        try:
            frag = urlsplit(a).fragment
        except ValueError:
            continue
        if frag:
            return frag
    return ""


def lookup_key(record: ProvisionerRecord) -> str:
    """``GetIDForToken`` per type."""
    t, name = record.type, record.name
    if t == "JWK":
        return f"{name}:{record.kid}"
    if t in ("X5C", "SSHPOP", "Nebula", "AWS", "GCP", "ACME", "SCEP"):
        return f"{t.lower()}/{name}"
    if t == "K8sSA":
        return "k8ssa/k8sSA-default"
    if t == "OIDC":
        return str(record.raw.get("clientID", ""))
    if t == "Azure":
        return str(record.raw.get("tenantID", ""))
    return f"{t.lower()}/{name}"


def find(records: Sequence[ProvisionerRecord], key: str) -> ProvisionerRecord | None:
    for r in records:
        if key and lookup_key(r) == key:
            return r
    return None


def load_by_token(
    records: Sequence[ProvisionerRecord],
    dns_names: Sequence[str],
    claims: dict[str, object],
    aud: list[str],
    kid: str,
) -> tuple[ProvisionerRecord | None, str]:
    """``Collection.LoadByToken``: (provisioner or None, how it was looked up)."""
    frag = fragment_of(aud)
    if matches(aud, all_audiences(dns_names, frag)):
        if frag:
            return find(records, frag), f"by audience fragment '{frag}'"
        key = f"{claims.get('iss') or ''}:{kid}"
        return find(records, key), f"by iss:kid '{key}'"
    if claims.get("iss") == "kubernetes/serviceaccount":
        return find(records, "k8ssa/k8sSA-default"), "by iss kubernetes/serviceaccount"
    if not aud:
        return None, "empty audience"
    azp, tid, email = claims.get("azp"), claims.get("tid"), claims.get("email")
    if isinstance(azp, str) and azp:
        return find(records, azp), f"by azp '{azp}'"
    if isinstance(tid, str) and tid:
        if isinstance(email, str) and email:
            return find(records, aud[0]), f"by aud[0] '{aud[0]}'"
        return find(records, tid), f"by tid '{tid}'"
    return find(records, aud[0]), f"by aud[0] '{aud[0]}'"
