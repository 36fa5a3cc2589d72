#!/usr/bin/env python3
"""Time `pystep ca token` as a whole process (JWK online, p2c 100000 and 600000).

Starts a throwaway step-ca with the test harness (or uses --ca-dir of a running
`python -m tests.harness.stepca up --dir DIR`), then runs the CLI N times per case and
prints min/median/max wall time, beside the floors a token cannot go under: Python's own
start-up, and the PBKDF2 key derivation of the provisioner key.

    python scripts/bench_token.py [-n 20] [--ca-dir DIR]

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


def row(name: str, samples: list[float]) -> str:
    ms = [s * 1000 for s in samples]
    return (f"{name:<44} min {min(ms):7.1f} ms   median {statistics.median(ms):7.1f} ms   "
            f"max {max(ms):7.1f} ms")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=20)
    ap.add_argument("--ca-dir", help="dir of a running `python -m tests.harness.stepca up`")
    args = ap.parse_args()

    ca = None
    if args.ca_dir:
        info = json.loads((Path(args.ca_dir) / "stepca.json").read_text())
        url, root, pwfile = info["url"], info["root"], info["password_file"]
    else:
        from tests.harness.stepca import start_step_ca

        ca = start_step_ca(Path(tempfile.mkdtemp(prefix="pystep-bench-")))
        url, root, pwfile = ca.url, str(ca.root_path), str(ca.password_file)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEP")}
    env["PYTHONPATH"] = str(REPO / "src")
    env["STEPPATH"] = tempfile.mkdtemp(prefix="pystep-bench-steppath-")
    py = [sys.executable]
    try:
        print(f"pystep ca token against {url}, {args.n} runs each (wall time per process)")
        print(row("python -c pass (interpreter floor)", timed([*py, "-c", "pass"], env, args.n)))
        for prov, p2c in (("admin", 100_000), ("jwk-600k", 600_000)):
            cmd = [*py, "-m", "pystep", "ca", "token", "bench.example.com", "--ca-url", url,
                   "--root", root, "--provisioner", prov, "--password-file", pwfile]
            print(row(f"pystep ca token, p2c {p2c}", timed(cmd, env, args.n)))
            print(row(f"  PBKDF2-SHA256 floor, {p2c} iterations", kdf_floor(p2c, args.n)))
    finally:
        if ca is not None:
            ca.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
