"""Nebula provisioners: tokens signed with a Nebula host key (spec client.md §8.8,
ca.md §5.4).

``--nebula-cert`` (PEM v1/v2 or raw v1 bytes) goes in the ``nebula`` header as standard
base64 of the raw certificate; the token is signed with ``--nebula-key`` (an X25519 key
signs with XEdDSA, Ed25519 with EdDSA, P-256 with ES256), which must be the
certificate's key. Claims per kind as JWK/X5C; ``aud`` carries ``#nebula/<name>``.
``kid`` is the key's RFC 7638 thumbprint, as step writes it.

step-ca compares the CSR SANs with the certificate's name and IPs, and (when the token
has ``sans``) puts the token's SANs in the certificate. A sign token's SANs default to
``[subject]``, as in step; a notice goes to stderr when they are not the certificate's
name and IPs. Keys in an ordinary encrypted PEM are decrypted with the password files or
a prompt (step only prompts).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pystep.claims import sans_claim
from pystep.errors import KeyLoadError, UsageError
from pystep.jose.signer import Signer
from pystep.provisioners._common import TokenSigning, thumbprint
from pystep.provisioners.base import MintContext, ProvisionerRecord
from pystep.request import TokenKind, TokenRequest

if TYPE_CHECKING:
    from pystep.keys.nebula import NebulaCert


@dataclass
class NebulaMinter:
    record: ProvisionerRecord | None
    issuer: str
    fragment: str
    header: dict[str, Any]
    signer: Signer
    cert: NebulaCert
    ctx: MintContext
    _signing: TokenSigning = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # The header encoding and the audiences, made once for all this minter's tokens.
        self._signing = TokenSigning(self.header, self.signer, self.fragment)

    def mint(self, req: TokenRequest) -> str:
        if req.kind in (TokenKind.SSH_RENEW, TokenKind.SSH_REKEY, TokenKind.RENEW):
            from pystep.errors import ProvisionerError

            raise ProvisionerError(
                f"Nebula provisioners cannot make {_kind_words(req.kind)} tokens "
                "(step-ca refuses them)",
                hint="use an SSHPOP provisioner for SSH renew and rekey"
                if req.kind is not TokenKind.RENEW
                else "use --renew with --x5c-cert and --x5c-key and no provisioner",
            )
        if req.kind is TokenKind.SIGN:
            self._check_sans(req)
        return self._signing.mint(self.ctx, req, self.issuer)

    def _check_sans(self, req: TokenRequest) -> None:
        allowed = {self.cert.name, *self.cert.ips}
        outside = [s for s in sans_claim(req) if _normal(s) not in allowed]
        notify = self.ctx.extra.get("notify")
        if outside and notify is not None:
            notify(
                f"warning: {', '.join(outside)} not the name or an IP of the Nebula "
                f"certificate ({', '.join(sorted(allowed))}); the CA may refuse the CSR"
            )


def _normal(san: str) -> str:
    try:
        return str(ipaddress.ip_address(san))
    except ValueError:
        return san


def _kind_words(kind: TokenKind) -> str:
    return {
        TokenKind.SSH_RENEW: "SSH renew",
        TokenKind.SSH_REKEY: "SSH rekey",
        TokenKind.RENEW: "renew",
    }.get(kind, kind.name)


def _load_key(path: str, ctx: MintContext) -> Signer:
    from pystep.keys.nebula import load_nebula_key

    try:
        return load_nebula_key(path)
    except KeyLoadError as exc:
        if not isinstance(exc.__cause__, TypeError) or "encrypted" not in str(exc).lower():
            raise
    from pystep.passwords import try_passwords

    def wrong(exc: Exception) -> bool:
        return isinstance(exc, KeyLoadError) and isinstance(exc.__cause__, ValueError)

    return try_passwords(
        ctx.passwords,
        f"Please enter the password to decrypt {path}",
        lambda pw: load_nebula_key(path, pw),
        is_wrong_password=wrong,
        failure=f"error decrypting {path}: x509: decryption password incorrect",
    )


def prepare(record: ProvisionerRecord, ctx: MintContext) -> NebulaMinter:
    creds = ctx.credentials
    if not creds.nebula_cert:
        raise UsageError("provisioner type 'Nebula' requires the '--nebula-cert' flag")
    if not creds.nebula_key:
        raise UsageError("provisioner type 'Nebula' requires the '--nebula-key' flag")
    from pystep.jose.encoding import b64std_encode
    from pystep.keys.nebula import check_key_matches, load_nebula_cert

    cert = load_nebula_cert(creds.nebula_cert)
    signer = _load_key(creds.nebula_key, ctx)
    check_key_matches(cert, signer, creds.nebula_cert)
    if cert.is_expired(ctx.now()):
        raise KeyLoadError(
            f"nebula certificate {creds.nebula_cert} is not valid now (valid from "
            f"{cert.not_before:%Y-%m-%dT%H:%M:%SZ} to {cert.not_after:%Y-%m-%dT%H:%M:%SZ}); "
            "the CA would refuse the token"
        )
    header = {"kid": thumbprint(signer), "nebula": b64std_encode(cert.raw)}
    return NebulaMinter(
        record=record,
        issuer=record.name,
        fragment=f"nebula/{record.name}",
        header=header,
        signer=signer,
        cert=cert,
        ctx=ctx,
    )
