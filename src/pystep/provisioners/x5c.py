"""X5C provisioners: tokens signed with the key of an X.509 certificate the
provisioner's roots trust (spec client.md §8.6, ca.md §5.2).

``--x5c-cert`` is a file (a PEM bundle, leaf first, or one DER certificate) or, when no
such file exists, a KMS name whose stored chain is used. ``--x5c-chain`` (a pystep
extension on ``ca token``, repeatable; step has it on ``ca certificate``, ``ca sign`` and
``ssh certificate`` with the same meaning) names more files or KMS certificates whose
certificates are appended after ``--x5c-cert``'s, in order: a leaf read from a token or
device (which often stores one certificate) plus its intermediates from a file.
``ctx.extra["x5c_chain"]`` carries them (a sequence of names). ``--x5c-key`` is loaded like
``--key`` (PEM, OpenSSH, JWK/JWE, encrypted with the password files or a prompt, or a
KMS name). Before anything is signed the pair is validated as step does (the leaf's key
is the signing key and it allows digitalSignature), and — unlike step — an expired or
not-yet-valid leaf is refused here, since step-ca would refuse the token anyway.

Header ``x5c`` (``x5cInsecure`` with ``--x5c-insecure``): standard base64 DER, file order.

``kid`` choice: step v0.19 writes the RFC 7638 thumbprint of the leaf key; the latest step
writes the ``--x5c-key`` argument verbatim (a file path or KMS URI). step-ca ignores
``kid`` for X5C tokens. We write the thumbprint, as v0.19 does: it does not leak local
paths or KMS URIs (which may carry a PIN) into every token.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pystep.errors import KeyLoadError, ProvisionerError, UsageError
from pystep.jose.signer import Signer
from pystep.provisioners._common import TokenSigning, load_key, thumbprint
from pystep.provisioners.base import MintContext, ProvisionerRecord
from pystep.request import TokenKind, TokenRequest

if TYPE_CHECKING:
    from cryptography import x509


@dataclass
class X5CMinter:
    record: ProvisionerRecord | None
    issuer: str
    fragment: str
    header: dict[str, Any]
    signer: Signer
    ctx: MintContext
    _signing: TokenSigning = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # The header encoding and the audiences, made once for all this minter's tokens.
        self._signing = TokenSigning(self.header, self.signer, self.fragment)

    def mint(self, req: TokenRequest) -> str:
        if req.kind is TokenKind.RENEW:
            raise ProvisionerError("renew tokens are not signed by a provisioner key")
        return self._signing.mint(self.ctx, req, self.issuer)


def load_chain(name: str, ctx: MintContext) -> list[x509.Certificate]:
    """``--x5c-cert``: an existing file, else a KMS name holding the chain."""
    if os.path.exists(name):
        from pystep.keys.x509 import load_cert_bundle

        return load_cert_bundle(name)
    from pystep.errors import KMSError
    from pystep.kms import KmsOptions, load_certificates

    opts = KmsOptions(
        kms_uri=ctx.credentials.kms,
        pin_prompter=ctx.extra.get("pin_prompter"),
        steppath=ctx.extra.get("steppath"),
    )
    try:
        certs = load_certificates(name, opts)
    except KMSError as exc:
        raise KMSError(f"could not load x5c certificate: {exc}", hint=exc.hint) from None
    if not certs:
        raise KMSError("could not load x5c certificate: the KMS returned no certificate")
    return certs


def check_leaf_validity(certs: list[x509.Certificate], ctx: MintContext, what: str) -> None:
    """Refuse a leaf outside its validity window (step-ca checks the chain at 'now')."""
    leaf = certs[0]
    now = ctx.now()
    if now > leaf.not_valid_after_utc:
        raise KeyLoadError(
            f"{what}: certificate expired on {leaf.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}; "
            "the CA would refuse the token",
            hint="renew the certificate, or get a new one",
        )
    if now < leaf.not_valid_before_utc:
        raise KeyLoadError(
            f"{what}: certificate is not valid before "
            f"{leaf.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ}; the CA would refuse the token"
        )


def prepare(record: ProvisionerRecord, ctx: MintContext) -> X5CMinter:
    creds = ctx.credentials
    if not creds.x5c_cert:
        raise UsageError("provisioner type 'X5C' requires the '--x5c-cert' flag")
    if not creds.x5c_key:
        raise UsageError("provisioner type 'X5C' requires the '--x5c-key' flag")
    from pystep.keys.x509 import validate_x5c, x5c_header_value

    certs = load_chain(creds.x5c_cert, ctx)
    for name in ctx.extra.get("x5c_chain") or ():
        certs.extend(load_chain(name, ctx))
    signer = load_key(creds.x5c_key, ctx).signer
    validate_x5c(certs, signer.public_key())
    check_leaf_validity(certs, ctx, f"x5c certificate {creds.x5c_cert}")
    header_name = "x5cInsecure" if creds.x5c_insecure else "x5c"
    header = {"kid": thumbprint(signer), header_name: x5c_header_value(certs)}
    return X5CMinter(
        record=record,
        issuer=record.name,
        fragment=f"x5c/{record.name}",
        header=header,
        signer=signer,
        ctx=ctx,
    )
