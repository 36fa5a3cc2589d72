"""Provisioner kinds. Each kind lives in its own module exposing
``prepare(record, ctx) -> Minter`` (see :mod:`pystep.provisioners.base`)."""

from __future__ import annotations

import importlib

from pystep.errors import NotSupportedError
from pystep.provisioners.base import MintContext, Minter, ProvisionerRecord

# type name -> module; modules are imported only when their kind is used.
KIND_MODULES = {
    "JWK": "pystep.provisioners.jwk",
    "X5C": "pystep.provisioners.x5c",
    "SSHPOP": "pystep.provisioners.sshpop",
    "Nebula": "pystep.provisioners.nebula",
    "K8sSA": "pystep.provisioners.k8ssa",
    "OIDC": "pystep.provisioners.oidc",
    "AWS": "pystep.provisioners.aws",
    "GCP": "pystep.provisioners.gcp",
    "Azure": "pystep.provisioners.azure",
}

_NO_TOKENS = {
    "ACME": "get certificates from it with an ACME client (certbot, acme.sh, "
    "or step ca certificate --provisioner {name})",
    "SCEP": "get certificates from it with a SCEP client",
}


def prepare(record: ProvisionerRecord, ctx: MintContext) -> Minter:
    """Unlock the credentials of ``record`` once; the Minter then mints many tokens."""
    kind = record.type
    if kind in _NO_TOKENS:
        raise NotSupportedError(
            f"provisioner '{record.name}' is of type {kind}: step {kind} provisioners do not "
            f"support token auth flows",
            hint=_NO_TOKENS[kind].format(name=record.name),
        )
    module_name = KIND_MODULES.get(kind)
    if module_name is None:
        raise NotSupportedError(
            f"provisioner '{record.name}' has unknown type '{kind}': "
            "pystep cannot make tokens for it"
        )
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise NotSupportedError(
            f"provisioner '{record.name}' is of type {kind}, which this pystep does not support yet"
        ) from None
    minter: Minter = module.prepare(record, ctx)
    return minter
