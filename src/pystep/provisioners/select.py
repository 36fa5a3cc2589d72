"""Choosing the provisioner, as step does (spec client.md §7.3), with a better answer when
several fit and nobody can be asked."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

from pystep.errors import ProvisionerError, UsageError
from pystep.provisioners.base import ProvisionerRecord

Chooser = Callable[[Sequence[ProvisionerRecord]], ProvisionerRecord]

ALL_TOKEN_TYPES = (
    "JWK", "OIDC", "ACME", "SCEP", "K8sSA", "X5C", "SSHPOP", "Nebula", "GCP", "AWS", "Azure",
)


class Filters(NamedTuple):
    """Which provisioners the flags in use allow.

    ``only_type``: X5C when --x5c-cert/--x5c-key are set, SSHPOP for --sshpop-*, Nebula for
    --nebula-*, K8sSA when --k8ssa-token-path is set explicitly; else every kind.
    """

    only_type: str | None = None
    kid: str | None = None
    name: str | None = None
    name_flag: str = "--provisioner"


def implied_type(*, x5c: bool, sshpop: bool, nebula: bool, k8ssa: bool) -> str | None:
    """The one provisioner type the credentials in use allow, in step's order (spec §7.3):
    X5C flags, then SSHPOP, then Nebula, then an explicit K8sSA token path; else None."""
    for wanted, kind in ((x5c, "X5C"), (sshpop, "SSHPOP"), (nebula, "Nebula"), (k8ssa, "K8sSA")):
        if wanted:
            return kind
    return None


def candidates(records: Sequence[ProvisionerRecord], f: Filters) -> list[ProvisionerRecord]:
    """Apply step's filters in step's order; each empty result is step's error."""
    allowed = (f.only_type,) if f.only_type else ALL_TOKEN_TYPES
    found = [r for r in records if r.type in allowed]
    if not found:
        raise ProvisionerError(
            "cannot create a new token: the CA does not have any provisioner configured"
            + (f" of type {f.only_type}" if f.only_type else "")
        )
    if f.kid:
        found = [
            r
            for r in found
            if (r.type == "JWK" and r.kid == f.kid)
            or (r.type == "OIDC" and r.raw.get("clientID") == f.kid)
        ]
        if not found:
            raise UsageError(f"invalid value '{f.kid}' for flag '--kid'")
    if f.name:
        found = [r for r in found if r.name == f.name]
        if not found:
            raise UsageError(f"invalid value '{f.name}' for flag '{f.name_flag}'")
    return found


def choose(
    found: Sequence[ProvisionerRecord],
    *,
    chooser: Chooser | None,
) -> ProvisionerRecord:
    """One candidate: it. Several: ask ``chooser``; without one, an error listing them."""
    if len(found) == 1:
        return found[0]
    if chooser is not None:
        return chooser(found)
    listing = ", ".join(r.label for r in found)
    raise ProvisionerError(
        f"{len(found)} provisioners fit and pystep cannot ask which: {listing}",
        hint="pick one with --provisioner <name> (or --kid <kid>)",
    )
