"""Pieces every step-signed kind (JWK, X5C, SSHPOP, Nebula) shares."""

from __future__ import annotations

import os
from dataclasses import dataclass

from pystep.jose.signer import Signer
from pystep.provisioners.base import MintContext


@dataclass(frozen=True)
class KeyRef:
    """A loaded signing key and the kid its file carried (JWK JSON files), if any."""

    signer: Signer
    file_kid: str | None


def load_key(name: str, ctx: MintContext, *, prompt: str | None = None) -> KeyRef:
    """Load ``--key``-like input: an existing file is a file, anything else a KMS name."""
    if os.path.exists(name):
        from pystep.keys.files import load_signing_key

        loaded = load_signing_key(name, ctx.passwords, prompt=prompt)
        return KeyRef(loaded.signer, loaded.kid)
    from pystep.kms import KmsOptions, open_signer

    pin_prompter = ctx.extra.get("pin_prompter")
    opts = KmsOptions(
        kms_uri=ctx.credentials.kms,
        pin_prompter=pin_prompter,
        steppath=ctx.extra.get("steppath"),
    )
    return KeyRef(open_signer(name, opts), None)


def thumbprint(signer: Signer) -> str:
    from pystep.jose.jwk import thumbprint as tp

    return tp(signer.public_key())
