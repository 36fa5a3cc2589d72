#!/usr/bin/env python3
"""Benchmark batch and library minting against a running harness CA (not a timed test).

    python -m tests.harness.stepca up --dir /tmp/ca &      # a harness CA
    PYTHONPATH=src python scripts/bench_batch.py --harness /tmp/ca [-n 10000]

Without --harness a throwaway harness CA is started (needs the step-ca binary, see
tests/harness/stepca.py). The subprocesses use cached bytecode (a private
PYTHONPYCACHEPREFIX), as an installed package does. Prints, side by side:

* the floors: Python + ``import pystep`` start-up, and one key derivation (decrypting the
  provisioner key: PBKDF2 with the key's p2c);
* ``pystep ca token --batch`` as a whole process for N subjects (text and JSON), and the
  part of it above start-up + one key derivation (the issue's budget: at most 1 s for 10,000);
* library minting after unlock: tokens/s, beside raw signatures/s with the same key.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
sys.path[:0] = [str(SRC), str(REPO)]


_PYCACHE = tempfile.mkdtemp(prefix="pystep-bench-pyc-")


def _env(steppath: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEP")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(STEPPATH=steppath, HOME=steppath, PYTHONPATH=str(SRC), STEP_NON_INTERACTIVE="1",
               PYTHONPYCACHEPREFIX=_PYCACHE)
    return env


def _best(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def bench(info: dict[str, str], n: int, provisioner: str, repeat: int) -> dict[str, float]:
    from pystep.keys.files import decrypt_jwk
    from pystep.passwords import Passwords
    from pystep.session import TokenSession

    steppath, password_file = info["steppath"], info["password_file"]
    env = _env(steppath)
    out: dict[str, float] = {}
    startup = [sys.executable, "-c", "import pystep.cli.token_cmd"]
    subprocess.run(startup, env=env, check=True)  # fills the bytecode cache
    out["startup_s"] = _best(lambda: subprocess.run(startup, env=env, check=True), repeat)

    session = TokenSession(info["url"], info["root"])
    record = session.select(name=provisioner)
    encrypted = session.client().encrypted_key(record.kid)
    pw = Passwords(fixed=Path(password_file).read_bytes().strip())
    out["key_derivation_s"] = _best(lambda: decrypt_jwk(encrypted, pw, "bench"), repeat)

    subjects = "".join(f"h{i:05d}.example.com\n" for i in range(n)).encode()
    for fmt in ("text", "json"):
        def run_batch(fmt: str = fmt) -> None:
            with tempfile.TemporaryFile() as sink:
                proc = subprocess.run(
                    [sys.executable, "-m", "pystep", "ca", "token", "--batch", "-",
                     "--provisioner", provisioner, "--password-file", password_file,
                     "--format", fmt],
                    input=subjects, stdout=sink, stderr=subprocess.PIPE, env=env, check=False,
                )
                if proc.returncode != 0:
                    raise SystemExit(proc.stderr.decode())
                sink.seek(0)
                if sum(1 for _ in sink) != n:
                    raise SystemExit("wrong number of output lines")
        out[f"batch_{fmt}_s"] = _best(run_batch, repeat)
        out[f"batch_{fmt}_above_floor_s"] = (
            out[f"batch_{fmt}_s"] - out["startup_s"] - out["key_derivation_s"]
        )

    minter = session.unlock(provisioner, password_file=password_file)
    t = time.perf_counter()
    for i in range(n):
        minter.sign(f"h{i:05d}.example.com")
    out["library_tokens_per_s"] = n / (time.perf_counter() - t)
    signer = getattr(minter.minter, "signer", None)
    if signer is not None:
        sample = minter.sign("h.example.com").rsplit(".", 1)[0].encode()
        t = time.perf_counter()
        for _ in range(n):
            signer.sign(sample)
        out["raw_signatures_per_s"] = n / (time.perf_counter() - t)
    session.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--harness", help="dir of `python -m tests.harness.stepca up --dir`")
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--provisioner", default="admin")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    ca = None
    if args.harness:
        info = json.loads((Path(args.harness) / "stepca.json").read_text())
    else:
        from tests.harness.stepca import start_step_ca

        ca = start_step_ca(Path(tempfile.mkdtemp(prefix="pystep-bench-")))
        info = {"url": ca.url, "root": str(ca.root_path), "steppath": str(ca.steppath),
                "password_file": str(ca.password_file)}
    try:
        results = bench(info, args.n, args.provisioner, args.repeat)
    finally:
        if ca is not None:
            ca.stop()
    width = max(map(len, results))
    print(f"n={args.n} provisioner={args.provisioner} (best of {args.repeat})")
    for key, value in results.items():
        print(f"  {key:<{width}}  {value:10.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
