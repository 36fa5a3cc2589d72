"""The interactive parts on a real pseudo-terminal: masked password prompt (3 tries) and
the arrow-key provisioner list. The child gets the pty as its controlling terminal, as a
user's shell would give it, and stdout stays a pipe so that only the token lands there."""

from __future__ import annotations

import contextlib
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from pystep.jose.jws import decode_compact
from tests.conftest import SRC, pystep_env
from tests.harness.stepca import StepCA


class PtyRun:
    def __init__(self, args: list[str]) -> None:
        self.out_r, out_w = os.pipe()
        pid, fd = pty.fork()
        if pid == 0:  # child: stdout to the pipe, stdin/stderr on the pty
            os.dup2(out_w, 1)
            env = pystep_env({"PYTHONPATH": str(SRC)})
            os.execve(sys.executable, [sys.executable, "-m", "pystep", *args], env)
        os.close(out_w)
        self.pid, self.fd = pid, fd
        self.screen = b""
        self.seen = 0

    def expect(self, text: bytes, timeout: float = 30.0) -> None:
        """Wait until ``text`` shows on the terminal after what earlier expects consumed."""
        end = time.monotonic() + timeout
        while text not in self.screen[self.seen :]:
            left = end - time.monotonic()
            if left <= 0:
                self.kill()
                raise AssertionError(f"timed out waiting for {text!r}; screen: {self.screen!r}")
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    data = os.read(self.fd, 4096)
                except OSError:
                    data = b""
                if not data:
                    self.kill()
                    raise AssertionError(f"terminal closed; screen: {self.screen!r}")
                self.screen += data
        self.seen = self.screen.index(text, self.seen) + len(text)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)

    def send(self, data: bytes) -> None:
        os.write(self.fd, data)

    def finish(self, timeout: float = 60.0) -> tuple[int, str]:
        out = b""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            ready, _, _ = select.select([self.out_r, self.fd], [], [], max(left, 0))
            if not ready:
                self.kill()
                raise AssertionError(f"pystep did not finish; screen: {self.screen!r}")
            if self.fd in ready:
                with contextlib.suppress(OSError):
                    self.screen += os.read(self.fd, 4096)
            if self.out_r in ready:
                chunk = os.read(self.out_r, 65536)
                if not chunk:
                    break
                out += chunk
        while True:  # drain the pty so the child never blocks on it
            try:
                ready, _, _ = select.select([self.fd], [], [], 0.2)
                if not ready or not (data := os.read(self.fd, 4096)):
                    break
                self.screen += data
            except OSError:
                break
        _, status = os.waitpid(self.pid, 0)
        return os.waitstatus_to_exitcode(status), out.decode()


def _base(ca: StepCA) -> list[str]:
    return ["ca", "token", "tty.example.com", "--ca-url", ca.url, "--root", str(ca.root_path)]


def test_password_prompt_is_masked_and_retried(step_ca: StepCA) -> None:
    run = PtyRun([*_base(step_ca), "--provisioner", "admin"])
    run.expect(b"Please enter the password to decrypt the provisioner key: ")
    run.send(b"wrong\r")
    run.expect(b"Please enter the password to decrypt the provisioner key: ")
    run.send(b"password\r")
    code, out = run.finish()
    assert code == 0, run.screen
    assert b"password" not in run.screen.replace(b"the password to", b"")  # never echoed
    token = out.strip()
    assert decode_compact(token).claims["iss"] == "admin"
    assert step_ca.sign(token, "tty.example.com").status == 201


def test_three_wrong_passwords_fail(step_ca: StepCA) -> None:
    run = PtyRun([*_base(step_ca), "--provisioner", "admin"])
    for _ in range(3):
        run.expect(b"decrypt the provisioner key: ")
        run.send(b"nope\r")
    code, out = run.finish()
    assert code == 1 and out == ""
    assert b"failed to decrypt JWE: invalid password" in run.screen


def test_arrow_key_provisioner_choice(step_ca: StepCA, tmp_path: Path) -> None:
    # The list is every token provisioner in the CA's order; walk down to jwk-p384.
    listed = [p["name"] for p in step_ca.list_provisioners() if p["type"] in ("JWK", "ACME")]
    chosen = "jwk-p384"
    run = PtyRun([*_base(step_ca), "--password-file", str(step_ca.password_file)])
    run.expect(b"What provisioner key do you want to use?")
    for _ in range(listed.index(chosen)):
        run.send(b"\x1b[B")  # arrow down
        time.sleep(0.05)
    run.send(b"\r")
    code, out = run.finish()
    assert code == 0, run.screen
    assert f"✔ Provisioner: {chosen} (JWK)".encode() in run.screen
    assert decode_compact(out.strip()).claims["iss"] == chosen


def test_no_terminal_never_prompts(step_ca: StepCA) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "pystep", *_base(step_ca), "--provisioner", "admin"],
        env=pystep_env(), capture_output=True, text=True, stdin=subprocess.DEVNULL,
        start_new_session=True, timeout=60,
    )
    assert res.returncode == 1 and res.stdout == ""
    assert "--password-file" in res.stderr


def test_overwrite_question_on_the_terminal(step_ca: StepCA, tmp_path: Path) -> None:
    out = tmp_path / "token"
    out.write_text("old")
    args = [*_base(step_ca), "--provisioner", "admin", "--password-file",
            str(step_ca.password_file), "--output-file", str(out)]
    run = PtyRun(args)
    run.expect(f"Would you like to overwrite {out} [y/n]: ".encode())
    run.send(b"n\r")
    code, stdout = run.finish()
    assert code == 1 and stdout == ""
    assert b"file exists" in run.screen
    assert out.read_text() == "old"

    run = PtyRun(args)
    run.expect(b"[y/n]: ")
    run.send(b"yes\r")
    code, stdout = run.finish()
    assert code == 0 and stdout == ""
    token = out.read_text()
    assert step_ca.sign(token, "tty.example.com").status == 201


def test_empty_subject_is_asked_for(step_ca: StepCA) -> None:
    run = PtyRun(["ca", "token", "", "--ca-url", step_ca.url, "--root", str(step_ca.root_path),
                  "--provisioner", "admin", "--password-file", str(step_ca.password_file)])
    run.expect(b"What DNS names or IP addresses would you like to use?")
    run.send(b"asked.example.com\r")
    code, out = run.finish()
    assert code == 0, run.screen
    assert decode_compact(out.strip()).claims["sub"] == "asked.example.com"
    assert step_ca.sign(out.strip(), "asked.example.com").status == 201
