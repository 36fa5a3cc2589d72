"""Renew tokens (``--renew`` without ``--ssh``; spec client.md §9, ca.md §7.1).

Not tied to a provisioner: the token is signed with the key of the certificate to renew
and carries the whole ``--x5c-cert`` file in ``x5cInsecure`` (the CA verifies the chain
against its own roots at the leaf's NotAfter − 1 min, so an expired leaf still works when
the provisioner allows renewal after expiry). Claims: ``iss`` ``step-ca-client/1.0``,
``sub`` the leaf's CN, ``aud`` the renew audience, ``iat = nbf = now``, ``exp = now + 5
min``; no ``jti``, ``sha``, ``sans`` or ``user``; ``--not-before``/``--not-after`` are
ignored, as in step. ``kid`` is the key's RFC 7638 thumbprint.

Differences from step v0.19, on purpose: an encrypted key may be decrypted with the
password files (step only prompts), the certificate may not be a KMS name (as step), and
a key that does not belong to the leaf is refused here (the CA would answer 500).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from pystep.errors import InputError, KeyLoadError, UsageError
from pystep.jose.signer import Signer
from pystep.provisioners._common import TokenSigning, load_key, thumbprint
from pystep.provisioners.base import MintContext, ProvisionerRecord
from pystep.request import TokenKind, TokenRequest

RENEW_ISSUER = "step-ca-client/1.0"
RENEW_VALIDITY_SECONDS = 300


@dataclass
class RenewMinter:
    common_name: str
    header: dict[str, Any]
    signer: Signer
    ctx: MintContext
    _signing: TokenSigning = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # The header encoding and the audience, made once for all this minter's tokens.
        self._signing = TokenSigning(self.header, self.signer, None)

    @property
    def record(self) -> ProvisionerRecord | None:
        return None

    def mint(self, req: TokenRequest) -> str:
        if req.subject and req.subject != self.common_name:
            raise UsageError(
                f"positional argument {req.subject} must match the certificate common name"
            )
        iat = int(self.ctx.now().timestamp())
        claims = {
            "aud": self._signing.audience(self.ctx, TokenKind.RENEW.path),
            "exp": iat + RENEW_VALIDITY_SECONDS,
            "iat": iat,
            "iss": RENEW_ISSUER,
            "nbf": iat,
            "sub": self.common_name,
        }
        return self._signing.sign(claims)


def _common_name(cert: Any, path: str) -> str:
    from cryptography.x509.oid import NameOID

    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    cn = str(names[0].value) if names else ""
    if not cn:
        raise InputError(
            f"certificate {path} has no common name: the CA renews only certificates "
            "whose subject has one"
        )
    return cn


def _spki(key: Any) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    try:
        der: bytes = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    except (AttributeError, TypeError, ValueError):
        return b""
    return der


def prepare_renew(ctx: MintContext) -> RenewMinter:
    creds = ctx.credentials
    if not creds.x5c_cert:
        raise UsageError("'step ca token' requires the '--x5c-cert' flag")
    if not creds.x5c_key:
        raise UsageError("'step ca token' requires the '--x5c-key' flag")
    for name in (creds.x5c_cert, creds.x5c_key):
        if not os.path.exists(name):
            raise InputError(
                f"error reading {name}: no such file or directory",
                hint="renew tokens need the certificate and its key as files",
            )
    from pystep.keys.x509 import load_cert_bundle, x5c_header_value

    certs = load_cert_bundle(creds.x5c_cert)
    signer = load_key(creds.x5c_key, ctx).signer
    if _spki(certs[0].public_key()) != _spki(signer.public_key()):
        raise KeyLoadError(
            f"error validating {creds.x5c_cert} and {creds.x5c_key}: "
            "private key does not match public key"
        )
    header = {"kid": thumbprint(signer), "x5cInsecure": x5c_header_value(certs)}
    return RenewMinter(
        common_name=_common_name(certs[0], creds.x5c_cert),
        header=header,
        signer=signer,
        ctx=ctx,
    )

