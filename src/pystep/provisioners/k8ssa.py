"""K8sSA provisioners: the token is the Kubernetes service-account token itself
(spec client.md §10.2, ca.md §5.5).

The file at ``--k8ssa-token-path`` (default: the in-pod path) is read and printed; the
subject, validity and SAN flags do not change it. step-ca checks only its signature
against the provisioner's ``publicKeys``, ``iss == kubernetes/serviceaccount`` and a
non-empty ``sub`` (and, like every token, an ``iat`` after the CA started).
"""

from __future__ import annotations

from dataclasses import dataclass

from pystep.provisioners.base import MintContext, ProvisionerRecord
from pystep.request import TokenKind, TokenRequest

_UNSUPPORTED = (TokenKind.SSH_RENEW, TokenKind.SSH_REKEY, TokenKind.SSH_REVOKE, TokenKind.RENEW)


@dataclass
class K8sSAMinter:
    record: ProvisionerRecord | None
    token: str
    path: str

    def mint(self, req: TokenRequest) -> str:
        if req.kind in _UNSUPPORTED:
            from pystep.errors import ProvisionerError

            raise ProvisionerError(
                f"provisioner '{self.record.name if self.record else 'k8ssa'}' is of type "
                "K8sSA: step-ca does not accept its tokens for SSH revoke, renew or rekey",
            )
        return self.token


def prepare(record: ProvisionerRecord, ctx: MintContext) -> K8sSAMinter:
    from pystep.keys.k8ssa import DEFAULT_TOKEN_PATH, read_service_account_token

    path = ctx.credentials.k8ssa_token_path or DEFAULT_TOKEN_PATH
    return K8sSAMinter(record=record, token=read_service_account_token(path), path=path)
