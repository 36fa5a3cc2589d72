"""The library API: configure once, unlock a provisioner once, mint many tokens.

A :class:`TokenSession` knows *where* tokens go (the CA URL and root online, or a ca.json
offline); :meth:`TokenSession.unlock` picks a provisioner and decrypts its key once and
returns a :class:`TokenMinter`, which then mints any kind of token as often as wanted,
each with its own ``jti``. ``pystep ca token`` is a thin layer over this module.

Every failure is a :class:`pystep.errors.PystepError` whose ``str()`` explains it.

The examples run as tests against the session's test CA
(``tests/integration/test_library.py`` provides ``ca_url``, ``root`` and
``password_file``):

>>> from pystep import TokenSession
>>> session = TokenSession(ca_url, root)
>>> [p.name for p in session.provisioners()][:2]
['admin', 'pem-ec']
>>> minter = session.unlock("admin", password_file=password_file)
>>> token = minter.sign("web.example.com", sans=["web.example.com", "10.0.0.7"])
>>> from pystep.jose.jws import decode_compact
>>> decode_compact(token).claims["sans"]
['web.example.com', '10.0.0.7']
>>> decode_compact(minter.revoke(123456)).claims["aud"].endswith("/1.0/revoke")
True
>>> ssh = decode_compact(minter.ssh_user("alice@example.com", ["alice"])).claims
>>> ssh["step"]["ssh"]["principals"], ssh["step"]["ssh"]["certType"]
(['alice'], 'user')
>>> minter.sign("x.example.com", not_after="2h")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
pystep.errors.TokenError: requested token validity is too long: ...
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pystep.errors import ConfigError, InputError, ProvisionerError, TokenError, UsageError
from pystep.passwords import NO_PASSWORDS, Passwords
from pystep.provisioners.base import (
    Audience,
    Credentials,
    MintContext,
    Minter,
    ProvisionerRecord,
)
from pystep.request import TokenKind, TokenRequest
from pystep.timeutil import TimeDuration

if TYPE_CHECKING:
    from pystep.ca.client import CAClient
    from pystep.ca.offline import OfflineCA
    from pystep.config import StepEnvironment

__all__ = ["Chooser", "Prompter", "TimeSpec", "TokenMinter", "TokenSession", "root_sha_of"]

Prompter = Callable[[str], bytes]
"""Asks for a secret (password or PIN): receives the question, returns what was typed."""
Chooser = Callable[[Sequence[ProvisionerRecord]], ProvisionerRecord]
"""Picks one of several provisioners that fit (the CLI shows an arrow-key list)."""
TimeSpec = datetime | timedelta | str | None
"""A time: absolute, an offset from now, or step's text (RFC 3339 or a Go duration)."""


def _read_small(path: str, limit: int) -> bytes:
    from pystep._files import read_bounded

    return read_bounded(path, limit)


def root_sha_of(path: str) -> str:
    """The ``sha`` claim from a root file holding exactly one certificate (PEM or DER).

    The PEM is decoded by hand: parsing the certificate would import cryptography's X.509
    module, which costs more start-up time than the whole rest of a JWK token."""
    import base64
    import binascii

    from pystep.claims import root_sha

    data = _read_small(path, 4 << 20)
    if b"-----BEGIN" not in data:
        return root_sha(data)
    if data.count(b"-----BEGIN ") > 1:
        raise InputError(f"error decoding {path}: contains more than one PEM encoded block")
    begin = data.index(b"-----BEGIN ")
    header_end = data.find(b"-----", begin + 11)
    end = data.find(b"-----END ", header_end + 5)
    label = data[begin + 11 : header_end].strip()
    if header_end < 0 or end < 0 or label != b"CERTIFICATE":
        raise InputError(f"error decoding {path}: not a PEM certificate")
    try:
        der = base64.b64decode(b"".join(data[header_end + 5 : end].split()), validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"error decoding {path}: invalid PEM data") from None
    return root_sha(der)


