"""Run a real, throwaway step-ca 0.19 on a free loopback port.

Library use::

    from tests.harness.stepca import start_step_ca
    with start_step_ca(workdir) as ca:
        status, body = ca.get("/health")

Command line (from the repository root)::

    python -m tests.harness.stepca up --dir D    # runs until SIGINT/SIGTERM
    python -m tests.harness.stepca down --dir D  # stops an `up` running on D

``up`` writes ``D/stepca.json`` (url, root, fingerprint, steppath, ...) once the
CA answers /health.

Layout of a work dir: ``ca/`` (the CA's own STEPPATH: certs/, secrets/,
config/ca.json, db/, step-ca.log) and ``steppath/`` (a client STEPPATH:
config/defaults.json, config/ca.json, certs/root_ca.crt, secrets/password).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.harness.client import CAClient
from tests.harness.pki import CA_PASSWORD, Pki, make_pki
from tests.harness.ports import free_port
from tests.harness.processes import die_with_parent
from tests.harness.provisioners import (
    REPO,
    Provisioner,
    default_provisioners,
    extra_provisioners,
)

ENV_BINARY = "PYSTEP_STEP_CA"
HOW_TO_ENABLE = (
    "run scripts/build-step-ca.sh (needs Debian's golang-go and "
    "golang-github-smallstep-certificates-dev) or set PYSTEP_STEP_CA=/path/to/step-ca"
)


class StepCAError(RuntimeError):
    """The test CA could not be found, started or stopped."""


def default_binary_path() -> Path:
    return Path(os.environ.get("PYSTEP_BUILD_DIR") or REPO / ".cache") / "step-ca"


def find_step_ca_binary() -> Path | None:
    """$PYSTEP_STEP_CA if set (it must exist), else the local build, else None."""
    env = os.environ.get(ENV_BINARY)
    if env:
        path = Path(env)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise StepCAError(f"{ENV_BINARY}={env} is not an executable file")
        return path
    built = default_binary_path()
    return built if built.is_file() and os.access(built, os.X_OK) else None


def ca_config(
    pki: Pki, port: int, db_path: Path, provisioners: Sequence[Provisioner]
) -> dict[str, Any]:
    """A step-ca 0.19 ca.json; every path absolute (0.19 opens them relative to its cwd)."""
    return {
        "root": str(pki.root_cert),
        "federatedRoots": None,
        "crt": str(pki.intermediate_cert),
        "key": str(pki.intermediate_key),
        "address": f"127.0.0.1:{port}",
        "insecureAddress": "",
        "dnsNames": ["127.0.0.1", "localhost"],
        "ssh": {"hostKey": str(pki.ssh_host_key), "userKey": str(pki.ssh_user_key)},
        "logger": {"format": "text"},
        "db": {"type": "bbolt", "dataSource": str(db_path)},
        "authority": {
            "provisioners": list(provisioners),
            "claims": {"enableSSHCA": True},
            "template": {},
            "backdate": "1m0s",
        },
        "tls": {
            "cipherSuites": [
                "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
                "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            ],
            "minVersion": 1.2,
            "maxVersion": 1.3,
            "renegotiation": False,
        },
        "commonName": "pystep Test CA",
    }


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent="\t") + "\n")


def write_client_steppath(steppath: Path, url: str, pki: Pki, ca_json: Path) -> None:
    """A STEPPATH for clients: defaults.json, the root, ca.json (for --offline), password."""
    (steppath / "certs").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(pki.root_cert, steppath / "certs" / "root_ca.crt")
    (steppath / "config").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ca_json, steppath / "config" / "ca.json")
    (steppath / "secrets").mkdir(parents=True, exist_ok=True)
    (steppath / "secrets" / "password").write_text(CA_PASSWORD)
    _write_json(
        steppath / "config" / "defaults.json",
        {
            "ca-url": url,
            "ca-config": str(steppath / "config" / "ca.json"),
            "fingerprint": pki.root_fingerprint,
            "root": str(steppath / "certs" / "root_ca.crt"),
        },
    )


@dataclass
class StepCA(CAClient):
    """A running test step-ca; also an HTTP client for it (see CAClient)."""

    url: str
    port: int
    root_path: Path
    root_fingerprint: str
    steppath: Path
    ca_config_path: Path
    password_file: Path
    provisioners: dict[str, Provisioner]
    log_path: Path
    workdir: Path
    pki: Pki
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    password: str = CA_PASSWORD
    extra: dict[str, Any] = field(default_factory=dict)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        last_error = "no attempt"
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise StepCAError(
                    f"step-ca exited with code {self.process.returncode} before it was "
                    f"healthy; last lines of {self.log_path}:\n{self.log_tail()}"
                )
            try:
                status, body = self.get("/health")
                if status == 200 and isinstance(body, dict) and body.get("status") == "ok":
                    return
                last_error = f"HTTP {status}: {body}"
            except OSError as err:  # connection refused, TLS errors, timeouts
                last_error = f"{type(err).__name__}: {err}"
            time.sleep(0.1)
        raise StepCAError(
            f"step-ca at {self.url} was not healthy after {timeout:.0f}s ({last_error}); "
            f"last lines of {self.log_path}:\n{self.log_tail()}"
        )

    def stop(self, timeout: float = 10.0) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)

    def __enter__(self) -> StepCA:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_step_ca(
    workdir: Path,
    *,
    binary: Path | None = None,
    provisioners: Sequence[Provisioner] | None = None,
    extra: Iterable[Provisioner] = (),
    discover_extras: bool = True,
    timeout: float = 30.0,
    attempts: int = 3,
) -> StepCA:
    """Make a PKI and ca.json under ``workdir``, start step-ca, wait for /health.

    ``provisioners`` defaults to ``default_provisioners(workdir)``; ``extra`` and
    (unless ``discover_extras`` is false) every ``tests/harness/extras`` module's
    provisioners are appended.
    """
    binary = binary or find_step_ca_binary()
    if binary is None:
        raise StepCAError(f"no step-ca binary: {HOW_TO_ENABLE}")
    workdir = Path(workdir).resolve()
    cadir, steppath = workdir / "ca", workdir / "steppath"
    pki = make_pki(cadir)
    provs = list(default_provisioners(workdir) if provisioners is None else provisioners)
    provs.extend(extra)
    if discover_extras:
        provs.extend(extra_provisioners(workdir, pki))
    (cadir / "db").mkdir(parents=True, exist_ok=True)
    ca_json = cadir / "config" / "ca.json"
    log_path = cadir / "step-ca.log"
    log_path.write_bytes(b"")

    last: StepCAError | None = None
    for _ in range(attempts):
        port = free_port()
        url = f"https://127.0.0.1:{port}"
        _write_json(ca_json, ca_config(pki, port, cadir / "db" / "bbolt.db", provs))
        write_client_steppath(steppath, url, pki, ca_json)
        ca = StepCA(
            url=url,
            port=port,
            root_path=pki.root_cert,
            root_fingerprint=pki.root_fingerprint,
            steppath=steppath,
            ca_config_path=ca_json,
            password_file=pki.password_file,
            provisioners={p["name"]: p for p in provs},
            log_path=log_path,
            workdir=workdir,
            pki=pki,
        )
        env = {**os.environ, "STEPPATH": str(cadir), "HOME": str(cadir)}
        with log_path.open("ab") as log:
            ca.started_at = time.time()
            ca.process = subprocess.Popen(
                [str(binary), str(ca_json), "--password-file", str(pki.password_file)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=cadir,
                env=env,
                preexec_fn=die_with_parent,
            )
        try:
            ca.wait_healthy(timeout)
            return ca
        except StepCAError as err:
            ca.stop()
            last = err
            if "address already in use" not in ca.log_tail(5):
                break
    assert last is not None
    raise last


def _cmd_up(args: argparse.Namespace) -> int:
    workdir = Path(args.dir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    binary = Path(args.binary) if args.binary else None
    ca = start_step_ca(workdir, binary=binary, timeout=args.timeout)

    def _terminate(signum: int, frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _terminate)
    info = {
        "url": ca.url,
        "port": ca.port,
        "root": str(ca.root_path),
        "fingerprint": ca.root_fingerprint,
        "steppath": str(ca.steppath),
        "ca_config": str(ca.ca_config_path),
        "password_file": str(ca.password_file),
        "log": str(ca.log_path),
        "provisioners": sorted(ca.provisioners),
        "pid": os.getpid(),
    }
    try:
        _write_json(workdir / "stepca.json", info)
        print(json.dumps(info, indent=2), flush=True)
        assert ca.process is not None
        code = ca.process.wait()
        print(f"step-ca exited with code {code}:\n{ca.log_tail()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        ca.stop()
        with contextlib.suppress(OSError):
            (workdir / "stepca.json").unlink()


def _cmd_down(args: argparse.Namespace) -> int:
    info_path = Path(args.dir) / "stepca.json"
    try:
        pid = int(json.loads(info_path.read_text())["pid"])
    except (OSError, ValueError, KeyError):
        print(f"no running harness CA in {args.dir}", file=sys.stderr)
        return 1
    os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        if not info_path.exists():
            return 0
        time.sleep(0.1)
    print(f"harness CA (pid {pid}) did not stop", file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.harness.stepca")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start a throwaway step-ca; runs until SIGINT/SIGTERM")
    up.add_argument("--dir", required=True, help="work dir (PKI, ca.json, STEPPATH, log)")
    up.add_argument("--binary", help=f"step-ca binary (default: ${ENV_BINARY} or .cache/step-ca)")
    up.add_argument("--timeout", type=float, default=30.0)
    down = sub.add_parser("down", help="stop the CA that `up --dir DIR` runs")
    down.add_argument("--dir", required=True)
    args = parser.parse_args(argv)
    try:
        return _cmd_up(args) if args.command == "up" else _cmd_down(args)
    except StepCAError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
