"""What a user asks for, as plain typed values with no I/O.

The CLI (or a library caller) resolves flags once into a :class:`TokenRequest`; the
provisioner modules turn it into claims. Nothing here reads files or talks to the CA.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, NamedTuple

from pystep.timeutil import TimeDuration


class TokenKind(enum.Enum):
    """The kinds of token step mints; values are step's integer codes (used in messages)."""

    SIGN = 0
    REVOKE = 1
    SSH_USER_SIGN = 2
    SSH_HOST_SIGN = 3
    SSH_REVOKE = 4
    SSH_RENEW = 5
    SSH_REKEY = 6
    RENEW = 7

    @property
    def is_ssh(self) -> bool:
        return self in _SSH_KINDS

    @property
    def is_ssh_sign(self) -> bool:
        return self in (TokenKind.SSH_USER_SIGN, TokenKind.SSH_HOST_SIGN)

    @property
    def path(self) -> str:
        """The CA endpoint path this kind of token is for (without the /1.0 prefix)."""
        return _PATHS[self]

    @classmethod
    def from_flags(
        cls, *, ssh: bool, revoke: bool, renew: bool, rekey: bool, host: bool
    ) -> TokenKind:
        """step's precedence (spec client.md §4); ``--rekey`` without ``--ssh`` is ignored."""
        if ssh:
            if revoke:
                return cls.SSH_REVOKE
            if renew:
                return cls.SSH_RENEW
            if rekey:
                return cls.SSH_REKEY
            return cls.SSH_HOST_SIGN if host else cls.SSH_USER_SIGN
        if revoke:
            return cls.REVOKE
        if renew:
            return cls.RENEW
        return cls.SIGN


_SSH_KINDS = frozenset(
    {
        TokenKind.SSH_USER_SIGN,
        TokenKind.SSH_HOST_SIGN,
        TokenKind.SSH_REVOKE,
        TokenKind.SSH_RENEW,
        TokenKind.SSH_REKEY,
    }
)

_PATHS = {
    TokenKind.SIGN: "sign",
    TokenKind.REVOKE: "revoke",
    TokenKind.RENEW: "renew",
    TokenKind.SSH_USER_SIGN: "ssh/sign",
    TokenKind.SSH_HOST_SIGN: "ssh/sign",
    TokenKind.SSH_REVOKE: "ssh/revoke",
    TokenKind.SSH_RENEW: "ssh/renew",
    TokenKind.SSH_REKEY: "ssh/rekey",
}


class TokenRequest(NamedTuple):
    """One token to mint.

    ``not_before``/``not_after`` are the *token's* nbf/exp (absolute, already resolved from
    durations); ``None`` for both means step's default (now, now + 5 min).
    ``cert_not_before``/``cert_not_after`` only feed the SSH ``step.ssh`` claim.
    ``user`` is the ``user`` claim: ``None`` means no claim at all (offline, revoke), an
    empty dict is written as ``"user": {}`` as the latest step does online.
    ``cnf`` is the ``x5rt#S256`` fingerprint for the ``cnf`` claim (X.509 sign only).
    Immutable (a NamedTuple): derive variants with ``req._replace(subject=...)``.
    """

    subject: str
    kind: TokenKind = TokenKind.SIGN
    sans: tuple[str, ...] = ()
    principals: tuple[str, ...] = ()
    not_before: datetime | None = None
    not_after: datetime | None = None
    cert_not_before: TimeDuration | None = None
    cert_not_after: TimeDuration | None = None
    cnf: str | None = None
    user: dict[str, Any] | None = None
