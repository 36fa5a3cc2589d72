"""Terminal interaction: masked password prompts, an arrow-key list, yes/no questions.

Everything is read from and written to ``/dev/tty`` so that stdout carries only the token
(``TOKEN=$(pystep ca token …)`` works) and piped stdin stays free for password files.
When there is no terminal, or non-interactive mode is on, nothing here is used: callers
get ``None`` from :func:`terminal` and fail with a message naming the flag instead.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import IO

from pystep.errors import InteractionRequired

_TTY = "/dev/tty"


class Terminal:
    """An open controlling terminal."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.out: IO[str] = open(fd, "w", encoding="utf-8", closefd=False)  # noqa: SIM115

    def write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()

    def _readline(self, prompt: str, echo: bool) -> str:
        import termios

        old = termios.tcgetattr(self.fd)
        if not echo:
            # Echo goes off before the prompt shows, so nothing typed after it is echoed.
            new = termios.tcgetattr(self.fd)
            new[3] &= ~termios.ECHO
            termios.tcsetattr(self.fd, termios.TCSAFLUSH, new)
        self.write(prompt)
        try:
            buf = bytearray()
            while True:
                ch = os.read(self.fd, 1)
                if not ch or ch in (b"\n", b"\r"):
                    break
                if ch == b"\x03":
                    raise KeyboardInterrupt
                if ch == b"\x04" and not buf:
                    raise InteractionRequired("input cancelled")
                if ch in (b"\x7f", b"\x08"):
                    if buf:
                        del buf[-1]
                    continue
                buf += ch
                if len(buf) > 4096:
                    break
        finally:
            if not echo:
                termios.tcsetattr(self.fd, termios.TCSAFLUSH, old)
                self.write("\n")
        return buf.decode("utf-8", "replace")

    def password(self, prompt: str) -> bytes:
        return self._readline(f"{prompt}: ", echo=False).rstrip().encode("utf-8")

    def line(self, prompt: str) -> str:
        return self._readline(f"{prompt}: ", echo=True).strip()

    def confirm(self, question: str) -> bool:
        for _ in range(3):
            answer = self.line(f"{question} [y/n]").lower()
            if answer in ("y", "yes"):
                return True
            if answer in ("n", "no"):
                return False
        return False

    def select(self, label: str, items: Sequence[str]) -> int:
        """An arrow-key list (↑/↓ or k/j, Enter); returns the chosen index."""
        import termios
        import tty

        index = 0
        old = termios.tcgetattr(self.fd)
        try:
            tty.setcbreak(self.fd)
            self.write("\x1b[?25l")
            self._draw(label, items, index, first=True)
            while True:
                key = os.read(self.fd, 3)
                if key in (b"\r", b"\n"):
                    break
                if key == b"\x03":
                    raise KeyboardInterrupt
                if key in (b"\x1b[A", b"k"):
                    index = (index - 1) % len(items)
                elif key in (b"\x1b[B", b"j"):
                    index = (index + 1) % len(items)
                self._draw(label, items, index, first=False)
        finally:
            termios.tcsetattr(self.fd, termios.TCSAFLUSH, old)
            # erase the menu
            self.write(f"\x1b[{len(items) + 1}A\x1b[J\x1b[?25h")
        return index

    def _draw(self, label: str, items: Sequence[str], index: int, *, first: bool) -> None:
        if not first:
            self.write(f"\x1b[{len(items) + 1}A")
        lines = [f"\x1b[2K? {label} [use arrows, Enter to pick]"]
        for i, item in enumerate(items):
            mark = "▸ " if i == index else "  "
            lines.append(f"\x1b[2K{mark}{item}")
        self.write("\n".join(lines) + "\n")


def terminal() -> Terminal | None:
    """The controlling terminal, or None when there is none."""
    try:
        fd = os.open(_TTY, os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return None
    if not os.isatty(fd):
        os.close(fd)
        return None
    return Terminal(fd)