def _when(value: TimeSpec, now: datetime, what: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, timedelta):
        return now + value
    from pystep.timeutil import parse_time_or_duration

    try:
        return parse_time_or_duration(value, now)
    except ValueError:
        raise TokenError(f"invalid value '{value}' for {what}") from None


def _cert_time(value: TimeSpec, what: str) -> TimeDuration | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return TimeDuration(time=value.astimezone(UTC))
    if isinstance(value, timedelta):
        return TimeDuration(duration=value)
    try:
        return TimeDuration.parse(value)
    except ValueError:
        raise TokenError(f"invalid value '{value}' for {what}") from None


class TokenMinter:
    """A provisioner with its credentials unlocked: mints tokens without further I/O
    (JWK keys; other kinds may still talk to their KMS per signature)."""

    __slots__ = ("context", "minter")

    def __init__(self, minter: Minter, context: MintContext) -> None:
        self.minter = minter
        self.context = context

    def __repr__(self) -> str:
        return f"TokenMinter(minter={self.minter!r}, context={self.context!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TokenMinter):
            return NotImplemented
        return (self.minter, self.context) == (other.minter, other.context)

    __hash__ = None  # type: ignore[assignment]  # mutable, like a non-frozen dataclass

    @property
    def provisioner(self) -> ProvisionerRecord | None:
        """The provisioner tokens are minted for (None for renew and offline ``key=``)."""
        return self.minter.record

    def mint(self, req: TokenRequest) -> str:
        """Mint one token for a fully specified request."""
        return self.minter.mint(req)

    def _request(
        self,
        subject: str | int,
        kind: TokenKind,
        *,
        not_before: TimeSpec = None,
        not_after: TimeSpec = None,
        **fields: Any,
    ) -> TokenRequest:
        now = self.context.now()
        return TokenRequest(
            subject=str(subject),
            kind=kind,
            not_before=_when(not_before, now, "not_before"),
            not_after=_when(not_after, now, "not_after"),
            **fields,
        )

    def _user(self, user: Mapping[str, Any] | None) -> dict[str, Any] | None:
        if self.context.offline:
            if user:
                raise TokenError("user data (the 'user' claim) cannot be set offline")
            return None
        return dict(user or {})

    def sign(
        self,
        subject: str,
        *,
        sans: Iterable[str] = (),
        not_before: TimeSpec = None,
        not_after: TimeSpec = None,
        cnf: str | None = None,
        user: Mapping[str, Any] | None = None,
    ) -> str:
        """A token for an X.509 certificate; ``sans`` default to ``[subject]``."""
        req = self._request(
            subject, TokenKind.SIGN, not_before=not_before, not_after=not_after,
            sans=tuple(sans), cnf=None if self.context.offline else cnf, user=self._user(user),
        )
        return self.mint(req)

    def revoke(
        self, serial: str | int, *, not_before: TimeSpec = None, not_after: TimeSpec = None
    ) -> str:
        """A token to revoke the certificate with this (decimal) serial number."""
        return self.mint(
            self._request(serial, TokenKind.REVOKE, not_before=not_before, not_after=not_after)
        )

    def renew(self, subject: str = "", **times: TimeSpec) -> str:
        """A renew token (``unlock(renew=True)``); ``subject`` defaults to the leaf's CN."""
        return self.mint(self._request(subject, TokenKind.RENEW, **times))

    def ssh_revoke(self, serial: str | int, **times: TimeSpec) -> str:
        """A token to revoke the SSH certificate with this serial (JWK, SSHPOP, Nebula...)."""
        return self.mint(self._request(serial, TokenKind.SSH_REVOKE, **times))

    def ssh_renew(self, subject: str, **times: TimeSpec) -> str:
        """An SSHPOP token to renew the SSH host certificate it carries."""
        return self.mint(self._request(subject, TokenKind.SSH_RENEW, **times))

    def ssh_rekey(self, subject: str, **times: TimeSpec) -> str:
        """An SSHPOP token to rekey the SSH host certificate it carries."""
        return self.mint(self._request(subject, TokenKind.SSH_REKEY, **times))

    def ssh_user(
        self,
        key_id: str,
        principals: Iterable[str] = (),
        **options: Any,
    ) -> str:
        """A token for an SSH user certificate. Options: ``not_before``, ``not_after``
        (the token), ``cert_not_before``, ``cert_not_after`` (the certificate), ``user``."""
        return self._ssh(TokenKind.SSH_USER_SIGN, key_id, principals, **options)

    def ssh_host(
        self,
        key_id: str,
        principals: Iterable[str] = (),
        **options: Any,
    ) -> str:
        """A token for an SSH host certificate (options as :meth:`ssh_user`)."""
        return self._ssh(TokenKind.SSH_HOST_SIGN, key_id, principals, **options)

    def _ssh(
        self,
        kind: TokenKind,
        key_id: str,
        principals: Iterable[str],
        *,
        not_before: TimeSpec = None,
        not_after: TimeSpec = None,
        cert_not_before: TimeSpec = None,
        cert_not_after: TimeSpec = None,
        user: Mapping[str, Any] | None = None,
    ) -> str:
        req = self._request(
            key_id, kind, not_before=not_before, not_after=not_after,
            principals=tuple(principals),
            cert_not_before=_cert_time(cert_not_before, "cert_not_before"),
            cert_not_after=_cert_time(cert_not_after, "cert_not_after"),
            user=self._user(user),
        )
        return self.mint(req)


