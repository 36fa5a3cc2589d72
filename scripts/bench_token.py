#!/usr/bin/env python3
"""Time `pystep ca token` as a whole process (JWK online p2c 100000 and 600000, offline).

Starts a throwaway step-ca with the test harness (or uses --ca-dir of a running
`python -m tests.harness.stepca up --dir DIR`), then runs the CLI N times per case and
prints min/median/max wall time, beside the floors a token cannot go under: Python's own
start-up, and the PBKDF2 key derivation of the provisioner key.

    python scripts/bench_token.py [-n 20] [--ca-dir DIR] [--src OTHER_CHECKOUT/src]
                                  [--no-bytecode]

By default the runs use cached bytecode, as an installed package does (a private
PYTHONPYCACHEPREFIX, filled by the warm-up run, so the checkout stays clean);
--no-bytecode keeps PYTHONDONTWRITEBYTECODE as the environment has it, so every run
compiles pystep's sources again. --src times another checkout (e.g. main in a temporary
worktree) against the same CA, for a before/after comparison.

For reference, the Go step CLI took about 57 ms (p2c 100000) and 270 ms (p2c 600000) per
token on the 2-core machines this project runs on.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def timed(cmd: list[str], env: dict[str, str], n: int) -> list[float]:
    subprocess.run(cmd, env=env, capture_output=True, check=True)  # warm-up
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, capture_output=True, check=True)
        out.append(time.perf_counter() - t0)
    return out


def kdf_floor(iterations: int, n: int) -> list[float]:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        PBKDF2HMAC(hashes.SHA256(), 16, b"PBES2-HS256+A128KW\0salt", iterations).derive(b"pw")
        out.append(time.perf_counter() - t0)
    return out


def row(name: str, samples: list[float], floor: float | None = None) -> str:
    ms = [s * 1000 for s in samples]
    med = statistics.median(ms)
    text = (f"{name:<40} min {min(ms):6.1f}  median {med:6.1f}  max {max(ms):6.1f} ms")
    if floor is not None:
        text += f"   (above floors: {med - floor:5.1f} ms)"
    return text


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=20)
    ap.add_argument("--ca-dir", help="dir of a running `python -m tests.harness.stepca up`")
    ap.add_argument("--src", default=str(REPO / "src"), help="the pystep sources to time")
    ap.add_argument("--no-bytecode", action="store_true",
                    help="compile pystep on every run (no cached bytecode)")
    args = ap.parse_args()

    ca = None
    if args.ca_dir:
        info = json.loads((Path(args.ca_dir) / "stepca.json").read_text())
        url, root, pwfile = info["url"], info["root"], info["password_file"]
        ca_config = info["ca_config"]
    else:
        from tests.harness.stepca import start_step_ca

        ca = start_step_ca(Path(tempfile.mkdtemp(prefix="pystep-bench-")))
        url, root, pwfile = ca.url, str(ca.root_path), str(ca.password_file)
        ca_config = str(ca.ca_config_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEP")}
    env["PYTHONPATH"] = str(Path(args.src).resolve())
    env["STEPPATH"] = tempfile.mkdtemp(prefix="pystep-bench-steppath-")
    if not args.no_bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="pystep-bench-pyc-")
    py = [sys.executable]
    try:
        mode = "no bytecode cache" if args.no_bytecode else "cached bytecode"
        print(f"pystep ca token from {env['PYTHONPATH']} against {url}")
        print(f"{args.n} runs each, wall time per process, {mode}")
        interp = timed([*py, "-c", "pass"], env, args.n)
        print(row("python -c pass (interpreter floor)", interp))
        print(row("python -S -c pass (no site/.pth)", timed([*py, "-S", "-c", "pass"], env,
                                                               args.n)))
        floor = statistics.median(interp) * 1000
        cases = (
            ("online", "admin", 100_000, []),
            ("online", "jwk-600k", 600_000, []),
            ("offline", "admin", 100_000, ["--offline", "--ca-config", ca_config]),
        )
        kdf: dict[int, float] = {}
        for how, prov, p2c, extra in cases:
            if p2c not in kdf:
                samples = kdf_floor(p2c, args.n)
                kdf[p2c] = statistics.median(samples) * 1000
                print(row(f"PBKDF2-SHA256 floor, {p2c} iterations", samples))
            cmd = [*py, "-m", "pystep", "ca", "token", "bench.example.com", "--ca-url", url,
                   "--root", root, "--provisioner", prov, "--password-file", pwfile, *extra]
            print(row(f"pystep ca token, {how}, p2c {p2c}", timed(cmd, env, args.n),
                      floor + kdf[p2c]))
    finally:
        if ca is not None:
            ca.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
