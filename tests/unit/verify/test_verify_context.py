"""The check steps shared by the provisioner types (verify.context)."""

from __future__ import annotations

from typing import Any

import pytest

from pystep.jose.jws import Decoded
from pystep.provisioners.base import ProvisionerRecord
from pystep.verify.authority import Authority
from pystep.verify.claims import parse_claims
from pystep.verify.context import Ctx, require_ssh_ca, require_supported
from pystep.verify.result import Failed, Operation, Recorder, Verdict


def _ctx(op: Operation, prov_claims: dict[str, Any] | None,
         global_claims: dict[str, Any] | None) -> Ctx:
    raw: dict[str, Any] = {"type": "X5C", "name": "p1"}
    if prov_claims is not None:
        raw["claims"] = prov_claims
    record = ProvisionerRecord(raw)
    authority = Authority(provisioners=[record], dns_names=("ca.test",),
                          global_claims=global_claims)
    return Ctx(token="", decoded=Decoded({}, {}, b"", b""), claims=parse_claims({}),
               authority=authority, op=op, now=0.0, rec=Recorder(Verdict(op)), record=record)


def _checks(ctx: Ctx) -> list[tuple[str, str, str]]:
    return [(c.name, c.status, c.reason) for c in ctx.rec.verdict.checks]


def test_supported_operation() -> None:
    ctx = _ctx(Operation.SIGN, None, {})
    require_supported(ctx, (Operation.SIGN,), "X5C")
    assert _checks(ctx) == [("operation", "pass", "X5C provisioners support sign")]
    ctx = _ctx(Operation.SSH_RENEW, None, {})
    with pytest.raises(Failed):
        require_supported(ctx, (Operation.SIGN,), "X5C")
    assert _checks(ctx) == [("operation", "fail",
                             f"provisioner {Operation.SSH_RENEW.value} not implemented for "
                             "X5C provisioners")]


def test_ssh_ca_only_for_ssh_sign() -> None:
    ctx = _ctx(Operation.SIGN, {"enableSSHCA": False}, {})
    require_ssh_ca(ctx, "x5c", "unknown")
    assert _checks(ctx) == []


def test_ssh_ca_disabled_fails_either_way() -> None:
    for unknown in (None, "unknown"):
        ctx = _ctx(Operation.SSH_SIGN, {"enableSSHCA": False}, {"enableSSHCA": True})
        with pytest.raises(Failed) as info:
            require_ssh_ca(ctx, "nebula", unknown)
        assert info.value.check.http == 401
        assert _checks(ctx) == [("enableSSHCA", "fail",
                                 "sshCA is disabled for nebula provisioner 'p1'")]


def test_ssh_ca_enabled_or_unknown() -> None:
    quiet = _ctx(Operation.SSH_SIGN, None, None)
    require_ssh_ca(quiet, "k8sSA")
    assert _checks(quiet) == []
    unknown = _ctx(Operation.SSH_SIGN, None, None)
    require_ssh_ca(unknown, "x5c", "claims unknown")
    assert _checks(unknown) == [("enableSSHCA", "warn", "claims unknown")]
    enabled = _ctx(Operation.SSH_SIGN, None, {"enableSSHCA": True})
    require_ssh_ca(enabled, "x5c", "claims unknown")
    assert _checks(enabled) == [("enableSSHCA", "pass", "")]
    # Global false, the provisioner's own claim wins.
    own = _ctx(Operation.SSH_SIGN, {"enableSSHCA": True}, {"enableSSHCA": False})
    require_ssh_ca(own, "k8sSA")
    assert _checks(own) == []
