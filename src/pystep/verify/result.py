"""What a verification produces: one :class:`Check` per step the CA takes, a :class:`Verdict`.

A check's ``status`` is ``pass``, ``fail``, ``warn`` (the CA may refuse for a reason the
verifier cannot see: replay, revocation, settings only the CA knows), ``info`` or
``skip`` (not applicable or not reached). ``http`` is the status the CA would answer
when the check fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal

Status = Literal["pass", "fail", "warn", "info", "skip"]


class Operation(Enum):
    """The CA endpoint a token is meant for (``--for``)."""

    SIGN = "sign"
    REVOKE = "revoke"
    RENEW = "renew"
    SSH_SIGN = "ssh-sign"
    SSH_REVOKE = "ssh-revoke"
    SSH_RENEW = "ssh-renew"
    SSH_REKEY = "ssh-rekey"

    @classmethod
    def parse(cls, text: str) -> Operation:
        for op in cls:
            if op.value == text or op.value.replace("-", "") == text.replace("-", ""):
                return op
        raise ValueError(text)

    @property
    def path(self) -> str:
        return "/" + self.value.replace("-", "/")


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    reason: str = ""
    http: int | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"check": self.name, "status": self.status}
        if self.reason:
            out["reason"] = self.reason
        if self.status == "fail" and self.http is not None:
            out["http"] = self.http
        return out


@dataclass
class Verdict:
    """The ordered checks; ``accepted`` is the CA's predicted decision."""

    operation: Operation
    checks: list[Check] = field(default_factory=list)
    provisioner: str | None = None
    provisioner_type: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def failure(self) -> Check | None:
        return next((c for c in self.checks if c.status == "fail"), None)

    @property
    def accepted(self) -> bool:
        return self.failure is None

    @property
    def http_status(self) -> int:
        """The predicted HTTP status: the first failure's, else the endpoint's success."""
        fail = self.failure
        if fail is not None:
            return fail.http or 401
        return 201 if self.operation in (
            Operation.SIGN, Operation.RENEW, Operation.SSH_SIGN, Operation.SSH_RENEW,
            Operation.SSH_REKEY) else 200

    @property
    def warnings(self) -> list[Check]:
        return [c for c in self.checks if c.status == "warn"]

    def to_json(self) -> dict[str, Any]:
        return {
            "operation": self.operation.value,
            "accepted": self.accepted,
            "http": self.http_status,
            "provisioner": self.provisioner,
            "provisionerType": self.provisioner_type,
            "checks": [c.to_json() for c in self.checks],
            "notes": list(self.notes),
        }


class Failed(Exception):
    """Raised inside a check sequence to stop at the first failure (the CA's behaviour)."""

    def __init__(self, check: Check) -> None:
        super().__init__(check.reason)
        self.check = check


class Recorder:
    """Collects checks in order; :meth:`fail` records and stops the sequence."""

    def __init__(self, verdict: Verdict) -> None:
        self.verdict = verdict

    def ok(self, name: str, reason: str = "") -> None:
        self.verdict.checks.append(Check(name, "pass", reason))

    def warn(self, name: str, reason: str) -> None:
        self.verdict.checks.append(Check(name, "warn", reason))

    def info(self, name: str, reason: str) -> None:
        self.verdict.checks.append(Check(name, "info", reason))

    def skip(self, name: str, reason: str) -> None:
        self.verdict.checks.append(Check(name, "skip", reason))

    def fail(self, name: str, reason: str, http: int = 401) -> Failed:
        check = Check(name, "fail", reason, http)
        self.verdict.checks.append(check)
        return Failed(check)

    def require(self, cond: bool, name: str, reason_fail: str, http: int = 401,
                reason_ok: str = "") -> None:
        if not cond:
            raise self.fail(name, reason_fail, http)
        self.ok(name, reason_ok)
