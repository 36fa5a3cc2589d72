"""The error hierarchy of pystep.

Every failure that a user can cause or fix is a :class:`PystepError`. ``str(err)`` is the
one-line message the CLI prints (step's wording where step has one); :meth:`diagnostics`
adds an optional hint. The CLI prints that, exits 1, and prints a traceback only with
``STEPDEBUG=1``. Messages never contain secrets (passwords, private keys, tokens).
"""

from __future__ import annotations


class PystepError(Exception):
    """Base class of every error pystep raises on purpose."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message

    def diagnostics(self) -> str:
        """The human explanation: the message, plus the hint when there is one."""
        if self.hint:
            return f"{self.message}; {self.hint}"
        return self.message


class UsageError(PystepError):
    """Bad command line: unknown flags, wrong positional count, conflicting flags."""


class ConfigError(PystepError):
    """$STEPPATH, contexts, defaults.json or ca.json cannot be used."""


class InputError(PystepError):
    """A file or value given by the user is unreadable or malformed."""


class KeyLoadError(InputError):
    """A key or certificate file could not be read or does not fit its use."""


class PasswordError(KeyLoadError):
    """A password did not decrypt the key (``failed to decrypt JWE: invalid password``)."""


class InteractionRequired(PystepError):
    """pystep would need to prompt, but there is no terminal or --non-interactive is set."""


class CAError(PystepError):
    """The CA answered with an error, or could not be reached."""

    def __init__(self, message: str, *, status: int | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.status = status


class ProvisionerError(PystepError):
    """No provisioner fits, or the chosen one cannot make this kind of token."""


class NotSupportedError(ProvisionerError):
    """The provisioner kind does not use tokens (ACME, SCEP) or is unknown."""


class TokenError(PystepError):
    """Claims or validity cannot form a valid token (e.g. validity out of range)."""


class KMSError(PystepError):
    """A KMS, HSM or agent key cannot be used."""


class MissingExtraError(KMSError):
    """An optional dependency is not installed; the message names the pip extra."""

    def __init__(self, feature: str, extra: str, module: str) -> None:
        super().__init__(
            f"{feature} needs the optional package '{module}': "
            f"install it with pip install 'pystep[{extra}]'"
        )
        self.extra = extra
