"""JWK provisioners: tokens signed with the provisioner's own key (spec client.md §8.1).

The key is the CA's encrypted provisioner key (GET /provisioners/<kid>/encrypted-key
online, ``encryptedKey`` from ca.json offline) decrypted with the provisioner password,
or a key the user holds (``--key``: a file or a KMS URI). Offline without ca.json there is
no provisioner record: ``iss`` is ``--issuer`` and ``kid`` is ``--kid`` or the key's
RFC 7638 thumbprint.
"""

from __future__ import annotations

from pystep.errors import ProvisionerError
from pystep.jose.signer import Signer
from pystep.provisioners._common import TokenSigning, load_key, thumbprint
from pystep.provisioners.base import MintContext, ProvisionerRecord
from pystep.request import TokenKind, TokenRequest

PROVISIONER_KEY_PROMPT = "Please enter the password to decrypt the provisioner key"


class JWKMinter:
    """Mints JWK tokens: header ``{"alg", "kid", "typ"}`` and step's claims."""

    def __init__(
        self,
        record: ProvisionerRecord | None,
        issuer: str,
        kid: str,
        signer: Signer,
        ctx: MintContext,
    ) -> None:
        self.record = record
        self.issuer = issuer
        self.kid = kid
        self.signer = signer
        self.ctx = ctx
        self._signing = TokenSigning({"kid": kid}, signer)

    def __repr__(self) -> str:
        return f"JWKMinter(issuer={self.issuer!r}, kid={self.kid!r}, alg={self.signer.alg!r})"

    def mint(self, req: TokenRequest) -> str:
        if req.kind in (TokenKind.SSH_RENEW, TokenKind.SSH_REKEY):
            # step mints these, and step-ca always refuses them ("not implemented"):
            # say so instead of printing a token that cannot work.
            raise ProvisionerError(
                f"JWK provisioners cannot {'renew' if req.kind is TokenKind.SSH_RENEW else 'rekey'}"
                " SSH certificates (step-ca refuses such tokens)",
                hint="use an SSHPOP provisioner with --sshpop-cert and --sshpop-key",
            )
        if req.kind is TokenKind.RENEW:
            raise ProvisionerError("renew tokens are not signed by a provisioner key")
        return self._signing.mint(self.ctx, req, self.issuer)


def prepare(record: ProvisionerRecord, ctx: MintContext) -> JWKMinter:
    if not record.kid:
        raise ProvisionerError(f"provisioner '{record.name}' has no key id (key.kid)")
    if ctx.credentials.key:
        signer = load_key(ctx.credentials.key, ctx).signer
    else:
        signer = _provisioner_signer(record, ctx)
    return JWKMinter(record=record, issuer=record.name, kid=record.kid, signer=signer, ctx=ctx)


def _provisioner_signer(record: ProvisionerRecord, ctx: MintContext) -> Signer:
    from pystep.keys.files import decrypt_jwk, signer_from_jwk

    if ctx.ca is not None and record.raw.get("encryptedKey"):
        encrypted = ctx.ca.encrypted_key(record.kid)
    else:
        enc = record.raw.get("encryptedKey")
        if not isinstance(enc, str) or not enc:
            raise ProvisionerError(
                f"provisioner '{record.name}' does not have an 'encryptedKey' property",
                hint="use --key with the provisioner's private key",
            )
        encrypted = enc
    jwk = decrypt_jwk(encrypted, ctx.passwords, PROVISIONER_KEY_PROMPT)
    return signer_from_jwk(jwk)


def prepare_standalone(issuer: str, ctx: MintContext) -> JWKMinter:
    """Offline without ca.json: ``--key`` with ``--issuer`` (and optionally ``--kid``)."""
    key_name = ctx.credentials.key
    if not key_name:
        raise ProvisionerError("flag '--offline' requires the '--key' flag")
    signer = load_key(key_name, ctx).signer
    kid = ctx.credentials.kid or thumbprint(signer)
    return JWKMinter(record=None, issuer=issuer, kid=kid, signer=signer, ctx=ctx)
