"""Where passwords come from: a password file (one attempt) or a prompt (three attempts).

Key loaders never read files or terminals themselves; they ask a :class:`Passwords` for
candidate passwords and stop at the first one that works, so step's precedence
(``--provisioner-password-file`` > ``--password-file`` > prompt) lives in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import NamedTuple, TypeVar

from pystep.errors import InteractionRequired, PasswordError

Prompter = Callable[[str], bytes]
T = TypeVar("T")

MAX_PROMPT_ATTEMPTS = 3


class Passwords(NamedTuple):
    """Password candidates for decrypting one secret.

    ``fixed`` comes from a password file and gets exactly one attempt. Without it,
    ``prompter`` (masked terminal input) is asked up to three times. With neither,
    asking raises :class:`InteractionRequired` naming the flags that supply it.
    """

    fixed: bytes | None = None
    prompter: Prompter | None = None
    flag_hint: str = "--password-file"

    def candidates(self, prompt: str) -> Iterator[bytes]:
        """Yield passwords to try; ``prompt`` is the question shown on the terminal."""
        if self.fixed is not None:
            yield self.fixed
            return
        if self.prompter is None:
            raise InteractionRequired(
                f"{prompt.rstrip(':')}: no password was given and pystep cannot prompt",
                hint=f"use {self.flag_hint}",
            )
        for _ in range(MAX_PROMPT_ATTEMPTS):
            yield self.prompter(prompt)


NO_PASSWORDS = Passwords()


def try_passwords(
    passwords: Passwords,
    prompt: str,
    attempt: Callable[[bytes], T],
    *,
    is_wrong_password: Callable[[Exception], bool],
    failure: str = "failed to decrypt JWE: invalid password",
) -> T:
    """Run ``attempt`` with each candidate until one works.

    Exceptions for which ``is_wrong_password`` is true count as a wrong password; any other
    exception propagates at once. After the last candidate fails, raises PasswordError.
    """
    for pw in passwords.candidates(prompt):
        try:
            return attempt(pw)
        except Exception as exc:
            if not is_wrong_password(exc):
                raise
    raise PasswordError(failure)


def read_password_file(path: str) -> bytes:
    """Read a password file as step does: ``-`` is stdin, a UTF-8 BOM is skipped and
    trailing whitespace is trimmed."""
    import sys

    from pystep.errors import InputError

    try:
        if path == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as fh:
                data = fh.read(1 << 20)
    except OSError as exc:
        raise InputError(f"error reading {path}: {exc.strerror or exc}") from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.rstrip(b" \t\r\n\v\f\x85\xa0")
