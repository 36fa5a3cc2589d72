"""SSHPOP provisioners: proof of possession of an SSH certificate the CA issued
(spec client.md §8.7, ca.md §5.3).

Only SSH renew, rekey and revoke tokens (``--ssh --renew|--rekey|--revoke``). The
certificate (``--sshpop-cert``, a file) goes in the ``sshpop`` header as standard base64
of its wire form; the token is signed with the certificate's own key (``--sshpop-key``:
OpenSSH incl. bcrypt-encrypted, PEM, JWK, or a KMS name) and carries base claims only.
``kid`` is the key's thumbprint, or the ``kid`` of a JWK JSON key file, as step does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pystep.errors import ProvisionerError, UsageError
from pystep.jose.signer import Signer
from pystep.provisioners._common import TokenSigning, load_key, thumbprint
from pystep.provisioners.base import MintContext, ProvisionerRecord
from pystep.request import TokenKind, TokenRequest

SSHPOP_KINDS = (TokenKind.SSH_RENEW, TokenKind.SSH_REKEY, TokenKind.SSH_REVOKE)


@dataclass
class SSHPOPMinter:
    record: ProvisionerRecord | None
    issuer: str
    fragment: str
    header: dict[str, Any]
    signer: Signer
    ctx: MintContext
    serial: int = 0
    _signing: TokenSigning = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # The header encoding and the audiences, made once for all this minter's tokens.
        self._signing = TokenSigning(self.header, self.signer, self.fragment)

    def mint(self, req: TokenRequest) -> str:
        if req.kind not in SSHPOP_KINDS:
            raise ProvisionerError(
                f"unexpected requested token type for SSHPOP token: {req.kind.value}: "
                "SSHPOP provisioners only make SSH renew, rekey and revoke tokens",
                hint="use --ssh with --renew, --rekey or --revoke, or choose another "
                "provisioner with --provisioner",
            )
        if req.kind is TokenKind.SSH_REVOKE and req.subject != str(self.serial):
            notify = self.ctx.extra.get("notify")
            if notify is not None:
                notify(
                    f"warning: the CA refuses SSHPOP revoke tokens whose subject is not the "
                    f"certificate's serial number ({self.serial})"
                )
        return self._signing.mint(self.ctx, req, self.issuer, base_only=True)


def prepare(record: ProvisionerRecord, ctx: MintContext) -> SSHPOPMinter:
    creds = ctx.credentials
    if not creds.sshpop_cert:
        raise UsageError("provisioner type 'SSHPOP' requires the '--sshpop-cert' flag")
    if not creds.sshpop_key:
        raise UsageError("provisioner type 'SSHPOP' requires the '--sshpop-key' flag")
    from pystep.keys.sshcert import check_key_matches, load_ssh_certificate, sshpop_header_value

    cert = load_ssh_certificate(creds.sshpop_cert)
    key = load_key(creds.sshpop_key, ctx)
    check_key_matches(cert, key.signer.public_key())
    kid = key.file_kid if key.file_kid is not None else thumbprint(key.signer)
    if not kid:
        raise ProvisionerError("kid cannot be empty")
    header = {"kid": kid, "sshpop": sshpop_header_value(cert)}
    return SSHPOPMinter(
        record=record,
        issuer=record.name,
        fragment=f"sshpop/{record.name}",
        header=header,
        signer=key.signer,
        ctx=ctx,
        serial=cert.serial,
    )
