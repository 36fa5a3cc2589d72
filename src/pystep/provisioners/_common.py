"""Pieces every step-signed kind (JWK, X5C, SSHPOP, Nebula) shares."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pystep.jose.signer import Signer
from pystep.provisioners.base import Audience, MintContext
from pystep.request import TokenRequest

if TYPE_CHECKING:
    from pystep.jose.jws import CompactSigner


class KeyRef:
    """A loaded signing key and the kid its file carried (JWK JSON files), if any."""

    __slots__ = ("file_kid", "signer")

    def __init__(self, signer: Signer, file_kid: str | None) -> None:
        self.signer = signer
        self.file_kid = file_kid

    def __repr__(self) -> str:
        return f"KeyRef(signer={self.signer!r}, file_kid={self.file_kid!r})"


class TokenSigning:
    """What stays the same across a minter's tokens, computed once: the encoded protected
    header (built on first use, from the header and signer it was made with) and the
    audience of each token kind (recomputed if the context's audience is replaced)."""

    __slots__ = ("_audience", "_audiences", "_fragment", "_header", "_jws", "_signer")

    def __init__(
        self, header: Mapping[str, Any], signer: Signer, fragment: str | None = None
    ) -> None:
        self._header = dict(header)
        self._signer = signer
        self._fragment = fragment
        self._jws: CompactSigner | None = None
        self._audience: Audience | None = None
        self._audiences: dict[str, str] = {}

    def audience(self, ctx: MintContext, path: str) -> str:
        if ctx.audience is not self._audience:
            self._audience = ctx.audience
            self._audiences = {}
        aud = self._audiences.get(path)
        if aud is None:
            aud = self._audiences[path] = ctx.audience.for_path(path, self._fragment)
        return aud

    def mint(
        self, ctx: MintContext, req: TokenRequest, issuer: str, *, base_only: bool = False
    ) -> str:
        """Build the claims for ``req`` (step's per-kind set, or the base claims only) and
        sign them: the part of ``mint`` every step-signed kind shares."""
        from pystep.claims import base_claims, step_claims

        build = base_claims if base_only else step_claims
        claims = build(
            req,
            issuer=issuer,
            audience=self.audience(ctx, req.kind.path),
            now=ctx.now(),
            sha=ctx.root_sha,
        )
        return self.sign(claims)

    def sign(self, claims: Mapping[str, Any]) -> str:
        if self._jws is None:
            from pystep.jose.jws import CompactSigner

            self._jws = CompactSigner(self._header, self._signer)
        return self._jws.sign(claims)


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