class TokenSession:
    """Where tokens go. Online: ``ca_url`` and ``root`` (the provisioners come from the
    CA). Offline: ``ca_config`` (a ca.json: provisioners, root and audience from it), or
    without one ``ca_url`` and ``root`` with your own ``key=`` at :meth:`unlock`.

    Nothing is read or fetched until it is needed; results are kept for the session.
    """

    __slots__ = (
        "_client",
        "_offline_ca",
        "_records",
        "ca_config",
        "ca_url",
        "notify",
        "offline",
        "root",
        "steppath",
    )
    _PUBLIC = ("ca_url", "root", "offline", "ca_config", "steppath", "notify")

    def __init__(
        self,
        ca_url: str = "",
        root: str = "",
        offline: bool = False,
        ca_config: str | None = None,
        steppath: str | None = None,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        self.ca_url = ca_url
        self.root = root
        self.offline = offline
        self.ca_config = ca_config
        self.steppath = steppath
        self.notify = notify
        self._client: CAClient | None = None
        self._offline_ca: OfflineCA | None = None
        self._records: list[ProvisionerRecord] | None = None
        self._check()

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._PUBLIC)
        return f"TokenSession({inner})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TokenSession):
            return NotImplemented
        mine = tuple(getattr(self, name) for name in self.__slots__)
        return mine == tuple(getattr(other, name) for name in other.__slots__)

    __hash__ = None  # type: ignore[assignment]  # mutable, like a non-frozen dataclass

    def _check(self) -> None:
        self.root = os.fspath(self.root)
        if self.ca_url:
            from pystep.caurl import normalize_ca_url

            self.ca_url = normalize_ca_url(self.ca_url, allow_empty=self.offline)
        if not self.root:
            raise ConfigError("a root certificate file is required (root=)")
        if not self.offline and not self.ca_url:
            raise ConfigError("a CA URL is required online (ca_url=)")
        if self.ca_config is not None and not os.path.exists(self.ca_config):
            raise ConfigError(f"error reading {self.ca_config}: no such file or directory")

    @classmethod
    def from_steppath(
        cls,
        context: str | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        offline: bool = False,
        ca_url: str | None = None,
        root: str | None = None,
        ca_config: str | None = None,
        notify: Callable[[str], None] | None = None,
    ) -> TokenSession:
        """A session from ``$STEPPATH`` (or ``~/.step``): the context's defaults.json gives
        ``ca-url``, ``root`` and ``ca-config``; arguments given here win."""
        from pystep.config import load_environment

        env = load_environment(os.environ if environ is None else environ,
                               context=context, notify=notify)
        return cls.from_environment(
            env, offline=offline, ca_url=ca_url, root=root, ca_config=ca_config, notify=notify
        )

    @classmethod
    def from_environment(
        cls,
        env: StepEnvironment,
        *,
        offline: bool = False,
        ca_url: str | None = None,
        root: str | None = None,
        ca_config: str | None = None,
        notify: Callable[[str], None] | None = None,
    ) -> TokenSession:
        """Like :meth:`from_steppath`, from an already resolved environment."""
        d = env.defaults
        url = ca_url or str(d.get("ca-url") or "")
        root_path = root or str(d.get("root") or "") or env.default_root
        config = ca_config or str(d.get("ca-config") or "") or env.default_ca_config
        return cls(
            ca_url=url,
            root=root_path,
            offline=offline,
            ca_config=config if offline and os.path.exists(config) else None,
            steppath=env.step_path,
            notify=notify,
        )

    # -- what the CA offers ------------------------------------------------------------

    @property
    def standalone(self) -> bool:
        """Offline without a ca.json: only your own ``key=`` can sign."""
        return self.offline and self.ca_config is None

    def client(self) -> CAClient:
        """The (kept-alive) HTTPS client for the CA; online sessions only."""
        if self.offline:
            raise ConfigError("an offline session does not talk to the CA")
        if self._client is None:
            from pystep.ca.client import CAClient

            self._client = CAClient(self.ca_url, self.root)
        return self._client

    def offline_ca(self) -> OfflineCA:
        """The ca.json of an offline session."""
        if self.ca_config is None:
            raise ConfigError("this session has no ca.json (ca_config=)")
        if self._offline_ca is None:
            from pystep.ca.offline import load_ca_config

            self._offline_ca = load_ca_config(self.ca_config)
        return self._offline_ca

    def provisioners(self) -> list[ProvisionerRecord]:
        """Every provisioner: GET /provisioners (all pages) online, or from ca.json."""
        if self._records is None:
            if not self.offline:
                self._records = self.client().provisioners()
            elif self.standalone:
                raise ConfigError(
                    "an offline session without a ca.json knows no provisioners",
                    hint="give ca_config= (--ca-config), or sign with your own key=",
                )
            else:
                self._records = list(self.offline_ca().provisioners)
        return list(self._records)

    def close(self) -> None:
        """Close the connection to the CA (a later call reconnects)."""
        if self._client is not None:
            self._client.close()

    def __enter__(self) -> TokenSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- unlocking -----------------------------------------------------------------------

    def context(
        self,
        *,
        credentials: Credentials | None = None,
        passwords: Passwords = NO_PASSWORDS,
        pin_prompter: Callable[[str], str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> MintContext:
        """The :class:`MintContext` provisioner modules receive (audience, root sha, CA
        client, credentials, passwords). Most callers want :meth:`unlock` instead."""
        ctx = MintContext(
            audience=Audience(self.ca_url or "https://"),
            root_path=self.root,
            credentials=credentials or Credentials(),
            passwords=passwords,
            interactive=pin_prompter is not None or passwords.prompter is not None,
            offline=self.offline,
            extra={"steppath": self.steppath, "notify": self.notify or _ignore, **(extra or {})},
        )
        if pin_prompter is not None:
            ctx.extra["pin_prompter"] = pin_prompter
        if not self.offline:
            ctx.root_sha = root_sha_of(self.root)
            ctx.ca = self.client()
        elif not self.standalone:
            offline_ca = self.offline_ca()
            ctx.audience = Audience(offline_ca.base_url, versioned=False)
            sha_root = offline_ca.root if os.path.exists(offline_ca.root) else self.root
            ctx.root_sha = root_sha_of(sha_root)
        else:
            ctx.root_sha = root_sha_of(self.root)
            if not self.ca_url:
                raise UsageError(
                    "flag '--offline' without a ca.json requires the '--ca-url' flag",
                    hint="the token's audience is made from it (step would write "
                    "'https:///1.0/sign', which the CA refuses)",
                )
        return ctx

    def select(
        self,
        *,
        name: str | None = None,
        kid: str | None = None,
        only_type: str | None = None,
        chooser: Chooser | None = None,
        name_flag: str = "--provisioner",
    ) -> ProvisionerRecord:
        """The one provisioner that fits (step's filters, in step's order); several fit and
        no ``chooser``: a ProvisionerError listing them."""
        from pystep.provisioners.select import Filters, candidates, choose

        found = candidates(
            self.provisioners(),
            Filters(only_type=only_type, kid=kid, name=name, name_flag=name_flag),
        )
        return choose(found, chooser=chooser)

    def unlock(
        self,
        provisioner: str | None = None,
        *,
        kid: str | None = None,
        password: str | bytes | None = None,
        password_file: str | None = None,
        prompt: Prompter | None = None,
        key: str | None = None,
        credentials: Credentials | None = None,
        only_type: str | None = None,
        chooser: Chooser | None = None,
        renew: bool = False,
        x5c_chain: Sequence[str] = (),
    ) -> TokenMinter:
        """Pick a provisioner and unlock its credentials once.

        ``provisioner``/``kid`` narrow the choice (offline without ca.json ``provisioner``
        is the issuer). The key's password comes from ``password``, ``password_file``
        (one attempt each) or ``prompt`` (three attempts); with none of them an encrypted
        key raises :class:`~pystep.errors.InteractionRequired`. ``key`` signs with your own
        key file or KMS URI; ``credentials`` carries the other kinds' inputs (x5c, sshpop,
        nebula, k8ssa, kms). ``renew=True`` unlocks for renew tokens (x5c credentials).
        ``x5c_chain`` (X5C): files or KMS names whose certificates follow the
        ``x5c_cert`` ones, like the CLI's ``--x5c-chain``.
        """
        creds = credentials or Credentials()
        if key is not None or kid is not None:
            creds = creds._replace(key=key or creds.key, kid=kid or creds.kid)
        passwords = _passwords(password, password_file, prompt)
        ctx = self.context(credentials=creds, passwords=passwords,
                           pin_prompter=_pin(prompt) if prompt else None,
                           extra={"x5c_chain": tuple(x5c_chain)})
        if renew:
            return TokenMinter(prepare_renew_minter(ctx), ctx)
        if self.standalone:
            from pystep.provisioners.jwk import prepare_standalone

            if not provisioner:
                raise ConfigError("offline without a ca.json, the issuer is required "
                                  "(provisioner=)")
            return TokenMinter(prepare_standalone(provisioner, ctx), ctx)
        record = self.select(name=provisioner, kid=kid,
                             only_type=only_type or _implied_type(creds, x5c_chain),
                             chooser=chooser)
        from pystep.provisioners import prepare

        return TokenMinter(prepare(record, ctx), ctx)


def prepare_renew_minter(ctx: MintContext) -> Minter:
    """The renew-token minter (``provisioners/renew.py``), when this pystep has it."""
    import importlib

    name = "pystep.provisioners.renew"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        raise ProvisionerError("renew tokens are not supported by this pystep yet") from None
    minter: Minter = module.prepare_renew(ctx)
    return minter


def _ignore(_text: str) -> None:
    return None


def _pin(prompt: Prompter) -> Callable[[str], str]:
    return lambda question: prompt(question).decode()


def _passwords(
    password: str | bytes | None, password_file: str | None, prompt: Prompter | None
) -> Passwords:
    fixed: bytes | None = None
    if password is not None:
        fixed = password.encode() if isinstance(password, str) else password
    elif password_file is not None:
        from pystep.passwords import read_password_file

        fixed = read_password_file(password_file)
    return Passwords(fixed=fixed, prompter=prompt, flag_hint="password= or password_file=")


def _implied_type(creds: Credentials, x5c_chain: Sequence[str] = ()) -> str | None:
    """The provisioner type the credentials imply (the CLI's type filter, spec §7.3); a
    K8sSA token path given to the library counts as explicit."""
    from pystep.provisioners.select import implied_type

    return implied_type(
        x5c=bool(creds.x5c_cert or creds.x5c_key or x5c_chain),
        sshpop=bool(creds.sshpop_cert or creds.sshpop_key),
        nebula=bool(creds.nebula_cert or creds.nebula_key),
        k8ssa=bool(creds.k8ssa_token_path),
    )
