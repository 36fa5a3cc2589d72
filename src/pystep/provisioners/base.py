"""The small interface behind which every provisioner kind lives.

A provisioner module (``provisioners/jwk.py``, ``x5c.py``, …) exposes one function::

    def prepare(record: ProvisionerRecord, ctx: MintContext) -> Minter

``prepare`` does the expensive, once-per-session work (fetch and decrypt a key, load a
certificate chain, check that key and certificate match) and returns a :class:`Minter`
whose ``mint`` turns each :class:`~pystep.request.TokenRequest` into a token string.
Batch minting and the library API call ``prepare`` once and ``mint`` many times.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from pystep.passwords import NO_PASSWORDS, Passwords
from pystep.request import TokenRequest

if TYPE_CHECKING:
    from pystep.ca.client import CAClient


# Canonical spellings of the provisioner types, keyed by lower case (the CA matches
# ``type`` case-insensitively).
TYPE_NAMES = {
    t.lower(): t
    for t in (
        "JWK", "OIDC", "GCP", "AWS", "Azure", "ACME", "X5C", "K8sSA", "SSHPOP", "SCEP", "Nebula"
    )
}


class ProvisionerRecord(NamedTuple):
    """One provisioner as the CA lists it (GET /provisioners) or ca.json holds it."""

    raw: Mapping[str, Any]

    @property
    def type(self) -> str:
        """Canonical type name (``JWK``, ``X5C``, …); unknown types keep their spelling."""
        t = str(self.raw.get("type", ""))
        return TYPE_NAMES.get(t.lower(), t)

    @property
    def name(self) -> str:
        return str(self.raw.get("name", ""))

    @property
    def kid(self) -> str:
        """The JWK ``key.kid`` (JWK provisioners only, else ``""``)."""
        key = self.raw.get("key")
        return str(key.get("kid", "")) if isinstance(key, Mapping) else ""

    @property
    def label(self) -> str:
        """step's label, as in ``✔ Provisioner: admin (JWK) [kid: …]``."""
        t = self.type
        if t == "JWK":
            return f"{self.name} (JWK) [kid: {self.kid}]"
        if t == "OIDC":
            return f"{self.name} (OIDC) [client: {self.raw.get('clientID', '')}]"
        if t == "Azure":
            return f"{self.name} (Azure) [tenant: {self.raw.get('tenantID', '')}]"
        return f"{self.name} ({t})"


class Credentials(NamedTuple):
    """Client-side credential flags, as given (paths or KMS URIs), before loading."""

    key: str | None = None  # --key
    kid: str | None = None  # --kid (offline without ca.json: the header kid)
    x5c_cert: str | None = None
    x5c_key: str | None = None
    x5c_insecure: bool = False
    sshpop_cert: str | None = None
    sshpop_key: str | None = None
    nebula_cert: str | None = None
    nebula_key: str | None = None
    k8ssa_token_path: str | None = None
    kms: str | None = None  # --kms URI
    console: bool = False  # OIDC device flow


class Audience(NamedTuple):
    """Where audiences point: online ``https://host:port/1.0/<path>``, offline (ca.json)
    ``https://<dnsNames[0]>/<path>``."""

    base_url: str  # https://host[:port], no trailing slash
    versioned: bool = True  # online: /1.0 prefix; offline with ca.json: none

    def for_path(self, path: str, fragment: str | None = None) -> str:
        prefix = "/1.0/" if self.versioned else "/"
        aud = f"{self.base_url}{prefix}{path}"
        return f"{aud}#{fragment}" if fragment else aud


_NO_CREDENTIALS = Credentials()


def _utcnow() -> datetime:
    return datetime.now(UTC)


class MintContext:
    """Everything from the environment a provisioner needs, resolved once (mutable)."""

    __slots__ = (
        "audience",
        "ca",
        "credentials",
        "extra",
        "interactive",
        "now",
        "offline",
        "passwords",
        "root_path",
        "root_sha",
    )
    _FIELDS = (
        "audience", "root_sha", "root_path", "ca", "offline", "credentials", "passwords",
        "interactive", "now", "extra",
    )

    def __init__(
        self,
        audience: Audience,
        root_sha: str | None = None,  # hex SHA-256 of the root DER, for the ``sha`` claim
        root_path: str | None = None,
        ca: CAClient | None = None,  # None offline
        offline: bool = False,
        credentials: Credentials = _NO_CREDENTIALS,
        passwords: Passwords = NO_PASSWORDS,  # for the provisioner / --key / --x5c-key
        # Whether questions other than passwords may be asked (False = non-interactive).
        interactive: bool = False,
        now: Callable[[], datetime] = _utcnow,
        # Free-form knobs for kinds that need more (OIDC listen address, metadata URLs…).
        extra: dict[str, Any] | None = None,  # None: a new empty dict
    ) -> None:
        self.audience = audience
        self.root_sha = root_sha
        self.root_path = root_path
        self.ca = ca
        self.offline = offline
        self.credentials = credentials
        self.passwords = passwords
        self.interactive = interactive
        self.now = now
        self.extra = {} if extra is None else extra

    def _fields(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._FIELDS)

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._FIELDS)
        return f"MintContext({inner})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MintContext):
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]  # mutable, like a non-frozen dataclass


class Minter(Protocol):
    """Mints tokens for one provisioner with credentials already unlocked."""

    @property
    def record(self) -> ProvisionerRecord | None:
        """The provisioner it mints for (None for renew tokens and offline --key)."""
        ...

    def mint(self, req: TokenRequest) -> str:
        ...


class Prepare(Protocol):
    def __call__(self, record: ProvisionerRecord, ctx: MintContext) -> Minter: ...
